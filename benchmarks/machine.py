"""What a benchmark ran on, said the same way by every script: the CPU model, its cores, the OS,
Python's and PyTorch's versions, and the day."""

from __future__ import annotations

import os
import platform
import time
from pathlib import Path


def cpu_model() -> str:
    """The CPU's model name (Linux: /proc/cpuinfo; elsewhere what platform says)."""
    info = Path("/proc/cpuinfo")
    if info.exists():
        for line in info.read_text().splitlines():
            if line.startswith("model name"):
                return line.split(":", 1)[1].strip()
    return platform.processor() or platform.machine()


def describe() -> str:
    """'AMD EPYC, 2 cores, load average 0.1 at the start, Linux x86_64, Python 3.11.7, torch
    2.13.0+cpu, 2026-12-06'."""
    import torch

    cores = len(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else os.cpu_count()
    # what else ran shows in the load average: timings taken beside another job are not the machine's
    load = f", load average {os.getloadavg()[0]:.1f} at the start" if hasattr(os, "getloadavg") else ""
    return (f"{cpu_model()}, {cores} cores{load}, {platform.system()} {platform.machine()}, Python "
            f"{platform.python_version()}, torch {torch.__version__}, {time.strftime('%Y-%m-%d')}")
