"""The training loop: minibatch steps, dev evaluations, best-on-dev weights, checkpoints for
resume, and stopping (steps, time, patience, a target loss or a signal)."""

from __future__ import annotations

import math
import time
from enum import Enum

import torch
from tqdm import tqdm

from ..errors import NnlmError
from ..inference.evaluate import evaluate
from ..models import fused
from ..run import rundir
from ..run.spec import RunSpec
from .batching import evenly_spaced, make_batches
from .distributed import Group
from .metrics import MetricsLog
from .optim import make_optimizer
from .schedule import Plateau, learning_rate
from .signals import StopSignals


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
        return self in (Stop.SIGINT, Stop.SIGTERM)


class Trainer:
    def __init__(self, spec: RunSpec, device: torch.device, progress: bool = True,
                 target_loss: float | None = None, group: Group | None = None):
        self.spec, self.cfg, self.device = spec, spec.train, device
        self.group = group or Group()
        self.progress, self.target_loss = progress and self.group.is_main, target_loss
        torch.manual_seed(self.cfg.seed)
        self.model = spec.family.build(spec.model).to(device)
        self.optimizer = make_optimizer(self.model, self.cfg)
        self.group.broadcast(self.optimizer.flat)  # every rank starts from rank 0's weights
        self.fused = fused.supports(self.model)
        self.train_windows = spec.windows("train")
        self.dev_windows = spec.windows("dev")
        # (dev during training: at most eval_tokens of it, the same pieces every time)
        self.eval_windows = evenly_spaced(self.dev_windows, self.cfg.eval_tokens, self.model) \
            if self.cfg.eval_tokens else self.dev_windows
        self.batches = make_batches(self.model, self.train_windows, self.cfg.batch_size, self.cfg.seed,
                                    device, self.group.rank, self.group.world)
        self.step, self.elapsed_before, self.started = 0, 0.0, time.perf_counter()
        self.best_loss, self.best_step = math.inf, 0
        self.last_dev, self.last_eval_step = math.nan, -1
        self.stale = 0  # evaluations since dev last improved, or since the lr began to decay
        self.plateau = Plateau(self.cfg) if self.cfg.lr_schedule == "plateau" else None
        self.decay_seen: int | None = None  # the decay start the stale count last restarted at
        self.loss_sum = torch.zeros((), device=device)  # train loss summed since the last log line
        self.logged_step, self.logged_time = 0, self.started
        self.lr = self.cfg.lr
        self.agreed_elapsed = 0.0  # the clock all ranks use for a time-based schedule
        self.metrics: MetricsLog | None = None
        self.bar = None

    def elapsed(self) -> float:
        """Seconds in the training loop, over every session of the run."""
        return self.elapsed_before + time.perf_counter() - self.started

    # -- state on disk -------------------------------------------------------------
    def resume_from_checkpoint(self) -> bool:
        loaded = rundir.read_checkpoint(self.spec.run_dir, self.model)
        if loaded is None:
            return False  # died before its first checkpoint: start again from step 0
        tensors, meta = loaded
        path = self.spec.run_dir / rundir.CHECKPOINT
        try:
            self.optimizer.load_state(tensors, int(meta["optimizer_t"]))
            self.step, self.elapsed_before = int(meta["step"]), float(meta["elapsed"])
            self.best_loss, self.best_step = float(meta["best_loss"]), int(meta["best_step"])
            self.loss_sum.fill_(float(meta["pending_loss"]))
            self.logged_step, self.stale = int(meta["logged_step"]), int(meta.get("stale", 0))
            if self.plateau is not None and "plateau" in meta:
                self.plateau.load(meta["plateau"])
                self.decay_seen = meta.get("decay_seen")
        except (KeyError, ValueError, TypeError) as e:
            raise NnlmError(f"{path}: bad training state ({e})") from None
        rng = tensors.get("rng.torch")
        if rng is not None:
            expected = torch.get_rng_state()
            if rng.dtype != expected.dtype or rng.shape != expected.shape:
                raise NnlmError(f"{path}: rng.torch is not a random-generator state")
            torch.set_rng_state(rng)
        return True

    def save_checkpoint(self) -> None:
        if not self.group.is_main:  # every rank holds the same weights; one writes
            return
        state = {**self.optimizer.state_tensors(), "rng.torch": torch.get_rng_state()}
        meta = {"step": self.step, "elapsed": self.elapsed(), "best_loss": self.best_loss,
                "best_step": self.best_step, "optimizer_t": self.optimizer.t,
                "pending_loss": self.loss_sum.item(), "logged_step": self.logged_step, "stale": self.stale}
        if self.plateau is not None:
            meta["plateau"], meta["decay_seen"] = self.plateau.state(), self.decay_seen
        rundir.save_checkpoint(self.spec.run_dir, self.model, state, meta)

    def save_best(self, dev_loss: float) -> None:
        self.best_loss, self.best_step = dev_loss, self.step
        if self.group.is_main:
            rundir.save_best(self.spec.run_dir, self.model, self.step, dev_loss)

    def log(self, record: dict) -> None:
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
                dev = self.evaluate_and_checkpoint()
                if dev <= (self.target_loss or -math.inf):
                    return Stop.TARGET
                if cfg.patience and self.stale >= cfg.patience and self.out_of_patience():
                    return Stop.EARLY
            if self.plateau is not None and self.plateau.done(self.step, self.agreed_elapsed):
                stopped = Stop.EARLY
                break
        else:
            return Stop.STEPS
        if stopped.interrupted:
            # checkpoint only: an evaluation here would not happen in an uninterrupted
            # run, and could change which weights are best
            self.save_checkpoint()
        elif self.last_eval_step != self.step:  # stopped between evaluations
            self.evaluate_and_checkpoint()
        return stopped

    def out_of_patience(self) -> bool:
        """Dev has not improved for --patience evaluations: the plateau schedule first decays
        the lr (and counts again), other schedules stop."""
        if self.plateau is None or self.plateau.stale(self.step, self.agreed_elapsed):
            return True
        self.decay_seen, self.stale = self.plateau.start_step, 0
        self.save_checkpoint()  # the decay's start is state a resumed run must see
        return False

    STOPS = (Stop.TIME, Stop.SIGINT, Stop.SIGTERM)

    def stop_reason(self, signals: StopSignals) -> Stop | None:
        """Why to stop before this step, if at all. Ranks must stop at the same step, so
        with several processes they decide together, at log steps only."""
        reason = Stop(f"interrupted by {signals.received}") if signals.received else None
        if not reason and self.cfg.max_seconds and self.elapsed() >= self.cfg.max_seconds:
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
        if self.plateau is not None and self.step >= self.cfg.warmup_steps:
            self.lr = self.plateau.lr(self.step, self.agreed_elapsed)
        else:
            self.lr = learning_rate(self.cfg, self.step, self.agreed_elapsed)
        x, y = self.batches.get(self.step)  # (B, block_size), (B,); sequences: (B, L), (B, L)
        if self.fused:
            loss = fused.loss_and_grad(self.model, x, y)  # overwrites the gradients
        else:
            self.optimizer.zero_grad()
            _, loss = self.model(x, y)
            loss.backward()  # accumulates into the flat gradient buffer's views
        if self.group.world > 1:  # average the ranks' gradients: one all-reduce, one bucket
            self.group.all_reduce_sum(self.optimizer.grad).mul_(1.0 / self.group.world)
        self.optimizer.step(self.lr)
        self.loss_sum += loss.detach()  # summed on the device: no host sync per step
        self.step += 1

    def log_train(self) -> None:
        steps, world = self.step - self.logged_step, self.group.world
        loss = self.group.all_reduce_sum(self.loss_sum.clone()).item() / max(steps * world, 1)
        if not math.isfinite(loss):
            raise NnlmError(
                f"training diverged: the loss is {loss} at step {self.step}; {self.spec.run_dir} "
                f"keeps the last good checkpoint (best step {self.best_step}); try a lower --lr")
        now = time.perf_counter()
        rate = steps * self.batches.batch_size * world / max(now - self.logged_time, 1e-9)
        self.log({"step": self.step, "examples": self.step * self.batches.batch_size * world,
                  "train_loss": round(loss, 5), "lr": self.lr, "seconds": round(self.elapsed(), 3)})
        self.bar.set_postfix_str(f"loss {loss:.4f} dev {self.last_dev:.4f} {rate:,.0f} ex/s",
                                 refresh=False)
        self.bar.update(self.step - self.bar.n)
        self.loss_sum.zero_()
        self.logged_step, self.logged_time = self.step, now

    def evaluate_and_checkpoint(self) -> float:
        has_dev = len(self.eval_windows) > 0
        dev = evaluate(self.model, self.eval_windows, self.device, self.group).loss if has_dev else math.nan
        self.last_dev, self.last_eval_step = dev, self.step
        if math.isinf(dev) or (math.isnan(dev) and has_dev):
            raise NnlmError(
                f"training diverged: the dev loss is {dev} at step {self.step}; "
                f"{self.spec.run_dir} keeps the last good checkpoint; try a lower --lr")
        self.log({"step": self.step, "dev_loss": round(dev, 5), "seconds": round(self.elapsed(), 3)})
        if self.plateau is not None and self.plateau.start_step != self.decay_seen:
            # the lr began to decay (near the end of the budget): patience counts from there
            self.decay_seen, self.stale = self.plateau.start_step, 0
        if dev < self.best_loss or not has_dev:  # no dev set: keep the latest
            self.save_best(dev)
            self.stale = 0
        else:
            self.stale += 1
        self.save_checkpoint()
        return dev
