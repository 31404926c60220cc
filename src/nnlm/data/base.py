"""What every kind of data gives the rest of nnlm (Source), and the facts the default run's
choices follow (DataFacts)."""

from __future__ import annotations

from abc import ABC, abstractmethod
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import ClassVar

import numpy as np
import torch

from ..errors import NnlmError
from ..settings.data import DataConfig
from .windows import Windows

SPLITS = ("train", "dev", "test")


@dataclass(frozen=True)
class DataFacts:
    """Facts about a data set that the default run's choices follow."""

    tokens: int  # training tokens (predicted: end tokens included)
    items: int  # items or lines in all (0: one stream of text)
    vocab_size: int
    chars_per_token: float  # characters a token stands for, on average (1: characters)
    has_dev: bool


@dataclass
class Stored:
    """What a run directory keeps for a source and its vocabulary, read back: the JSON of each
    file by its role ("splits", "tokenizer"; Source.files), and `where(role)`, the file's path
    for messages ("config" too: config.json). Only run/rundir.py knows the files' names."""

    files: dict[str, object]
    where: Callable[[str], str]

    def get(self, role: str):
        return self.files.get(role)


class Source(ABC):
    """The vocabulary and the train/dev/test token data of one data set."""

    name: ClassVar[str]  # the source's name in SOURCES (config.json's source "kind")
    ends: ClassVar[bool] = True  # sequences end with a boundary token (a stream's never do)
    marks_novelty: ClassVar[bool] = False  # keeps its items, so a sample can be marked new

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
    def load(cls, config: DataConfig, vocab, state: dict, stored: Stored) -> Source:
        """The source of a run directory: its config, vocabulary, `state` (see state_json)
        and what it keeps there (see files)."""

    def state_json(self) -> dict:
        """What config.json keeps about the data beyond the settings: sizes, file hashes."""
        return {"kind": self.name, "tokens": self.tokens()}

    def files(self) -> dict[str, object]:
        """What the run directory keeps for this source beside config.json, by role: the JSON of
        a list's split ("splits"), a BPE's tokenizer ("tokenizer")."""
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
        chars, tokens = self.chars("train"), self.tokens()["train"]
        return chars / tokens if chars and tokens else 1.0

    def chars(self, split: str) -> int | None:
        """Characters of the text that a split's predicted tokens cover: a list's items and a
        line end each (its end token); a text's characters (each source counts its own)."""
        return self.tokens()[split] if self.level == "char" else None

    def file_chars(self, path) -> int | None:
        """The same, of a file that is not part of the run's data (nnlm eval RUN FILE)."""
        return None

    def vocab_files(self) -> dict[str, object]:
        """What the vocabulary needs kept beside vocab.json, by role (see files)."""
        return {"tokenizer": self.vocab.json} if self.level == "bpe" else {}

    @property
    def level(self) -> str:
        """What a token is, as people say it: char, word or bpe."""
        return self.vocab.level

    def facts(self) -> DataFacts:
        """What the default run's rules (run/auto.py) look at."""
        tokens = self.tokens()
        return DataFacts(tokens["train"], self.items(), len(self.vocab), self.chars_per_token(),
                         tokens["dev"] > 0)


def check_split_files(config: DataConfig) -> None:
    if (config.dev or config.test) and (config.split_tokens or config.dedupe):
        raise NnlmError("--dev/--test files replace the split: no --split-tokens or --dedupe with them")


def token_frequencies(source: Source) -> np.ndarray:
    """How often each token is predicted in the training split: (V,) int64."""
    windows = source.windows("train", 1)
    targets = windows.targets(torch.arange(len(windows)))
    return np.bincount(targets.numpy(), minlength=len(source.vocab))


class FromFiles(Source):
    """A source whose data is not copied into the run directory: config.json records each
    file's path and SHA-256, and the split is made again from the files when it is needed
    (a file that is gone or changed is an error)."""

    def __init__(self, config: DataConfig, vocab, split, hashes: dict[str, str]):
        super().__init__(config, vocab)
        self._split, self.hashes = split, hashes

    @classmethod
    def load(cls, config, vocab, state, stored) -> FromFiles:
        hashes = state.get("sha256")
        if not isinstance(hashes, dict) or not all(isinstance(v, str) for v in hashes.values()):
            raise NnlmError(f"{stored.where('config')}: does not record the data files' SHA-256")
        return cls(config, vocab, None, hashes)

    def state_json(self) -> dict:
        return {**super().state_json(), "sha256": self.hashes}

    def reread(self) -> FromFiles:
        """The source made again from its files (its vocabulary rebuilt, as reading builds it)."""
        return type(self).read(self.config)

    @property
    def split(self):
        """The split, made again from the data files (checked against their hashes)."""
        if self._split is None:
            for path in self.hashes:
                if not Path(path).exists():
                    raise NnlmError(f"{path}: the run's data file is gone (this run re-reads it)")
            again = self.reread()
            if again.hashes != self.hashes or again.vocab != self.vocab:
                changed = next((p for p in self.hashes if again.hashes.get(p) != self.hashes[p]),
                               self.config.path)
                raise NnlmError(f"{changed}: changed since the run was trained (sha256 differs)")
            self.take(again)
        return self._split

    def take(self, again: FromFiles) -> None:
        """Keep what reading the files again made."""
        self._split = again._split
