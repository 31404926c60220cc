"""The data settings (each declared once, see declare.py): which file, how it is split, what a token is."""

from __future__ import annotations

import argparse
from dataclasses import dataclass

from .declare import check, setting


def fraction_list(text: str) -> tuple:
    try:
        values = tuple(float(x) for x in text.split(","))
    except ValueError:
        values = ()
    if len(values) != 3:
        raise argparse.ArgumentTypeError(f"expected three numbers like 0.8,0.1,0.1, got {text!r}")
    return values


def token_counts(text: str) -> tuple:
    try:
        values = tuple(int(x.replace("_", "")) for x in text.split(","))
    except ValueError:
        values = ()
    if len(values) != 2:
        raise argparse.ArgumentTypeError(f"expected TRAIN,DEV token counts like 800000,200000, "
                                         f"got {text!r}")
    return values


@dataclass
class DataConfig:
    path: str = ""  # the data file; "" means the bundled names.txt
    split_seed: int = setting(42, "seed of the shuffle that splits items")
    split: tuple = setting((0.8, 0.1, 0.1), "train,dev,test fractions (default 0.8,0.1,0.1)",
                           parse=fraction_list, metavar="TRAIN,DEV,TEST")
    dedupe: bool = setting(False, "drop repeated items before splitting")
    dev: str = setting("", "a file of dev items: DATA is then all training data (PTB/WikiText layout)",
                       metavar="FILE")
    test: str = setting("", "a file of test items, as --dev", metavar="FILE")
    level: str = setting("char", "tokens: the characters of each line, or whitespace-separated words",
                         choices=("char", "word"))
    word_mode: str = setting("sentence", "word level: one sentence per line between boundaries, or one "
                             "token stream", choices=("sentence", "stream"))
    lowercase: bool = setting(False, "word level: lowercase the text first")
    min_count: int = setting(3, "word level: words seen at most this many times become <unk> "
                             "(the paper's 3)", at_least=0)
    vocab_from: str = setting("train", "word level: count words in the train split or in all the data",
                              choices=("train", "all"))
    split_tokens: tuple = setting((), "word level: a contiguous split, TRAIN,DEV token counts, the rest "
                                  "is test", parse=token_counts, metavar="TRAIN,DEV")

    def validate(self) -> None:
        check(self)
