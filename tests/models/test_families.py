"""Every model family through every command, and the sequence families' own machinery:
causality, sampling state (key-value cache, recurrent state, running sums) against a full
forward pass, and reading long sequences in windows."""

import json
import math
import signal

import pytest
import torch

import nnlm
from helpers import after_step, run_error, run_ok, send_signal
from nnlm.data.windows import Sequences
from nnlm.inference.evaluate import reading_plan, sequence_logprobs
from nnlm.models import FAMILIES

SEQUENCE_FAMILIES = [name for name, f in FAMILIES.items() if not f.window]
SMALL = {"mlp": dict(n_embd=8, n_hidden=16, block_size=3),
         "hierarchical": dict(n_embd=8, n_hidden=16, block_size=4), "bigram": {},
         "bow": dict(n_embd=16, n_hidden=16, block_size=16),
         "rnn": dict(n_embd=8, n_hidden=16, block_size=16), "gru": dict(n_embd=8, n_hidden=16, block_size=16),
         "lstm": dict(n_embd=8, n_hidden=16, block_size=16, n_layer=2, dropout=0.1),
         "transformer": dict(n_embd=16, n_layer=2, n_head=2, block_size=16, dropout=0.1)}


def model_of(name, vocab_size=7, **options):
    torch.manual_seed(0)
    family = FAMILIES[name]
    settings = {**SMALL[name], **options}
    model = family.build(family.config(vocab_size=vocab_size, **settings))
    with torch.no_grad():
        for p in model.parameters():
            p.add_(torch.randn_like(p) * 0.3)  # no symmetric or near-uniform start
    return model.eval()


def test_every_family_is_covered():
    assert set(SMALL) == set(FAMILIES)
    assert set(SEQUENCE_FAMILIES) == {"bow", "rnn", "gru", "lstm", "transformer"}


@pytest.mark.parametrize("name", SEQUENCE_FAMILIES)
def test_a_position_never_sees_the_tokens_after_it(name):
    model = model_of(name)
    x = torch.randint(0, 7, (3, 9))
    y = x.clone()
    y[:, 5:] = torch.randint(0, 7, (3, 4))
    a, b = model(x)[0], model(y)[0]  # (B, T, V)
    assert a.shape == (3, 9, 7)
    assert torch.allclose(a[:, :5], b[:, :5], atol=1e-5) and not torch.allclose(a[:, 5:], b[:, 5:])


@pytest.mark.parametrize("name", SEQUENCE_FAMILIES)
def test_sampling_state_gives_the_full_forward_pass(name):
    """begin/advance (the cache or state the sampler carries) = the logits of one forward."""
    model = model_of(name)
    x = torch.randint(1, 7, (4, 11))
    x[:, 0] = 0
    full = model(x)[0]  # (B, T, V)
    logits, state = model.begin(x[:, :3])
    steps = [logits]
    for t in range(3, 11):
        keep = torch.tensor([True, False, True, True]) if t == 6 else torch.ones(4, dtype=torch.bool)
        if t == 6:  # the sampler drops finished rows
            state, x, full = model.keep(state, keep), x[keep], full[keep]
            steps = [s[keep] for s in steps]
        logits, state = model.advance(state, x[:, t])
        steps.append(logits)
    assert torch.allclose(torch.stack(steps, 1), full[:, 2:], atol=1e-4)


def test_transformer_samples_past_its_block_size():
    model = model_of("transformer", block_size=8)
    x = torch.randint(1, 7, (2, 12))
    logits, state = model.begin(x[:, :4])
    for t in range(4, 12):
        logits, state = model.advance(state, x[:, t])
    expected = model(x[:, -8:])[0][:, -1]  # the last block_size tokens
    assert torch.allclose(logits, expected, atol=1e-4)


