"""Bengio et al. (2003), Table 1 on the Brown corpus: Kneser-Ney baselines, the MLP
without and with direct connections, and the MLP mixed with a trigram.

    python benchmarks/bengio_brown.py --brown PATH/brown.zip [--ngram-only]

The paper's setup (see docs/REFERENCE.md): NLTK's brown.words() order as one token stream,
case and punctuation kept; first 800,000 tokens train, next 200,000 validation, the rest
test; words seen <= 3 times in the whole corpus become <unk>; perplexity over the word
tokens of each split, no end-of-sentence tokens. The MLP trains under a time budget.
"""

from __future__ import annotations

import argparse
import math
import re
import sys
import time
import zipfile
from pathlib import Path

import nnlm
from nnlm.config import DataConfig
from nnlm.mix import evaluate_mix, fit_ngram, ngram_eval
from nnlm.rundir import read_dataset

FILE = re.compile(r"brown/c[a-r]\d\d$")
EXPECTED_VOCAB = 17_905  # words kept plus <unk>, on NLTK's copy (REFERENCE.md)
SPLIT = (800_000, 200_000)
DATA = {"level": "word", "word_mode": "stream", "min_count": 3, "vocab_from": "all",
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


def mlp_row(stream: Path, work: Path, direct: bool, args) -> tuple[dict, object]:
    out = work / ("mlp-direct" if direct else "mlp")
    result = nnlm.train(str(stream), str(out), overwrite=True, progress=not args.quiet,
                        data_options=DATA, block_size=4, n_embd=30, n_hidden=100, direct=direct,
                        sampled=args.sampled, batch_size=args.batch_size, lr=args.lr,
                        optimizer="adamw", lr_schedule="cosine", min_lr=0.05,
                        weight_decay=args.weight_decay, dropout=args.dropout, steps=10**9,
                        max_seconds=args.mlp_seconds,
                        eval_interval=args.eval_interval, log_interval=50, seed=1337,
                        device="cpu")
    lm = nnlm.load(out, device="cpu")
    ppl = {"dev": math.exp(result.dev_loss), "test": math.exp(result.test_loss)}  # best weights
    name = f"MLP n=5 h=100 m=30, {'direct connections' if direct else 'no direct connections'}"
    return ({"model": name, **ppl, "parameters": f"{lm.model.num_parameters():,}",
             "seconds": result.seconds}, lm)


def mix_row(lm, name: str) -> dict:
    mix = evaluate_mix(lm, order=3, weight=None)
    return {"model": f"mix: {name} + Kneser-Ney n=3, MLP weight {mix.weight:.2f} (tuned on valid)",
            "dev": mix.results["dev"].perplexity, "test": mix.results["test"].perplexity,
            "parameters": "", "seconds": None}


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
    p.add_argument("--mlp-seconds", type=float, default=1500, help="time budget per MLP")
    p.add_argument("--no-direct-only", action="store_true", help="skip the direct-connection MLP")
    p.add_argument("--sampled", type=int, default=4096, help="sampled-softmax candidates")
    p.add_argument("--batch-size", type=int, default=1024)
    p.add_argument("--lr", type=float, default=3e-3)
    p.add_argument("--weight-decay", type=float, default=0.0)
    p.add_argument("--dropout", type=float, default=0.0, help="on embeddings and hidden units")
    p.add_argument("--eval-interval", type=int, default=1000)
    p.add_argument("--quiet", action="store_true")
    args = p.parse_args(argv)

    words = brown_words(args.brown)
    stream = write_stream(words, args.work / "brown-words.txt")
    ds = read_dataset(str(stream), DataConfig(**DATA))
    words_v = len(ds.vocab) - 1  # without the boundary token, never predicted in a stream
    tokens = ds.words.tokens()
    print(f"Brown: {len(words):,} tokens; train/valid/test {tokens['train']:,} / {tokens['dev']:,}"
          f" / {tokens['test']:,}; |V| = {words_v:,} with <unk>"
          f" ({'matches' if words_v == EXPECTED_VOCAB else 'EXPECTED'} {EXPECTED_VOCAB:,})",
          flush=True)
    rows = ngram_rows(ds)
    print(table(rows), flush=True)
    if not args.ngram_only:
        best = None
        for direct in ((False,) if args.no_direct_only else (False, True)):
            row, lm = mlp_row(stream, args.work, direct, args)
            rows.append(row)
            print(table(rows[-1:]).splitlines()[-1], flush=True)
            if best is None or row["dev"] < best[0]["dev"]:
                best = (row, lm)
        rows.append(mix_row(best[1], best[0]["model"].split(",")[0] + (
            " (direct)" if best[0]["model"].split(", ")[-1] == "direct connections" else "")))
        print("\nfull table:\n" + table(rows))
    return 0 if words_v == EXPECTED_VOCAB else 1


if __name__ == "__main__":
    start = time.time()
    code = main()
    print(f"\n(total {time.time() - start:.0f} s)", file=sys.stderr)
    sys.exit(code)
