"""The learning-rate finder of the makemore lecture: train a fresh model for a short
run while the lr grows exponentially, and see where the loss falls fastest and where
it blows up.
"""

from __future__ import annotations

import math
import statistics
from dataclasses import dataclass
from pathlib import Path

import torch

from ..data.sources import read_source
from ..data.text import bundled_names_path
from ..device import resolve_device
from ..errors import NnlmError
from ..models import FAMILIES, family_named
from ..run.spec import build_configs
from ..settings.data import DataConfig
from ..settings.declare import SHORT
from ..settings.partition import partition
from ..training.batching import make_batches
from ..training.optim import make_optimizer

DIVERGED = 4.0  # stop once a minibatch loss is this many times the lowest so far


@dataclass
class LRFindResult:
    """What `lr_find` measured: each step's lr and minibatch loss, the smoothed loss, and the lr
    it suggests (the bottom of the smoothed loss)."""

    lrs: list[float]  # the lr of each step taken
    losses: list[float]  # that step's minibatch loss
    smoothed: list[float]  # running median of the losses
    suggestion: float
    data: str  # the data file's name, for titles


def lr_schedule(lr_min: float, lr_max: float, steps: int) -> list[float]:
    """lr_min to lr_max, evenly spaced in log: the lecture's 10 ** linspace(-3, 0, n)."""
    lo, hi = math.log10(lr_min), math.log10(lr_max)
    return [10 ** (lo + (hi - lo) * i / max(1, steps - 1)) for i in range(steps)]


def lr_find(data: str | None = None, *, family: str | None = None, preset: str = "default",
            steps: int = 300, lr_min: float = 1e-4, lr_max: float = 1.0, model: str | None = None,
            data_options: dict | None = None, **settings) -> LRFindResult:
    """The learning-rate finder (`nnlm lr-find`): train a fresh model for `steps` minibatches of
    DATA's training split while the lr grows from lr_min to lr_max (evenly in log), stopping
    early where the loss blows up.

    Args:
        data: a text file, as for nnlm.train (None: the bundled names).
        family: the model family (None: chosen from the data).
        preset: the family's preset; its lr and schedule are replaced by the sweep.
        steps: the sweep's length (at least 10).
        lr_min, lr_max: the first and the last step's lr.
        model, data_options: the earlier names of `family` and of the data settings.
        **settings: the family's, training's (batch_size, optimizer...) and the data's settings,
            over the preset's, as for nnlm.train.

    Returns:
        An LRFindResult (draw it with nnlm.tools.plot.lr_sweep).

    Raises:
        NnlmError: bad settings or data, steps < 10, or not 0 < lr_min < lr_max.
    """
    family = family or model
    if steps < 10:
        raise NnlmError.about("steps", "--steps", f"must be at least 10 for a sweep, got {steps}")
    if not 0 < lr_min < lr_max:
        raise NnlmError(f"need 0 < lr_min < lr_max, got {lr_min:g} and {lr_max:g}",
                        cli=f"need 0 < --lr-min < --lr-max, got {lr_min:g} and {lr_max:g}")
    parts = partition({**settings, **(data_options or {})}, family_named(family) if family else None,
                      FAMILIES.values(), scopes=SHORT, purpose="the lr finder")
    source = read_source(data, DataConfig(**parts.data))
    fam, model_cfg, cfg, _ = build_configs(family, preset, parts, source)
    device = resolve_device(cfg.device)
    torch.manual_seed(cfg.seed)
    net = fam.build(model_cfg).to(device)
    optimizer = make_optimizer(net, cfg)
    batches = make_batches(net, source.windows("train", model_cfg.block_size), cfg.batch_size, cfg.seed,
                           device)
    lrs, losses = [], []
    for step, lr in enumerate(lr_schedule(lr_min, lr_max, steps)):
        loss = sweep_step(net, optimizer, batches.get(step), lr)
        lrs.append(lr)
        losses.append(loss)
        if not math.isfinite(loss) or loss > DIVERGED * min(losses):
            break  # diverged: larger lrs only say the same thing louder
    smoothed = running_median(losses)
    name = Path(data).name if data else bundled_names_path().name
    return LRFindResult(lrs, losses, smoothed, suggest(lrs, smoothed), name)


def sweep_step(model, optimizer, batch, lr: float) -> float:
    """One optimizer step at `lr` on batch (x (B, block_size), y (B,)); its loss."""
    optimizer.zero_grad()
    loss = model.loss_and_grad(*batch)
    optimizer.step(lr)
    return loss.item()


def running_median(values: list[float], half: int = 10) -> list[float]:
    """Median of each value's window of 2 * half + 1 neighbours, centered.

    Centered, so it does not lag (an EMA trails by ~1/(1 - beta) steps, a lr ~2x too
    high here), and a median, so neither minibatch spikes nor the final explosion drag
    the valley's floor around.
    """
    return [statistics.median(values[max(0, i - half):i + half + 1]) for i in range(len(values))]


def suggest(lrs: list[float], smoothed: list[float]) -> float:
    """The lr at the bottom of the smoothed loss's valley, the lecture's pick by eye.

    Not the usual "a tenth of the minimum": in a 300-step sweep the loss at small lrs
    still falls from training alone, which already puts the minimum below the lr a
    full run wants. Measured on names (4 seeds): 7e-3 to 9e-3 with AdamW, whose tuned
    lr is 1e-2 (4e-3 to 8e-3 at batch 256); 0.23 to 0.32 with the lecture's SGD and
    batch 32, where the lecture chose 0.1.
    """
    finite = [(s, lr) for s, lr in zip(smoothed, lrs, strict=False) if math.isfinite(s)]
    return min(finite)[1]
