"""The ONNX step of every family, run by onnxruntime, against nnlm's model alone: the same
next-token log-probabilities at every position, whether a text is read in one call or a token a
step, past the block size (the window slides, the recurrent state carries on, bow and the
transformer re-read their last positions) and with rows dropped as the sampler drops them."""

import json
import subprocess
import sys

import numpy as np
import onnxruntime
import pytest
import torch

import nnlm
from helpers import ROOT
from nnlm.models import FAMILIES

LENGTH = 40  # ids fed, the boundary first: past every test run's block size (at most 16)
DROP_AT = 25  # the second row is dropped before this position, as the sampler drops finished rows


def fixed_rows(lm, data_file) -> torch.Tensor:
    """(2, LENGTH) ids: the boundary, then the start of the run's own data; the second row the
    same ids backwards."""
    text = data_file.read_text()[:400].replace("\n", "") if lm.source.ends else data_file.read_text()[:400]
    ids = lm.source.encode(text, "the fixed text")[:LENGTH - 1]
    assert len(ids) == LENGTH - 1
    return torch.tensor([[0, *ids], [0, *ids[::-1]]])


@torch.no_grad()
def nnlm_steps(lm, x: torch.Tensor, drop: bool) -> list[np.ndarray]:
    """log p of the next token after each position of x, as nnlm's sampler steps its model
    alone (Predictor.begin / advance / keep): [(rows, V)] per position."""
    logits, state = lm.predictor.begin(x[:, :1])
    out = [logits]
    for t in range(1, x.shape[1]):
        if drop and t == DROP_AT:
            state, x = lm.predictor.keep(state, torch.tensor([True, False])), x[:1]
        logits, state = lm.predictor.advance(state, x[:, t])
        out.append(logits)
    return [torch.log_softmax(o.double(), -1).numpy() for o in out]


def onnx_steps(model, x: np.ndarray, drop: bool) -> list[np.ndarray]:
    """The same through the ONNX step, a token a call (the example consumer's StepModel)."""
    state, out = model.start(len(x)), []
    for t in range(x.shape[1]):
        if drop and t == DROP_AT:
            state, x = model.keep(state, np.array([True, False])), x[:1]
        logits, state = model.read(state, x[:, t:t + 1])
        out.append(log_softmax(logits[:, -1]))
    return out


def log_softmax(logits: np.ndarray) -> np.ndarray:
    return torch.log_softmax(torch.from_numpy(logits).double(), -1).numpy()


@pytest.mark.parametrize("level", ["char", "bpe"])
@pytest.mark.parametrize("family", list(FAMILIES))
def test_onnx_gives_the_models_log_probabilities_at_every_position(family, level, trained, exported,
                                                                 consumer, data_files):
    lm = nnlm.load(trained(family, level), device="cpu", mix=False)
    folder = exported(family, level)
    card = json.loads((folder / "card.json").read_text())
    model = consumer.StepModel(folder, card)
    x = fixed_rows(lm, data_files[level])
    expected = np.stack(nnlm_steps(lm, x, drop=False), 1)  # (2, LENGTH, V)
    assert expected.shape == (2, LENGTH, len(lm.vocab))
    at_once = log_softmax(model.read(model.start(2), x.numpy())[0])  # read in one call (and past the limit)
    assert np.abs(at_once - expected).max() < 1e-4
    for got, want in zip(onnx_steps(model, x.numpy(), drop=True), nnlm_steps(lm, x, drop=True), strict=True):
        assert got.shape == want.shape and np.abs(got - want).max() < 1e-4
    assert np.abs(expected[0, 1:] - expected[0, :-1]).max() > 1e-3  # the positions differ: a real test


def test_the_model_alone_differs_from_the_runs_mixture(trained, exported, consumer, data_files):
    """The exported network is the model without its n-gram model: where the run has a mixture, nnlm's
    default predictor gives other numbers."""
    run = trained("mlp", "char")
    mixed = nnlm.load(run, device="cpu")
    assert mixed.mixture is not None
    folder = exported("mlp", "char")
    model = consumer.StepModel(folder, json.loads((folder / "card.json").read_text()))
    x = fixed_rows(mixed, data_files["char"])
    ours = np.stack(onnx_steps(model, x.numpy(), drop=False), 1)
    assert np.abs(ours - np.stack(nnlm_steps(mixed, x, drop=False), 1)).max() > 1e-2


@pytest.mark.parametrize("family", list(FAMILIES))
def test_the_graph_is_as_its_card_says(family, trained, exported):
    folder = exported(family, "char")
    onnx = json.loads((folder / "card.json").read_text())["onnx"]
    session = onnxruntime.InferenceSession(str(folder / onnx["file"]), providers=["CPUExecutionProvider"])
    inputs = [(i.name, i.type) for i in session.get_inputs()]
    types = {"int64": "tensor(int64)", "float32": "tensor(float)"}
    assert inputs == [(i["name"], types[i["dtype"]]) for i in onnx["inputs"]]
    assert [o.name for o in session.get_outputs()] == [o["name"] for o in onnx["outputs"]]
    for declared, actual in zip(onnx["inputs"], session.get_inputs(), strict=True):
        fixed = [(n, d) for n, d in zip(declared["shape"], actual.shape, strict=True) if isinstance(n, int)]
        assert all(n == d for n, d in fixed)  # the fixed sizes; the others are free
    lm = nnlm.load(trained(family, "char"), device="cpu", mix=False)
    block = lm.model.config.block_size
    assert onnx["max_positions"] == (block if family in ("bow", "transformer") else None)
    states = {"lstm": ["h", "c"], "rnn": ["h"], "gru": ["h"], "bow": ["sums"], "transformer": ["cache"]}
    assert [s["input"] for s in onnx["state"]] == states.get(family, ["window"])


def test_a_labelled_run_exports_and_its_consumer_reads_from_a_label(tmp_path, names):
    """A labelled run's items start from their label's id: the exported step reads it so too."""
    from nnlm.export.write import export

    for label, part in (("a", names[:150]), ("b", names[150:300])):
        (tmp_path / f"{label}.txt").write_text("\n".join(part) + "\n")
    nnlm.train([str(tmp_path / "a.txt"), str(tmp_path / "b.txt")], str(tmp_path / "run"), progress=False,
               preset="quick", steps=20, n_embd=4, n_hidden=16, block_size=3)
    folder = export(tmp_path / "run", tmp_path / "out")
    card = json.loads((folder / "card.json").read_text())
    lm = nnlm.load(tmp_path / "run", mix=False, device="cpu")
    assert card["labels"] == {"a": len(lm.vocab), "b": len(lm.vocab) + 1}
    done = subprocess.run([sys.executable, str(ROOT / "examples" / "onnx_consumer.py"), "score", str(folder),
                           "emma", "--label", "b"], capture_output=True, text=True, check=True)
    assert float(done.stdout.splitlines()[-1]) == pytest.approx(lm.score(["emma"], "b")[0].logprob, abs=1e-3)
