"""Running text as characters (or a BPE's subwords): one stream in which every character is
kept (spaces, tabs, indentation, blank lines; the newline is a token like any other), context
crosses line ends, and the split is contiguous (train first, then dev, then test; or
--dev/--test files). Encoding then decoding gives the text back exactly.

A text of any size: files are read in pieces (text.text_pieces), twice (the characters, then
their ids), and a stream of more than MEMMAP_TOKENS tokens keeps its ids in a memory-mapped
file rather than in memory; a BPE encodes each piece as it is read (encode_part) and learns
its merges from at most the first BPE_TRAIN_CHARS characters of train.
"""

from __future__ import annotations

import hashlib
import tempfile
from dataclasses import dataclass

import numpy as np
import torch

from ..errors import NnlmError
from ..settings.data import DataConfig
from .base import SPLITS, FromFiles, based_vocab, byte_set, check_split_files
from .split import fraction_cuts
from .bpe import BPE_TRAIN_CHARS, bpe_vocab, last_safe_cut
from .text import bundled_names_path, text_pieces
from .vocab import Vocab
from .windows import StreamWindows

MEMMAP_TOKENS = 16 * 1024**2  # a longer stream's ids live in a memory-mapped file


@dataclass
class TextSplit:
    """Every split's tokens in one int32 array: a boundary token (0), train's tokens, a
    boundary, dev's, a boundary, test's; each split reads its own span, from its boundary."""

    ids: np.ndarray  # (tokens + 3,) int32, in memory or memory-mapped
    spans: dict[str, tuple[int, int]]  # split -> [start, end) of ids, start at its boundary

    def tokens(self) -> dict[str, int]:
        """Tokens of each split (its boundary not counted)."""
        return {name: end - start - 1 for name, (start, end) in self.spans.items()}

    def windows(self, name: str, block_size: int) -> StreamWindows:
        """The examples of split `name`, contexts of `block_size` tokens (no copy of the stream)."""
        start, end = self.spans[name]
        return StreamWindows.bounded(torch.from_numpy(self.ids[start:end]), block_size)


def scan(paths: list[str]) -> tuple[set[str], dict[str, int], dict[str, str]]:
    """The characters of the files, each file's length in characters and its SHA-256."""
    chars, lengths, hashes = set(), {}, {}
    for path in dict.fromkeys(paths):
        digest, n = hashlib.sha256(), 0
        for piece in text_pieces(path, digest):
            chars.update(piece)
            n += len(piece)
        lengths[path], hashes[path] = n, digest.hexdigest()
    if chars <= set(" \t\n\r\f\v\x1c\x1d\x1e\x1f\x85\xa0\u2028\u2029"):
        raise NnlmError(f"{paths[0]}: no text (the file has only blank lines and whitespace)")
    return chars, lengths, hashes


def cut_points(n: int, config: DataConfig) -> tuple[int, int]:
    """Where dev and test start in a text of n characters: by --split-tokens (characters are
    the tokens here; a BPE text is cut before its tokenizer exists) or --split."""
    if config.split_tokens:
        a, b = config.split_tokens[0], sum(config.split_tokens)
        if a < 1 or b > n:
            why = f"needs TRAIN >= 1 and at most the text's {n} characters in all"
            raise NnlmError(f"split_tokens=({a}, {config.split_tokens[1]}) {why}",
                            cli=f"--split-tokens {a},{config.split_tokens[1]} {why}")
        return a, b
    return fraction_cuts(n, config.split)


def new_ids(size: int) -> np.ndarray:
    """An int32 array of `size`, memory-mapped from a temporary file that is gone once the
    process is (on any OS: a file without a name on Unix, deleted on close on Windows)."""
    if size <= MEMMAP_TOKENS:
        return np.zeros(size, dtype=np.int32)
    file = tempfile.TemporaryFile(prefix="nnlm-text-", suffix=".ids")  # noqa: SIM115 - the map keeps it open
    file.truncate(size * 4)
    return np.memmap(file, dtype=np.int32, mode="r+", shape=(size,))


def encode_files(vocab: Vocab, parts: list[tuple[str, int, int]]) -> TextSplit:
    """The split whose train, dev and test are parts[k] = (file, first, last character)."""
    total = sum(hi - lo for _, lo, hi in parts)
    ids = new_ids(total + len(SPLITS))
    spans, at = {}, 0
    for name, (_, lo, hi) in zip(SPLITS, parts, strict=True):
        spans[name] = (at, at + 1 + hi - lo)  # ids[at] stays the boundary
        at += 1 + hi - lo
    for path in dict.fromkeys(p for p, _, _ in parts):
        owned = [(spans[name][0] + 1 - lo, lo, hi) for name, (p, lo, hi) in zip(SPLITS, parts, strict=True)
                 if p == path and hi > lo]
        pos = 0
        for piece in text_pieces(path):
            encoded = vocab.encode_array(piece, str(path))
            for offset, lo, hi in owned:  # the characters [lo, hi) of the file go to offset + position
                first, last = max(lo, pos), min(hi, pos + len(piece))
                if first < last:
                    ids[offset + first:offset + last] = encoded[first - pos:last - pos]
            pos += len(piece)
    return TextSplit(ids, spans)


def range_pieces(path: str, lo: int, hi: int):
    """The characters [lo, hi) of a file, in the pieces text_pieces reads."""
    pos = 0
    for piece in text_pieces(path):
        if pos < hi and pos + len(piece) > lo:
            yield piece[max(0, lo - pos):hi - pos]
        pos += len(piece)
        if pos >= hi:
            break


