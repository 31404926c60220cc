import pickle

import pytest
import torch

from nnlm.errors import NnlmError
from nnlm.models.mlp import MLP, MLPConfig
from nnlm.run import rundir
from nnlm.settings.training import TrainConfig
from nnlm.training.optim import make_optimizer


def test_weights_round_trip_and_metadata(tmp_path):
    model = MLP(MLPConfig(vocab_size=9, block_size=2, n_embd=3, n_hidden=5, direct=True))
    rundir.save_tensors(tmp_path / "m.safetensors", model.state_dict(), {"step": 7, "dev_loss": 1.5})
    tensors, meta = rundir.load_tensors(tmp_path / "m.safetensors")
    assert meta == {"step": 7, "dev_loss": 1.5}
    other = MLP(MLPConfig(vocab_size=9, block_size=2, n_embd=3, n_hidden=5, direct=True))
    rundir.check_state_dict(tmp_path, tensors, other)
    other.load_state_dict(tensors)
    for a, b in zip(model.parameters(), other.parameters(), strict=True):
        assert torch.equal(a, b)


def test_optimizer_state_round_trip(tmp_path):
    torch.manual_seed(0)
    model = MLP(MLPConfig(vocab_size=9, block_size=2, n_embd=3, n_hidden=5))
    opt = make_optimizer(model, TrainConfig(lr=0.01, weight_decay=0.1))
    for _ in range(3):
        opt.zero_grad()
        model(torch.randint(0, 9, (4, 2)), torch.randint(0, 9, (4,)))[1].backward()
        opt.step(0.01)
    rundir.save_tensors(tmp_path / "o.safetensors", opt.state_tensors(), {"t": opt.t})
    loaded, meta = rundir.load_tensors(tmp_path / "o.safetensors")
    opt2 = make_optimizer(MLP(MLPConfig(vocab_size=9, block_size=2, n_embd=3, n_hidden=5)),
                          TrainConfig(lr=0.5))
    opt2.load_state(loaded, meta["t"])
    assert opt2.t == 3 and torch.equal(opt.m, opt2.m) and torch.equal(opt.v, opt2.v)
    assert opt.v.abs().sum() > 0


def test_mismatched_weights_are_refused(tmp_path):
    small = MLP(MLPConfig(vocab_size=9, n_hidden=5))
    big = MLP(MLPConfig(vocab_size=9, n_hidden=6))
    with pytest.raises(NnlmError, match="do not match config.json: hidden.weight has shape"):
        rundir.check_state_dict(tmp_path, small.state_dict(), big)
    with pytest.raises(NnlmError, match="do not match"):
        rundir.check_state_dict(tmp_path, {}, big)


def test_pickle_file_is_never_unpickled(tmp_path):
    """A 'weights' file that would run code under pickle is just an unreadable file."""
    marker = tmp_path / "pwned"

    class Evil:
        def __reduce__(self):
            return (open, (str(marker), "w"))

    path = tmp_path / "model.safetensors"
    path.write_bytes(pickle.dumps({"C.weight": Evil()}))
    with pytest.raises(NnlmError, match="not a readable safetensors"):
        rundir.load_tensors(path)
    assert not marker.exists()


def test_atomic_write_leaves_no_temporary_files(tmp_path):
    rundir.atomic_write(tmp_path / "a.json", b"{}")
    rundir.atomic_write(tmp_path / "a.json", b"[1]")
    assert [p.name for p in tmp_path.iterdir()] == ["a.json"]
    assert (tmp_path / "a.json").read_bytes() == b"[1]"
