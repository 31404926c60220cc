"""The run directory: everything needed to use or resume a model, without pickle.

    config.json              model, training and data settings, format version
    vocab.json               the vocabulary
    splits.json              the train/dev/test items (for marks and --new-only)
    model.safetensors        best-on-dev weights (metadata: step, dev loss)
    checkpoint.safetensors   latest weights, optimizer state, RNG state (for --resume)
    metrics.jsonl            one JSON object per logged step

Every file is written atomically (temporary file, fsync, rename), so whatever moment
the process dies at, each file is either the old or the new version, never half.
Weights are read only with safetensors and metadata only as JSON.
"""

from __future__ import annotations

import json
import os
import tempfile
from pathlib import Path

import torch
from safetensors import SafetensorError
from safetensors.torch import load as st_load
from safetensors.torch import save as st_save

from .errors import NnlmError

FORMAT = "nnlm-run"
FORMAT_VERSION = 1
CONFIG, VOCAB, SPLITS = "config.json", "vocab.json", "splits.json"
MODEL, CHECKPOINT, METRICS = "model.safetensors", "checkpoint.safetensors", "metrics.jsonl"
MAX_JSON_BYTES = 1024**3


def atomic_write(path: Path, data: bytes) -> None:
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
    atomic_write(path, (json.dumps(obj, indent=1, ensure_ascii=False) + "\n").encode())


def read_json(path: Path) -> dict:
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


def check_run_config(run_dir: Path) -> dict:
    """config.json of a run directory, with a clear error if it is not one we can read."""
    run_dir = Path(run_dir)
    if not run_dir.exists():
        raise NnlmError(f"{run_dir}: no such run directory")
    if not run_dir.is_dir():
        raise NnlmError(f"{run_dir}: not a directory (expected an nnlm run directory)")
    config = read_json(run_dir / CONFIG)
    if config.get("format") != FORMAT:
        raise NnlmError(f"{run_dir / CONFIG}: not an nnlm run configuration")
    version = config.get("format_version")
    if not isinstance(version, int):
        raise NnlmError(f"{run_dir / CONFIG}: format_version missing")
    if version > FORMAT_VERSION:
        raise NnlmError(f"{run_dir}: written by a newer nnlm (format {version}; this nnlm reads "
                        f"up to {FORMAT_VERSION}); upgrade nnlm to use it")
    for key in ("model", "train", "data"):
        if not isinstance(config.get(key), dict):
            raise NnlmError(f"{run_dir / CONFIG}: the '{key}' section is missing")
    return config
