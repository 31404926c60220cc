"""Control over what is sampled, in sections chosen by argument (issue #32):

    python benchmarks/control.py constraints    # --regex, --contains, --suffix, lengths, --exclude, --exact

`constraints`: on runs of characters, subwords and words, the share of samples that meet each
constraint (it must be 100%); the time of 1,000 names with --regex '^[a-z]{4,7}a$' against
1,000 without, as a ratio measured in one process; --exact's tries per sample; and on a tiny
model whose distributions can be enumerated (a bigram over three letters, samples of at most 4
tokens), the total-variation distance of the masked and the exact samplers to the model's
conditional distribution given the constraint, enumerated and from 20,000 samples each.

`labels` (needs `pip install faker==40.63.0 wordfreq==3.1.1`, as benchmarks/datalists.py): on
two labelled sets, Faker's first names of 12 locales and the 3,750 commonest words of 8 languages
(30,000 items), the labelled default run's test loss, label by label and summed over the same
tokens, beside (a) one default run per label on that label's items of the same split, (b) one
default run on all items without labels and (c) the labelled Kneser-Ney model (the run's own
n-gram side); the test split's classification accuracy beside a per-label Kneser-Ney classifier
(its order chosen on dev); and the share of 1,000 samples of each `--label X` that this classifier
puts under X.

`head-start`: small lists of 300 items, each beside a related big run (German first names after
the first names of FAKER_LOCALES' 11 others, rare English words after the commonest 30,000, Dutch words after
German ones, German towns after Italian ones): test loss from scratch, with `--init-from` the big
run, and of the Kneser-Ney model alone, all at the default run's settings, over three splits.

Each section prints its table and writes it to benchmarks/results/control_<section>.md with the
command and the machine. Runs are kept under --work: a second call reuses them.
"""

from __future__ import annotations

import argparse
import itertools
import json
import os
import random
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
from nnlm.run import rundir
from nnlm.inference.sample import generate
from nnlm.models.mlp import MLP, MLPConfig
from nnlm.ngram.baseline import examples
from nnlm.ngram.baseline import logprobs as kn_logprobs
from nnlm.ngram.counts import KneserNey, context_width
from nnlm.ngram.mixture import fit_ngram_side

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


def trained(data, out: Path, **settings) -> str:
    """Train `data` (a file, or a labelled run's files) into `out` unless an earlier call did (with
    this nnlm's run format); how long its whole `nnlm train` took, as the run's summary says (the
    time a budget limits)."""
    config = out / "config.json"
    current = config.exists() and json.loads(config.read_text())["format_version"] == rundir.FORMAT_VERSION
    if not (current and (out / "summary.json").exists()):
        nnlm.train(data, str(out), progress=False, overwrite=True, **settings)  # (an unfinished one: anew)
        print(f"trained {out.name}", file=sys.stderr)
    return f"{json.loads((out / 'summary.json').read_text())['command_seconds']:.0f} s"


def train_runs(work: Path) -> tuple[dict[str, nnlm.LanguageModel], list[str]]:
    """Each of RUNS trained (or reused from an earlier call with the same --work) and loaded, and
    a table row for each: its data, settings, dev loss and training time."""
    loaded, rows = {}, []
    for name, (data, settings) in RUNS.items():
        out = work / re.sub(r"\W+", "-", name).strip("-")
        took = trained(str(data), out, **settings)
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


# -- labels ------------------------------------------------------------------------------------

FAKER_LOCALES = ("en_US", "de_DE", "tr_TR", "sv_SE", "es_ES", "nl_NL", "da_DK", "it_IT", "fi_FI", "ro_RO",
                 "id_ID", "sk_SK")  # Latin-script locales with 250+ first names
WORD_LANGUAGES = ("en", "de", "fr", "es", "it", "nl", "pt", "sv")
WORDS_PER_LANGUAGE = 3750  # 8 x 3,750 = 30,000 items
SAMPLES_PER_LABEL = 1000


