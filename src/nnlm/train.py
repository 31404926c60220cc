"""Training: the loop (minibatch AdamW/SGD, dev evaluation, best-on-dev weights, checkpoints
for resume) and `train`, which runs it on a new or resumed run directory.

Batching, the lr schedule, signal handling and the metrics log live in their own modules
(batching, schedule, signals, metrics); the run directory's files in rundir.
"""

from __future__ import annotations

import contextlib
import math
import time
from dataclasses import dataclass
from enum import Enum
from pathlib import Path

import torch
from tqdm import tqdm

from . import fused, rundir
from .batching import evenly_spaced, make_batches
from .config import DataConfig
from .distributed import Group, setup, teardown
from .errors import NnlmError
from .evaluate import evaluate, token_logprobs
from .metrics import MetricsLog
from .mix import fit_run_mixture
from .models import DEFAULT
from .optim import make_optimizer
from .runtime import resolve_device
from .schedule import Plateau, learning_rate
from .settings import settings_of
from .signals import StopSignals
from .spec import RunSpec, build_spec

TRAIN_EVAL_LIMIT = 200_000  # summary's train loss: on at most this many examples, evenly spaced


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


@dataclass
class TrainResult:
    run_dir: Path
    step: int  # steps taken in total (including earlier sessions of a resumed run)
    seconds: float  # time in the training loop, in total
    setup_seconds: float  # reading data, building windows, model and optimizer (this session)
    best_step: int
    train_loss: float  # of the best-on-dev weights
    dev_loss: float
    test_loss: float | None
    stopped: Stop
    epochs: float = 0.0  # passes over the training examples
    rank: int = 0  # this process's rank under torchrun (only rank 0 reports)
    model_dev_loss: float | None = None  # dev and test of the model alone (the losses above are of
    model_test_loss: float | None = None  # the run's predictor: the mixture, where there is one)
    mixture: dict | None = None  # mix.json: the n-gram model's order, the weights, their dev losses
    why: list[str] | None = None  # how the default run chose its settings

    def to_json(self) -> dict:
        d = dict(self.__dict__)
        d["run_dir"], d["stopped"] = str(self.run_dir), self.stopped.value
        return d


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


def split_kinds(settings: dict) -> tuple[dict, dict]:
    """(data settings, model and training settings) of a mixed dict of settings."""
    data_names = {s.name for s in settings_of(DataConfig)}
    data = {k: v for k, v in settings.items() if k in data_names and v is not None}
    return data, {k: v for k, v in settings.items() if k not in data_names}


def train(data: str | None = None, out: str | None = None, *, model: str = DEFAULT,
          preset: str = "default", resume: bool = False, overwrite: bool = False,
          progress: bool = True, target_loss: float | None = None,
          data_options: dict | None = None, log=None, **settings) -> TrainResult:
    """Train a model on DATA (default: the bundled names) into the run directory OUT.

    `settings` are settings of the model family `model` (block_size=8, ...), of training
    (lr=3e-3, ...; config.TrainConfig) and of the data (level="word", dev="valid.txt", ...;
    config.DataConfig; also accepted as `data_options`), over those of `preset`.
    With resume=True, continue the run in OUT from its last checkpoint. `log`, if given,
    receives lines about what the run chose (the default run's settings and why).
    """
    started = time.perf_counter()
    data_settings, settings = split_kinds({**settings, **(data_options or {})})
    if resume:
        if out is None:
            raise NnlmError("--resume needs --out RUN_DIR, the run to continue")
        if data is not None or data_settings:
            raise NnlmError("--resume takes no DATA or data settings: the run directory holds its data")
        spec = rundir.load_spec(out, overrides=settings)
    group = setup(resolve_device(spec.train.device if resume else settings.get("device") or "auto"))
    try:
        if not resume:  # every rank builds the same spec; rank 0 alone claims the directory
            spec = build_spec(data, out, model=model, preset=preset, settings=settings,
                              data_config=DataConfig(**data_settings))
            if not out and group.world > 1:
                raise NnlmError("several processes need an explicit --out run directory")
            if group.is_main:
                rundir.prepare_empty_dir(spec.run_dir, overwrite)
        device = group.device if group.world > 1 else resolve_device(spec.train.device)
        with rundir.locked(spec.run_dir) if group.is_main else contextlib.nullcontext():
            if not resume and group.is_main:
                rundir.write_spec(spec)
                if log and spec.why:
                    log("settings chosen from the data: " + "; ".join(spec.why))
            group.barrier()
            trainer = Trainer(spec, device, progress, target_loss, group)
            if resume and trainer.resume_from_checkpoint() and spec.train.steps and \
                    trainer.step >= spec.train.steps:
                raise NnlmError(f"{spec.run_dir}: the run already finished its {trainer.step} "
                                "steps; pass a larger --steps to train longer")
            setup_seconds = time.perf_counter() - started
            return finish(trainer, trainer.run(), setup_seconds)
    finally:
        teardown(group)


def finish(trainer: Trainer, stopped: Stop, setup_seconds: float) -> TrainResult:
    """Evaluate the best-on-dev weights on every split, mix in an n-gram model where that is
    better on dev, and write summary.json."""
    spec, seconds, group = trainer.spec, trainer.elapsed(), trainer.group
    group.barrier()  # rank 0 has written the best weights
    rundir.load_weights(spec.run_dir, trainer.model, "best")
    built = {"train": evenly_spaced(trainer.train_windows, TRAIN_EVAL_LIMIT, trainer.model),
             "dev": trainer.dev_windows}
    losses = {}
    for name in ("train", "dev", "test"):
        windows = built[name] if name in built else spec.windows(name)
        losses[name] = evaluate(trainer.model, windows, trainer.device, group).loss \
            if len(windows) else None
    result = TrainResult(spec.run_dir, trainer.step, seconds, setup_seconds, trainer.best_step,
                         losses["train"], losses["dev"], losses["test"], stopped,
                         round(trainer.batches.epochs(trainer.step), 2), group.rank,
                         losses["dev"], losses["test"], None, spec.why)
    if group.is_main:
        rundir.remove_mixture(spec.run_dir)  # an earlier session's no longer fits these weights
        if spec.train.mix and losses["dev"] is not None and not stopped.interrupted:
            mix_into_run(trainer, result)
        rundir.write_summary(spec.run_dir, result.to_json())
    return result


def mix_into_run(trainer: Trainer, result: TrainResult) -> None:
    """Fit the run's mixture; where it beats the model alone on dev, save it and make its
    losses the result's."""
    spec, block = trainer.spec, trainer.spec.model.block_size
    mixture, report = fit_run_mixture(trainer.model, spec.source, block, trainer.device)
    if not report["dev_loss"]["mixture"] < report["dev_loss"]["model"] - 1e-6:
        return
    test = spec.windows("test", block)
    if len(test):
        model_lp = token_logprobs(trainer.model, test, trainer.device).double().numpy()
        mixed_lp = mixture.logprobs(model_lp, spec.windows("test", mixture.width))
        report["test_loss"] = {"mixture": float(-mixed_lp.mean()), "model": float(-model_lp.mean())}
        result.test_loss = report["test_loss"]["mixture"]
    result.dev_loss, result.mixture = report["dev_loss"]["mixture"], report
    rundir.save_mixture(spec.run_dir, mixture.ngram, report)