def test_long_sequences_are_read_in_half_overlapping_windows():
    stream = torch.arange(30, dtype=torch.int32) % 7
    seqs = Sequences(stream, torch.tensor([0, 12]), torch.tensor([10, 17]))  # tokens 0..9, 12..28
    starts, lengths, skip, out_at = reading_plan(seqs, 8)
    # the first: windows at 0 (all 8 scored) and 4 (its last 4: targets 8, 9 -> cut to length 6);
    # the second (17 targets): 0-7, then 8-11, 12-15 and 16, each from a window 4 further on
    assert starts.tolist() == [0, 4, 12, 16, 20, 24] and lengths.tolist() == [8, 6, 8, 8, 8, 5]
    assert skip.tolist() == [0, 4, 0, 4, 4, 4] and out_at.tolist() == [0, 4, 10, 14, 18, 22]
    model = model_of("transformer", block_size=8)
    lp = sequence_logprobs(model, seqs, "cpu")
    assert lp.numel() == 27 and (lp < 0).all()
    # a token is predicted from its own window: the second sequence's 10th target
    window = stream[16:24].long().unsqueeze(0)
    expected = torch.log_softmax(model(window)[0][0, 5], -1)[stream[22]]
    assert math.isclose(lp[10 + 9].item(), expected.item(), rel_tol=1e-5)


