"""The learning-rate finder of the makemore lecture: train a fresh model for a short
run while the lr grows exponentially, and see where the loss falls fastest and where
it blows up.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from pathlib import Path

import torch

from .config import preset_settings, split_settings
from .data import Vocab, Windows, bundled_names_path, read_items, split_items
from .inspect_model import ema
from .model import MLP, ModelConfig
from .runtime import resolve_device
from .train import Batches, make_optimizer

DIVERGED = 4.0  # stop once the smoothed loss is this many times its minimum


@dataclass
class LRFindResult:
    lrs: list[float]  # the lr of each step taken
    losses: list[float]  # that step's minibatch loss
    smoothed: list[float]  # EMA of the losses
    suggestion: float
    data: str  # the data file's name, for titles


def lr_schedule(lr_min: float, lr_max: float, steps: int) -> list[float]:
    """lr_min to lr_max, evenly spaced in log: the lecture's 10 ** linspace(-3, 0, n)."""
    lo, hi = math.log10(lr_min), math.log10(lr_max)
    return [10 ** (lo + (hi - lo) * i / max(1, steps - 1)) for i in range(steps)]


def lr_find(data: str | None = None, *, preset: str = "default", steps: int = 300,
            lr_min: float = 1e-4, lr_max: float = 1.0, beta: float = 0.95,
            split_seed: int = 42, **settings) -> LRFindResult:
    """Sweep the lr over `steps` minibatches of the training split of DATA.

    `settings` override the preset's model and training settings (batch_size, optimizer,
    block_size, ...), as for nnlm.train; the preset's lr and schedule are ignored.
    """
    merged = {**preset_settings(preset), **{k: v for k, v in settings.items() if v is not None}}
    model_settings, cfg = split_settings(merged)
    path = Path(data) if data else bundled_names_path()
    train_items = split_items(read_items(path), split_seed).train
    vocab = Vocab.from_items(train_items)
    device = resolve_device(cfg.device)
    torch.manual_seed(cfg.seed)
    model = MLP(ModelConfig(vocab_size=len(vocab), **model_settings)).to(device)
    optimizer = make_optimizer(model, cfg)
    batches = Batches(Windows(train_items, vocab, model.config.block_size), cfg.batch_size,
                      cfg.seed, device)
    lrs, losses = [], []
    for step, lr in enumerate(lr_schedule(lr_min, lr_max, steps)):
        loss = sweep_step(model, optimizer, batches.get(step), lr)
        lrs.append(lr)
        losses.append(loss)
        smoothed = ema(losses, beta)
        if not math.isfinite(loss) or smoothed[-1] > DIVERGED * min(smoothed):
            break  # diverged: larger lrs only say the same thing louder
    smoothed = centered_ema(losses, beta)
    return LRFindResult(lrs, losses, smoothed, suggest(lrs, smoothed), path.name)


def sweep_step(model: MLP, optimizer, batch, lr: float) -> float:
    """One optimizer step at `lr` on batch (x (B, block_size), y (B,)); its loss."""
    for group in optimizer.param_groups:
        group["lr"] = lr
    _, loss = model(*batch)
    optimizer.zero_grad(set_to_none=True)
    loss.backward()
    optimizer.step()
    return loss.item()


def centered_ema(values: list[float], beta: float) -> list[float]:
    """Mean of a forward and a backward EMA: smooth, but without the forward EMA's lag.

    A plain EMA trails the loss by ~1/(1 - beta) steps, which in a sweep means a lr
    ~1.9x too high (20 steps of 4 decades / 300); averaging both directions cancels it.
    """
    backward = ema(values[::-1], beta)[::-1]
    return [(f + b) / 2 for f, b in zip(ema(values, beta), backward)]


def suggest(lrs: list[float], smoothed: list[float]) -> float:
    """The lr at the bottom of the smoothed loss's valley, the lecture's pick by eye.

    Not the usual "a tenth of the minimum": in a 300-step sweep the loss at small lrs
    still falls from training alone, which already puts the minimum below the lr a
    full run wants. Measured on names (seeds 1-3): minimum 4e-3 to 7e-3 with AdamW,
    whose tuned lr is 1e-2; 0.2 to 0.3 with the lecture's SGD, where it chose 0.1.
    """
    finite = [(s, lr) for s, lr in zip(smoothed, lrs) if math.isfinite(s)]
    return min(finite)[1]
