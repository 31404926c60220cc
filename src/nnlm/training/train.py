"""`train`: a new or resumed run directory trained by the loop (loop.py), then its best
weights evaluated on every split, mixed with a Kneser-Ney model where that is better on dev,
and summarised in summary.json."""

from __future__ import annotations

import contextlib
import time
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from ..data.base import SPLITS
from ..device import check_precision, resolve_device
from ..display import html_table
from ..errors import NnlmError
from ..inference.predictor import Predictor
from ..losses import EvalResult
from ..run import rundir
from ..run.spec import build_spec
from .batching import evenly_spaced
from .distributed import setup, teardown
from .loop import Stop, Trainer

TRAIN_EVAL_LIMIT = 200_000  # summary's train loss: on at most this many examples, evenly spaced


@dataclass
class TrainResult:
    run_dir: Path
    step: int  # steps taken in total (including earlier sessions of a resumed run)
    seconds: float  # time in the training loop, in total
    setup_seconds: float  # reading data, building windows, model and optimizer (this session)
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

    def to_json(self) -> dict:
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


def train(data: str | None = None, out: str | None = None, *, family: str | None = None,
          preset: str = "default", resume: bool = False, overwrite: bool = False,
          progress: bool = True, target_loss: float | None = None, log=None,
          model: str | None = None, data_options: dict | None = None, **settings) -> TrainResult:
    """Train a model on DATA (default: the bundled names) into the run directory OUT.

    `settings` are settings of the model family `family` (None: chosen from the data, the MLP
    for a list, an LSTM for running text; block_size=8, ...), of training (lr=3e-3, ...;
    settings.training.TrainConfig) and of the data (tokens="word", dev="valid.txt", ...;
    settings.data.DataConfig), over those of `preset`. (`model` and `data_options` are the
    earlier names of `family` and of the data settings, still taken.)
    With resume=True, continue the run in OUT from its last checkpoint. `log`, if given,
    receives lines about what the run chose (the default run's settings and why).
    """
    started = time.perf_counter()
    family = family or model
    settings = {**settings, **(data_options or {})}
    spec = resumed_spec(data, out, settings) if resume else \
        build_spec(data, out, family=family, preset=preset, settings=settings)
    group = setup(resolve_device(spec.train.device))
    try:
        if not out and group.world > 1:
            raise NnlmError("several processes need an explicit --out run directory")
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
            if trainer.finished():
                raise NnlmError(f"{spec.run_dir}: the run already finished its {trainer.step} "
                                "steps; pass a larger --steps to train longer")
            setup_seconds = time.perf_counter() - started
            return finish(trainer, trainer.run(), setup_seconds)
    finally:
        teardown(group)


def resumed_spec(data: str | None, out: str | None, settings: dict):
    """The spec of the run in OUT, with the settings that may change when a run resumes."""
    if out is None:
        raise NnlmError("--resume needs --out RUN_DIR, the run to continue")
    if data is not None:
        raise NnlmError("--resume takes no DATA: the run directory holds its data")
    return rundir.load_spec(out, overrides=settings)


def report_choices(spec, log) -> None:
    """What reading the data decided, and the settings chosen from it, a line each."""
    if spec.notes:
        log("data: " + "; ".join(spec.notes))
    if spec.why:
        log("settings chosen from the data: " + "; ".join(spec.why))


def finish(trainer: Trainer, stopped: Stop, setup_seconds: float) -> TrainResult:
    """Evaluate the best-on-dev weights on every split, mix in an n-gram model where that is
    better on dev, and write summary.json."""
    spec, seconds, group = trainer.spec, trainer.elapsed(), trainer.group
    group.barrier()  # rank 0 has written the best weights
    rundir.load_weights(spec.run_dir, trainer.model, "best")
    predictor = Predictor(trainer.model, trainer.device)
    losses, logprobs = final_losses(trainer, predictor)
    mixture = None
    if group.is_main:
        rundir.remove_mixture(spec.run_dir)  # an earlier session's no longer fits these weights
        if spec.train.mix and losses["dev"] is not None and not stopped.interrupted:
            mixture = mix_into_run(trainer, predictor, logprobs)
    # the run's predictor's losses: the mixture's where there is one (test: where there is a test split)
    dev_loss = mixture["dev_loss"]["mixture"] if mixture else losses["dev"]
    test_loss = mixture["test_loss"]["mixture"] if mixture and "test_loss" in mixture else losses["test"]
    result = TrainResult(
        run_dir=spec.run_dir, step=trainer.step, seconds=seconds, setup_seconds=setup_seconds,
        best_step=trainer.state.best_step, train_loss=losses["train"],
        dev_loss=dev_loss, test_loss=test_loss,
        stopped=stopped, epochs=round(trainer.batches.epochs(trainer.step), 2), rank=group.rank,
        model_dev_loss=losses["dev"], model_test_loss=losses["test"], mixture=mixture, why=spec.reasons,
        bits_per_char=per_character(spec.source, {"dev": dev_loss, "test": test_loss}))
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


def mix_into_run(trainer: Trainer, predictor: Predictor, logprobs: dict) -> dict | None:
    """Fit the run's mixture; where it beats the model alone on dev, save it and return its
    report (mix.json: the n-gram model's order, the weights, the dev and test losses).
    `logprobs`: the model's of dev and test where already computed."""
    spec = trainer.spec

    def model_logprobs(name: str) -> np.ndarray:
        if name in logprobs:
            return logprobs[name]
        return predictor.model_logprobs(spec.windows(name, predictor.block_size))

    fitted = predictor.fit_mixture(spec.source, model_logprobs)
    if fitted is None:
        return None
    mixed, report = fitted
    rundir.save_mixture(spec.run_dir, mixed.mixture.ngram, report)
    return report