def label_sets() -> dict[str, dict[str, list[str]]]:
    """The labelled sets: name -> label -> items (cleaned as benchmarks/datalists.py cleans them)."""
    from datalists import check_versions, clean, faker_table, wordfreq_top

    check_versions(["faker", "wordfreq"])
    return {
        f"first names by locale (Faker, {len(FAKER_LOCALES)} locales)":
            {loc: clean(faker_table(f"person.{loc}", "first_names")()) for loc in FAKER_LOCALES},
        f"words by language (wordfreq, {len(WORD_LANGUAGES)} languages x {WORDS_PER_LANGUAGE:,})":
            {lang: clean(wordfreq_top(lang, WORDS_PER_LANGUAGE)()) for lang in WORD_LANGUAGES},
    }


def slug(name: str) -> str:
    return re.sub(r"\W+", "-", name).strip("-")[:40]


def write_items(path: Path, items: list[str]) -> str:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text("".join(f"{item}\n" for item in items), encoding="utf-8")
    return str(path)


def by_label(source, split: str) -> list[list[str]]:
    """A labelled source's items of `split`, label by label (in the order of source.labels)."""
    out = [[] for _ in source.labels]
    for item, k in zip(getattr(source.split, split), source.item_labels[split], strict=True):
        out[k].append(item)
    return out


def summed(scores) -> tuple[float, int]:
    """(-sum of log p, tokens) of scored items: each item's tokens and its end."""
    return -sum(s.logprob for s in scores), sum(len(s.tokens) for s in scores)


def kn_item_logprobs(model, source, items: list[str], start: int) -> np.ndarray:
    """log p of each whole item (its end included) under an n-gram model, read from `start`: (items,)."""
    encoded = [source.encode(item, item) for item in items]
    windows = source.sequence_windows(encoded, model.width, [start] * len(items))
    owner = np.repeat(np.arange(len(items)), [len(ids) + 1 for ids in encoded])  # (tokens,) each one's item
    return np.bincount(owner, weights=kn_logprobs(model, windows), minlength=len(items))


def kn_classifier(source, order: int) -> list:
    """One Kneser-Ney model of `order` per label, each fitted on its label's training items alone
    (over the run's token ids, so that every model can read every item)."""
    models = []
    for k, items in enumerate(by_label(source, "train")):
        encoded = [source.encode(item, item) for item in items]
        windows = source.sequence_windows(encoded, context_width(order), [source.label_token(k)] * len(items))
        models.append(KneserNey(order, source.id_count()).fit(*examples(windows)))
    return models


def kn_classify(models, source, items: list[str]) -> np.ndarray:
    """Each item's likeliest label (index) by Bayes: the per-label models and the train shares."""
    shares = np.bincount(source.item_labels["train"], minlength=len(source.labels))
    joint = np.stack([kn_item_logprobs(m, source, items, source.label_token(k))
                      for k, m in enumerate(models)], 1)  # (items, labels)
    return (joint + np.log(shares / shares.sum())).argmax(1)


def best_kn_classifier(source) -> tuple[list, int]:
    """The per-label Kneser-Ney classifier whose order (1..7) classifies the dev split best."""
    truth = np.array(source.item_labels["dev"])
    best = None
    for order in range(1, 8):
        models = kn_classifier(source, order)
        accuracy = float((kn_classify(models, source, source.split.dev) == truth).mean())
        if best is None or accuracy > best[0]:
            best = (accuracy, models, order)
    return best[1], best[2]


def per_label_runs(lm, work: Path) -> list:
    """A default run per label on that label's train, dev and test items of the labelled run's
    split (a), and one on all of them without labels (b); loaded."""
    parts = {split: by_label(lm.source, split) for split in SPLIT_NAMES}
    runs = []
    for k, label in enumerate(lm.source.labels):
        files = {split: write_items(work / "split" / label / f"{split}.txt", parts[split][k])
                 for split in SPLIT_NAMES}
        trained(files["train"], work / f"alone-{label}", dev=files["dev"], test=files["test"])
        runs.append(nnlm.load(work / f"alone-{label}", device="cpu"))
    files = {split: write_items(work / "split" / "all" / f"{split}.txt", getattr(lm.source.split, split))
             for split in SPLIT_NAMES}
    trained(files["train"], work / "unlabelled", dev=files["dev"], test=files["test"])
    return runs + [nnlm.load(work / "unlabelled", device="cpu")]


