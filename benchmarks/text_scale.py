"""Running text at scale: the memory and time to read a 100 MB text and train on it.

    python benchmarks/text_scale.py                # about 10 minutes on 2 cores
    python benchmarks/text_scale.py --megabytes 20 --steps 50

The text is tinyshakespeare written again and again until it is --megabytes long (its loss
says nothing; its size is the point), once as it is and once as a single line (every line end
a space): `nnlm train BIG.txt --steps N` with no other flag, each in its own process, whose
peak resident memory (ru_maxrss) and wall-clock are reported, beside the time to read and
split the text alone. Writes benchmarks/results/text_scale.md.
"""

from __future__ import annotations

import argparse
import json
import resource
import subprocess
import sys
import tempfile
import time
from pathlib import Path

HERE = Path(__file__).resolve().parent
SHARED = HERE.parent.parent / "shared"
RESULTS = HERE / "results" / "text_scale.md"
READ = ("import sys, time; from nnlm.data.sources import read_source; "
        "from nnlm.settings.data import DataConfig; t = time.perf_counter(); "
        "s = read_source(sys.argv[1], DataConfig()); "
        "print(s.name, sum(s.tokens().values()), time.perf_counter() - t)")


def write_big(path: Path, megabytes: float, one_line: bool) -> int:
    text = (SHARED / "data" / "tinyshakespeare.txt").read_text(encoding="utf-8")
    if one_line:
        text = text.replace("\n", " ")
    copies = int(megabytes * 1e6 / len(text.encode("utf-8"))) + 1
    with open(path, "w", encoding="utf-8") as f:
        for _ in range(copies):
            f.write(text)
    return path.stat().st_size


def measured(argv: list[str]) -> tuple[str, float, float]:
    """(stdout, wall-clock seconds, peak resident GiB) of a command run in a process of its own."""
    start = time.perf_counter()
    done = subprocess.run(argv, capture_output=True, text=True, check=False)
    seconds = time.perf_counter() - start
    if done.returncode:
        raise SystemExit(f"{' '.join(argv)} failed:\n{done.stderr}")
    # (ru_maxrss of the children: the largest of any of them so far, so each file is measured
    # in a process of its own, see main)
    return done.stdout, seconds, resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss / 1024**2


def measure(path: Path, work: Path, steps: int) -> dict:
    read_out, read_s, read_gib = measured([sys.executable, "-c", READ, str(path)])
    kind, tokens, split_s = read_out.split()
    run = work / (path.stem + "_run")
    train_out, train_s, train_gib = measured([sys.executable, "-m", "nnlm", "train", str(path), "--out",
                                              str(run), "--overwrite", "--steps", str(steps), "--quiet",
                                              "--samples", "0"])
    summary = json.loads((run / "summary.json").read_text())
    return {"file": path.name, "bytes": path.stat().st_size, "kind": kind, "tokens": int(tokens),
            "read_s": float(split_s), "read_gib": read_gib, "train_wall_s": train_s,
            "train_gib": train_gib, "steps": summary["step"], "train_loop_s": summary["seconds"],
            "dev": summary["dev_loss"], "printed": train_out}


def main(argv=None) -> int:
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("--megabytes", type=float, default=100.0)
    p.add_argument("--steps", type=int, default=200)
    p.add_argument("--one-line", action="store_true", help="measure only the one-line text and print its row")
    args = p.parse_args(argv)
    rows = []
    if not args.one_line:  # in a process of its own: the peak memory of children is per parent
        child = subprocess.run([sys.executable, __file__, "--megabytes", str(args.megabytes), "--steps",
                                str(args.steps), "--one-line"], check=True, capture_output=True, text=True)
        rows.append(child.stdout.strip().splitlines()[-1])
    with tempfile.TemporaryDirectory() as tmp:
        work = Path(tmp)
        path = work / ("big_one_line.txt" if args.one_line else "big.txt")
        write_big(path, args.megabytes, args.one_line)
        r = measure(path, work, args.steps)
    rows.insert(0, f"| {r['file']} | {r['bytes'] / 1e6:,.1f} MB | {r['kind']} | {r['tokens']:,} | "
                   f"{r['read_s']:.1f} s, {r['read_gib']:.2f} GiB | {r['steps']} steps in "
                   f"{r['train_loop_s']:.0f} s; {r['train_wall_s']:.0f} s in all, {r['train_gib']:.2f} GiB | "
                   f"{r['dev']:.3f} |")
    print(rows[0], flush=True)
    if args.one_line:
        return 0
    header = ["`python benchmarks/text_scale.py`: tinyshakespeare written again and again to the size given, "
              "as it is and as one line; `nnlm train BIG.txt --steps N`, no other flag, each in a process of "
              "its own; peak resident memory (ru_maxrss) of the process.", "",
              "| file | size | read as | tokens | read and split | `nnlm train --steps N` (an LSTM, the "
              "mixture, the final evaluation of every dev and test token) | dev loss |",
              "|---|---|---|---|---|---|---|"]
    RESULTS.write_text("\n".join(header + rows) + "\n")
    return 0


if __name__ == "__main__":
    sys.exit(main())
