"""The training settings (each declared once, see declare.py)."""

from __future__ import annotations

from dataclasses import dataclass

from ..errors import NnlmError
from .declare import BUDGET, RUN, check, setting

OPTIMIZERS = ("adamw", "sgd")
SCHEDULES = ("plateau", "cosine", "linear", "step", "constant", "inverse")
DEVICES = ("auto", "cpu", "cuda", "mps")
PRECISIONS = ("fp32", "bf16")


@dataclass
class TrainConfig:
    steps: int = setting(10_000, "training steps (0: no limit; an explicit --steps is trained in full)",
                         at_least=0, scope=RUN, resumable=True)
    batch_size: int = setting(256, "examples per step", at_least=1)
    lr: float = setting(3e-3, "peak learning rate", above=0, scope=RUN)
    optimizer: str = setting("adamw", "adamw or sgd", choices=OPTIMIZERS)
    weight_decay: float = setting(0.0, "on weights and C, not biases", at_least=0)
    beta1: float = setting(0.9, "AdamW's first-moment (momentum) decay", at_least=0, below=1)
    beta2: float = setting(0.99, "AdamW's second-moment decay", at_least=0, below=1)
    momentum: float = setting(0.0, "SGD momentum", at_least=0, below=1)
    lr_schedule: str = setting("cosine", "plateau: the peak lr until dev stops improving (--patience) or "
                               "the run nears its end, then a cosine decay over --cooldown of the "
                               "run; cosine/linear decay to --min-lr, a step drop, constant, or the "
                               "paper's inverse lr / (1 + r t), t in examples, r = --lr-decay",
                               choices=SCHEDULES, scope=RUN)
    patience: int = setting(0, "dev evaluations without improvement before the plateau schedule decays "
                            "the lr, and after that before training stops (other schedules: stops); "
                            "0: never", at_least=0, scope=RUN, resumable=True)
    cooldown: float = setting(0.2, "plateau schedule: the share of the run spent decaying the lr",
                              above=0, below=1, scope=RUN)
    warmup_steps: int = setting(0, "steps of linear warm-up", at_least=0, scope=RUN)
    min_lr: float = setting(0.0, "final lr of cosine/linear decay, a fraction of --lr", at_least=0,
                            at_most=1, scope=RUN)
    lr_drop_step: int = setting(0, "step schedule: multiply lr by --lr-drop from this step on",
                                at_least=0, scope=RUN)
    lr_drop: float = setting(0.1, "step schedule: the factor", above=0, scope=RUN)
    lr_decay: float = setting(1e-8, "r of the inverse schedule", at_least=0, scope=RUN)
    eval_interval: int = setting(500, "steps between dev evaluations (best weights, checkpoint)",
                                 at_least=1, scope=RUN, resumable=True)
    eval_tokens: int = setting(100_000, "dev tokens read by each evaluation during training, evenly "
                               "spaced pieces of dev (0: all of it); the final dev and test losses "
                               "read everything", at_least=0, scope=RUN)
    log_interval: int = setting(50, "steps between train-loss log lines", at_least=1,
                                scope=RUN, resumable=True)
    max_seconds: float = setting(0.0, "time budget (0: none); the lr schedule then follows the clock",
                                 at_least=0, scope=BUDGET, resumable=True)
    grad_clip: float = setting(0.0, "scale the gradient down to this norm where it is longer (0: never)",
                               at_least=0)
    precision: str = setting("fp32", "the arithmetic of training steps: fp32, or bf16 (autocast: matrix "
                             "products in bfloat16, fast where the hardware has it: CUDA, and CPUs with "
                             "AMX); the weights stay fp32", choices=PRECISIONS)
    seed: int = setting(1337, "same seed, data and thread count give identical weights on CPU")
    device: str = setting("auto", "auto picks cuda, then mps, then cpu", choices=DEVICES, resumable=True)
    mix: bool = setting(True, "after training, mix in a Kneser-Ney model of the train split (order and "
                        "weight chosen on dev) where that beats the model alone on dev; eval, score and "
                        "sample then use the mixture (--no-mix there: the model alone)",
                        scope=RUN, resumable=True)
    init_from: str = setting("", "start from the weights of this run: its family and sizes, its tokens' "
                             "rows (the data's new tokens and labels get new ones); the training length "
                             "and the n-gram model come from this data (default: from scratch)",
                             metavar="RUN", scope=RUN)
    tensorboard: bool = setting(False, "also log to TensorBoard in RUN/tb "
                                "(pip install 'nnlm[tensorboard]')", scope=RUN, resumable=True)

    def validate(self) -> None:
        """NnlmError for a setting outside its bounds, or for a run nothing would stop."""
        check(self)
        if not (self.steps or self.max_seconds or self.patience):
            raise NnlmError("steps=0 needs max_seconds or patience: nothing would stop training",
                            cli="--steps 0 needs --max-seconds or --patience: nothing would stop training")
