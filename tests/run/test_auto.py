"""The default run follows the data: early stopping, the time budget, tiny lists, the
mixture with an n-gram model as the run's predictor, and no input that ends in a traceback."""

import json
import math
import signal
import string

import pytest
import torch
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

import nnlm
from helpers import after_step, run_ok, send_signal
from nnlm.cli import main
from nnlm.settings.training import TrainConfig
from nnlm.training.schedule import Schedule, Verdict


def write(path, items):
    path.write_text("\n".join(items) + "\n", encoding="utf-8")
    return path


def lrs_and_devs(run):
    records = [json.loads(line) for line in (run / "metrics.jsonl").read_text().splitlines()]
    return [r["lr"] for r in records if "lr" in r], [r["dev_loss"] for r in records if "dev_loss" in r]


def test_default_run_stops_when_dev_stops_improving_and_says_why(tiny_file, tmp_path, capsys):
    run = tmp_path / "run"
    printed = run_ok(capsys, "train", tiny_file, "--out", run, "--quiet", "--samples", 0)
    assert "settings chosen from the data: context 8" in printed and "dropout 0.4" in printed
    assert "stopped: dev stopped improving" in printed
    config = json.loads((run / "config.json").read_text())
    assert config["train"]["lr_schedule"] == "plateau" and config["train"]["patience"] == 6
    assert any("until dev stops improving" in why for why in config["why"])
    lrs, devs = lrs_and_devs(run)
    assert lrs[0] == config["train"]["lr"] and lrs[-1] < lrs[0] / 5  # annealed before stopping
    summary = json.loads((run / "summary.json").read_text())
    assert summary["stopped"] == "dev stopped improving" and summary["seconds"] < 60
    assert math.isclose(summary["model_dev_loss"], min(devs), abs_tol=1e-4)  # best weights kept


def test_plateau_decays_after_patience_then_stops():
    cfg = TrainConfig(lr=1.0, min_lr=0.0, lr_schedule="plateau", patience=2, steps=0, cooldown=0.2)
    plateau = Schedule(cfg)
    assert plateau.advance(0, 0.0) == 1.0 and plateau.advance(399, 0.0) == 1.0  # peak until dev stalls
    assert plateau.after_eval(False, 300, 4.0) is Verdict.GO  # one evaluation without improvement
    # dev stalled at step 400: decay over 100 steps
    assert plateau.after_eval(False, 400, 5.0) is Verdict.DECAY
    assert math.isclose(plateau.advance(450, 6.0), 0.5) and not plateau.finished(450, 6.0)
    assert plateau.advance(500, 7.0) == 0.0 and plateau.finished(500, 7.0)
    assert plateau.after_eval(False, 460, 6.0) is Verdict.GO
    assert plateau.after_eval(False, 460, 6.0) is Verdict.STOP  # stalled again while decaying: stop
    timed = Schedule(TrainConfig(lr=1.0, lr_schedule="plateau", max_seconds=100.0, patience=3, steps=0))
    assert timed.advance(10, 79.0) == 1.0 and timed.advance(11, 80.0) == 1.0  # the last 20% of the budget
    assert math.isclose(timed.advance(12, 90.0), 0.5) and not timed.finished(12, 90.0)  # ends with the time


def test_max_seconds_alone_sets_the_length_and_steps_win(tmp_path, names):
    path = write(tmp_path / "names.txt", names[:4000])
    # (a budget is the whole call's: reading the data and the final evaluations take some of it)
    short = nnlm.train(str(path), str(tmp_path / "a"), max_seconds=2.0, progress=False, mix=False)
    longer = nnlm.train(str(path), str(tmp_path / "b"), max_seconds=6.0, progress=False, mix=False)
    assert short.stopped == "time" and short.seconds < 2.0
    assert longer.stopped == "time" and longer.seconds > 1.5 * short.seconds and longer.step > short.step
    exact = nnlm.train(str(path), str(tmp_path / "c"), steps=37, progress=False)
    assert exact.stopped == "steps" and exact.step == 37


def test_tiny_lists_train_on_all_their_items(tmp_path, capsys):
    for items in (["ann", "bob"], ["ab", "cd", "ef", "gh", "ij", "kl", "mn", "op", "qr", "st"]):
        path = write(tmp_path / f"tiny{len(items)}.txt", items)
        printed = run_ok(capsys, "train", path, "--out", tmp_path / f"r{len(items)}", "--quiet",
                         "--samples", 3)
        assert "samples:" in printed
        if len(items) == 2:
            assert "2 items are too few for a dev split: training on all of them" in printed
            assert "dev -  test -" in printed


