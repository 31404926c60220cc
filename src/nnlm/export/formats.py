"""The formats `nnlm export` writes and what each takes (no PyTorch here: `nnlm export --help`
reads it)."""

from __future__ import annotations

from dataclasses import dataclass

from ..errors import NnlmError

LEVEL_WORDS = {"char": "characters", "bpe": "BPE subwords", "word": "words"}  # what a token is, said


@dataclass(frozen=True)
class Format:
    name: str
    what: str  # what it is for, one line
    families: tuple[str, ...] | None = None  # the model families it takes (None: every one)
    levels: tuple[str, ...] | None = None  # the token kinds it takes (None: every one)

    def takes(self) -> str:
        """Which families and token kinds it takes, as `nnlm export --help` says it."""
        families = "every family" if self.families is None else f"the {', '.join(self.families)} family"
        levels = " or ".join(LEVEL_WORDS.get(level, level) for level in self.levels or LEVEL_WORDS)
        return f"{families}, {levels}"


FORMATS = {f.name: f for f in (
    Format("onnx", "one sampling step as an ONNX model (ids and the carried state in, logits and the state "
           "out) for onnxruntime in any language, beside the vocabulary and the model card"),
    Format("hf", "a Hugging Face transformers folder (GPT-2: AutoModelForCausalLM, AutoTokenizer, generate, "
           "pipeline, the Hub)", families=("transformer",)),
)}


def check_format(name: str, family: str, level: str) -> Format:
    """The format called `name` for a run of `family` with tokens of `level`.

    Raises:
        NnlmError: one line, where there is no such format or it cannot take the run.
    """
    if name not in FORMATS:
        why = f"must be one of {', '.join(FORMATS)}, got {name!r}"
        raise NnlmError(f"format {why}", cli=f"--format {why}")
    chosen = FORMATS[name]
    if chosen.families is not None and family not in chosen.families:
        why = f"takes {' and '.join(chosen.families)} runs only, and this run's model is {family}"
        raise NnlmError(f"format {name!r} {why}: export it with format='onnx'",
                        cli=f"--format {name} {why}: export it with --format onnx")
    if chosen.levels is not None and level not in chosen.levels:
        why = f"does not take {LEVEL_WORDS.get(level, level)} as tokens"
        raise NnlmError(f"format {name!r} {why}", cli=f"--format {name} {why}")
    return chosen
