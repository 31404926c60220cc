"""Training and data settings, and the named presets that fill them in."""

from __future__ import annotations

from dataclasses import MISSING, asdict, dataclass, fields

from .errors import NnlmError

OPTIMIZERS = ("adamw", "sgd")
SCHEDULES = ("cosine", "linear", "step", "constant", "inverse")
DEVICES = ("auto", "cpu", "cuda", "mps")


@dataclass
class TrainConfig:
    steps: int = 10_000
    batch_size: int = 256
    lr: float = 3e-3
    optimizer: str = "adamw"
    weight_decay: float = 0.0  # on weight matrices and C, never on biases
    beta2: float = 0.99  # AdamW's second-moment decay
    momentum: float = 0.0  # SGD only
    lr_schedule: str = "cosine"  # cosine/linear decay to min_lr, or a step drop
    warmup_steps: int = 0
    min_lr: float = 0.0  # floor of cosine/linear decay, as a fraction of lr
    lr_drop_step: int = 0  # "step" schedule: lr * lr_drop from this step on
    lr_drop: float = 0.1
    lr_decay: float = 1e-8  # "inverse" schedule: lr / (1 + lr_decay * examples seen)
    eval_interval: int = 500  # dev loss, best-weights and checkpoint every this many steps
    log_interval: int = 50  # train loss to metrics.jsonl and the progress bar
    max_seconds: float = 0.0  # time budget (0: none); the schedule then follows the clock
    seed: int = 1337
    device: str = "auto"

    def validate(self) -> None:
        positive = ("steps", "batch_size", "eval_interval", "log_interval")
        for name in positive:
            if getattr(self, name) < 1:
                raise NnlmError(f"--{name.replace('_', '-')} must be at least 1, got {getattr(self, name)}")
        if not self.lr > 0:
            raise NnlmError(f"--lr must be positive, got {self.lr}")
        checks = [
            (self.optimizer in OPTIMIZERS, f"--optimizer must be one of {', '.join(OPTIMIZERS)}"),
            (self.lr_schedule in SCHEDULES, f"--lr-schedule must be one of {', '.join(SCHEDULES)}"),
            (self.device in DEVICES, f"--device must be one of {', '.join(DEVICES)}"),
            (self.weight_decay >= 0, "--weight-decay must be >= 0"),
            (0 <= self.beta2 < 1, "--beta2 must be in [0, 1)"),
            (0 <= self.momentum < 1, "--momentum must be in [0, 1)"),
            (self.warmup_steps >= 0, "--warmup-steps must be >= 0"),
            (0 <= self.min_lr <= 1, "--min-lr must be in [0, 1] (a fraction of --lr)"),
            (self.lr_drop > 0, "--lr-drop must be positive"),
            (self.lr_decay >= 0, "--lr-decay must be >= 0"),
            (self.max_seconds >= 0, "--max-seconds must be >= 0"),
        ]
        for ok, message in checks:
            if not ok:
                raise NnlmError(message)


@dataclass
class DataConfig:
    path: str = ""  # "" means the bundled names.txt
    split_seed: int = 42
    split: tuple = (0.8, 0.1, 0.1)
    dedupe: bool = False
    level: str = "char"  # "char": items of characters; "word": whitespace-separated words
    # word level only (see words.py)
    word_mode: str = "sentence"  # "sentence" per line with boundaries, or one "stream"
    lowercase: bool = False
    min_count: int = 3  # words seen at most this many times become <unk> (the paper: 3)
    vocab_from: str = "train"  # count words in the "train" split or in "all" the data
    split_tokens: tuple = ()  # (train, dev) token counts: a contiguous split; () = shuffled lines
    sha256: str = ""  # of the data file's text, checked when a word-level run re-reads it

    def validate(self) -> None:
        if self.level not in ("char", "word"):
            raise NnlmError(f"--level must be char or word, got {self.level!r}")
        if self.level == "char" and (self.lowercase or self.split_tokens):
            raise NnlmError("--lowercase and --split-tokens are for --level word")


MODEL_KEYS = ("block_size", "n_embd", "n_hidden", "direct", "init", "n_layer", "norm", "dropout",
              "arch", "sampled", "tie")

PRESETS: dict[str, dict] = {
    # fast and good on a laptop CPU: see README "Performance"
    "default": dict(block_size=6, n_embd=16, n_hidden=384, batch_size=1024, steps=1500,
                    lr=1e-2, optimizer="adamw", lr_schedule="cosine", warmup_steps=0,
                    min_lr=0.02, weight_decay=0.0, eval_interval=100, log_interval=50),
    # the best MLP we found for names within 5 minutes on 2 CPU cores, chosen on dev by
    # benchmarks/results/sweep_best_stage*.md and a comparison at the full budget
    "best": dict(block_size=8, n_embd=24, n_hidden=512, n_layer=2, norm="layer", dropout=0.15,
                 weight_decay=0.1, batch_size=1024, steps=8000, lr=3e-3, optimizer="adamw",
                 lr_schedule="cosine", warmup_steps=0, min_lr=0.02, eval_interval=500,
                 log_interval=50),
    # the quickest route to the lecture's loss: ~2.15 in well under a second on 2 cores
    "fast": dict(block_size=4, n_embd=10, n_hidden=96, batch_size=512, steps=500, lr=3e-2,
                 optimizer="adamw", lr_schedule="cosine", warmup_steps=0, min_lr=0.02,
                 weight_decay=0.0, eval_interval=50, log_interval=50),
    # Karpathy's makemore part 2, exactly: plain N(0,1) init, SGD, lr 0.1 then 0.01
    "lecture": dict(block_size=3, n_embd=10, n_hidden=200, init="normal", batch_size=32,
                    steps=200_000, lr=0.1, optimizer="sgd", lr_schedule="step",
                    lr_drop_step=100_000, lr_drop=0.1, weight_decay=0.0, warmup_steps=0,
                    eval_interval=10_000, log_interval=1000),
}


def preset_settings(name: str) -> dict:
    if name not in PRESETS:
        raise NnlmError(f"unknown preset {name!r}; choose from {', '.join(PRESETS)}")
    return dict(PRESETS[name])


def split_settings(settings: dict) -> tuple[dict, TrainConfig]:
    """Separate model keys from training keys; unknown keys are an error."""
    train_keys = {f.name for f in fields(TrainConfig)}
    model = {k: v for k, v in settings.items() if k in MODEL_KEYS}
    unknown = set(settings) - set(MODEL_KEYS) - train_keys
    if unknown:
        raise NnlmError(f"unknown settings: {', '.join(sorted(unknown))}")
    train = TrainConfig(**{k: v for k, v in settings.items() if k in train_keys})
    train.validate()
    return model, train


def to_json(cfg) -> dict:
    return asdict(cfg)


def check_types(cfg, source: str) -> None:
    """Every field of a settings dataclass read from a file has its default's type."""
    for f in fields(cfg):
        value, default = getattr(cfg, f.name), f.default
        if default is MISSING:
            expected = (int,)
        elif isinstance(default, bool):
            expected = (bool,)
        elif isinstance(default, float):
            expected = (int, float)
        else:
            expected = (type(default),)
        if isinstance(default, tuple):
            expected = (tuple, list)
        ok = isinstance(value, expected) and not (isinstance(value, bool) and bool not in expected)
        if not ok:
            raise NnlmError(f"{source}: {f.name} = {value!r} is not a valid "
                            f"{expected[0].__name__}")
