import json
import math

import numpy as np
import torch

import nnlm
from helpers import WORD_TRAIN, run_ok
from nnlm.cli import main
from nnlm.inference.evaluate import token_logprobs
from nnlm.models.mlp import MLP, MLPConfig
from nnlm.ngram import counts
from nnlm.ngram.mixture import mix_logprobs, mix_many, tune_weight, tune_weights


def test_mixture_is_normalised_and_has_the_right_ends(names):
    V = 12
    rng = np.random.default_rng(0)
    X, Y = rng.integers(0, V, (500, 2)), rng.integers(1, V, 500)
    kn = counts.KneserNey(3, V).fit(X, Y)
    mlp = MLP(MLPConfig(vocab_size=V, block_size=2, n_embd=3, n_hidden=5)).eval()
    ctx = rng.integers(0, V, (20, 2))
    with torch.no_grad():
        p_mlp = torch.softmax(mlp(torch.tensor(ctx))[0].double(), -1).numpy()  # (20, V)
    p_kn = np.stack([kn.distribution(c) for c in ctx])
    for w in (0.0, 0.3, 0.5, 1.0):
        mixed = np.exp(mix_logprobs(np.log(p_mlp), np.log(p_kn), w))
        np.testing.assert_allclose(mixed.sum(1), 1.0, rtol=1e-10)
    np.testing.assert_allclose(mix_logprobs(np.log(p_mlp), np.log(p_kn), 1.0), np.log(p_mlp))
    np.testing.assert_allclose(mix_logprobs(np.log(p_mlp), np.log(p_kn), 0.0), np.log(p_kn))
    a, b = np.log(p_mlp[:, 1]), np.log(p_kn[:, 1])
    best = tune_weight(a, b)
    grid = min(np.linspace(0, 1, 1001), key=lambda w: -mix_logprobs(a, b, w).mean())
    assert abs(best - grid) < 2e-3


def test_em_weights_of_three_components_match_a_grid_over_the_simplex():
    rng = np.random.default_rng(1)
    p = rng.dirichlet(np.ones(6), size=(3, 400))[..., 0]  # (3, 400) three models' probabilities
    p[2] = p[0] * 0.9 + 0.05  # a near-twin of the first: EM must still find the optimum
    lp = list(np.log(p))
    w = tune_weights(lp)
    assert math.isclose(w.sum(), 1.0) and (w >= 0).all()
    steps = np.linspace(0, 1, 101)
    grid = min(((a, b, 1 - a - b) for a in steps for b in steps if a + b <= 1 + 1e-12),
               key=lambda g: -mix_many(lp, np.clip(g, 0, 1)).mean())
    assert -mix_many(lp, w).mean() <= -mix_many(lp, np.clip(grid, 0, 1)).mean() + 1e-9
    assert np.allclose(mix_many(lp, [0.2, 0.3, 0.5]),
                       np.log(0.2 * p[0] + 0.3 * p[1] + 0.5 * p[2]))
    assert np.allclose(mix_many(lp, [0, 1, 0]), lp[1])


def test_mixing_runs_with_each_other_and_a_trigram(sentences, tmp_path, capsys):
    a, b, other = tmp_path / "a", tmp_path / "b", tmp_path / "other"
    run_ok(capsys, "train", sentences, "--out", a, "--tokens", "word", *WORD_TRAIN)
    run_ok(capsys, "train", sentences, "--out", b, "--tokens", "word", *WORD_TRAIN, "--seed", 7, "--tie")
    assert json.loads((b / "config.json").read_text())["model"]["tie"] is True
    alone = [json.loads(run_ok(capsys, "eval", r, "--json", "--no-mix"))["loss"] for r in (a, b)]
    both = json.loads(run_ok(capsys, "eval", a, "--mix-with", b, "--json"))["mix"]
    three = json.loads(run_ok(capsys, "eval", a, "--mix-with", b, "--mix-order", 3, "--json"))["mix"]
    assert [c["name"] for c in three["components"]] == [str(a), str(b), "kneser-ney n=3"]
    assert math.isclose(sum(c["weight"] for c in three["components"]), 1.0)
    assert both["dev"]["loss"] <= min(alone) + 1e-9  # tuned on dev
    assert three["dev"]["loss"] <= both["dev"]["loss"] + 1e-9
    half = json.loads(run_ok(capsys, "eval", a, "--mix-with", b, "--mix-weight", .5, .5, "--json"))
    la, lb = (token_logprobs_of(r) for r in (a, b))
    assert math.isclose(half["mix"]["dev"]["loss"], -np.logaddexp(la, lb).mean() + math.log(2),
                        rel_tol=1e-6)
    different = tmp_path / "other.txt"
    different.write_text("Different words entirely here .\n" * 30)
    run_ok(capsys, "train", different, "--out", other, "--tokens", "word", *WORD_TRAIN)
    assert main(["eval", str(a), "--mix-with", str(other)]) == 2
    err = capsys.readouterr().err
    assert "not trained on the same data" in err and "Traceback" not in err
    assert main(["eval", str(a), "--mix-with", str(b), "--mix-weight", "0.9"]) == 2
    assert "one weight per run (2)" in capsys.readouterr().err


def token_logprobs_of(run_dir) -> np.ndarray:
    lm = nnlm.load(run_dir, device="cpu")
    return token_logprobs(lm.model, lm.spec.windows("dev"), lm.device).double().numpy()
