"""Time to reach the lecture's dev loss (2.17 on names.txt): the lecture's loop vs nnlm.

In one process, one after the other, with the same thread count:
  1. a matrix-multiply peak (GFLOP/s), the ceiling for both;
  2. the lecture's eager PyTorch loop (makemore part 2: block 3, n_embd 10, 200 tanh
     units, batch 32, SGD lr 0.1 then 0.01 at step 100,000, 200,000 steps), timed on a
     prefix of its steps and scaled to 200,000 (it is stated in the output);
  3. nnlm.train with a preset, stopped as soon as the dev loss is <= the target. Its clock
     covers reading the data, building the examples, the model and optimizer, and
     training; not importing torch, and not the final report (train/test evaluation).

    python benchmarks/time_to_loss.py [--preset fast] [--target 2.17] [--baseline-steps 20000]
"""

import argparse
import random
import tempfile
import time

import torch
import torch.nn.functional as F

import nnlm
from nnlm.data.text import bundled_names_path, read_items
from nnlm.models import FAMILIES
from nnlm.models.mlp import MLPConfig

LECTURE_STEPS = 200_000


def matmul_peak(n: int = 1024, repeats: int = 20) -> float:
    a, b = torch.randn(4 * n, n), torch.randn(n, n)
    a @ b  # warm up
    start = time.perf_counter()
    for _ in range(repeats):
        a @ b
    return 2 * 4 * n * n * n * repeats / (time.perf_counter() - start) / 1e9


def lecture_dataset(words, stoi, block_size=3):
    X, Y = [], []
    for w in words:
        context = [0] * block_size
        for ch in w + ".":
            ix = stoi[ch]
            X.append(context)
            Y.append(ix)
            context = context[1:] + [ix]
    return torch.tensor(X), torch.tensor(Y)


def lecture_loop(steps: int) -> tuple[float, float]:
    """The lecture's code, as written there; returns (build seconds, seconds per step)."""
    start = time.perf_counter()
    with open(bundled_names_path()) as f:
        words = f.read().splitlines()
    chars = sorted(set("".join(words)))
    stoi = {s: i + 1 for i, s in enumerate(chars)}
    stoi["."] = 0
    random.seed(42)
    random.shuffle(words)
    Xtr, Ytr = lecture_dataset(words[:int(0.8 * len(words))], stoi)
    g = torch.Generator().manual_seed(2147483647)
    C = torch.randn((27, 10), generator=g)
    W1 = torch.randn((30, 200), generator=g)
    b1 = torch.randn(200, generator=g)
    W2 = torch.randn((200, 27), generator=g)
    b2 = torch.randn(27, generator=g)
    parameters = [C, W1, b1, W2, b2]
    for p in parameters:
        p.requires_grad = True
    build = time.perf_counter() - start
    lossi, stepi = [], []
    start = time.perf_counter()
    for i in range(steps):
        ix = torch.randint(0, Xtr.shape[0], (32,))
        emb = C[Xtr[ix]]
        h = torch.tanh(emb.view(-1, 30) @ W1 + b1)
        logits = h @ W2 + b2
        loss = F.cross_entropy(logits, Ytr[ix])
        for p in parameters:
            p.grad = None
        loss.backward()
        lr = 0.1 if i < 100000 else 0.01
        for p in parameters:
            p.data += -lr * p.grad
        stepi.append(i)
        lossi.append(loss.log10().item())
    return build, (time.perf_counter() - start) / steps


def training_flops_per_example(preset: str) -> float:
    """Multiply-adds of the matrix products, x2 for FLOPs, x3 for forward + backward."""
    s = FAMILIES["mlp"].presets[preset]
    cfg = MLPConfig(vocab_size=27, **{k: s[k] for k in ("block_size", "n_embd", "n_hidden")})
    n_in = cfg.block_size * cfg.n_embd
    macs = n_in * cfg.n_hidden + cfg.n_hidden * cfg.vocab_size
    if cfg.direct:
        macs += n_in * cfg.vocab_size
    return 6.0 * macs


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--preset", default="fast")
    ap.add_argument("--target", type=float, default=2.17)
    ap.add_argument("--eval-interval", type=int, default=25, help="nnlm's dev checks (steps)")
    ap.add_argument("--baseline-steps", type=int, default=20_000)
    args = ap.parse_args()
    read_items(bundled_names_path())  # warm the file cache for both sides alike
    print(f"threads: {torch.get_num_threads()}  torch {torch.__version__}  nnlm {nnlm.__version__}")
    peak = matmul_peak()
    print(f"matrix-multiply peak: {peak:.1f} GFLOP/s")

    build, per_step = lecture_loop(args.baseline_steps)
    baseline = build + per_step * LECTURE_STEPS
    print(f"lecture loop: {per_step * 1e6:.0f} us/step over the first {args.baseline_steps:,} "
          f"steps, scaled to {LECTURE_STEPS:,} steps + {build:.2f} s data/model build "
          f"= {baseline:.1f} s (the lecture's dev loss at 200,000 steps: 2.17)")

    with tempfile.TemporaryDirectory() as tmp:
        r = nnlm.train(None, f"{tmp}/run", preset=args.preset, target_loss=args.target, mix=False,
                       eval_interval=args.eval_interval, progress=False)
    if r.stopped != "target":
        raise SystemExit(f"nnlm did not reach {args.target}: dev {r.dev_loss:.4f} ({r.stopped})")
    batch = FAMILIES["mlp"].presets[args.preset]["batch_size"]
    examples = r.step * batch
    ours = r.setup_seconds + r.seconds
    gflops = training_flops_per_example(args.preset) * examples / r.seconds / 1e9
    print(f"nnlm --preset {args.preset}: dev {r.dev_loss:.4f} (<= {args.target}) at step {r.step} "
          f"in {ours:.2f} s ({r.setup_seconds:.2f} s setup + {r.seconds:.2f} s training with "
          f"dev checks every {args.eval_interval} steps); test {r.test_loss:.4f}")
    print(f"nnlm: {examples / r.seconds:,.0f} examples/s, {gflops:.1f} GFLOP/s "
          f"({100 * gflops / peak:.0f}% of the matmul peak)")
    print(f"speed-up: {baseline / ours:.1f}x")


if __name__ == "__main__":
    main()
