"""Training: minibatch AdamW/SGD with a schedule, dev evaluation, best-on-dev weights,
checkpoints for resume, a time budget, and clean stops on SIGINT/SIGTERM."""

from __future__ import annotations

import contextlib
import json
import math
import signal
import threading
import time
from dataclasses import dataclass
from pathlib import Path

import torch
from tqdm import tqdm

from . import checkpoint as ckpt
from . import fused
from .config import DataConfig, TrainConfig
from .inspect_model import tensorboard_log, tensorboard_writer
from .errors import NnlmError
from .evaluate import evaluate
from .model import build_model
from .optim import FlatOptimizer, flatten_parameters
from .distributed import Group, setup, teardown
from .rundir import RunSpec, load_spec, locked, new_run, write_spec
from .runtime import resolve_device

MATERIALIZE_LIMIT = 64 * 1024**2  # contexts held as one tensor up to this many token ids
TRAIN_EVAL_LIMIT = 400_000  # summary's train loss: on at most this many examples, evenly spaced


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
    stopped: str  # "steps", "time", "target" or "interrupted by SIGINT"/"SIGTERM"
    rank: int = 0  # this process's rank under torchrun (only rank 0 reports)

    def to_json(self) -> dict:
        d = dict(self.__dict__)
        d["run_dir"] = str(self.run_dir)
        return d


