"""Commands that look inside a run stay in bounded memory and time on any family and token kind:
`nnlm plot --activations` on sequence models over long windows and a word vocabulary (it once
turned every (example, position, unit) value into a Python float: 20 GB)."""

import json
import subprocess
import sys

import pytest

from helpers import VERSE
from nnlm.cli import main

resource = pytest.importorskip("resource")  # peak memory of a process: Unix

LIMIT_MB, LIMIT_S = 1024, 30


def peak_mb_and_seconds(*argv) -> tuple[float, float]:
    """Run `nnlm ARGV` in a fresh process: its peak resident memory (MB) and its seconds."""
    code = ("import json, resource, sys, time\nfrom nnlm.cli import main\nt = time.perf_counter()\n"
            "assert main(sys.argv[1:]) == 0\nprint(json.dumps([resource.getrusage(resource.RUSAGE_SELF)"
            ".ru_maxrss / 1024, time.perf_counter() - t]))")
    done = subprocess.run([sys.executable, "-c", code, *map(str, argv)], capture_output=True, text=True,
                          timeout=300)
    assert done.returncode == 0, done.stderr
    return tuple(json.loads(done.stdout.splitlines()[-1]))


@pytest.mark.parametrize("family, sizes", [
    ("lstm", ["--block-size", "64", "--n-embd", "64", "--n-hidden", "512"]),
    ("transformer", ["--block-size", "64", "--n-embd", "128", "--n-layer", "4", "--n-head", "4"]),
])
def test_plot_activations_of_a_word_text_run_in_bounded_memory(tmp_path, family, sizes):
    run = tmp_path / family
    assert main(["train", str(VERSE), "--tokens", "word", "--kind", "text", "--model", family, *sizes,
                 "--steps", "2", "--out", str(run), "--quiet", "-n", "0", "--no-mix"]) == 0
    mb, seconds = peak_mb_and_seconds("plot", run, "--activations")
    assert (run / "activations.png").stat().st_size > 10_000
    # the values a histogram of every position would hold: 4,096 windows x 64 positions x 512 units
    assert mb < LIMIT_MB and seconds < LIMIT_S, (mb, seconds)
