"""The one exception type the CLI turns into a one-line message and exit code 2."""


class NnlmError(Exception):
    """A problem with the user's input, options or files (not a bug in nnlm)."""


class TooFew(NnlmError):
    """Too few items or lines for the split asked for."""


def where(path, line: int | None = None) -> str:
    """`path` or `path:line`, for messages that say where a problem is."""
    return f"{path}:{line}" if line is not None else str(path)
