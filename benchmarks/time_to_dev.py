"""How fast each variant of a family's preset reaches a dev loss on names: the check behind
the bigram's and the transformer's `best` presets (the zoo compares families by the time they
take to reach makemore's best test loss, so the preset must get there quickly, not only end well).

    python benchmarks/time_to_dev.py transformer --target 2.014 --stop
    python benchmarks/time_to_dev.py bigram --target 2.454 --seconds 30

Each variant trains with the family's `best` preset and these settings over it, on the
lecture's split of names.txt, for --seconds at most (with --stop: until dev <= --target);
prints when dev first reached the target, and the best dev and its test loss.
"""

from __future__ import annotations

import argparse
import json
import sys
import tempfile
from pathlib import Path

import nnlm

VARIANTS = {
    "transformer": [dict(n_layer=4, batch_size=512, lr=3e-3), dict(n_layer=4, batch_size=1024, lr=3e-3),
                    dict(n_layer=4, batch_size=2048, lr=6e-3), dict(n_layer=4, batch_size=1024, lr=5e-3),
                    dict(n_layer=4, n_head=2, batch_size=1024, lr=3e-3),
                    dict(n_layer=2, batch_size=1024, lr=3e-3)],
    "bigram": [dict(batch_size=512, lr=0.1), dict(batch_size=4096, lr=0.1), dict(batch_size=16384, lr=0.1),
               dict(batch_size=16384, lr=0.03), dict(batch_size=4096, lr=0.01),
               dict(batch_size=2048, lr=0.02)],
}


def main(argv=None) -> int:
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("family", choices=list(VARIANTS))
    p.add_argument("--target", type=float, required=True, help="dev loss to reach")
    p.add_argument("--seconds", type=float, default=300.0, help="at most this much training")
    p.add_argument("--stop", action="store_true", help="stop at the target (else: train as the preset does)")
    args = p.parse_args(argv)
    print(f"| settings over `--model {args.family} --preset best` | dev <= {args.target:g} at s | "
          "best dev | test of the best dev | steps |\n|---|---|---|---|---|")
    with tempfile.TemporaryDirectory() as tmp:
        for variant in VARIANTS[args.family]:
            r = nnlm.train(None, f"{tmp}/run", family=args.family, preset="best", overwrite=True,
                           progress=False, max_seconds=args.seconds, steps=0, mix=False,
                           target_loss=args.target if args.stop else None, **variant)
            lines = (Path(tmp) / "run" / "metrics.jsonl").read_text().splitlines()
            devs = [json.loads(line) for line in lines]
            at = next((d["seconds"] for d in devs if d.get("dev_loss", 9) <= args.target), None)
            shown = " ".join(f"{k}={v:g}" for k, v in variant.items())
            print(f"| {shown} | {'not reached' if at is None else f'{at:.1f}'} | {r.model_dev_loss:.4f} | "
                  f"{r.model_test_loss:.4f} | {r.step} |", flush=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
