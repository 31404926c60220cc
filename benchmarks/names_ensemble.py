"""Several model families on names.txt mixed with one Kneser-Ney model, within 10 minutes of
training in all on the 2-core CPU.

    python benchmarks/names_ensemble.py [--work DIR] [--reuse]

Trains the LSTM and GRU with their `best` presets and the MLP with the default run (each stops
by itself when dev stops improving, or at its time budget), then mixes the three with the
Kneser-Ney model of the LSTM's run (order chosen on dev), the weights tuned on dev by EM
(`nnlm eval RUN --mix-order N --mix-with RUN ...`). Prints each run's training seconds and test
loss (alone and mixed with its n-gram model), then the mixture's dev and test loss.
"""

from __future__ import annotations

import argparse
import json
import subprocess
import sys
import tempfile
from pathlib import Path

RUNS = {"lstm": ["--model", "lstm", "--preset", "best"], "gru": ["--model", "gru", "--preset", "best"],
        "mlp": []}
BUDGET = 600.0  # seconds of training in all


def nnlm(*args: str) -> str:
    out = subprocess.run([sys.executable, "-m", "nnlm", *args], capture_output=True, text=True)
    if out.returncode:
        sys.exit(f"nnlm {' '.join(args)} failed: {out.stderr.strip()}")
    return out.stdout


def train(work: Path, reuse: bool) -> dict:
    summaries = {}
    for name, flags in RUNS.items():
        run = work / name
        if not (reuse and (run / "summary.json").exists()):
            nnlm("train", "--out", str(run), "--overwrite", "--quiet", "--samples", "0", *flags)
        summaries[name] = json.loads((run / "summary.json").read_text())
        s = summaries[name]
        print(f"{name}: {s['seconds']:.0f} s ({s['stopped']}), test {s['model_test_loss']:.4f} alone, "
              f"{s['test_loss']:.4f} mixed with its n-gram model", flush=True)
    return summaries


def main(argv=None) -> None:
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("--work", type=Path, help="where the runs go (default: a temporary directory)")
    p.add_argument("--reuse", action="store_true", help="keep the finished runs found in --work")
    args = p.parse_args(argv)
    work = args.work or Path(tempfile.mkdtemp())
    summaries = train(work, args.reuse)
    seconds = sum(s["seconds"] for s in summaries.values())
    first, *others = (str(work / name) for name in RUNS)
    order = summaries["lstm"]["mixture"]["order"]  # chosen on dev by the LSTM's run
    losses = {}
    for split in ("dev", "test"):
        mix = json.loads(nnlm("eval", first, "--split", split, "--json", "--mix-order", str(order),
                              "--mix-with", *others))["mix"]
        losses[split] = mix[split]["loss"]
    weights = ", ".join(f"{Path(c['name']).name} {c['weight']:.2f}" for c in mix["components"])
    print(f"mixed ({weights}; tuned on dev): dev {losses['dev']:.4f}  test {losses['test']:.4f}")
    print(f"training in all: {seconds:.0f} s (budget {BUDGET:g} s)")


if __name__ == "__main__":
    main()
