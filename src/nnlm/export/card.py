"""What a consumer needs beside the network: the vocabulary (`vocab_json`), the split pattern of a
byte-level BPE for Python's `re` (`split_pattern`), and the model card as JSON (`card_json`;
readme.py writes it as Markdown)."""

from __future__ import annotations

import functools
import math
from pathlib import Path

from ..data.fastbpe import GPT2_PATTERN
from ..data.vocab import BOUNDARY_DISPLAY, BOUNDARY_ID
from ..data.words import UNK_ID
from ..errors import NnlmError
from ..inference.lm import LanguageModel
from ..run.spec import RunSpec
from ..settings import to_json
from ..version import __version__

CARD_FORMAT, CARD_VERSION = "nnlm-export", 1


def vocab_json(spec: RunSpec, tokenizer_file: str | None) -> dict:
    """id -> token text (`tokens`; id 0, the boundary, shows as <e> and is no text), and what
    encoding a text takes for the run's kind of token: a word run's <unk> id, lowercasing and
    line ends; a BPE run's tokenizer file (its ids are nnlm's minus one) and split pattern."""
    source, vocab = spec.source, spec.source.vocab
    tokens = [BOUNDARY_DISPLAY] + [vocab.decode([i]) for i in range(1, len(vocab))]
    out = {"level": vocab.level, "boundary_id": BOUNDARY_ID, "size": len(vocab), "tokens": tokens}
    if vocab.level == "word":
        out.update(unk_id=UNK_ID, lowercase=bool(getattr(vocab, "lowercase", False)),
                   line_ends=bool(not source.ends and spec.data.line_ends))
    if vocab.level == "bpe":
        out.update(tokenizer=tokenizer_file, id_offset=1, split_pattern=split_pattern())
    return out


@functools.cache
def split_pattern() -> str:
    """GPT-2's split (data/fastbpe.py's GPT2_PATTERN, which the tokenizer's pre-tokenizer uses)
    for Python's `re`, which has no \\p{L} or \\p{N}: each class spelled out as code point ranges,
    as the `regex` package classes them (whitespace too: `re`'s \\s is not Unicode's)."""
    try:
        import regex
    except ImportError:
        raise NnlmError("exporting a BPE run needs the regex package: pip install regex") from None
    every = "".join(map(chr, [*range(0xD800), *range(0xE000, 0x110000)]))  # no surrogates

    def ranges(cls: str) -> str:
        spans = [m.span() for m in regex.finditer(f"{cls}+", every)]
        return "".join(escape(a) + (f"-{escape(b - 1)}" if b - a > 1 else "") for a, b in spans)

    L, N, S = ranges(r"\p{L}"), ranges(r"\p{N}"), ranges(r"\s")
    return (GPT2_PATTERN.replace(r"[^\s\p{L}\p{N}]", f"[^{S}{L}{N}]").replace(r"\p{L}", f"[{L}]")
            .replace(r"\p{N}", f"[{N}]").replace(r"\S", f"[^{S}]").replace(r"\s", f"[{S}]"))


def escape(index: int) -> str:
    """The code point at `index` of a string of all code points but the surrogates, as `re` escapes it."""
    code = index if index < 0xD800 else index + 0x800
    return f"\\u{code:04x}" if code < 0x10000 else f"\\U{code:08x}"


def figures(summary: dict) -> dict:
    """The model alone's figures from the run's summary.json (train_loss, model_dev_loss,
    model_test_loss; the predictor's, where training mixed in an n-gram model, are not the
    exported network's): per split the loss in nats per token, its perplexity and, where the run
    counts characters, bits per character."""
    out = {key: summary.get(key) for key in ("step", "best_step", "stopped")}
    for split in ("train", "dev", "test"):
        loss = summary.get("train_loss" if split == "train" else f"model_{split}_loss")
        mixed, per_char = summary.get(f"{split}_loss"), (summary.get("bits_per_char") or {}).get(split)
        # the predictor's bits per character are over the same tokens and characters: they scale with the loss
        bits = per_char * loss / mixed if loss is not None and per_char and mixed else None
        perplexity = math.exp(loss) if loss is not None else None
        out[split] = {"loss": loss, "perplexity": perplexity, "bits_per_char": bits}
    return out


def card_json(lm: LanguageModel, config: dict, summary: dict, exported: dict) -> dict:
    """The model card as JSON: what was exported (`exported`: the format's own section), the
    model, what it was trained on (config.json's record: `config`), the model alone's figures
    (`summary`: summary.json), what the ids mean, the n-gram model training mixed in, and
    `labels` (a labelled run's label -> id: labels_of)."""
    spec, source, mixture = lm.spec, config.get("source", {}), summary.get("mixture")
    return {
        "format": CARD_FORMAT, "format_version": CARD_VERSION, "nnlm_version": __version__, **exported,
        "model": {"family": spec.family.name, "what": spec.family.help,
                  "parameters": lm.model.num_parameters(), "preset": spec.preset,
                  "config": to_json(spec.model_config)},
        "data": {"file": Path(spec.data.path).name if spec.data.path else "the bundled names.txt",
                 "kind": "list" if spec.source.ends else "text", "source": spec.source.name,
                 "level": spec.source.level, "tokens": source.get("tokens"), "items": source.get("items"),
                 "chose": spec.reasons},
        "figures": figures(summary),
        "ids": {"vocab_size": lm.model.config.vocab_size, "boundary_id": BOUNDARY_ID,
                "level": spec.source.level, "ends": spec.source.ends,
                "default_max_len": spec.source.default_max_len()},
        "labels": labels_of(spec.source),
        "mixture": None if not mixture else {
            "order": mixture["order"], "weight": mixture["weight"], "dev_loss": summary.get("dev_loss"),
            "test_loss": summary.get("test_loss")},
    }


def labels_of(source) -> dict[str, int]:
    """A labelled run's labels: label name -> token id (an item starts from its label's id
    instead of the boundary: examples/onnx_consumer.py --label); empty for a run without labels."""
    return {name: source.label_token(name) for name in getattr(source, "labels", [])}
