"""The mixed predictor: its sampling step gives what the run evaluates, and its distributions sum
to one."""

import pytest
import torch

import nnlm
from helpers import TINY_SETTINGS
from nnlm.data.vocab import BOUNDARY_ID
from nnlm.inference.predictor import Predictor
from nnlm.ngram.baseline import fit_ngram
from nnlm.ngram.mixture import RunMixture
from nnlm.run import rundir


def stepped_logprob(predictor: Predictor, ids: list[int], ends: bool) -> float:
    """log p of an item's tokens (and its end), read by the sampling step, a token at a time."""
    logits, state = predictor.begin(torch.tensor([[BOUNDARY_ID]]))
    total = 0.0
    for token in ids + ([BOUNDARY_ID] if ends else []):
        total += float(torch.log_softmax(logits.double(), -1)[0, token])
        logits, state = predictor.advance(state, torch.tensor([token]))
    return total


@pytest.mark.parametrize("family, settings", [
    ("mlp", dict(block_size=4)),  # a window as wide as the trigram's context and more
    ("gru", dict(block_size=32, n_embd=8, n_hidden=16, preset="default")),  # whole names
])
def test_the_mixed_predictor_steps_give_the_run_s_mixture(tiny_file, tmp_path, family, settings):
    nnlm.train(str(tiny_file), str(tmp_path / family), family=family, progress=False, mix=False,
               **{**TINY_SETTINGS, **settings})
    lm = nnlm.load(tmp_path / family, device="cpu")
    assert lm.mixture is None
    mixed = Predictor(lm.model, lm.device, RunMixture(fit_ngram(lm.source, 3)[0], 0.6))
    items = lm.source.split.dev[:20]
    encoded = [lm.source.encode(item, item) for item in items]
    evaluated = mixed.logprobs(lambda width: lm.source.sequence_windows(encoded, width))
    stepped = sum(stepped_logprob(mixed, ids, ends=True) for ids in encoded)
    assert stepped == pytest.approx(float(evaluated.sum()), rel=1e-5)
    alone = Predictor(lm.model, lm.device).logprobs(lambda width: lm.source.sequence_windows(encoded, width))
    assert float(evaluated.sum()) != pytest.approx(float(alone.sum()), rel=1e-3)  # the n-gram model counts
    logits, _ = mixed.begin(torch.zeros(2, 3, dtype=torch.long))
    assert torch.allclose(logits.exp().sum(-1), torch.ones(logits.shape[:-1]), atol=1e-5)


def test_a_run_loaded_without_its_mixture_shows_the_model_s_own_losses(tiny_file, tmp_path):
    nnlm.train(str(tiny_file), str(tmp_path / "run"), progress=False, **TINY_SETTINGS)
    summary = rundir.read_summary(tmp_path / "run")
    assert "model_dev_loss" in summary, "the tiny run is expected to choose its mixture"
    mixed, alone = (dict(nnlm.load(tmp_path / "run", device="cpu", mix=mix).rows()) for mix in (True, False))
    assert f"dev {summary['dev_loss']:.4f}" in mixed["losses (nats/token)"]
    assert f"dev {summary['model_dev_loss']:.4f}" in alone["losses (nats/token)"]
    assert f"test {summary['model_test_loss']:.4f}" in alone["losses (nats/token)"]
    assert alone["predictor"] != mixed["predictor"]
