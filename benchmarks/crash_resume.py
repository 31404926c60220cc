"""Kill training with SIGKILL at random moments; after each kill the run directory must
load and --resume must carry on. Prints kills, successful resumes, and steps lost.

Steps lost by a kill = the last step logged to metrics.jsonl before the kill minus the
step of the checkpoint the next run resumes from (metrics are written line by line).
Target: every kill recovered, and no more steps lost than the checkpoint interval
(--eval-interval) plus one log interval.

    python benchmarks/crash_resume.py [--kills 20] [--seed 0]
"""

import argparse
import json
import random
import shutil
import signal
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import nnlm
from nnlm.run import rundir as ckpt

TRAIN = ["--preset", "fast", "--steps", "1000000", "--eval-interval", "50",
         "--log-interval", "10", "--quiet", "--samples", "0"]


def last_logged_step(run: Path) -> int:
    steps = [json.loads(line)["step"] for line in (run / ckpt.METRICS).read_text().splitlines()
             if line.strip()]
    return max(steps, default=0)


def checkpoint_step(run: Path) -> int:
    return ckpt.load_tensors(run / ckpt.CHECKPOINT)[1]["step"]


def launch(run: Path, resume: bool) -> subprocess.Popen:
    args = ["--resume", "--out", str(run)] if resume else ["--out", str(run)]
    return subprocess.Popen([sys.executable, "-m", "nnlm", "train", *args, *TRAIN],
                            stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True)


def wait_for_training(proc: subprocess.Popen, run: Path, past: int, timeout: float = 60) -> bool:
    """Until the run logs a step beyond `past` (the furthest any earlier process got), so
    the kill lands mid-training of this process; False if it exited first."""
    start = time.time()
    while time.time() - start < timeout:
        if proc.poll() is not None:
            return False
        if (run / ckpt.METRICS).exists() and last_logged_step(run) > past:
            return True
        time.sleep(0.05)
    return False


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--kills", type=int, default=20)
    ap.add_argument("--seed", type=int, default=0)
    args = ap.parse_args()
    rng = random.Random(args.seed)
    tmp = Path(tempfile.mkdtemp())
    run = tmp / "run"
    resumed_ok, lost, steps_before, furthest = 0, [], 0, 0
    try:
        for k in range(args.kills):
            proc = launch(run, resume=k > 0)
            if not wait_for_training(proc, run, furthest):
                print(f"kill {k + 1}: training did not start: {proc.communicate()[1].strip()}")
                proc.kill()
                continue
            if k > 0:
                resumed_ok += 1
            time.sleep(rng.uniform(0.0, 1.5))  # a random moment: mid-step, mid-write...
            logged = last_logged_step(run)
            proc.send_signal(signal.SIGKILL)
            proc.wait()
            logged = max(logged, last_logged_step(run))
            furthest = logged
            nnlm.load(run, device="cpu")  # the best weights load
            nnlm.load(run, device="cpu", weights="last")  # so does the checkpoint
            step = checkpoint_step(run)
            lost.append(logged - step)
            print(f"kill {k + 1}: logged step {logged}, checkpoint at step {step}, "
                  f"lost {logged - step}")
            steps_before = step
        final = launch(run, resume=True)
        started = wait_for_training(final, run, furthest)
        final.send_signal(signal.SIGINT)  # a clean stop this time
        code = final.wait()
        if started and code == 130:
            resumed_ok += 1
        print(f"final resume after the last kill: exit {code}, checkpoint at step "
              f"{checkpoint_step(run)} (was {steps_before})")
    finally:
        shutil.rmtree(tmp, ignore_errors=True)
    print(f"kills: {args.kills}; resumes that continued training: {resumed_ok} of {args.kills}; "
          f"most steps lost: {max(lost, default=0)} (checkpoint interval 50, log interval 10)")


if __name__ == "__main__":
    main()
