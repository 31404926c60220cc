"""nnlm: neural probabilistic language models (Bengio et al. 2003) for everyday use."""

__version__ = "0.1.0"

from .errors import NnlmError  # noqa: E402
from .lm import LanguageModel, load  # noqa: E402
from .train import TrainResult, train  # noqa: E402

__all__ = ["LanguageModel", "NnlmError", "TrainResult", "__version__", "load", "train"]
