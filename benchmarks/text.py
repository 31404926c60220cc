"""Running text: `nnlm train FILE` with no other flag (or --tokens word) on four kinds of text,
beside the best Kneser-Ney model on the same files and, on tinyshakespeare, beside nanoGPT.

    python benchmarks/text.py shakespeare      # about 25 minutes on 2 cores
    python benchmarks/text.py brown --brown PATH/brown.zip   # about 20 minutes
    python benchmarks/text.py code             # about 10 minutes
    python benchmarks/text.py all --brown PATH/brown.zip

shakespeare  tinyshakespeare in nanoGPT's split (the first 90% of the characters to train, the
             last 10%, 111,540 characters, to validate), written as two files:
             `nnlm train train.txt --dev val.txt --test val.txt`. Beside it nanoGPT's own code
             (../shared/peers/nanogpt, run from there) at its README's CPU configuration, once
             for its 2,000 iterations and once for the wall-clock of nnlm's whole command; both
             scored here over every character of val (half-overlapping windows of its block).
brown        Brown as running text in the paper's split (brown.words() order, words seen <= 3
             times in the whole corpus written as <unk>, 800,000 / 200,000 / 161,192 words, each
             split one line: no line ends, the paper's counting), and Brown as PTB-style line
             files (../shared/tools/brown_lines.py: one sentence per line, <unk> in the text, a
             line end token per line): `nnlm train train --dev valid --test test --tokens word`.
code         Python's standard library, its first modules joined into one 2.5 MB file:
             `nnlm train code.py`; a continuation of "def " shows the indentation kept.

Every loss is nats per token over every token of the split (bits per character for characters);
each `nnlm train` is timed as a whole (reading, training, mixing, evaluating, sampling). Writes
benchmarks/results/text_<part>.md.
"""

from __future__ import annotations

import argparse
import glob
import json
import math
import pickle
import subprocess
import sys
import sysconfig
import tempfile
import time
from pathlib import Path

import numpy as np
import torch

HERE = Path(__file__).resolve().parent
SHARED = HERE.parent.parent / "shared"
NANOGPT = SHARED / "peers" / "nanogpt"
RESULTS = HERE / "results"
CPU_CONFIG = ["--device=cpu", "--compile=False", "--eval_iters=20", "--log_interval=1", "--block_size=64",
              "--batch_size=12", "--n_layer=4", "--n_head=4", "--n_embd=128", "--dropout=0.0"]


def nnlm(*argv, quiet: bool = True) -> tuple[str, float]:
    """Run the nnlm command line; (its output, wall-clock seconds)."""
    start = time.perf_counter()
    done = subprocess.run([sys.executable, "-m", "nnlm", *map(str, argv)], capture_output=True, text=True,
                          check=False)
    if done.returncode:
        raise SystemExit(f"nnlm {' '.join(map(str, argv))} failed:\n{done.stderr}")
    return done.stdout, time.perf_counter() - start


def train_and_score(name: str, work: Path, data: list, flags: list, ngram_flags: list | None = None) -> dict:
    """`nnlm train` with the given files and flags, then its test figures alone and mixed, and
    the n-gram baseline's on the same files (with `ngram_flags` in place of `flags` if given)."""
    run = work / name
    printed, seconds = nnlm("train", *data, "--out", run, "--overwrite", "--quiet", "--samples", 1, *flags)
    data_flags = list(data[1:]) + (flags if ngram_flags is None else ngram_flags)
    mixed = json.loads(nnlm("eval", run, "--split", "test", "--json")[0])
    alone = json.loads(nnlm("eval", run, "--split", "test", "--json", "--no-mix")[0])
    ngram = json.loads(nnlm("ngram", data[0], *data_flags, "--json")[0])
    config = json.loads((run / "config.json").read_text())
    summary = json.loads((run / "summary.json").read_text())
    return {"name": name, "seconds": seconds, "printed": printed, "mixed": mixed, "alone": alone,
            "ngram": ngram, "family": config["model"]["family"], "why": config["why"],
            "vocab": config["model"]["vocab_size"], "steps": summary["step"], "stopped": summary["stopped"],
            "train_seconds": summary["seconds"], "tokens": config["source"]["tokens"]}


