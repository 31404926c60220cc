"""Where a run's training loop is: what a checkpoint keeps, beside the weights, the optimizer's
tensors and the random generator's state, to resume exactly where it was."""

from __future__ import annotations

import math
from dataclasses import asdict, dataclass, field, fields


@dataclass
class LoopState:
    step: int = 0  # steps taken, over every session of the run
    elapsed: float = 0.0  # seconds in the loop, over every session (a checkpoint's: until it)
    best_loss: float = math.inf  # the best dev loss so far
    best_step: int = 0  # and its step
    pending_loss: float = 0.0  # train loss summed since the last log line
    logged_step: int = 0  # the step of the last log line
    optimizer_t: int = 0  # the optimizer's step count (Adam's bias correction)
    schedule: dict = field(default_factory=dict)  # the lr schedule's and patience's (Schedule.state)

    def to_meta(self) -> dict:
        """The checkpoint's metadata (JSON); the schedule's keys are at the top level."""
        meta = asdict(self)
        return {**meta, **meta.pop("schedule")}

    @classmethod
    def from_meta(cls, meta: dict) -> LoopState:
        """The state a checkpoint's metadata describes; KeyError, ValueError or TypeError when
        it is not one."""
        numbers = {f.name: f.type for f in fields(cls) if f.name != "schedule"}
        values = {name: (int if type_name == "int" else float)(meta[name])
                  for name, type_name in numbers.items()}
        return cls(**values, schedule={k: v for k, v in meta.items() if k not in numbers})
