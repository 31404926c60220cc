"""The run directory: everything needed to use or resume a model, without pickle.

    config.json              format version, model family and settings, training and data
                             settings, and what the data source keeps (sizes, file hashes)
    vocab.json               the vocabulary
    splits.json              a list's train/dev/test items (novelty marks, --new-only)
    tokenizer.json           --tokens bpe: the tokenizer (its SHA-256 in vocab.json)
    model.safetensors        best-on-dev weights (metadata: step, dev loss)
    checkpoint.safetensors   latest weights, optimizer state, RNG state (for --resume)
    metrics.jsonl            one JSON object per logged step
    summary.json             how training ended and the losses of the best weights
    ngram.safetensors        the Kneser-Ney model mixed with the model, where the mixture is
    mix.json                 better on dev: its order, the weights, the losses (written last)
    .lock                    held while a process trains the run (a second one is refused)
    input.txt                the data, where it came from standard input (`nnlm train -`)
    tb/                      TensorBoard event files (--tensorboard)
    loss_curve.png, embedding_map.png, activations.png    nnlm plot's pictures

Every file is written atomically (temporary file, fsync, rename), so whatever moment the
process dies at, each file is either the old or the new version, never half. Weights are
read only with safetensors and metadata only as JSON. This module is the only one that
knows these names and layouts; runs written in formats 1 to 3 are read too (upgrade.py).
"""

from __future__ import annotations

import contextlib
import json
import os
import tempfile
from pathlib import Path

import filelock
import torch
from safetensors import SafetensorError
from safetensors.torch import load as st_load
from safetensors.torch import save as st_save

from ..version import __version__
from ..data.base import Stored
from ..data.sources import SOURCES, vocab_from_json
from ..errors import NnlmError
from ..models import FAMILIES
from ..settings import from_json, to_json
from ..settings.data import DataConfig
from ..settings.partition import partition
from ..settings.training import TrainConfig
from .spec import RunSpec
from .upgrade import upgrade

FORMAT = "nnlm-run"
FORMAT_VERSION = 4
CONFIG, VOCAB, MODEL, CHECKPOINT = "config.json", "vocab.json", "model.safetensors", "checkpoint.safetensors"
METRICS, SUMMARY, LOCK = "metrics.jsonl", "summary.json", ".lock"
INPUT = "input.txt"  # the data, where it came from standard input (nnlm train -)
NGRAM, MIX = "ngram.safetensors", "mix.json"  # the n-gram model mixed in, and how
# what a source keeps beside config.json, by the role it names (data.base.Source.files)
SOURCE_FILES = {"splits": "splits.json", "tokenizer": "tokenizer.json"}
RUN_FILES = (CONFIG, VOCAB, MODEL, CHECKPOINT, METRICS, SUMMARY, NGRAM, MIX, *SOURCE_FILES.values())
PICTURES = ("loss_curve", "embedding_map", "activations")  # nnlm plot's, <name>.png
MAX_JSON_BYTES = 1024**3


def picture_path(run_dir: Path, name: str) -> Path:
    """Where a run keeps its picture `name` (one of PICTURES)."""
    if name not in PICTURES:
        raise NnlmError(f"no run picture named {name!r} (choose from {', '.join(PICTURES)})")
    return Path(run_dir) / f"{name}.png"


# -- files, written atomically -----------------------------------------------------------

def atomic_write(path: Path, data: bytes) -> None:
    """Write `data` to `path` atomically: a temporary file, fsync, rename (then fsync the folder)."""
    path = Path(path)
    fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}.", suffix=".tmp")
    try:
        with os.fdopen(fd, "wb") as f:
            f.write(data)
            f.flush()
            os.fsync(f.fileno())
        os.replace(tmp, path)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise
    _fsync_dir(path.parent)


def _fsync_dir(directory: Path) -> None:
    try:
        fd = os.open(directory, os.O_RDONLY)
    except OSError:
        return
    try:
        os.fsync(fd)
    except OSError:
        pass
    finally:
        os.close(fd)


def write_json(path: Path, obj) -> None:
    """`obj` as indented UTF-8 JSON, atomically."""
    atomic_write(path, (json.dumps(obj, indent=1, ensure_ascii=False) + "\n").encode())


def read_json(path: Path) -> dict:
    """A JSON object from `path`; NnlmError naming the file where it is missing, too large or not
    an object."""
    path = Path(path)
    if not path.is_file():
        raise NnlmError(f"{path}: missing (not a complete nnlm run directory)")
    if path.stat().st_size > MAX_JSON_BYTES:
        raise NnlmError(f"{path}: too large to be nnlm metadata")
    try:
        obj = json.loads(path.read_text(encoding="utf-8"))
    except (UnicodeDecodeError, json.JSONDecodeError) as e:
        raise NnlmError(f"{path}: not valid JSON ({e})") from None
    if not isinstance(obj, dict):
        raise NnlmError(f"{path}: expected a JSON object")
    return obj


