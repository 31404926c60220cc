import math

import torch

from nnlm.data.vocab import Vocab
from nnlm.data.windows import Windows
from nnlm.inference.evaluate import evaluate, token_logprobs
from nnlm.models.mlp import MLP, MLPConfig


def fixed_model():
    """Ignores its context: p(end) = 0.5, p(a) = p(b) = 0.25."""
    model = MLP(MLPConfig(vocab_size=3, block_size=2, n_embd=2, n_hidden=4))
    with torch.no_grad():
        for p in model.parameters():
            p.zero_()
        model.out.bias.copy_(torch.log(torch.tensor([0.5, 0.25, 0.25])))
    return model


def test_loss_of_a_tiny_fixed_model():
    vocab = Vocab(["a", "b"])
    windows = Windows(["ab", "b"], vocab, 2)  # targets a, b, end, b, end
    result = evaluate(fixed_model(), windows, "cpu")
    assert result.tokens == 5
    assert math.isclose(result.loss, 8 / 5 * math.log(2), rel_tol=1e-6)
    assert math.isclose(result.bits, 1.6, rel_tol=1e-6)
    assert math.isclose(result.perplexity, 2 ** 1.6, rel_tol=1e-6)
    lps = token_logprobs(fixed_model(), windows, "cpu")
    assert torch.allclose(lps, torch.log(torch.tensor([0.25, 0.25, 0.5, 0.25, 0.5])))
