"""Training: minibatch AdamW/SGD with a schedule, dev evaluation, best-on-dev weights,
checkpoints for resume, a time budget, and clean stops on SIGINT/SIGTERM."""

from __future__ import annotations

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
from .config import TrainConfig
from .evaluate import evaluate
from .model import MLP
from .config import DataConfig
from .errors import NnlmError
from .runtime import resolve_device
from .rundir import RunSpec, load_spec, locked, new_run, write_spec

MATERIALIZE_LIMIT = 64 * 1024**2  # contexts held as one tensor up to this many token ids
TRAIN_EVAL_LIMIT = 400_000  # summary's train loss: on at most this many examples, evenly spaced


@dataclass
class TrainResult:
    run_dir: Path
    step: int  # steps taken in total (including earlier sessions of a resumed run)
    seconds: float  # training time in total
    best_step: int
    train_loss: float  # of the best-on-dev weights
    dev_loss: float
    test_loss: float | None
    stopped: str  # "steps", "time", "target" or "interrupted by SIGINT"/"SIGTERM"

    def to_json(self) -> dict:
        d = dict(self.__dict__)
        d["run_dir"] = str(self.run_dir)
        return d


class Batches:
    """Minibatch `step` of an epoch-wise shuffle that depends only on (seed, step).

    So a resumed run sees exactly the batches the uninterrupted run would have.
    """

    def __init__(self, windows, batch_size: int, seed: int, device):
        """windows: data.Windows or words.StreamWindows (anything with contexts/targets)."""
        self.windows, self.seed, self.device = windows, seed, device
        self.n = len(windows)
        self.batch_size = min(batch_size, self.n)
        self.per_epoch = self.n // self.batch_size
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
        idx = self.perm[k * self.batch_size:(k + 1) * self.batch_size]
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


