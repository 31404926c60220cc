"""Helpers the tests share: tiny training settings, CLI runners, hooks into the training loop."""

import os
from pathlib import Path

from nnlm.cli import main

TESTS = Path(__file__).resolve().parent
FIXTURES = TESTS / "fixtures"  # committed runs and small data files
VERSE = FIXTURES / "verse20k.txt"  # 20,000 characters of verse, the BPE tests' text
ROOT = TESTS.parent  # the repository

TINY_SETTINGS = dict(preset="quick", block_size=3, n_embd=4, n_hidden=16, batch_size=32, steps=60,
                     eval_interval=20, log_interval=10, lr=1e-2)

# command-line flags of a tiny character-level run
TINY_TRAIN = ["--preset", "quick", "--block-size", "3", "--n-embd", "4", "--n-hidden", "16", "--batch-size",
              "32", "--steps", "60", "--eval-interval", "20", "--quiet", "--samples", "3"]
# and of a tiny word-level run
WORD_TRAIN = ["--preset", "quick", "--block-size", "3", "--n-embd", "4", "--n-hidden", "16", "--batch-size",
              "32", "--steps", "40", "--eval-interval", "20", "--quiet", "--samples", "2", "--min-count", "1"]


def run_ok(capsys, *argv):
    code = main([str(a) for a in argv])
    captured = capsys.readouterr()
    assert code == 0, captured.err
    return captured.out


def run_error(capsys, *argv):
    """A user error: exit code 2 and one line on stderr, after the command's usage line for a
    usage mistake; no traceback. Returns the error line."""
    try:
        code = main([str(a) for a in argv])
    except SystemExit as e:  # argparse's own usage errors
        code = e.code
    err = capsys.readouterr().err
    lines = err.strip().splitlines()
    assert code == 2, err
    usage = len(lines) == 2 and lines[0].startswith("usage: ")
    assert "Traceback" not in err and (len(lines) == 1 or usage), err
    return lines[-1]


def after_step(monkeypatch, step: int, action) -> None:
    """Make training call action(trainer) right after it takes step `step`."""
    from nnlm.training.loop import Trainer

    original = Trainer.train_step

    def step_then_act(self):
        original(self)
        if self.step == step:
            action(self)

    monkeypatch.setattr(Trainer, "train_step", step_then_act)


def send_signal(signum: int):
    """An `after_step` action: this process receives `signum`, as from Ctrl-C or kill."""
    return lambda trainer: os.kill(os.getpid(), signum)


def random_mlp(direct: bool):
    """A small MLP with every parameter drawn from N(0, 0.5): no zero or tiny gradients."""
    import torch

    from nnlm.models.mlp import MLP, MLPConfig

    torch.manual_seed(0)
    model = MLP(MLPConfig(vocab_size=13, block_size=4, n_embd=5, n_hidden=9, direct=direct))
    with torch.no_grad():
        for p in model.parameters():
            p.normal_(0.0, 0.5)
    return model
