import json
import math
import signal

import pytest
import torch

import nnlm
from helpers import TINY_SETTINGS, after_step, send_signal
from nnlm.errors import NnlmError
from nnlm.inference.evaluate import evaluate
from nnlm.run import rundir
from nnlm.settings.training import TrainConfig
from nnlm.training.batching import evenly_spaced
from nnlm.training.schedule import learning_rate


def test_training_learns_and_writes_a_complete_run_dir(tiny_file, tmp_path):
    out = tmp_path / "run"
    result = nnlm.train(str(tiny_file), str(out), progress=False, **TINY_SETTINGS)
    names = {p.name for p in out.iterdir()}
    assert {"config.json", "vocab.json", "splits.json", "model.safetensors",
            "checkpoint.safetensors", "metrics.jsonl", "summary.json"} <= names
    assert result.step == 60 and result.stopped == "steps"
    vocab_size = json.loads((out / "config.json").read_text())["model"]["vocab_size"]
    assert result.dev_loss < math.log(vocab_size) - 0.3  # learned something real
    records = [json.loads(line) for line in (out / "metrics.jsonl").read_text().splitlines()]
    assert [r["step"] for r in records if "train_loss" in r] == [10, 20, 30, 40, 50, 60]
    dev = {r["step"]: r["dev_loss"] for r in records if "dev_loss" in r}
    assert sorted(dev) == [0, 20, 40, 60]
    _, meta = rundir.load_tensors(out / "model.safetensors")
    assert meta["step"] == result.best_step
    assert math.isclose(meta["dev_loss"], min(dev.values()), abs_tol=1e-5)
    assert math.isclose(result.model_dev_loss, min(dev.values()), abs_tol=1e-4)
    if result.mixture:  # the run's predictor: the model and a Kneser-Ney model, better on dev
        assert result.dev_loss < result.model_dev_loss and (out / "mix.json").exists()
    config = json.loads((out / "config.json").read_text())
    assert config["nnlm_version"] == nnlm.__version__ and config["train"]["steps"] == 60


@pytest.mark.parametrize("model", ["mlp", "gru"])
def test_evaluations_during_training_read_eval_tokens_of_dev(model, tiny_file, tmp_path):
    """--eval-tokens K: each evaluation in training reads about K dev tokens, the same ones each
    time; the summary's dev loss reads all of dev."""
    out = tmp_path / "run"
    settings = {**TINY_SETTINGS, "model": model, "mix": False}
    if model == "gru":  # its presets: default and best
        settings.update(preset="default", block_size=8, n_embd=8)
    result = nnlm.train(str(tiny_file), str(out), progress=False, eval_tokens=40, **settings)
    records = [json.loads(line) for line in (out / "metrics.jsonl").read_text().splitlines()]
    dev = {r["step"]: r["dev_loss"] for r in records if "dev_loss" in r}
    lm = nnlm.load(out, device="cpu", mix=False)
    windows = lm.spec.windows("dev")
    assert len(windows) > 200  # tiny.txt's dev split: far more than 40 tokens
    subset = evenly_spaced(windows, 40, lm.model)
    assert 20 <= len(subset) <= 80
    assert math.isclose(evaluate(lm.model, subset, "cpu").loss, dev[result.best_step], abs_tol=1e-4)
    assert math.isclose(evaluate(lm.model, windows, "cpu").loss, result.model_dev_loss, abs_tol=1e-4)
    assert not math.isclose(result.model_dev_loss, dev[result.best_step], abs_tol=1e-3)


def final_weights(out):
    tensors, meta = rundir.load_tensors(out / "checkpoint.safetensors")
    return meta["step"], {k: v for k, v in tensors.items() if k.startswith("model.")}


WORD_LEVEL = dict(data_options={"tokens": "word", "kind": "text", "line_ends": False, "min_count": 1,
                                 "split_tokens": (200, 50)},
                  model="mlp", sampled=40, dropout=0.2, direct=True, tie=True, n_embd=8, optimizer="adamw",
                  weight_decay=0.1)


@pytest.mark.parametrize("level", ["char", "word"])
def test_interrupt_then_resume_equals_uninterrupted(level, tiny_file, tmp_path, monkeypatch):
    # word level: a stream of names, with the sampled softmax's and dropout's random draws
    settings = dict(TINY_SETTINGS, steps=50, **(WORD_LEVEL if level == "word" else {}))
    whole = tmp_path / "whole"
    nnlm.train(str(tiny_file), str(whole), progress=False, **settings)
    again = tmp_path / "again"
    nnlm.train(str(tiny_file), str(again), progress=False, **settings)

    after_step(monkeypatch, 27, send_signal(signal.SIGINT))
    split = tmp_path / "split"
    first = nnlm.train(str(tiny_file), str(split), progress=False, **settings)
    assert first.stopped == "interrupted by SIGINT" and first.step == 27
    assert final_weights(split)[0] == 27
    monkeypatch.undo()  # the resumed run trains without the signal
    second = nnlm.train(out=str(split), resume=True, progress=False)
    assert second.step == 50
    step_a, a = final_weights(whole)
    for other in (again, split):
        step_b, b = final_weights(other)
        assert step_a == step_b == 50
        assert all(torch.equal(a[k], b[k]) for k in a)  # bit-identical on CPU
    # the same metrics line for line, apart from wall-clock seconds
    def strip(run):
        return [{k: v for k, v in json.loads(x).items() if k != "seconds"}
                for x in (run / "metrics.jsonl").read_text().splitlines()]

    assert strip(split) == strip(whole)
    assert strip(again) == strip(whole)


