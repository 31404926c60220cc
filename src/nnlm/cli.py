"""Command line: a thin layer over the Python API (nnlm.train, nnlm.load).

One `add_<command>` builds each command's options and one `cmd_<command>` runs it (COMMANDS, at
the end, lists them). Only the command asked for gets its options, and PyTorch is imported by
the commands that use it, so `nnlm --help` and `nnlm --version` answer at once.

Conventions: every option's help says its default (or how it is chosen); `-` reads standard
input wherever a file is read; a run directory is RUN; `-n/--num-samples` counts samples and
`--seed` seeds what a command draws at random (training: 1337; sampling: a fresh seed unless
given); earlier spellings of renamed options still work, unshown. Exit status: 0 done; 2 the
command line or its input is wrong (a usage mistake prints the usage line too); 1 something
else failed; 130/143 training stopped by Ctrl-C/SIGTERM (a checkpoint saved).
"""

from __future__ import annotations

import argparse
import contextlib
import json
import os
import sys
import tempfile
from pathlib import Path

from .errors import Failure, NnlmError, SettingError
from .settings import add_flags, given, settings_of
from .settings.data import DataConfig
from .settings.declare import FULL_RUN, SHORT
from .settings.training import DEVICES, TrainConfig
from .version import __version__

EXIT_USAGE, EXIT_FAILURE = 2, 1  # the input is wrong; something else failed
STDIN = "-"  # as a file name: standard input
CHOSEN = ("With no --preset, the default run chooses the options marked 'chosen from the data' from "
          "the data it reads, and prints its choices and why; a --preset sets its own; an option given "
          "replaces either.")


class Formatter(argparse.HelpFormatter):
    """argparse's help, with each option's default said where its help does not say it."""

    def _get_help_string(self, action):
        text = action.help or ""
        if "(default" in text or not action.option_strings or action.default is argparse.SUPPRESS:
            return text
        if action.default is False or isinstance(action, argparse.BooleanOptionalAction):
            return text + " (default: off)"
        return text if action.default is None else text + " (default: %(default)s)"


class Parser(argparse.ArgumentParser):
    """argparse with nnlm's help formatter (a usage mistake: the usage line, one error line, exit 2)."""

    def __init__(self, *args, **kwargs):
        super().__init__(*args, formatter_class=Formatter, **kwargs)


# the kinds of training (settings.declare scopes) whose settings each command offers as flags
SCOPES = {"train": FULL_RUN, "lr-find": SHORT, "sweep": (), "ngram": ()}
READS_DATA = ("train", "lr-find", "sweep", "ngram")


# -- options shared by several commands ------------------------------------------------------

def add_settings(p, command: str) -> None:
    """The flags of every setting `command` takes, derived from the settings' declarations."""
    if SCOPES[command]:
        from .models import ARCH_FAMILIES, FAMILIES

        from .run.auto import chosen_names

        chosen = chosen_names(FAMILIES.values())
        g = p.add_argument_group("model (each family's own; see --model)", CHOSEN)
        g.add_argument("--model", choices=list(FAMILIES), metavar="FAMILY",
                       help="model family (default: chosen from the data, mlp for a list, lstm for running "
                       "text): " + "; ".join(f"{f.name}: {f.help}" for f in FAMILIES.values()))
        g.add_argument("--arch", choices=list(ARCH_FAMILIES), help=argparse.SUPPRESS)  # nnlm 0.1's name
        seen, by_family = set(), family_defaults(FAMILIES.values())
        for fam in FAMILIES.values():
            add_flags(g, settings_of(fam.config), SCOPES[command], seen, chosen, by_family)
        add_flags(p.add_argument_group("training", CHOSEN), settings_of(TrainConfig), SCOPES[command],
                  chosen=chosen)
    if command in READS_DATA:
        add_flags(p.add_argument_group("data"), settings_of(DataConfig), FULL_RUN)


def family_defaults(families) -> dict[str, str]:
    """How to say the default of a setting several families declare with different defaults:
    "mlp 3, hierarchical 8, ..." (families sharing a value named together)."""
    from .settings.declare import show_value

    values: dict[str, dict[str, list[str]]] = {}
    for fam in families:
        for s in settings_of(fam.config):
            values.setdefault(s.name, {}).setdefault(show_value(s.default), []).append(fam.name)
    return {name: ", ".join(f"{'/'.join(fams)} {value}" for value, fams in by_value.items())
            for name, by_value in values.items() if len(by_value) > 1}


