"""Every model family of nnlm, on names and on Brown, beside makemore's own training.

    python benchmarks/zoo.py names [--seconds 300]        # about 80 minutes on 2 cores
    python benchmarks/zoo.py brown --brown PATH/brown.zip [--seconds 300]   # about 50 minutes
    python benchmarks/zoo.py brown --families lstm --seconds 1500   # nnlm's best on Brown
    python benchmarks/zoo.py brown --families lstm --seconds 300 --set n_hidden=1024 dropout=0.6

names: each nnlm family trains with its `best` preset (its default where it has none) for
--seconds of wall clock on the lecture's split of names.txt; its test loss is measured at
every dev evaluation (that time is not counted). Beside it, makemore's class of the same
family (../shared/peers/makemore.py, MIT) is trained with makemore's own loop (AdamW, lr
5e-4, weight decay 0.01, batch 32, its default sizes) for the same wall clock on the same
machine and nnlm's split, its test loss on nnlm's test split measured every few seconds
(not counted either). Reported: parameters, makemore's best test loss and the training
seconds it took, the seconds nnlm took to reach that loss, nnlm's best test loss alone and
mixed with its n-gram model, steps/s, and `nnlm sample` names/s (10,000 names).

brown: each family on Brown (word level, one token stream, the paper's split: 800,000 /
200,000 / rest), --seconds of training each, test perplexity alone and mixed with a
Kneser-Ney model (order and weight chosen on valid). Evaluations during training read 50,000
of the 200,000 valid words (--eval-tokens), so that they take little of the budget.

Writes benchmarks/results/zoo_<data>.md, or zoo_<data>_<families>_<seconds>s.md for some
families (--set: settings over the table's).
"""

from __future__ import annotations

import argparse
import json
import math
import sys
import tempfile
import time
from pathlib import Path

import torch

import nnlm
from nnlm.data.split import split_items
from nnlm.data.text import bundled_names_path, read_items
from nnlm.inference.ensemble import component_logprobs
from nnlm.inference.evaluate import evaluate
from nnlm.models import FAMILIES
from nnlm.ngram.baseline import choose_order, examples
from nnlm.ngram.mixture import mix_many, tune_weights
from nnlm.tools.sweep import parse_assignments
from nnlm.training.loop import Trainer

ROOT = Path(__file__).resolve().parents[1]
PEERS = ROOT.parent / "shared" / "peers"
RESULTS = Path(__file__).parent / "results"
MAKEMORE_TYPES = ("bigram", "mlp", "bow", "rnn", "gru", "transformer")  # makemore has no lstm


def makemore_module():
    sys.path.insert(0, str(PEERS))
    import makemore  # noqa: E402  (the peer, run from where it lies, never copied)

    return makemore


def makemore_tensors(words: list[str], stoi: dict, length: int) -> tuple[torch.Tensor, torch.Tensor]:
    """makemore's CharDataset encoding: x = <START> word, y = word <STOP>, -1 past the end."""
    X = torch.zeros(len(words), length, dtype=torch.long)
    Y = torch.full((len(words), length), -1, dtype=torch.long)
    for i, w in enumerate(words):
        ids = [stoi[c] for c in w]
        X[i, 1:1 + len(ids)] = torch.tensor(ids)
        Y[i, :len(ids)] = torch.tensor(ids)
        Y[i, len(ids)] = 0
    return X, Y


@torch.no_grad()
def makemore_test_loss(model, X, Y) -> float:
    model.eval()
    total, count = 0.0, 0
    for i in range(0, len(X), 1000):
        logits, _ = model(X[i:i + 1000])
        lp = torch.log_softmax(logits, -1).gather(2, Y[i:i + 1000].clamp(min=0).unsqueeze(2)).squeeze(2)
        mask = Y[i:i + 1000] >= 0
        total, count = total - float(lp[mask].sum()), count + int(mask.sum())
    model.train()
    return total / count


