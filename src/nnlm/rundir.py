"""Creating, opening and locking run directories."""

from __future__ import annotations

import contextlib
import fcntl
import os
from dataclasses import dataclass, field, fields, replace
from pathlib import Path

from . import __version__
from . import checkpoint as ckpt
from .config import (DataConfig, TrainConfig, check_types, preset_settings, split_settings,
                     to_json)
from .data import Split, Vocab, Windows, bundled_names_path, read_items, split_items
from .errors import NnlmError
from .model import ModelConfig
from .words import WordSplit, read_corpus, split_corpus, vocab_from_json

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
    split: Split | None  # character level; word level re-reads its data (word_split)
    preset: str
    words: WordSplit | None = field(default=None, repr=False)

    @property
    def word_level(self) -> bool:
        return self.data.level == "word"

    def word_split(self) -> WordSplit:
        if self.words is None:
            self.words = load_word_split(self.data, self.vocab)
        return self.words

    def windows(self, name: str, block_size: int | None = None):
        """The examples of split `name` ("train", "dev" or "test"), contexts of the model's
        block size or `block_size`."""
        if self.word_level:
            return self.word_split().windows(name, block_size or self.model.block_size)
        return Windows(getattr(self.split, name), self.vocab, block_size or self.model.block_size)

    def config_json(self) -> dict:
        sizes = ({"tokens": self.word_split().tokens()} if self.word_level else
                 {"items": {k: len(v) for k, v in self.split.to_json().items()}})
        return {"format": ckpt.FORMAT, "format_version": ckpt.FORMAT_VERSION,
                "nnlm_version": __version__, "preset": self.preset,
                "model": self.model.to_json(), "train": to_json(self.train),
                "data": {**to_json(self.data), **sizes}}


@dataclass
class DataSet:
    """A data file read and split as a DataConfig says, without a run directory."""

    data: DataConfig
    vocab: Vocab
    split: Split | None
    words: WordSplit | None

    def windows(self, name: str, block_size: int):
        if self.words is not None:
            return self.words.windows(name, block_size)
        return Windows(getattr(self.split, name), self.vocab, block_size)


def read_dataset(data: str | None, cfg: DataConfig) -> DataSet:
    """Read DATA (default: the bundled names) and split it; cfg.path/sha256 filled in."""
    cfg.validate()
    if cfg.level == "word" and not data:
        raise NnlmError("--level word needs a DATA file (the bundled names are characters)")
    data_path = Path(data) if data else bundled_names_path()
    cfg = replace(cfg, path=str(data_path.resolve()) if data else "")
    if cfg.level == "word":
        vocab, words, sha = word_data(data_path, cfg)
        return DataSet(replace(cfg, sha256=sha), vocab, None, words)
    split = split_items(read_items(data_path), cfg.split_seed, cfg.split, cfg.dedupe)
    return DataSet(cfg, Vocab.from_items(split.train), split, None)


def word_data(data_path: Path, cfg: DataConfig):
    """Read and split a word-level corpus as `cfg` says: (vocab, WordSplit, sha256)."""
    corpus = read_corpus(data_path, cfg.lowercase)
    vocab, split = split_corpus(corpus, mode=cfg.word_mode, min_count=cfg.min_count,
                                vocab_from=cfg.vocab_from, split_tokens=tuple(cfg.split_tokens),
                                seed=cfg.split_seed, fractions=tuple(cfg.split), dedupe=cfg.dedupe,
                                lowercase=cfg.lowercase)
    return vocab, split, corpus.sha256


def load_word_split(cfg: DataConfig, vocab) -> WordSplit:
    """Re-read a word-level run's data file and split it again, checking it is the same."""
    path = Path(cfg.path)
    if not path.exists():
        raise NnlmError(f"{path}: the run's data file is gone (word-level runs re-read it)")
    new_vocab, split, sha = word_data(path, cfg)
    if sha != cfg.sha256 or new_vocab != vocab:
        raise NnlmError(f"{path}: changed since the run was trained (sha256 differs)")
    return split


def default_run_dir(data_path: Path) -> Path:
    """runs/<data name>, or runs/<data name>-2, -3... so nothing is overwritten."""
    base = Path("runs") / data_path.stem
    candidate, n = base, 1
    while candidate.exists():
        n += 1
        candidate = base.with_name(f"{base.name}-{n}")
    return candidate


def build_configs(data: str | None, preset: str, settings: dict,
                  data_config: DataConfig) -> tuple[ModelConfig, TrainConfig, DataSet]:
    """The preset overridden by `settings` (None: keep the preset's), and the data read
    and split; the model's vocabulary size comes from the data."""
    merged = {**preset_settings(preset), **{k: v for k, v in settings.items() if v is not None}}
    model_settings, train_cfg = split_settings(merged)
    ds = read_dataset(data, data_config)
    model_cfg = ModelConfig(vocab_size=len(ds.vocab), **model_settings)
    model_cfg.validate()
    return model_cfg, train_cfg, ds


def new_run(data: str | None, out: str | None, preset: str, settings: dict,
            data_config: DataConfig, overwrite: bool = False, claim: bool = True) -> RunSpec:
    """Read and split the data, build the configs, and (if `claim`) an empty run directory."""
    model_cfg, train_cfg, ds = build_configs(data, preset, settings, data_config)
    if not out and not claim:
        raise NnlmError("several processes need an explicit --out run directory")
    run_dir = Path(out) if out else default_run_dir(Path(data) if data else bundled_names_path())
    if claim:
        prepare_empty_dir(run_dir, overwrite)
    return RunSpec(run_dir, model_cfg, train_cfg, ds.data, ds.vocab, ds.split, preset, ds.words)


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
    run_dir.mkdir(parents=True, exist_ok=True)


def write_spec(spec: RunSpec) -> None:
    """A new run's files, replacing an earlier run's (--overwrite): call it holding the run's
    lock, so no other process's run is deleted. Vocabulary and splits first, config.json
    last: a directory with a config is whole."""
    for name in RUN_FILES:
        (spec.run_dir / name).unlink(missing_ok=True)
    ckpt.write_json(spec.run_dir / ckpt.VOCAB, spec.vocab.to_json())
    if spec.split is not None:  # word level: config.json names the data file and its sha256
        ckpt.write_json(spec.run_dir / ckpt.SPLITS, spec.split.to_json())
    ckpt.write_json(spec.run_dir / ckpt.CONFIG, spec.config_json())


def load_spec(run_dir: str | Path, overrides: dict | None = None) -> RunSpec:
    """The RunSpec saved in a run directory; `overrides` may change RESUMABLE settings."""
    run_dir = Path(run_dir)
    config = ckpt.check_run_config(run_dir)
    vocab = vocab_from_json(ckpt.read_json(run_dir / ckpt.VOCAB))
    split = None if config["data"].get("level") == "word" else load_split(run_dir)
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
    data_cfg.split, data_cfg.split_tokens = tuple(data_cfg.split), tuple(data_cfg.split_tokens)
    return RunSpec(run_dir, model_cfg, train_cfg, data_cfg, vocab, split, config.get("preset", ""))


def load_split(run_dir: Path) -> Split:
    splits = ckpt.read_json(run_dir / ckpt.SPLITS)
    if not all(isinstance(splits.get(k), list) and all(isinstance(x, str) for x in splits[k])
               for k in ("train", "dev", "test")):
        raise NnlmError(f"{run_dir / ckpt.SPLITS}: expected train, dev and test lists of strings")
    return Split(splits["train"], splits["dev"], splits["test"])


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
