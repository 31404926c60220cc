import math

import pytest
import torch
import torch.nn.functional as F

from nnlm.errors import NnlmError
from nnlm.models import FAMILIES
from nnlm.models.hierarchical import HierarchicalConfig
from nnlm.models.mlp import MLP, MLPConfig


def hand_forward(model, X):
    """y = b + W x + U tanh(d + H x), written out with the raw tensors."""
    C = model.C.weight
    x = C[X].view(X.shape[0], -1)
    h = torch.tanh(x @ model.hidden.weight.T + model.hidden.bias)
    y = h @ model.out.weight.T + model.out.bias
    if model.direct is not None:
        y = y + x @ model.direct.weight.T
    return y


def test_forward_matches_hand_written():
    torch.manual_seed(0)
    for direct in (False, True):
        model = MLP(MLPConfig(vocab_size=11, block_size=4, n_embd=3, n_hidden=7, direct=direct))
        with torch.no_grad():
            for p in model.parameters():
                p.normal_()
        X = torch.randint(0, 11, (5, 4))
        Y = torch.randint(0, 11, (5,))
        logits, loss = model(X, Y)
        assert logits.shape == (5, 11)
        assert torch.allclose(logits, hand_forward(model, X), atol=1e-5)
        assert torch.allclose(loss, F.cross_entropy(hand_forward(model, X), Y), atol=1e-6)
        assert model(X)[1] is None


def test_a_labelled_mlp_scales_and_shifts_every_layer_by_its_label():
    """FiLM written out: each layer's LayerNorm output times 1 + gain, plus shift, both a linear
    map of the label's row of C (the window's last id); the label tokens never predicted."""
    torch.manual_seed(0)
    V, labels, T, E, H = 9, 3, 4, 3, 5
    model = MLP(MLPConfig(vocab_size=V, labels=labels, block_size=T, n_embd=E, n_hidden=H, n_layer=2,
                          norm="layer")).eval()
    assert not model.film.weight.any() and not model.film.bias.any()  # starts as the plain MLP
    with torch.no_grad():
        for p in model.parameters():
            p.normal_()
    X = torch.cat([torch.randint(0, V - labels, (6, T - 1)), torch.randint(V - labels, V, (6, 1))], 1)
    C = model.C.weight
    film = (C[X[:, -1]] @ model.film.weight.T + model.film.bias).view(6, 2, 2, H)  # (B, layer, gain|shift, H)
    h = C[X].view(6, -1)
    for i, (layer, norm) in enumerate(zip([model.hidden, *model.deeper], model.norms, strict=True)):
        pre = h @ layer.weight.T + layer.bias
        pre = (pre - pre.mean(1, keepdim=True)) / torch.sqrt(pre.var(1, unbiased=False, keepdim=True) + 1e-5)
        pre = pre * norm.weight + norm.bias
        h = torch.tanh(pre * (1 + film[:, i, 0]) + film[:, i, 1])
    expected = h @ model.out.weight.T + model.out.bias
    logits, _ = model(X)
    assert torch.allclose(logits[:, :V - labels], expected[:, :V - labels], atol=1e-5)
    assert torch.isinf(logits[:, V - labels:]).all()
    assert MLP(MLPConfig(vocab_size=V, block_size=T, n_embd=E, n_hidden=H)).film is None  # no labels
    assert MLP(MLPConfig(vocab_size=V, labels=labels, block_size=1, n_embd=E, n_hidden=H)).film is None


def test_tied_output_uses_c_and_trains_through_both_ends():
    torch.manual_seed(0)
    for n_hidden in (3, 7):  # equal to n_embd: no projection; otherwise a linear one
        model = MLP(MLPConfig(vocab_size=11, block_size=4, n_embd=3, n_hidden=n_hidden, tie=True))
        assert (model.proj is None) == (n_hidden == 3)
        assert "out.weight" not in model.state_dict()  # C is saved once
        with torch.no_grad():
            for p in model.parameters():
                p.normal_()
        X, Y = torch.randint(0, 5, (5, 4)), torch.randint(0, 11, (5,))  # ids 5.. only as outputs
        C = model.C.weight
        h = torch.tanh(C[X].view(5, -1) @ model.hidden.weight.T + model.hidden.bias)
        if model.proj is not None:
            h = h @ model.proj.weight.T
        logits, loss = model(X, Y)
        assert torch.allclose(logits, h @ C.T + model.out.bias, atol=1e-5)
        loss.backward()
        assert (C.grad[5:].abs().sum(1) > 0).all()  # rows reached only as output vectors
    assert MLP(MLPConfig(11, 4, 3, 7, tie=True)).num_parameters() == 11 * 3 + 7 * 13 + 7 * 3 + 11