def loss_rows(lm, alone, runs, kn) -> tuple[list[str], dict]:
    """One row per label and the sum: test loss (nats/token) of the labelled run (its predictor,
    and its model alone), (a) its label's own run, (b) the unlabelled run, (c) the labelled KN."""
    source, rows = lm.source, []
    total = Counter()
    for k, (label, items) in enumerate(zip(source.labels, by_label(source, "test"), strict=True)):
        got = {"labelled": summed(lm.score(items, label)), "alone": summed(alone.score(items, label)),
               "own": summed(runs[k].score(items)), "unlabelled": summed(runs[-1].score(items))}
        tokens = got["labelled"][1]
        got["kn"] = (-float(kn_item_logprobs(kn, source, items, source.label_token(k)).sum()), tokens)
        assert all(n == tokens for _, n in got.values()), f"{label}: the runs read other tokens"
        total.update({key: nats for key, (nats, _) in got.items()}, tokens=tokens)
        rows.append(f"| {label} | {len(by_label(source, 'train')[k]):,} | {tokens:,} | "
                    + " | ".join(f"{got[key][0] / tokens:.4f}" for key in LOSS_COLUMNS) + " |")
    rows.append(f"| **all, summed** | {len(source.split.train):,} | {total['tokens']:,} | "
                + " | ".join(f"**{total[key] / total['tokens']:.4f}**" for key in LOSS_COLUMNS) + " |")
    return rows, {key: total[key] / total["tokens"] for key in LOSS_COLUMNS}


LOSS_COLUMNS = ("labelled", "alone", "own", "unlabelled", "kn")
SPLIT_NAMES = ("train", "dev", "test")


def sample_shares(lm, models, own_runs: list | None = None) -> tuple[str, float]:
    """The share of SAMPLES_PER_LABEL samples of each --label X that the KN classifier puts
    under X: each label's, and all of them together (`own_runs`: the samples of each label's own
    run instead)."""
    cells, hits = [], 0
    for k, label in enumerate(lm.source.labels):
        samples = own_runs[k].sample(SAMPLES_PER_LABEL, seed=k + 1) if own_runs else \
            lm.sample(SAMPLES_PER_LABEL, label=label, seed=k + 1)
        found = kn_classify(models, lm.source, [s.text for s in samples])
        hits += int((found == k).sum())
        cells.append(f"{label} {float((found == k).mean()):.0%}")
    return ", ".join(cells), hits / (SAMPLES_PER_LABEL * len(lm.source.labels))


def paired_interval(truth: np.ndarray, found: np.ndarray, kn_found: np.ndarray, draws: int = 10_000
                    ) -> tuple[float, float, float]:
    """The run's accuracy less the classifier's on the same items, and its 95% interval by a
    paired bootstrap over the items (seeded): (difference, low, high), in points."""
    diff = (found == truth).astype(np.float64) - (kn_found == truth)  # (items,) -1, 0 or 1
    rng = np.random.default_rng(0)
    means = diff[rng.integers(0, len(diff), (draws, len(diff)))].mean(1)  # (draws,)
    low, high = np.quantile(means, [0.025, 0.975])
    return 100 * diff.mean(), 100 * low, 100 * high