def given_settings(args) -> tuple[str | None, dict]:
    """(model family, the settings given on the command line: the family's, training's, data's)."""
    from .models import ARCH_FAMILIES, FAMILIES

    family = ARCH_FAMILIES.get(getattr(args, "arch", None) or "", getattr(args, "model", None))
    scopes = SCOPES[args.command]
    settings = [s for f in FAMILIES.values() for s in settings_of(f.config)] + settings_of(TrainConfig)
    data = given(args, settings_of(DataConfig), FULL_RUN) if args.command in READS_DATA else {}
    return family, {**given(args, settings, scopes), **data}


def preset_names() -> list[str]:
    """Every family's presets' names, and default."""
    from .models import FAMILIES

    return sorted({"default", *(p for f in FAMILIES.values() for p in f.presets)})


def add_run(p) -> None:
    """The run directory a command uses (a positional RUN)."""
    p.add_argument("run_dir", metavar="RUN", help="a run directory, as nnlm train writes it")


def add_predictor_options(p) -> None:
    """The options of the commands that use a trained run: where it runs, and whether with its
    n-gram mixture."""
    p.add_argument("--device", default="auto", choices=DEVICES, help="auto picks cuda, then mps, then cpu")
    p.add_argument("--no-mix", action="store_true",
                   help="the run's model alone, without the n-gram model training mixed in")


@contextlib.contextmanager
def readable(path: str | None):
    """`path` as a file to read: standard input (`-`) spooled into a temporary file for as long as
    the block runs; any other path (or None) as it is."""
    if path != STDIN:
        yield path
        return
    fd, name = tempfile.mkstemp(prefix="nnlm-stdin-", suffix=".txt")
    try:
        with os.fdopen(fd, "wb") as f:
            f.write(sys.stdin.buffer.read())
        yield name
    except NnlmError as e:  # it names the temporary file: name standard input instead
        raise NnlmError(str(e).replace(name, "<stdin>"), cli=e.for_cli().replace(name, "<stdin>")) from None
    finally:
        os.unlink(name)


# -- train -------------------------------------------------------------------------------

def add_train(p) -> None:
    """The options of `nnlm train`."""
    p.add_argument("data", nargs="*", metavar="DATA", help="UTF-8 text: a list, one item per line, or "
                   "running text; - reads standard input, kept in the run directory as input.txt; several "
                   "list files: a labelled list, each file's name its items' label (default: the bundled "
                   "names.txt)")
    p.add_argument("--out", metavar="RUN", help="the run directory (default: runs/<data name>, or "
                   "runs/<data name>-2, -3... where that is taken; runs/stdin for -)")
    p.add_argument("--preset", default="default", choices=preset_names(),
                   help="the family's preset of settings, which the options given override (default: "
                   "default, the settings chosen from the data)")
    p.add_argument("--resume", action="store_true", help="continue the run in --out from its checkpoint")
    p.add_argument("--overwrite", action="store_true", help="replace the run already in --out")
    p.add_argument("--target-loss", type=float, help="stop once the dev loss is at or below this "
                   "(default: no target)")
    p.add_argument("-n", "--num-samples", type=int, default=10, help="samples printed at the end; running "
                   "text: one continuation; 0: none")
    p.add_argument("--samples", dest="num_samples", type=int, help=argparse.SUPPRESS)  # nnlm 0.2's name
    p.add_argument("--quiet", action="store_true", help="no progress bar (one shows only on a terminal)")
    add_settings(p, "train")


