"""`train`: a new or resumed run directory trained by the loop (loop.py), then its best
weights evaluated on every split, mixed with a Kneser-Ney model where that is better on dev,
and summarised in summary.json."""

from __future__ import annotations

import contextlib
import os
import time
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from ..data.base import SPLITS
from ..device import check_precision, resolve_device
from ..display import html_table
from ..errors import NnlmError
from ..inference.predictor import Predictor
from ..losses import EvalResult
from ..ngram.mixture import NgramSide, fit_ngram_side
from ..run import rundir
from ..run.spec import build_spec
from .batching import evenly_spaced
from .distributed import setup, teardown
from .headstart import start_from
from .loop import Stop, Trainer

TRAIN_EVAL_LIMIT = 200_000  # summary's train loss: on at most this many examples, evenly spaced


@dataclass
class TrainResult:
    """What `train` did: where the run is, how training ended, and the losses (nats per token) of
    its best-on-dev weights, alone and as the run's predictor (mixed with its n-gram model where
    that was better on dev). In a notebook it shows as a small table; `str()` gives its lines."""

    run_dir: Path
    step: int  # steps taken in total (including earlier sessions of a resumed run)
    seconds: float  # time in the training loop, in total
    setup_seconds: float  # reading data, fitting n-gram models, building the model (this session)
    best_step: int
    train_loss: float  # of the best-on-dev weights
    dev_loss: float
    test_loss: float | None
    stopped: Stop
    epochs: float = 0.0  # passes over the training examples
    rank: int = 0  # this process's rank under torchrun (only rank 0 reports)
    model_dev_loss: float | None = None  # dev and test of the model alone (the losses above are of
    model_test_loss: float | None = None  # the run's predictor: the mixture, where there is one)
    mixture: dict | None = None  # mix.json: the n-gram model's order, the weights, their dev losses
    why: list[str] | None = None  # how the default run chose its settings
    bits_per_char: dict | None = None  # dev and test of the predictor, in bits per character of text
    command_seconds: float | None = None  # the whole call, this session: the part a time budget limits

    def to_json(self) -> dict:
        """The result as summary.json keeps it (JSON types only)."""
        d = dict(self.__dict__)
        d["run_dir"], d["stopped"] = str(self.run_dir), self.stopped.value
        return d

    def rows(self) -> list[tuple[str, str]]:
        """What a person wants to see of the result, as (name, value) rows."""
        def fmt(x):
            return "-" if x is None else f"{x:.4f}"

        rows = [("run directory", str(self.run_dir)),
                ("stopped", f"{self.stopped.value} at step {self.step:,} ({self.epochs:g} passes) after "
                            f"{self.seconds:.1f} s; best dev at step {self.best_step:,}"),
                ("loss (nats/token)", f"train {fmt(self.train_loss)}, dev {fmt(self.model_dev_loss)}, "
                                      f"test {fmt(self.model_test_loss)}")]
        if self.mixture:
            m = self.mixture
            rows.append((f"mixed with Kneser-Ney order {m['order']}",
                         f"dev {fmt(self.dev_loss)}, test {fmt(self.test_loss)} (weights {m['weight']:.2f} / "
                         f"{1 - m['weight']:.2f})"))
        return rows + [("chosen from the data", reason) for reason in self.why or []]

    def __str__(self) -> str:
        return "\n".join(f"{name}: {value}" for name, value in self.rows())

    def _repr_html_(self) -> str:  # a notebook shows the result as a small table
        return html_table(self.rows())


