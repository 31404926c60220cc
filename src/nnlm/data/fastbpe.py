"""Encoding a long text with nnlm's byte-level BPE 2-4x faster: tiktoken's encoder, built from the
tokens of the tokenizer that `tokenizers` trained (whose JSON stays the definition).

Why the ids are the same: both split the text with GPT-2's pattern (the pre-tokenizer that
`bpe.train_bpe` sets), then merge inside each piece, lowest rank first. `tokenizers` merges only
the listed pairs, ranked by the list; tiktoken merges any two neighbours whose bytes join into a
token, ranked by that token's id, and takes a piece that is a whole token as that token. For a
tokenizer that `tokenizers` trained these agree: each token above the 256 bytes is made by one
merge and takes the next id (checked here, else there is no fast encoder), and a token was made
from its own text by the merges that came before it. tests/data/test_fastbpe.py compares the two
on random text, on texts over small alphabets (where merges overlap the most) and on every code
point (the regex engines must class each character alike; all of them in the slow test).

tiktoken before 0.13 merged in time that grows with the square of a piece's length (one word of
32,000 letters: 0.5 s in 0.12, 0.005 s in 0.13), hence the version pyproject asks for.
"""

from __future__ import annotations

import os

import numpy as np

GPT2_PATTERN = r"""'s|'t|'re|'ve|'m|'ll|'d| ?\p{L}+| ?\p{N}+| ?[^\s\p{L}\p{N}]+|\s+(?!\S)|\s+"""


def byte_of_char() -> dict[str, int]:
    """The byte each character of the byte-level alphabet stands for (GPT-2's table: printable
    bytes stand for themselves, the others for the characters from U+0100 on, in order)."""
    kept = [*range(ord("!"), ord("~") + 1), *range(ord("¡"), ord("¬") + 1),
            *range(ord("®"), ord("ÿ") + 1)]
    moved = [b for b in range(256) if b not in kept]
    table = {chr(b): b for b in kept}
    table.update({chr(256 + n): b for n, b in enumerate(moved)})
    return table


def is_plain_byte_level_bpe(spec: dict) -> bool:
    """Whether the tokenizer JSON's settings are the ones bpe.train_bpe writes: GPT-2's split and
    nothing else before or after the merges."""
    model, pre = spec.get("model") or {}, spec.get("pre_tokenizer") or {}
    return (model.get("type") == "BPE" and not spec.get("normalizer") and not spec.get("added_tokens")
            and not spec.get("truncation") and not spec.get("padding")
            and pre.get("type") == "ByteLevel" and pre.get("use_regex", True)
            and not pre.get("add_prefix_space")
            and not any(model.get(key) for key in ("dropout", "unk_token", "continuing_subword_prefix",
                                                   "end_of_word_suffix", "byte_fallback", "ignore_merges"))
            and (spec.get("post_processor") or {"type": "ByteLevel"}).get("type") == "ByteLevel")


def fast_encoder(spec: dict):
    """A tiktoken encoder giving the ids the tokenizer JSON `spec` gives, or None where its settings
    are not bpe.train_bpe's or its merges do not make tokens in id order."""
    import tiktoken

    if not is_plain_byte_level_bpe(spec):
        return None
    vocab, merges = spec["model"]["vocab"], spec["model"]["merges"]
    made = [vocab.get("".join(m) if isinstance(m, list) else m.replace(" ", "", 1)) for m in merges]
    if len(vocab) != 256 + len(merges) or None in made:
        return None  # a token no merge makes
    if any(a >= b for a, b in zip(made, made[1:], strict=False)) or (made and min(made) < 256):
        return None  # merges out of id order, or one that makes a byte
    to_byte = byte_of_char()
    if any(c not in to_byte for token in vocab for c in token):
        return None
    ranks = {bytes(to_byte[c] for c in token): i for token, i in vocab.items()}  # one byte a character
    return tiktoken.Encoding("nnlm-bpe", pat_str=GPT2_PATTERN, mergeable_ranks=ranks, special_tokens={})


def encode_pieces(encoder, pieces: list[str]) -> np.ndarray:
    """The token ids of the pieces' concatenation (cut where the split cuts too; at least one
    piece), (tokens,) int32, on as many threads as this process has cores (tiktoken leaves the
    interpreter's lock)."""
    cores = len(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else os.cpu_count() or 1
    encoded = encoder.encode_ordinary_batch(pieces, num_threads=max(1, min(len(pieces), cores)))
    return np.concatenate([np.array(ids, dtype=np.int32) for ids in encoded])
