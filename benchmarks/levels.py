"""What a token is, on one scale: the default run of each level (characters, a byte-level BPE
of two or three vocabulary sizes, words) on running text and on lists, in bits per character
of the text each covers.

    python benchmarks/levels.py                     # about 50 minutes on 2 cores
    python benchmarks/levels.py --seconds 60 --data shakespeare cities_it

Data: tinyshakespeare in nanoGPT's split (dev = test = the last 10%), Brown's paper split as
running text (benchmarks/text.py writes it), Python's standard library as one 2.5 MB file, and two
lists of benchmarks/any_data.py (Italian cities, Latin script; Japanese words). Each run is
`nnlm train FILE --tokens LEVEL [--vocab-size N] --max-seconds S`, otherwise the default run
(an LSTM on text, the MLP on lists, each mixed with its Kneser-Ney model where that is better on
dev). Reported: test bits per character of the run's predictor and of the model alone (the
tokens' total log-probability over the characters they cover), tokens per character, training
seconds and tokens per second, and sampling speed (characters per second of the whole `nnlm
sample` command, its start included: a continuation of 300 tokens, or 100 items). The tokenizer
alone is measured by benchmarks/tokenizer_choice.py.
Writes benchmarks/results/levels_<seconds>s.md (levels_default.md for --seconds 0).
"""

from __future__ import annotations

import argparse
import json
import sys
import tempfile
import time
from pathlib import Path

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE))

import datalists  # noqa: E402
import text as text_bench  # noqa: E402

RESULTS = HERE / "results"  # levels_90s.md for --seconds 90, levels_default.md for --seconds 0
WORD_NOTE = ("Words are not on the same footing: a word seen at most 3 times in training is `<unk>`, which "
             "costs its own probability, not its spelling, over the characters of the word it hides, so "
             "word rows are lower than an open-vocabulary model of the same text would be.")
BPE_SIZES = {"text": (0, 1024, 8192), "list": (0, 1024)}  # 0: the size nnlm chooses from the data


def datasets(work: Path, wanted: list[str]) -> dict[str, tuple[list, str]]:
    """name -> (the train command's data arguments, "text" or "list")."""
    out = {}
    if "shakespeare" in wanted:
        train, val, _ = text_bench.shakespeare_files(work)
        out["shakespeare"] = ([train, "--dev", val, "--test", val], "text")
    if "brown" in wanted:
        paper = text_bench.brown_paper_files(text_bench.SHARED / "data" / "brown.zip", work)
        out["brown"] = ([paper[0], "--dev", paper[1], "--test", paper[2]], "text")
    if "code" in wanted:
        out["code"] = ([text_bench.code_file(work)], "text")
    lists = {name: path for name, path, _ in datalists.build(work / "lists") if name in wanted}
    out.update({name: ([path], "list") for name, path in lists.items()})
    return out


def levels_of(kind: str, name: str) -> list[tuple[str, list]]:
    rows = [("char", ["--tokens", "char"])]
    for size in BPE_SIZES[kind]:
        rows.append((f"bpe {size or 'auto'}", ["--tokens", "bpe"] + (["--vocab-size", size] if size else [])))
    if name in ("shakespeare", "brown"):
        rows.append(("word", ["--tokens", "word"]))
    return rows


def measure(name: str, data: list, level: str, flags: list, seconds: float, work: Path) -> dict:
    run = work / "runs" / f"{name}-{level.replace(' ', '-')}"
    budget = ["--max-seconds", seconds] if seconds else []  # 0: the default run's own budget
    _, wall = text_bench.nnlm("train", *data, "--out", run, "--overwrite", "--quiet", "--samples", 0,
                              *budget, *flags)
    summary = json.loads((run / "summary.json").read_text())
    config = json.loads((run / "config.json").read_text())
    alone = json.loads(text_bench.nnlm("eval", run, "--split", "test", "--json", "--no-mix")[0])
    mixed = json.loads(text_bench.nnlm("eval", run, "--split", "test", "--json")[0])
    chars = mixed.get("characters")
    start = time.perf_counter()
    how = ["-n", 100] if config["data"]["kind"] == "list" else ["--max-len", 300]
    sampled = text_bench.nnlm("sample", run, "--seed", 1, "--plain", *how)[0]
    sample_s = time.perf_counter() - start
    tokens = config["source"]["tokens"]["train"]
    return {"data": name, "level": level, "vocab": config["model"]["vocab_size"],
            "bpc": mixed.get("bits_per_char"), "bpc_alone": alone.get("bits_per_char"),
            "tokens_per_char": mixed["tokens"] / chars if chars else None,
            "train_s": summary["seconds"], "wall_s": wall, "train_tokens": tokens,
            "tokens_per_s": summary["step"] * config["train"]["batch_size"] / max(summary["seconds"], 1e-9),
            "sample_chars_per_s": len(sampled) / sample_s, "family": config["model"]["family"]}


def table(rows: list[dict]) -> str:
    lines = ["| data | level | vocabulary | test bits/char (model alone) | tokens/char | train s | "
             "tokens/s | sampling chars/s |", "|---|---|---|---|---|---|---|---|"]
    for r in rows:
        bpc = f"{r['bpc']:.4f} ({r['bpc_alone']:.4f})" if r["bpc"] else "-"
        tpc = f"{r['tokens_per_char']:.3f}" if r["tokens_per_char"] else "-"
        lines.append(f"| {r['data']} | {r['level']} | {r['vocab']:,} | {bpc} | {tpc} | "
                     f"{r['train_s']:.0f} | {r['tokens_per_s']:,.0f} | {r['sample_chars_per_s']:,.0f} |")
    return "\n".join(lines)


def main(argv=None) -> int:
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("--data", nargs="+", default=["shakespeare", "brown", "code", "cities_it", "words_ja"])
    p.add_argument("--seconds", type=float, default=120.0,
                   help="each run's training budget (0: the default run's own, by the text's size)")
    p.add_argument("--levels", nargs="+", help="only these levels (char, bpe-auto, bpe-1024, word...)")
    p.add_argument("--work", type=Path)
    args = p.parse_args(argv)
    with tempfile.TemporaryDirectory() as tmp:
        work = args.work or Path(tmp)
        work.mkdir(parents=True, exist_ok=True)
        rows = []
        for name, (data, kind) in datasets(work, args.data).items():
            for level, flags in levels_of(kind, name):
                if args.levels and level.replace(" ", "-") not in args.levels:
                    continue
                rows.append(measure(name, data, level, flags, args.seconds, work))
                print(table(rows[-1:]).splitlines()[-1], flush=True)
    budget = f"for {args.seconds:g} s" if args.seconds else "within the default run's own budget"
    text = (f"`python benchmarks/levels.py {' '.join(sys.argv[1:] if argv is None else argv)}`, "
            f"{time.strftime('%Y-%m-%d')}, 2-core CPU: each run trains {budget}.\n\n{table(rows)}\n\n"
            f"{WORD_NOTE}\n")
    (RESULTS / (f"levels_{args.seconds:g}s.md" if args.seconds else "levels_default.md")).write_text(text)
    print(text)
    return 0


if __name__ == "__main__":
    sys.exit(main())
