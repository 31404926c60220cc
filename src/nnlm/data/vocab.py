"""The character vocabulary: the characters seen plus the boundary token at index 0."""

from __future__ import annotations

import unicodedata

import numpy as np

from ..errors import NnlmError

BOUNDARY_ID = 0  # start/end of an item; never a real character
BOUNDARY_DISPLAY = "<e>"  # how the boundary token is shown to people
SPELLED = {"\n": "\\n", "\t": "\\t", "\r": "\\r"}  # characters shown by their escapes


class Vocab:
    """Characters seen in training plus the boundary token at index 0.

    The boundary is not a character, so a '.' (or anything else) in the data is an
    ordinary token of its own.
    """

    level = "char"

    def __init__(self, chars: list[str]):
        if len(set(chars)) != len(chars):
            raise NnlmError("vocabulary has a repeated token")
        self.chars = list(chars)
        self.stoi = {c: i + 1 for i, c in enumerate(self.chars)}
        self._codepoints = np.array([ord(c) for c in self.chars], dtype=np.uint32)  # (V - 1,)
        self._sorter = np.argsort(self._codepoints, kind="stable")

    def extended(self, chars) -> Vocab:
        """This vocabulary, its ids kept, then the characters of `chars` it lacks, sorted (a run
        that starts from another's weights: its tokens keep their rows)."""
        return Vocab(self.chars + sorted(set(chars) - set(self.chars)))

    @classmethod
    def from_items(cls, items: list[str]) -> Vocab:
        """The vocabulary of the characters of `items`, sorted."""
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

    def encode_array(self, text: str, context: str = "") -> np.ndarray:
        """Token ids of a text of any length, all at once: (len(text),) int32."""
        codepoints = np.frombuffer(text.encode("utf-32-le", "surrogatepass"), dtype=np.uint32)
        at = np.searchsorted(self._codepoints, codepoints, sorter=self._sorter)
        ids = self._sorter[np.minimum(at, len(self.chars) - 1)] if len(self.chars) else at
        unknown = np.flatnonzero(self._codepoints[ids] != codepoints) if len(self.chars) else \
            np.arange(len(codepoints))
        if len(unknown):
            self.encode(text[unknown[0]], context)  # the error, naming the character
        return (ids + 1).astype(np.int32)

    def decode(self, ids) -> str:
        """The text of token ids (the boundary left out)."""
        return "".join(self.chars[i - 1] for i in ids if i != BOUNDARY_ID)

    def keys(self) -> list:
        """What each id stands for, by id (the boundary, then the characters): ids of two
        vocabularies with equal keys are the same token."""
        return [BOUNDARY_DISPLAY, *self.chars]

    def token_str(self, i: int) -> str:
        """The token as people read it: a line end, tab or control character spelled out."""
        if i == BOUNDARY_ID:
            return BOUNDARY_DISPLAY
        c = self.chars[i - 1]
        return SPELLED.get(c) or (f"\\u{ord(c):04x}" if unicodedata.category(c) == "Cc" else c)

    def to_json(self) -> dict:
        """What vocab.json keeps: the level, the boundary id and the characters."""
        return {"level": "char", "boundary_id": BOUNDARY_ID, "chars": self.chars}

    @classmethod
    def from_json(cls, obj: dict) -> Vocab:
        """The vocabulary vocab.json describes; NnlmError where it is not a character vocabulary."""
        if obj.get("level") != "char" or not isinstance(obj.get("chars"), list):
            raise NnlmError("vocab.json: not a character vocabulary")
        if not all(isinstance(c, str) and len(c) == 1 for c in obj["chars"]):
            raise NnlmError("vocab.json: every token must be one character")
        return cls(obj["chars"])
