import os

import pytest

from nnlm.data import bundled_names_path, read_items


@pytest.fixture(scope="session")
def names():
    return read_items(bundled_names_path())


@pytest.fixture
def tiny_file(tmp_path, names):
    """300 real names: enough for a split, small enough to train in a second."""
    path = tmp_path / "tiny.txt"
    path.write_text("\n".join(names[:300]) + "\n")
    return path


TINY_SETTINGS = dict(preset="quick", block_size=3, n_embd=4, n_hidden=16, batch_size=32, steps=60,
                     eval_interval=20, log_interval=10, lr=1e-2)


def after_step(monkeypatch, step: int, action) -> None:
    """Make training call action(trainer) right after it takes step `step`."""
    from nnlm.train import Trainer

    original = Trainer.train_step

    def step_then_act(self):
        original(self)
        if self.step == step:
            action(self)

    monkeypatch.setattr(Trainer, "train_step", step_then_act)


def send_signal(signum: int):
    """An `after_step` action: this process receives `signum`, as from Ctrl-C or kill."""
    return lambda trainer: os.kill(os.getpid(), signum)