def cmd_train(args) -> int:
    """`nnlm train`: train (or resume) a run, print how it ended, its losses and samples."""
    from .inference.lm import load
    from .training.train import train

    family, settings = given_settings(args)
    data, out = (args.data[0] if len(args.data) == 1 else args.data or None), args.out
    if data == STDIN and not args.resume:
        data, out = stdin_data(out, args.overwrite)
    result = train(data, out, family=family, preset=args.preset, resume=args.resume,
                   overwrite=args.overwrite, progress=not args.quiet, target_loss=args.target_loss,
                   log=print, **settings)
    if result.rank != 0:  # under torchrun, rank 0 reports for all
        return 0
    print(f"run directory: {result.run_dir}")
    print(f"stopped: {result.stopped.value} at step {result.step} ({result.epochs:g} passes over the "
          f"data) after {result.seconds:.1f} s of training ({result.command_seconds:.1f} s in all); best dev "
          f"at step {result.best_step}")
    print_losses(result)
    if result.stopped.interrupted:
        print(f"checkpoint saved; continue with: nnlm train --resume --out {result.run_dir}")
        return result.stopped.exit_code
    if args.num_samples > 0:
        lm = load(result.run_dir)
        print("samples:")
        if lm.source.ends:
            print_samples(lm.sample(args.num_samples, seed=0), width=24)
        else:  # running text: a continuation of its start, as it is
            print(lm.sample(1, seed=0)[0].text)
    return 0


def stdin_data(out: str | None, overwrite: bool) -> tuple[str, str]:
    """(the data file, the run directory) of a run on standard input: the text is kept in the
    run directory, the file the run reads (and, for running text, reads again later)."""
    from .run import rundir
    from .run.spec import default_run_dir

    run_dir = Path(out) if out else default_run_dir(Path("stdin"))
    rundir.prepare_empty_dir(run_dir, overwrite)  # (a run there: refused before stdin is read)
    return str(rundir.keep_input(run_dir, sys.stdin.buffer.read())), str(run_dir)


def print_losses(result) -> None:
    """The losses of a TrainResult: the model's, the mixture's, bits per character."""
    def fmt(x):
        return "-" if x is None else f"{x:.4f}"

    print(f"loss (nats/token) of the best weights: train {fmt(result.train_loss)}  "
          f"dev {fmt(result.model_dev_loss)}  test {fmt(result.model_test_loss)}")
    per_char = result.bits_per_char or {}
    if result.mixture:
        m = result.mixture
        print(f"mixed with a Kneser-Ney model of order {m['order']} (weights {m['weight']:.2f} / "
              f"{1 - m['weight']:.2f}, tuned on dev; the n-gram alone: dev {m['dev_loss']['ngram']:.4f}): "
              f"dev {fmt(result.dev_loss)}  test {fmt(result.test_loss)}; eval, score and sample use "
              "the mixture (--no-mix: the model alone)")
    if per_char:
        print("bits per character of the run's predictor: " +
              "  ".join(f"{name} {bits:.4f}" for name, bits in per_char.items()))


# -- sample ------------------------------------------------------------------------------

def add_sample(p) -> None:
    """The options of `nnlm sample` (the controls from SampleRequest's declarations)."""
    from .inference.sample import SampleRequest

    add_run(p)
    add_flags(p, settings_of(SampleRequest))
    p.add_argument("--plain", action="store_true", help="the items only, one per line")
    p.add_argument("--json", action="store_true", help="one JSON object per line: text and novelty")
    add_predictor_options(p)


def cmd_sample(args) -> int:
    """`nnlm sample`: draw samples and print them (running text: as they are drawn)."""
    from .inference.lm import load
    from .inference.sample import SampleRequest

    lm = load(args.run_dir, device=args.device, mix=not args.no_mix)
    asked = given(args, settings_of(SampleRequest))
    num = asked.pop("num", 20 if lm.source.ends else 1)  # running text: one continuation
    stream = not lm.source.ends and num == 1 and not args.json  # printed as it is drawn
    samples = lm.draw(SampleRequest(num=num, **asked), print_now if stream else None)
    if stream:
        print()
        return 0
    for s in samples:
        if args.json:
            labelled = {"label": s.label} if s.label is not None else {}
            print(json.dumps({"text": s.text, "novelty": s.novelty, **labelled}, ensure_ascii=False))
        elif args.plain:
            print(s.text)
    if not (args.json or args.plain):
        print_samples(samples, width=max([len(s.text) for s in samples] + [8]))
    if asked.get("exact"):
        print(f"nnlm sample: {len(samples)} samples from {samples.tries:,} tries (--exact: each sample drawn "
              "whole; those that failed the constraints drawn again)", file=sys.stderr)
    if len(samples) < num:
        print(f"nnlm sample: only {len(samples)} of {num} found in {samples.tries:,} tries (the model rarely "
              "makes more that are unique, new, not excluded, or with --exact that meet the constraints)",
              file=sys.stderr)
    return 0


