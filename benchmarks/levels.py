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
seconds and tokens per second, and sampling speed (characters per second, one continuation or
100 items). Also the BPE tokenizer alone: training seconds and encoding speed on 10 MB.
Writes benchmarks/results/levels.md.
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

RESULTS = HERE / "results" / "levels.md"
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
    rows = [("char", [])]
    for size in BPE_SIZES[kind]:
        rows.append((f"bpe {size or 'auto'}", ["--tokens", "bpe"] + (["--vocab-size", size] if size else [])))
    if name in ("shakespeare", "brown"):
        rows.append(("word", ["--tokens", "word"]))
    return rows


def measure(name: str, data: list, level: str, flags: list, seconds: float, work: Path) -> dict:
    run = work / "runs" / f"{name}-{level.replace(' ', '-')}"
    _, wall = text_bench.nnlm("train", *data, "--out", run, "--overwrite", "--quiet", "--samples", 0,
                              "--max-seconds", seconds, *flags)
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


def tokenizer_speed(work: Path) -> str:
    """Training a BPE on 10 MB of text, and encoding it."""
    from nnlm.data.bpe import BPEVocab, train_bpe

    text = (text_bench.SHARED / "data" / "tinyshakespeare.txt").read_text(encoding="utf-8")
    code = text_bench.code_file(work).read_text(encoding="utf-8")
    big = ((text + code) * 10)[:10_000_000]
    start = time.perf_counter()
    vocab = BPEVocab(train_bpe([big], 8192))
    trained = time.perf_counter() - start
    start = time.perf_counter()
    ids = vocab.encode_array(big)
    encoded = time.perf_counter() - start
    exact = vocab.decode(ids.tolist()) == big
    mb = len(big.encode("utf-8")) / 1e6
    return (f"BPE tokenizer on {mb:.1f} MB of text (tinyshakespeare and Python, 8,192 tokens): trained "
            f"in {trained:.1f} s, encoded at {mb / encoded:.1f} MB/s ({len(ids):,} tokens), decoded back "
            f"exactly: {'yes' if exact else 'NO'}")


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
    p.add_argument("--seconds", type=float, default=120.0, help="each run's training budget")
    p.add_argument("--work", type=Path)
    args = p.parse_args(argv)
    with tempfile.TemporaryDirectory() as tmp:
        work = args.work or Path(tmp)
        work.mkdir(parents=True, exist_ok=True)
        speed = tokenizer_speed(work)
        print(speed, flush=True)
        rows = []
        for name, (data, kind) in datasets(work, args.data).items():
            for level, flags in levels_of(kind, name):
                rows.append(measure(name, data, level, flags, args.seconds, work))
                print(table(rows[-1:]).splitlines()[-1], flush=True)
    text = (f"`python benchmarks/levels.py --seconds {args.seconds:g}`, {time.strftime('%Y-%m-%d')}, 2-core "
            f"CPU: each run trains for {args.seconds:g} s.\n\n{speed}\n\n{table(rows)}\n")
    RESULTS.write_text(text)
    print(text)
    return 0


if __name__ == "__main__":
    sys.exit(main())
