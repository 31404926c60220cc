"""bf16 against fp32: the training step of the default run's LSTM on running text, and a GEMM.

    python benchmarks/precision.py

The LSTM of the default run on a text of a million characters (one layer of 512 units,
embeddings of 64, batches of 64 pieces of 128 characters), AdamW steps timed in fp32 and with
bf16 autocast, in one run, interleaved; and a (4096 x 1024) @ (1024 x 1024) matrix product. On
a CPU with AMX tiles (this project's Xeon) bf16 runs on them; elsewhere it is emulated, and slower,
and where oneDNN has no bfloat16 support at all (a CPU without AVX-512) it cannot run the LSTM in
bf16, so nnlm refuses `--precision bf16` there and only the GEMM is timed.
"""

from __future__ import annotations

import time

import torch

from nnlm.device import cpu_has_bf16, fast_bf16
from nnlm.models import FAMILIES
from nnlm.settings.training import TrainConfig
from nnlm.training.optim import make_optimizer


def lstm_steps_per_second(bf16: bool, steps: int = 20) -> float:
    torch.manual_seed(0)
    family = FAMILIES["lstm"]
    model = family.build(family.config(vocab_size=66, block_size=128, n_embd=64, n_hidden=512))
    optimizer = make_optimizer(model, TrainConfig(grad_clip=1.0))
    x, y = torch.randint(1, 66, (64, 128)), torch.randint(1, 66, (64, 128))
    autocast = torch.autocast("cpu", dtype=torch.bfloat16, enabled=bf16)
    for i in range(steps + 3):
        if i == 3:
            start = time.perf_counter()
        optimizer.zero_grad()
        with autocast:
            model.loss_and_grad(x, y)
        optimizer.step(3e-3)
    return steps / (time.perf_counter() - start)


def gemm_gflops(dtype: torch.dtype, repeats: int = 20) -> float:
    a, b = torch.randn(4096, 1024, dtype=dtype), torch.randn(1024, 1024, dtype=dtype)
    for _ in range(3):
        a @ b
    start = time.perf_counter()
    for _ in range(repeats):
        a @ b
    return 2 * 4096 * 1024 * 1024 * repeats / (time.perf_counter() - start) / 1e9


def main() -> int:
    print(f"torch {torch.__version__}, {torch.get_num_threads()} threads, AMX bf16: {fast_bf16('cpu')}")
    fp32 = lstm_steps_per_second(False)
    if cpu_has_bf16():
        bf16 = lstm_steps_per_second(True)
        print(f"LSTM training step (8,192 characters): fp32 {fp32:.2f} steps/s, bf16 {bf16:.2f} steps/s "
              f"({bf16 / fp32:.2f}x)")
    else:
        print(f"LSTM training step (8,192 characters): fp32 {fp32:.2f} steps/s; bf16: none, oneDNN has "
              f"no bfloat16 support on this CPU ({torch.backends.cpu.get_cpu_capability()})")
    g32, g16 = gemm_gflops(torch.float32), gemm_gflops(torch.bfloat16)
    print(f"GEMM 4096x1024x1024: fp32 {g32:,.0f} GFLOP/s, bf16 {g16:,.0f} GFLOP/s ({g16 / g32:.1f}x)")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