def labelled_set(name: str, items: dict[str, list[str]], work: Path) -> list[str]:
    """The section's text for one labelled set."""
    files = [write_items(work / "data" / f"{label}.txt", found) for label, found in items.items()]
    took = trained(files, work / "labelled")
    lm, alone = (nnlm.load(work / "labelled", device="cpu", mix=mix) for mix in (True, False))
    side = fit_ngram_side(lm.source)
    runs = per_label_runs(lm, work)
    rows, loss = loss_rows(lm, alone, runs, side.choice.model)
    models, order = best_kn_classifier(lm.source)
    truth = np.array(lm.source.item_labels["test"])
    kn_found = kn_classify(models, lm.source, lm.source.split.test)
    kn_accuracy = float((kn_found == truth).mean())
    found = np.array([lm.source.labels.index(c.label) for c in lm.classify(lm.source.split.test)])
    accuracy, count = float((found == truth).mean()), len(found)  # (lm.accuracy("test"), classified once)
    per_label, shares = sample_shares(lm, models)
    _, own_shares = sample_shares(lm, models, runs[:-1])
    wins = loss["labelled"] < min(loss["own"], loss["unlabelled"]) and accuracy > kn_accuracy
    return [f"## {name}", "",
            f"{sum(map(len, items.values())):,} items in {len(files)} files; the labelled default run: "
            f"{lm.describe()}, `nnlm train` {took}.", "",
            "| label | train items | test tokens | labelled run | its model alone | (a) a run per label | "
            "(b) one run, no labels | (c) labelled KN |", "|---|---|---|---|---|---|---|---|", *rows, "",
            f"Classification of the {count:,} test items: the labelled run {accuracy:.1%}, a per-label "
            f"Kneser-Ney classifier (order {order}, chosen on dev) {kn_accuracy:.1%}. The run's accuracy "
            "less the classifier's: {:+.1f} points (95% interval by a paired bootstrap over the items: "
            "{:+.1f} to {:+.1f}).".format(*paired_interval(truth, found, kn_found)), "",
            f"Samples of `--label X` ({SAMPLES_PER_LABEL} each) that this classifier puts under X: "
            f"{shares:.1%} of all ({per_label}); at least 60%: {'yes' if shares >= 0.6 else 'NO'}. "
            f"Of the samples of each label's own run (a): {own_shares:.1%}; of the test items "
            f"themselves: {kn_accuracy:.1%} (the classifier's accuracy above).", "",
            f"The labelled run's summed test loss is below (a) and (b), and its accuracy above the "
            f"classifier's: {'yes' if wins else 'NO'}.", "", without_film(files, work, models), ""]


def without_film(files: list[str], work: Path, models) -> str:
    """The same labelled default run with --no-film (the label one input of the MLP's window
    only): its summed test loss, classification accuracy and samples recognised, in a line."""
    took = trained(files, work / "labelled-no-film", film=False)
    lm = nnlm.load(work / "labelled-no-film", device="cpu")
    loss, accuracy = lm.evaluate("test").loss, lm.accuracy("test")[0]
    return (f"The same run without FiLM (`--no-film`: the label one input of the MLP's window only; "
            f"`nnlm train` {took}): test loss {loss:.4f}, classification {accuracy:.1%}, samples of "
            f"`--label X` put under X {sample_shares(lm, models)[1]:.1%}.")


def labels(args) -> str:
    """The labels section's text (markdown)."""
    lines = ["Test losses in nats per token over the same tokens (each item's characters and its end); "
             "every run at the default run's settings, each run's predictor (the model mixed with its "
             "n-gram model where training chose it) except where the model alone is named.", ""]
    for name, items in label_sets().items():
        lines += labelled_set(name, items, Path(args.work) / "labels" / slug(name))
    return "\n".join(lines)


# -- a head start ------------------------------------------------------------------------------

SMALL_ITEMS = 300
SPLIT_SEEDS = (1, 2, 3)


def head_start_lists() -> dict[str, tuple[list[str], list[str]]]:
    """name -> (the big list a run is trained on, the small list that starts from it)."""
    from datalists import check_versions, clean, faker_it_cities, faker_table, wordfreq_top

    check_versions(["faker", "wordfreq"])
    pick = lambda items: random.Random(0).sample(items, SMALL_ITEMS)  # noqa: E731
    english = clean(wordfreq_top("en", 40_000)())
    german_names = clean(faker_table("person.de_DE", "first_names")())
    others = sorted({name for loc in FAKER_LOCALES if loc != "de_DE"
                     for name in clean(faker_table(f"person.{loc}", "first_names")())} - set(german_names))
    return {
        "German first names (Faker de_DE), after 11 other locales' first names (no German one)":
            (others, pick(german_names)),
        "rare English words (wordfreq ranks 30,001-40,000), after the 30,000 commonest":
            (english[:30_000], pick(english[30_000:])),
        "Dutch words (wordfreq's 10,000 commonest), after German's 30,000 commonest":
            (clean(wordfreq_top("de", 30_000)()), pick(clean(wordfreq_top("nl", 10_000)()))),
        "German towns (Faker de_DE), after Italian towns (Faker it_IT)":
            (clean(faker_it_cities()), pick(clean(faker_table("address.de_DE", "cities")()))),
    }


