"""Subword tokens: a byte-level BPE trained on the training split (Hugging Face `tokenizers`).

Byte-level: the base alphabet is the 256 bytes, so any UTF-8 text encodes, characters the
training text never held included (as bytes), and decoding gives the text back exactly: no
normalisation, no `<unk>`, whitespace and line ends kept. Token ids are the tokenizer's plus
one; 0 is nnlm's boundary token, as for characters and words.
"""

from __future__ import annotations

import hashlib
from collections import deque
import json
import math
import re

import numpy as np

from ..errors import NnlmError
from .fastbpe import byte_of_char, encode_pieces, fast_encoder
from .vocab import BOUNDARY_DISPLAY, BOUNDARY_ID

BYTES = 256  # the base alphabet
MAX_VOCAB = 32_768
BPE_TRAIN_CHARS = 16 * 1024**2  # a text's tokenizer learns from at most its first 16M training characters
SAFE_CUT = re.compile(r"(?<=\S)\n(?=\S)")  # a line end between non-spaces: a boundary of the pre-tokens


def auto_vocab_size(chars: int) -> tuple[int, str]:
    """The vocabulary size for a training text of `chars` characters, and why: the bytes and
    2 sqrt(chars) merges (a multiple of 64), at most MAX_VOCAB: 2,240 for tinyshakespeare's
    million characters, 6,592 for ten million."""
    size = min(MAX_VOCAB, BYTES + 64 * max(1, round(2 * math.sqrt(chars) / 64)))
    return size, f"BPE vocabulary {size:,} (256 bytes and 2 sqrt(characters) merges for {chars:,} characters)"


def train_bpe(texts, vocab_size: int):
    """A byte-level BPE tokenizer trained on `texts` (an iterable of strings)."""
    from tokenizers import Tokenizer, decoders, models, pre_tokenizers, trainers

    if vocab_size < BYTES + 1 or vocab_size > MAX_VOCAB:
        raise NnlmError.about("vocab_size", "--vocab-size", f"must be from {BYTES + 1} to {MAX_VOCAB} for a "
                              f"byte-level BPE, got {vocab_size}")
    tokenizer = Tokenizer(models.BPE())
    tokenizer.pre_tokenizer = pre_tokenizers.ByteLevel(add_prefix_space=False)
    tokenizer.decoder = decoders.ByteLevel()
    trainer = trainers.BpeTrainer(vocab_size=vocab_size, initial_alphabet=pre_tokenizers.ByteLevel.alphabet(),
                                  show_progress=False)
    tokenizer.train_from_iterator(texts, trainer)
    return tokenizer


def pieces_of(text: str, size: int = 1 << 20) -> list[str]:
    """A text in pieces of about `size` characters, cut only where the pre-tokenizer cuts
    too (a line end before a non-space), so encoding the pieces is encoding the text."""
    out, start = [], 0
    while len(text) - start > size:
        cut = SAFE_CUT.search(text, start + size)
        if cut is None:
            break
        out.append(text[start:cut.end()])
        start = cut.end()
    out.append(text[start:])
    return out


def last_safe_cut(text: str) -> int:
    """Where the text after text's last safe cut (a SAFE_CUT match) begins, 0 if it has none:
    encoding the text before it and after it apart is encoding the whole. Looks back from the
    end over a growing span, so a long text with a cut near its end costs little."""
    span = 1 << 12
    while True:
        start = max(0, len(text) - span)
        last = next(iter(deque(SAFE_CUT.finditer(text, start), maxlen=1)), None)
        if last is not None or start == 0:
            return last.end() if last is not None else 0
        span *= 16


