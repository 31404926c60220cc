"""Declaring a setting once: its type, bounds, flag, parsing from text and JSON, and its errors."""

import argparse
import re
from dataclasses import dataclass

import pytest

from nnlm.errors import NnlmError, SettingError
from nnlm.settings import add_flags, check, coerce, from_json, given, setting, settings_of
from nnlm.settings.data import DataConfig, parse_fractions


@dataclass
class Toy:
    count: int = setting(3, "how many", at_least=1, aliases=("-c",))
    rate: float = setting(0.5, "a share", above=0, at_most=1)
    drop: float = setting(0.0, "dropout", at_least=0, below=1)
    name: str = setting("a", "one of three", choices=("a", "b", "c"))
    flag: bool = setting(False, "on or off")
    cap: int | None = setting(None, "none: no cap", at_least=0, at_most=10, flag="--limit")
    pair: tuple = setting((0.8, 0.1, 0.1), "three numbers", parse=parse_fractions)
    plain: int = 7  # not a setting


def by_name():
    return {s.name: s for s in settings_of(Toy)}


def test_declarations_give_types_options_and_optional_values():
    s = by_name()
    assert list(s) == ["count", "rate", "drop", "name", "flag", "cap", "pair"]
    assert (s["count"].type, s["rate"].type, s["flag"].type, s["pair"].type) == (int, float, bool, tuple)
    assert s["cap"].type is int and s["cap"].optional and not s["count"].optional
    assert (s["count"].option, s["cap"].option, s["count"].default) == ("--count", "--limit", 3)


@pytest.mark.parametrize("key, value, message", [
    ("count", 0, "--count must be at least 1, got 0"),
    ("rate", 0, "--rate must be in (0, 1], got 0"),
    ("rate", 1.5, "--rate must be in (0, 1], got 1.5"),
    ("drop", 1.0, "--drop must be in [0, 1), got 1.0"),
    ("name", "d", "--name must be one of a, b, c, got 'd'"),
    ("cap", 11, "--limit must be from 0 to 10, got 11"),
])
def test_values_outside_the_bounds_are_refused_by_argument_flag_or_field(key, value, message):
    with pytest.raises(SettingError) as refused:
        by_name()[key].check(value)
    assert refused.value.for_cli() == message  # the command line names the flag
    assert str(refused.value) == re.sub(r"^--\S+", key, message)  # the Python API the argument
    assert refused.value.named(lambda s: s.name.upper()) == re.sub(r"^--\S+", key.upper(), message)


def test_values_inside_the_bounds_and_none_where_optional_pass():
    s = by_name()
    for key, value in (("count", 1), ("rate", 1.0), ("drop", 0.0), ("name", "c"), ("cap", None), ("cap", 10)):
        s[key].check(value)
    check(Toy())
    with pytest.raises(NnlmError, match="count must be at least 1"):
        check(Toy(count=-2))


@pytest.mark.parametrize("key, text, value", [
    ("count", "12", 12), ("rate", "0.25", 0.25), ("rate", "1e-3", 0.001), ("flag", "true", True),
    ("flag", "No", False), ("name", "b", "b"), ("pair", "0.7,0.2,0.1", (0.7, 0.2, 0.1)),
])
def test_text_is_read_as_the_setting_s_type(key, text, value):
    got = by_name()[key].from_text(text)
    assert got == value and type(got) is type(value)


@pytest.mark.parametrize("key, text", [("count", "1.5"), ("count", "many"), ("flag", "maybe"),
                                       ("pair", "0.5,0.5")])
def test_text_that_is_not_of_the_type_is_refused(key, text):
    with pytest.raises(NnlmError, match=f"{key}='{text}' is not a valid"):
        by_name()[key].from_text(text)


def test_json_values_must_be_of_the_declared_type():
    assert coerce(3, float, "x") == 3.0 and isinstance(coerce(3, float, "x"), float)
    assert coerce([0.8, 0.1, 0.1], tuple, "x") == (0.8, 0.1, 0.1)
    for value, hint in ((True, int), ("3", int), (1, bool), (None, str)):
        with pytest.raises(NnlmError, match="is not a valid"):
            coerce(value, hint, "x")
    assert from_json(Toy, {"count": 4}, "toy.json").count == 4
    with pytest.raises(NnlmError, match=r"toy.json: unknown settings \['colour'\]"):
        from_json(Toy, {"colour": 1}, "toy.json")
    assert from_json(Toy, {"colour": 1}, "toy.json", strict=False) == Toy()
    with pytest.raises(NnlmError, match="toy.json: count = 'x' is not a valid int"):
        from_json(Toy, {"count": "x"}, "toy.json")


def test_flags_come_from_the_declarations_and_only_given_values_count():
    parser = argparse.ArgumentParser()
    add_flags(parser, settings_of(Toy))
    args = parser.parse_args(["-c", "5", "--no-flag", "--limit", "3", "--pair", "0.6,0.2,0.2"])
    assert given(args, settings_of(Toy)) == {"count": 5, "flag": False, "cap": 3, "pair": (0.6, 0.2, 0.2)}
    assert given(parser.parse_args([]), settings_of(Toy)) == {}
    with pytest.raises(SystemExit):
        parser.parse_args(["--name", "z"])


def test_the_data_settings_check_themselves():
    DataConfig().validate()
    with pytest.raises(NnlmError, match="min_count must be"):
        DataConfig(min_count=-5).validate()
    with pytest.raises(NnlmError, match="tokens must be one of"):
        DataConfig(tokens="byte").validate()
