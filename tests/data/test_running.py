"""Running text: told apart from lists, every character kept, split in order, read in pieces."""

import glob
import sysconfig
from pathlib import Path

import numpy as np
import pytest
import torch
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from helpers import FIXTURES
from nnlm.data import running
from nnlm.data.sources import read_source
from nnlm.data.text import detect_kind
from nnlm.errors import NnlmError
from nnlm.settings.data import DataConfig

VERSE = """ROMEO:
But, soft! what light through yonder window breaks?
It is the east, and Juliet is the sun.

JULIET:
O Romeo, Romeo! wherefore art thou Romeo?
"""


def text_source(path, **options):
    return read_source(str(path), DataConfig(**{"kind": "text", "tokens": "char", **options}))


def decoded(source, split):
    windows = source.windows(split, 1)
    return source.decode(windows.targets(torch.arange(len(windows))).tolist())


def write(tmp_path, text, name="text.txt"):
    path = tmp_path / name
    path.write_bytes(text.encode("utf-8"))
    return path


@pytest.mark.parametrize("name", ["names300.txt", "words200.txt"])
def test_lists_stay_lists(name):
    assert detect_kind(FIXTURES / name)[0] == "list"


@pytest.mark.parametrize("text, why", [
    (VERSE * 3, "blank"),
    ("def f(x):\n    return x\n" * 20, "indented"),
    ("The quick brown fox jumps over the lazy dog while the cat sleeps .\n" * 30, "words each"),
    ("short\n" + "a" * 5000 + "\nend\n", "characters long"),
    ("just one line", "one line"),
], ids=["verse", "code", "prose", "a long line", "one line"])
def test_running_text_is_told_from_a_list(tmp_path, text, why):
    kind, reason = detect_kind(write(tmp_path, text))
    assert kind == "text" and why in reason


def test_the_default_kind_reads_the_file_and_says_why(tmp_path):
    source = read_source(str(write(tmp_path, VERSE * 40)), DataConfig())
    assert source.name == "text" and source.config.kind == "text"
    assert "read as running text" in source.notes[0] and "--kind list" in source.notes[0]
    assert source.level == "bpe" and "running text: subword tokens" in source.notes[1]  # --tokens auto
    names = read_source(str(FIXTURES / "names300.txt"), DataConfig())
    assert names.name == "items" and names.level == "char" and names.config.tokens == "char"


@settings(max_examples=60, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(st.text(st.characters(blacklist_categories=("Cs",), blacklist_characters="\x00"), min_size=3,
               max_size=300).filter(str.strip))
def test_every_character_round_trips_in_order(tmp_path, text):
    """Whitespace, line ends of every kind, emoji, combining marks: the splits, decoded and
    joined in order, are the file (a NUL byte is binary data: an error, tested below)."""
    source = text_source(write(tmp_path, text), split=(0.5, 0.25, 0.25))
    tokens = source.tokens()
    assert sum(tokens.values()) == len(text)
    assert "".join(decoded(source, s) for s in ("train", "dev", "test")) == text
    assert source.decode(source.encode(text, "t")) == text


@pytest.mark.parametrize("tokens", ["auto", "char"])  # auto: subwords, running text's default
def test_a_python_file_round_trips_byte_for_byte(tmp_path, tokens):
    """2.5 MB of code (the standard library's first modules): indentation, blank lines and all."""
    code, total = [], 0
    for path in sorted(glob.glob(sysconfig.get_paths()["stdlib"] + "/*.py")):
        code.append(Path(path).read_text(encoding="utf-8"))
        total += len(code[-1])
        if total > 2_500_000:
            break
    path = tmp_path / "code.py"
    path.write_text("\n".join(code), encoding="utf-8")
    source = read_source(str(path), DataConfig(tokens=tokens))
    assert source.name == "text" and source.level == {"auto": "bpe", "char": "char"}[tokens]
    joined = "".join(decoded(source, s) for s in ("train", "dev", "test"))
    assert joined.encode("utf-8") == path.read_bytes()


def test_the_split_is_in_order_and_dev_and_test_files_replace_it(tmp_path):
    text = "".join(f"line {i}\n" for i in range(1000))
    source = text_source(write(tmp_path, text))
    n = len(text)
    assert source.tokens() == {"train": int(0.8 * n), "dev": int(0.9 * n) - int(0.8 * n),
                               "test": n - int(0.9 * n)}
    assert decoded(source, "dev") == text[int(0.8 * n):int(0.9 * n)]
    tokens = text_source(write(tmp_path, text), split_tokens=(100, 50)).tokens()
    assert tokens == {"train": 100, "dev": 50, "test": n - 150}
    dev = write(tmp_path, "line x\n", "dev.txt")
    both = text_source(write(tmp_path, text), dev=str(dev), test=str(dev))
    assert both.tokens() == {"train": n, "dev": 7, "test": 7} and decoded(both, "test") == "line x\n"


def test_a_stream_in_a_memory_mapped_file_gives_the_same_ids(tmp_path, monkeypatch):
    path = write(tmp_path, VERSE * 50)
    in_memory = text_source(path)
    monkeypatch.setattr(running, "MEMMAP_TOKENS", 100)
    mapped = text_source(path)
    assert isinstance(mapped.split.ids, np.memmap) and not isinstance(in_memory.split.ids, np.memmap)
    assert np.array_equal(mapped.split.ids, in_memory.split.ids)
    windows = mapped.windows("train", 8)
    assert windows.sequences().stream.data_ptr() == torch.from_numpy(mapped.split.ids).data_ptr()


def test_pieces_of_a_long_file_join_without_a_seam(tmp_path, monkeypatch):
    """Read in pieces of 7 bytes: characters of 2 to 4 bytes cut across pieces decode whole."""
    text = "naïve café — 東京 🙂\r\nline two\rthree\n" * 20
    monkeypatch.setattr(running, "text_pieces", lambda p, digest=None: read_small(p, digest))
    source = text_source(write(tmp_path, text), split=(1.0, 0.0, 0.0))
    assert decoded(source, "train") == text


def read_small(path, digest=None):
    from nnlm.data.text import text_pieces
    return text_pieces(path, digest, chunk_bytes=7)


@pytest.mark.parametrize("content, message", [
    (b"abc\ndef\x00ghi\n", "text.txt:2: binary data"),
    (b"one\ntwo\nth\xffree\n", "text.txt:3: not valid UTF-8"),
    (b"  \n\t\n\n", "only blank lines and whitespace"),
    (b"", "the file is empty"),
    (b"ok\n\xe2\x82", "not valid UTF-8 (the file ends inside a character)"),
])
def test_bad_text_is_one_clear_error(tmp_path, content, message):
    path = tmp_path / "text.txt"
    path.write_bytes(content)
    with pytest.raises(NnlmError, match=message.replace("(", r"\(").replace(")", r"\)")):
        text_source(path)


def test_a_character_only_in_dev_is_in_the_vocabulary(tmp_path):
    dev = write(tmp_path, "zebra ZZ\n", "dev.txt")
    source = text_source(write(tmp_path, VERSE), dev=str(dev))
    assert "Z" in source.vocab.chars and decoded(source, "dev") == "zebra ZZ\n"
