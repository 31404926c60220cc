"""Control over what is sampled, in sections chosen by argument (issue #32):

    python benchmarks/control.py constraints    # --regex, --contains, --suffix, lengths, --exclude, --exact

`constraints`: on runs of characters, subwords and words, the share of samples that meet each
constraint (it must be 100%); the time of 1,000 names with --regex '^[a-z]{4,7}a$' against
1,000 without, as a ratio measured in one process; --exact's tries per sample; and on a tiny
model whose distributions can be enumerated (a bigram over three letters, samples of at most 4
tokens), the total-variation distance of the masked and the exact samplers to the model's
conditional distribution given the constraint, enumerated and from 20,000 samples each.

Each section prints its table and writes it to benchmarks/results/control_<section>.md with the
command and the machine. (Sections for labels and a head start from another run come later:
SECTIONS.)
"""

from __future__ import annotations

import argparse
import itertools
import os
import re
import statistics
import sys
import tempfile
import time
from collections import Counter
from pathlib import Path

import numpy as np
import torch

import nnlm
from machine import describe  # (benchmarks/machine.py)
from nnlm.data.text import bundled_names_path
from nnlm.data.vocab import Vocab
from nnlm.inference.constraints import TextRule, compile_constraint
from nnlm.inference.sample import generate
from nnlm.models.mlp import MLP, MLPConfig

ROOT = Path(__file__).resolve().parent.parent
RESULTS = ROOT / "benchmarks" / "results"
FIXTURES = ROOT / "tests" / "fixtures"

# the runs (name -> data, training settings) and the constraints each is asked for
RUNS = {
    "names, characters (MLP)": (bundled_names_path(), dict(preset="quick", steps=3000)),
    "names, BPE subwords (MLP)": (bundled_names_path(), dict(preset="quick", steps=3000, tokens="bpe",
                                                              vocab_size=512)),
    "sentences, words (MLP)": (FIXTURES / "words200.txt", dict(preset="quick", steps=1000, tokens="word",
                                                                 min_count=1)),
    "verse, BPE running text (MLP)": (FIXTURES / "verse20k.txt", dict(model="mlp", preset="quick", steps=1000,
                                                                      block_size=16)),
}
LIST_CONSTRAINTS = {
    "--regex '^[a-z]{4,7}a$'": dict(regex="^[a-z]{4,7}a$"),
    "--contains li": dict(contains="li"),
    "--suffix n": dict(suffix="n"),
    "--min-chars 8": dict(min_chars=8),
    "--max-chars 4": dict(max_chars=4),
    "--regex '[a-z]+' --contains e --suffix y --max-chars 7": dict(regex="[a-z]+", contains="e", suffix="y",
                                                                    max_chars=7),
}
WORD_CONSTRAINTS = {
    "--contains Emma": dict(contains="Emma"),
    "--suffix 'Mia .'": dict(suffix="Mia ."),
    "--max-chars 12": dict(max_chars=12),
    "--regex '(Emma|Mia)( [A-Z][a-z]+)* \\.'": dict(regex=r"(Emma|Mia)( [A-Z][a-z]+)* \."),
}
TEXT_CONSTRAINTS = {
    "--suffix . (max_len 60)": dict(suffix=".", max_len=60),
    "--contains love (max_len 60)": dict(contains="love", max_len=60),
    "--regex '(?s:.*)\\n[A-Z]+:(?s:.*)' (max_len 60)": dict(regex=r"(?s:.*)\n[A-Z]+:(?s:.*)", max_len=60),
}


def train_runs(work: Path) -> tuple[dict[str, nnlm.LanguageModel], list[str]]:
    """Each of RUNS trained (or reused from an earlier call with the same --work) and loaded, and
    a table row for each: its data, settings, dev loss and training time."""
    loaded, rows = {}, []
    for name, (data, settings) in RUNS.items():
        out = work / re.sub(r"\W+", "-", name).strip("-")
        took = "reused"
        if not (out / "summary.json").exists():
            started = time.perf_counter()
            nnlm.train(str(data), str(out), progress=False, **settings)
            took = f"{time.perf_counter() - started:.0f} s"
            print(f"trained {name} in {took}", file=sys.stderr)
        loaded[name] = lm = nnlm.load(out, device="cpu")
        flags = " ".join(f"--{k.replace('_', '-')} {v}" for k, v in settings.items())
        rows.append(f"| {name} | {Path(data).name} | `{flags}` | {lm.describe()} | {took} |")
    return loaded, rows


# -- shares and tries --------------------------------------------------------------------------

def meets(text: str, asked: dict, excluded: set[str]) -> bool:
    rule = TextRule(**{k: v for k, v in asked.items() if k in ("regex", "contains", "suffix", "min_chars",
                                                              "max_chars")})
    return rule.accepts(text) and text not in excluded


def mean_chars(samples) -> float:
    return sum(len(s.text) for s in samples) / len(samples)