# -- tinyshakespeare beside nanoGPT ----------------------------------------------------------

def shakespeare_files(work: Path) -> tuple[Path, Path, str]:
    text = (SHARED / "data" / "tinyshakespeare.txt").read_text(encoding="utf-8")
    cut = int(0.9 * len(text))
    train, val = work / "train.txt", work / "val.txt"
    train.write_text(text[:cut], encoding="utf-8")
    val.write_text(text[cut:], encoding="utf-8")
    return train, val, text


def nanogpt_data(work: Path, text: str) -> Path:
    """nanoGPT's data/shakespeare_char files, as its prepare.py writes them."""
    chars = sorted(set(text))
    stoi = {c: i for i, c in enumerate(chars)}
    data = work / "data" / "shakespeare_char"
    data.mkdir(parents=True, exist_ok=True)
    ids = np.array([stoi[c] for c in text], dtype=np.uint16)
    cut = int(0.9 * len(ids))
    ids[:cut].tofile(data / "train.bin")
    ids[cut:].tofile(data / "val.bin")
    with open(data / "meta.pkl", "wb") as f:
        pickle.dump({"vocab_size": len(chars), "itos": dict(enumerate(chars)), "stoi": stoi}, f)
    (work / "configurator.py").unlink(missing_ok=True)
    (work / "configurator.py").symlink_to(NANOGPT / "configurator.py")  # train.py reads it from its cwd
    return data


def run_nanogpt(work: Path, out: str, iters: int) -> float:
    """nanoGPT's train.py at its CPU configuration for `iters` iterations; wall-clock seconds."""
    start = time.perf_counter()
    config = NANOGPT / "config" / "train_shakespeare_char.py"
    subprocess.run([sys.executable, str(NANOGPT / "train.py"), str(config), *CPU_CONFIG,
                    f"--max_iters={iters}", f"--lr_decay_iters={iters}", f"--out_dir={out}"],
                   cwd=work, check=True, capture_output=True)
    return time.perf_counter() - start


@torch.no_grad()
def nanogpt_val_loss(work: Path, out: str) -> tuple[float, int]:
    """(loss per character, characters scored) of nanoGPT's checkpoint over every character of
    val after the first, read in windows of its block size half a block apart."""
    sys.path.insert(0, str(NANOGPT))
    from model import GPT, GPTConfig

    ckpt = torch.load(work / out / "ckpt.pt", map_location="cpu", weights_only=False)
    model = GPT(GPTConfig(**ckpt["model_args"]))
    state = {k.removeprefix("_orig_mod."): v for k, v in ckpt["model"].items()}
    model.load_state_dict(state)
    model.eval()
    val = torch.from_numpy(np.fromfile(work / "data" / "shakespeare_char" / "val.bin", dtype=np.uint16)
                           .astype(np.int64))
    block = ckpt["model_args"]["block_size"]
    half = block // 2
    total, count = 0.0, 0
    for start in range(0, len(val) - 1, half):
        x = val[start:start + block].unsqueeze(0)
        y = val[start + 1:start + block + 1].unsqueeze(0)
        x = x[:, :y.shape[1]]
        logits, _ = model(x, y)
        lp = torch.log_softmax(logits.float(), -1).gather(2, y.unsqueeze(2)).squeeze(2)[0]
        keep = 0 if start == 0 else block - half  # targets the window before already scored
        total -= float(lp[keep:].sum())
        count += lp[keep:].numel()
        if start + block >= len(val) - 1:
            break
    return total / count, count


def nats_per_char(result: dict) -> float:
    """Loss per character of an `nnlm eval --json` or `nnlm ngram` result, whatever a token is."""
    return result["bits_per_char"] * math.log(2)


CHAR_NGRAM = ["--tokens", "char"]  # Kneser-Ney over characters: on these texts stronger than over subwords


