"""Batched sampling: many sequences advance together, one forward pass per position."""

from __future__ import annotations

import torch

from .data import BOUNDARY_ID
from .errors import NnlmError


def check_controls(temperature: float, top_k: int | None, top_p: float | None,
                   min_len: int, max_len: int) -> None:
    if temperature < 0:
        raise NnlmError(f"--temperature must be >= 0 (0 is greedy), got {temperature}")
    if top_k is not None and top_k < 1:
        raise NnlmError(f"--top-k must be at least 1, got {top_k}")
    if top_p is not None and not 0 < top_p <= 1:
        raise NnlmError(f"--top-p must be in (0, 1], got {top_p}")
    if min_len < 0 or max_len < 1 or min_len > max_len:
        raise NnlmError(f"need 0 <= --min-len <= --max-len and --max-len >= 1, "
                        f"got {min_len} and {max_len}")


def filter_logits(logits: torch.Tensor, top_k: int | None, top_p: float | None) -> torch.Tensor:
    """Keep the top_k most likely tokens and the smallest set holding top_p of the mass."""
    if top_k is not None and top_k < logits.size(-1):
        kth = torch.topk(logits, top_k, dim=-1).values[:, -1:]  # (B, 1)
        logits = logits.masked_fill(logits < kth, float("-inf"))
    if top_p is not None and top_p < 1:
        sorted_logits, order = torch.sort(logits, dim=-1, descending=True)
        probs = torch.softmax(sorted_logits, dim=-1)
        mass_before = torch.cumsum(probs, dim=-1) - probs  # (B, V) mass of strictly likelier
        drop_sorted = mass_before >= top_p  # the first token is always kept
        drop = torch.zeros_like(drop_sorted).scatter(-1, order, drop_sorted)
        logits = logits.masked_fill(drop, float("-inf"))
    return logits


@torch.no_grad()
def generate(model, num: int, prefix: list[int], *, temperature: float = 1.0,
             top_k: int | None = None, top_p: float | None = None, min_len: int = 0,
             max_len: int = 64, generator: torch.Generator | None = None) -> list[list[int]]:
    """`num` token sequences, each starting with `prefix`, ending at the boundary token
    (not included) or at max_len tokens. The end token is forbidden before min_len."""
    check_controls(temperature, top_k, top_p, min_len, max_len)
    model.eval()
    device = next(model.parameters()).device
    block_size = model.config.block_size
    prefix = prefix[:max_len]
    lengths = torch.full((num,), max_len, dtype=torch.long, device=device)
    # each row is block_size boundary tokens, then the sequence; the context window
    # for position pos is ctx[:, pos:pos + block_size]
    ctx = torch.full((num, block_size + max_len), BOUNDARY_ID, dtype=torch.long, device=device)
    ctx[:, block_size:block_size + len(prefix)] = torch.tensor(prefix, dtype=torch.long)
    rows = torch.arange(num, device=device)  # rows still being written
    for pos in range(len(prefix), max_len):
        if rows.numel() == 0:
            break
        logits, _ = model(ctx[rows, pos:pos + block_size])  # (R, V)
        if pos < min_len:
            logits[:, BOUNDARY_ID] = float("-inf")
        token = _choose(logits.float(), temperature, top_k, top_p, generator)  # (R,)
        ended = token == BOUNDARY_ID
        lengths[rows[ended]] = pos
        ctx[rows, block_size + pos] = token
        rows = rows[~ended]
    tokens = ctx[:, block_size:].cpu().tolist()
    return [seq[:n] for seq, n in zip(tokens, lengths.cpu().tolist())]


def _choose(logits, temperature, top_k, top_p, generator) -> torch.Tensor:
    if temperature == 0:
        return logits.argmax(dim=-1)
    logits = filter_logits(logits / temperature, top_k, top_p)
    probs = torch.softmax(logits, dim=-1)
    return torch.multinomial(probs, 1, generator=generator).squeeze(1)
