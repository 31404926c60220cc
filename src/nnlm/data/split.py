"""The train/dev/test split of a list of items (the lecture's shuffle and cut points)."""

from __future__ import annotations

import random
from dataclasses import dataclass

from ..errors import NnlmError, TooFew


@dataclass
class Split:
    train: list[str]
    dev: list[str]
    test: list[str]

    def to_json(self) -> dict:
        """The three lists, as splits.json keeps them."""
        return {"train": self.train, "dev": self.dev, "test": self.test}


def fraction_cuts(n: int, fractions) -> tuple[int, int]:
    """Where dev and test start among n things split by TRAIN,DEV,TEST fractions."""
    return int(fractions[0] * n), (int((1.0 - fractions[2]) * n) if fractions[2] > 0 else n)


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
    n1, n2 = fraction_cuts(n, fractions)
    split = Split(items[:n1], items[n1:n2], items[n2:])
    if not split.train or (fractions[1] > 0 and not split.dev):
        raise TooFew(f"{n} items are too few for a {fractions} split: "
                        f"train {len(split.train)}, dev {len(split.dev)}, test {len(split.test)}")
    return split


def check_fractions(fractions) -> None:
    """Refuse fractions that are not three non-negative numbers summing to 1, train > 0."""
    if len(fractions) != 3 or any(f < 0 for f in fractions) or fractions[0] <= 0:
        raise NnlmError(f"split fractions {fractions}: need three non-negative numbers, train > 0")
    if abs(sum(fractions) - 1.0) > 1e-6:
        raise NnlmError(f"split fractions {fractions} add up to {sum(fractions):g}, not 1")