def shakespeare(work: Path) -> str:
    train, val, text = shakespeare_files(work)
    row = train_and_score("shakespeare", work, [train, "--dev", val, "--test", val], [], CHAR_NGRAM)
    nanogpt_data(work, text)
    cpu_seconds = run_nanogpt(work, "out_cpu", 2000)
    cpu_loss, scored = nanogpt_val_loss(work, "out_cpu")
    iters = int(2000 * row["seconds"] / cpu_seconds)
    same_seconds = run_nanogpt(work, "out_same", iters)
    same_loss, _ = nanogpt_val_loss(work, "out_same")
    mixed, alone, kn = row["mixed"], row["alone"], row["ngram"]
    lines = [
        f"`python benchmarks/text.py shakespeare`, {time.strftime('%Y-%m-%d')}, 2-core CPU, torch "
        f"{torch.__version__}",
        "",
        "tinyshakespeare in nanoGPT's split: `nnlm train train.txt --dev val.txt --test val.txt`, no other "
        "flag; loss per character over every character of val (111,540, line ends included).",
        "",
        "| model | val loss (nats/char) | bits/char | wall-clock s |",
        "|---|---|---|---|",
        f"| nnlm default run (its predictor: the model mixed with Kneser-Ney) | {nats_per_char(mixed):.4f} | "
        f"{mixed['bits_per_char']:.4f} | {row['seconds']:.0f} |",
        f"| nnlm default run, the model alone (`--no-mix`) | {nats_per_char(alone):.4f} | "
        f"{alone['bits_per_char']:.4f} | (the same run) |",
        f"| `nnlm ngram --tokens char`: Kneser-Ney, order {kn['order']} (chosen on val) | "
        f"{kn['test']['loss']:.4f} | "
        f"{kn['test']['loss'] / math.log(2):.4f} | |",
        f"| nanoGPT, its CPU configuration, 2,000 iterations | {cpu_loss:.4f} | "
        f"{cpu_loss / math.log(2):.4f} | {cpu_seconds:.0f} |",
        f"| nanoGPT, its CPU configuration, {iters:,} iterations (nnlm's wall-clock) | {same_loss:.4f} | "
        f"{same_loss / math.log(2):.4f} | {same_seconds:.0f} |",
        "| *nanoGPT's GPU configuration on one A100 (its README)* | *1.4697* | *2.1203* | *~180* |",
        "",
        f"nnlm chose: {'; '.join(row['why'])}. It trained {row['steps']:,} steps in "
        f"{row['train_seconds']:.0f} s (stopped: {row['stopped']}). nanoGPT is scored on {scored:,} "
        "characters (all but the first, which it has no context to predict).",
        "",
        "nnlm's continuation of its own text (`--samples 1`):",
        "",
        "```",
        row["printed"].split("samples:\n", 1)[-1].rstrip(),
        "```",
    ]
    return "\n".join(lines)


# -- Brown ---------------------------------------------------------------------------------

def brown_paper_files(zip_path: Path, work: Path) -> list[Path]:
    """The paper's split as three one-line files, rare words already <unk>."""
    sys.path.insert(0, str(HERE))
    from collections import Counter

    from bengio_brown import SPLIT, brown_words

    words = brown_words(zip_path)
    counts = Counter(words)
    words = [w if counts[w] > 3 else "<unk>" for w in words]
    cuts = [0, SPLIT[0], SPLIT[0] + SPLIT[1], len(words)]
    paths = [work / f"paper.{name}.txt" for name in ("train", "valid", "test")]
    for path, a, b in zip(paths, cuts, cuts[1:], strict=False):
        path.write_text(" ".join(words[a:b]), encoding="utf-8")
    return paths


def word_rows(row: dict) -> str:
    mixed, alone, kn = row["mixed"], row["alone"], row["ngram"]
    return (f"| {row['name']} | {row['vocab'] - 1:,} | {alone['perplexity']:.1f} | "
            f"{mixed['perplexity']:.1f} | {kn['test']['perplexity']:.1f} (order {kn['order']}) | "
            f"{row['seconds']:.0f} |")