def run_makemore(kind: str, split, seconds: float, every: float = 5.0) -> dict:
    """makemore's class and training loop on nnlm's split: its test loss over training time."""
    mm = makemore_module()
    chars = sorted(set("".join(split.train + split.dev + split.test)))
    stoi = {c: i + 1 for i, c in enumerate(chars)}
    length = max(map(len, split.train + split.test)) + 1
    config = mm.ModelConfig(vocab_size=len(chars) + 1, block_size=length, n_layer=4, n_head=4,
                            n_embd=64, n_embd2=64)
    torch.manual_seed(3407)
    model = {"transformer": lambda: mm.Transformer(config), "bigram": lambda: mm.Bigram(config),
             "mlp": lambda: mm.MLP(config), "rnn": lambda: mm.RNN(config, cell_type="rnn"),
             "gru": lambda: mm.RNN(config, cell_type="gru"), "bow": lambda: mm.BoW(config)}[kind]()
    Xtr, Ytr = makemore_tensors(split.train, stoi, length)
    Xte, Yte = makemore_tensors(split.test, stoi, length)
    opt = torch.optim.AdamW(model.parameters(), lr=5e-4, weight_decay=0.01, betas=(0.9, 0.99), eps=1e-8)
    curve, trained, steps, next_eval = [], 0.0, 0, every
    while trained < seconds:
        start = time.perf_counter()
        idx = torch.randint(len(Xtr), (32,))
        _, loss = model(Xtr[idx], Ytr[idx])
        model.zero_grad(set_to_none=True)
        loss.backward()
        opt.step()
        trained += time.perf_counter() - start
        steps += 1
        if trained >= next_eval or trained >= seconds:
            curve.append((trained, makemore_test_loss(model, Xte, Yte)))
            next_eval += every
    best_time, best = min(curve, key=lambda p: p[1])
    return {"params": sum(p.numel() for p in model.parameters()), "best": best, "best_time": best_time,
            "steps_per_s": steps / trained, "curve": curve}


def run_nnlm(family: str, data, work: Path, seconds: float, **settings) -> dict:
    """nnlm's family for `seconds`, its test loss at every dev evaluation (time not counted)."""
    curve, measuring = [], [0.0]
    original = Trainer.evaluate_and_checkpoint

    def with_test(self):
        dev = original(self)
        start = time.perf_counter()
        test = evaluate(self.model, self.spec.windows("test"), self.device).loss
        measuring[0] += time.perf_counter() - start
        curve.append((self.elapsed() - measuring[0], test))
        return dev

    preset = "best" if "best" in FAMILIES[family].presets else "default"
    Trainer.evaluate_and_checkpoint = with_test
    try:
        r = nnlm.train(data, str(work / family), family=family, preset=preset, overwrite=True, progress=False,
                       max_seconds=seconds, steps=0, **settings)
    finally:
        Trainer.evaluate_and_checkpoint = original
    lm = nnlm.load(work / family, device="cpu")
    start = time.perf_counter()
    lm.sample(10_000, seed=0)
    rate = 10_000 / (time.perf_counter() - start)
    return {"params": lm.model.num_parameters(), "test": r.model_test_loss, "mixed": r.test_loss,
            "steps_per_s": r.step / r.seconds, "samples_per_s": rate, "curve": curve, "preset": preset,
            "seconds": r.seconds, "stopped": r.stopped.value}


def reached(curve, loss: float) -> float | None:
    return next((t for t, value in curve if value <= loss), None)


def names_table(rows: list[dict], seconds: float) -> str:
    lines = [f"names.txt, the lecture's split, {seconds:g} s of training per model, 2-core CPU; test loss "
             "(nats/character) on nnlm's test split for both (makemore's classes trained with makemore's "
             "loop on nnlm's split).", "",
             "| family | nnlm params | makemore best test (at s) | nnlm reaches it at s (ratio) | "
             "nnlm best test | nnlm mixed with n-gram | nnlm steps/s | nnlm sample names/s |",
             "|---|---|---|---|---|---|---|---|"]
    for r in rows:
        peer = r.get("peer")
        if peer:
            at = reached(r["curve"], peer["best"])
            ratio = f"{at:.0f} ({at / peer['best_time']:.2f})" if at is not None else "not reached"
            peer_cell = f"{peer['best']:.4f} ({peer['best_time']:.0f})"
        else:
            ratio, peer_cell = "-", "(no makemore peer)"
        lines.append(f"| {r['family']} | {r['params']:,} | {peer_cell} | {ratio} | {r['test']:.4f} | "
                     f"{r['mixed']:.4f} | {r['steps_per_s']:.1f} | {r['samples_per_s']:,.0f} |")
    return "\n".join(lines)


