"""Minibatches of training examples, reproducible from (seed, step) alone."""

from __future__ import annotations

import torch

MATERIALIZE_LIMIT = 64 * 1024**2  # contexts held as one tensor up to this many token ids


class Batches:
    """Minibatch `step` of an epoch-wise shuffle that depends only on (seed, step).

    So a resumed run sees exactly the batches the uninterrupted run would have. Under
    data parallelism the global batch is world * batch_size examples and rank r takes
    the r-th slice: together the ranks see what one process with the global batch would.
    """

    def __init__(self, windows, batch_size: int, seed: int, device, rank: int = 0, world: int = 1):
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
        """(contexts (B, block_size), targets (B,)) of step `step`."""
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

    def epochs(self, step: int) -> float:
        """How many passes over the training examples `step` steps make."""
        return step * self.batch_size * self.world / max(self.n, 1)


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


def evenly_spaced(windows, limit: int):
    """At most `limit` examples of `windows`, evenly spaced (all of them if fewer)."""
    if len(windows) <= limit:
        return windows
    return Subset(windows, torch.linspace(0, len(windows) - 1, limit).long())
