"""Reading text files: UTF-8 with clear errors, line ends of any kind, one item per line."""

from __future__ import annotations

import re
from importlib import resources
from pathlib import Path

from ..errors import NnlmError, where

MAX_FILE_BYTES = 2 * 1024**3


def bundled_names_path() -> Path:
    """The names.txt shipped inside the package: the default data set."""
    return Path(str(resources.files("nnlm.data") / "names.txt"))


LINE_END = re.compile(r"\r\n|\r|\n")  # Unix, Windows and old Mac line ends


def lines(text: str) -> list[str]:
    return LINE_END.split(text)


def read_numbered_items(path: str | Path) -> list[tuple[int, str]]:
    """(line number, item) for each item of a UTF-8 file, one item per line: whitespace
    stripped, blank lines skipped. A byte-order mark and LF, CRLF or CR line ends are fine.
    Any other problem (missing file, directory, binary or invalid UTF-8, nothing in it)
    raises NnlmError naming the file and, where it applies, the line."""
    numbered = [(n, line.strip()) for n, line in enumerate(lines(read_text(path)), 1)]
    numbered = [(n, item) for n, item in numbered if item]
    if not numbered:
        raise NnlmError(f"{path}: no items (the file has only blank lines)")
    return numbered


def read_items(path: str | Path) -> list[str]:
    """The items of a file, one per line (see read_numbered_items)."""
    return [item for _, item in read_numbered_items(path)]


def read_text(path: str | Path) -> str:
    """The whole file as text, with errors that name the file and line."""
    path = Path(path)
    if not path.exists():
        raise NnlmError(f"{path}: no such file")
    if path.is_dir():
        raise NnlmError(f"{path}: is a directory, expected a text file")
    size = path.stat().st_size
    if size == 0:
        raise NnlmError(f"{path}: the file is empty")
    if size > MAX_FILE_BYTES:
        raise NnlmError(f"{path}: {size} bytes is more than the {MAX_FILE_BYTES} nnlm reads")
    try:
        raw = path.read_bytes()
    except OSError as e:
        raise NnlmError(f"{path}: cannot read ({e.strerror})") from None
    nul = raw.find(b"\x00")
    if nul >= 0:
        line = raw.count(b"\n", 0, nul) + 1
        raise NnlmError(f"{where(path, line)}: binary data (a NUL byte), expected UTF-8 text")
    try:
        return raw.decode("utf-8-sig")
    except UnicodeDecodeError as e:
        line = raw.count(b"\n", 0, e.start) + 1
        raise NnlmError(f"{where(path, line)}: not valid UTF-8 (byte {raw[e.start]:#04x})") from None
