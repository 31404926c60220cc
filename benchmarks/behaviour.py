"""A fingerprint of what nnlm computes, to show that a change of code changed no behaviour.

Trains small runs of every family and token kind through the command line (so any version of
nnlm can be fingerprinted), then records the SHA-256 of each run's best weights, seeded samples
with and without the run's n-gram mixture, the losses `nnlm eval` reports and `nnlm score`'s
log-probabilities. Two checkouts give the same fingerprint when they behave the same:

    PYTHONPATH=/path/to/old/src python benchmarks/behaviour.py --out before.json
    python benchmarks/behaviour.py --out after.json --compare before.json

(The weights are bit-identical only on the same machine with the same thread count: float
sums depend on both.)
"""

from __future__ import annotations

import argparse
import hashlib
import json
import os
import subprocess
import sys
import tempfile
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
NAMES300 = ROOT / "tests" / "fixtures" / "names300.txt"
VERSE = ROOT / "tests" / "fixtures" / "verse20k.txt"
WORDS = ROOT / "tests" / "fixtures" / "words200.txt"

# name -> (data file or None for the bundled names, training flags, what to score)
RUNS = {
    "mlp-quick": (None, ["--preset", "quick"], ["emma", "zyx"]),
    "mlp-default-300": (NAMES300, ["--steps", "300"], ["emma"]),
    "hierarchical": (NAMES300, ["--model", "hierarchical", "--steps", "150"], ["emma"]),
    "bigram": (NAMES300, ["--model", "bigram", "--steps", "150"], ["emma"]),
    "bow": (NAMES300, ["--model", "bow", "--steps", "100"], ["emma"]),
    "rnn": (NAMES300, ["--model", "rnn", "--steps", "100"], ["emma"]),
    "gru": (NAMES300, ["--model", "gru", "--steps", "100"], ["emma"]),
    "lstm": (NAMES300, ["--model", "lstm", "--steps", "100"], ["emma"]),
    "transformer": (NAMES300, ["--model", "transformer", "--steps", "100"], ["emma"]),
    "text-bpe-lstm": (VERSE, ["--steps", "60", "--precision", "fp32"], ["To be, or not"]),
    "text-char-transformer": (VERSE, ["--tokens", "char", "--model", "transformer", "--steps", "60"],
                              ["To be"]),
    "words-sentences": (WORDS, ["--tokens", "word", "--min-count", "1", "--steps", "100"], ["Emma ran ."]),
    "words-stream": (WORDS, ["--tokens", "word", "--kind", "text", "--min-count", "1", "--steps", "100"],
                     ["Emma Olivia"]),
}


def nnlm(*args: str) -> str:
    """`python -m nnlm ARGS`, its standard output; a failure stops the fingerprint."""
    done = subprocess.run([sys.executable, "-m", "nnlm", *map(str, args)], capture_output=True, text=True,
                          env={**os.environ, "PYTHONHASHSEED": "0"})
    if done.returncode:
        raise SystemExit(f"nnlm {' '.join(map(str, args))} failed:\n{done.stderr}")
    return done.stdout


def fingerprint(name: str, data, flags: list[str], texts: list[str], work: Path) -> dict:
    run = work / name
    nnlm("train", *([data] if data else []), "--out", run, "--quiet", "--samples", "0", *flags)
    out = {"weights_sha256": hashlib.sha256((run / "model.safetensors").read_bytes()).hexdigest(),
           "mixed": (run / "mix.json").exists()}
    for mix in ([], ["--no-mix"]):
        key = "no_mix" if mix else "predictor"
        out[f"samples_{key}"] = nnlm("sample", run, "-n", "8", "--seed", "3", "--max-len", "40", "--json",
                                     *mix).splitlines()
        out[f"eval_{key}"] = json.loads(nnlm("eval", run, "--split", "test", "--json", *mix))
        out[f"score_{key}"] = [json.loads(line)["logprob"] for line in
                               nnlm("score", run, *texts, "--json", *mix).splitlines()]
    return out


def compare(got: dict, want: dict) -> list[str]:
    """What differs between two fingerprints, a line each."""
    lines = []
    for name in sorted(set(got) | set(want)):
        for key in sorted(set(got.get(name, {})) | set(want.get(name, {}))):
            a, b = got.get(name, {}).get(key), want.get(name, {}).get(key)
            if a != b:
                lines.append(f"{name} {key}: {str(a)[:100]} != {str(b)[:100]}")
    return lines


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--out", required=True, help="the fingerprint, as JSON")
    parser.add_argument("--compare", help="a fingerprint to compare with: exit 1 where they differ")
    parser.add_argument("--only", nargs="+", choices=list(RUNS), help="these runs only")
    args = parser.parse_args()
    result = {}
    with tempfile.TemporaryDirectory() as work:
        for name in args.only or RUNS:
            data, flags, texts = RUNS[name]
            result[name] = fingerprint(name, data, flags, texts, Path(work))
            print(f"{name}: weights {result[name]['weights_sha256'][:16]} mixed {result[name]['mixed']}",
                  flush=True)
    Path(args.out).write_text(json.dumps(result, indent=1) + "\n")
    if args.compare:
        want = json.loads(Path(args.compare).read_text())
        differences = compare(result, {k: v for k, v in want.items() if k in result})
        print("\n".join(differences) or f"the same behaviour on all {len(result)} runs")
        return 1 if differences else 0
    return 0


if __name__ == "__main__":
    sys.exit(main())
