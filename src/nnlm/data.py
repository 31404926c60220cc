"""Reading items, the vocabulary, the train/dev/test split, and context windows.

Nothing here imports the CLI or the model: it turns text into integer tensors.
"""

from __future__ import annotations

import random
import re
from dataclasses import dataclass
from importlib import resources
from pathlib import Path

import torch

from .errors import NnlmError, TooFew, where

BOUNDARY_ID = 0  # start/end of an item; never a real character
BOUNDARY_DISPLAY = "<e>"  # how the boundary token is shown to people
MAX_FILE_BYTES = 2 * 1024**3


def bundled_names_path() -> Path:
    """The names.txt shipped inside the package: the default data set."""
    return Path(str(resources.files("nnlm") / "data" / "names.txt"))


LINE_END = re.compile(r"\r\n|\r|\n")  # Unix, Windows and old Mac line ends


def lines(text: str) -> list[str]:
    return LINE_END.split(text)


def read_numbered_items(path: str | Path) -> list[tuple[int, str]]:
    """(line number, item) for each item of a UTF-8 file, one item per line: whitespace
    stripped, blank lines skipped. A byte-order mark and LF, CRLF or CR line ends are fine.
    Any other problem (missing file, directory, binary or invalid UTF-8, nothing in it)
    raises NnlmError naming the file and, where it applies, the line."""
    numbered = [(n, line.strip()) for n, line in enumerate(lines(read_text(path)), 1)]
    numbered = [(n, item) for n, item in numbered if item]
    if not numbered:
        raise NnlmError(f"{path}: no items (the file has only blank lines)")
    return numbered


def read_items(path: str | Path) -> list[str]:
    """The items of a file, one per line (see read_numbered_items)."""
    return [item for _, item in read_numbered_items(path)]


def read_text(path: str | Path) -> str:
    """The whole file as text, with errors that name the file and line."""
    path = Path(path)
    if not path.exists():
        raise NnlmError(f"{path}: no such file")
    if path.is_dir():
        raise NnlmError(f"{path}: is a directory, expected a text file")
    size = path.stat().st_size
    if size == 0:
        raise NnlmError(f"{path}: the file is empty")
    if size > MAX_FILE_BYTES:
        raise NnlmError(f"{path}: {size} bytes is more than the {MAX_FILE_BYTES} nnlm reads")
    try:
        raw = path.read_bytes()
    except OSError as e:
        raise NnlmError(f"{path}: cannot read ({e.strerror})") from None
    nul = raw.find(b"\x00")
    if nul >= 0:
        line = raw.count(b"\n", 0, nul) + 1
        raise NnlmError(f"{where(path, line)}: binary data (a NUL byte), expected UTF-8 text")
    try:
        return raw.decode("utf-8-sig")
    except UnicodeDecodeError as e:
        line = raw.count(b"\n", 0, e.start) + 1
        raise NnlmError(f"{where(path, line)}: not valid UTF-8 (byte {raw[e.start]:#04x})") from None


class Vocab:
    """Characters seen in training plus the boundary token at index 0.

    The boundary is not a character, so a '.' (or anything else) in the data is an
    ordinary token of its own.
    """

    def __init__(self, chars: list[str]):
        if len(set(chars)) != len(chars):
            raise NnlmError("vocabulary has a repeated token")
        self.chars = list(chars)
        self.stoi = {c: i + 1 for i, c in enumerate(self.chars)}

    @classmethod
    def from_items(cls, items: list[str]) -> Vocab:
        return cls(sorted(set("".join(items))))

    def __len__(self) -> int:
        return len(self.chars) + 1

    def __eq__(self, other) -> bool:
        return isinstance(other, Vocab) and self.chars == other.chars

    def encode(self, item: str, context: str = "") -> list[int]:
        """Token ids of `item`; an unknown character raises NnlmError naming it."""
        try:
            return [self.stoi[c] for c in item]
        except KeyError as e:
            at = f" in {context}" if context else ""
            raise NnlmError(f"character {e.args[0]!r}{at} is not in the model's vocabulary "
                            f"({len(self.chars)} characters)") from None

    def decode(self, ids) -> str:
        return "".join(self.chars[i - 1] for i in ids if i != BOUNDARY_ID)

    def token_str(self, i: int) -> str:
        return BOUNDARY_DISPLAY if i == BOUNDARY_ID else self.chars[i - 1]

    def to_json(self) -> dict:
        return {"level": "char", "boundary_id": BOUNDARY_ID, "chars": self.chars}

    @classmethod
    def from_json(cls, obj: dict) -> Vocab:
        if obj.get("level") != "char" or not isinstance(obj.get("chars"), list):
            raise NnlmError("vocab.json: not a character vocabulary")
        if not all(isinstance(c, str) and len(c) == 1 for c in obj["chars"]):
            raise NnlmError("vocab.json: every token must be one character")
        return cls(obj["chars"])


