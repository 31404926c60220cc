"""Words as tokens: a list of sentences, one per line (`sentences`), or a text as one stream
(`stream`: each line end a token, or with --no-line-ends nothing, as in Bengio et al. 2003)."""

from __future__ import annotations

from dataclasses import replace
from typing import ClassVar

import numpy as np
import torch

from ..errors import NnlmError, TooFew
from ..settings.data import MIN_COUNT_AUTO, DataConfig
from .base import SPLITS, FromFiles, check_split_files
from .text import lines, read_items
from .windows import StreamWindows, Windows
from .words import (LINE_END, UNK, UNK_ID, Corpus, encode_parts, read_corpus, remap,
                    split_corpus)


class WordSource(FromFiles):
    """Word level: whitespace-separated words, `<unk>` for rare ones (see words.py)."""

    level = "word"
    mode: ClassVar[str]

    @classmethod
    def read(cls, config: DataConfig, base=None) -> WordSource:
        if base is not None:
            raise NnlmError("a word-level run cannot start from another run's weights (characters and "
                            "subwords can)")
        if not config.path:
            raise NnlmError("tokens='word' needs a data file (the bundled names are characters)",
                            cli="--tokens word needs a DATA file (the bundled names are characters)")
        check_split_files(config)
        notes = []
        paths = [p for p in (config.path, config.dev, config.test) if p]
        line_ends = cls.mode == "stream" and config.line_ends
        corpora = {p: read_corpus(p, config.lowercase, line_ends) for p in paths}
        config = resolve_vocabulary(config, corpora[config.path], notes)
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
                notes.append("too little text for a dev split: training on all of it, with no dev split "
                             "to stop on or test split to report")
        source = cls(config, vocab, split, {p: c.sha256 for p, c in corpora.items()})
        if config.min_count:
            seen = np.unique(corpora[config.path].ids).size
            notes.append(f"words seen at most {config.min_count} times are <unk>: the vocabulary keeps "
                         f"{len(vocab) - 2:,} of the {seen:,} distinct words of {config.path} "
                         "(--min-count 0 keeps them all)")
        source.notes = notes
        return source

    def tokens(self) -> dict[str, int]:
        return self.split.tokens()

    def chars(self, split: str) -> int:
        """The words' characters and one whitespace character after each (see words.text_lengths)."""
        return self.split.chars()[split]

    def windows(self, split: str, block_size: int):
        return self.split.windows(split, block_size)


class WordSentences(WordSource):
    name = "sentences"
    mode = "sentence"

    def items(self) -> int:
        return sum(len(getattr(self.split, name).lengths) for name in SPLITS)

    def file_windows(self, path, block_size: int) -> Windows:
        return self.sequence_windows([self.vocab.encode(text) for text in read_items(path)], block_size)


class WordStream(WordSource):
    name = "stream"
    mode = "stream"
    ends = False

    def file_windows(self, path, block_size: int) -> StreamWindows:
        corpus = read_corpus(path, self.config.lowercase, self.config.line_ends)
        return StreamWindows(torch.from_numpy(remap(corpus, self.vocab)[corpus.ids]), block_size)

    def encode(self, text: str, context: str) -> list[int]:
        """The words of `text`, and a line end token at each of its line ends (--line-ends)."""
        if not self.config.line_ends:
            return self.vocab.encode(text, context)
        ids = []
        for n, line in enumerate(lines(text)):
            ids += ([self.vocab.stoi.get(LINE_END, UNK_ID)] if n else []) + self.vocab.encode(line, context)
        return ids


def resolve_vocabulary(config: DataConfig, train: Corpus, notes: list[str]) -> DataConfig:
    """The defaults of --min-count and --vocab-from: where the training text already marks
    its rare words with <unk> (PTB's layout; published figures use that vocabulary), every
    word of every file is kept (0, all); else the paper's 3, counted in the train split."""
    marked = UNK in train.words
    if marked and config.min_count == MIN_COUNT_AUTO and config.vocab_from == "auto":
        notes.append("the text marks its own rare words with <unk>: every word is kept")
    min_count = config.min_count if config.min_count != MIN_COUNT_AUTO else 0 if marked else 3
    vocab_from = config.vocab_from if config.vocab_from != "auto" else "all" if marked else "train"
    return replace(config, min_count=min_count, vocab_from=vocab_from)
