"""The parser the command reference (docs/cli.md) is made from: nnlm.cli.build_parser(), every
subcommand's options, each help text exactly as `nnlm COMMAND --help` prints it (with its
default, or how the default is chosen). sphinx-argparse reads it (`:nodefault:`, as the help
already says the default)."""

import argparse

from nnlm.cli import build_parser


def parser() -> argparse.ArgumentParser:
    """build_parser() with every option's help expanded by nnlm's own help formatter."""
    top = build_parser()
    for sub in [top, *_subparsers(top)]:
        formatter = sub._get_formatter()
        for action in sub._actions:
            if action.help and action.help is not argparse.SUPPRESS:
                # sphinx-argparse %-formats the help again: keep a literal % as it is
                action.help = formatter._expand_help(action).replace("%", "%%")
    return top


def _subparsers(parser: argparse.ArgumentParser) -> list[argparse.ArgumentParser]:
    return [p for action in parser._actions if isinstance(action, argparse._SubParsersAction)
            for p in action.choices.values()]
