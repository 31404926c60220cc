"""Word level at scale: the memory and time to read, split and train on a big corpus.

    python benchmarks/word_scale.py [--tokens 100000000] [--one-line]

Writes a synthetic corpus (Zipf-distributed words over a 50,000-word vocabulary, 20 words a
line, or the whole corpus as one line with --one-line) to --work, then, in a fresh process,
reads and splits it as `nnlm train --tokens word --kind text --no-line-ends` does, gathers training
windows and takes sampled-softmax steps. Prints the peak resident memory of that process.
"""

from __future__ import annotations

import argparse
import json
import resource
import subprocess
import sys
import time
from pathlib import Path

import numpy as np

WORDS_PER_LINE = 20


def write_corpus(path: Path, tokens: int, vocab: int, one_line: bool, seed: int = 0) -> None:
    rng = np.random.default_rng(seed)
    words = np.array([f"w{i}" for i in range(vocab)])
    ranks = np.arange(1, vocab + 1)
    p = 1.0 / ranks
    p /= p.sum()
    path.parent.mkdir(parents=True, exist_ok=True)
    with path.open("w", encoding="utf-8") as f:
        for start in range(0, tokens, 1_000_000):
            chunk = words[rng.choice(vocab, size=min(1_000_000, tokens - start), p=p)]
            if one_line:
                f.write(" ".join(chunk) + " ")
            else:
                f.write("".join(" ".join(chunk[i:i + WORDS_PER_LINE]) + "\n"
                                for i in range(0, len(chunk), WORDS_PER_LINE)))
        if one_line:
            f.write("\n")


def peak_rss_gib() -> float:
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024**2  # Linux: KiB


def measure(path: Path, tokens: int, steps: int) -> dict:
    """Runs in its own process, so the peak memory is this work's alone."""
    import torch

    from nnlm.data.sources import read_source
    from nnlm.models.mlp import MLP, MLPConfig
    from nnlm.settings.data import DataConfig

    start = time.perf_counter()
    split = (int(tokens * 0.8), int(tokens * 0.1))
    ds = read_source(str(path), DataConfig(tokens="word", kind="text", line_ends=False, min_count=3,
                                            split_tokens=split))
    read_seconds = time.perf_counter() - start
    after_read = peak_rss_gib()
    train = ds.windows("train", 4)
    model = MLP(MLPConfig(vocab_size=len(ds.vocab), block_size=4, n_embd=30, n_hidden=100,
                            sampled=4096))
    g = torch.Generator().manual_seed(0)
    step_start = time.perf_counter()
    for _ in range(steps):
        index = torch.randint(len(train), (1024,), generator=g)
        _, loss = model(train.contexts(index), train.targets(index))  # (1024, 4), (1024,)
        loss.backward()
    step_ms = (time.perf_counter() - step_start) / steps * 1e3
    return {"tokens": tokens, "train_windows": len(train), "vocab": len(ds.vocab),
            "read_and_split_seconds": round(read_seconds, 1), "peak_rss_gib_after_read":
            round(after_read, 2), "ms_per_step": round(step_ms, 1),
            "peak_rss_gib": round(peak_rss_gib(), 2)}


def main(argv=None) -> int:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--tokens", type=int, default=100_000_000)
    p.add_argument("--vocab", type=int, default=50_000)
    p.add_argument("--one-line", action="store_true", help="the whole corpus on one line")
    p.add_argument("--steps", type=int, default=20)
    p.add_argument("--work", type=Path, default=Path("runs/word-scale"))
    p.add_argument("--measure", type=Path, help=argparse.SUPPRESS)  # the child process
    args = p.parse_args(argv)
    if args.measure:
        print(json.dumps(measure(args.measure, args.tokens, args.steps)))
        return 0
    path = args.work / f"corpus-{args.tokens}{'-one-line' if args.one_line else ''}.txt"
    start = time.perf_counter()
    if not path.exists():
        write_corpus(path, args.tokens, args.vocab, args.one_line)
    print(f"corpus: {path} ({path.stat().st_size / 1024**3:.2f} GiB, written in "
          f"{time.perf_counter() - start:.0f} s)", flush=True)
    child = subprocess.run([sys.executable, __file__, "--measure", str(path), "--tokens",
                            str(args.tokens), "--steps", str(args.steps)],
                           capture_output=True, text=True)
    if child.returncode:
        print(child.stderr, file=sys.stderr)
        return child.returncode
    result = json.loads(child.stdout)
    for key, value in result.items():
        print(f"{key}: {value:,}" if isinstance(value, int) else f"{key}: {value}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
