import builtins
import math
import struct
import sys

import pytest
import torch

from helpers import TINY_SETTINGS, run_error, run_ok
from nnlm import train
from nnlm.data.sources import token_frequencies
from nnlm.errors import NnlmError
from nnlm.inference.lm import load
from nnlm.tools.inspect import hidden_activations, most_frequent, nearest, project_2d, saturation, token_index
from nnlm.tools.lrfind import lr_find, running_median
from nnlm.training.metrics import read_metrics

PNG_SIGNATURE = b"\x89PNG\r\n\x1a\n"


def png_size(path) -> tuple[int, int]:
    """(width, height) from the IHDR chunk, after checking the PNG signature."""
    data = path.read_bytes()
    assert data[:8] == PNG_SIGNATURE, f"{path} is not a PNG"
    assert data[12:16] == b"IHDR"
    return struct.unpack(">II", data[16:24])


@pytest.fixture
def run_dir(tiny_file, tmp_path):
    out = tmp_path / "tiny-run"
    train(str(tiny_file), str(out), progress=False, **TINY_SETTINGS)
    return out


def test_plot_writes_pngs(run_dir, capsys):
    printed = run_ok(capsys, "plot", run_dir, "--activations", "--log-scale").split()
    names = ["loss_curve.png", "embedding_map.png", "activations.png"]
    assert printed == [str(run_dir / name) for name in names]
    for name in names:
        width, height = png_size(run_dir / name)
        assert width >= 400 and height >= 400, (name, width, height)
        assert (run_dir / name).stat().st_size < 200_000


def test_plot_without_matplotlib_is_one_line(run_dir, capsys, monkeypatch):
    real_import = builtins.__import__

    def no_matplotlib(name, *args, **kwargs):
        if name.startswith("matplotlib"):
            raise ImportError(name)
        return real_import(name, *args, **kwargs)

    monkeypatch.setattr(builtins, "__import__", no_matplotlib)
    assert "pip install 'nnlm[plot]'" in run_error(capsys, "plot", run_dir)


def test_nearest_orders_by_cosine():
    angles = torch.tensor([0.0, 10.0, 80.0, 45.0, 180.0, 30.0]) * math.pi / 180
    C = torch.stack([torch.cos(angles), torch.sin(angles)], 1) * torch.arange(1, 7).unsqueeze(1)
    found = nearest(C, 0, k=5)
    assert [i for i, _ in found] == [1, 5, 3, 2, 4]  # 10, 30, 45, 80, 180 degrees away
    assert [round(s, 6) for _, s in found] == [round(math.cos(math.radians(a)), 6)
                                               for a in (10, 30, 45, 80, 180)]
    assert [i for i, _ in nearest(C, 4, k=2)] == [2, 3]  # 100 and 135 degrees from 180
    assert len(nearest(C, 0, k=50)) == 5  # never itself, never more than there are


def test_neighbors_cli(run_dir, capsys):
    lines = run_ok(capsys, "neighbors", run_dir, "a", "-k", "3").splitlines()
    assert len(lines) == 3 and all(line.split("\t")[0] != "a" for line in lines)
    scores = [float(line.split("\t")[1]) for line in lines]
    assert scores == sorted(scores, reverse=True) and all(-1 <= s <= 1 for s in scores)
    assert len(run_ok(capsys, "neighbors", run_dir, "<e>", "-k", "2").splitlines()) == 2
    assert "'#' is not in the model's vocabulary" in run_error(capsys, "neighbors", run_dir, "#")


def test_projection_frequency_and_saturation(run_dir):
    lm = load(run_dir, device="cpu")
    C = lm.model.embeddings().detach()  # (V, 4): PCA
    assert C is not None and torch.equal(C, lm.model.C.weight)
    points, axis = project_2d(C)
    assert points.shape == (len(lm.vocab), 2) and axis == "PC"
    assert torch.allclose(project_2d(C[:, :2])[0], C[:, :2].double())  # n_embd 2: as is
    assert most_frequent(torch.tensor([3, 4, 2, 0]), 2) == [1, 0]
    counts = token_frequencies(lm.source)  # every character of the training items, and one end each
    train = lm.source.split.train
    assert counts[0] == len(train) and counts.sum() == sum(len(s) + 1 for s in train)
    assert counts[lm.vocab.stoi["a"]] == sum(s.count("a") for s in train)
    layers = hidden_activations(lm.model, lm.spec.windows("train"), num=100)
    (name, h), = layers.items()
    assert name == "hidden 1 (tanh)" and h.shape == (100, TINY_SETTINGS["n_hidden"])
    assert 0 <= saturation(h) <= 1
    assert saturation(torch.tensor([0.995, -1.0, 0.5, 0.0])) == 0.5
    assert token_index(lm.vocab, "<e>") == 0
    with pytest.raises(NnlmError):
        token_index(lm.vocab, "ab")


