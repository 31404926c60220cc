"""`nnlm export`: a trained run's model in a folder another runtime reads, written whole or not at all.

    onnx   model.onnx (one sampling step: step.py), vocab.json, tokenizer.json (BPE runs),
           card.json and README.md (the model card), ngram.arpa (runs with an n-gram mixture)
    hf     transformers' GPT-2 files (hf.py), card.json and README.md, ngram.arpa

The folder is written beside `out` under a temporary name, then renamed: an export that fails
leaves nothing, and an existing `out` (replaced only when asked) stays whole until the new one is.
This module names the files of the formats it writes (run/rundir.py names the run's).
"""

from __future__ import annotations

import contextlib
import json
import os
import shutil
import tempfile
from pathlib import Path

from ..errors import NnlmError
from ..inference.lm import LanguageModel, load
from ..ngram.arpa import write_arpa
from ..run import rundir
from .card import card_json, vocab_json
from .formats import check_format
from .hf import write_hf
from .onnx_file import OPSET, write_onnx
from .readme import card_markdown
from .step import Step, step_of

ONNX_MODEL, VOCAB, TOKENIZER, ARPA = "model.onnx", "vocab.json", "tokenizer.json", "ngram.arpa"
CARD_JSON, CARD_MARKDOWN = "card.json", "README.md"  # README.md: the Hub's name for a model card


def export(run_dir: str | Path, out: str | Path, format: str = "onnx", overwrite: bool = False) -> Path:
    """Export the trained model of the run in `run_dir` (the model alone, its best weights) as
    `format` ("onnx" or "hf": formats.FORMATS) into the folder `out`.

    Args:
        run_dir: a run directory that is not training now.
        out: the folder to write; it must not exist, unless `overwrite` (then it is replaced).
        format: "onnx" (every family and token kind) or "hf" (the transformer family).
        overwrite: replace an existing `out`.
    Returns:
        The folder written.
    Raises:
        NnlmError: one line, nothing written: no such run, a run still training, weights that fail
            their check, a family or token kind the format cannot take, an existing `out`, a
            missing package.
        Failure: (an NnlmError) the exporter failed, or its graph disagrees with the model.
    """
    run_dir, out = Path(run_dir), Path(out)
    config = rundir.read_config(run_dir)
    check_out(run_dir, out, overwrite)
    if still_training(run_dir):
        raise NnlmError(f"{run_dir}: still training (a process holds its lock); export it once training ends")
    lm = load(run_dir, device="cpu", mix=False)
    check_format(format, lm.spec.family.name, lm.source.level)
    if format == "hf" and lm.source.labels:  # (its tokenizer would need a start token for each label)
        raise NnlmError("format 'hf' does not take a labelled run: export it with format='onnx' (its card "
                        "gives each label's id)", cli="--format hf does not take a labelled run: export it "
                        "with --format onnx (its card gives each label's id)")
    try:
        summary = rundir.read_summary(run_dir)
    except NnlmError:  # stopped before its summary: no figures
        summary = {}
    with staged(out, overwrite) as folder:
        (write_hf_folder if format == "hf" else write_onnx_folder)(lm, config, summary, folder)
    return out


def check_out(run_dir: Path, out: Path, overwrite: bool) -> None:
    """`out` is free, or (overwrite) a folder to replace that holds no part of the run."""
    if out.resolve() == run_dir.resolve() or run_dir.resolve().is_relative_to(out.resolve()):
        raise NnlmError(f"{out}: is or holds the run directory; choose another out",
                        cli=f"{out}: is or holds the run directory; choose another --out")
    if out.exists() and not overwrite:
        raise NnlmError(f"{out}: already exists; pass overwrite=True to replace it",
                        cli=f"{out}: already exists; pass --overwrite to replace it")
    if out.exists() and not out.is_dir():
        raise NnlmError(f"{out}: exists and is not a folder")


def still_training(run_dir: Path) -> bool:
    """Whether a process holds the run's lock (a run nnlm cannot lock, read-only, is not training)."""
    try:
        return rundir.is_training(run_dir)
    except OSError:
        return False


