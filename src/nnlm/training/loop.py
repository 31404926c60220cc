"""The training loop: minibatch steps, dev evaluations, best-on-dev weights, checkpoints for
resume, and stopping (steps, time, patience, a target loss or a signal)."""

from __future__ import annotations

import math
import time
from dataclasses import replace
from enum import Enum

import torch
from tqdm.auto import tqdm  # a notebook gets its own bar

from ..display import shows_progress
from ..errors import Failure, NnlmError
from ..inference.evaluate import evaluate
from ..run import rundir
from ..run.spec import RunSpec
from .batching import evenly_spaced, make_batches
from .distributed import Group
from .metrics import MetricsLog
from .optim import make_optimizer
from .schedule import Schedule, Verdict
from .signals import StopSignals
from .state import LoopState

RATE_TOKENS = 10_000  # dev tokens timed to foresee how long the final evaluations take
FINISH_MARGIN = 1.1  # on that foresight
MIN_LOOP_SHARE = 0.2  # of a time budget, the least the training loop gets


class Stop(str, Enum):
    """Why training stopped (a str, so it compares with and serialises as its value)."""

    STEPS = "steps"
    TIME = "time"
    TARGET = "target"
    EARLY = "dev stopped improving"
    SIGINT = "interrupted by SIGINT"
    SIGTERM = "interrupted by SIGTERM"

    @property
    def interrupted(self) -> bool:
        """Whether a signal stopped training (a checkpoint is saved; --resume continues)."""
        return self in (Stop.SIGINT, Stop.SIGTERM)

    @property
    def exit_code(self) -> int:
        """The process's exit status after training stopped so: 128 + the signal's number for
        a signal, as a shell reports a process it ended (130, 143); else 0."""
        return {Stop.SIGINT: 130, Stop.SIGTERM: 143}.get(self, 0)