def split_text(path: str, lo: int, hi: int) -> str:
    """The characters [lo, hi) of a file."""
    return "".join(range_pieces(path, lo, hi))


def encode_part(vocab, path: str, lo: int, hi: int) -> np.ndarray:
    """The characters [lo, hi) of a file as subword ids, read and encoded a piece at a time
    (each piece cut where the pre-tokenizer cuts too), so memory holds one piece's encodings."""
    out, carry = [], ""
    for piece in range_pieces(path, lo, hi):
        text = carry + piece
        cut = last_safe_cut(text)
        out.append(vocab.encode_array(text[:cut]))
        carry = text[cut:]
    out.append(vocab.encode_array(carry))
    return np.concatenate(out)


def encode_subwords(vocab, parts: list[tuple[str, int, int]]) -> TextSplit:
    """encode_files for a vocabulary whose tokens are not characters: each split's text is
    encoded a piece at a time (encode_part), then laid out alike."""
    encoded = [encode_part(vocab, *part) for part in parts]
    ids = new_ids(sum(map(len, encoded)) + len(SPLITS))
    spans, at = {}, 0
    for name, tokens in zip(SPLITS, encoded, strict=True):
        spans[name] = (at, at + 1 + len(tokens))
        ids[at + 1:at + 1 + len(tokens)] = tokens
        at += 1 + len(tokens)
    return TextSplit(ids, spans)


class CharText(FromFiles):
    """Running text, characters (or a BPE's subwords) as tokens (see the module's docstring)."""

    name = "text"
    ends = False  # a stream has no end: samples are max_len characters

    def __init__(self, config: DataConfig, vocab, split, hashes: dict[str, str], chars=None):
        super().__init__(config, vocab, split, hashes)
        self._chars = chars  # split -> characters (the parts' lengths)

    @classmethod
    def read(cls, config: DataConfig, base=None) -> CharText:
        """Read the files; `base`: the vocabulary to keep (the run's own, when it reads its files
        again; another run's, when it starts from that run's weights): a BPE is not trained
        again, characters are extended by what the data adds."""
        if config.lowercase:
            raise NnlmError("lowercase is for tokens='word'", cli="--lowercase is for --tokens word")
        check_split_files(config)
        path = config.path or str(bundled_names_path())
        files = [p for p in (path, config.dev, config.test) if p]
        chars, lengths, hashes = scan(files)
        notes = []
        if config.dev or config.test:
            parts = [(p, 0, lengths[p]) if p else (path, 0, 0) for p in (path, config.dev, config.test)]
        else:
            n = lengths[path]
            a, b = cut_points(n, config)
            if a < 1 or (config.split[1] > 0 and b == a and not config.split_tokens):
                a, b = n, n
                notes.append(f"{n:,} characters are too few for a dev split: training on all of them")
            parts = [(path, 0, a), (path, a, b), (path, b, n)]
        if base is not None:
            vocab = based_vocab(base, config, chars)
        elif config.tokens == "bpe":  # the tokenizer learns from (at most) the start of train
            train_path, lo, hi = parts[0]
            vocab = bpe_vocab([split_text(train_path, lo, min(hi, lo + BPE_TRAIN_CHARS))], config, notes)
        else:
            vocab = Vocab(sorted(chars))
        split = encode_subwords(vocab, parts) if config.tokens == "bpe" else encode_files(vocab, parts)
        chars_of = dict(zip(SPLITS, (hi - lo for _, lo, hi in parts), strict=True))
        source = cls(config, vocab, split, hashes, chars_of)
        source.notes = notes
        return source

    def reread(self) -> CharText:
        """The source made again from its files, its vocabulary kept."""
        return type(self).read(self.config, self.vocab)

    def files(self) -> dict[str, object]:
        return self.vocab_files()

    def take(self, again: CharText) -> None:
        super().take(again)
        self._chars = again._chars

    def chars(self, split: str) -> int:
        if self._chars is None:
            self.split  # noqa: B018 - reading the files again counts them (take)
        return self._chars[split]

    def file_chars(self, path) -> int:
        return scan([str(path)])[1][str(path)]

    def tokens(self) -> dict[str, int]:
        return self.split.tokens()

    def windows(self, split: str, block_size: int) -> StreamWindows:
        return self.split.windows(split, block_size)

    def file_windows(self, path, block_size: int) -> StreamWindows:
        parts = [(str(path), 0, self.file_chars(path)), (str(path), 0, 0), (str(path), 0, 0)]
        encode = encode_subwords if self.level == "bpe" else encode_files
        return encode(self.vocab, parts).windows("train", block_size)

    def encode(self, text: str, context: str) -> list[int]:
        return self.vocab.encode_array(text, context).tolist()

    def default_max_len(self) -> int:
        """A continuation's length: 500 characters, or 150 subwords."""
        return 500 if self.level == "char" else 150

    def held_bytes(self) -> np.ndarray | None:
        """The bytes of the run's files (read again, 16 MiB at a time; not its split alone), or
        None where one is gone."""
        held = np.zeros(256, dtype=bool)
        try:
            for path in self.hashes:
                with open(path, "rb") as f:
                    while chunk := f.read(1 << 24):
                        held |= byte_set(chunk)
        except OSError:
            return None
        return held


__all__ = ["CharText", "TextSplit", "encode_files"]
