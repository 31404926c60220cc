"""A list: one item per line (names, words, cities...), each item its own sequence of characters
between boundary tokens."""

from __future__ import annotations

from pathlib import Path

import numpy as np

from ..errors import NnlmError, TooFew, where
from ..settings.data import DataConfig
from .base import SPLITS, Source, based_vocab, byte_set, check_split_files
from .bpe import bpe_vocab
from .labels import read_delimited, read_labelled_files, split_labelled
from .split import Split, split_items
from .text import bundled_names_path, read_items, read_numbered_items
from .vocab import Vocab
from .windows import Windows


def item_chars(items: list[str]) -> int:
    """Characters of the text that items' predicted tokens cover: each item and a line end (its
    end token)."""
    return sum(len(item) + 1 for item in items)


class CharItems(Source):
    """Character level, one item per line. The vocabulary is every character of every item
    of every file (the split chooses which items train, not which characters exist), plus
    the boundary token, so no data file can hold a character the model lacks."""

    name = "items"
    marks_novelty = True

    def __init__(self, config: DataConfig, vocab: Vocab, split: Split, labels: list[str] | None = None,
                 item_labels: dict[str, list[int]] | None = None):
        super().__init__(config, vocab)
        self.split = split
        self.labels = list(labels or [])
        self.item_labels = item_labels or {}  # a labelled list: each split's items' labels (indices)
        self._novelty = {}
        for name in ("test", "dev", "train"):  # train wins over dev, then test
            self._novelty.update(dict.fromkeys(getattr(split, name), name))

    @classmethod
    def read(cls, config: DataConfig, base=None) -> CharItems:
        if config.lowercase:
            raise NnlmError("lowercase is for tokens='word'", cli="--lowercase is for --tokens word")
        if config.split_tokens:
            raise NnlmError("split_tokens is for running text or words: a list is split by split",
                            cli="--split-tokens is for running text or words: a list is split by --split")
        check_split_files(config)
        path = Path(config.path) if config.path else bundled_names_path()
        notes, labels, item_labels = [], None, None
        if config.labelled:
            labelled = read_labelled_files(config.files) if config.files else \
                read_delimited(str(path), config.label_column, config.item_column)
            split, item_labels = split_labelled(labelled, config.split_seed, config.split, config.dedupe)
            labels = labelled.names
            counts = ", ".join(f"{name} {item_labels['train'].count(k):,}" for k, name in enumerate(labels))
            notes += [f"{len(labels)} labels (training items: {counts})", *labelled.notes]
        elif config.dev or config.test:
            split = Split(*[read_items(p) if p else [] for p in (path, config.dev, config.test)])
        else:
            items = read_items(path)
            try:
                split = split_items(items, config.split_seed, config.split, config.dedupe)
            except TooFew:  # a tiny list still trains: all of it
                split = Split(list(dict.fromkeys(items)) if config.dedupe else items, [], [])
                notes.append(f"{len(split.train)} items are too few for a dev split: training on all "
                             "of them, with no dev split to stop on or test split to report")
        if base is not None:
            vocab = based_vocab(base, config, "".join(split.train + split.dev + split.test))
        elif config.tokens == "bpe":
            vocab = bpe_vocab(split.train, config, notes)
        else:
            vocab = Vocab.from_items(split.train + split.dev + split.test)
        source = cls(config, vocab, split, labels, item_labels)
        source.notes = notes
        return source

    @classmethod
    def load(cls, config, vocab, state, stored) -> CharItems:
        splits = stored.get("splits")
        if splits is None:
            raise NnlmError(f"{stored.where('splits')}: missing (not a complete nnlm run directory)")
        if not all(isinstance(splits.get(k), list) and all(isinstance(x, str) for x in splits[k])
                   for k in SPLITS):
            raise NnlmError(f"{stored.where('splits')}: expected train, dev and test lists of strings")
        labels, item_labels = splits.get("labels", []), splits.get("item_labels", {})
        if not (isinstance(labels, list) and all(isinstance(x, str) for x in labels)
                and all(isinstance(item_labels.get(k), list) and len(item_labels[k]) == len(splits[k])
                        and all(isinstance(x, int) and 0 <= x < len(labels) for x in item_labels[k])
                        for k in SPLITS if labels)):
            raise NnlmError(f"{stored.where('splits')}: the labels do not match the items")
        return cls(config, vocab, Split(splits["train"], splits["dev"], splits["test"]), labels, item_labels)

    def files(self) -> dict[str, object]:
        """splits.json (with the labels of a labelled list) and what the vocabulary needs."""
        splits = self.split.to_json()
        if self.labels:
            splits.update(labels=self.labels, item_labels=self.item_labels)
        return {"splits": splits, **self.vocab_files()}

    def chars(self, split: str) -> int:
        return item_chars(getattr(self.split, split))

    def file_chars(self, path) -> int:
        return item_chars(read_items(path))

    def state_json(self) -> dict:
        state = {**super().state_json(), "items": {name: len(getattr(self.split, name)) for name in SPLITS}}
        return {**state, "labels": self.labels} if self.labels else state

    def tokens(self) -> dict[str, int]:
        if self.level != "char":
            return super().tokens()
        return {name: item_chars(getattr(self.split, name)) for name in SPLITS}

    def items(self) -> int:
        return sum(len(getattr(self.split, name)) for name in SPLITS)

    def windows(self, split: str, block_size: int) -> Windows:
        """The examples of a split (a labelled list's items start with their label's token)."""
        starts = [len(self.vocab) + k for k in self.item_labels[split]] if self.labels else None
        return Windows(getattr(self.split, split), self.vocab, block_size, starts=starts)

    def file_windows(self, path, block_size: int, label: str | None = None) -> Windows:
        """The examples of a file's items (a labelled list's: all under `label`)."""
        if self.labels and label is None:
            raise NnlmError(f"{path}: a labelled run reads a file's items under one label: name it "
                            f"(its labels are {', '.join(self.labels)})")
        numbered = read_numbered_items(path)
        starts = [self.label_token(label)] * len(numbered) if self.labels else None
        return self.sequence_windows([self.vocab.encode(item, where(path, line)) for line, item in numbered],
                                     block_size, starts)

    def novelty(self, text: str) -> str | None:
        return self._novelty.get(text, "new")

    def default_max_len(self) -> int:
        """Twice the longest training item, and at least 32."""
        return max(32, 2 * max(map(len, self.split.train)))

    def held_bytes(self) -> np.ndarray:
        """The bytes of the train split's items."""
        return byte_set("\n".join(self.split.train).encode("utf-8"))
