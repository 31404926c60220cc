"""Bengio et al. (2003), Table 1 on the Brown corpus: Kneser-Ney baselines, the paper's MLP
without and with direct connections, that MLP mixed with a trigram (the paper's mix), and
nnlm's own: a wider MLP with tied embeddings, mixed with a 5-gram (weights tuned on
validation by EM), then every model mixed.

    python benchmarks/bengio_brown.py --brown PATH/brown.zip [--ngram-only] [--models ...]

The paper's setup (see docs/REFERENCE.md): NLTK's brown.words() order as one token stream,
case and punctuation kept; first 800,000 tokens train, next 200,000 validation, the rest
test; words seen <= 3 times in the whole corpus become <unk>; perplexity over the word
tokens of each split, no end-of-sentence tokens. The MLP trains under a time budget.
"""

from __future__ import annotations

import argparse
import json
import math
import re
import sys
import time
import zipfile
from pathlib import Path

import nnlm
from nnlm.data.sources import read_source
from nnlm.inference.ensemble import evaluate_mix
from nnlm.ngram.baseline import fit_ngram, ngram_eval
from nnlm.settings.data import DataConfig

FILE = re.compile(r"brown/c[a-r]\d\d$")
EXPECTED_VOCAB = 17_905  # words kept plus <unk>, on NLTK's copy (REFERENCE.md)
SPLIT = (800_000, 200_000)
DATA = {"tokens": "word", "kind": "text", "line_ends": False, "min_count": 3, "vocab_from": "all",
        "split_tokens": SPLIT}


def brown_words(zip_path: Path) -> list[str]:
    """NLTK's brown.words(): files in sorted order, `word/TAG` split at the last '/'."""
    with zipfile.ZipFile(zip_path) as z:
        names = sorted(n for n in z.namelist() if FILE.match(n))
        return [tok.rsplit("/", 1)[0] for n in names for tok in z.read(n).decode("utf-8").split()]


def write_stream(words: list[str], path: Path) -> Path:
    """The stream as a text file (one line, since line ends mean nothing in stream mode)."""
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(" ".join(words) + "\n", encoding="utf-8")
    return path


def ngram_rows(ds) -> list[dict]:
    rows = []
    for order in (3, 5):
        model, seconds = fit_ngram(ds, order)
        ppl = {name: ngram_eval(model, ds.windows(name, order - 1)).perplexity
               for name in ("dev", "test")}
        rows.append({"model": f"Kneser-Ney n={order} (interpolated, modified)", **ppl,
                     "parameters": f"{sum(model.num_ngrams()):,} n-grams", "seconds": seconds})
    return rows


# name -> (the row's label, model settings); the first two are the paper's MLP9 and MLP1-like rows
MODELS = {
    "mlp": ("MLP n=5 h=100 m=30, no direct connections",
            dict(block_size=4, n_embd=30, n_hidden=100)),
    "mlp-direct": ("MLP n=5 h=100 m=30, direct connections",
                   dict(block_size=4, n_embd=30, n_hidden=100, direct=True)),
    # nnlm's own: wider, and the output layer's word vectors tied to C through a projection
    "mlp-tied": ("MLP n=5 h=400 m=100, tied embeddings (nnlm)",
                 dict(block_size=4, n_embd=100, n_hidden=400, tie=True)),
}
SHORT = {"mlp": "MLP", "mlp-direct": "MLP (direct)", "mlp-tied": "tied MLP"}


def mlp_row(stream: Path, work: Path, name: str, seconds: float, args) -> tuple[dict, object]:
    label, settings = MODELS[name]
    out = work / name
    settings = dict(settings, sampled=args.sampled, batch_size=args.batch_size, lr=args.lr,
                    optimizer="adamw", lr_schedule="cosine", min_lr=0.05,
                    weight_decay=args.weight_decay, dropout=args.dropout, steps=args.steps or 10**9,
                    max_seconds=seconds, eval_interval=args.eval_interval, log_interval=50,
                    seed=args.seed, device="cpu", mix=False)  # the MLP alone: mixes are rows of their own
    summary = finished_run(out, settings) if args.reuse else None
    if summary is None:
        result = nnlm.train(str(stream), str(out), family="mlp", preset="quick",  # one tanh layer
                            overwrite=True, progress=not args.quiet, data_options=DATA, **settings)
        summary = result.to_json()
    lm = nnlm.load(out, device="cpu")
    ppl = {"dev": math.exp(summary["dev_loss"]), "test": math.exp(summary["test_loss"])}  # best
    return ({"model": label, **ppl, "parameters": f"{lm.model.num_parameters():,}",
             "seconds": summary["seconds"]}, lm)


def finished_run(out: Path, settings: dict) -> dict | None:
    """The summary of a finished run in `out` trained with exactly these settings, else None."""
    try:
        config = json.loads((out / "config.json").read_text())
        summary = json.loads((out / "summary.json").read_text())
    except (OSError, ValueError):
        return None
    saved = {**config["model"], **config["train"]}
    if summary.get("test_loss") is None or any(saved.get(k) != v for k, v in settings.items()):
        return None
    print(f"(reusing {out}: trained with the same settings)", file=sys.stderr)
    return summary


