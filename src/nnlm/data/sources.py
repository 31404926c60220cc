"""Data sources: one small interface (base.Source) over the kinds of data nnlm reads.

A source reads its files as a DataConfig says, holds the vocabulary and the train/dev/test
token data, and is everything the rest of nnlm knows about data. What the file is (--kind)
and what a token is (--tokens) choose the source:

    items      a list, characters: one item per line (names, words, cities...)   items.py
    text       running text, characters: one stream, every character kept       running.py
               (both also with a byte-level BPE's subwords as tokens: --tokens bpe, bpe.py)
    sentences  a list, words: one sentence per line, each between boundaries     wordsources.py
    stream     running text, words: one stream, each line end a token            wordsources.py

With --kind auto (the default) the file itself decides (text.detect_kind), and says why; with
--tokens auto (the default) running text gets subwords and a list characters. A new
kind of data is a new subclass of `Source`, its line in SOURCES and in `source_name`. Nothing
outside the data layer looks at what a token or a file is.
"""

from __future__ import annotations

import os
from dataclasses import replace
from pathlib import Path

from ..errors import NnlmError
from ..settings.data import DataConfig
from .base import DataFacts, Source, Stored, token_frequencies
from .bpe import BPEVocab
from .items import CharItems
from .running import CharText
from .text import bundled_names_path, detect_kind
from .vocab import BOUNDARY_ID, Vocab
from .wordsources import WordSentences, WordStream
from .words import WordVocab

SOURCES: dict[str, type[Source]] = {s.name: s for s in (CharItems, CharText, WordSentences, WordStream)}


def source_name(config: DataConfig) -> str:
    """The name of the source that reads the data `config` describes (its kind decided)."""
    text = config.kind == "text"
    if config.tokens == "word":
        return WordStream.name if text else WordSentences.name
    return CharText.name if text else CharItems.name  # characters, or a BPE's subwords


def read_source(data: str | os.PathLike | list | None, config: DataConfig, base=None) -> Source:
    """Read DATA (default: the bundled names; several list files: a labelled list, each file's
    stem its items' label) and split it as `config` says; the config the source keeps has
    absolute paths and the kind of file decided. `base`: a vocabulary to keep (Source.read)."""
    config.validate()
    files = [data] if data is None or isinstance(data, str | os.PathLike) else list(data)
    if len(files) > 1:
        config = replace(config, files=tuple(str(Path(f).resolve()) for f in files))
    paths = {k: str(Path(v).resolve()) if v else "" for k, v in (("path", files[0]), ("dev", config.dev),
                                                                 ("test", config.test))}
    config, notes = replace(config, **paths), []
    if config.kind == "auto":
        kind, why = detect_kind(config.path or bundled_names_path())
        other = "list: one item per line" if kind == "text" else "text: as running text"
        what = "running text" if kind == "text" else "a list, one item per line"
        notes.append(f"{Path(config.path or bundled_names_path()).name} read as {what}: {why} "
                     f"(--kind {other})")
        config = replace(config, kind=kind)
    if config.tokens == "auto":
        config = replace(config, tokens="bpe" if config.kind == "text" else "char")
        if config.tokens == "bpe":
            notes.append("running text: subword tokens (a byte-level BPE), which beat characters on dev "
                         "within the default run's time on prose, a corpus and code (--tokens char: "
                         "characters)")
    check_labels(config)
    source = SOURCES[source_name(config)].read(config, base)
    source.notes = notes + source.notes
    return source


def check_labels(config: DataConfig) -> None:
    """Labels are for a list of characters or subwords, split by nnlm (NnlmError otherwise)."""
    if not config.labelled:
        if config.item_column:
            raise NnlmError.about("item_column", "--item-column", "goes with a label column")
        return
    if config.kind != "list" or config.tokens == "word":
        raise NnlmError("labels are for a list of items (characters or subwords), not running text or "
                        "words")
    if config.dev or config.test or config.split_tokens:
        why = "a labelled list is split label by label: no"
        raise NnlmError(f"{why} dev or test files, no split_tokens", cli=f"{why} --dev/--test files, no "
                        "--split-tokens")


def vocab_from_json(obj: dict, stored: Stored):
    """The vocabulary that vocab.json describes: characters, words, or a BPE (whose tokenizer
    the run directory keeps too: `stored`'s "tokenizer")."""
    level = obj.get("level")
    if level == "bpe":
        return BPEVocab.from_json(obj, stored.get("tokenizer"), stored.where("tokenizer"))
    return WordVocab.from_json(obj) if level == "word" else Vocab.from_json(obj)


__all__ = ["BOUNDARY_ID", "SOURCES", "CharItems", "CharText", "DataFacts", "Source", "WordSentences",
           "Stored", "WordStream", "source_name", "read_source", "token_frequencies", "vocab_from_json"]
