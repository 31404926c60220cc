"""The character vocabulary: the characters seen plus the boundary token at index 0."""

from __future__ import annotations

from ..errors import NnlmError

BOUNDARY_ID = 0  # start/end of an item; never a real character
BOUNDARY_DISPLAY = "<e>"  # how the boundary token is shown to people


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