def test_the_mixture_is_what_eval_scores_and_sample_draws_from(tiny_file, tmp_path):
    run = tmp_path / "run"
    nnlm.train(str(tiny_file), str(run), progress=False)
    lm = nnlm.load(run, device="cpu")
    assert lm.mixture is not None and lm.predictor.mixture is lm.mixture
    plain = nnlm.load(run, device="cpu", mix=False)
    assert plain.evaluate("dev").loss > lm.evaluate("dev").loss  # kept because better on dev
    item = lm.source.split.dev[0]
    ids = lm.vocab.encode(item)
    mixed = lm.predictor
    logits, state = mixed.begin(torch.zeros(1, 1, dtype=torch.long))
    stepped = []
    for token in [*ids, 0]:  # log p of each token as the sampler sees it, the end included
        stepped.append(torch.log_softmax(logits, -1)[0, token].item())
        if token:
            logits, state = mixed.advance(state, torch.tensor([token]))
    scored = [lp for _, lp in lm.score([item])[0].tokens]
    assert all(math.isclose(a, b, abs_tol=1e-4) for a, b in zip(stepped, scored, strict=True))
    # greedy sampling picks the mixture's most likely token, not the model's
    first = torch.log_softmax(mixed.begin(torch.zeros(1, 1, dtype=torch.long))[0], -1)
    greedy = lm.sample(1, temperature=0, max_len=1)[0].text
    assert lm.vocab.encode(greedy) == [int(first.argmax())]


@pytest.mark.parametrize("sig", [signal.SIGINT])
def test_default_run_resumes_to_the_same_weights(tiny_file, tmp_path, monkeypatch, sig):
    """The plateau schedule's state (where its decay began) survives an interruption."""
    whole = nnlm.train(str(tiny_file), str(tmp_path / "whole"), progress=False, mix=False)
    after_step(monkeypatch, whole.step - 5, send_signal(sig))
    first = nnlm.train(str(tiny_file), str(tmp_path / "split"), progress=False, mix=False)
    assert first.stopped.interrupted
    monkeypatch.undo()
    second = nnlm.train(out=str(tmp_path / "split"), resume=True, progress=False)
    assert second.step == whole.step and second.stopped == whole.stopped
    a = nnlm.load(tmp_path / "whole", device="cpu").model.state_dict()
    b = nnlm.load(tmp_path / "split", device="cpu").model.state_dict()
    assert all(torch.equal(a[k], b[k]) for k in a)


ITEM = st.text(st.characters(blacklist_categories=("Cs", "Cc", "Zl", "Zp")), min_size=1, max_size=10)


@settings(max_examples=12, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(items=st.lists(ITEM.map(str.strip).filter(bool), min_size=1, max_size=40),
       other=st.lists(ITEM.map(str.strip).filter(bool), min_size=1, max_size=5), seed=st.integers(0, 9))
def test_no_list_of_items_ends_in_a_traceback(tmp_path_factory, capsys, items, other, seed):
    """Random Unicode lists, tiny ones and characters that only dev or test hold included:
    train, ngram, eval and score succeed or say what is wrong in one line."""
    tmp = tmp_path_factory.mktemp("any")
    path = write(tmp / "items.txt", items)
    extra = write(tmp / "other.txt", other + ["ab" + string.punctuation])
    run = tmp / "run"
    for argv in (["train", path, "--out", run, "--split-seed", seed, "--quiet", "--samples", 2, "--steps", 8,
                  "--n-hidden", 8],
                 ["ngram", path, "--split-seed", seed],
                 ["eval", run, extra], ["score", run, "--", *other[:2]], ["sample", run, "-n", 3]):
        code = main([str(a) for a in argv])
        err = capsys.readouterr().err
        assert code in (0, 2) and "Traceback" not in err, (argv, err)
        if code == 2:
            assert len(err.strip().splitlines()) == 1 and "not in the model's vocabulary" in err, err


def test_a_time_budget_follows_a_texts_characters_and_a_lists_labels():
    from nnlm.data.base import DataFacts
    from nnlm.run.auto import time_budget

    def text(tokens, chars_per_token):
        return DataFacts(tokens=tokens, items=0, vocab_size=100, chars_per_token=chars_per_token,
                         has_dev=True)

    assert time_budget(text(1_000_000, 1.0)) == 480.0  # tinyshakespeare's characters
    assert time_budget(text(340_000, 2.95)) == 480.0  # the same text as subwords: the same time
    assert time_budget(text(340_000, 1.0)) == 130.0  # a third of it as characters
    assert time_budget(text(150_000, 1.0)) == 150.0
    lists = DataFacts(tokens=300_000, items=50_000, vocab_size=60, chars_per_token=1.0, has_dev=True)
    assert time_budget(lists) == 130.0
    from dataclasses import replace

    assert time_budget(replace(lists, labels=8)) == 480.0  # one distribution a label, learnt at once
    assert time_budget(replace(lists, tokens=5_000, items=800, labels=2)) == 480.0


def test_the_reasons_say_which_choices_a_given_setting_replaced(tmp_path, names):
    from nnlm.run.spec import build_spec

    path = write(tmp_path / "names.txt", names[:2000])
    chosen = build_spec(str(path), str(tmp_path / "a")).why
    assert not any(line.startswith("given") for line in chosen)
    reasons = build_spec(str(path), str(tmp_path / "b"), settings=dict(lr=0.001, max_seconds=3.0,
                                                                       n_embd=None)).why
    assert reasons[:len(chosen)] == chosen
    assert reasons[len(chosen):] == ["given, over the choices above: --lr 0.001, --max-seconds 3"]
    reasons = build_spec(str(path), str(tmp_path / "c"), settings=dict(steps=50, max_seconds=3.0)).why
    assert reasons[len(chosen):] == ["given, over the choices above: --max-seconds 3",
                                     "--steps 50: trained in full unless --max-seconds 3 ends it first"]
