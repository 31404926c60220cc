"""A run's time budget is the whole command's: `nnlm train` on a word corpus of 2M training tokens
in three files (its default run: an LSTM, within 480 s) ends within the time it states.

The corpus is Brown as PTB-style line files (../shared/tools/brown_lines.py): its train file
2.5 times over (2,000,000 tokens), its valid and test files. The script prints the budget the run
states, the training loop's seconds, the whole command's wall-clock seconds and their ratio to
the budget, and writes them to benchmarks/results/budget.md.

    python benchmarks/budget.py [--brown ../shared/data/brown.zip]
"""

from __future__ import annotations

import argparse
import json
import re
import subprocess
import sys
import tempfile
import time
from pathlib import Path

from machine import describe

HERE = Path(__file__).resolve().parent
SHARED = HERE.parent.parent / "shared"
RESULTS = HERE / "results" / "budget.md"


def brown_files(brown_zip: Path, work: Path) -> None:
    """train.txt (2M tokens: Brown's train file 2.5 times), valid.txt and test.txt in `work`."""
    subprocess.run([sys.executable, str(SHARED / "tools" / "brown_lines.py"), str(brown_zip), str(work)],
                   check=True, capture_output=True)
    lines = (work / "brown.train.txt").read_text().splitlines()
    (work / "train.txt").write_text("\n".join(lines * 2 + lines[:len(lines) // 2]) + "\n")
    (work / "brown.valid.txt").rename(work / "valid.txt")
    (work / "brown.test.txt").rename(work / "test.txt")


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--brown", type=Path, default=SHARED / "data" / "brown.zip")
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as tmp:
        work = Path(tmp)
        brown_files(args.brown, work)
        command = ["nnlm", "train", "train.txt", "--dev", "valid.txt", "--test", "test.txt",
                   "--tokens", "word", "--out", "run", "-n", "0"]
        start = time.perf_counter()
        done = subprocess.run([sys.executable, "-m", "nnlm", *command[1:]], cwd=work, capture_output=True,
                              text=True)
        wall = time.perf_counter() - start
        if done.returncode:
            raise SystemExit(done.stderr)
        summary = json.loads((work / "run" / "summary.json").read_text())
        tokens = json.loads((work / "run" / "config.json").read_text())["source"]["tokens"]["train"]
    budget = float(re.search(r"within (\d+(?:\.\d+)?) s", done.stdout).group(1))
    lines = [f"`python benchmarks/budget.py`: `{' '.join(command)}` (train.txt: {tokens:,} tokens), on "
             f"{describe()}:", "",
             "| stated budget | training loop | whole command | command / budget |", "|---|---|---|---|",
             f"| {budget:g} s | {summary['seconds']:.1f} s | {wall:.1f} s | {wall / budget:.3f} |", "",
             "What the run printed:", "", "```", *done.stdout.strip().splitlines(), "```"]
    print("\n".join(lines))
    RESULTS.write_text("# The time budget is the whole command's\n\n" + "\n".join(lines) + "\n")
    return 0


if __name__ == "__main__":
    sys.exit(main())
