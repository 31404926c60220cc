"""The mixed predictor keeps the model contract: as a model, it gives what the run evaluates."""

import pytest
import torch

import nnlm
from helpers import TINY_SETTINGS
from nnlm.inference.evaluate import evaluate
from nnlm.inference.mixed import MixedModel
from nnlm.ngram.baseline import fit_ngram
from nnlm.ngram.mixture import RunMixture


@pytest.mark.parametrize("family, settings", [
    ("mlp", dict(block_size=4)),  # a window as wide as the trigram's context and more
    ("gru", dict(block_size=32, n_embd=8, n_hidden=16, preset="default")),  # whole names
])
def test_the_mixed_model_gives_the_run_s_mixture(tiny_file, tmp_path, family, settings):
    nnlm.train(str(tiny_file), str(tmp_path / family), model=family, progress=False, mix=False,
               **{**TINY_SETTINGS, **settings})
    lm = nnlm.load(tmp_path / family, device="cpu")
    assert lm.mixture is None
    lm.mixture = RunMixture(fit_ngram(lm.spec, 3)[0], 0.6)
    mixed = MixedModel(lm.model, lm.mixture)
    assert mixed.window == lm.model.window
    as_model = evaluate(mixed, lm.spec.windows("dev"), lm.device).loss
    assert as_model == pytest.approx(lm.evaluate("dev").loss, rel=1e-5)
    alone = evaluate(lm.model, lm.spec.windows("dev"), lm.device).loss
    assert as_model != pytest.approx(alone, rel=1e-3)  # the n-gram model counts
    logits, _ = mixed(torch.zeros(2, lm.spec.model.block_size, dtype=torch.long))
    assert torch.allclose(logits.exp().sum(-1), torch.ones(logits.shape[:-1]), atol=1e-5)
