"""Devices and the small bits of process state training and sampling share."""

from __future__ import annotations

import torch

from .errors import NnlmError


def resolve_device(name: str = "auto") -> torch.device:
    """'auto' picks cuda, then mps, then cpu; an explicit device must exist."""
    if name == "auto":
        if torch.cuda.is_available():
            return torch.device("cuda")
        if getattr(torch.backends, "mps", None) and torch.backends.mps.is_available():
            return torch.device("mps")
        return torch.device("cpu")
    if name == "cuda" and not torch.cuda.is_available():
        raise NnlmError("--device cuda: no CUDA GPU is available (try --device auto)")
    if name == "mps" and not (getattr(torch.backends, "mps", None) and torch.backends.mps.is_available()):
        raise NnlmError("--device mps: Apple MPS is not available (try --device auto)")
    if name not in ("cpu", "cuda", "mps"):
        raise NnlmError(f"--device must be auto, cpu, cuda or mps, got {name!r}")
    return torch.device(name)
