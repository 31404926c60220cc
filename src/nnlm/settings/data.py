"""The data settings (each declared once, see declare.py): which file, how it is split, what a token is."""

from __future__ import annotations

import argparse
from dataclasses import dataclass

from .declare import check, setting


def parse_fractions(text: str) -> tuple:
    """TRAIN,DEV,TEST fractions from text: a tuple of three floats (argparse's type)."""
    try:
        values = tuple(float(x) for x in text.split(","))
    except ValueError:
        values = ()
    if len(values) != 3:
        raise argparse.ArgumentTypeError(f"expected three numbers like 0.8,0.1,0.1, got {text!r}")
    return values


def parse_count_pair(text: str) -> tuple:
    """TRAIN,DEV token counts from text: a tuple of two ints (argparse's type)."""
    try:
        values = tuple(int(x.replace("_", "")) for x in text.split(","))
    except ValueError:
        values = ()
    if len(values) != 2:
        raise argparse.ArgumentTypeError(f"expected TRAIN,DEV token counts like 800000,200000, "
                                         f"got {text!r}")
    return values


KINDS = ("auto", "list", "text")  # what the file is
TOKENS = ("auto", "char", "word", "bpe")  # what a token is; auto: bpe for running text, char for a list
MIN_COUNT_AUTO = -1  # --min-count: 0 where the text marks its own rare words with <unk>, else 3


@dataclass
class DataConfig:
    """The data settings: which file, what it is, what a token is, how it is split."""

    path: str = ""  # the data file; "" means the bundled names.txt
    files: tuple = ()  # a labelled run on several list files: all of them (each file's stem its label)
    kind: str = setting("auto", "what the file is: a list (one item per line, each modelled on its own) or "
                        "running text (one stream: every character kept, the newline a token, context "
                        "across lines); auto decides from the file and says why", choices=KINDS)
    tokens: str = setting("auto", "what a token is: a character, a whitespace-separated word, or a subword "
                          "of a byte-level BPE trained on the training split; auto: subwords for running "
                          "text, characters for a list (what wins on dev for each: benchmarks/levels.py)",
                          choices=TOKENS)
    vocab_size: int = setting(0, "--tokens bpe: the vocabulary size (0: chosen from the size of the "
                              "training text)", at_least=0)
    split_seed: int = setting(42, "seed of the shuffle that splits a list's items")
    split: tuple = setting((0.8, 0.1, 0.1), "train,dev,test fractions (default 0.8,0.1,0.1): of a list's "
                           "items, shuffled, or of a text's tokens, in order", parse=parse_fractions,
                           metavar="TRAIN,DEV,TEST")
    dedupe: bool = setting(False, "drop repeated items of a list before splitting")
    dev: str = setting("", "a file of dev data: DATA is then all training data (PTB/WikiText layout)",
                       metavar="FILE")
    test: str = setting("", "a file of test data, as --dev", metavar="FILE")
    split_tokens: tuple = setting((), "a contiguous split by token counts, TRAIN,DEV; the rest is test "
                                  "(words of a list: the cuts move to the next line start; --tokens bpe: "
                                  "characters, as the text is cut before its tokenizer is trained)",
                                  parse=parse_count_pair, metavar="TRAIN,DEV")
    line_ends: bool = setting(True, "word-level text: each line end is a token (--no-line-ends: line ends "
                              "mean nothing, the stream of Bengio et al. 2003)")
    lowercase: bool = setting(False, "word level: lowercase the text first")
    min_count: int = setting(MIN_COUNT_AUTO, "word level: words seen at most this many times become <unk> "
                             "(default: 0 where the text already has <unk>, else the paper's 3)",
                             at_least=MIN_COUNT_AUTO)
    vocab_from: str = setting("auto", "word level: count words in the train split or in all the data "
                              "(auto: all of it where the text marks its own rare words with <unk>, so the "
                              "corpus keeps its vocabulary; else the train split)",
                              choices=("auto", "train", "all"))
    label_column: str = setting("", "a CSV or TSV file of labelled items (its first row names the columns): "
                                "the column of each item's label (default: no labels; several list files "
                                "are labelled by their names)", metavar="NAME")
    item_column: str = setting("", "with --label-column: the column of the items (default: the first other "
                               "column)", metavar="NAME")

    @property
    def labelled(self) -> bool:
        """Whether the items have labels: several files, or a label column."""
        return len(self.files) > 1 or bool(self.label_column)

    def validate(self) -> None:
        """NnlmError for a setting outside its bounds or choices."""
        check(self)
