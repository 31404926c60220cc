"""Names per second: nnlm's batched sampling vs the lecture's one-name-at-a-time loop.

Both use the same lecture-sized model (block 3, n_embd 10, 200 tanh units), trained
briefly here, in one process with the same thread count.

    python benchmarks/sample_speed.py [--num 100000] [--baseline-num 500]
    python benchmarks/sample_speed.py --run RUN_DIR [--num 100000]   # any run: mixed and alone
"""

import argparse
import tempfile
import time

import torch
import torch.nn.functional as F

import nnlm

LECTURE_MODEL = dict(preset="quick", block_size=3, n_embd=10, n_hidden=200, steps=1000, batch_size=512)


def lecture_sampling(model, num: int, seed: int = 2147483647) -> float:
    """The lecture's sampling loop, one name and one character at a time; names/s."""
    C, W1, b1 = model.C.weight, model.hidden.weight.T, model.hidden.bias
    W2, b2 = model.out.weight.T, model.out.bias
    g = torch.Generator().manual_seed(seed)
    start = time.perf_counter()
    with torch.no_grad():
        for _ in range(num):
            out, context = [], [0] * 3
            while True:
                emb = C[torch.tensor([context])]
                h = torch.tanh(emb.view(1, -1) @ W1 + b1)
                logits = h @ W2 + b2
                probs = F.softmax(logits, dim=1)
                ix = torch.multinomial(probs, num_samples=1, generator=g).item()
                context = context[1:] + [ix]
                out.append(ix)
                if ix == 0:
                    break
    return num / (time.perf_counter() - start)


def run_speed(run_dir: str, num: int) -> None:
    """names/s of `nnlm sample RUN_DIR` (its predictor) and with --no-mix (its model alone)."""
    for mix in (True, False):
        lm = nnlm.load(run_dir, device="cpu", mix=mix)
        lm.sample(1000, seed=1)  # warm up
        start = time.perf_counter()
        samples = lm.sample(num, seed=0)
        rate = len(samples) / (time.perf_counter() - start)
        what = f"its predictor, {lm.describe()}" if mix else "--no-mix"
        print(f"{run_dir} ({lm.spec.family.name}), {what}: {rate:,.0f} names/s ({num:,} names)")


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--num", type=int, default=100_000)
    ap.add_argument("--baseline-num", type=int, default=500)
    ap.add_argument("--run", help="measure this run's sampling instead")
    args = ap.parse_args()
    print(f"threads: {torch.get_num_threads()}")
    if args.run:
        return run_speed(args.run, args.num)
    with tempfile.TemporaryDirectory() as tmp:
        nnlm.train(None, f"{tmp}/run", progress=False, mix=False, **LECTURE_MODEL)  # the model's sampler
        lm = nnlm.load(f"{tmp}/run", device="cpu")
    lm.sample(1000, seed=1)  # warm up
    start = time.perf_counter()
    samples = lm.sample(args.num, seed=0)
    ours = len(samples) / (time.perf_counter() - start)
    mean_len = sum(len(s.text) for s in samples) / len(samples)
    theirs = lecture_sampling(lm.model, args.baseline_num)
    print(f"lecture loop: {theirs:,.0f} names/s ({args.baseline_num} names)")
    print(f"nnlm batched: {ours:,.0f} names/s ({args.num:,} names, mean length {mean_len:.1f}, "
          f"marked new/train/dev/test)")
    print(f"speed-up: {ours / theirs:.0f}x")


if __name__ == "__main__":
    main()