@pytest.mark.parametrize("name", ["rnn", "gru", "lstm"])
def test_a_recurrent_model_reads_a_long_sequence_with_its_state_carried(name):
    """Segments side by side, each warmed up on the block before it: the first segment is one
    pass over the sequence, the rest nearly (their context starts a block before them), and a
    process's shard of the segments plus the other's is the whole."""
    model = model_of(name, vocab_size=11, block_size=8)
    stream = torch.randint(1, 11, (400,), generator=torch.Generator().manual_seed(0), dtype=torch.int32)
    stream[0] = 0
    seqs = Sequences(stream, torch.tensor([0, 300]), torch.tensor([290, 6]))  # long, and short
    lp = sequence_logprobs(model, seqs, "cpu")
    with torch.no_grad():
        logits, _ = model.read(stream[:290].long().unsqueeze(0))
    one_pass = torch.log_softmax(logits[0], -1).gather(1, stream[1:291].long().unsqueeze(1)).squeeze(1)
    segment = -(-290 // 37)  # 37 segments of a block or so: the first is read as one pass is
    assert torch.allclose(lp[:segment], one_pass[:segment], atol=1e-6)
    assert math.isclose(lp[:290].mean().item(), one_pass.mean().item(), rel_tol=0.02)
    assert (lp[290:] < 0).all()
    halves = sequence_logprobs(model, seqs, "cpu", shard=(0, 2)) + sequence_logprobs(model, seqs, "cpu",
                                                                                      shard=(1, 2))
    assert torch.allclose(halves, lp)


@pytest.mark.parametrize("name", list(FAMILIES))
def test_every_family_through_every_command(name, tiny_file, tmp_path, capsys):
    run = tmp_path / name
    options = [f"--{k.replace('_', '-')}={v}" for k, v in SMALL[name].items()]
    printed = run_ok(capsys, "train", tiny_file, "--out", run, "--model", name, "--steps", 40,
                     "--eval-interval", 20, "--quiet", "--samples", 3, *options)
    assert "samples:" in printed
    assert json.loads((run / "config.json").read_text())["model"]["family"] == name
    ev = json.loads(run_ok(capsys, "eval", run, "--split", "test", "--json"))
    plain = json.loads(run_ok(capsys, "eval", run, "--split", "test", "--json", "--no-mix"))
    assert 0 < ev["loss"] <= plain["loss"] + 0.05 and ev["tokens"] == plain["tokens"]
    test_items = json.loads((run / "splits.json").read_text())["test"]
    scores = [json.loads(line) for line in run_ok(capsys, "score", run, *test_items, "--json").splitlines()]
    assert math.isclose(-sum(s["logprob"] for s in scores) / ev["tokens"], ev["loss"], rel_tol=1e-4)
    samples = [json.loads(s) for s in run_ok(capsys, "sample", run, "-n", 20, "--seed", 1, "--json",
                                             "--prefix", "ma", "--min-len", 3, "--max-len", 9,
                                             "--top-k", 5, "--top-p", 0.9, "--temperature", 0.8).splitlines()]
    assert len(samples) == 20
    assert all(s["text"].startswith("ma") and 3 <= len(s["text"]) <= 9 for s in samples)
    assert len(run_ok(capsys, "neighbors", run, "a", "-k", 3).splitlines()) == 3
    assert "loss_curve.png" in run_ok(capsys, "plot", run)
    assert "not in the model's vocabulary" in run_error(capsys, "score", run, "x#y")


@pytest.mark.parametrize("name", SEQUENCE_FAMILIES)
def test_sequence_families_resume_bit_exactly(name, tiny_file, tmp_path, monkeypatch):
    settings = dict(SMALL[name], model=name, steps=30, eval_interval=10, log_interval=5, mix=False)
    whole = nnlm.train(str(tiny_file), str(tmp_path / "whole"), progress=False, **settings)
    after_step(monkeypatch, 17, send_signal(signal.SIGINT))
    first = nnlm.train(str(tiny_file), str(tmp_path / "split"), progress=False, **settings)
    assert first.stopped == "interrupted by SIGINT"
    monkeypatch.undo()
    second = nnlm.train(out=str(tmp_path / "split"), resume=True, progress=False)
    assert second.step == whole.step == 30
    a = nnlm.load(tmp_path / "whole", device="cpu", weights="last").model.state_dict()
    b = nnlm.load(tmp_path / "split", device="cpu", weights="last").model.state_dict()
    assert all(torch.equal(a[k], b[k]) for k in a)


@pytest.mark.parametrize("name", ["gru", "transformer"])
def test_sequence_families_on_a_word_stream(name, tmp_path, capsys):
    lines = ["the cat sat on the mat .", "a dog ran to the cat .", "the dog sat ."] * 30
    path = tmp_path / "words.txt"
    path.write_text("\n".join(lines) + "\n")
    run = tmp_path / "run"
    run_ok(capsys, "train", path, "--out", run, "--model", name, "--tokens", "word", "--kind", "text",
           "--no-line-ends",
           "--min-count", 0, "--split-tokens", "400,70", "--steps", 60, "--quiet", "--samples", 0,
           *[f"--{k.replace('_', '-')}={v}" for k, v in SMALL[name].items()])
    ev = json.loads(run_ok(capsys, "eval", run, "--json", "--no-mix"))
    assert ev["tokens"] == 70 and ev["loss"] < math.log(12)
    assert [len(s.split()) for s in run_ok(capsys, "sample", run, "-n", 2, "--max-len", 30, "--plain",
                                           "--seed", 0).splitlines()] == [30, 30]


@pytest.mark.parametrize("name", ["gru", "transformer"])
def test_sequence_families_sampled_softmax_counts_only_real_positions(name, monkeypatch):
    """The sampled softmax of a sequence model, by hand: the real (non-padding) positions'
    logits over the candidates (their targets and the draws), corrected by each candidate's
    chance of being drawn."""
    import nnlm.models.base as base

    model = model_of(name, vocab_size=40, sampled=5, tie=True, dropout=0.0).train()
    draws = torch.tensor([0, 7, 7, 31, 39])
    monkeypatch.setattr(base, "zipf_ids", lambda k, v, device: draws[:k])
    x, y = torch.randint(0, 40, (2, 6)), torch.randint(0, 40, (2, 6))
    y[1, 4:] = -1  # padding
    logits, loss = model(x, y)
    assert logits is None
    full, _ = model(x)  # (B, T, V): no targets, the exact logits
    keep = y >= 0
    cand = sorted({*y[keep].tolist(), *draws.tolist()})
    n = int(keep.sum())
    chance = torch.tensor([1 - (1 - math.log((c + 2) / (c + 1)) / math.log(41)) ** (5 + n) for c in cand])
    picked = full[keep][:, cand] - torch.log(chance)  # (N, C)
    target = torch.tensor([cand.index(t) for t in y[keep].tolist()])
    assert math.isclose(loss.item(), torch.nn.functional.cross_entropy(picked, target).item(), rel_tol=1e-4)
