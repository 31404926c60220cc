"""Training throughput of data-parallel nnlm on this machine: 1 vs 2 processes under
torchrun, one thread each, on the word-level Brown setup of bengio_brown.py (stream of
NLTK's brown.words(), words seen <= 3 times as <unk>, the MLP n=5 h=100 m=30 with a
sampled softmax). The dev split is cut to 20,000 tokens: this measures training.

Examples/s come from metrics.jsonl, between the second log line and the last (the
start-up and first steps excluded). Two comparisons: the same global batch split over
the processes (strong scaling: what shortens a run), and the same batch per process.

    python benchmarks/ddp_throughput.py --brown ../shared/data/brown.zip [--steps 300]
"""

import argparse
import json
import os
import subprocess
import sys
import tempfile
from pathlib import Path

sys.path.insert(0, str(Path(__file__).parent))
from bengio_brown import brown_words, write_stream  # noqa: E402

MODEL = ["--model", "mlp", "--preset", "quick", "--no-mix", "--tokens", "word", "--kind", "text",
         "--no-line-ends",
         "--min-count", "3",
         "--vocab-from", "all",
         "--split-tokens", "800000,20000", "--block-size", "4", "--n-embd", "30",
         "--n-hidden", "100", "--sampled-softmax", "4096", "--lr", "0.003", "--device", "cpu",
         "--quiet", "--samples", "0", "--log-interval", "50"]


def examples_per_second(run: Path) -> float:
    lines = [json.loads(x) for x in (run / "metrics.jsonl").read_text().splitlines()]
    logs = [x for x in lines if "train_loss" in x]
    first, last = logs[1], logs[-1]
    return (last["examples"] - first["examples"]) / (last["seconds"] - first["seconds"])


def run(stream: Path, out: Path, nproc: int, batch: int, steps: int) -> float:
    env = {**os.environ, "OMP_NUM_THREADS": "1"}
    cmd = [sys.executable, "-m", "torch.distributed.run", "--standalone",
           f"--nproc_per_node={nproc}", "-m", "nnlm", "train", str(stream), "--out", str(out),
           *MODEL, "--batch-size", str(batch), "--steps", str(steps), "--eval-interval", str(steps)]
    subprocess.run(cmd, check=True, env=env, stdout=subprocess.DEVNULL)
    return examples_per_second(out)


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--brown", required=True, type=Path)
    ap.add_argument("--steps", type=int, default=300)
    ap.add_argument("--batch-size", type=int, default=1024, help="global batch, 1 process")
    args = ap.parse_args()
    with tempfile.TemporaryDirectory() as tmp:
        stream = write_stream(brown_words(args.brown), Path(tmp) / "brown.txt")
        b = args.batch_size
        one = run(stream, Path(tmp) / "one", 1, b, args.steps)
        strong = run(stream, Path(tmp) / "two-strong", 2, b // 2, args.steps)
        weak = run(stream, Path(tmp) / "two-weak", 2, b, args.steps)
    print(f"Brown word level, MLP n=5 h=100 m=30, sampled softmax 4096, 1 thread per process, "
          f"{args.steps} steps")
    print(f"1 process,  batch {b}:                  {one:,.0f} examples/s")
    print(f"2 processes, batch {b // 2} each (global {b}): {strong:,.0f} examples/s "
          f"({strong / one:.2f}x)")
    print(f"2 processes, batch {b} each (global {2 * b}): {weak:,.0f} examples/s "
          f"({weak / one:.2f}x)")


if __name__ == "__main__":
    main()