def mix_row(trained: dict, names: list[str], order: int) -> dict:
    """The MLPs `names` (keys of `trained`: name -> (row, lm)) mixed with a Kneser-Ney
    model of `order`, all weights tuned on valid."""
    mix = evaluate_mix([trained[n][1] for n in names], order=order)
    labels = [SHORT[n] for n in names] + [f"Kneser-Ney n={order}"]
    parts = " + ".join(f"{label} ({w:.2f})" for label, w in zip(labels, mix.weights, strict=True))
    return {"model": f"mix: {parts}, weights tuned on valid",
            "dev": mix.results["dev"].perplexity, "test": mix.results["test"].perplexity,
            "parameters": "", "seconds": None}


def mlp_and_mix_rows(stream: Path, args) -> list[dict]:
    """Each MLP alone; the paper's mix (its better MLP with a trigram); the tied MLP with a
    5-gram; nnlm's best (the paper's MLP and the tied one with a 5-gram: 25 minutes of
    training with the default budgets); and every model at once."""
    rows, trained = [], {}  # name -> (row, lm)

    def add(row: dict) -> None:
        rows.append(row)
        print(table([row]).splitlines()[-1], flush=True)

    for name in args.models:
        seconds = args.tied_seconds if name == "mlp-tied" else args.mlp_seconds
        trained[name] = mlp_row(stream, args.work, name, seconds, args)
        add(trained[name][0])
    paper = [n for n in ("mlp", "mlp-direct") if n in trained]
    if paper:
        add(mix_row(trained, [min(paper, key=lambda n: trained[n][0]["dev"])], order=3))
    if "mlp-tied" in trained:
        add(mix_row(trained, ["mlp-tied"], order=5))
        # nnlm's best within 30 minutes of training; with only these two MLPs trained it is
        # the row of every model, below
        if "mlp" in trained and len(trained) > 2:
            add(mix_row(trained, ["mlp", "mlp-tied"], order=5))
    if len(trained) > 1:
        add(mix_row(trained, list(trained), order=5))
    return rows


def table(rows: list[dict]) -> str:
    lines = ["| model | valid ppl | test ppl | parameters | train seconds |", "|---|---|---|---|---|"]
    for r in rows:
        secs = "" if r["seconds"] is None else f"{r['seconds']:.1f}"
        lines.append(f"| {r['model']} | {r['dev']:.1f} | {r['test']:.1f} | {r['parameters']} | {secs} |")
    return "\n".join(lines)


def main(argv=None) -> int:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--brown", required=True, type=Path, help="NLTK's brown.zip")
    p.add_argument("--work", type=Path, default=Path("runs/brown"), help="stream file, run dirs")
    p.add_argument("--ngram-only", action="store_true", help="only the Kneser-Ney rows")
    p.add_argument("--models", nargs="+", default=list(MODELS), choices=list(MODELS),
                   help="the MLPs to train (default: all)")
    p.add_argument("--mlp-seconds", type=float, default=900,
                   help="time budget of each of the paper's MLPs")
    p.add_argument("--tied-seconds", type=float, default=600,
                   help="time budget of nnlm's tied MLP (longer overfits at these settings)")
    p.add_argument("--steps", type=int, default=0,
                   help="also stop each MLP after this many steps (0: the time budgets alone)")
    p.add_argument("--sampled", type=int, default=4096, help="sampled-softmax candidates")
    p.add_argument("--batch-size", type=int, default=1024)
    p.add_argument("--lr", type=float, default=3e-3)
    p.add_argument("--weight-decay", type=float, default=0.1)
    p.add_argument("--dropout", type=float, default=0.3, help="on embeddings and hidden units")
    p.add_argument("--eval-interval", type=int, default=2000, help="steps between valid evaluations")
    p.add_argument("--seed", type=int, default=1337)
    p.add_argument("--reuse", action="store_true",
                   help="take an MLP already trained in --work with the same settings as it is")
    p.add_argument("--quiet", action="store_true")
    args = p.parse_args(argv)

    words = brown_words(args.brown)
    stream = write_stream(words, args.work / "brown-words.txt")
    ds = read_source(str(stream), DataConfig(**DATA))
    words_v = len(ds.vocab) - 1  # without the boundary token, never predicted in a stream
    tokens = ds.tokens()
    print(f"Brown: {len(words):,} tokens; train/valid/test {tokens['train']:,} / {tokens['dev']:,}"
          f" / {tokens['test']:,}; |V| = {words_v:,} with <unk>"
          f" ({'matches' if words_v == EXPECTED_VOCAB else 'EXPECTED'} {EXPECTED_VOCAB:,})",
          flush=True)
    rows = ngram_rows(ds)
    print(table(rows), flush=True)
    if not args.ngram_only:
        rows += mlp_and_mix_rows(stream, args)
        print("\nfull table:\n" + table(rows))
    return 0 if words_v == EXPECTED_VOCAB else 1


if __name__ == "__main__":
    start = time.time()
    code = main()
    print(f"\n(total {time.time() - start:.0f} s)", file=sys.stderr)
    sys.exit(code)
