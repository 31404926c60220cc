"""The training log: metrics.jsonl always, TensorBoard when it is installed."""

from __future__ import annotations

import json
from pathlib import Path

from ..errors import NnlmError, where
from ..run import rundir

TENSORBOARD_TAGS = {"train_loss": "loss/train", "dev_loss": "loss/dev", "lr": "lr"}


class MetricsLog:
    """Appends one JSON object per record to RUN_DIR/metrics.jsonl, first dropping lines
    past `step` (a resumed run continues from its checkpoint, as if never interrupted)."""

    def __init__(self, run_dir: Path, step: int, tensorboard: bool = False):
        path = Path(run_dir) / rundir.METRICS
        lines = path.read_text().splitlines() if path.exists() else []
        kept = [ln for ln in lines if _line_step(ln) is not None and _line_step(ln) <= step]
        if len(kept) != len(lines):
            rundir.atomic_write(path, "".join(ln + "\n" for ln in kept).encode())
        # line-buffered: a killed run's log shows how far it got past its last checkpoint
        self.file = open(path, "a", encoding="utf-8", buffering=1)  # noqa: SIM115
        self.tensorboard = tensorboard_writer(run_dir, step) if tensorboard else None

    def log(self, record: dict) -> None:
        """Append one record (and its scalars to TensorBoard)."""
        self.file.write(json.dumps(record) + "\n")
        if self.tensorboard:
            for key, tag in TENSORBOARD_TAGS.items():
                if key in record:
                    self.tensorboard.add_scalar(tag, record[key], record["step"])

    def close(self) -> None:
        """Close the log's files."""
        self.file.close()
        if self.tensorboard:
            self.tensorboard.close()


def _line_step(line: str) -> int | None:
    try:
        return int(json.loads(line)["step"])
    except (ValueError, KeyError, TypeError):
        return None


def tensorboard_writer(run_dir: Path, step: int):
    """A SummaryWriter on run_dir/tb (the tensorboard package is an optional extra).

    purge_step: a resumed run's events past its checkpoint are hidden, as in metrics.jsonl.
    """
    try:
        from torch.utils.tensorboard import SummaryWriter
    except ImportError:
        raise NnlmError("tensorboard=True needs the tensorboard package: pip install 'nnlm[tensorboard]'",
                        cli="--tensorboard needs the tensorboard package: "
                        "pip install 'nnlm[tensorboard]'") from None
    return SummaryWriter(str(Path(run_dir) / "tb"), purge_step=step or None)


def read_metrics(run_dir: Path) -> tuple[list[dict], list[dict]]:
    """metrics.jsonl of a run as (train lines, dev lines), each sorted by step."""
    path = Path(run_dir) / rundir.METRICS
    if not path.is_file():
        raise NnlmError(f"{path}: missing (the run has logged nothing yet)")
    train, dev = [], []
    for n, line in enumerate(path.read_text(encoding="utf-8").splitlines(), 1):
        if not line.strip():
            continue
        try:
            record = json.loads(line)
        except json.JSONDecodeError:
            raise NnlmError(f"{where(path, n)}: not valid JSON") from None
        if "train_loss" in record:
            train.append(record)
        elif "dev_loss" in record:
            dev.append(record)
    return sorted(train, key=lambda r: r["step"]), sorted(dev, key=lambda r: r["step"])
