"""Data sources: one small interface over the kinds of data nnlm reads.

A source reads its files as a DataConfig says, holds the vocabulary and the train/dev/test
token data, and is everything the rest of nnlm knows about data:

    items      character level, one item per line (names, words, cities...)
    sentences  word level, one sentence per line, each between boundary tokens
    stream     word level, the whole text one token stream (Bengio et al. 2003)

A new kind of data is a new subclass of `Source` and its line in SOURCES and `kind_of`.
Nothing outside this module compares `level` or `word_mode` strings.
"""

from __future__ import annotations

from abc import ABC, abstractmethod
from dataclasses import dataclass, replace
from pathlib import Path
from typing import ClassVar

import numpy as np
import torch

from ..errors import NnlmError, TooFew, where
from ..settings.data import DataConfig
from .split import Split, split_items
from .text import bundled_names_path, read_items, read_numbered_items, read_text
from .vocab import BOUNDARY_ID, Vocab
from .windows import StreamWindows, Windows
from .words import WordSplit, WordVocab, encode_parts, read_corpus, split_corpus

SPLITS = ("train", "dev", "test")


@dataclass(frozen=True)
class DataFacts:
    """Facts about a data set that the default run's choices follow."""

    tokens: int  # training tokens (predicted: end tokens included)
    items: int  # items or lines in all (0: one stream of text)
    vocab_size: int
    chars_per_token: float  # characters a token stands for, on average (1: characters)
    has_dev: bool


class Source(ABC):
    """The vocabulary and the train/dev/test token data of one data set."""

    kind: ClassVar[str]
    ends: ClassVar[bool] = True  # sequences end with a boundary token (a stream's never do)
    marks_novelty: ClassVar[bool] = False  # keeps its items, so a sample can be marked new
    level: ClassVar[str] = "char"  # what a token is, as people say it

    def __init__(self, config: DataConfig, vocab):
        self.config, self.vocab = config, vocab
        self.notes: list[str] = []  # what reading the data decided, for the user to see

    # -- reading and saving ------------------------------------------------------------
    @classmethod
    @abstractmethod
    def read(cls, config: DataConfig) -> Source:
        """Read and split the data files that `config` names."""

    @classmethod
    @abstractmethod
    def load(cls, run_dir: Path, config: DataConfig, vocab, state: dict, stored: dict) -> Source:
        """The source of a run directory: its config, vocabulary, `state` (see state_json)
        and `stored`, the JSON of its files (see files) by name."""

    def state_json(self) -> dict:
        """What config.json keeps about the data beyond the settings: sizes, file hashes."""
        return {"kind": self.kind, "tokens": self.tokens()}

    def files(self) -> dict[str, object]:
        """Extra files of the run directory, name -> JSON (character items: splits.json)."""
        return {}

    # -- token data ------------------------------------------------------------------
    @abstractmethod
    def windows(self, split: str, block_size: int):
        """The (context, next token) examples of a split: data.Windows or StreamWindows."""

    def tokens(self) -> dict[str, int]:
        """Predicted tokens per split (end tokens included)."""
        return {name: len(self.windows(name, 1)) for name in SPLITS}

    def items(self) -> int:
        """Items or lines in all the splits (0: the data is one stream)."""
        return 0

    @abstractmethod
    def file_windows(self, path: str | Path, block_size: int):
        """The examples of a file that is not part of the run's data (nnlm eval RUN FILE)."""

    def sequence_windows(self, sequences: list[list[int]], block_size: int) -> Windows:
        """The examples of encoded sequences, each read from its own start: every token,
        and each sequence's end where the data has ends."""
        lengths = torch.tensor([len(ids) for ids in sequences], dtype=torch.long)
        ids = torch.tensor([i for ids in sequences for i in ids], dtype=torch.long)
        return Windows.from_ids(ids, lengths, block_size, ends=self.ends)

    def encode(self, text: str, context: str) -> list[int]:
        """Token ids of one item or sentence; `context` names it in error messages."""
        return self.vocab.encode(text, context)

    def decode(self, ids) -> str:
        return self.vocab.decode(ids)

    def novelty(self, text: str) -> str | None:
        """'new', or the split ('train', 'dev', 'test') a sample already appears in; None when
        the source keeps no items to compare with."""
        return None

    def default_max_len(self) -> int:
        return 50

    def chars_per_token(self) -> float:
        """Characters of text a training token stands for, on average (1 for characters)."""
        return 1.0

    def facts(self) -> DataFacts:
        """What the default run's rules (run/auto.py) look at."""
        tokens = self.tokens()
        return DataFacts(tokens["train"], self.items(), len(self.vocab), self.chars_per_token(),
                         tokens["dev"] > 0)