def print_samples(samples, width: int) -> None:
    """Samples in a column, each marked with its novelty (and label)."""
    for s in samples:
        label = f"  {s.label}" if s.label is not None else ""
        print(f"  {s.text:<{width}} {s.novelty or '-':<5}{label}".rstrip())


def print_now(text: str) -> None:
    """Print a piece of a continuation as it is drawn."""
    print(text, end="", flush=True)


# -- eval and score ----------------------------------------------------------------------

def add_eval(p) -> None:
    """The options of `nnlm eval`."""
    add_run(p)
    p.add_argument("file", nargs="?", help="a file to evaluate, read as the run reads its data (a list: one "
                   "item per line); - reads standard input (default: --split of the run's data)")
    p.add_argument("--split", default="dev", choices=("train", "dev", "test"), help="which split of the "
                   "run's data")
    p.add_argument("--mix-order", type=int, help="also the run's model mixed with a Kneser-Ney model "
                   "of this order fitted on the run's train split (default: no such mix)")
    p.add_argument("--mix-with", nargs="+", default=[], metavar="RUN",
                   help="other runs on the same data to put in the mix (default: none)")
    p.add_argument("--mix-weight", type=float, nargs="+", help="each run's weight in the mix, "
                   "the n-gram taking the rest of 1 (default: all tuned on the dev split by EM)")
    p.add_argument("--label", help="a labelled run: read FILE's items under this label (default: the "
                   "split's own labels)")
    p.add_argument("--json", action="store_true", help="one JSON object")
    add_predictor_options(p)


def cmd_eval(args) -> int:
    """`nnlm eval`: the loss on a split or a file (and of a mix of runs)."""
    from .inference.lm import load

    ad_hoc = args.mix_order is not None or bool(args.mix_with)
    lm = load(args.run_dir, device=args.device, mix=not (args.no_mix or ad_hoc))
    with readable(args.file) as path:
        result = lm.evaluate(args.split, path=path, label=args.label)
    classified = lm.accuracy("test") if lm.source.labels and lm.source.split.test else None
    what = ("standard input" if args.file == STDIN else args.file) or f"{args.split} split"
    if lm.mixture is not None:
        what += f" ({lm.describe()})"
    mix = None
    if ad_hoc:
        if args.file:
            raise NnlmError("--mix-order/--mix-with evaluate the run's own splits, not a FILE")
        from .inference.ensemble import evaluate_mix
        lms = [lm] + [load(run, device=args.device) for run in args.mix_with]
        mix = evaluate_mix(lms, args.mix_order, args.mix_weight, splits=(args.split,))
    elif args.mix_weight is not None:
        raise NnlmError("--mix-weight needs --mix-order or --mix-with")
    if args.json:
        extra = {"mix": mix.to_json()} if mix else {}
        if classified:
            extra["classification"] = {"split": "test", "accuracy": classified[0], "items": classified[1]}
        print(json.dumps({"data": what, **result.to_json(), **extra}))
        return 0
    print_eval(what, result)
    for label, own in (result.by_label or {}).items():
        print_eval(f"  {label}", own)
    if classified:
        print(f"classification: {classified[0]:.1%} of the test split's {classified[1]:,} items get their "
              "own label (the likeliest under the run's predictor, the labels' shares as priors)")
    if mix:
        how = "tuned on dev" if mix.tuned else "given"
        parts = ", ".join(f"{name} {w:.3f}" for name, w in zip(mix.names, mix.weights, strict=True))
        print_eval(f"{what}, mixed (weights {how}: {parts})", mix.results[args.split])
    return 0


def print_eval(what: str, result) -> None:
    """One EvalResult as a line: loss, perplexity, bits per token and per character."""
    per_char = f"  {result.bits_per_char:.4f} bits/character" if result.chars else ""
    print(f"{what}: loss {result.loss:.4f} nats/token  perplexity {result.perplexity:.3f}  "
          f"{result.bits:.4f} bits/token{per_char}  ({result.tokens} tokens)")