def test_existing_run_is_not_overwritten(tiny_file, tmp_path):
    out = tmp_path / "run"
    nnlm.train(str(tiny_file), str(out), progress=False, **dict(TINY_SETTINGS, steps=5))
    with pytest.raises(NnlmError, match="already holds a run"):
        nnlm.train(str(tiny_file), str(out), progress=False, **TINY_SETTINGS)
    with pytest.raises(NnlmError, match="already finished"):
        nnlm.train(out=str(out), resume=True, progress=False)
    with pytest.raises(NnlmError, match="cannot change when resuming"):
        nnlm.train(out=str(out), resume=True, progress=False, n_hidden=3)


def test_bf16_on_a_cpu_without_it_is_refused_before_anything_is_written(tiny_file, tmp_path, monkeypatch):
    """oneDNN cannot run the LSTM in bf16 on such a CPU: a one-line error, nothing written, and a
    bf16 run's resume told where it can go on."""
    from nnlm import device

    def files(run):
        return {p.name: p.read_bytes() for p in run.iterdir()}

    fp32, bf16 = tmp_path / "fp32", tmp_path / "bf16"
    nnlm.train(str(tiny_file), str(fp32), progress=False, **dict(TINY_SETTINGS, steps=5))
    monkeypatch.setattr(device, "cpu_has_bf16", lambda: True)  # the MLP runs bf16 emulated anywhere
    nnlm.train(str(tiny_file), str(bf16), progress=False, device="cpu", **dict(TINY_SETTINGS, steps=5,
                                                                                  precision="bf16"))
    before = {run: files(run) for run in (fp32, bf16)}
    monkeypatch.setattr(device, "cpu_has_bf16", lambda: False)
    for out, overwrite in ((fp32, True), (tmp_path / "new", False)):
        with pytest.raises(NnlmError, match="precision 'bf16': oneDNN has no bfloat16 support on this CPU"):
            nnlm.train(str(tiny_file), str(out), progress=False, overwrite=overwrite, device="cpu",
                       **dict(TINY_SETTINGS, precision="bf16"))
    with pytest.raises(NnlmError, match="this run trains in bf16 .* resume it on a CPU with AVX-512"):
        nnlm.train(out=str(bf16), resume=True, progress=False, steps=10)
    assert not (tmp_path / "new").exists()
    assert {run: files(run) for run in (fp32, bf16)} == before


def test_lecture_step_schedule_and_cosine():
    cfg = TrainConfig(lr=0.1, lr_schedule="step", lr_drop_step=100_000, lr_drop=0.1, steps=200_000)
    assert learning_rate(cfg, 99_999, 0) == 0.1
    assert math.isclose(learning_rate(cfg, 100_000, 0), 0.01)
    cfg = TrainConfig(lr=1.0, steps=110, warmup_steps=10, min_lr=0.1)
    assert learning_rate(cfg, 0, 0) == 0.1 and learning_rate(cfg, 10, 0) == 1.0
    assert math.isclose(learning_rate(cfg, 60, 0), 0.55)
    assert math.isclose(learning_rate(cfg, 110, 0), 0.1)
    timed = TrainConfig(lr=1.0, steps=1000, max_seconds=10.0)
    assert math.isclose(learning_rate(timed, 0, 5.0), 0.5)  # half the time gone


def test_divergence_stops_with_a_message(tiny_file, tmp_path, monkeypatch):
    def blow_up(trainer):
        with torch.no_grad():
            trainer.model.out.bias.fill_(float("nan"))

    after_step(monkeypatch, 25, blow_up)
    with pytest.raises(NnlmError, match="diverged: the loss is nan at step 30"):
        nnlm.train(str(tiny_file), str(tmp_path / "r"), progress=False, **TINY_SETTINGS)
    # the run directory still loads, from the last good checkpoint (step 20)
    assert rundir.load_tensors(tmp_path / "r" / "checkpoint.safetensors")[1]["step"] == 20
    assert math.isfinite(nnlm.load(tmp_path / "r").evaluate("dev").loss)
