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
        raise NnlmError("device 'cuda': no CUDA GPU is available (try 'auto')",
                        cli="--device cuda: no CUDA GPU is available (try --device auto)")
    if name == "mps" and not (getattr(torch.backends, "mps", None) and torch.backends.mps.is_available()):
        raise NnlmError("device 'mps': Apple MPS is not available (try 'auto')",
                        cli="--device mps: Apple MPS is not available (try --device auto)")
    if name not in ("cpu", "cuda", "mps"):
        raise NnlmError(f"device must be auto, cpu, cuda or mps, got {name!r}",
                        cli=f"--device must be auto, cpu, cuda or mps, got {name!r}")
    return torch.device(name)


def fast_bf16(name: str = "auto") -> bool:
    """Whether training on device `name` multiplies bfloat16 matrices in hardware: a CUDA GPU
    that supports it, or a CPU with AMX tiles (benchmarks/precision.py measures what it gives)."""
    device = resolve_device(name)
    if device.type == "cuda":
        return torch.cuda.is_bf16_supported()
    if device.type == "cpu":
        check = getattr(torch.cpu, "_is_amx_tile_supported", None)
        return bool(check and check())
    return False


def cpu_has_bf16() -> bool:
    """Whether oneDNN supports bfloat16 on this CPU (it needs AVX-512 or newer; AMX or
    AVX512-BF16 make it fast: fast_bf16)."""
    check = getattr(torch.ops.mkldnn, "_is_mkldnn_bf16_supported", None)
    return bool(check()) if check is not None else True


def check_precision(precision: str, device: torch.device, resuming: bool = False) -> None:
    """bf16 where oneDNN has no bfloat16 support is refused before anything is written: it
    cannot run the LSTM in it there (a traceback mid-run otherwise), and a bf16 matrix product
    is emulated ~100x slower than fp32 (benchmarks/precision.py on an AVX2 CPU)."""
    if precision == "bf16" and device.type == "cpu" and not cpu_has_bf16():
        where = f"oneDNN has no bfloat16 support on this CPU ({torch.backends.cpu.get_cpu_capability()})"
        if resuming:
            raise NnlmError(f"this run trains in bf16 and {where}: resume it on a CPU with AVX-512 or a GPU")
        raise NnlmError(f"precision 'bf16': {where}; use 'fp32'", cli=f"--precision bf16: {where}; use "
                        "--precision fp32")
