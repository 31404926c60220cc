"""nnlm: neural probabilistic language models (Bengio et al. 2003) for everyday use.

Everything the command line does, from Python:

    result = nnlm.train("names.txt", "runs/names")      # nnlm train (and result shows as a table)
    lm = nnlm.load("runs/names")                          # a run's predictor: sample, score, evaluate
    nnlm.plot("runs/names")                               # nnlm plot: {name: matplotlib figure}
    nnlm.neighbors("runs/names", "a")                     # nnlm neighbors
    nnlm.ngram("names.txt", order=5)                      # nnlm ngram: the report
    nnlm.lr_find("names.txt"), nnlm.sweep(...)            # nnlm lr-find, nnlm sweep

The names are imported when first used, so `import nnlm` (and `nnlm --help`) does not wait for
PyTorch.
"""

from __future__ import annotations

import importlib
from typing import TYPE_CHECKING

from .errors import NnlmError
from .ngram import ngram  # (after the subpackage, so the name is the function; it needs no PyTorch)
from .version import __version__

# public name -> (module, name in it)
_LAZY = {
    "LanguageModel": (".inference.lm", "LanguageModel"),
    "load": (".inference.lm", "load"),
    "neighbors": (".tools.inspect", "neighbors"),
    "lr_find": (".tools.lrfind", "lr_find"),
    "plot": (".tools.plot", "figures"),
    "sweep": (".tools.sweep", "run_sweep"),
    "TrainResult": (".training.train", "TrainResult"),
    "train": (".training.train", "train"),
}

if TYPE_CHECKING:
    from .inference.lm import LanguageModel, load
    from .tools.inspect import neighbors
    from .tools.lrfind import lr_find
    from .tools.plot import figures as plot
    from .tools.sweep import run_sweep as sweep
    from .training.train import TrainResult, train


def __getattr__(name: str):
    if name not in _LAZY:
        raise AttributeError(f"module 'nnlm' has no attribute {name!r}")
    module, attribute = _LAZY[name]
    value = getattr(importlib.import_module(module, __name__), attribute)
    globals()[name] = value  # once
    return value


def __dir__() -> list[str]:
    return sorted({*globals(), *_LAZY})


__all__ = ["LanguageModel", "NnlmError", "TrainResult", "__version__", "load", "lr_find", "neighbors",
           "ngram", "plot", "sweep", "train"]
