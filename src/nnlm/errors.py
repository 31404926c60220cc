"""The exception types nnlm raises for what a person can fix, each a one-line message.

`NnlmError`: the input is wrong (an option, a file, a run directory); the command line prints it
in one line and exits 2. `Failure`: something failed that is not the input's fault (training
diverged, a process of a group was lost, a port is taken); exit 1. A message names what the
Python API calls things (`lr`, `out`); where the command line calls them otherwise (`--lr`,
`--out RUN`), the error carries that message too (`for_cli`).
"""

from __future__ import annotations

from collections.abc import Callable


class NnlmError(Exception):
    """A problem with the user's input, options or files (not a bug in nnlm).

    Args:
        message: one line, naming arguments as the Python API does.
        cli: the same line as the command line says it (flags for arguments), where it differs.
    """

    def __init__(self, message: str, *, cli: str | None = None):
        super().__init__(message)
        self.cli = cli

    def for_cli(self) -> str:
        """The message as the command line says it."""
        return self.cli or str(self)

    @classmethod
    def about(cls, argument: str, flag: str, rest: str) -> NnlmError:
        """The error '<argument> <rest>', which the command line says as '<flag> <rest>'."""
        return cls(f"{argument} {rest}", cli=f"{flag} {rest}")


class SettingError(NnlmError):
    """A setting's value refused (settings.declare.Setting.check). The message is a template whose
    `{0}`, `{1}`... are settings (or plain names), named as each reader knows them: the Python
    API by the argument, the command line by the flag, the server by its JSON field (`named`)."""

    def __init__(self, template: str, *settings):
        self.template, self.settings = template, settings
        super().__init__(self.named(lambda s: s.name), cli=self.named(lambda s: s.option))

    def named(self, name: Callable) -> str:
        """The message with each setting called `name(setting)`."""
        return self.template.format(*(name(s) if hasattr(s, "option") else s for s in self.settings))


class Failure(NnlmError):
    """Something failed that is not the input's fault; the command line exits 1."""


class TooFew(NnlmError):
    """Too few items or lines for the split asked for."""


def where(path, line: int | None = None) -> str:
    """`path` or `path:line`, for messages that say where a problem is."""
    return f"{path}:{line}" if line is not None else str(path)