def check_split_files(config: DataConfig) -> None:
    if (config.dev or config.test) and (config.split_tokens or config.dedupe):
        raise NnlmError("--dev/--test files replace the split: no --split-tokens or --dedupe with them")


class CharItems(Source):
    """Character level, one item per line. The vocabulary is every character of every item
    of every file (the split chooses which items train, not which characters exist), plus
    the boundary token, so no data file can hold a character the model lacks."""

    kind = "items"
    marks_novelty = True

    def __init__(self, config: DataConfig, vocab: Vocab, split: Split):
        super().__init__(config, vocab)
        self.split = split
        self._novelty = {}
        for name in ("test", "dev", "train"):  # train wins over dev, then test
            self._novelty.update(dict.fromkeys(getattr(split, name), name))

    @classmethod
    def read(cls, config: DataConfig) -> CharItems:
        if config.lowercase or config.split_tokens:
            raise NnlmError("--lowercase and --split-tokens are for --level word")
        check_split_files(config)
        path = Path(config.path) if config.path else bundled_names_path()
        notes = []
        if config.dev or config.test:
            split = Split(*[read_items(p) if p else [] for p in (path, config.dev, config.test)])
        else:
            items = read_items(path)
            try:
                split = split_items(items, config.split_seed, config.split, config.dedupe)
            except TooFew:  # a tiny list still trains: all of it
                split = Split(list(dict.fromkeys(items)) if config.dedupe else items, [], [])
                notes.append(f"{len(split.train)} items are too few for a dev split: training on all "
                             "of them, with no dev split to stop on or test split to report")
        source = cls(config, Vocab.from_items(split.train + split.dev + split.test), split)
        source.notes = notes
        return source

    @classmethod
    def load(cls, run_dir, config, vocab, state, stored) -> CharItems:
        splits = stored.get("splits.json")
        if splits is None:
            raise NnlmError(f"{Path(run_dir) / 'splits.json'}: missing (not a complete nnlm run directory)")
        if not all(isinstance(splits.get(k), list) and all(isinstance(x, str) for x in splits[k])
                   for k in SPLITS):
            raise NnlmError(f"{Path(run_dir) / 'splits.json'}: expected train, dev and test lists of strings")
        return cls(config, vocab, Split(splits["train"], splits["dev"], splits["test"]))

    def files(self) -> dict[str, object]:
        return {"splits.json": self.split.to_json()}

    def state_json(self) -> dict:
        return {**super().state_json(),
                "items": {name: len(getattr(self.split, name)) for name in SPLITS}}

    def tokens(self) -> dict[str, int]:
        return {name: sum(len(s) + 1 for s in getattr(self.split, name)) for name in SPLITS}

    def items(self) -> int:
        return sum(len(getattr(self.split, name)) for name in SPLITS)

    def windows(self, split: str, block_size: int) -> Windows:
        return Windows(getattr(self.split, split), self.vocab, block_size)

    def file_windows(self, path, block_size: int) -> Windows:
        numbered = read_numbered_items(path)
        return self.sequence_windows([self.vocab.encode(item, where(path, line)) for line, item in numbered],
                                     block_size)

    def novelty(self, text: str) -> str | None:
        return self._novelty.get(text, "new")

    def default_max_len(self) -> int:
        return max(32, 2 * max(map(len, self.split.train)))