def save_tensors(path: Path, tensors: dict[str, torch.Tensor], metadata: dict) -> None:
    """Tensors as safetensors; `metadata` (any JSON) rides in the header."""
    tensors = {k: v.detach().contiguous().cpu() for k, v in tensors.items()}
    atomic_write(path, st_save(tensors, metadata={"nnlm": json.dumps(metadata)}))


def load_tensors(path: Path) -> tuple[dict[str, torch.Tensor], dict]:
    """(tensors, nnlm metadata) of a safetensors file; NnlmError where it is missing or unreadable."""
    path = Path(path)
    if not path.is_file():
        raise NnlmError(f"{path}: missing (not a complete nnlm run directory)")
    try:
        data = path.read_bytes()
        tensors = st_load(data)
        header_len = int.from_bytes(data[:8], "little")
        header = json.loads(data[8:8 + header_len])
        metadata = json.loads(header.get("__metadata__", {}).get("nnlm", "{}"))
    except (SafetensorError, ValueError, OSError) as e:
        raise NnlmError(f"{path}: not a readable safetensors file ({e})") from None
    if not isinstance(metadata, dict):
        raise NnlmError(f"{path}: bad nnlm metadata in the header")
    return tensors, metadata


def check_state_dict(path: Path, tensors: dict[str, torch.Tensor], model: torch.nn.Module) -> None:
    """The file's tensor names and shapes must be exactly the model's."""
    expected = model.state_dict()
    missing = sorted(set(expected) - set(tensors))
    extra = sorted(set(tensors) - set(expected))
    if missing or extra:
        raise NnlmError(f"{path}: weights do not match config.json "
                        f"(missing {missing[:3]}, unexpected {extra[:3]})")
    for name, t in expected.items():
        if tuple(tensors[name].shape) != tuple(t.shape):
            raise NnlmError(f"{path}: weights do not match config.json: {name} has shape "
                            f"{tuple(tensors[name].shape)}, the config implies {tuple(t.shape)}")
        if tensors[name].dtype != t.dtype:
            raise NnlmError(f"{path}: {name} is {tensors[name].dtype}, expected {t.dtype}")


# -- weights, checkpoints, summaries -----------------------------------------------------

def best_weights_path(run_dir: Path) -> Path:
    """Where a run keeps its best-on-dev weights."""
    return Path(run_dir) / MODEL


def save_best(run_dir: Path, model: torch.nn.Module, step: int, dev_loss: float) -> None:
    """The best-on-dev weights, with their step and dev loss."""
    save_tensors(Path(run_dir) / MODEL, model.state_dict(), {"step": step, "dev_loss": dev_loss})


def load_weights(run_dir: Path, model: torch.nn.Module, which: str = "best") -> dict:
    """Load the best-on-dev ("best") or the latest ("last") weights into `model`; returns the
    file's metadata."""
    if which not in ("best", "last"):
        raise NnlmError(f"weights must be 'best' or 'last', got {which!r}")
    if which == "best":
        path = Path(run_dir) / MODEL
        tensors, meta = load_tensors(path)
    else:
        path = Path(run_dir) / CHECKPOINT
        everything, meta = load_tensors(path)
        tensors, _ = split_checkpoint(everything)
    check_state_dict(path, tensors, model)
    model.load_state_dict(tensors)
    return meta


WEIGHTS_PREFIX = "model."  # a checkpoint's weights, beside the optimizer's and RNG's tensors


def save_checkpoint(run_dir: Path, model: torch.nn.Module, state: dict[str, torch.Tensor],
                    meta: dict) -> None:
    """The latest weights, with the optimizer's and RNG's tensors `state` and the loop's `meta`."""
    tensors = {WEIGHTS_PREFIX + k: v for k, v in model.state_dict().items()} | state
    save_tensors(Path(run_dir) / CHECKPOINT, tensors, meta)


def split_checkpoint(tensors: dict[str, torch.Tensor]) -> tuple[dict, dict]:
    """A checkpoint's tensors as (the model's weights, the rest)."""
    weights = {k[len(WEIGHTS_PREFIX):]: v for k, v in tensors.items() if k.startswith(WEIGHTS_PREFIX)}
    return weights, {k: v for k, v in tensors.items() if not k.startswith(WEIGHTS_PREFIX)}