def make_optimizer(model: MLP, cfg: TrainConfig) -> torch.optim.Optimizer:
    groups = model.decay_groups(cfg.weight_decay)
    if cfg.optimizer == "sgd":
        # the paper's and lecture's plain SGD: decay added to the gradient (L2)
        return torch.optim.SGD(groups, lr=cfg.lr, momentum=cfg.momentum)
    return torch.optim.AdamW(groups, lr=cfg.lr, betas=(0.9, cfg.beta2), foreach=True)


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
                 target_loss: float | None = None):
        self.spec, self.cfg, self.device = spec, spec.train, device
        self.progress, self.target_loss = progress, target_loss
        torch.manual_seed(self.cfg.seed)
        self.model = MLP(spec.model).to(device)
        self.optimizer = make_optimizer(self.model, self.cfg)
        self.train_windows = spec.windows("train")
        self.dev_windows = spec.windows("dev")
        self.batches = Batches(self.train_windows, self.cfg.batch_size, self.cfg.seed, device)
        self.step, self.elapsed_before = 0, 0.0
        self.best_loss, self.best_step = math.inf, 0
        self.last_dev, self.last_eval_step = math.nan, -1
        self.pending_loss, self.logged_step = 0.0, 0  # train loss summed since the last log line
        self.metrics = None

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
            self.optimizer.load_state_dict(ckpt.optimizer_from_tensors(tensors, meta["optimizer"]))
            self.step, self.elapsed_before = int(meta["step"]), float(meta["elapsed"])
            self.best_loss, self.best_step = float(meta["best_loss"]), int(meta["best_step"])
            self.pending_loss, self.logged_step = float(meta["pending_loss"]), int(meta["logged_step"])
        except (KeyError, ValueError, TypeError) as e:
            raise NnlmError(f"{path}: bad training state ({e})") from None
        if "rng.torch" in tensors:
            torch.set_rng_state(tensors["rng.torch"])
        return True

    def save_checkpoint(self, elapsed: float) -> None:
        opt_tensors, opt_meta = ckpt.optimizer_to_tensors(self.optimizer)
        tensors = {f"model.{k}": v for k, v in self.model.state_dict().items()}
        tensors.update(opt_tensors)
        tensors["rng.torch"] = torch.get_rng_state()
        meta = {"step": self.step, "elapsed": elapsed, "best_loss": self.best_loss,
                "best_step": self.best_step, "optimizer": opt_meta,
                "pending_loss": self.loss_sum.item() if self.step else 0.0,
                "logged_step": self.logged[0] if self.step else 0}
        ckpt.save_tensors(self.spec.run_dir / ckpt.CHECKPOINT, tensors, meta)
        if self.metrics:
            self.metrics.flush()

    def save_best(self, dev_loss: float) -> None:
        self.best_loss, self.best_step = dev_loss, self.step
        ckpt.save_tensors(self.spec.run_dir / ckpt.MODEL, self.model.state_dict(),
                          {"step": self.step, "dev_loss": dev_loss})

    def open_metrics(self):
        """Append to metrics.jsonl, first dropping lines past the checkpoint's step."""
        path = self.spec.run_dir / ckpt.METRICS
        lines = path.read_text().splitlines() if path.exists() else []
        kept = [ln for ln in lines if _line_step(ln) is not None and _line_step(ln) <= self.step]
        if len(kept) != len(lines):
            ckpt.atomic_write(path, "".join(ln + "\n" for ln in kept).encode())
        self.metrics = open(path, "a", encoding="utf-8")

    def log(self, record: dict) -> None:
        self.metrics.write(json.dumps(record) + "\n")

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
                if signals.received:
                    stopped = f"interrupted by {signals.received}"
                    break
                if cfg.max_seconds and self.elapsed() >= cfg.max_seconds:
                    stopped = "time"
                    break
                self.train_step()
                if self.step % cfg.log_interval == 0 or self.step == cfg.steps:
                    self.log_train()
                if self.step % cfg.eval_interval == 0 or self.step == cfg.steps:
                    if self.evaluate_and_checkpoint() <= (self.target_loss or -math.inf):
                        stopped = "target"
                        break
            if stopped.startswith("interrupted"):
                # checkpoint only: an evaluation here would not happen in an uninterrupted
                # run, and could change which weights are best
                self.save_checkpoint(self.elapsed())
            elif self.last_eval_step != self.step:  # stopped by the clock between evaluations
                self.evaluate_and_checkpoint()
        self.bar.close()
        self.metrics.close()
        return stopped

    def train_step(self) -> None:
        lr = learning_rate(self.cfg, self.step, self.elapsed())
        for group in self.optimizer.param_groups:
            group["lr"] = lr
        x, y = self.batches.get(self.step)  # (B, block_size), (B,)
        _, loss = self.model(x, y)
        self.optimizer.zero_grad(set_to_none=True)
        loss.backward()
        self.optimizer.step()
        self.loss_sum += loss.detach()  # summed on the device: no host sync per step
        self.step += 1
        self.lr = lr

    def log_train(self) -> None:
        last_step, last_time = self.logged
        steps = self.step - last_step
        loss = self.loss_sum.item() / max(steps, 1)
        if not math.isfinite(loss):
            raise NnlmError(
                f"training diverged: the loss is {loss} at step {self.step}; {self.spec.run_dir} "
                f"keeps the last good checkpoint (best step {self.best_step}); try a lower --lr")
        now = time.perf_counter()
        rate = steps * self.batches.batch_size / max(now - last_time, 1e-9)
        self.log({"step": self.step, "examples": self.step * self.batches.batch_size,
                  "train_loss": round(loss, 5), "lr": self.lr, "seconds": round(self.elapsed(), 3)})
        self.bar.set_postfix_str(f"loss {loss:.4f} dev {self.last_dev:.4f} {rate:,.0f} ex/s",
                                 refresh=False)
        self.bar.update(self.step - self.bar.n)
        self.loss_sum.zero_()
        self.logged = (self.step, now)

    def evaluate_and_checkpoint(self) -> float:
        dev = evaluate(self.model, self.dev_windows, self.device).loss if len(self.dev_windows) \
            else math.nan
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
    if resume:
        if out is None:
            raise NnlmError("--resume needs --out RUN_DIR, the run to continue")
        if data is not None:
            raise NnlmError("--resume takes no DATA: the run directory holds its data split")
        spec = load_spec(out, overrides=settings)
    else:
        data_cfg = DataConfig(split_seed=split_seed, split=tuple(split), dedupe=dedupe,
                              **(data_options or {}))
        spec = new_run(data, out, preset, settings, data_cfg, overwrite)
    device = resolve_device(spec.train.device)
    with locked(spec.run_dir):
        if not resume:
            write_spec(spec)
        trainer = Trainer(spec, device, progress=progress, target_loss=target_loss)
        if resume and trainer.resume_from_checkpoint() and trainer.step >= spec.train.steps:
            raise NnlmError(f"{spec.run_dir}: the run already finished its {trainer.step} steps; "
                            "pass a larger --steps to train longer")
        stopped = trainer.run()
        return finish(trainer, stopped)


def finish(trainer: Trainer, stopped: str) -> TrainResult:
    """Evaluate the best-on-dev weights on every split and write summary.json."""
    spec = trainer.spec
    tensors, _ = ckpt.load_tensors(spec.run_dir / ckpt.MODEL)
    trainer.model.load_state_dict(tensors)
    losses = {}
    built = {"train": trainer.train_windows, "dev": trainer.dev_windows}
    for name in ("train", "dev", "test"):
        windows = built[name] if name in built else spec.windows(name)
        if name == "train" and len(windows) > TRAIN_EVAL_LIMIT:  # a big corpus: a fixed sample
            windows = Subset(windows, torch.linspace(0, len(windows) - 1, TRAIN_EVAL_LIMIT).long())
        losses[name] = evaluate(trainer.model, windows, trainer.device).loss if len(windows) else None
    result = TrainResult(spec.run_dir, trainer.step, trainer.elapsed(), trainer.best_step,
                         losses["train"], losses["dev"], losses["test"], stopped)
    ckpt.write_json(spec.run_dir / "summary.json", result.to_json())
    return result