class BPEVocab:
    """A trained byte-level BPE as nnlm's vocabulary (the interface of vocab.Vocab)."""

    level = "bpe"

    def __init__(self, tokenizer):
        self.tokenizer = tokenizer
        self.json = json.loads(tokenizer.to_str())  # the library's own JSON, as the run directory keeps it
        self.sha256 = canonical_sha256(self.json)
        self.size = tokenizer.get_vocab_size()
        self.fast = fast_encoder(self.json)  # None where the settings are not train_bpe's

    def __len__(self) -> int:
        return self.size + 1

    def __eq__(self, other) -> bool:
        return isinstance(other, BPEVocab) and self.sha256 == other.sha256

    def encode(self, text: str, context: str = "") -> list[int]:
        """Token ids of a text (the tokenizer's plus one; 0 is nnlm's boundary)."""
        return [i + 1 for i in self.tokenizer.encode(text).ids]

    def encode_array(self, text: str, context: str = "") -> np.ndarray:
        """Token ids of a text of any length: (tokens,) int32, its pieces encoded in parallel by
        tiktoken (the same ids, 2-4x faster: fastbpe.py), else by the library without the
        offsets that nnlm never reads."""
        if not text:
            return np.zeros(0, dtype=np.int32)
        pieces = pieces_of(text, min(1 << 20, max(1 << 16, len(text) // 8)))  # several a thread, none tiny
        if self.fast is not None:
            return encode_pieces(self.fast, pieces) + 1
        encoded = self.tokenizer.encode_batch_fast(pieces)
        return np.concatenate([np.array(e.ids, dtype=np.int32) for e in encoded]) + 1

    def decode(self, ids) -> str:
        """The text of token ids: the bytes of the tokens, decoded as UTF-8 (the boundary left out)."""
        return self.tokenizer.decode([i - 1 for i in ids if i != BOUNDARY_ID])

    def token_bytes(self) -> list[bytes]:
        """The bytes each token stands for, by id (the boundary: none)."""
        to_byte = byte_of_char()
        out = [b""] * len(self)
        for token, i in self.json["model"]["vocab"].items():
            out[i + 1] = bytes(to_byte[c] for c in token)
        return out

    def keys(self) -> list:
        """What each id stands for, by id (Vocab.keys): the tokenizer's SHA-256 and the id."""
        return [(self.sha256, i) for i in range(len(self))]

    def token_str(self, i: int) -> str:
        """The text a token stands for (bytes of a character cut in two show as U+FFFD)."""
        if i == BOUNDARY_ID:
            return BOUNDARY_DISPLAY
        return self.tokenizer.decode([i - 1]).replace("\n", "\\n").replace("\t", "\\t").replace("\r", "\\r")

    def to_json(self) -> dict:
        """What vocab.json keeps: the level, the boundary id, the tokenizer's SHA-256 and size."""
        return {"level": "bpe", "boundary_id": BOUNDARY_ID, "sha256": self.sha256, "size": self.size}

    @classmethod
    def from_json(cls, obj: dict, tokenizer: dict | None, where: str) -> BPEVocab:
        """The vocabulary vocab.json describes, from the tokenizer's JSON (`tokenizer`; `where`:
        its file), checked against the SHA-256 vocab.json records (a tokenizer edited by hand is
        an error)."""
        from tokenizers import Tokenizer

        if tokenizer is None:
            raise NnlmError(f"{where}: missing (not a complete nnlm run directory)")
        if canonical_sha256(tokenizer) != obj.get("sha256"):
            raise NnlmError(f"{where}: changed since the run was trained (sha256 differs from vocab.json's)")
        try:
            vocab = cls(Tokenizer.from_str(json.dumps(tokenizer)))
        except Exception as e:  # noqa: BLE001 - the library's parse errors are of several kinds
            raise NnlmError(f"{where}: not a tokenizer ({str(e).splitlines()[0][:200]})") from None
        if vocab.size != obj.get("size"):
            raise NnlmError(f"{where}: {vocab.size} tokens, vocab.json says {obj.get('size')}")
        return vocab


def canonical_sha256(obj: dict) -> str:
    """The SHA-256 of a JSON object's content (keys sorted), whatever its layout in a file."""
    return hashlib.sha256(json.dumps(obj, sort_keys=True, ensure_ascii=False).encode("utf-8")).hexdigest()


def bpe_vocab(texts: list[str], config, notes: list[str]) -> BPEVocab:
    """A byte-level BPE trained on the training texts (never dev or test): of the DataConfig's
    --vocab-size tokens, or as many as the rule chooses from their size (said in `notes`)."""
    size = config.vocab_size
    if not size:
        size, why = auto_vocab_size(sum(map(len, texts)) + len(texts))
        notes.append(why)
    vocab = BPEVocab(train_bpe(texts, size))
    if vocab.size < size:
        notes.append(f"the training text supports {vocab.size:,} BPE tokens of the {size:,} asked for: "
                     f"the vocabulary has {vocab.size:,}")
    return vocab
