"""A list: one item per line (names, words, cities...), each item its own sequence of characters
between boundary tokens."""

from __future__ import annotations

from pathlib import Path

from ..errors import NnlmError, TooFew, where
from ..settings.data import DataConfig
from .base import SPLITS, Source, check_split_files
from .bpe import bpe_vocab
from .split import Split, split_items
from .text import bundled_names_path, read_items, read_numbered_items
from .vocab import Vocab
from .windows import Windows


class CharItems(Source):
    """Character level, one item per line. The vocabulary is every character of every item
    of every file (the split chooses which items train, not which characters exist), plus
    the boundary token, so no data file can hold a character the model lacks."""

    name = "items"
    marks_novelty = True

    def __init__(self, config: DataConfig, vocab: Vocab, split: Split):
        super().__init__(config, vocab)
        self.split = split
        self._novelty = {}
        for name in ("test", "dev", "train"):  # train wins over dev, then test
            self._novelty.update(dict.fromkeys(getattr(split, name), name))

    @classmethod
    def read(cls, config: DataConfig) -> CharItems:
        if config.lowercase:
            raise NnlmError("--lowercase is for --tokens word")
        if config.split_tokens:
            raise NnlmError("--split-tokens is for running text or words: a list is split by --split")
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
        if config.tokens == "bpe":
            vocab = bpe_vocab(split.train, config, notes)
        else:
            vocab = Vocab.from_items(split.train + split.dev + split.test)
        source = cls(config, vocab, split)
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
        return cls(config, vocab, Split(splits["train"], splits["dev"], splits["test"]))

    def files(self) -> dict[str, object]:
        return {"splits": self.split.to_json(), **self.vocab_files()}

    def chars(self, split: str) -> int:
        return sum(len(s) + 1 for s in getattr(self.split, split))

    def file_chars(self, path) -> int:
        return sum(len(item) + 1 for item in read_items(path))

    def state_json(self) -> dict:
        return {**super().state_json(),
                "items": {name: len(getattr(self.split, name)) for name in SPLITS}}

    def tokens(self) -> dict[str, int]:
        if self.level != "char":
            return super().tokens()
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
