"""nnlm: neural probabilistic language models (Bengio et al. 2003) for everyday use.

Everything the command line does, from Python:

    result = nnlm.train("names.txt", "runs/names")      # nnlm train (and result shows as a table)
    lm = nnlm.load("runs/names")                          # a run's predictor: sample, score, evaluate
    nnlm.plot("runs/names")                               # nnlm plot: {name: matplotlib figure}
    nnlm.neighbors("runs/names", "a")                     # nnlm neighbors
    nnlm.ngram("names.txt", order=5)                      # nnlm ngram: the report
    nnlm.lr_find("names.txt"), nnlm.sweep(...)            # nnlm lr-find, nnlm sweep
"""

from .errors import NnlmError
from .inference.lm import LanguageModel, load
from .ngram.baseline import ngram
from .tools.inspect import neighbors
from .tools.lrfind import lr_find
from .tools.plot import figures as plot
from .tools.sweep import run_sweep as sweep
from .training.train import TrainResult, train
from .version import __version__

__all__ = ["LanguageModel", "NnlmError", "TrainResult", "__version__", "load", "lr_find", "neighbors",
           "ngram", "plot", "sweep", "train"]