def test_parameter_count_matches_paper_formula():
    # |V|(1 + n m + h) + h(1 + (n-1) m), with n - 1 = block_size
    V, bs, m, h = 27, 3, 10, 200
    with_direct = MLP(MLPConfig(V, bs, m, h, direct=True)).num_parameters()
    assert with_direct == V * (1 + (bs + 1) * m + h) + h * (1 + bs * m)
    assert MLP(MLPConfig(V, bs, m, h)).num_parameters() == 11897  # the lecture's number


def test_scaled_init_starts_near_uniform_and_unsaturated():
    torch.manual_seed(0)
    model = MLP(MLPConfig(vocab_size=27, block_size=3, n_embd=10, n_hidden=200))
    X = torch.randint(0, 27, (2000, 3))
    Y = torch.randint(0, 27, (2000,))
    _, loss = model(X, Y)
    assert abs(loss.item() - math.log(27)) < 0.05
    h = torch.tanh(model.hidden(model.C(X).flatten(1)))
    assert (h.abs() > 0.99).float().mean() < 0.05  # few saturated units
    torch.manual_seed(0)
    lecture = MLP(MLPConfig(vocab_size=27, init="normal"))
    assert lecture(X, Y)[1].item() > 10  # part 2's confidently-wrong start


def test_weight_decay_groups_exclude_biases():
    model = MLP(MLPConfig(vocab_size=5, direct=True))
    decay, no_decay = model.decay_groups(0.1)
    names = {id(p): n for n, p in model.named_parameters()}
    assert sorted(names[id(p)] for p in decay["params"]) == \
        ["C.weight", "direct.weight", "hidden.weight", "out.weight"]
    assert sorted(names[id(p)] for p in no_decay["params"]) == ["hidden.bias", "out.bias"]
    assert decay["weight_decay"] == 0.1 and no_decay["weight_decay"] == 0.0


def test_hierarchical_matches_hand_written_pairwise_merge():
    torch.manual_seed(0)
    model = build_model(HierarchicalConfig(vocab_size=7, block_size=4, n_embd=3, n_hidden=5,
                                           norm="none"))
    X = torch.randint(0, 7, (6, 4))
    e = model.C.weight[X]  # (B, 4, m)
    m1, m2 = model.merges
    left = torch.tanh(torch.cat([e[:, 0], e[:, 1]], 1) @ m1.weight.T + m1.bias)
    right = torch.tanh(torch.cat([e[:, 2], e[:, 3]], 1) @ m1.weight.T + m1.bias)
    top = torch.tanh(torch.cat([left, right], 1) @ m2.weight.T + m2.bias)
    expected = top @ model.out.weight.T + model.out.bias
    assert torch.allclose(model(X)[0], expected, atol=1e-6)


@pytest.mark.parametrize("options", [dict(n_layer=3), dict(norm="layer"), dict(norm="batch"),
                                     dict(dropout=0.3), dict(tie=True),
                                     dict(family="hierarchical", block_size=8, norm="batch", dropout=0.1)])
def test_model_options_train_and_evaluate(options):
    torch.manual_seed(0)
    options = dict(options)
    config = HierarchicalConfig if options.pop("family", "mlp") == "hierarchical" else MLPConfig
    cfg = config(**{**dict(vocab_size=9, block_size=4, n_embd=3, n_hidden=16), **options})
    model = build_model(cfg)
    assert not (isinstance(model, MLP) and cfg.paper_exact)
    X, Y = torch.randint(0, 9, (64, cfg.block_size)), torch.randint(0, 9, (64,))
    opt = torch.optim.Adam(model.parameters(), lr=0.05)
    first = model(X, Y)[1].item()
    for _ in range(30):
        opt.zero_grad()
        model(X, Y)[1].backward()
        opt.step()
    model.eval()
    assert model(X, Y)[1].item() < first - 0.3  # it can learn
    assert torch.equal(model(X)[0], model(X)[0])  # no dropout noise in eval mode