class WordSource(Source):
    """Word level: whitespace-separated words, `<unk>` for rare ones (see words.py).

    The corpus is not copied into the run directory: config.json records each file's path
    and SHA-256, and the split is made again from the files when it is needed."""

    level = "word"
    mode: ClassVar[str]

    def __init__(self, config: DataConfig, vocab: WordVocab, split: WordSplit | None,
                 hashes: dict[str, str]):
        super().__init__(config, vocab)
        self._split, self.hashes = split, hashes

    @classmethod
    def read(cls, config: DataConfig) -> WordSource:
        if not config.path:
            raise NnlmError("--level word needs a DATA file (the bundled names are characters)")
        check_split_files(config)
        notes = []
        paths = [p for p in (config.path, config.dev, config.test) if p]
        corpora = {p: read_corpus(p, config.lowercase) for p in paths}
        if config.dev or config.test:
            parts = [corpora.get(p) for p in (config.path, config.dev, config.test)]
            vocab, split = encode_parts(parts, mode=cls.mode, min_count=config.min_count,
                                        vocab_from=config.vocab_from, lowercase=config.lowercase)
        else:
            options = dict(mode=cls.mode, min_count=config.min_count, vocab_from=config.vocab_from,
                           split_tokens=tuple(config.split_tokens), seed=config.split_seed,
                           dedupe=config.dedupe, lowercase=config.lowercase)
            try:
                vocab, split = split_corpus(corpora[config.path], fractions=tuple(config.split), **options)
            except TooFew:  # a tiny corpus still trains: all of it
                vocab, split = split_corpus(corpora[config.path], fractions=(1.0, 0.0, 0.0), **options)
                notes.append("too few lines for a dev split: training on all of them, with no dev split "
                             "to stop on or test split to report")
        source = cls(config, vocab, split, {p: c.sha256 for p, c in corpora.items()})
        source.notes = notes
        return source

    @classmethod
    def load(cls, run_dir, config, vocab, state, stored) -> WordSource:
        hashes = state.get("sha256")
        if not isinstance(hashes, dict) or not all(isinstance(v, str) for v in hashes.values()):
            raise NnlmError(f"{run_dir}: config.json does not record the data files' SHA-256")
        return cls(config, vocab, None, hashes)

    def state_json(self) -> dict:
        return {**super().state_json(), "sha256": self.hashes}

    @property
    def split(self) -> WordSplit:
        """The split, made again from the data files (checked against their hashes)."""
        if self._split is None:
            for path in self.hashes:
                if not Path(path).exists():
                    raise NnlmError(f"{path}: the run's data file is gone (word-level runs re-read it)")
            again = type(self).read(self.config)
            if again.hashes != self.hashes or again.vocab != self.vocab:
                changed = next((p for p in self.hashes if again.hashes.get(p) != self.hashes[p]),
                               self.config.path)
                raise NnlmError(f"{changed}: changed since the run was trained (sha256 differs)")
            self._split = again._split
        return self._split

    def tokens(self) -> dict[str, int]:
        return self.split.tokens()

    def chars_per_token(self) -> float:
        """The mean length of the training split's words (<unk> and the end token count 1)."""
        counts = token_counts(self)
        lengths = np.array([len(self.vocab.token_str(i)) if i >= 2 else 1 for i in range(len(self.vocab))])
        return float(counts @ lengths / max(counts.sum(), 1))

    def windows(self, split: str, block_size: int):
        return self.split.windows(split, block_size)


class WordSentences(WordSource):
    kind = "sentences"
    mode = "sentence"

    def items(self) -> int:
        return sum(len(getattr(self.split, name).lengths) for name in SPLITS)

    def file_windows(self, path, block_size: int) -> Windows:
        return self.sequence_windows([self.vocab.encode(text) for text in read_items(path)], block_size)


class WordStream(WordSource):
    kind = "stream"
    mode = "stream"
    ends = False

    def file_windows(self, path, block_size: int) -> StreamWindows:
        return StreamWindows(torch.tensor(self.vocab.encode(read_text(path))), block_size)


SOURCES: dict[str, type[Source]] = {s.kind: s for s in (CharItems, WordSentences, WordStream)}


def kind_of(config: DataConfig) -> str:
    """Which source reads the data that `config` describes."""
    if config.level == "char":
        return CharItems.kind
    return WordStream.kind if config.word_mode == "stream" else WordSentences.kind


def read_source(data: str | None, config: DataConfig) -> Source:
    """Read DATA (default: the bundled names) and split it as `config` says; the config
    the source keeps has absolute paths."""
    config.validate()
    paths = {k: str(Path(v).resolve()) if v else "" for k, v in (("path", data), ("dev", config.dev),
                                                                 ("test", config.test))}
    return SOURCES[kind_of(config)].read(replace(config, **paths))


def vocab_from_json(obj: dict):
    """The character or word vocabulary that vocab.json describes."""
    return WordVocab.from_json(obj) if obj.get("level") == "word" else Vocab.from_json(obj)


def token_counts(source: Source) -> np.ndarray:
    """How often each token is predicted in the training split: (V,) int64."""
    windows = source.windows("train", 1)
    targets = windows.targets(torch.arange(len(windows)))
    return np.bincount(targets.numpy(), minlength=len(source.vocab))


__all__ = ["BOUNDARY_ID", "SOURCES", "CharItems", "Source", "WordSentences", "WordStream",
           "kind_of", "read_source", "token_counts", "vocab_from_json"]
