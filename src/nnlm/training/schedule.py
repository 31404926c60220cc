"""The learning-rate schedules."""

from __future__ import annotations

import math

from ..settings.training import TrainConfig


def learning_rate(cfg: TrainConfig, step: int, elapsed: float) -> float:
    """The lr of step `step`, `elapsed` seconds into training (a time budget's schedule
    follows whichever of steps and seconds runs out first)."""
    if step < cfg.warmup_steps:
        return cfg.lr * (step + 1) / cfg.warmup_steps
    if cfg.lr_schedule == "constant" or cfg.lr_schedule == "plateau":  # (plateau: see Plateau)
        return cfg.lr
    if cfg.lr_schedule == "inverse":  # the paper: eps_t = eps_0 / (1 + r t), t in examples
        return cfg.lr / (1 + cfg.lr_decay * step * cfg.batch_size)
    if cfg.lr_schedule == "step":
        return cfg.lr * (cfg.lr_drop if cfg.lr_drop_step and step >= cfg.lr_drop_step else 1.0)
    progress = (step - cfg.warmup_steps) / max(1, cfg.steps - cfg.warmup_steps) if cfg.steps else 0.0
    if cfg.max_seconds:
        progress = max(progress, elapsed / cfg.max_seconds)
    progress = min(1.0, progress)
    floor = cfg.lr * cfg.min_lr
    if cfg.lr_schedule == "linear":
        return floor + (cfg.lr - floor) * (1 - progress)
    return floor + (cfg.lr - floor) * 0.5 * (1 + math.cos(math.pi * progress))


class Plateau:
    """The plateau schedule: the peak lr until dev stops improving for `patience`
    evaluations, or until the run nears its end (the last `cooldown` of its steps or
    seconds); then a cosine decay to min_lr over `cooldown` of the run, after which (or
    after `patience` more evaluations without improvement) training is over.

    So a small data set that starts to overfit anneals and stops early, and a big one
    trains at full speed until its budget runs low and anneals into the end of it."""

    def __init__(self, cfg: TrainConfig):
        self.cfg = cfg
        self.start_step: int | None = None  # where the decay began
        self.start_time = 0.0  # and when, in seconds of training
        self.length = 0  # the decay's length in steps (0: it runs to the time budget)
        self.early = False  # the decay began because dev stopped improving

    def state(self) -> dict:
        return {"start_step": self.start_step, "start_time": self.start_time, "length": self.length,
                "early": self.early}

    def load(self, state: dict) -> None:
        start = state.get("start_step")
        self.start_step = None if start is None else int(start)
        self.start_time, self.length = float(state["start_time"]), int(state["length"])
        self.early = bool(state["early"])

    def begin_decay(self, step: int, elapsed: float, length: int) -> None:
        self.start_step, self.start_time, self.length = step, elapsed, length

    def progress(self, step: int, elapsed: float) -> float:
        """How far the decay has gone, 0..1 (0 before it begins)."""
        cfg = self.cfg
        if self.start_step is None:
            near_end = ((cfg.max_seconds and elapsed >= (1 - cfg.cooldown) * cfg.max_seconds)
                        or (cfg.steps and step >= (1 - cfg.cooldown) * cfg.steps))
            if not near_end:
                return 0.0
            self.begin_decay(step, elapsed, max(1, cfg.steps - step) if cfg.steps else 0)
        by_steps = (step - self.start_step) / self.length if self.length else 0.0
        by_time = ((elapsed - self.start_time) / max(cfg.max_seconds - self.start_time, 1e-9)
                   if cfg.max_seconds else 0.0)
        return min(1.0, max(by_steps, by_time))

    def lr(self, step: int, elapsed: float) -> float:
        floor = self.cfg.lr * self.cfg.min_lr
        p = self.progress(step, elapsed)
        return floor + (self.cfg.lr - floor) * 0.5 * (1 + math.cos(math.pi * p))

    def stale(self, step: int, elapsed: float) -> bool:
        """Dev has not improved for `patience` evaluations: decay now, or stop if already
        decaying. Returns True when training should stop."""
        if self.start_step is not None:
            return True
        length = max(1, round(self.cfg.cooldown / (1 - self.cfg.cooldown) * step))
        self.begin_decay(step, elapsed, length)
        self.early = True
        return False

    def done(self, step: int, elapsed: float) -> bool:
        """The decay that dev's plateau began is over (the others end with the steps or time)."""
        return self.early and self.progress(step, elapsed) >= 1.0
