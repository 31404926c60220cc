"""A step module (step.py) as an ONNX file, checked by onnxruntime against PyTorch before it is kept."""

from __future__ import annotations

import contextlib
import io
import logging
import warnings
from pathlib import Path

import numpy as np
import torch

from ..errors import Failure, NnlmError
from .step import Step

OPSET = 18  # onnxruntime 1.14 (2023) and later, onnxruntime-web and -mobile read it
TOLERANCE = 1e-4  # the most an output of the file may differ from PyTorch's


def needs(package: str) -> None:
    """NnlmError naming the extra to install where `package` is missing."""
    try:
        __import__(package)
    except ImportError:
        raise NnlmError(f"exporting needs the {package} package: pip install 'nnlm[export]'") from None


def io_names(step: Step) -> tuple[list[str], list[str]]:
    """The graph's input names (ids, then the states) and output names (logits, then the states after)."""
    return ["ids", *(s.name for s in step.states)], ["logits", *(s.output for s in step.states)]


def write_onnx(step: Step, path: Path) -> None:
    """Write `step` as an ONNX graph (opset OPSET) whose batch and length are free (and the
    transformer's cache length), then check it (check_onnx).

    Raises:
        NnlmError: onnx, onnxscript or onnxruntime is not installed.
        Failure: the exporter failed, or its graph disagrees with PyTorch.
    """
    for package in ("onnx", "onnxscript", "onnxruntime"):
        needs(package)
    inputs, outputs = io_names(step)
    options = dict(input_names=inputs, output_names=outputs, opset_version=OPSET, dynamo=step.dynamo)
    if step.dynamo:
        options.update(dynamic_shapes=dynamic_shapes(step), external_data=False, verbose=False)
    else:
        options.update(dynamic_axes=dynamic_axes(step))
    try:
        with torch.no_grad(), quiet():
            torch.onnx.export(step, step.examples(), str(path), **options)
    except Exception as e:  # noqa: BLE001 - the exporters fail in many ways, none the input's fault
        raise Failure(f"the ONNX exporter failed on this {type(step.model).__name__}: "
                      f"{str(e).strip().splitlines()[0][:300]}") from e
    check_onnx(step, path)


def dynamic_shapes(step: Step) -> tuple[dict, ...]:
    """torch.export's free axes: ids (batch, length), and each state's batch (and past) axis."""
    batch, length, past = torch.export.Dim("batch"), torch.export.Dim("length"), torch.export.Dim("past")
    states = tuple({i: batch if size == "batch" else past for i, size in enumerate(s.shape)
                    if size in ("batch", "past")} for s in step.states)
    return ({0: batch, 1: length}, *states)


def dynamic_axes(step: Step) -> dict[str, dict[int, str]]:
    """The TorchScript exporter's free axes, by input and output name."""
    axes = {"ids": {0: "batch", 1: "length"}, "logits": {0: "batch", 1: "length"}}
    for s in step.states:
        axes[s.name] = axes[s.output] = {0: "batch"}
    return axes


@contextlib.contextmanager
def quiet():
    """The exporters' progress lines, warnings and log records kept off the user's screen."""
    loggers = [logging.getLogger(name) for name in ("torch.onnx", "torch.export", "torch._export")]
    levels = [logger.level for logger in loggers]
    with warnings.catch_warnings(), contextlib.redirect_stdout(io.StringIO()):
        warnings.simplefilter("ignore")
        for logger in loggers:
            logger.setLevel(logging.ERROR)
        try:
            yield
        finally:
            for logger, level in zip(loggers, levels, strict=True):
                logger.setLevel(level)


def difference(got: np.ndarray, expected: np.ndarray) -> float:
    """The largest difference of two arrays, where equal infinities (a labelled run's label logits,
    -inf in both) differ by nothing."""
    if not expected.size:
        return 0.0
    same = np.isinf(expected) & (got == expected)
    with np.errstate(invalid="ignore"):  # (inf - inf, where `same` puts 0)
        return float(np.where(same, 0.0, np.abs(got - expected)).max())


def check_onnx(step: Step, path: Path) -> None:
    """Run the file in onnxruntime on sizes it was not traced with (3 rows: 4 ids from the empty
    state, then 1 more) and compare every output with PyTorch's.

    Raises:
        Failure: an output differs by more than TOLERANCE.
    """
    import onnxruntime

    session = onnxruntime.InferenceSession(str(path), providers=["CPUExecutionProvider"])
    inputs, _ = io_names(step)
    room = step.max_positions or 5  # the tokens the state may hold
    lengths = [max(1, min(4, room - 1)), 1][:2 if room > 1 else 1]
    feed = step.examples(batch=3, past=0)
    for length in lengths:
        feed = (step.examples(batch=3, length=length, seed=length)[0], *feed[1:])
        with torch.no_grad():
            expected = [t.numpy() for t in step(*feed)]
        got = session.run(None, {name: t.numpy() for name, t in zip(inputs, feed, strict=True)})
        worst = max(difference(g, e) for g, e in zip(got, expected, strict=True))
        if not worst <= TOLERANCE:
            raise Failure(f"the exported ONNX graph differs from the model by {worst:.2g} (more than "
                          f"{TOLERANCE:g}): a fault of the exporter, please report it")
        feed = (None, *(torch.from_numpy(s) for s in got[1:]))