def read_checkpoint(run_dir: Path, model: torch.nn.Module) -> tuple[dict, dict] | None:
    """Load the checkpoint's weights into `model`; (its other tensors, its meta), or None when
    the run died before its first checkpoint."""
    path = Path(run_dir) / CHECKPOINT
    if not path.exists():
        return None
    tensors, meta = load_tensors(path)
    weights, rest = split_checkpoint(tensors)
    check_state_dict(path, weights, model)
    model.load_state_dict(weights)
    return rest, meta


def save_mixture(run_dir: Path, ngram_model, mix: dict) -> None:
    """The Kneser-Ney model mixed with the run's model, and mix.json (weights, order, losses);
    mix.json last, so a directory with it has both."""
    arrays, meta = ngram_model.to_arrays()
    save_tensors(Path(run_dir) / NGRAM, {k: torch.from_numpy(v) for k, v in arrays.items()}, meta)
    write_json(Path(run_dir) / MIX, mix)


def remove_mixture(run_dir: Path) -> None:
    """Forget the run's mixture (mix.json first: without it the n-gram file is never read)."""
    for name in (MIX, NGRAM):  # mix.json first: without it the n-gram file is never read
        (Path(run_dir) / name).unlink(missing_ok=True)


def load_mixture(run_dir: Path):
    """(Kneser-Ney model, mix.json) of a run whose predictor is a mixture, else None."""
    from ..ngram.counts import KneserNey

    if not (Path(run_dir) / MIX).exists():
        return None
    mix = read_json(Path(run_dir) / MIX)
    tensors, meta = load_tensors(Path(run_dir) / NGRAM)
    try:
        model = KneserNey.from_arrays({k: v.numpy() for k, v in tensors.items()}, meta)
        weight = float(mix["weight"])
    except (NnlmError, KeyError, TypeError, ValueError) as e:
        raise NnlmError(f"{Path(run_dir) / MIX}: not a usable mixture ({e})") from None
    if not 0 <= weight <= 1:
        raise NnlmError(f"{Path(run_dir) / MIX}: weight {weight} is not in [0, 1]")
    return model, mix


def write_summary(run_dir: Path, summary: dict) -> None:
    """summary.json: how training ended and the losses of the best weights."""
    write_json(Path(run_dir) / SUMMARY, summary)


def read_summary(run_dir: Path) -> dict:
    """summary.json of a run; NnlmError where it has none (a run still training)."""
    return read_json(Path(run_dir) / SUMMARY)


# -- config.json -------------------------------------------------------------------------

def config_json(spec: RunSpec) -> dict:
    """config.json of a spec: the format, the versions, and every setting."""
    return {"format": FORMAT, "format_version": FORMAT_VERSION, "nnlm_version": __version__,
            "preset": spec.preset, "model": {"family": spec.family.name, **to_json(spec.model_config)},
            "train": to_json(spec.train), "data": to_json(spec.data),
            "source": spec.source.state_json(), "why": spec.why, "notes": spec.notes}


def read_config(run_dir: Path) -> dict:
    """config.json of a run directory, checked and brought up to the current format."""
    run_dir = Path(run_dir)
    if not run_dir.exists():
        raise NnlmError(f"{run_dir}: no such run directory")
    if not run_dir.is_dir():
        raise NnlmError(f"{run_dir}: not a directory (expected an nnlm run directory)")
    config = read_json(run_dir / CONFIG)
    if config.get("format") != FORMAT:
        raise NnlmError(f"{run_dir / CONFIG}: not an nnlm run configuration")
    version = config.get("format_version")
    if not isinstance(version, int) or isinstance(version, bool) or version < 1:
        raise NnlmError(f"{run_dir / CONFIG}: format_version missing")
    if version > FORMAT_VERSION:
        raise NnlmError(f"{run_dir}: written by a newer nnlm (format {version}; this nnlm reads "
                        f"up to {FORMAT_VERSION}); upgrade nnlm to use it")
    for key in ("model", "train", "data"):
        if not isinstance(config.get(key), dict):
            raise NnlmError(f"{run_dir / CONFIG}: the '{key}' section is missing")
    return upgrade(config, version)


def write_spec(spec: RunSpec) -> None:
    """A new run's files, replacing an earlier run's (--overwrite): call it holding the run's
    lock, so no other process's run is deleted. Vocabulary and the source's files first,
    config.json last: a directory with a config is whole."""
    for name in RUN_FILES:
        (spec.run_dir / name).unlink(missing_ok=True)
    write_json(spec.run_dir / VOCAB, spec.vocab.to_json())
    for role, obj in spec.source.files().items():
        write_json(spec.run_dir / SOURCE_FILES[role], obj)
    write_json(spec.run_dir / CONFIG, config_json(spec))


