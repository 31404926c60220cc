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
    labels: int = 0  # the labels of a labelled list (0: none)


@dataclass
class Stored:
    """What a run directory keeps for a source and its vocabulary, read back: the JSON of each
    file by its role ("splits", "tokenizer"; Source.files), and `where(role)`, the file's path
    for messages ("config" too: config.json). Only run/rundir.py knows the files' names."""

    files: dict[str, object]
    where: Callable[[str], str]

    def get(self, role: str):
        """The JSON of the file of `role`, or None where the run directory has none."""
        return self.files.get(role)


class Source(ABC):
    """The vocabulary and the train/dev/test token data of one data set."""

    name: ClassVar[str]  # the source's name in SOURCES (config.json's source "kind")
    ends: ClassVar[bool] = True  # sequences end with a boundary token (a stream's never do)
    marks_novelty: ClassVar[bool] = False  # keeps its items, so a sample can be marked new

    def __init__(self, config: DataConfig, vocab):
        self.config, self.vocab = config, vocab
        self.notes: list[str] = []  # what reading the data decided, for the user to see
        self.labels: list[str] = []  # a labelled list's labels, whose tokens follow the vocabulary's

    # -- token ids ---------------------------------------------------------------------
    def id_count(self) -> int:
        """The token ids the data's models read and predict: the vocabulary's, then one per label
        (a label is read, where its item starts, never predicted)."""
        return len(self.vocab) + len(self.labels)

    def label_token(self, label: str | int) -> int:
        """The token id of a label (its name or index); NnlmError naming the labels otherwise."""
        index = label if isinstance(label, int) else self.labels.index(label) if label in self.labels else -1
        if not 0 <= index < len(self.labels):
            have = f"its labels are {', '.join(self.labels)}" if self.labels else "the run has no labels"
            raise NnlmError(f"no label {label!r}: {have}")
        return len(self.vocab) + index

    def token_keys(self) -> list:
        """What each token id stands for (the vocabulary's keys, then the labels'): ids of two
        sources with equal keys are the same token (a run started from another's weights keeps
        their rows)."""
        return [*self.vocab.keys(), *(("label", name) for name in self.labels)]

    def token_str(self, i: int) -> str:
        """A token id as people read it (a label's as <label:name>)."""
        if i < len(self.vocab):
            return self.vocab.token_str(i)
        return f"<label:{self.labels[i - len(self.vocab)]}>"

    # -- reading and saving ------------------------------------------------------------
    @classmethod
    @abstractmethod
    def read(cls, config: DataConfig, base=None) -> Source:
        """Read and split the data files that `config` names; `base`: a vocabulary to keep (a run
        that starts from another's weights: its tokens keep their ids, new ones follow)."""

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

    def sequence_windows(self, sequences: list[list[int]], block_size: int,
                         starts: list[int] | None = None) -> Windows:
        """The examples of encoded sequences, each read from its own start: every token,
        and each sequence's end where the data has ends; `starts`: each sequence's first token
        (its label's, for a labelled list), where not the boundary."""
        lengths = torch.tensor([len(ids) for ids in sequences], dtype=torch.long)
        ids = torch.tensor([i for ids in sequences for i in ids], dtype=torch.long)
        first = torch.tensor(starts, dtype=torch.long) if starts is not None else None
        return Windows.from_ids(ids, lengths, block_size, ends=self.ends, starts=first)

    def encode(self, text: str, context: str) -> list[int]:
        """Token ids of one item or sentence; `context` names it in error messages."""
        return self.vocab.encode(text, context)

    def decode(self, ids) -> str:
        """The text of token ids (the boundary and labels left out)."""
        return self.vocab.decode([i for i in ids if i < len(self.vocab)] if self.labels else ids)

    def novelty(self, text: str) -> str | None:
        """'new', or the split ('train', 'dev', 'test') a sample already appears in; None when
        the source keeps no items to compare with."""
        return None

    def default_max_len(self) -> int:
        """The longest sample, in tokens, where a request asks for none."""
        return 50

    def held_bytes(self) -> np.ndarray | None:
        """Which of the 256 byte values the training text holds in UTF-8: (256,) bool, or None
        where the source cannot tell without its data (a byte-level BPE run never draws a token
        holding one it lacks)."""
        return None

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
                         tokens["dev"] > 0, len(self.labels))


def based_vocab(base, config: DataConfig, chars) -> object:
    """The vocabulary of data whose characters are `chars`, kept from `base` (a character
    vocabulary extended by what the data adds; a BPE as it is, whose bytes spell any text);
    NnlmError where base's tokens are not what `config` asks for."""
    level = "bpe" if config.tokens == "bpe" else config.tokens
    if base.level != level:
        why = "the run to start from has tokens"
        raise NnlmError(f"{why} of {base.level!r}, this data asks for {level!r}",
                        cli=f"{why} of --tokens {base.level}, this data asks for --tokens {level}")
    return base if level == "bpe" else base.extended(chars)


def check_split_files(config: DataConfig) -> None:
    """Refuse split settings that --dev/--test files make meaningless (NnlmError)."""
    if (config.dev or config.test) and (config.split_tokens or config.dedupe):
        raise NnlmError("dev and test files replace the split: no split_tokens or dedupe with them",
                        cli="--dev/--test files replace the split: no --split-tokens or --dedupe with them")


def byte_set(data: bytes) -> np.ndarray:
    """Which of the 256 byte values `data` holds: (256,) bool."""
    return np.bincount(np.frombuffer(data, dtype=np.uint8), minlength=256) > 0


def token_frequencies(source: Source, chunk: int = 1 << 22) -> np.ndarray:
    """How often each token is predicted in the training split: (V,) int64, counted `chunk`
    tokens at a time (a stream of any length in bounded memory)."""
    windows = source.windows("train", 1)
    counts = np.zeros(len(source.vocab), dtype=np.int64)
    for start in range(0, len(windows), chunk):
        targets = windows.targets(torch.arange(start, min(start + chunk, len(windows))))
        counts += np.bincount(targets.numpy(), minlength=len(source.vocab))
    return counts


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
