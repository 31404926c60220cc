"""The data layer: text files in, token ids out (reading, telling lists from running text,
vocabularies, splits, windows; the sources, one per kind of data).

Its public building blocks (the lecture notebook's): `Vocab`, the characters of a list and the
boundary token; `Windows`, every (context, next token) example of a list; `read_items`, a file's
items, one per line; `bundled_names_path`, where the bundled names.txt is. They are imported when
first used, so `import nnlm.data` does not wait for PyTorch.
"""

from __future__ import annotations

import importlib
from typing import TYPE_CHECKING

# public name -> the module of this layer that defines it
_LAZY = {"Vocab": ".vocab", "Windows": ".windows", "read_items": ".text", "bundled_names_path": ".text"}

if TYPE_CHECKING:
    from .text import bundled_names_path, read_items
    from .vocab import Vocab
    from .windows import Windows


def __getattr__(name: str):
    if name not in _LAZY:
        raise AttributeError(f"module 'nnlm.data' has no attribute {name!r}")
    value = getattr(importlib.import_module(_LAZY[name], __name__), name)
    globals()[name] = value  # once
    return value


def __dir__() -> list[str]:
    return sorted({*globals(), *_LAZY})


__all__ = ["Vocab", "Windows", "bundled_names_path", "read_items"]
