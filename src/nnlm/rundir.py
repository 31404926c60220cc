"""Creating, opening and locking run directories."""

from __future__ import annotations

import contextlib
import fcntl
import os
from dataclasses import dataclass, fields, replace
from pathlib import Path

from . import __version__
from . import checkpoint as ckpt
from .config import (DataConfig, TrainConfig, check_types, preset_settings, split_settings,
                     to_json)
from .data import Split, Vocab, bundled_names_path, read_items, split_items
from .errors import NnlmError
from .model import ModelConfig

RUN_FILES = (ckpt.CONFIG, ckpt.VOCAB, ckpt.SPLITS, ckpt.MODEL, ckpt.CHECKPOINT, ckpt.METRICS,
             "summary.json")
LOCK = ".lock"
# settings a resumed run may change; everything else is fixed by config.json
RESUMABLE = ("steps", "max_seconds", "device", "eval_interval", "log_interval")


@dataclass
class RunSpec:
    run_dir: Path
    model: ModelConfig
    train: TrainConfig
    data: DataConfig
    vocab: Vocab
    split: Split
    preset: str

    def config_json(self) -> dict:
        return {"format": ckpt.FORMAT, "format_version": ckpt.FORMAT_VERSION,
                "nnlm_version": __version__, "preset": self.preset,
                "model": self.model.to_json(), "train": to_json(self.train),
                "data": {**to_json(self.data), "level": "char",
                         "items": {k: len(v) for k, v in self.split.to_json().items()}}}


def default_run_dir(data_path: Path) -> Path:
    """runs/<data name>, or runs/<data name>-2, -3... so nothing is overwritten."""
    base = Path("runs") / data_path.stem
    candidate, n = base, 1
    while candidate.exists():
        n += 1
        candidate = base.with_name(f"{base.name}-{n}")
    return candidate


def new_run(data: str | None, out: str | None, preset: str, settings: dict,
            data_config: DataConfig, overwrite: bool = False, claim: bool = True) -> RunSpec:
    """Read and split the data, build the configs, and (if `claim`) an empty run directory."""
    merged = {**preset_settings(preset), **{k: v for k, v in settings.items() if v is not None}}
    model_settings, train_cfg = split_settings(merged)
    data_path = Path(data) if data else bundled_names_path()
    items = read_items(data_path)
    split = split_items(items, data_config.split_seed, data_config.split, data_config.dedupe)
    vocab = Vocab.from_items(split.train)
    model_cfg = ModelConfig(vocab_size=len(vocab), **model_settings)
    model_cfg.validate()
    if not out and not claim:
        raise NnlmError("several processes need an explicit --out run directory")
    run_dir = Path(out) if out else default_run_dir(data_path)
    if claim:
        prepare_empty_dir(run_dir, overwrite)
    data_cfg = replace(data_config, path=str(data_path.resolve()) if data else "")
    return RunSpec(run_dir, model_cfg, train_cfg, data_cfg, vocab, split, preset)


def prepare_empty_dir(run_dir: Path, overwrite: bool) -> None:
    if run_dir.exists() and not run_dir.is_dir():
        raise NnlmError(f"{run_dir}: exists and is not a directory")
    if run_dir.is_dir() and any(run_dir.iterdir()):
        if not (run_dir / ckpt.CONFIG).exists():
            raise NnlmError(f"{run_dir}: exists, is not empty and is not an nnlm run; "
                            "choose another --out")
        if not overwrite:
            raise NnlmError(f"{run_dir}: already holds a run; pass --resume to continue it "
                            "or --overwrite to start over")
        for name in RUN_FILES:
            (run_dir / name).unlink(missing_ok=True)
    run_dir.mkdir(parents=True, exist_ok=True)


def write_spec(spec: RunSpec) -> None:
    """Vocabulary and splits first, config.json last: a directory with a config is whole."""
    ckpt.write_json(spec.run_dir / ckpt.VOCAB, spec.vocab.to_json())
    ckpt.write_json(spec.run_dir / ckpt.SPLITS, spec.split.to_json())
    ckpt.write_json(spec.run_dir / ckpt.CONFIG, spec.config_json())


def load_spec(run_dir: str | Path, overrides: dict | None = None) -> RunSpec:
    """The RunSpec saved in a run directory; `overrides` may change RESUMABLE settings."""
    run_dir = Path(run_dir)
    config = ckpt.check_run_config(run_dir)
    vocab = Vocab.from_json(ckpt.read_json(run_dir / ckpt.VOCAB))
    splits = ckpt.read_json(run_dir / ckpt.SPLITS)
    if not all(isinstance(splits.get(k), list) for k in ("train", "dev", "test")):
        raise NnlmError(f"{run_dir / ckpt.SPLITS}: expected train, dev and test lists")
    split = Split(splits["train"], splits["dev"], splits["test"])
    try:
        model_cfg = ModelConfig.from_json(config["model"])
        train_cfg = TrainConfig(**_known(TrainConfig, config["train"]))
        data_cfg = DataConfig(**_known(DataConfig, config["data"]))
    except (TypeError, ValueError) as e:
        raise NnlmError(f"{run_dir / ckpt.CONFIG}: bad settings ({e})") from None
    check_types(train_cfg, f"{run_dir / ckpt.CONFIG} train")
    check_types(data_cfg, f"{run_dir / ckpt.CONFIG} data")
    if model_cfg.vocab_size != len(vocab):
        raise NnlmError(f"{run_dir}: config.json has vocab_size {model_cfg.vocab_size} but "
                        f"vocab.json has {len(vocab)} tokens")
    for key, value in (overrides or {}).items():
        if value is not None:
            if key not in RESUMABLE:
                raise NnlmError(f"--{key.replace('_', '-')} cannot change when resuming "
                                f"(only {', '.join('--' + k.replace('_', '-') for k in RESUMABLE)})")
            setattr(train_cfg, key, value)
    train_cfg.validate()
    data_cfg.split = tuple(data_cfg.split)
    return RunSpec(run_dir, model_cfg, train_cfg, data_cfg, vocab, split, config.get("preset", ""))


def _known(cls, obj: dict) -> dict:
    names = {f.name for f in fields(cls)}
    return {k: v for k, v in obj.items() if k in names}


@contextlib.contextmanager
def locked(run_dir: Path):
    """Hold an exclusive lock on the run directory; a second trainer is refused."""
    path = Path(run_dir) / LOCK
    fd = os.open(path, os.O_RDWR | os.O_CREAT, 0o644)
    try:
        try:
            fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            holder = os.read(fd, 32).decode(errors="replace").strip() or "another process"
            raise NnlmError(f"{run_dir}: another training (pid {holder}) is using this run "
                            "directory") from None
        os.ftruncate(fd, 0)
        os.write(fd, str(os.getpid()).encode())
        yield
    finally:
        os.close(fd)
