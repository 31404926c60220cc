
import pytest

from nnlm.cli import main


@pytest.mark.parametrize("argv, message", [
    (["--order", "0"], "--order must be between 1 and 10"),
    (["--order", "3", "--method", "bigram"], "--method bigram is order 2"),
    (["--tokens", "word"], "--tokens word needs a DATA file"),
    (["--lowercase"], "--lowercase is for --tokens word"),
])
def test_ngram_cli_errors_are_one_line(capsys, argv, message):
    assert main(["ngram", *argv]) == 2
    err = capsys.readouterr().err
    assert message in err and len(err.strip().splitlines()) == 1
