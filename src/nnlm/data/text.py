"""Reading text files: UTF-8 with clear errors, line ends of any kind; one item per line, or
running text in pieces (every character kept); and telling the two apart."""

from __future__ import annotations

import codecs
import re
import statistics
from collections.abc import Iterator
from importlib import resources
from pathlib import Path

from ..errors import NnlmError, where

MAX_FILE_BYTES = 2 * 1024**3  # of a list (running text is read in pieces: any size)
CHUNK_BYTES = 8 * 1024**2  # running text is read this much at a time
NUL, NEWLINE = b"\x00", b"\n"


def bundled_names_path() -> Path:
    """The names.txt shipped inside the package: the default data set."""
    return Path(str(resources.files("nnlm.data") / "names.txt"))


LINE_END = re.compile(r"\r\n|\r|\n")  # Unix, Windows and old Mac line ends


def lines(text: str) -> list[str]:
    """The lines of a text, at LF, CRLF or CR line ends."""
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


def check_file(path: str | Path) -> Path:
    """`path` as a Path, or NnlmError: missing, a directory, empty."""
    path = Path(path)
    if not path.exists():
        raise NnlmError(f"{path}: no such file")
    if path.is_dir():
        raise NnlmError(f"{path}: is a directory, expected a text file")
    if path.stat().st_size == 0:
        raise NnlmError(f"{path}: the file is empty")
    return path


def read_text(path: str | Path) -> str:
    """The whole file as text, with errors that name the file and line."""
    path = check_file(path)
    size = path.stat().st_size
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


def text_pieces(path: str | Path, digest=None, chunk_bytes: int = CHUNK_BYTES) -> Iterator[str]:
    """Running text: the file decoded in pieces of about `chunk_bytes`, every character kept
    (line ends as they are, a byte-order mark too), so the pieces joined are the file. Errors
    name the file and line (binary data, invalid UTF-8); `digest` (a hashlib object) is fed
    the raw bytes."""
    path = check_file(path)
    decoder = codecs.getincrementaldecoder("utf-8")()
    line = 1
    with open(path, "rb") as f:
        while raw := f.read(chunk_bytes):
            if digest is not None:
                digest.update(raw)
            nul = raw.find(NUL)
            if nul >= 0:
                at = where(path, line + raw.count(NEWLINE, 0, nul))
                raise NnlmError(f"{at}: binary data (a NUL byte), expected UTF-8 text")
            try:
                text = decoder.decode(raw)
            except UnicodeDecodeError as e:
                at = where(path, line + raw.count(NEWLINE, 0, max(0, min(e.start, len(raw) - 1))))
                raise NnlmError(f"{at}: not valid UTF-8") from None
            line += raw.count(NEWLINE)
            if text:
                yield text
    try:
        decoder.decode(b"", final=True)
    except UnicodeDecodeError:
        raise NnlmError(f"{where(path, line)}: not valid UTF-8 (the file ends inside a character)") from None


# -- a list or running text? ---------------------------------------------------------------
# The rule, on the first DETECT_BYTES of the file: running text where lines are blank or
# indented (paragraphs, verse, code: a list has neither), where the median line has
# TEXT_WORDS words or more (prose, one sentence per line), where a line is LONG_LINE
# characters or more, or where there is one line only; a list otherwise. The 19 lists of
# benchmarks/any_data.py have no blank or indented lines and medians of 1 to 6 words.
DETECT_BYTES = 4 * 1024**2
BLANK_SHARE = INDENT_SHARE = 0.01
TEXT_WORDS = 10
LONG_LINE = 1000


def detect_kind(path: str | Path) -> tuple[str, str]:
    """("list" or "text", why) for a file, by the rule above."""
    with open(check_file(path), "rb") as f:
        head = f.read(DETECT_BYTES).decode("utf-8", errors="replace")
    found = lines(head)
    if len(found) > 1 and found[-1] == "":
        found.pop()  # the end of the last line
    if len(head) == DETECT_BYTES and len(found) > 1:
        found.pop()  # cut short by the read
    filled = [ln for ln in found if ln.strip()]
    if not filled:
        return "text", "it has no lines with anything in them"
    blank = 1 - len(filled) / len(found)
    indented = sum(ln[0].isspace() for ln in filled) / len(found)
    words = statistics.median(len(ln.split()) for ln in filled)
    longest = max(map(len, found))
    if len(found) == 1:
        return "text", "it is one line"
    for share, what in ((blank, "blank"), (indented, "indented")):
        if share >= BLANK_SHARE:
            return "text", f"{share:.0%} of its lines are {what}"
    if words >= TEXT_WORDS:
        return "text", f"its lines have {words:g} words each (the median)"
    if longest >= LONG_LINE:
        return "text", f"a line is {longest:,} characters long"
    plural = "s" if words != 1 else ""
    return "list", f"{len(found):,} lines of {words:g} word{plural} each (the median), none blank"