def load_spec(run_dir: str | Path, overrides: dict | None = None) -> RunSpec:
    """The RunSpec saved in a run directory; `overrides` may change resumable settings."""
    run_dir = Path(run_dir)
    config = read_config(run_dir)
    where = run_dir / CONFIG
    model_json = dict(config["model"])
    name = model_json.pop("family", None)
    if name not in FAMILIES:
        raise NnlmError(f"{where}: unknown model family {name!r}")
    fam = FAMILIES[name]
    model_cfg = from_json(fam.config, model_json, f"{where} model")
    train_cfg = from_json(TrainConfig, config["train"], f"{where} train", strict=False)
    data_cfg = from_json(DataConfig, config["data"], f"{where} data", strict=False)
    model_cfg.validate()
    apply_overrides(fam, train_cfg, overrides or {})
    source = load_source(run_dir, data_cfg, config.get("source"))
    if (model_cfg.vocab_size, model_cfg.labels) != (source.id_count(), len(source.labels)):
        raise NnlmError(f"{run_dir}: config.json has vocab_size {model_cfg.vocab_size} and "
                        f"{model_cfg.labels} labels but vocab.json has {len(source.vocab)} tokens and the "
                        f"data {len(source.labels)} labels")
    why, notes = (lines_of(config.get(key)) for key in ("why", "notes"))
    return RunSpec(run_dir, fam, model_cfg, train_cfg, data_cfg, source, str(config.get("preset", "")), why,
                   notes)


def lines_of(value) -> list[str]:
    """A list of lines from config.json (formats before 3's notes: none; what is not one: none)."""
    return value if isinstance(value, list) and all(isinstance(w, str) for w in value) else []


def apply_overrides(spec_family, train_cfg: TrainConfig, overrides: dict) -> None:
    """Settings given to a resumed run: only those that may change then (see partition)."""
    for key, value in partition(overrides, spec_family, FAMILIES.values(), resuming=True).train.items():
        setattr(train_cfg, key, value)
    train_cfg.validate()


def load_source(run_dir: Path, data_cfg: DataConfig, state):
    """The data source of a run directory: config.json's 'source' section (`state`, its "kind"
    the source's name in SOURCES), the vocabulary and the files the source keeps."""
    if not isinstance(state, dict) or state.get("kind") not in SOURCES:
        raise NnlmError(f"{run_dir / CONFIG}: the 'source' section is missing or unknown")
    names = {**SOURCE_FILES, "config": CONFIG}
    stored = Stored({role: read_json(run_dir / name) for role, name in SOURCE_FILES.items()
                     if (run_dir / name).exists()}, lambda role: str(run_dir / names[role]))
    vocab = vocab_from_json(read_json(run_dir / VOCAB), stored)
    return SOURCES[state["kind"]].load(data_cfg, vocab, state, stored)


# -- creating and locking ----------------------------------------------------------------

def prepare_empty_dir(run_dir: Path, overwrite: bool) -> None:
    """Make `run_dir` ready for a new run: missing or empty (its data from standard input
    only), or, with `overwrite`, holding an earlier run. NnlmError otherwise."""
    if run_dir.exists() and not run_dir.is_dir():
        raise NnlmError(f"{run_dir}: exists and is not a directory")
    if run_dir.is_dir() and any(p.name != INPUT for p in run_dir.iterdir()):
        if not (run_dir / CONFIG).exists():
            what = f"{run_dir}: exists, is not empty and is not an nnlm run; choose another"
            raise NnlmError(f"{what} out", cli=f"{what} --out")
        if not overwrite:
            raise NnlmError(f"{run_dir}: already holds a run; pass resume=True to continue it or "
                            "overwrite=True to start over", cli=f"{run_dir}: already holds a run; pass "
                            "--resume to continue it or --overwrite to start over")
    run_dir.mkdir(parents=True, exist_ok=True)


def keep_input(run_dir: Path, data: bytes) -> Path:
    """Keep data read from standard input in a new run's directory (INPUT), the file the run
    reads and, for running text and words, reads again later; returns its path."""
    run_dir = Path(run_dir)
    run_dir.mkdir(parents=True, exist_ok=True)
    atomic_write(run_dir / INPUT, data)
    return run_dir / INPUT


def is_training(run_dir: Path) -> bool:
    """Whether a process holds the run's lock (it is training now)."""
    try:
        with locked(run_dir):
            return False
    except NnlmError:
        return True


@contextlib.contextmanager
def locked(run_dir: Path):
    """Hold an exclusive lock on the run directory (a `filelock` lock, on any OS); a second
    trainer is refused with an NnlmError."""
    lock = filelock.FileLock(Path(run_dir) / LOCK, timeout=0)
    try:
        lock.acquire()
    except filelock.Timeout:
        raise NnlmError(f"{run_dir}: another training is using this run directory (it holds "
                        f"{Path(run_dir) / LOCK})") from None
    try:
        yield
    finally:
        lock.release()