def add_score(p) -> None:
    """The options of `nnlm score`."""
    add_run(p)
    p.add_argument("items", nargs="*", default=[], metavar="ITEM", help="items (a list's run) or texts to "
                   "score; - reads them from standard input, as --file does")
    p.add_argument("--file", help="score what a file holds: a list run's items, one per line, or a "
                   "running text run's whole text; - reads standard input (default: the ITEMs)")
    p.add_argument("--label", help="a labelled run: score the items under this label (default: none; a "
                   "labelled run needs one)")
    p.add_argument("--json", action="store_true", help="one JSON object per item: its log-probability "
                   "and each token's")
    add_predictor_options(p)


def cmd_score(args) -> int:
    """`nnlm score`: each item's log-probability and each token's."""
    from .inference.lm import load

    lm = load(args.run_dir, device=args.device, mix=not args.no_mix)
    for score in lm.score(items_to_score(lm, args), label=args.label):
        if args.json:
            print(json.dumps(score.to_json(), ensure_ascii=False))
            continue
        parts = " ".join(f"{t}:{lp:.2f}" for t, lp in score.tokens)
        print(f"{score.text}\t{score.logprob:.4f}\t{parts}")
    return 0


def add_classify(p) -> None:
    """The options of `nnlm classify`."""
    add_run(p)
    p.add_argument("file", metavar="FILE", help="the items to classify, one per line; - reads standard input")
    p.add_argument("--json", action="store_true", help="one JSON object per item: its label and the whole "
                   "posterior")
    add_predictor_options(p)


def cmd_classify(args) -> int:
    """`nnlm classify`: the likeliest label of each item, `item<TAB>label` (or JSON)."""
    from .data.text import read_items
    from .inference.lm import load

    lm = load(args.run_dir, device=args.device, mix=not args.no_mix)
    with readable(args.file) as path:
        items = read_items(path)
    for found in lm.classify(items):
        print(json.dumps(found.to_json(), ensure_ascii=False) if args.json else
              f"{found.item}\t{found.label}")
    return 0


def items_to_score(lm, args) -> list[str]:
    """The ITEMs, or what --file (or ITEM -) holds: a list run's items, one per line; a running
    text run's whole text."""
    from .data.text import read_items, read_text

    source = args.file or (STDIN if args.items == [STDIN] else None)
    if source is None:
        if not args.items:
            raise NnlmError("nothing to score: give ITEMs, - or --file FILE")
        return args.items
    if args.items and args.items != [STDIN]:
        raise NnlmError("give ITEMs or --file, not both")
    with readable(source) as path:
        return read_items(path) if lm.source.ends else [read_text(path)]


# -- sweep and lr-find -------------------------------------------------------------------

def add_sweep(p) -> None:
    """The options of `nnlm sweep`."""
    from .models import FAMILIES

    p.add_argument("data", nargs="?", help="as for train (default: the bundled names.txt)")
    p.add_argument("--out", required=True, metavar="DIR", help="the sweep directory: a run directory "
                   "per trial, and the results table (required)")
    p.add_argument("--grid", nargs="+", default=[], metavar="KEY=V1,V2",
                   help="values to try, e.g. n_hidden=256,512 dropout=0,0.2 (default: none: one trial)")
    p.add_argument("--set", nargs="+", default=[], metavar="KEY=VALUE",
                   help="settings fixed for every trial, e.g. block_size=8 (default: none)")
    p.add_argument("--model", choices=list(FAMILIES), metavar="FAMILY",
                   help="model family (default: chosen from the data)")
    p.add_argument("--preset", default="default", choices=preset_names(), help="every trial's preset")
    p.add_argument("--seconds", type=float, default=60.0, help="training budget per trial")
    p.add_argument("--random", type=int, default=0, metavar="N", help="try N random grid points, not all "
                   "(0: all)")
    p.add_argument("--seed", type=int, default=1337, help="seeds the random grid points (each trial's "
                   "training seed is --set seed=N)")
    add_settings(p, "sweep")