@dataclass
class Split:
    train: list[str]
    dev: list[str]
    test: list[str]

    def to_json(self) -> dict:
        return {"train": self.train, "dev": self.dev, "test": self.test}


def split_items(items: list[str], seed: int = 42, fractions=(0.8, 0.1, 0.1),
                dedupe: bool = False) -> Split:
    """Shuffle and cut into train/dev/test exactly as the lecture does by default.

    The lecture: random.seed(42); random.shuffle(words); cut at int(0.8 n), int(0.9 n).
    random.Random(seed).shuffle gives the same order as seeding the global generator.
    """
    check_fractions(fractions)
    items = list(dict.fromkeys(items)) if dedupe else list(items)
    random.Random(seed).shuffle(items)
    n = len(items)
    n1 = int(fractions[0] * n)
    n2 = int((1.0 - fractions[2]) * n) if fractions[2] > 0 else n
    split = Split(items[:n1], items[n1:n2], items[n2:])
    if not split.train or (fractions[1] > 0 and not split.dev):
        raise TooFew(f"{n} items are too few for a {fractions} split: "
                        f"train {len(split.train)}, dev {len(split.dev)}, test {len(split.test)}")
    return split


def check_fractions(fractions) -> None:
    if len(fractions) != 3 or any(f < 0 for f in fractions) or fractions[0] <= 0:
        raise NnlmError(f"split fractions {fractions}: need three non-negative numbers, train > 0")
    if abs(sum(fractions) - 1.0) > 1e-6:
        raise NnlmError(f"split fractions {fractions} add up to {sum(fractions):g}, not 1")


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
    """

    def __init__(self, items: list[str], vocab: Vocab, block_size: int, source: str = ""):
        encoded = [vocab.encode(item, f"{source} item {n}" if source else repr(item))
                   for n, item in enumerate(items, 1)]
        lengths = torch.tensor([len(ids) for ids in encoded], dtype=torch.long)
        ids = torch.tensor([i for ids in encoded for i in ids], dtype=torch.int32)
        self._build(ids, lengths, block_size)

    @classmethod
    def from_ids(cls, ids: torch.Tensor, lengths: torch.Tensor, block_size: int,
                 ends: bool = True) -> Windows:
        """Items already encoded: their ids concatenated (T,) and each item's length.
        ends=False: the end of an item is not predicted (pieces of a stream)."""
        windows = cls.__new__(cls)
        windows._build(ids.to(torch.int32), lengths.to(torch.long), block_size, ends)
        return windows

    def _build(self, ids: torch.Tensor, lengths: torch.Tensor, block_size: int,
               ends: bool = True) -> None:
        self.block_size = block_size
        # item k occupies [start_k, start_k + len_k]: its leading 0, then its tokens;
        # its examples predict the len_k + 1 tokens after start_k (the last is the end 0)
        lengths = lengths + 1
        starts = torch.cumsum(lengths, 0) - lengths
        self.stream = torch.zeros(int(lengths.sum()) + 1, dtype=torch.int32)  # int32: big corpora
        token_pos = torch.repeat_interleave(starts + 1, lengths - 1) + _ranks_within(lengths - 1)
        self.stream[token_pos] = ids
        predicted = lengths if ends else lengths - 1
        self.item_start = torch.repeat_interleave(starts, predicted)  # (N,) per example
        self.pos = self.item_start + _ranks_within(predicted) + 1  # (N,) target positions
        self._offsets = torch.arange(-block_size, 0, dtype=torch.long)

    def __len__(self) -> int:
        return self.pos.numel()

    def contexts(self, index: torch.Tensor) -> torch.Tensor:
        """Contexts of the examples `index`: (B, block_size) token ids."""
        idx = self.pos[index].unsqueeze(1) + self._offsets  # (B, block_size) stream positions
        ctx = self.stream[idx.clamp_min(0)].long()
        return ctx.masked_fill_(idx < self.item_start[index].unsqueeze(1), BOUNDARY_ID)

    def targets(self, index: torch.Tensor) -> torch.Tensor:
        return self.stream[self.pos[index]].long()

    def tensors(self) -> tuple[torch.Tensor, torch.Tensor]:
        """All examples at once: X (N, block_size), Y (N,)."""
        everything = torch.arange(len(self))
        return self.contexts(everything), self.targets(everything)

    def sequences(self) -> Sequences:
        """The same examples as whole items, for models that read a sequence at once."""
        starts, lengths = torch.unique_consecutive(self.item_start, return_counts=True)
        return Sequences(self.stream, starts, lengths)


def _ranks_within(lengths: torch.Tensor) -> torch.Tensor:
    """0, 1, ..., len-1 for each group of sizes `lengths`, concatenated."""
    total = int(lengths.sum())
    group_start = torch.repeat_interleave(torch.cumsum(lengths, 0) - lengths, lengths)
    return torch.arange(total) - group_start