def test_bad_model_options():
    with pytest.raises(NnlmError, match="power-of-two"):
        build_model(HierarchicalConfig(vocab_size=5, block_size=6))
    with pytest.raises(NnlmError, match="dropout"):
        build_model(MLPConfig(vocab_size=5, dropout=1.0))
    with pytest.raises(NnlmError, match="tie=True is for init='scaled'"):
        build_model(MLPConfig(vocab_size=5, block_size=4, init="normal", tie=True))
    with pytest.raises(NnlmError, match="norm"):
        build_model(MLPConfig(vocab_size=5, norm="group"))


def test_bigram_family_learns_the_count_bigram(tiny_file, tmp_path):
    import numpy as np

    import nnlm
    from nnlm.ngram import counts

    nnlm.train(str(tiny_file), str(tmp_path / "b"), model="bigram", steps=1000, progress=False)
    lm = nnlm.load(tmp_path / "b", device="cpu", weights="last")
    X, Y = (t.numpy() for t in lm.spec.windows("train", 1).tensors())
    counts = counts.CountBigram(len(lm.vocab), smoothing=0.0).fit(X, Y)
    best = float(-np.log(counts.prob(X, Y)).mean())  # the train loss no bigram can beat
    assert best <= lm.evaluate("train").loss < best + 0.02
    assert lm.model.embeddings().shape == (len(lm.vocab), len(lm.vocab))


def test_sampled_softmax_loss_equals_a_hand_computation(monkeypatch):
    """The sampled loss of fixed draws, computed by hand: candidates are the batch's targets
    and the draws, each logit corrected by log(1 - (1 - q)^(K + B)) with q its Zipf chance."""
    import nnlm.models.base as base

    torch.manual_seed(0)
    V, K = 50, 6
    m = MLP(MLPConfig(vocab_size=V, block_size=2, n_embd=3, n_hidden=4, direct=True, sampled=K))
    with torch.no_grad():
        for p in m.parameters():
            p.normal_()
    draws = torch.tensor([0, 3, 3, 17, 40, 49])
    monkeypatch.setattr(base, "zipf_ids", lambda k, v, device: draws[:k])
    x, y = torch.tensor([[1, 2], [5, 9], [9, 9]]), torch.tensor([3, 7, 20])
    m.train()
    _, loss = m(x, y)
    candidates = sorted({*y.tolist(), *draws.tolist()})  # 0 3 7 17 20 40 49
    e = m.C.weight[x].reshape(3, -1)
    h = torch.tanh(e @ m.hidden.weight.T + m.hidden.bias)
    expected = 0.0
    for row in range(3):
        logits = []
        for c in candidates:
            q = math.log((c + 2) / (c + 1)) / math.log(V + 1)
            chance = 1 - (1 - q) ** (K + 3)
            logit = h[row] @ m.out.weight[c] + m.out.bias[c] + e[row] @ m.direct.weight[c]
            logits.append(logit - math.log(chance))
        logits = torch.stack(logits)
        expected += -(logits[candidates.index(int(y[row]))] - torch.logsumexp(logits, 0)) / 3
    assert math.isclose(loss.item(), expected.item(), rel_tol=1e-5)
    loss.backward()
    assert m.out.weight.grad[candidates].abs().sum() > 0 and m.out.weight.grad[1].abs().sum() == 0
    m.eval()  # evaluation is the exact softmax over all of V
    logits, exact = m(x, y)
    assert logits.shape == (3, V)
    assert math.isclose(exact.item(), torch.nn.functional.cross_entropy(logits, y).item(), rel_tol=1e-6)


def build_model(config):
    """The model of an MLP or hierarchical config, built by its family."""
    return FAMILIES["hierarchical" if isinstance(config, HierarchicalConfig) else "mlp"].build(config)
