"""nnlm: neural probabilistic language models (Bengio et al. 2003) for everyday use."""

from .errors import NnlmError
from .version import __version__
from .inference.lm import LanguageModel, load
from .training.train import TrainResult, train

__all__ = ["LanguageModel", "NnlmError", "TrainResult", "__version__", "load", "train"]