def cmd_sweep(args) -> int:
    """`nnlm sweep`: train a grid of trials; print the best and where the table is."""
    from .tools.sweep import parse_assignments, run_sweep

    grid = parse_assignments(args.grid, multi=True, family=args.model)
    fixed = parse_assignments(args.set, multi=False, family=args.model)
    rows = run_sweep(args.data, args.out, grid, fixed, args.seconds, family=args.model,
                     preset=args.preset, random_trials=args.random, seed=args.seed,
                     data_options=given_settings(args)[1])
    print(f"best: {rows[0]['trial']} dev {rows[0]['dev_loss']:.4f}; "
          f"table in {args.out}/results.md")
    return 0


def add_lr_find(p) -> None:
    """The options of `nnlm lr-find`."""
    p.add_argument("data", nargs="?", help="UTF-8 text: a list, one item per line, or running text "
                   "(default: the bundled names.txt)")
    p.add_argument("--plot", default="lr_find.png", metavar="PNG", help="the picture to write")
    p.add_argument("--out", dest="plot", help=argparse.SUPPRESS)  # nnlm 0.2's name
    p.add_argument("--preset", default="default", choices=preset_names(), help="the family's preset, whose "
                   "lr and schedule the sweep replaces")
    p.add_argument("--steps", type=int, default=300, help="the sweep's length in steps")
    p.add_argument("--lr-min", type=float, default=1e-4, help="the first step's lr")
    p.add_argument("--lr-max", type=float, default=1.0, help="the last step's lr (the sweep stops early "
                   "where the loss blows up)")
    add_settings(p, "lr-find")


def cmd_lr_find(args) -> int:
    """`nnlm lr-find`: sweep the lr, draw the picture, print the suggestion."""
    from .tools.lrfind import lr_find
    from .tools.plot import lr_sweep, pyplot

    pyplot()  # fail on a missing matplotlib before the sweep, not after
    family, settings = given_settings(args)
    result = lr_find(args.data, family=family, preset=args.preset, steps=args.steps, lr_min=args.lr_min,
                     lr_max=args.lr_max, **settings)
    print(lr_sweep(result, args.plot))
    print(f"suggested lr: {result.suggestion:.3g} (the bottom of the smoothed loss, "
          f"{len(result.lrs)} steps from {args.lr_min:g} to {result.lrs[-1]:.3g})")
    return 0


# -- plot and neighbors ------------------------------------------------------------------

def add_plot(p) -> None:
    """The options of `nnlm plot`."""
    add_run(p)
    p.add_argument("--log-scale", action="store_true", help="loss axis in log scale")
    p.add_argument("--tsne", action="store_true", help="embedding map by t-SNE (pip install scikit-learn), "
                   "not the first two principal components")
    p.add_argument("--top", type=int, default=300, metavar="N", help="label the N most frequent tokens")
    p.add_argument("--activations", action="store_true",
                   help="also a histogram of the hidden activations (their saturation)")


def cmd_plot(args) -> int:
    """`nnlm plot`: write a run's pictures into it and print their paths."""
    from .tools.plot import plot_run

    for path in plot_run(args.run_dir, log_scale=args.log_scale, tsne=args.tsne, top=args.top,
                         activations=args.activations):
        print(path)
    return 0


def add_neighbors(p) -> None:
    """The options of `nnlm neighbors`."""
    add_run(p)
    p.add_argument("token", help="a token of the vocabulary as nnlm shows it (<e>: the boundary)")
    p.add_argument("-k", type=int, default=10, help="how many neighbours")


def cmd_neighbors(args) -> int:
    """`nnlm neighbors`: the tokens nearest to one in the embedding table."""
    from .tools.inspect import neighbors

    for token, score in neighbors(args.run_dir, args.token, args.k):
        print(f"{token}\t{score:.4f}")
    return 0


# -- ngram -------------------------------------------------------------------------------

