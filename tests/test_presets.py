"""The headline numbers on names.txt, measured (slow: run with `pytest -m slow`)."""

import pytest

import nnlm

pytestmark = pytest.mark.slow


def report(name, result):
    """The figures, in the CI log (the slow tests run with -s)."""
    print(f"\n{name}: dev {result.dev_loss:.4f} test {result.test_loss:.4f} train "
          f"{result.train_loss:.4f}; {result.step} steps in {result.seconds:.1f} s "
          f"(+ {result.setup_seconds:.2f} s setup)")


def test_lecture_preset_reproduces_the_lecture(tmp_path):
    result = nnlm.train(None, str(tmp_path / "lecture"), preset="lecture", progress=False)
    report("--preset lecture", result)
    assert result.step == 200_000
    assert abs(result.dev_loss - 2.17) <= 0.01, result


def test_default_preset_is_fast_and_good(tmp_path):
    result = nnlm.train(None, str(tmp_path / "default"), progress=False)
    report("default preset", result)
    assert result.dev_loss <= 2.15, result
    assert result.setup_seconds + result.seconds < 60, result


def test_best_preset_reaches_its_target_within_five_minutes(tmp_path):
    result = nnlm.train(None, str(tmp_path / "best"), preset="best", progress=False)
    report("--preset best", result)
    assert result.test_loss <= 1.97, result
    assert result.setup_seconds + result.seconds <= 300, result