def names(args) -> None:
    split = split_items(read_items(bundled_names_path()))
    peers = {}  # makemore's figures from an earlier run of this script, same budget and machine
    if args.peers_from:
        peers = {r["family"]: r["peer"] for r in json.loads(args.peers_from.read_text()) if r.get("peer")}
    rows = []
    with tempfile.TemporaryDirectory() as tmp:
        for family in args.families or list(FAMILIES):
            row = {"family": family, **run_nnlm(family, None, Path(tmp), args.seconds)}
            if family in peers:
                row["peer"] = peers[family]
            elif family in MAKEMORE_TYPES and not args.no_peer:
                row["peer"] = run_makemore(family, split, args.seconds)
            rows.append(row)
            print(names_table(rows[-1:], args.seconds).splitlines()[-1], flush=True)
            (RESULTS / table_name(args, "json")).write_text(json.dumps(rows, indent=1))
    text = names_table(rows, args.seconds)
    print(text)
    write_table(args, text)


BROWN_SETTINGS = {  # word level: bigger contexts and embeddings, dropout against 800k tokens
    "mlp": dict(block_size=4, n_embd=100, n_hidden=400, tie=True, sampled=4096, dropout=0.3,
                weight_decay=0.1, lr=3e-3, min_lr=0.05, batch_size=1024),
    "bigram": dict(batch_size=4096, lr=0.1),
    "bow": dict(block_size=64, n_embd=128, n_hidden=256, batch_size=2048, lr=1e-3),
    "rnn": dict(block_size=64, n_embd=256, n_hidden=512, tie=True, dropout=0.5, batch_size=2048, lr=3e-3,
                sampled=4096, eval_interval=600),
    "gru": dict(block_size=64, n_embd=256, n_hidden=512, tie=True, dropout=0.5, batch_size=2048, lr=3e-3,
                sampled=4096, eval_interval=600),
    "lstm": dict(block_size=64, n_embd=256, n_hidden=512, tie=True, dropout=0.5, batch_size=2048, lr=3e-3,
                 sampled=4096, eval_interval=600),
    "transformer": dict(block_size=64, n_embd=128, n_layer=4, n_head=4, tie=True, dropout=0.2,
                        batch_size=2048, lr=1e-3, weight_decay=0.1, sampled=4096),
}


def brown(args) -> None:
    sys.path.insert(0, str(Path(__file__).parent))
    from bengio_brown import DATA, brown_words, write_stream

    work = args.work or Path(tempfile.mkdtemp())
    stream = write_stream(brown_words(args.brown), work / "brown-words.txt")
    rows, lms = [], []
    for family in args.families or [f for f in FAMILIES if f != "hierarchical"]:
        summary = work / family / "summary.json"
        if not (args.reuse and summary.exists()):
            # the model alone here; the Kneser-Ney model is fitted once below, for every family
            run = {**dict(data_options=DATA, steps=0, max_seconds=args.seconds, lr_schedule="plateau",
                          patience=6, eval_interval=400, eval_tokens=50_000, mix=False),
                   **BROWN_SETTINGS.get(family, {})}
            nnlm.train(str(stream), str(work / family), family=family, overwrite=True, progress=False,
                       **{**run, **parse_assignments(args.set, multi=False)})
        r = json.loads(summary.read_text())
        lms.append(nnlm.load(work / family, device="cpu", mix=False))
        rows.append({"family": family, "params": lms[-1].model.num_parameters(),
                     "test": math.exp(r["model_test_loss"]), "seconds": r["seconds"],
                     "stopped": r["stopped"]})
        print(json.dumps(rows[-1]), flush=True)
    kn = choose_order(lms[0].spec)  # on valid, as every run's mixture chooses it
    spec, context = lms[0].spec, max(kn.order - 1, 1)
    parts = {name: [kn.model.logprob(*examples(spec.windows(name, context)))] for name in ("dev", "test")}
    print(f"Kneser-Ney order {kn.order} (valid losses by order: {kn.dev_losses})", flush=True)
    for name in parts:  # each model's log-probabilities, computed once
        parts[name] = [*component_logprobs(lms, None, name), *parts[name]]
    for i, row in enumerate(rows):
        row.update(mix_row({name: [lps[i], lps[-1]] for name, lps in parts.items()}))
    if len(rows) > 1:
        rows.append({"family": "all of the above", "params": sum(r["params"] for r in rows), "test": None,
                     "seconds": sum(r["seconds"] for r in rows), "stopped": "-", **mix_row(parts)})
    text = brown_table(rows, args.seconds, kn.order, math.exp(-parts["test"][-1].mean()))
    print(text)
    write_table(args, text)


