"""Loss and per-token log-probabilities of a model over a set of windows."""

from __future__ import annotations

import torch

from ..data.windows import Sequences, Windows
from ..losses import EvalResult

CHUNK = 65_536  # examples per forward pass: bounds memory on big evaluation sets
CHUNK_LOGITS = 2**23  # and at most this many logits at once (big vocabularies: cache-sized)
SEGMENTS = 64  # a long sequence read with a carried state: this many segments side by side


@torch.no_grad()
def token_logprobs(model, windows: Windows, device, index: torch.Tensor | None = None):
    """log p(token | context) for the examples `index` (default all) of `windows`, on the CPU.
    A sequence model reads the same examples as sequences (index: every example)."""
    if not model.window:
        return sequence_logprobs(model, windows.sequences(), device)
    was_training = model.training
    model.eval()
    index = torch.arange(len(windows)) if index is None else index
    out = []
    chunk_size = max(1, min(CHUNK, CHUNK_LOGITS // model.config.vocab_size))
    for i in range(0, len(index), chunk_size):
        chunk = index[i:i + chunk_size]
        x, y = windows.contexts(chunk).to(device), windows.targets(chunk).to(device)
        logits, _ = model(x)
        # log_softmax + gather, not cross_entropy(reduction="none"): measured here, the latter's
        # peak memory grew with every chunk (~70 KB per token at |V| = 18k)
        lp = torch.log_softmax(logits.float(), dim=-1).gather(1, y.unsqueeze(1)).squeeze(1)
        out.append(lp.cpu().clone())
    model.train(was_training)
    return torch.cat(out) if out else torch.zeros(0)


def evaluate(model, windows: Windows, device, group=None) -> EvalResult:
    """Mean NLL over all of `windows`. With a process group, each rank scores every
    world-th example (a sequence model: window of sequence) and the sums (not the means of
    unequal shards) are all-reduced."""
    rank, world = (group.rank, group.world) if group is not None else (0, 1)
    if model.window:
        logprobs = token_logprobs(model, windows, device, torch.arange(rank, len(windows), world))
    else:  # (a rank's tokens are those its windows or segments scored; the rest stay 0)
        sequences = windows.sequences()
        scored = torch.zeros(sequences.tokens(), dtype=torch.bool)
        logprobs = sequence_logprobs(model, sequences, device, shard=(rank, world), scored=scored)[scored]
    totals = torch.tensor([-logprobs.double().sum().item(), logprobs.numel()], dtype=torch.float64)
    if group is not None:
        group.all_reduce_sum(totals)
    n = int(totals[1])
    return EvalResult(loss=float(totals[0] / max(n, 1)), tokens=n)


def reading_plan(sequences: Sequences, context: int, out_start: torch.Tensor | None = None
                 ) -> tuple[torch.Tensor, ...]:
    """How to read sequences no more than `context` tokens at a time: windows (start, length,
    first scored target, where its targets go in the output; a sequence's targets go from
    `out_start`, by default one after another). A longer sequence is read in windows a half
    context apart, each after the first scoring only its last half, so every token is
    predicted from at least context / 2 tokens (or all there are)."""
    half = max(1, context // 2)
    if out_start is None:
        out_start = torch.cumsum(sequences.lengths, 0) - sequences.lengths
    count = torch.where(sequences.lengths <= context, 1,
                        1 + (sequences.lengths - context + half - 1) // half)  # (S,) windows each
    seq = torch.repeat_interleave(torch.arange(len(sequences)), count)
    k = torch.arange(seq.numel()) - torch.repeat_interleave(torch.cumsum(count, 0) - count, count)
    offset = k * half  # where each window starts in its sequence
    length = torch.minimum(sequences.lengths[seq] - offset, torch.tensor(context))
    skip = torch.where(k == 0, 0, context - half)  # targets already scored by the window before
    return sequences.starts[seq] + offset, length, skip, out_start[seq] + offset


@torch.no_grad()
def sequence_logprobs(model, sequences: Sequences, device, shard: tuple[int, int] = (0, 1),
                      scored: torch.Tensor | None = None) -> torch.Tensor:
    """log p of every predicted token of `sequences`, in order, by a sequence model (on the
    CPU); with shard (rank, world) only every world-th window or segment is read (the others
    stay 0). A model that carries its state (a recurrent one) reads a sequence longer than
    its block with that state carried across (carried_logprobs); other models and shorter
    sequences are read in windows of the block (reading_plan). `scored` (bool, one per token):
    set where this shard scored."""
    was_training = model.training
    model.eval()
    out = torch.zeros(sequences.tokens(), dtype=torch.float32)
    scored = torch.zeros(len(out), dtype=torch.bool) if scored is None else scored
    out_start = torch.cumsum(sequences.lengths, 0) - sequences.lengths
    carried = sequences.lengths > model.config.block_size if model.carries_state else \
        torch.zeros(len(sequences), dtype=torch.bool)
    for s in torch.nonzero(carried).flatten().tolist():
        carried_logprobs(model, sequences.select(torch.tensor([s])), out, scored, int(out_start[s]), device,
                         shard)
    windowed = Sequences(sequences.stream, sequences.starts[~carried], sequences.lengths[~carried])
    window_logprobs(model, windowed, out, scored, out_start[~carried], device, shard)
    model.train(was_training)
    return out


def window_logprobs(model, sequences: Sequences, out: torch.Tensor, scored: torch.Tensor,
                    out_start: torch.Tensor, device, shard: tuple[int, int]) -> None:
    """Fill `out` (and mark `scored`) with the log p of `sequences`, read in windows (reading_plan)."""
    starts, lengths, skip, out_at = (t[shard[0]::shard[1]] for t in
                                     reading_plan(sequences, model.config.block_size, out_start))
    order = torch.argsort(lengths, descending=True)  # batches of alike lengths pad little
    at = 0
    while at < order.numel():
        longest = int(lengths[order[at]])
        rows = max(1, min(CHUNK // longest, CHUNK_LOGITS // (longest * model.config.vocab_size)))
        chunk = order[at:at + rows]
        at += rows
        window = Sequences(sequences.stream, starts[chunk], lengths[chunk])
        x, y = window.batch(torch.arange(len(chunk)))
        logits, _ = model(x.to(device))  # (B, L, V)
        lp = torch.log_softmax(logits.float(), -1).gather(2, y.clamp(min=0).to(device).unsqueeze(2))
        j = torch.arange(x.shape[1])
        keep = (j >= skip[chunk].unsqueeze(1)) & (y >= 0)  # (B, L)
        place = (out_at[chunk].unsqueeze(1) + j)[keep]
        out[place], scored[place] = lp.squeeze(2).cpu()[keep], True


def carried_logprobs(model, sequence: Sequences, out: torch.Tensor, scored: torch.Tensor, out_start: int,
                     device, shard: tuple[int, int]) -> None:
    """Fill `out` (and mark `scored`) from `out_start` with the log p of one long sequence,
    read by a model that carries its state (Model.read): cut into segments read side by side, a
    block at a time, the state carried from block to block. A segment first reads the
    block_size tokens before its own (not scored), so every token has at least that much
    context, and nearly all of them far more: as one pass over the whole sequence, not two."""
    block, length, start = model.config.block_size, int(sequence.lengths[0]), int(sequence.starts[0])
    rows = max(1, min(SEGMENTS, -(-length // block), CHUNK_LOGITS // (block * model.config.vocab_size)))
    size = -(-length // rows)  # targets a segment
    rows = -(-length // size)  # (no segment left empty)
    first = torch.arange(rows) * size  # (R,) each segment's first scored target
    last = torch.minimum(first + size, torch.tensor(length))
    begin = (first - block).clamp(min=0)  # where each segment starts reading
    keep = torch.arange(rows)[shard[0]::shard[1]]
    if not len(keep):  # more processes than segments: nothing for this one
        return
    first, last, begin = first[keep], last[keep], begin[keep]
    x, y = Sequences(sequence.stream, start + begin, last - begin).batch(torch.arange(len(keep)))  # (R, L)
    state = None
    for t in range(0, x.shape[1], block):
        logits, state = model.read(x[:, t:t + block].to(device), state)  # (R, block, V)
        yt = y[:, t:t + block]
        lp = torch.log_softmax(logits.float(), -1).gather(2, yt.clamp(min=0).to(device).unsqueeze(2))
        j = t + torch.arange(yt.shape[1])  # positions in each segment
        keep = (begin.unsqueeze(1) + j >= first.unsqueeze(1)) & (yt >= 0)  # (R, T)
        place = (out_start + begin.unsqueeze(1) + j)[keep]
        out[place], scored[place] = lp.squeeze(2).cpu()[keep], True
