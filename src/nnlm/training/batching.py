"""Minibatches of training examples, reproducible from (seed, step) alone."""

from __future__ import annotations

import torch

from ..data.windows import Sequences

MATERIALIZE_LIMIT = 64 * 1024**2  # contexts held as one tensor up to this many token ids


class Batches:
    """Minibatch `step` of an epoch-wise shuffle that depends only on (seed, step).

    So a resumed run sees exactly the batches the uninterrupted run would have. Under
    data parallelism the global batch is world * batch_size examples and rank r takes
    the r-th slice: together the ranks see what one process with the global batch would.
    """

    def __init__(self, windows, batch_size: int, seed: int, device, rank: int = 0, world: int = 1):
        """windows: data.windows.Windows or StreamWindows (anything with contexts/targets)."""
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
        """Contexts of the examples `index` of the subset: (B, block_size)."""
        return self.windows.contexts(self.index[index])

    def targets(self, index: torch.Tensor) -> torch.Tensor:
        """The next tokens of the examples `index` of the subset: (B,)."""
        return self.windows.targets(self.index[index])


def evenly_spaced(windows, limit: int, model=None):
    """At most about `limit` examples of `windows`, evenly spaced (all of them if fewer); for
    a sequence model, whole pieces of sequences (see SequenceSample), or of one stream its
    first `limit` tokens, read as the final evaluation reads them."""
    if len(windows) <= limit:
        return windows
    if model is not None and not model.window:
        sequences = windows.sequences()
        if len(sequences) == 1:
            return SequenceSample(Sequences(sequences.stream, sequences.starts,
                                            sequences.lengths.clamp(max=limit)))
        pieces = sequences.pieces(model.config.block_size)
        keep = torch.linspace(0, len(pieces) - 1, max(1, limit * len(pieces) // pieces.tokens())).long()
        return SequenceSample(pieces.select(keep))
    return Subset(windows, torch.linspace(0, len(windows) - 1, limit).long())


class SequenceSample:
    """Some sequences, for sequence models to evaluate on (their windows: not needed)."""

    def __init__(self, sequences):
        self._sequences = sequences

    def __len__(self) -> int:
        return self._sequences.tokens()

    def sequences(self):
        """The sequences to evaluate on."""
        return self._sequences


class SequenceBatches:
    """Minibatches of whole sequences (items, sentences, or pieces of a stream) for models
    that read a sequence at once: the sequences cut into pieces of at most block_size
    predicted tokens, shuffled per epoch as Batches does, padded to the longest in the batch.

    batch_size counts predicted tokens, as for window models (the number of sequences per
    batch is batch_size over the mean piece length), so the two kinds see alike much data a step.
    """

    def __init__(self, sequences, batch_size: int, block_size: int, seed: int, device,
                 rank: int = 0, world: int = 1):
        self.sequences, self.seed, self.device = sequences.pieces(block_size), seed, device
        self.n, self.rank, self.world = len(self.sequences), rank, world
        mean = self.sequences.tokens() / max(self.n, 1)
        self.per_batch = max(1, min(round(batch_size / mean), self.n // world))
        self.batch_size = max(1, round(self.per_batch * mean))  # predicted tokens a step, about
        self.per_epoch = max(1, self.n // (self.per_batch * world))
        self.epoch, self.perm = -1, None

    def get(self, step: int) -> tuple[torch.Tensor, torch.Tensor]:
        """(inputs (B, L), targets (B, L), -1 past each sequence's end) of step `step`."""
        epoch, k = divmod(step, self.per_epoch)
        if epoch != self.epoch:
            g = torch.Generator().manual_seed(self.seed * 1_000_003 + epoch)
            self.perm, self.epoch = torch.randperm(self.n, generator=g), epoch
        start = (k * self.world + self.rank) * self.per_batch
        x, y = self.sequences.batch(self.perm[start:start + self.per_batch])
        return x.to(self.device, non_blocking=True), y.to(self.device, non_blocking=True)

    def epochs(self, step: int) -> float:
        """How many passes over the training pieces `step` steps make."""
        return step * self.per_batch * self.world / max(self.n, 1)


def make_batches(model, windows, batch_size: int, seed: int, device, rank: int = 0, world: int = 1):
    """The batches a model family trains on: windows for window models, sequences else."""
    if model.window:
        return Batches(windows, batch_size, seed, device, rank, world)
    return SequenceBatches(windows.sequences(), batch_size, model.config.block_size, seed, device,
                           rank, world)