def share_rows(runs: dict) -> list[str]:
    """One row per run and constraint: the share that meets it, steered and exact, --exact's tries
    per sample, and the samples' mean length in characters, steered and exact."""
    rows = []
    plan = [(name, LIST_CONSTRAINTS) for name in list(runs)[:2]] + [(list(runs)[2], WORD_CONSTRAINTS),
                                                                   (list(runs)[3], TEXT_CONSTRAINTS)]
    for name, constraints in plan:
        lm, num = runs[name], 1000 if runs[name].source.ends else 50
        for flags, asked in constraints.items():
            steered = lm.sample(num, seed=1, **asked)
            exact = lm.sample(num, seed=1, exact=True, tries=1_000_000, **asked)
            ok = [sum(meets(s.text, asked, set()) for s in drawn) / len(drawn) for drawn in (steered, exact)]
            cell = flags.replace("|", "\\|")  # (a bar inside a table's cell)
            rows.append(f"| {name} | `{cell}` | {ok[0]:.1%} | {ok[1]:.1%} | {exact.tries / len(exact):.1f} | "
                        f"{mean_chars(steered):.1f} / {mean_chars(exact):.1f} |")
    lm = runs[list(runs)[0]]
    banned = [t for t, _ in Counter(s.text for s in lm.sample(2000, seed=2) if s.text).most_common(200)]
    with tempfile.NamedTemporaryFile("w", suffix=".txt", delete=False) as f:
        f.write("\n".join(banned) + "\n")
    steered, exact = (lm.sample(1000, seed=3, exclude=f.name, exact=e) for e in (False, True))
    os.unlink(f.name)
    ok = [sum(s.text not in set(banned) for s in drawn) / len(drawn) for drawn in (steered, exact)]
    rows.append(f"| {list(runs)[0]} | `--exclude` (its 200 commonest samples) | {ok[0]:.1%} | {ok[1]:.1%} | "
                f"{exact.tries / len(exact):.1f} | {mean_chars(steered):.1f} / {mean_chars(exact):.1f} |")
    return rows


# -- speed -------------------------------------------------------------------------------------

def speed_row(lm) -> tuple[str, float]:
    """The time of 1,000 names with and without --regex '^[a-z]{4,7}a$' (best of 5, alternating,
    after a warm-up), and their ratio."""
    asked = dict(regex="^[a-z]{4,7}a$")
    lm.sample(1000, seed=0, **asked), lm.sample(1000, seed=0)  # warm up (and compile once)
    times = {"plain": [], "steered": [], "exact": []}
    for k in range(5):
        for what, extra in (("plain", {}), ("steered", asked), ("exact", dict(asked, exact=True))):
            started = time.perf_counter()
            lm.sample(1000, seed=k, **extra)
            times[what].append(time.perf_counter() - started)
    best = {k: min(v) for k, v in times.items()}
    ratio = best["steered"] / best["plain"]
    ms = {k: f"{v * 1000:.0f} ms" for k, v in best.items()}
    row = (f"| 1,000 names | {ms['plain']} | {ms['steered']} | {ratio:.2f}x | {ms['exact']} "
           f"({best['exact'] / best['plain']:.2f}x) |")
    return row, ratio


# -- the tiny model: distances to the conditional -----------------------------------------------

class Letters:
    """A source of three letters alone, what compile_constraint reads."""

    ends = True

    def __init__(self):
        self.vocab = Vocab(list("abc"))

    def decode(self, ids):
        return self.vocab.decode(ids)

    def held_bytes(self):
        return None


TINY_LEN = 4
TINY_RULES = {"--regex 'a[abc]*c'": TextRule(regex="a[abc]*c"), "--contains bb": TextRule(contains="bb"),
              "--suffix c --min-chars 3": TextRule(suffix="c", min_chars=3)}


def tiny_model() -> tuple[MLP, np.ndarray]:
    """A bigram over a, b, c (an MLP of block size 1, weights seeded) and its table p(next | last)."""
    torch.manual_seed(0)
    model = MLP(MLPConfig(vocab_size=4, block_size=1, n_embd=3, n_hidden=8))
    with torch.no_grad():
        model.out.weight.normal_(0.0, 1.5)
        model.eval()
        return model, torch.softmax(model(torch.arange(4)[:, None])[0], -1).double().numpy()


def distributions(table: np.ndarray, constraint, rule: TextRule) -> tuple[dict, dict, float]:
    """Over every string that meets `rule`: the model's conditional p(x | rule), the masked
    sampler's q(x) (each step renormalised over the tokens the constraint allows), and P(rule)."""
    strings = [s for n in range(TINY_LEN + 1) for s in itertools.product((1, 2, 3), repeat=n)
               if rule.accepts(Letters().decode(list(s)))]
    p, q = {}, {}
    for s in strings:
        steps = (*s, 0) if len(s) < TINY_LEN else s
        guide = constraint.guide(1, torch.device("cpu"))
        p[s] = q[s] = 1.0
        for pos, t in enumerate(steps):
            before = table[s[pos - 1] if pos else 0]
            allowed = before * guide.allowed(pos)[0].numpy()
            p[s] *= before[t]
            q[s] *= allowed[t] / allowed.sum()
            guide.advance(torch.tensor([t]))
    mass = sum(p.values())
    return {s: v / mass for s, v in p.items()}, q, mass


