"""Tiny trained runs of every family (characters of a list of names; BPE subwords of running text;
words of sentences), trained and exported once a session, and the example consumer as a module."""

import importlib.util
import random

import pytest

import nnlm
from helpers import ROOT, VERSE
from nnlm.export.write import export

# a few dozen steps of each family: LayerNorm, BatchNorm, direct connections, tied outputs and
# several layers each where the family has them
SIZES = {"bigram": {}, "mlp": dict(block_size=3, n_embd=8, n_hidden=16),
         "hierarchical": dict(block_size=4, n_embd=8, n_hidden=16),
         "bow": dict(block_size=8, n_embd=16, n_hidden=16), "rnn": dict(block_size=16, n_embd=8, n_hidden=16),
         "gru": dict(block_size=16, n_embd=8, n_hidden=16), "lstm": dict(block_size=16, n_embd=8, n_hidden=16,
                                                                          n_layer=2),
         "transformer": dict(block_size=16, n_embd=16, n_layer=2, n_head=2)}
BPE_EXTRA = {"mlp": dict(direct=True), "lstm": dict(tie=True), "transformer": dict(tie=True)}
TRAINING = dict(steps=30, eval_interval=15, batch_size=32, progress=False)
DATA = {"char": dict(), "bpe": dict(tokens="bpe", vocab_size=300), "word": dict(tokens="word", min_count=1),
        "wordstream": dict(tokens="word", min_count=1, lowercase=True)}


@pytest.fixture(scope="session")
def data_files(tmp_path_factory, names):
    """level -> a data file: 300 names (a list), 6,000 characters of verse (running text: BPE
    subwords, or lowercased words with line ends), 400 sentences of names (a list of sentences)."""
    root = tmp_path_factory.mktemp("export-data")
    (root / "names.txt").write_text("\n".join(names[:300]) + "\n")
    (root / "verse.txt").write_text(VERSE.read_text()[:6000])
    rng = random.Random(0)
    lines = [f"{rng.choice(names[:30]).capitalize()} {rng.choice(['met', 'saw', 'sang with'])} "
             f"{rng.choice(names[:30]).capitalize()} ." for _ in range(400)]
    (root / "words.txt").write_text("\n".join(lines) + "\n")
    return {"char": root / "names.txt", "bpe": root / "verse.txt", "word": root / "words.txt",
            "wordstream": root / "verse.txt"}


@pytest.fixture(scope="session")
def trained(tmp_path_factory, data_files):
    """trained(family, level) -> the run directory of a tiny run (trained on first use)."""
    root, done = tmp_path_factory.mktemp("export-runs"), {}

    def run(family: str, level: str = "char"):
        if (family, level) not in done:
            extra = BPE_EXTRA.get(family, {}) if level == "bpe" else {}
            settings = {**SIZES[family], **extra, **DATA[level]}
            out = root / f"{family}-{level}"
            nnlm.train(str(data_files[level]), str(out), family=family, **settings, **TRAINING)
            done[family, level] = out
        return done[family, level]

    return run


@pytest.fixture(scope="session")
def exported(tmp_path_factory, trained):
    """exported(family, level, format) -> the folder `nnlm export` wrote (exported on first use)."""
    root, done = tmp_path_factory.mktemp("export-out"), {}

    def folder(family: str, level: str = "char", format: str = "onnx"):
        if (family, level, format) not in done:
            out = root / f"{family}-{level}-{format}"
            done[family, level, format] = export(trained(family, level), out, format)
        return done[family, level, format]

    return folder


@pytest.fixture(scope="session")
def consumer():
    """examples/onnx_consumer.py, imported."""
    spec = importlib.util.spec_from_file_location("onnx_consumer", ROOT / "examples" / "onnx_consumer.py")
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module