def mix_row(parts: dict) -> dict:
    """Components' log-probabilities {"dev": [...], "test": [...]} mixed, weights tuned on valid
    (EM): test perplexity."""
    weights = tune_weights(parts["dev"])
    return {"mixed": math.exp(-mix_many(parts["test"], weights.tolist()).mean()), "weights": weights.tolist()}


def brown_table(rows: list[dict], seconds: float, order: int, kn_ppl: float) -> str:
    lines = [f"Brown, the paper's split (word stream), {seconds:g} s of training per model, 2-core CPU; "
             f"test perplexity alone and mixed with a Kneser-Ney model of order {order} (chosen on "
             f"valid; alone: test {kn_ppl:.1f}), weights tuned on valid by EM."
             + (" The last row mixes every model above and the n-gram model." if len(rows) > 1 else ""), "",
             "| family | parameters | test ppl | mixed with n-gram | weights (models..., n-gram) | train s |",
             "|---|---|---|---|---|---|"]
    for r in rows:
        alone = f"{r['test']:.1f}" if r["test"] else "-"
        weights = " / ".join(f"{w:.2f}" for w in r["weights"])
        lines.append(f"| {r['family']} | {r['params']:,} | {alone} | {r['mixed']:.1f} | {weights} | "
                     f"{r['seconds']:.0f} |")
    return "\n".join(lines)


def write_table(args, text: str) -> None:
    """The table, under the command that made it."""
    command = f"python benchmarks/zoo.py {args.data} --seconds {args.seconds:g}"
    if args.families:
        command += f" --families {' '.join(args.families)}"
    if args.set:
        command += f" --set {' '.join(args.set)}"
    if getattr(args, "peers_from", None):
        command += f" --peers-from {args.peers_from}"
    (RESULTS / table_name(args, "md")).write_text(f"`{command}`\n\n{text}\n")


def table_name(args, suffix: str) -> str:
    """zoo_<data>.<suffix> for every family, zoo_<data>_<families>_<seconds>s.<suffix> for some."""
    some = f"_{'-'.join(args.families)}_{args.seconds:g}s" if args.families else ""
    return f"zoo_{args.data}{some}.{suffix}"


def main(argv=None) -> None:
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("data", choices=("names", "brown"))
    p.add_argument("--seconds", type=float, default=300.0, help="training wall clock per model")
    p.add_argument("--families", nargs="+", help="only these families")
    p.add_argument("--no-peer", action="store_true", help="names: skip makemore")
    p.add_argument("--peers-from", type=Path, metavar="JSON",
                   help="names: makemore's figures from an earlier zoo_names*.json, not run again")
    p.add_argument("--brown", type=Path, default=ROOT.parent / "shared" / "data" / "brown.zip")
    p.add_argument("--work", type=Path, help="brown: where the runs go")
    p.add_argument("--reuse", action="store_true", help="brown: keep the finished runs found in --work")
    p.add_argument("--set", nargs="+", default=[], metavar="KEY=VALUE",
                   help="brown: settings over the table's for every family run")
    args = p.parse_args(argv)
    names(args) if args.data == "names" else brown(args)


if __name__ == "__main__":
    main()