def brown(zip_path: Path, work: Path) -> str:
    paper = brown_paper_files(zip_path, work)
    rows = [train_and_score("paper split, running text", work,
                            [paper[0], "--dev", paper[1], "--test", paper[2]], ["--tokens", "word"])]
    subprocess.run([sys.executable, str(SHARED / "tools" / "brown_lines.py"), str(zip_path), str(work)],
                   check=True, capture_output=True)
    lines = [work / f"brown.{name}.txt" for name in ("train", "valid", "test")]
    rows.append(train_and_score("line files (PTB layout)", work,
                                [lines[0], "--dev", lines[1], "--test", lines[2]], ["--tokens", "word"]))
    out = [f"`python benchmarks/text.py brown --brown PATH/brown.zip`, {time.strftime('%Y-%m-%d')}, "
           "2-core CPU", "",
           "`nnlm train train.txt --dev valid.txt --test test.txt --tokens word`, no other flag; test "
           "perplexity over every token of test (the line files: one line end token per line, as KenLM "
           "counts `</s>`).", "",
           "| Brown as | vocabulary | nnlm model alone | nnlm (mixed with Kneser-Ney) | `nnlm ngram` "
           "| wall-clock s |",
           "|---|---|---|---|---|---|"]
    out += [word_rows(r) for r in rows]
    out += ["", *[f"- {r['name']}: {'; '.join(r['why'])}; {r['steps']:,} steps in "
                  f"{r['train_seconds']:.0f} s (stopped: {r['stopped']}); tokens {r['tokens']}"
                  for r in rows]]
    return "\n".join(out)


# -- code ----------------------------------------------------------------------------------

def code_file(work: Path, size: int = 2_500_000) -> Path:
    """The standard library's modules, in name order, joined until `size` characters."""
    parts, total = [], 0
    for path in sorted(glob.glob(sysconfig.get_paths()["stdlib"] + "/*.py")):
        parts.append(Path(path).read_text(encoding="utf-8"))
        total += len(parts[-1])
        if total > size:
            break
    out = work / "code.py"
    out.write_text("\n".join(parts), encoding="utf-8")
    return out


def code(work: Path) -> str:
    path = code_file(work)
    row = train_and_score("code", work, [path], [], CHAR_NGRAM)
    sample = nnlm("sample", work / "code", "--prefix", "def ", "--max-len", 400, "--seed", 1)[0]
    mixed, alone, kn = row["mixed"], row["alone"], row["ngram"]
    return "\n".join([
        f"`python benchmarks/text.py code`, {time.strftime('%Y-%m-%d')}, 2-core CPU, Python "
        f"{sys.version.split()[0]}'s standard library",
        "",
        f"`nnlm train code.py` ({path.stat().st_size:,} bytes of Python), no flag: read as "
        f"{'running text' if 'read as running text' in row['printed'] else 'a list'}; test: the last 10%.",
        "",
        "| model | test loss (nats/char) | bits/char | wall-clock s |",
        "|---|---|---|---|",
        f"| nnlm default run (mixed with Kneser-Ney) | {nats_per_char(mixed):.4f} | "
        f"{mixed['bits_per_char']:.4f} | "
        f"{row['seconds']:.0f} |",
        f"| the model alone | {nats_per_char(alone):.4f} | {alone['bits_per_char']:.4f} | |",
        f"| `nnlm ngram --tokens char`: Kneser-Ney, order {kn['order']} | {kn['test']['loss']:.4f} | "
        f"{kn['test']['loss'] / math.log(2):.4f} | |",
        "",
        f"nnlm chose: {'; '.join(row['why'])}.",
        "",
        "`nnlm sample RUN --prefix 'def ' --max-len 400 --seed 1`:",
        "",
        "```python",
        sample.rstrip(),
        "```",
    ])


def main(argv=None) -> int:
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("part", choices=("shakespeare", "brown", "code", "all"))
    p.add_argument("--brown", type=Path, default=SHARED / "data" / "brown.zip", help="NLTK's brown.zip")
    p.add_argument("--work", type=Path, help="where files and runs go (default: a temporary directory)")
    args = p.parse_args(argv)
    parts = ("shakespeare", "brown", "code") if args.part == "all" else (args.part,)
    with tempfile.TemporaryDirectory() as tmp:
        work = args.work or Path(tmp)
        work.mkdir(parents=True, exist_ok=True)
        for part in parts:
            text = {"shakespeare": lambda: shakespeare(work), "brown": lambda: brown(args.brown, work),
                    "code": lambda: code(work)}[part]()
            (RESULTS / f"text_{part}.md").write_text(text + "\n")
            print(text, flush=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
