"""The headline numbers on names.txt, measured (slow: run with `pytest -m slow`)."""

import json

import pytest

import nnlm

pytestmark = pytest.mark.slow


def report(name, result):
    """The figures, in the CI log (the slow tests run with -s)."""
    print(f"\n{name}: dev {result.dev_loss:.4f} test {result.test_loss:.4f} (model alone: dev "
          f"{result.model_dev_loss:.4f} test {result.model_test_loss:.4f}) train {result.train_loss:.4f}; "
          f"{result.step} steps in {result.seconds:.1f} s (+ {result.setup_seconds:.2f} s setup), "
          f"stopped: {result.stopped.value}")


def test_lecture_preset_reproduces_the_lecture(tmp_path):
    result = nnlm.train(None, str(tmp_path / "lecture"), preset="lecture", progress=False)
    report("--preset lecture", result)
    assert result.step == 200_000
    assert abs(result.model_dev_loss - 2.17) <= 0.01, result


def test_default_run_beats_kenlm_on_names_within_three_minutes(tmp_path):
    """No flags: settings from the data, the model mixed with a Kneser-Ney model; better on test
    than KenLM's best n-gram (order 6, test 1.978) and at dev <= 2.15 within half a minute."""
    result = nnlm.train(None, str(tmp_path / "default"), progress=False)
    report("default run", result)
    assert result.test_loss <= 1.978 and result.model_test_loss < 2.0, result
    assert result.setup_seconds + result.seconds <= 170, result
    devs = [json.loads(line) for line in (tmp_path / "default" / "metrics.jsonl").read_text().splitlines()]
    assert min(r["seconds"] for r in devs if r.get("dev_loss", 9) <= 2.15) <= 30


def test_quick_preset_is_fast_and_good(tmp_path):
    result = nnlm.train(None, str(tmp_path / "quick"), preset="quick", progress=False, mix=False)
    report("--preset quick", result)
    assert result.dev_loss <= 2.15, result
    assert result.setup_seconds + result.seconds < 60, result


def test_best_preset_reaches_its_target(tmp_path):
    """A fixed 8,000 steps, so its losses are the machine's no matter how fast it is (test 1.9445 on a
    Xeon and an AMD EPYC alike); its time is not (261 s and 390-465 s on those 2-core CPUs, 315 s in
    CI, 578 s with another job beside it), so the clock only guards against a slowdown far beyond."""
    result = nnlm.train(None, str(tmp_path / "best"), preset="best", progress=False)
    report("--preset best", result)
    assert result.step == 8000
    assert result.model_test_loss <= 1.95, result
    assert result.setup_seconds + result.seconds <= 900, result