def train(data: str | os.PathLike | None = None, out: str | os.PathLike | None = None, *,
          family: str | None = None, preset: str = "default", resume: bool = False, overwrite: bool = False,
          progress: bool = True, target_loss: float | None = None, log: Callable[[str], None] | None = None,
          model: str | None = None, data_options: dict | None = None, **settings) -> TrainResult:
    """Train a model on a text file into a run directory (`nnlm train`).

    Args:
        data: a UTF-8 file: a list, one item per line, or running text (None: the bundled
            names.txt). With `resume`, None.
        out: the run directory (None: runs/<data name>, or -2, -3... where that is taken).
        family: the model family (mlp, hierarchical, bigram, bow, rnn, gru, lstm, transformer;
            None: chosen from the data, the MLP for a list, an LSTM for running text).
        preset: the family's preset of settings; "default" chooses them from the data.
        resume: continue the run in `out` from its last checkpoint.
        overwrite: replace a run already in `out`.
        progress: a progress bar, where one is seen (a terminal, a notebook).
        target_loss: stop once the dev loss is at or below this.
        log: called with a line for each choice the run makes (the default run's settings and
            why) and each step after reading the data, as it begins.
        model: the earlier name of `family`. data_options: data settings, as `settings` take them.
        **settings: settings of the family (block_size=8, ...), of training (lr=3e-3,
            max_seconds=60, ...; nnlm.settings.training.TrainConfig) and of the data
            (tokens="word", dev="valid.txt", ...; nnlm.settings.data.DataConfig), over the
            preset's. A time budget (max_seconds) is the whole call's: reading the data,
            fitting the n-gram models, training and the final evaluations.

    Returns:
        The TrainResult (also kept in the run directory's summary.json).

    Raises:
        NnlmError: bad data, settings or run directory, in one line, before anything is
            written; Failure: training diverged or a process of a group was lost.
    """
    started = time.perf_counter()
    family = family or model
    settings = {**settings, **(data_options or {})}
    origin = None
    if settings.get("init_from") and not resume:
        settings["init_from"] = str(Path(settings["init_from"]).resolve())  # (config.json says which run)
        origin = rundir.load_spec(settings["init_from"])
    spec = resumed_spec(data, out, settings) if resume else \
        build_spec(data, out, family=family, preset=preset, settings=settings, origin=origin)
    group = setup(resolve_device(spec.train.device))
    try:
        if not out and group.world > 1:
            raise NnlmError("several processes need an explicit out run directory",
                            cli="several processes need an explicit --out run directory")
        check_precision(spec.train.precision, group.device, resuming=resume)
        if group.is_main and not resume:  # every rank built the same spec; rank 0 alone claims the directory
            rundir.prepare_empty_dir(spec.run_dir, overwrite)
        with rundir.locked(spec.run_dir) if group.is_main else contextlib.nullcontext():
            if group.is_main and not resume:
                rundir.write_spec(spec)
                if log:
                    report_choices(spec, log)
            group.barrier()
            trainer = Trainer(spec, group.device, progress, target_loss, group)
            if resume:
                trainer.resume_from_checkpoint()
            elif origin is not None:  # (every rank: the same weights)
                said = start_from(trainer.model, spec, origin)
                if log and group.is_main:
                    log(said)
            if trainer.finished():
                raise NnlmError(f"{spec.run_dir}: the run already finished its {trainer.step} "
                                "steps; pass a larger --steps to train longer")
            ngram = ngram_side(trainer, log)
            setup_seconds = time.perf_counter() - started
            trainer.plan_budget(setup_seconds, final_tokens(trainer), log)
            return finish(trainer, trainer.run(), started, ngram, log)
    finally:
        teardown(group)


def resumed_spec(data: str | None, out: str | None, settings: dict):
    """The spec of the run in OUT, with the settings that may change when a run resumes."""
    if out is None:
        raise NnlmError("resume=True needs out, the run to continue",
                        cli="--resume needs --out RUN, the run to continue")
    if data is not None:
        raise NnlmError("resume=True takes no data: the run directory holds its data",
                        cli="--resume takes no DATA: the run directory holds its data")
    return rundir.load_spec(out, overrides=settings)


def report_choices(spec, log) -> None:
    """What reading the data decided, and the settings chosen from it, a line each."""
    if spec.notes:
        log("data: " + "; ".join(spec.notes))
    if spec.why:
        log("settings chosen from the data: " + "; ".join(spec.why))


def ngram_side(trainer: Trainer, log=None) -> NgramSide | None:
    """The n-gram half of the run's mixture, fitted before training (it needs no model, and so
    its time counts in the run's budget), where the run mixes: rank 0, a dev split."""
    spec = trainer.spec
    if not (spec.train.mix and trainer.group.is_main and len(trainer.dev_windows)):
        return None
    if log:
        log("fitting Kneser-Ney models of the train split for the mixture (their order chosen on dev)...")
    side = fit_ngram_side(spec.source)
    if log:
        losses = ", ".join(f"{order}: {loss:.4f}" for order, loss in side.choice.dev_losses.items())
        log(f"n-gram models fitted in {side.seconds:.1f} s: order {side.choice.order} (dev loss by order "
            f"{losses})")
    return side


def final_tokens(trainer: Trainer) -> int:
    """Tokens the final evaluations read (final_losses)."""
    return sum(len(evaluated_windows(trainer, name)) for name in SPLITS)