@contextlib.contextmanager
def staged(out: Path, overwrite: bool):
    """A temporary folder beside `out` to write in; renamed to `out` when the block ends well
    (an existing `out` is replaced: overwrite), removed when it fails."""
    try:
        out.parent.mkdir(parents=True, exist_ok=True)
        folder = Path(tempfile.mkdtemp(dir=out.parent, prefix=f".{out.name}.", suffix=".tmp"))
    except OSError as e:
        raise NnlmError(f"{out}: cannot write there ({e.strerror})") from None
    try:
        yield folder
        umask = os.umask(0)
        os.umask(umask)
        folder.chmod(0o777 & ~umask)  # as a folder made the usual way (mkdtemp's is the owner's alone)
        old = out.parent / f"{folder.name}.old"
        if overwrite and out.exists():
            out.rename(old)
        try:
            folder.rename(out)
        except OSError:
            if old.exists():  # the earlier folder back where it was
                old.rename(out)
            raise
        shutil.rmtree(old, ignore_errors=True)
    except BaseException:
        shutil.rmtree(folder, ignore_errors=True)
        raise


def write_json(path: Path, obj: dict) -> None:
    """`obj` as indented UTF-8 JSON at `path`."""
    path.write_text(json.dumps(obj, indent=1, ensure_ascii=False) + "\n", encoding="utf-8")


def write_onnx_folder(lm: LanguageModel, config: dict, summary: dict, folder: Path) -> None:
    """model.onnx, the vocabulary (and a BPE's tokenizer), the n-gram model, the card."""
    step = step_of(lm.model)
    write_onnx(step, folder / ONNX_MODEL)
    tokenizer = lm.source.vocab_files().get("tokenizer")
    if tokenizer is not None:
        write_json(folder / TOKENIZER, tokenizer)
    write_json(folder / VOCAB, vocab_json(lm.spec, TOKENIZER if tokenizer is not None else None))
    files = {"model": ONNX_MODEL, "vocab": VOCAB, "tokenizer": TOKENIZER if tokenizer is not None else None,
             "card": CARD_JSON, "arpa": write_ngram(lm, folder)}
    write_card(lm, config, summary, folder, {"exported": "onnx", "files": files, "onnx": onnx_card(step)})


def onnx_card(step: Step) -> dict:
    """The card's description of the ONNX graph: its inputs, outputs and state."""
    vocab = step.model.config.vocab_size
    states = [{"input": s.name, "output": s.output, "shape": list(s.shape), "dtype": s.dtype,
               "start": "zeros", "what": s.what} for s in step.states]
    after = [dict(s, shape=[("past + length" if d == "past" else d) for d in s["shape"]]) for s in states]
    return {"file": ONNX_MODEL, "opset": OPSET,
            "inputs": [{"name": "ids", "shape": ["batch", "length"], "dtype": "int64"}] +
                      [{"name": s["input"], "shape": s["shape"], "dtype": s["dtype"]} for s in states],
            "outputs": [{"name": "logits", "shape": ["batch", "length", vocab], "dtype": "float32"}] +
                       [{"name": s["output"], "shape": s["shape"], "dtype": s["dtype"]} for s in after],
            "state": states, "max_positions": step.max_positions}


def write_hf_folder(lm: LanguageModel, config: dict, summary: dict, folder: Path) -> None:
    """transformers' files (hf.py), the n-gram model, the card."""
    write_hf(lm.spec, lm.model, folder)
    files = {"transformers": "config.json, model.safetensors, generation_config.json, tokenizer.json, "
                             "tokenizer_config.json", "card": CARD_JSON, "arpa": write_ngram(lm, folder)}
    write_card(lm, config, summary, folder, {"exported": "hf", "files": files})


def write_ngram(lm: LanguageModel, folder: Path) -> str | None:
    """The n-gram model the run mixes in, as an ARPA file (its name), or None where it has none."""
    loaded = rundir.load_mixture(lm.spec.run_dir)
    if loaded is None:
        return None
    write_arpa(loaded[0], folder / ARPA, [lm.source.token_str(i) for i in range(lm.source.id_count())])
    return ARPA


def write_card(lm: LanguageModel, config: dict, summary: dict, folder: Path, exported: dict) -> None:
    """card.json and README.md, the model card, into `folder`."""
    card = card_json(lm, config, summary, exported)
    write_json(folder / CARD_JSON, card)
    (folder / CARD_MARKDOWN).write_text(card_markdown(card), encoding="utf-8")