class Trainer:
    """Trains a run: builds its model, optimizer and batches, and runs the loop with its
    evaluations, checkpoints and stops."""
    def __init__(self, spec: RunSpec, device: torch.device, progress: bool = True,
                 target_loss: float | None = None, group: Group | None = None):
        self.spec, self.cfg, self.device = spec, spec.train, device
        self.group = group or Group()
        self.progress, self.target_loss = progress and self.group.is_main and shows_progress(), target_loss
        torch.manual_seed(self.cfg.seed)
        self.model = spec.family.build(spec.model_config).to(device)
        self.optimizer = make_optimizer(self.model, self.cfg)
        self.group.broadcast(self.optimizer.flat)  # every rank starts from rank 0's weights
        self.train_windows = spec.windows("train")
        self.dev_windows = spec.windows("dev")
        # (dev during training: at most eval_tokens of it, the same pieces every time)
        self.eval_windows = evenly_spaced(self.dev_windows, self.cfg.eval_tokens, self.model) \
            if self.cfg.eval_tokens else self.dev_windows
        self.batches = make_batches(self.model, self.train_windows, self.cfg.batch_size, self.cfg.seed,
                                    device, self.group.rank, self.group.world)
        bf16 = self.cfg.precision == "bf16" and device.type in ("cpu", "cuda")
        self.autocast = torch.autocast(device.type, dtype=torch.bfloat16, enabled=bf16)
        self.state = LoopState()  # step, best dev loss...: what a checkpoint keeps
        self.schedule = Schedule(self.cfg)  # the lr of each step, and patience
        self.started = time.perf_counter()
        self.last_dev, self.last_eval_step = math.nan, -1
        self.loss_sum = torch.zeros((), device=device)  # train loss summed since the last log line
        self.logged_time = self.started
        self.lr = self.cfg.lr
        self.agreed_elapsed = 0.0  # the clock all ranks use for a time-based schedule
        self.budget = self.cfg.max_seconds  # the loop's seconds (plan_budget: what the command leaves it)
        self.spent = self.reserve = 0.0  # seconds before the loop; foreseen for the final evaluations
        self.final_tokens = 0  # tokens the final evaluations read
        self.metrics: MetricsLog | None = None
        self.bar = None

    @property
    def step(self) -> int:
        """Steps taken, over every session of the run."""
        return self.state.step

    def plan_budget(self, spent: float, final_tokens: int, log=None) -> None:
        """The loop's share of the run's time budget (max_seconds is the whole command's): what
        is left after `spent` seconds of reading the data and fitting n-gram models, and after
        the final evaluations of `final_tokens` tokens, timed here on a piece of dev (and again
        at each dev evaluation: update_budget). The loop gets at least MIN_LOOP_SHARE of the
        budget, however long the rest takes."""
        self.spent, self.final_tokens = spent, final_tokens
        if not self.cfg.max_seconds:
            return
        sample = evenly_spaced(self.eval_windows if len(self.eval_windows) else self.train_windows,
                               RATE_TOKENS, self.model)
        warm_up = evenly_spaced(sample, RATE_TOKENS // 10, self.model)
        evaluate(self.model, warm_up, self.device, self.group)
        start = time.perf_counter()  # (timed warm: the first pass of a model pays for its set-up)
        tokens = evaluate(self.model, sample, self.device, self.group).tokens
        self.update_budget((time.perf_counter() - start) / max(tokens, 1))
        if log and self.group.is_main:
            log(f"time: {spent:.0f} s reading the data and fitting n-gram models, about {self.reserve:.0f} s "
                f"for the final evaluations: training gets {self.budget:.0f} s of the "
                f"{self.cfg.max_seconds:g} s")

    def update_budget(self, per_token: float) -> None:
        """The loop's budget, from the seconds an evaluated token takes (per_token)."""
        if not self.cfg.max_seconds:
            return
        per_token *= 2 if self.cfg.precision == "bf16" else 1  # (bf16 evaluations; the final ones: fp32)
        self.reserve = FINISH_MARGIN * per_token * self.final_tokens
        left = self.cfg.max_seconds - self.spent - self.reserve
        self.budget = max(left, MIN_LOOP_SHARE * self.cfg.max_seconds)
        self.schedule.budget = self.budget

    def finished(self) -> bool:
        """Whether the run has taken all the steps it was given (a resumed run may have)."""
        return bool(self.cfg.steps) and self.step >= self.cfg.steps

    def elapsed(self) -> float:
        """Seconds in the training loop, over every session of the run."""
        return self.state.elapsed + time.perf_counter() - self.started

    # -- state on disk -------------------------------------------------------------
    def resume_from_checkpoint(self) -> bool:
        """Load the run's checkpoint (weights, optimizer, RNG, loop state); False where it died
        before its first."""
        loaded = rundir.read_checkpoint(self.spec.run_dir, self.model)
        if loaded is None:
            return False  # died before its first checkpoint: start again from step 0
        tensors, meta = loaded
        path = self.spec.run_dir / rundir.CHECKPOINT
        try:
            self.state = LoopState.from_meta(meta)
            self.optimizer.load_state(tensors, self.state.optimizer_t)
            self.schedule.load(self.state.schedule)
        except (KeyError, ValueError, TypeError) as e:
            raise NnlmError(f"{path}: bad training state ({e})") from None
        self.loss_sum.fill_(self.state.pending_loss)
        rng = tensors.get("rng.torch")
        if rng is not None:
            expected = torch.get_rng_state()
            if rng.dtype != expected.dtype or rng.shape != expected.shape:
                raise NnlmError(f"{path}: rng.torch is not a random-generator state")
            torch.set_rng_state(rng)
        return True

    def save_checkpoint(self) -> None:
        """Save the latest weights, the optimizer's and RNG's tensors and the loop's state (rank 0)."""
        if not self.group.is_main:  # every rank holds the same weights; one writes
            return
        tensors = {**self.optimizer.state_tensors(), "rng.torch": torch.get_rng_state()}
        state = replace(self.state, elapsed=self.elapsed(), pending_loss=self.loss_sum.item(),
                        optimizer_t=self.optimizer.t, schedule=self.schedule.state())
        rundir.save_checkpoint(self.spec.run_dir, self.model, tensors, state.to_meta())

    def save_best(self, dev_loss: float) -> None:
        """Remember `dev_loss` as the best and save the weights (rank 0)."""
        self.state.best_loss, self.state.best_step = dev_loss, self.step
        if self.group.is_main:
            rundir.save_best(self.spec.run_dir, self.model, self.step, dev_loss)

    def log(self, record: dict) -> None:
        """Append a record to metrics.jsonl (and TensorBoard), on rank 0."""
        if self.metrics is not None:  # rank 0 only
            self.metrics.log(record)

    # -- the loop --------------------------------------------------------------------
    def run(self) -> Stop:
        """Train until steps, time budget, target loss or a signal; returns why it stopped."""
        self.started, self.logged_time = time.perf_counter(), time.perf_counter()
        if self.group.is_main:
            self.metrics = MetricsLog(self.spec.run_dir, self.step, self.cfg.tensorboard)
        if self.step == 0:
            self.evaluate_and_checkpoint()  # a loadable run directory from the first moment
        self.bar = tqdm(total=self.cfg.steps or None, initial=self.step, unit="step",
                        disable=not self.progress, dynamic_ncols=True, mininterval=0.5, leave=False)
        try:
            with StopSignals() as signals:
                stopped = self.loop(signals)
        finally:
            self.bar.close()
            if self.metrics:
                self.metrics.close()
        return stopped

    def loop(self, signals: StopSignals) -> Stop:
        """Step, log and evaluate until a stop; returns why it stopped."""
        cfg = self.cfg
        while not cfg.steps or self.step < cfg.steps:
            stopped = self.stop_reason(signals)
            if stopped:
                break
            self.train_step()
            last = self.step == cfg.steps
            if self.step % cfg.log_interval == 0 or last:
                self.log_train()
            if self.step % cfg.eval_interval == 0 or last:
                dev, verdict = self.evaluate_and_checkpoint()
                if dev <= (self.target_loss or -math.inf):
                    return Stop.TARGET
                if verdict is Verdict.STOP:
                    return Stop.EARLY
            if self.schedule.finished(self.step, self.agreed_elapsed):
                stopped = Stop.EARLY
                break
        else:
            return Stop.STEPS
        if stopped.interrupted:
            # checkpoint only: an evaluation here would not happen in an uninterrupted
            # run, and could change which weights are best
            self.save_checkpoint()
        elif self.last_eval_step != self.step:  # stopped between evaluations: count it, decide nothing
            self.evaluate_and_checkpoint(judged=False)
        return stopped

    STOPS = (Stop.TIME, Stop.SIGINT, Stop.SIGTERM)

    def stop_reason(self, signals: StopSignals) -> Stop | None:
        """Why to stop before this step, if at all. Ranks must stop at the same step, so
        with several processes they decide together, at log steps only."""
        reason = Stop(f"interrupted by {signals.received}") if signals.received else None
        if not reason and self.budget and self.elapsed() >= self.budget:
            reason = Stop.TIME
        if self.group.world == 1:
            self.agreed_elapsed = self.elapsed()
            return reason
        if self.step % self.cfg.log_interval:
            return None
        code = self.STOPS.index(reason) + 1 if reason else 0
        agreed = self.group.all_reduce_max(torch.tensor([code, self.elapsed()], dtype=torch.float64))
        self.agreed_elapsed = float(agreed[1])
        return self.STOPS[int(agreed[0]) - 1] if agreed[0] else None

    def train_step(self) -> None:
        """One optimizer step on the step's minibatch, its gradients averaged over the ranks."""
        self.lr = self.schedule.advance(self.step, self.agreed_elapsed)
        x, y = self.batches.get(self.step)  # (B, block_size), (B,); sequences: (B, L), (B, L)
        self.optimizer.zero_grad()
        with self.autocast:
            loss = self.model.loss_and_grad(x, y)  # the gradients land in the flat buffer's views
        if self.group.world > 1:  # average the ranks' gradients: one all-reduce, one bucket
            self.group.all_reduce_sum(self.optimizer.grad).mul_(1.0 / self.group.world)
        self.optimizer.step(self.lr)
        self.loss_sum += loss.detach()  # summed on the device: no host sync per step
        self.state.step += 1

    def log_train(self) -> None:
        """The mean train loss since the last log line: logged, shown on the bar; a diverged run stops."""
        steps, world = self.step - self.state.logged_step, self.group.world
        loss = self.group.all_reduce_sum(self.loss_sum.clone()).item() / max(steps * world, 1)
        if not math.isfinite(loss):
            raise Failure(
                f"training diverged: the loss is {loss} at step {self.step}; {self.spec.run_dir} "
                f"keeps the last good checkpoint (best step {self.state.best_step}); try a lower --lr")
        now = time.perf_counter()
        rate = steps * self.batches.batch_size * world / max(now - self.logged_time, 1e-9)
        self.log({"step": self.step, "examples": self.step * self.batches.batch_size * world,
                  "train_loss": round(loss, 5), "lr": self.lr, "seconds": round(self.elapsed(), 3)})
        self.bar.set_postfix_str(f"loss {loss:.4f} dev {self.last_dev:.4f} {rate:,.0f} ex/s",
                                 refresh=False)
        self.bar.update(self.step - self.bar.n)
        self.loss_sum.zero_()
        self.state.logged_step, self.logged_time = self.step, now

    def evaluate_and_checkpoint(self, judged: bool = True) -> tuple[float, Verdict]:
        """The dev loss now, and what the schedule makes of it (judged=False: nothing, the run
        has stopped); the best weights and a checkpoint are saved."""
        has_dev = len(self.eval_windows) > 0
        dev = math.nan
        if has_dev:
            start = time.perf_counter()
            with self.autocast:  # (bf16 runs: an estimate to stop on; the final losses are fp32)
                result = evaluate(self.model, self.eval_windows, self.device, self.group)
            dev = result.loss
            self.update_budget((time.perf_counter() - start) / max(result.tokens, 1))
        self.last_dev, self.last_eval_step = dev, self.step
        if math.isinf(dev) or (math.isnan(dev) and has_dev):
            raise Failure(
                f"training diverged: the dev loss is {dev} at step {self.step}; "
                f"{self.spec.run_dir} keeps the last good checkpoint; try a lower --lr")
        self.log({"step": self.step, "dev_loss": round(dev, 5), "seconds": round(self.elapsed(), 3)})
        improved = dev < self.state.best_loss or not has_dev  # no dev set: keep the latest
        if improved:
            self.save_best(dev)
        if judged:
            verdict = self.schedule.after_eval(improved, self.step, self.agreed_elapsed)
        else:
            verdict = Verdict.GO
            self.schedule.count(improved)
        self.save_checkpoint()  # after the verdict: an anneal's start is state a resumed run must see
        return dev, verdict
