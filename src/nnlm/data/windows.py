"""Context windows and sequences over token streams: what models read, gathered per batch.

Nothing here reads files: token ids in, integer tensors out.
"""

from __future__ import annotations

from dataclasses import dataclass

import torch

from .vocab import BOUNDARY_ID, Vocab


@dataclass
class Sequences:
    """Token sequences, each read from its own start: sequence s feeds the model
    stream[starts[s] : starts[s] + lengths[s]] (a boundary first) and predicts the next token
    at each position, stream[starts[s] + 1 : starts[s] + lengths[s] + 1]. Every predicted
    token of a Windows object is one position of one sequence, in the same order."""

    stream: torch.Tensor  # (T,) int32
    starts: torch.Tensor  # (S,) int64
    lengths: torch.Tensor  # (S,) int64: predicted tokens of each sequence

    def __len__(self) -> int:
        return self.starts.numel()

    def tokens(self) -> int:
        """Predicted tokens in all."""
        return int(self.lengths.sum())

    def pieces(self, size: int) -> Sequences:
        """Every sequence cut into pieces of at most `size` predicted tokens; a later piece
        reads from the token before its first target (its context starts there)."""
        count = (self.lengths + size - 1) // size  # (S,) pieces per sequence
        first = torch.repeat_interleave(self.starts, count)
        rank = torch.arange(int(count.sum())) - torch.repeat_interleave(torch.cumsum(count, 0) - count, count)
        lengths = torch.minimum(torch.repeat_interleave(self.lengths, count) - rank * size,
                                torch.tensor(size))
        return Sequences(self.stream, first + rank * size, lengths)

    def select(self, index: torch.Tensor) -> Sequences:
        """The sequences `index` only."""
        return Sequences(self.stream, self.starts[index], self.lengths[index])

    def batch(self, index: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        """Sequences `index` as inputs (B, L) and targets (B, L), L the longest; targets past
        a sequence's end are -1 (not counted), its inputs there 0."""
        lengths = self.lengths[index]
        L = int(lengths.max())
        pos = self.starts[index].unsqueeze(1) + torch.arange(L)  # (B, L)
        inside = torch.arange(L) < lengths.unsqueeze(1)
        x = self.stream[pos.clamp(max=self.stream.numel() - 1)].long().masked_fill_(~inside, 0)
        y = self.stream[(pos + 1).clamp(max=self.stream.numel() - 1)].long().masked_fill_(~inside, -1)
        return x, y


class Windows:
    """Every (context, next token) example of a list of items, for one block size.

    Items are stored once as a token stream `0 e m m a 0 o l i v i a 0 ...`; the
    examples are the positions after each boundary-initial 0, and a context never
    reaches back past the start of its own item (earlier positions read as 0, the
    lecture's '...' padding). Contexts are gathered per batch, so memory is the
    stream plus two int64 per example, never a copy per window.

    Items of a labelled list start with their label's token instead of the boundary:
    `<en> e m m a 0 <fr> e l o d i e 0` (`starts`: each item's first token). A window that can
    hold more than the label then reads it last, in every context (`label_last`).
    """

    def __init__(self, items: list[str], vocab: Vocab, block_size: int, source: str = "",
                 starts: list[int] | None = None):
        encoded = [vocab.encode(item, f"{source} item {n}" if source else repr(item))
                   for n, item in enumerate(items, 1)]
        lengths = torch.tensor([len(ids) for ids in encoded], dtype=torch.long)
        ids = torch.tensor([i for ids in encoded for i in ids], dtype=torch.int32)
        self._build(ids, lengths, block_size, starts=None if starts is None else torch.tensor(starts))

    @classmethod
    def from_ids(cls, ids: torch.Tensor, lengths: torch.Tensor, block_size: int,
                 ends: bool = True, starts: torch.Tensor | None = None) -> Windows:
        """Items already encoded: their ids concatenated (T,) and each item's length.
        ends=False: the end of an item is not predicted (pieces of a stream); `starts`: each
        item's first token (its label's), where not the boundary."""
        windows = cls.__new__(cls)
        windows._build(ids.to(torch.int32), lengths.to(torch.long), block_size, ends, starts)
        return windows

    def _build(self, ids: torch.Tensor, lengths: torch.Tensor, block_size: int,
               ends: bool = True, starts: torch.Tensor | None = None) -> None:
        self.block_size = block_size
        # item k occupies [start_k, start_k + len_k]: its leading 0, then its tokens;
        # its examples predict the len_k + 1 tokens after start_k (the last is the end 0).
        # With `starts`, each item has a slot of its own for its end: [start token, tokens, 0].
        own_end = int(starts is not None)
        lengths = lengths + 1 + own_end
        starts_at = torch.cumsum(lengths, 0) - lengths
        self.stream = torch.zeros(int(lengths.sum()) + 1, dtype=torch.int32)  # int32: big corpora
        inside = lengths - 1 - own_end  # each item's own tokens
        token_pos = torch.repeat_interleave(starts_at + 1, inside) + _ranks_within(inside)
        self.stream[token_pos] = ids
        if own_end:
            self.stream[starts_at] = starts.to(torch.int32)
        predicted = inside + 1 if ends else inside
        starts = starts_at
        self.item_start = torch.repeat_interleave(starts, predicted)  # (N,) per example
        self.pos = self.item_start + _ranks_within(predicted) + 1  # (N,) target positions
        self.label_last = bool(own_end) and block_size >= 2
        self._offsets = torch.arange(-block_size + self.label_last, 0, dtype=torch.long)

    def __len__(self) -> int:
        return self.pos.numel()

    def contexts(self, index: torch.Tensor) -> torch.Tensor:
        """Contexts of the examples `index`: (B, block_size) token ids."""
        idx = self.pos[index].unsqueeze(1) + self._offsets  # (B, block_size) stream positions
        ctx = self.stream[idx.clamp_min(0)].long()
        start = self.item_start[index].unsqueeze(1)  # (B, 1)
        if not self.label_last:
            return ctx.masked_fill_(idx < start, BOUNDARY_ID)
        # (B, block_size - 1) the item so far, its start read as the boundary; then its label
        return torch.cat([ctx.masked_fill_(idx <= start, BOUNDARY_ID), self.stream[start].long()], 1)

    def targets(self, index: torch.Tensor) -> torch.Tensor:
        """The next tokens of the examples `index`: (B,) int64."""
        return self.stream[self.pos[index]].long()

    def tensors(self) -> tuple[torch.Tensor, torch.Tensor]:
        """All examples at once: X (N, block_size), Y (N,)."""
        everything = torch.arange(len(self))
        return self.contexts(everything), self.targets(everything)

    def sequences(self) -> Sequences:
        """The same examples as whole items, for models that read a sequence at once."""
        starts, lengths = torch.unique_consecutive(self.item_start, return_counts=True)
        return Sequences(self.stream, starts, lengths)


def first_window(context: torch.Tensor, width: int, labelled: bool) -> torch.Tensor:
    """The window of `width` ids that reads a context (B, T) so far (its first column the
    boundary, or a labelled item's label), as Windows.contexts reads the same positions:
    boundary-padded on the left, and in a labelled run whose window can hold more than the
    label, the item so far with its start read as the boundary, then the label. (B, width)."""
    if labelled and width >= 2:
        so_far = torch.cat([torch.zeros_like(context[:, :1]), context[:, 1:]], 1)
        return torch.cat([first_window(so_far, width - 1, False), context[:, :1]], 1)
    pad = context.new_zeros(context.shape[0], max(0, width - context.shape[1]))
    return torch.cat([pad, context], 1)[:, -width:]


def next_window(window: torch.Tensor, token: torch.Tensor, labelled: bool) -> torch.Tensor:
    """The window (B, width) after `token` (B,) is read: the oldest id dropped (a labelled run's
    label, read last, stays where first_window put it)."""
    if labelled and window.shape[1] >= 2:
        return torch.cat([window[:, 1:-1], token.unsqueeze(1), window[:, -1:]], 1)
    return torch.cat([window[:, 1:], token.unsqueeze(1)], 1)


def _ranks_within(lengths: torch.Tensor) -> torch.Tensor:
    """0, 1, ..., len-1 for each group of sizes `lengths`, concatenated."""
    total = int(lengths.sum())
    group_start = torch.repeat_interleave(torch.cumsum(lengths, 0) - lengths, lengths)
    return torch.arange(total) - group_start


class StreamWindows:
    """Every (context, next token) example of one token stream: example i predicts token i
    from tokens i - block_size .. i - 1, with boundary tokens before the start.

    Memory is the int32 stream alone; contexts are gathered per batch.
    """

    def __init__(self, ids: torch.Tensor, block_size: int, bounded: torch.Tensor | None = None):
        self.stream = ids.to(torch.int32)  # (N,)
        self.block_size = block_size
        self._offsets = torch.arange(-block_size, 0, dtype=torch.long)
        self._bounded = bounded  # the boundary, then the stream (a view of the same memory)

    @classmethod
    def bounded(cls, ids: torch.Tensor, block_size: int) -> StreamWindows:
        """The stream ids[1:], where ids[0] is the boundary token: no copy is made, so a
        stream in a memory-mapped file stays there."""
        return cls(ids[1:], block_size, bounded=ids)

    def __len__(self) -> int:
        return self.stream.numel()

    def contexts(self, index: torch.Tensor) -> torch.Tensor:
        """(B, block_size) token ids (int64) of the examples `index`."""
        idx = index.long().unsqueeze(1) + self._offsets  # (B, block_size) stream positions
        ctx = self.stream[idx.clamp_min(0)].long()
        return ctx.masked_fill_(idx < 0, BOUNDARY_ID)

    def targets(self, index: torch.Tensor) -> torch.Tensor:
        """The next tokens of the examples `index`: (B,) int64."""
        return self.stream[index.long()].long()

    def tensors(self) -> tuple[torch.Tensor, torch.Tensor]:
        """All examples at once: X (N, block_size), Y (N,)."""
        everything = torch.arange(len(self))
        return self.contexts(everything), self.targets(everything)

    def sequences(self) -> Sequences:
        """The stream as one sequence from a boundary token, for models that read sequences."""
        stream = self._bounded if self._bounded is not None else \
            torch.cat([torch.zeros(1, dtype=torch.int32), self.stream])
        return Sequences(stream, torch.zeros(1, dtype=torch.long), torch.tensor([len(self)]))
