"""nnlm imports and trains where Unix-only modules do not exist (Windows): nothing Unix-only in the
common path; the run lock is `filelock`'s, which locks on any OS."""

import subprocess
import sys

from helpers import FIXTURES

UNIX_ONLY = ("fcntl", "termios", "resource", "pwd", "grp", "pty", "tty", "syslog", "posix_ipc")


def run_without_unix_modules(code: str) -> subprocess.CompletedProcess:
    prelude = f"import sys\nfor name in {UNIX_ONLY!r}:\n    sys.modules[name] = None  # as on Windows\n"
    return subprocess.run([sys.executable, "-W", "ignore", "-c", prelude + code], capture_output=True,
                          text=True, timeout=300)


def test_import_nnlm_without_unix_modules():
    done = run_without_unix_modules("import nnlm, nnlm.cli, nnlm.run.rundir, nnlm.training.train\n"
                                    "print('ok')")
    assert done.returncode == 0 and done.stdout.strip() == "ok", done.stderr


def test_a_tiny_run_trains_samples_and_refuses_a_second_trainer_without_unix_modules(tmp_path):
    code = ("from nnlm.cli import main\nfrom nnlm.run.rundir import locked\n"
            f"run = {str(tmp_path / 'run')!r}\n"
            f"assert main(['train', {str(FIXTURES / 'names300.txt')!r}, '--out', run, '--preset', 'quick', "
            "'--steps', '20', '--quiet', '-n', '2']) == 0\n"
            "assert main(['sample', run, '-n', '3', '--seed', '1', '--plain']) == 0\n"
            "with locked(run):\n    assert main(['train', '--resume', '--out', run, '--steps', '30']) == 2\n")
    done = run_without_unix_modules(code)
    assert done.returncode == 0, done.stderr
    assert "another training is using this run directory" in done.stderr
    assert len(done.stdout.split("samples:")[1].strip().splitlines()) == 2 + 3
