"""The version of nnlm (recorded in every run directory)."""

__version__ = "0.1.0"