def add_ngram(p) -> None:
    """The options of `nnlm ngram`."""
    from .ngram.counts import MAX_ORDER, METHODS

    p.add_argument("data", nargs="?", help="UTF-8 text, as for train (default: the bundled names.txt)")
    p.add_argument("--order", default="auto", help=f"n, 1..{MAX_ORDER}, or auto: the order with the lowest "
                   "dev loss")
    p.add_argument("--method", choices=list(METHODS), default="kn",
                   help="kn: interpolated modified Kneser-Ney; bigram: the count bigram")
    p.add_argument("--smoothing", type=float, default=1.0, help="bigram: add-k smoothing")
    p.add_argument("--arpa", metavar="FILE", help="write the model to this ARPA file (default: none)")
    p.add_argument("-n", "--num-samples", type=int, default=0, metavar="N", help="print N samples")
    p.add_argument("--sample", dest="num_samples", type=int, help=argparse.SUPPRESS)  # nnlm 0.2's name
    p.add_argument("--max-len", type=int, help="the longest sample, in tokens (default: the data's: twice "
                   "the longest training item, or 50 tokens of running text)")
    p.add_argument("--seed", type=int, help="the same seed gives the same samples (default: a fresh one)")
    p.add_argument("--json", action="store_true", help="the report as one JSON object")
    add_settings(p, "ngram")


def cmd_ngram(args) -> int:
    """`nnlm ngram`: the n-gram baseline's report."""
    from .ngram import ngram

    order = None if args.order == "auto" else parse_order(args.order)
    report = ngram(args.data, order, args.method, smoothing=args.smoothing, arpa=args.arpa,
                   samples=args.num_samples, max_len=args.max_len, seed=args.seed, **given_settings(args)[1])
    print_ngram(report, args.json)
    return 0


def parse_order(text: str) -> int:
    """--order's value as a number (NnlmError for one outside 1..MAX_ORDER)."""
    from .ngram.counts import MAX_ORDER, check_order

    try:
        order = int(text)
    except ValueError:
        raise NnlmError(f"--order must be a number from 1 to {MAX_ORDER} or auto, got {text!r}") from None
    check_order(order)
    return order


def print_ngram(report: dict, as_json: bool) -> None:
    """The n-gram report, as lines or one JSON object."""
    if as_json:
        print(json.dumps(report, ensure_ascii=False))
        return
    from .ngram.counts import METHODS

    name = METHODS[report["method"]]
    chosen = ""
    if "dev_loss_by_order" in report:
        tried = ", ".join(f"{k}: {v:.4f}" for k, v in report["dev_loss_by_order"].items())
        chosen = f" (chosen on dev; dev loss by order {tried})" if tried else " (no dev split to choose on)"
    print(f"{name}, order {report['order']}{chosen}: vocabulary {report['vocab_size']}, n-grams per order "
          f"{report['ngrams']}, fitted in {report['fit_seconds']:.2f} s")
    for split in ("dev", "test"):
        if split in report:
            r = report[split]
            per_char = f"  {r['bits_per_char']:.4f} bits/char" if "bits_per_char" in r else ""
            print(f"{split}: perplexity {r['perplexity']:.3f}  loss {r['loss']:.4f} nats/token  "
                  f"{r['bits_per_token']:.4f} bits/token{per_char}  ({r['tokens']} tokens)")
    if "arpa" in report:
        print(f"ARPA: {report['arpa']['path']} ({sum(report['arpa']['entries'])} entries)")
    for text in report.get("samples", []):
        print(f"  {text}")


# -- serve -------------------------------------------------------------------------------

def add_serve(p) -> None:
    """The options of `nnlm serve`."""
    p.add_argument("run_dirs", nargs="+", metavar="RUN", help="run directories, each loaded once")
    p.add_argument("--host", default="127.0.0.1",
                   help="address to listen on (default: 127.0.0.1, this machine only)")
    p.add_argument("--port", type=int, default=8000, help="port; 0: any free one")


def cmd_serve(args) -> int:
    """`nnlm serve`: the page and JSON API over the runs, until Ctrl-C."""
    from .serve import serve  # imports Starlette only when it runs: the core install lacks it

    return serve(args.run_dirs, host=args.host, port=args.port)


# -- export ------------------------------------------------------------------------------

def add_export(p) -> None:
    """The options of `nnlm export`."""
    from .export.formats import FORMATS

    add_run(p)
    p.add_argument("--format", default="onnx", choices=list(FORMATS),
                   help="what to write (default: onnx). " + " ".join(f"{f.name}: {f.what}; takes {f.takes()}."
                                                                    for f in FORMATS.values()))
    p.add_argument("--out", required=True, metavar="DIR",
                   help="the folder to write (required; refused if it exists, unless --overwrite)")
    p.add_argument("--overwrite", action="store_true", help="replace the folder in --out (default: off)")