def test_metrics_and_tensorboard(tiny_file, tmp_path, monkeypatch):
    """metrics.jsonl always; with --tensorboard the same scalars go to a SummaryWriter."""
    written = []

    class FakeWriter:
        def add_scalar(self, tag, value, step):
            written.append((tag, step))

        def close(self):
            written.append("closed")

    monkeypatch.setattr(sys.modules["nnlm.training.metrics"], "tensorboard_writer",
                        lambda run_dir, step: FakeWriter())
    out = tmp_path / "run"
    train(str(tiny_file), str(out), progress=False, tensorboard=True, **TINY_SETTINGS)
    train_lines, dev_lines = read_metrics(out)
    assert [r["step"] for r in dev_lines] == [0, 20, 40, 60]
    assert [r["step"] for r in train_lines] == list(range(10, 61, 10))
    assert ("loss/dev", 0) in written and ("loss/train", 60) in written and ("lr", 10) in written
    assert written[-1] == "closed"
    plain = tmp_path / "plain"
    train(str(tiny_file), str(plain), progress=False, **TINY_SETTINGS)
    assert (plain / "metrics.jsonl").exists() and not (plain / "tb").exists()


def test_lr_find_cli_on_tiny_data(tiny_file, tmp_path, capsys):
    out = tmp_path / "sweep.png"
    printed = run_ok(capsys, "lr-find", tiny_file, "--out", out, "--steps", 60, "--block-size", 3,
                     "--n-embd", 4, "--n-hidden", 16, "--batch-size", 32)
    assert printed.splitlines()[0] == str(out) and "suggested lr:" in printed
    width, height = png_size(out)
    assert width >= 400 and height >= 300
    assert "--lr-min" in run_error(capsys, "lr-find", tiny_file, "--lr-min", 2)


def test_running_median_ignores_spikes():
    assert running_median([1, 1, 100, 1, 1], half=1) == [1, 1, 1, 1, 1]


@pytest.mark.slow
def test_lr_find_suggests_near_the_default_lr():
    """On names with the quick preset (AdamW, tuned lr 1e-2), within a factor of 3."""
    for seed in (1337, 1):
        suggestion = lr_find(preset="quick", seed=seed).suggestion
        assert 1e-2 / 3 <= suggestion <= 1e-2 * 3, (seed, suggestion)


def test_real_tensorboard_event_files_when_installed(tiny_file, tmp_path):
    from tensorboard.backend.event_processing.event_accumulator import EventAccumulator

    train(str(tiny_file), str(tmp_path / "run"), progress=False, tensorboard=True, **TINY_SETTINGS)
    events = EventAccumulator(str(tmp_path / "run" / "tb"))
    events.Reload()
    assert {"loss/train", "loss/dev", "lr"} <= set(events.Tags()["scalars"])
    assert [e.step for e in events.Scalars("loss/dev")] == [0, 20, 40, 60]


def test_plot_a_word_level_run(tmp_path, capsys):
    """nnlm plot on a word-level run (it once read the character split, None there)."""
    lines = ["the cat sat on the mat .", "a dog ran to the cat .", "the dog sat ."] * 40
    path = tmp_path / "words.txt"
    path.write_text("\n".join(lines) + "\n")
    run = tmp_path / "w"
    train(str(path), str(run), progress=False, tokens="word", min_count=0, **TINY_SETTINGS)
    printed = run_ok(capsys, "plot", run, "--activations").split()
    names = ["loss_curve.png", "embedding_map.png", "activations.png"]
    assert [p.rsplit("/", 1)[1] for p in printed] == names
    assert all(png_size(run / p.rsplit("/", 1)[1])[0] >= 400 for p in printed)


def test_plot_activations_of_a_hierarchical_run(tiny_file, tmp_path, capsys):
    """--activations on the hierarchical MLP (it once looked for model.hidden, which it lacks)."""
    run = tmp_path / "h"
    train(str(tiny_file), str(run), family="hierarchical", progress=False,
          **dict(TINY_SETTINGS, preset="default", block_size=4, n_hidden=8))
    run_ok(capsys, "plot", run, "--activations")
    width, height = png_size(run / "activations.png")
    assert width >= 400 and height >= 400
    lm = load(run, device="cpu")
    layers = hidden_activations(lm.model, lm.spec.windows("train"), num=50)
    assert list(layers) == ["level 1 (tanh)", "level 2 (tanh)"]
    assert layers["level 1 (tanh)"].shape == (100, 8)  # two pairs merged per example
    assert layers["level 2 (tanh)"].shape == (50, 8)


def test_activations_are_every_layer_after_its_normalisation():
    from nnlm.models.mlp import MLP, MLPConfig

    torch.manual_seed(0)
    model = MLP(MLPConfig(vocab_size=7, block_size=3, n_embd=2, n_hidden=5, n_layer=2, norm="layer"))
    with torch.no_grad():
        for p in model.parameters():
            p.normal_()
    X = torch.randint(0, 7, (11, 3))
    first = torch.tanh(torch.nn.functional.layer_norm(model.hidden(model.C(X).flatten(1)), (5,),
                                                      model.norms[0].weight, model.norms[0].bias))
    second = torch.tanh(torch.nn.functional.layer_norm(model.deeper[0](first), (5,),
                                                       model.norms[1].weight, model.norms[1].bias))
    layers = model.activations(X)
    assert list(layers) == ["hidden 1 (tanh)", "hidden 2 (tanh)"]
    assert torch.allclose(layers["hidden 1 (tanh)"], first, atol=1e-6)
    assert torch.allclose(layers["hidden 2 (tanh)"], second, atol=1e-6)
