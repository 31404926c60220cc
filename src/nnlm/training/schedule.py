"""The learning-rate schedules, and patience (Schedule)."""

from __future__ import annotations

import math
from dataclasses import dataclass
from enum import Enum

from ..settings.training import TrainConfig


def cosine(peak: float, floor: float, progress: float) -> float:
    """The lr `progress` (0..1) of the way along a cosine decay from `peak` to `floor`."""
    return floor + (peak - floor) * 0.5 * (1 + math.cos(math.pi * progress))


def learning_rate(cfg: TrainConfig, step: int, elapsed: float, budget: float | None = None) -> float:
    """The lr of step `step`, `elapsed` seconds into training (a time budget's schedule
    follows whichever of steps and seconds runs out first); `budget`: the loop's seconds
    (default: cfg.max_seconds)."""
    budget = cfg.max_seconds if budget is None else budget
    if step < cfg.warmup_steps:
        return cfg.lr * (step + 1) / cfg.warmup_steps
    if cfg.lr_schedule == "constant" or cfg.lr_schedule == "plateau":  # (plateau: see Schedule)
        return cfg.lr
    if cfg.lr_schedule == "inverse":  # the paper: eps_t = eps_0 / (1 + r t), t in examples
        return cfg.lr / (1 + cfg.lr_decay * step * cfg.batch_size)
    if cfg.lr_schedule == "step":
        return cfg.lr * (cfg.lr_drop if cfg.lr_drop_step and step >= cfg.lr_drop_step else 1.0)
    progress = (step - cfg.warmup_steps) / max(1, cfg.steps - cfg.warmup_steps) if cfg.steps else 0.0
    if budget:
        progress = max(progress, elapsed / budget)
    progress = min(1.0, progress)
    floor = cfg.lr * cfg.min_lr
    if cfg.lr_schedule == "linear":
        return floor + (cfg.lr - floor) * (1 - progress)
    return cosine(cfg.lr, floor, progress)


class Verdict(Enum):
    """What the schedule says after a dev evaluation."""

    GO = "go on"
    DECAY = "anneal"  # the plateau schedule: dev stopped improving at the peak lr; the anneal begins
    STOP = "stop"  # dev stopped improving (while annealing, for the plateau schedule)


@dataclass
class Decay:
    """The plateau schedule's anneal: a cosine from the peak lr to min_lr."""

    start_step: int
    start_time: float  # seconds of training when it began
    length: int  # in steps (0: it runs to the end of the time budget)
    early: bool  # it began because dev stopped improving (not because the run neared its end)


class Schedule:
    """The lr of every step and the patience of a run: after each dev evaluation it answers
    whether to go on, to begin the plateau schedule's anneal, or to stop.

    The plateau schedule: the peak lr until dev stops improving for `patience` evaluations,
    or until the run nears its end (the last `cooldown` of its steps or seconds); then a
    cosine decay to min_lr over `cooldown` of the run, after which (or after `patience`
    more evaluations without improvement) training is over. So a small data set that starts
    to overfit anneals and stops early, and a big one trains at full speed until its budget
    runs low and anneals into the end of it. Other schedules follow `learning_rate` and stop
    after `patience` evaluations without improvement (0: never)."""

    def __init__(self, cfg: TrainConfig):
        self.cfg = cfg
        # the training loop's seconds: the run's time budget, less what the command spends
        # outside the loop (the trainer sets it; 0: no budget)
        self.budget = cfg.max_seconds
        self.plateau = cfg.lr_schedule == "plateau"
        self.stale = 0  # evaluations since dev last improved, or since the anneal began
        self.decay: Decay | None = None

    def advance(self, step: int, elapsed: float) -> float:
        """Move to step `step`, `elapsed` seconds into training (the plateau schedule's anneal
        begins here when the run nears its end); the step's lr."""
        cfg = self.cfg
        if self.plateau and step >= cfg.warmup_steps and self.decay is None and (
                (self.budget and elapsed >= (1 - cfg.cooldown) * self.budget)
                or (cfg.steps and step >= (1 - cfg.cooldown) * cfg.steps)):
            self.begin_decay(Decay(step, elapsed, max(1, cfg.steps - step) if cfg.steps else 0, early=False))
        return self.lr(step, elapsed)

    def lr(self, step: int, elapsed: float) -> float:
        """The lr of step `step`, `elapsed` seconds into training."""
        if not self.plateau or step < self.cfg.warmup_steps:
            return learning_rate(self.cfg, step, elapsed, self.budget)
        return cosine(self.cfg.lr, self.cfg.lr * self.cfg.min_lr, self.progress(step, elapsed))

    def progress(self, step: int, elapsed: float) -> float:
        """How far the anneal has gone, 0..1 (0 before it begins)."""
        if self.decay is None or step == self.decay.start_step:
            return 0.0  # (at its first step, not even the clock: the same run gives the same lrs)
        d, max_seconds = self.decay, self.budget
        by_steps = (step - d.start_step) / d.length if d.length else 0.0
        by_time = (elapsed - d.start_time) / max(max_seconds - d.start_time, 1e-9) if max_seconds else 0.0
        return min(1.0, max(by_steps, by_time))

    def count(self, improved: bool) -> None:
        """Count a dev evaluation, without deciding anything (the one after a run stopped)."""
        self.stale = 0 if improved else self.stale + 1

    def after_eval(self, improved: bool, step: int, elapsed: float) -> Verdict:
        """Count a dev evaluation at `step`; whether to go on, anneal or stop."""
        self.count(improved)
        if not self.cfg.patience or self.stale < self.cfg.patience:
            return Verdict.GO
        if not self.plateau or self.decay is not None:
            return Verdict.STOP
        cooldown = self.cfg.cooldown
        self.begin_decay(Decay(step, elapsed, max(1, round(cooldown / (1 - cooldown) * step)), early=True))
        return Verdict.DECAY

    def begin_decay(self, decay: Decay) -> None:
        """Begin the plateau schedule's anneal; patience counts again from here."""
        self.decay, self.stale = decay, 0  # patience counts again from the anneal's start

    def finished(self, step: int, elapsed: float) -> bool:
        """The anneal that dev's plateau began is over (the others end with the steps or time)."""
        return self.decay is not None and self.decay.early and self.progress(step, elapsed) >= 1.0

    def state(self) -> dict:
        """What a checkpoint keeps (the keys of nnlm's earlier checkpoints)."""
        state = {"stale": self.stale}
        if self.plateau:
            d = self.decay
            state["plateau"] = {"start_step": d and d.start_step, "start_time": d.start_time if d else 0.0,
                                "length": d.length if d else 0, "early": bool(d and d.early)}
        return state

    def load(self, state: dict) -> None:
        """The state a checkpoint kept (Schedule.state)."""
        self.stale = int(state.get("stale", 0))
        plateau = state.get("plateau")
        if self.plateau and plateau and plateau.get("start_step") is not None:
            self.decay = Decay(int(plateau["start_step"]), float(plateau["start_time"]),
                               int(plateau["length"]), bool(plateau["early"]))
            if "decay_seen" in state and state["decay_seen"] != self.decay.start_step:
                self.stale = 0  # an older checkpoint, from before the anneal's restart was counted