class Batches:
    """Minibatch `step` of an epoch-wise shuffle that depends only on (seed, step).

    So a resumed run sees exactly the batches the uninterrupted run would have. Under
    data parallelism the global batch is world * batch_size examples and rank r takes
    the r-th slice: together the ranks see what one process with the global batch would.
    """

    def __init__(self, windows, batch_size: int, seed: int, device,
                 rank: int = 0, world: int = 1):
        """windows: data.Windows or words.StreamWindows (anything with contexts/targets)."""
        self.windows, self.seed, self.device = windows, seed, device
        self.n, self.rank, self.world = len(windows), rank, world
        self.batch_size = max(1, min(batch_size, self.n // world))
        self.per_epoch = max(1, self.n // (self.batch_size * world))
        self.epoch, self.perm = -1, None
        self.x = self.y = None
        if self.n * windows.block_size <= MATERIALIZE_LIMIT:
            x, y = windows.tensors()
            self.x, self.y = x.to(device), y.to(device)

    def get(self, step: int) -> tuple[torch.Tensor, torch.Tensor]:
        epoch, k = divmod(step, self.per_epoch)
        if epoch != self.epoch:
            g = torch.Generator().manual_seed(self.seed * 1_000_003 + epoch)
            self.perm = torch.randperm(self.n, generator=g)
            if self.x is not None:
                self.perm = self.perm.to(self.device)
            self.epoch = epoch
        start = (k * self.world + self.rank) * self.batch_size
        idx = self.perm[start:start + self.batch_size]
        if self.x is not None:
            return self.x[idx], self.y[idx]
        return (self.windows.contexts(idx).to(self.device, non_blocking=True),
                self.windows.targets(idx).to(self.device, non_blocking=True))


class Subset:
    """Some examples of a windows object, with the same interface."""

    def __init__(self, windows, index: torch.Tensor):
        self.windows, self.index, self.block_size = windows, index, windows.block_size

    def __len__(self) -> int:
        return self.index.numel()

    def contexts(self, index: torch.Tensor) -> torch.Tensor:
        return self.windows.contexts(self.index[index])

    def targets(self, index: torch.Tensor) -> torch.Tensor:
        return self.windows.targets(self.index[index])


def learning_rate(cfg: TrainConfig, step: int, elapsed: float) -> float:
    if step < cfg.warmup_steps:
        return cfg.lr * (step + 1) / cfg.warmup_steps
    if cfg.lr_schedule == "constant":
        return cfg.lr
    if cfg.lr_schedule == "inverse":  # the paper: eps_t = eps_0 / (1 + r t), t in examples
        return cfg.lr / (1 + cfg.lr_decay * step * cfg.batch_size)
    if cfg.lr_schedule == "step":
        return cfg.lr * (cfg.lr_drop if cfg.lr_drop_step and step >= cfg.lr_drop_step else 1.0)
    progress = (step - cfg.warmup_steps) / max(1, cfg.steps - cfg.warmup_steps)
    if cfg.max_seconds:  # a time budget: decay along whichever runs out first
        progress = max(progress, elapsed / cfg.max_seconds)
    progress = min(1.0, progress)
    floor = cfg.lr * cfg.min_lr
    if cfg.lr_schedule == "linear":
        return floor + (cfg.lr - floor) * (1 - progress)
    return floor + (cfg.lr - floor) * 0.5 * (1 + math.cos(math.pi * progress))


def make_optimizer(model, cfg: TrainConfig) -> FlatOptimizer:
    """Flatten the model's parameters and build the optimizer over them."""
    flat, grad = flatten_parameters(model)
    # decay where the model's decay_groups say: weight matrices and C, not biases or gains
    decaying = {id(p) for p in model.decay_groups(cfg.weight_decay)[0]["params"]}
    decay_mask = torch.cat([torch.full((p.numel(),), float(id(p) in decaying))
                            for p in model.parameters()])
    return FlatOptimizer(flat, grad, decay_mask, cfg.optimizer, cfg.weight_decay,
                         beta2=cfg.beta2, momentum=cfg.momentum)


class StopSignals:
    """While active, SIGINT/SIGTERM set a flag the loop checks, instead of killing it."""

    def __init__(self):
        self.received: str | None = None
        self._previous = {}

    def __enter__(self):
        if threading.current_thread() is threading.main_thread():
            for sig in (signal.SIGINT, signal.SIGTERM):
                self._previous[sig] = signal.signal(sig, self._handle)
        return self

    def _handle(self, signum, frame):
        self.received = signal.Signals(signum).name

    def __exit__(self, *exc):
        for sig, handler in self._previous.items():
            signal.signal(sig, handler)


class Trainer:
    def __init__(self, spec: RunSpec, device: torch.device, progress: bool = True,
                 target_loss: float | None = None, group: Group | None = None):
        self.spec, self.cfg, self.device = spec, spec.train, device
        self.group = group or Group()
        self.progress, self.target_loss = progress and self.group.is_main, target_loss
        torch.manual_seed(self.cfg.seed)
        self.model = build_model(spec.model).to(device)
        self.optimizer = make_optimizer(self.model, self.cfg)
        self.group.broadcast(self.optimizer.flat)  # every rank starts from rank 0's weights
        self.fused = fused.supports(self.model)
        self.train_windows = spec.windows("train")
        self.dev_windows = spec.windows("dev")
        self.batches = Batches(self.train_windows, self.cfg.batch_size, self.cfg.seed, device,
                               self.group.rank, self.group.world)
        self.step, self.elapsed_before = 0, 0.0
        self.best_loss, self.best_step = math.inf, 0
        self.last_dev, self.last_eval_step = math.nan, -1
        self.pending_loss, self.logged_step = 0.0, 0  # train loss summed since the last log line
        self.metrics = self.tensorboard = None
        self.agreed_elapsed = 0.0  # the clock all ranks use for a time-based schedule

    # -- state on disk -------------------------------------------------------------
    def resume_from_checkpoint(self) -> bool:
        path = self.spec.run_dir / ckpt.CHECKPOINT
        if not path.exists():
            return False  # died before its first checkpoint: start again from step 0
        tensors, meta = ckpt.load_tensors(path)
        weights = {k[6:]: v for k, v in tensors.items() if k.startswith("model.")}
        ckpt.check_state_dict(path, weights, self.model)
        self.model.load_state_dict(weights)
        try:
            self.optimizer.load_state(tensors, int(meta["optimizer_t"]))
            self.step, self.elapsed_before = int(meta["step"]), float(meta["elapsed"])
            self.best_loss, self.best_step = float(meta["best_loss"]), int(meta["best_step"])
            self.pending_loss, self.logged_step = float(meta["pending_loss"]), int(meta["logged_step"])
        except (KeyError, ValueError, TypeError) as e:
            raise NnlmError(f"{path}: bad training state ({e})") from None
        rng = tensors.get("rng.torch")
        if rng is not None:
            expected = torch.get_rng_state()
            if rng.dtype != expected.dtype or rng.shape != expected.shape:
                raise NnlmError(f"{path}: rng.torch is not a random-generator state")
            torch.set_rng_state(rng)
        return True

    def save_checkpoint(self, elapsed: float) -> None:
        if not self.group.is_main:  # every rank holds the same weights; one writes
            return
        tensors = {f"model.{k}": v for k, v in self.model.state_dict().items()}
        tensors.update(self.optimizer.state_tensors())
        tensors["rng.torch"] = torch.get_rng_state()
        meta = {"step": self.step, "elapsed": elapsed, "best_loss": self.best_loss,
                "best_step": self.best_step, "optimizer_t": self.optimizer.t,
                "pending_loss": self.loss_sum.item() if self.step else 0.0,
                "logged_step": self.logged[0] if self.step else 0}
        ckpt.save_tensors(self.spec.run_dir / ckpt.CHECKPOINT, tensors, meta)

    def save_best(self, dev_loss: float) -> None:
        self.best_loss, self.best_step = dev_loss, self.step
        if self.group.is_main:
            ckpt.save_tensors(self.spec.run_dir / ckpt.MODEL, self.model.state_dict(),
                              {"step": self.step, "dev_loss": dev_loss})

    def open_metrics(self):
        """Append to metrics.jsonl, first dropping lines past the checkpoint's step."""
        if not self.group.is_main:
            return
        path = self.spec.run_dir / ckpt.METRICS
        lines = path.read_text().splitlines() if path.exists() else []
        kept = [ln for ln in lines if _line_step(ln) is not None and _line_step(ln) <= self.step]
        if len(kept) != len(lines):
            ckpt.atomic_write(path, "".join(ln + "\n" for ln in kept).encode())
        # line-buffered: a killed run's log shows how far it got past its last checkpoint
        self.metrics = open(path, "a", encoding="utf-8", buffering=1)  # noqa: SIM115
        self.tensorboard = tensorboard_writer(self.spec.run_dir, self.step)  # None: not installed

    def log(self, record: dict) -> None:
        if self.metrics is None:  # not rank 0
            return
        self.metrics.write(json.dumps(record) + "\n")
        if self.tensorboard:
            tensorboard_log(self.tensorboard, record)

    # -- the loop --------------------------------------------------------------------
    def run(self) -> str:
        """Train until steps, time budget, target loss or a signal; returns why it stopped."""
        cfg = self.cfg
        start = time.perf_counter()
        self.elapsed = lambda: self.elapsed_before + time.perf_counter() - start
        self.open_metrics()
        if self.step == 0:
            self.evaluate_and_checkpoint()  # a loadable run directory from the first moment
        self.bar = tqdm(total=cfg.steps, initial=self.step, unit="step", disable=not self.progress,
                        dynamic_ncols=True, mininterval=0.5, leave=False)
        self.loss_sum = torch.tensor(self.pending_loss, device=self.device)
        self.logged = (self.logged_step, time.perf_counter())
        stopped = "steps"
        with StopSignals() as signals:
            while self.step < cfg.steps:
                reason = self.stop_reason(signals)
                if reason:
                    stopped = reason
                    break
                self.train_step()
                if self.step % cfg.log_interval == 0 or self.step == cfg.steps:
                    self.log_train()
                at_eval = self.step % cfg.eval_interval == 0 or self.step == cfg.steps
                if at_eval and self.evaluate_and_checkpoint() <= (self.target_loss or -math.inf):
                    stopped = "target"
                    break
            if stopped.startswith("interrupted"):
                # checkpoint only: an evaluation here would not happen in an uninterrupted
                # run, and could change which weights are best
                self.save_checkpoint(self.elapsed())
            elif self.last_eval_step != self.step:  # stopped by the clock between evaluations
                self.evaluate_and_checkpoint()
        self.bar.close()
        if self.metrics:
            self.metrics.close()
        if self.tensorboard:
            self.tensorboard.close()
        return stopped

    STOPS = ("time", "interrupted by SIGINT", "interrupted by SIGTERM")

    def stop_reason(self, signals: StopSignals) -> str | None:
        """Why to stop before this step, if at all. Ranks must stop at the same step, so
        with several processes they decide together, at log steps only."""
        reason = f"interrupted by {signals.received}" if signals.received else None
        if not reason and self.cfg.max_seconds and self.elapsed() >= self.cfg.max_seconds:
            reason = "time"
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
        lr = learning_rate(self.cfg, self.step, self.agreed_elapsed)
        x, y = self.batches.get(self.step)  # (B, block_size), (B,)
        if self.fused:
            loss = fused.loss_and_grad(self.model, x, y)  # overwrites the gradients
        else:
            self.optimizer.zero_grad()
            _, loss = self.model(x, y)
            loss.backward()  # accumulates into the flat gradient buffer's views
        if self.group.world > 1:  # average the ranks' gradients: one all-reduce, one bucket
            self.group.all_reduce_sum(self.optimizer.grad).mul_(1.0 / self.group.world)
        self.optimizer.step(lr)
        self.loss_sum += loss.detach()  # summed on the device: no host sync per step
        self.step += 1
        self.lr = lr

    def log_train(self) -> None:
        last_step, last_time = self.logged
        steps = self.step - last_step
        world = self.group.world
        loss = self.group.all_reduce_sum(self.loss_sum.clone()).item() / max(steps * world, 1)
        if not math.isfinite(loss):
            raise NnlmError(
                f"training diverged: the loss is {loss} at step {self.step}; {self.spec.run_dir} "
                f"keeps the last good checkpoint (best step {self.best_step}); try a lower --lr")
        now = time.perf_counter()
        rate = steps * self.batches.batch_size * world / max(now - last_time, 1e-9)
        self.log({"step": self.step, "examples": self.step * self.batches.batch_size * world,
                  "train_loss": round(loss, 5), "lr": self.lr, "seconds": round(self.elapsed(), 3)})
        self.bar.set_postfix_str(f"loss {loss:.4f} dev {self.last_dev:.4f} {rate:,.0f} ex/s",
                                 refresh=False)
        self.bar.update(self.step - self.bar.n)
        self.loss_sum.zero_()
        self.logged = (self.step, now)

    def evaluate_and_checkpoint(self) -> float:
        dev = evaluate(self.model, self.dev_windows, self.device, self.group).loss \
            if len(self.dev_windows) else math.nan
        self.last_dev, self.last_eval_step = dev, self.step
        if math.isinf(dev) or (math.isnan(dev) and len(self.dev_windows)):
            raise NnlmError(
                f"training diverged: the dev loss is {dev} at step {self.step}; "
                f"{self.spec.run_dir} keeps the last good checkpoint; try a lower --lr")
        self.log({"step": self.step, "dev_loss": round(dev, 5), "seconds": round(self.elapsed(), 3)})
        if dev < self.best_loss or not len(self.dev_windows):  # no dev set: keep the latest
            self.save_best(dev)
        self.save_checkpoint(self.elapsed())
        return dev


def _line_step(line: str) -> int | None:
    try:
        return int(json.loads(line)["step"])
    except (ValueError, KeyError, TypeError):
        return None


def train(data: str | None = None, out: str | None = None, *, preset: str = "default",
          resume: bool = False, overwrite: bool = False, split_seed: int = 42,
          split: tuple = (0.8, 0.1, 0.1), dedupe: bool = False, progress: bool = True,
          target_loss: float | None = None, data_options: dict | None = None,
          **settings) -> TrainResult:
    """Train a model on DATA (default: the bundled names) into the run directory OUT.

    `settings` are the model and training settings of config.TrainConfig and
    model.ModelConfig (block_size=8, lr=3e-3, ...), over those of `preset`.
    With resume=True, continue the run in OUT from its last checkpoint.
    `data_options` are further config.DataConfig fields: level="word", word_mode, lowercase,
    min_count, vocab_from, split_tokens.
    """
    started = time.perf_counter()
    if resume:
        if out is None:
            raise NnlmError("--resume needs --out RUN_DIR, the run to continue")
        if data is not None:
            raise NnlmError("--resume takes no DATA: the run directory holds its data split")
        spec = load_spec(out, overrides=settings)
    group = setup(resolve_device(spec.train.device if resume else
                                 settings.get("device") or "auto"))
    try:
        if not resume:  # every rank builds the same spec; rank 0 alone claims the directory
            data_cfg = DataConfig(split_seed=split_seed, split=tuple(split), dedupe=dedupe,
                                  **(data_options or {}))
            spec = new_run(data, out, preset, settings, data_cfg, overwrite, claim=group.is_main)
        device = group.device if group.world > 1 else resolve_device(spec.train.device)
        with locked(spec.run_dir) if group.is_main else contextlib.nullcontext():
            if not resume and group.is_main:
                write_spec(spec)
            group.barrier()
            trainer = Trainer(spec, device, progress, target_loss, group)
            if resume and trainer.resume_from_checkpoint() and trainer.step >= spec.train.steps:
                raise NnlmError(f"{spec.run_dir}: the run already finished its {trainer.step} "
                                "steps; pass a larger --steps to train longer")
            setup_seconds = time.perf_counter() - started
            stopped = trainer.run()
            return finish(trainer, stopped, setup_seconds)
    finally:
        teardown(group)


def finish(trainer: Trainer, stopped: str, setup_seconds: float) -> TrainResult:
    """Evaluate the best-on-dev weights on every split and write summary.json."""
    spec, seconds, group = trainer.spec, trainer.elapsed(), trainer.group
    group.barrier()  # rank 0 has written the best weights
    tensors, _ = ckpt.load_tensors(spec.run_dir / ckpt.MODEL)
    trainer.model.load_state_dict(tensors)
    losses = {}
    built = {"train": trainer.train_windows, "dev": trainer.dev_windows}
    for name in ("train", "dev", "test"):
        windows = built[name] if name in built else spec.windows(name)
        if name == "train" and len(windows) > TRAIN_EVAL_LIMIT:  # a big corpus: a fixed sample
            windows = Subset(windows, torch.linspace(0, len(windows) - 1, TRAIN_EVAL_LIMIT).long())
        losses[name] = evaluate(trainer.model, windows, trainer.device, group).loss \
            if len(windows) else None
    result = TrainResult(spec.run_dir, trainer.step, seconds, setup_seconds, trainer.best_step,
                         losses["train"], losses["dev"], losses["test"], stopped, group.rank)
    if group.is_main:
        ckpt.write_json(spec.run_dir / "summary.json", result.to_json())
    return result
