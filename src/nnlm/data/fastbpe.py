"""Encoding a long text with nnlm's byte-level BPE 2-4x faster: tiktoken's encoder, built from the
tokens of the tokenizer that `tokenizers` trained (tokenizer.json stays the definition).

Why the ids are the same: both split the text with GPT-2's pattern (the pre-tokenizer that
`bpe.train_bpe` sets) and apply the merges inside each piece, lowest rank first. `tokenizers`
ranks a pair by the merge list; tiktoken ranks it by the id of the token the pair makes, which is
the same order where each merge's token takes the next id, as `tokenizers` trains them (checked
here, else there is no fast encoder). tiktoken also takes a piece that is a whole token as that
token, where the merges must reach it from its bytes. tests/data/test_fastbpe.py compares the two
on every code point and on random text over small alphabets, where merges overlap the most.
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
    """Whether tokenizer.json's settings are the ones bpe.train_bpe writes: GPT-2's split and
    nothing else before or after the merges."""
    model, pre = spec.get("model") or {}, spec.get("pre_tokenizer") or {}
    return (model.get("type") == "BPE" and not spec.get("normalizer") and not spec.get("added_tokens")
            and pre.get("type") == "ByteLevel" and pre.get("use_regex", True)
            and not pre.get("add_prefix_space")
            and not any(model.get(key) for key in ("dropout", "unk_token", "continuing_subword_prefix",
                                                   "end_of_word_suffix", "byte_fallback", "ignore_merges"))
            and (spec.get("post_processor") or {"type": "ByteLevel"}).get("type") == "ByteLevel")


def fast_encoder(spec: dict):
    """A tiktoken encoder giving the ids tokenizer.json's `spec` gives, or None where its settings
    are not bpe.train_bpe's or its merges do not make tokens in id order."""
    import tiktoken

    if not is_plain_byte_level_bpe(spec):
        return None
    vocab, merges = spec["model"]["vocab"], spec["model"]["merges"]
    made = [vocab.get("".join(m) if isinstance(m, list) else m.replace(" ", "", 1)) for m in merges]
    if None in made or any(a >= b for a, b in zip(made, made[1:])) or (made and min(made) < 256):
        return None
    to_byte = byte_of_char()
    ranks = {bytes(to_byte[c] for c in token): i for token, i in vocab.items()}
    if len(ranks) != len(vocab):
        return None
    return tiktoken.Encoding("nnlm-bpe", pat_str=GPT2_PATTERN, mergeable_ranks=ranks, special_tokens={})


def encode_pieces(encoder, pieces: list[str]) -> np.ndarray:
    """The token ids of the pieces' concatenation (cut where the split cuts too), (tokens,) int32,
    the pieces on as many threads as there are cores (tiktoken leaves the interpreter's lock)."""
    threads = max(1, min(len(pieces), os.cpu_count() or 1))
    encoded = encoder.encode_ordinary_batch(pieces, num_threads=threads)
    return np.concatenate([np.array(ids, dtype=np.int32) for ids in encoded]) if encoded else \
        np.zeros(0, dtype=np.int32)