def cmd_export(args) -> int:
    """`nnlm export`: a run's model as ONNX or a transformers folder."""
    from .export.write import export

    folder = export(args.run_dir, args.out, args.format, overwrite=args.overwrite)
    print(f"{folder}: {', '.join(sorted(path.name for path in folder.iterdir()))}")
    return 0


# -- the parser and main -----------------------------------------------------------------

# name -> (what it does, add its options, run it)
COMMANDS = {
    "train": ("train a model on a text file (default: bundled names)", add_train, cmd_train),
    "sample": ("generate new items from a trained model", add_sample, cmd_sample),
    "eval": ("loss, perplexity and bits per token on a split or a file", add_eval, cmd_eval),
    "score": ("log-probability of each item or text, and of each token", add_score, cmd_score),
    "classify": ("a labelled run: the likeliest label of each item (Bayes: the model's p(item | label) "
                 "and the labels' shares)", add_classify, cmd_classify),
    "sweep": ("search settings on dev; write a results table", add_sweep, cmd_sweep),
    "plot": ("PNGs of a run: loss curve, embedding map, activations", add_plot, cmd_plot),
    "neighbors": ("tokens nearest to TOKEN in the run's token embeddings (C)", add_neighbors, cmd_neighbors),
    "lr-find": ("sweep the learning rate on a short run; plot and suggest", add_lr_find, cmd_lr_find),
    "ngram": ("n-gram baseline (Kneser-Ney or count bigram): perplexity, samples, ARPA file", add_ngram,
              cmd_ngram),
    "serve": ("a local web page and JSON API to sample and score with trained runs "
              "(pip install 'nnlm[serve]')", add_serve, cmd_serve),
    "export": ("the run's model for other runtimes: ONNX (any family) or transformers (a transformer)",
               add_export, cmd_export),
}


def build_parser(commands=None) -> Parser:
    """The parser; the options of `commands` only (None: of all of them), the others named."""
    parser = Parser(prog="nnlm", description="Neural probabilistic language models "
                    "(Bengio et al. 2003): train, sample, evaluate, score.")
    parser.add_argument("--version", action="version", version=f"nnlm {__version__}")
    sub = parser.add_subparsers(dest="command", required=True, parser_class=Parser, metavar="COMMAND",
                                help="what to do (nnlm COMMAND --help: its options)")
    for name, (summary, add, _) in COMMANDS.items():
        p = sub.add_parser(name, help=summary, description=summary)
        p.set_defaults(command_parser=p)
        if commands is None or name in commands:
            add(p)
            p.usage = short_usage(p)
    return parser


def short_usage(p) -> str:
    """'nnlm sample RUN [options]': the positionals in full, the options in a word (-h lists them),
    so a usage mistake prints one usage line, not one of thirty."""
    shapes = {"?": "[{}]", "*": "[{} ...]", "+": "{0} [{0} ...]"}
    words = [shapes.get(a.nargs, "{}").format(a.metavar or a.dest.upper()) for a in p._actions
             if not a.option_strings]
    return " ".join(["%(prog)s", *words, "[options]"])


def command_of(argv: list[str]) -> str | None:
    """The command `argv` names (the first word that is not an option), if any."""
    return next((a for a in argv if not a.startswith("-")), None)


def main(argv=None) -> int:
    """The command line: parse `argv` (default: sys.argv), run the command, return its exit status."""
    argv = sys.argv[1:] if argv is None else list(argv)
    args = build_parser({command_of(argv)}).parse_args(argv)
    try:
        return COMMANDS[args.command][2](args)
    except NnlmError as e:
        if isinstance(e, SettingError):  # an option's value: a usage mistake
            args.command_parser.print_usage(sys.stderr)
        print(f"nnlm {args.command}: error: {e.for_cli()}", file=sys.stderr)
        return EXIT_FAILURE if isinstance(e, Failure) else EXIT_USAGE
    except KeyboardInterrupt:
        print(f"nnlm {args.command}: interrupted", file=sys.stderr)
        return 130
    except BrokenPipeError:  # e.g. `nnlm sample ... | head`
        sys.stderr.close()
        return 0
