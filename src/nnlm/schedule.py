"""The learning-rate schedules."""

from __future__ import annotations

import math

from .config import TrainConfig


def learning_rate(cfg: TrainConfig, step: int, elapsed: float) -> float:
    """The lr of step `step`, `elapsed` seconds into training (a time budget's schedule
    follows whichever of steps and seconds runs out first)."""
    if step < cfg.warmup_steps:
        return cfg.lr * (step + 1) / cfg.warmup_steps
    if cfg.lr_schedule == "constant":
        return cfg.lr
    if cfg.lr_schedule == "inverse":  # the paper: eps_t = eps_0 / (1 + r t), t in examples
        return cfg.lr / (1 + cfg.lr_decay * step * cfg.batch_size)
    if cfg.lr_schedule == "step":
        return cfg.lr * (cfg.lr_drop if cfg.lr_drop_step and step >= cfg.lr_drop_step else 1.0)
    progress = (step - cfg.warmup_steps) / max(1, cfg.steps - cfg.warmup_steps)
    if cfg.max_seconds:
        progress = max(progress, elapsed / cfg.max_seconds)
    progress = min(1.0, progress)
    floor = cfg.lr * cfg.min_lr
    if cfg.lr_schedule == "linear":
        return floor + (cfg.lr - floor) * (1 - progress)
    return floor + (cfg.lr - floor) * 0.5 * (1 + math.cos(math.pi * progress))
