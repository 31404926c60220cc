"""The sweeps on names dev that chose each model family's `best` preset.

    python benchmarks/family_sweeps.py [--seconds 75] [--families gru transformer]

For each family, `nnlm sweep` over a small grid of its sizes and regularisation, every trial
trained for --seconds on the lecture's split of names.txt (the default run's training: batch
by data size, the plateau schedule into the end of the budget) and judged on dev; each
results table is copied to benchmarks/results/sweep_<family>.md. The MLP's best preset has
its own sweeps (sweep_best_stage*.md); the bigram has nothing to choose.
"""

from __future__ import annotations

import argparse
import shutil
import subprocess
import sys
import tempfile
from pathlib import Path

RESULTS = Path(__file__).parent / "results"

GRIDS = {
    "transformer": ["n_embd=64,128", "lr=0.001,0.003"],
    "gru": ["n_hidden=256,512", "n_layer=1,2"],
    "lstm": ["n_hidden=256,512", "n_layer=1,2"],
    "rnn": ["n_hidden=256,512", "n_layer=1,2"],
    "bow": ["n_embd=64,128", "n_hidden=64,256"],
    "hierarchical": ["n_hidden=128,256", "block_size=8,16"],
}
FIXED = {  # what every trial of the family shares
    "transformer": ["n_layer=4", "n_head=4", "block_size=16", "dropout=0"],
    "gru": ["dropout=0.1", "block_size=16"],
    "lstm": ["dropout=0.1", "block_size=16"],
    "rnn": ["dropout=0.1", "block_size=16"],
    "bow": ["block_size=16"],
    "hierarchical": ["norm=batch"],
}


def main(argv=None) -> int:
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("--seconds", type=float, default=75.0)
    p.add_argument("--families", nargs="+", default=list(GRIDS), choices=list(GRIDS))
    args = p.parse_args(argv)
    with tempfile.TemporaryDirectory() as tmp:
        for family in args.families:
            out = Path(tmp) / family
            subprocess.run([sys.executable, "-m", "nnlm", "sweep", "--out", str(out), "--model", family,
                            "--seconds", f"{args.seconds:g}", "--grid", *GRIDS[family],
                            "--set", *FIXED[family]], check=True)
            shutil.copy(out / "results.md", RESULTS / f"sweep_{family}.md")
            print((out / "results.md").read_text(), flush=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