def finish(trainer: Trainer, stopped: Stop, started: float, ngram: NgramSide | None = None,
           log=None) -> TrainResult:
    """Evaluate the best-on-dev weights on every split, mix in an n-gram model where that is
    better on dev (`ngram`: its n-gram side, where fitted before training), and write
    summary.json; `started`: when the call began (time.perf_counter); `log` hears of each step
    as it begins."""
    spec, seconds, group = trainer.spec, trainer.elapsed(), trainer.group
    setup_seconds = trainer.started - started
    group.barrier()  # rank 0 has written the best weights
    rundir.load_weights(spec.run_dir, trainer.model, "best")
    predictor = Predictor(trainer.model, trainer.device)
    if log and group.is_main:
        log(f"evaluating the best weights (step {trainer.state.best_step:,}) on train, dev and test...")
    losses, logprobs = final_losses(trainer, predictor)
    mixture = None
    if group.is_main:
        rundir.remove_mixture(spec.run_dir)  # an earlier session's no longer fits these weights
        if spec.train.mix and losses["dev"] is not None and not stopped.interrupted:
            mixture = mix_into_run(trainer, predictor, logprobs, ngram)
    # the run's predictor's losses: the mixture's where there is one (test: where there is a test split)
    dev_loss = mixture["dev_loss"]["mixture"] if mixture else losses["dev"]
    test_loss = mixture["test_loss"]["mixture"] if mixture and "test_loss" in mixture else losses["test"]
    result = TrainResult(
        run_dir=spec.run_dir, step=trainer.step, seconds=seconds, setup_seconds=setup_seconds,
        best_step=trainer.state.best_step, train_loss=losses["train"],
        dev_loss=dev_loss, test_loss=test_loss,
        stopped=stopped, epochs=round(trainer.batches.epochs(trainer.step), 2), rank=group.rank,
        model_dev_loss=losses["dev"], model_test_loss=losses["test"], mixture=mixture, why=spec.reasons,
        bits_per_char=per_character(spec.source, {"dev": dev_loss, "test": test_loss}),
        command_seconds=time.perf_counter() - started)
    if group.is_main:
        rundir.write_summary(spec.run_dir, result.to_json())
    return result


def per_character(source, losses: dict) -> dict | None:
    """Losses in nats per token as bits per character of the text they cover (one scale for
    characters, subwords, words and items)."""
    tokens = source.tokens()
    out = {name: EvalResult(loss, tokens[name], source.chars(name)).bits_per_char
           for name, loss in losses.items() if loss is not None and source.chars(name)}
    return out or None


def evaluated_windows(trainer: Trainer, name: str):
    """What the final losses read: all of dev and test, at most TRAIN_EVAL_LIMIT of train."""
    if name == "train":
        return evenly_spaced(trainer.train_windows, TRAIN_EVAL_LIMIT, trainer.model)
    return trainer.dev_windows if name == "dev" else trainer.spec.windows(name)


def final_losses(trainer: Trainer, predictor: Predictor) -> tuple[dict, dict[str, np.ndarray]]:
    """The model's loss on each split (None for an empty one), and where one process reads
    them all, its log p of each token, by split (kept for the mixture's fit); several
    processes share each split's reading instead."""
    losses, logprobs = {}, {}
    for name in SPLITS:
        windows = evaluated_windows(trainer, name)
        if not len(windows):
            losses[name] = None
            logprobs[name] = np.zeros(0)
        elif trainer.group.world == 1:
            logprobs[name] = predictor.model_logprobs(windows)
            losses[name] = float(-logprobs[name].mean())
        else:
            losses[name] = predictor.evaluate(lambda width, w=windows: w, trainer.group).loss
    return losses, logprobs


def mix_into_run(trainer: Trainer, predictor: Predictor, logprobs: dict, ngram: NgramSide | None = None
                 ) -> dict | None:
    """Fit the run's mixture; where it beats the model alone on dev, save it and return its
    report (mix.json: the n-gram model's order, the weights, the dev and test losses).
    `logprobs`: the model's of dev and test where already computed; `ngram`: the n-gram side
    where fitted before training."""
    spec = trainer.spec

    def model_logprobs(name: str) -> np.ndarray:
        if name in logprobs:
            return logprobs[name]
        return predictor.model_logprobs(spec.windows(name, predictor.block_size))

    fitted = predictor.fit_mixture(spec.source, model_logprobs, ngram)
    if fitted is None:
        return None
    mixed, report = fitted
    rundir.save_mixture(spec.run_dir, mixed.mixture.ngram, report)
    return report