def test_nats(lm) -> tuple[float, int]:
    """(-sum of log p, tokens) of a run's test split, as it predicts."""
    result = lm.evaluate("test")
    return result.loss * result.tokens, result.tokens


def head_start_row(name: str, big: list[str], small: list[str], work: Path) -> tuple[str, bool]:
    """One small list's row: test loss (nats/token, summed over SPLIT_SEEDS splits) from scratch and
    with --init-from, each run's predictor and its model alone, and the Kneser-Ney model alone."""
    took = trained(write_items(work / "big.txt", big), work / "big")
    data = write_items(work / "small.txt", small)
    total = Counter()
    for seed in SPLIT_SEEDS:
        trained(data, work / f"scratch-{seed}", split_seed=seed)
        trained(data, work / f"init-{seed}", split_seed=seed, init_from=str(work / "big"))
        for kind in ("scratch", "init"):
            for mix in (True, False):
                nats, tokens = test_nats(nnlm.load(work / f"{kind}-{seed}", device="cpu", mix=mix))
                total[f"{kind} {mix}"] += nats
        side = fit_ngram_side(nnlm.load(work / f"scratch-{seed}", device="cpu").source)
        total["kn"] += -float(side.test.sum())
        total["tokens"] += tokens
    loss = {key: total[key] / total["tokens"] for key in total if key != "tokens"}
    wins = loss["init True"] < min(loss["scratch True"], loss["kn"]) and loss["init False"] < min(
        loss["scratch False"], loss["kn"])
    big_lm = nnlm.load(work / "big", device="cpu")
    return (f"| {name} | {len(big):,} items, {big_lm.describe()}, {took} | {total['tokens']:,} | "
            f"{loss['scratch True']:.4f} / {loss['scratch False']:.4f} | **{loss['init True']:.4f}** / "
            f"**{loss['init False']:.4f}** | {loss['kn']:.4f} | {'yes' if wins else 'NO'} |"), wins


def head_start(args) -> str:
    """The head-start section's text (markdown)."""
    rows, wins = [], []
    for name, (big, small) in head_start_lists().items():
        row, won = head_start_row(name, big, small, Path(args.work) / "head-start" / slug(name))
        rows.append(row)
        wins.append(won)
    return "\n".join([
        f"Each small list has {SMALL_ITEMS} items, split three ways (split seeds "
        f"{', '.join(map(str, SPLIT_SEEDS))}); each split trained from scratch and with `--init-from` the "
        "big run, both at the default run's settings. Test loss in nats per token over the three test "
        "splits' tokens together: the run's predictor / its model alone (the mixture is fitted on the "
        "small list's dev split in both).", "",
        "| small list | big run | test tokens | from scratch | `--init-from` the big run | Kneser-Ney "
        "alone | --init-from beats both (run and model alone) |", "|---|---|---|---|---|---|---|", *rows, "",
        f"--init-from beats training from scratch and the n-gram model alone on every list: "
        f"{'yes' if all(wins) else 'NO'}."])

SECTIONS = {"constraints": constraints, "labels": labels, "head-start": head_start}
TITLES = {"constraints": "Control over sampling: constraints", "labels": "Control: labels",
          "head-start": "Control: a head start from another run"}


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("sections", nargs="+", choices=list(SECTIONS), help="what to measure")
    ap.add_argument("--work", default=str(Path(tempfile.gettempdir()) / "nnlm-control"),
                    help="where the runs are trained (kept: a second call reuses them)")
    args = ap.parse_args()
    for name in args.sections:
        started = time.perf_counter()
        body = SECTIONS[name](args)
        header = (f"# {TITLES[name]}\n\n`python benchmarks/control.py {name}` "
                  f"({time.perf_counter() - started:.0f} s in all; torch on {torch.get_num_threads()} "
                  f"threads) on {describe()}.\n\n")
        print(header + body)
        RESULTS.mkdir(parents=True, exist_ok=True)
        (RESULTS / f"control_{name}.md").write_text(header + body + "\n")


if __name__ == "__main__":
    main()