def tv(a: dict, b: dict) -> float:
    return 0.5 * sum(abs(a.get(k, 0.0) - b.get(k, 0.0)) for k in set(a) | set(b))


def empirical(rows) -> dict:
    kept = [tuple(r) for r in rows if r is not None]
    return {k: n / len(kept) for k, n in Counter(kept).items()}


def tiny_rows() -> list[str]:
    """Per rule: TV of the masked sampler to p(x | rule), enumerated and from samples, and of the
    exact sampler from samples, beside the noise of 20,000 draws from p(x | rule) itself."""
    model, table = tiny_model()
    rows, n = [], 20_000
    for flags, rule in TINY_RULES.items():
        constraint = compile_constraint(Letters(), rule, [], 0, TINY_LEN)
        conditional, masked, mass = distributions(table, constraint, rule)
        steered = generate(model, n, [], max_len=TINY_LEN, constraint=constraint,
                           generator=torch.Generator().manual_seed(1))
        tries = round(n / mass * 1.3)
        exact = [r for r in generate(model, tries, [], max_len=TINY_LEN, constraint=constraint, exact=True,
                                     generator=torch.Generator().manual_seed(2)) if r is not None][:n]
        keys = list(conditional)
        noise = statistics.mean(
            tv(conditional, dict(zip(keys, np.random.default_rng(k).multinomial(n, list(conditional.values()))
                                     / n, strict=True))) for k in range(20))
        rows.append(f"| `{flags}` | {mass:.3f} | {tv(masked, conditional):.3f} | "
                    f"{tv(empirical(steered), conditional):.3f} | {tv(empirical(exact), conditional):.3f} | "
                    f"{noise:.3f} |")
    return rows


def constraints(args) -> str:
    """The constraints section's text (markdown)."""
    runs, trained = train_runs(Path(args.work))
    speed, ratio = speed_row(runs[list(runs)[0]])
    lines = [
        "## The runs", "", "| run | data | `nnlm train` settings | predictor | trained in |",
        "|---|---|---|---|---|", *trained, "",
        "## Constraints: every sample meets them (steered, and --exact)", "",
        "| run | constraint | meets it, steered | meets it, --exact | --exact tries per sample | "
        "mean characters, steered / --exact |", "|---|---|---|---|---|---|", *share_rows(runs), "",
        "Steered: each token drawn among those that can still lead to a sample that meets the constraint "
        "(the rest masked). 1,000 samples of each list run, 50 of running text (max_len 60 tokens); "
        "--exact: whole samples drawn from the model, those that fail drawn again; tries: samples drawn "
        "per sample kept. Where the model seldom meets a constraint on its own, steering drags samples "
        "towards max_len (a name must go on until it holds `li`): their mean length beside --exact's "
        "shows it.", "",
        "## Speed: 1,000 names with `--regex '^[a-z]{4,7}a$'`", "",
        "| samples | no constraint | steered | steered / none | --exact |", "|---|---|---|---|---|",
        speed, "",
        f"Best of 5 each, alternating, in one process, on the names run above (the ratio must stay under "
        f"3x: {'it does' if ratio < 3 else 'IT DOES NOT'}).", "",
        "## Distance to the model's distribution given the constraint (a tiny model)", "",
        "A bigram over a, b, c (an MLP of block size 1, seeded weights), samples of at most 4 tokens: "
        "every string can be enumerated, so p(x | constraint) is known exactly. Total-variation distance "
        "to it:", "",
        "| constraint | P(constraint) | masked, enumerated | masked, 20,000 samples | --exact, 20,000 "
        "samples | 20,000 draws of p(x given it) itself |", "|---|---|---|---|---|---|", *tiny_rows(), "",
        "Masking renormalises step by step, so it draws from another distribution; --exact is as far from "
        "the conditional as sampling noise alone.",
    ]
    return "\n".join(lines)


SECTIONS = {"constraints": constraints}  # labels and head-start: later


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("sections", nargs="+", choices=list(SECTIONS), help="what to measure")
    ap.add_argument("--work", default=str(Path(tempfile.gettempdir()) / "nnlm-control"),
                    help="where the runs are trained (kept: a second call reuses them)")
    args = ap.parse_args()
    for name in args.sections:
        started = time.perf_counter()
        body = SECTIONS[name](args)
        header = (f"# Control over sampling: {name}\n\n`python benchmarks/control.py {name}` "
                  f"({time.perf_counter() - started:.0f} s in all; torch on {torch.get_num_threads()} "
                  f"threads) on {describe()}.\n\n")
        print(header + body)
        RESULTS.mkdir(parents=True, exist_ok=True)
        (RESULTS / f"control_{name}.md").write_text(header + body + "\n")


if __name__ == "__main__":
    main()
