"""Names per second: the ONNX consumer (examples/onnx_consumer.py: numpy and onnxruntime alone)
against `nnlm sample --no-mix`, on the same CPU, for the default MLP run on the bundled names.

    python benchmarks/export_speed.py [--run RUN] [--num 100000] [--repeats 3]

Without --run it trains the default run (`nnlm train`: the MLP the data chooses, about 3 minutes on
2 cores) in a temporary folder, then exports it (`nnlm export RUN --format onnx`). Each way is timed
as a user runs it, the command end to end (its start-up included, the samples written to a pipe),
and as its sampling alone, in this process after a warm-up; the best of --repeats runs of each.
Writes benchmarks/results/export_speed.md.
"""

from __future__ import annotations

import argparse
import importlib.util
import json
import shutil
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import numpy as np
import onnxruntime
import torch

import nnlm
import machine as machine_info  # (benchmarks/machine.py)
from nnlm.export.write import export

ROOT = Path(__file__).resolve().parent.parent
CONSUMER = ROOT / "examples" / "onnx_consumer.py"
RESULTS = ROOT / "benchmarks" / "results" / "export_speed.md"


def machine() -> str:
    """The machine (benchmarks/machine.py), torch's threads and onnxruntime's version."""
    return (f"{machine_info.describe()}; torch on {torch.get_num_threads()} threads, onnxruntime "
            f"{onnxruntime.__version__}")


def best_of(repeats: int, measure) -> tuple[float, object]:
    """The shortest of `repeats` calls of measure(), in seconds, and what the last call returned."""
    times, result = [], None
    for _ in range(repeats):
        start = time.perf_counter()
        result = measure()
        times.append(time.perf_counter() - start)
    return min(times), result


def command(argv: list[str], num: int) -> None:
    """Run a command that prints `num` samples, one a line, to a pipe."""
    out = subprocess.run(argv, capture_output=True, text=True, check=True).stdout
    assert len(out.splitlines()) == num, (argv, len(out.splitlines()))


def consumer_sampler(folder: Path):
    """sample(num) -> names, drawn as the consumer's `sample` command draws them, in this process."""
    spec = importlib.util.spec_from_file_location("onnx_consumer", CONSUMER)
    c = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(c)
    card = json.loads((folder / "card.json").read_text())
    model, tokens, max_len = c.StepModel(folder, card), c.Tokens(folder, card), card["ids"]["default_max_len"]
    rng = np.random.default_rng(0)

    def sample(num: int) -> list[str]:
        rows = [c.sample(model, tokens, True, min(c.BATCH, num - at), max_len, 1.0, rng, [], tokens.boundary)
                for at in range(0, num, c.BATCH)]
        return [tokens.decode(ids) for batch in rows for ids in batch]

    return sample


def measure(run: Path, folder: Path, num: int, repeats: int) -> list[tuple[str, float, float | None]]:
    """(way, names/s, mean length) of each way of sampling `num` names."""
    rows = []
    nnlm_command = [shutil.which("nnlm") or "nnlm", "sample", str(run), "--no-mix", "-n", str(num), "--plain"]
    onnx_command = [sys.executable, str(CONSUMER), "sample", str(folder), "-n", str(num)]
    for way, argv in (("`nnlm sample --no-mix`, the command", nnlm_command),
                      ("ONNX consumer, the command", onnx_command)):
        seconds, _ = best_of(repeats, lambda argv=argv: command(argv, num))
        rows.append((way, num / seconds, None))
    lm = nnlm.load(run, device="cpu", mix=False)
    lm.sample(1000, seed=1)  # warm-up
    seconds, names = best_of(repeats, lambda: [s.text for s in lm.sample(num, seed=0)])
    rows.append(("`nnlm sample --no-mix`, sampling alone (LanguageModel.sample)", num / seconds,
                 sum(map(len, names)) / num))
    sample = consumer_sampler(folder)
    sample(1000)  # warm-up
    seconds, names = best_of(repeats, lambda: sample(num))
    rows.append(("ONNX consumer, sampling alone (its `sample`)", num / seconds, sum(map(len, names)) / num))
    return rows


def describe(run: Path, trained_here: bool) -> str:
    """Which run, its family, size and settings."""
    lm = nnlm.load(run, device="cpu", mix=False)
    settings = ", ".join(f"{k} {v}" for k, v in vars(lm.model.config).items() if k != "vocab_size")
    which = "the default run on the bundled names (`nnlm train`)" if trained_here else f"`{run}`"
    return f"{which}: {lm.spec.family.name}, {lm.model.num_parameters():,} parameters ({settings})"


def report(rows, run_note: str, num: int, argv: list[str]) -> str:
    """The results as Markdown: the command, the machine, the run, the table, the ratios."""
    table = "\n".join(f"| {way} | {rate:,.0f} | {'-' if length is None else f'{length:.2f}'} |"
                      for way, rate, length in rows)
    as_commands, alone = rows[1][1] / rows[0][1], rows[3][1] / rows[2][1]
    command_line = " ".join(["python", f"benchmarks/{Path(argv[0]).name}", *argv[1:]])
    return (f"`{command_line}`, {time.strftime('%Y-%m-%d')}\n\nMachine: {machine()}\n\nRun: {run_note}.\n\n"
            f"{num:,} names each way at temperature 1, the best of the repeats.\n\n"
            f"| way | names/s | mean length |\n|---|---|---|\n{table}\n\n"
            f"The ONNX consumer samples at {as_commands:.0%} of nnlm's rate as commands and {alone:.0%} "
            "as sampling alone.\n")


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--run", help="a trained run (default: train the default run on the bundled names)")
    ap.add_argument("--num", type=int, default=100_000, help="names to sample each way (default: 100,000)")
    ap.add_argument("--repeats", type=int, default=3, help="timed runs of each way, the best kept "
                    "(default: 3)")
    args = ap.parse_args()
    with tempfile.TemporaryDirectory() as tmp:
        run = Path(args.run) if args.run else Path(tmp) / "names"
        if not args.run:
            nnlm.train(None, str(run), progress=False)
        folder = export(run, Path(tmp) / "onnx")
        text = report(measure(run, folder, args.num, args.repeats), describe(run, not args.run), args.num,
                      sys.argv)
    print(text)
    RESULTS.write_text(text)


if __name__ == "__main__":
    main()
