"""The Typer root: --help, --version, and the one-line error contract."""
from __future__ import annotations

import subprocess
import sys

from typer.testing import CliRunner

from chatcli import __version__
from chatcli.app import app


def test_version():
    r = CliRunner().invoke(app, ["--version"])
    assert r.exit_code == 0 and __version__ in r.output


def test_help_lists_commands_and_examples():
    r = CliRunner().invoke(app, ["--help"])
    assert r.exit_code == 0
    for word in ("chat", "train", "inspect", "bench", "Examples"):
        assert word in r.output


def test_console_script_runs_without_traceback_on_unknown_command():
    r = subprocess.run([sys.executable, "-m", "chatcli.app", "frobnicate"], capture_output=True, text=True,
                       timeout=120)
    assert r.returncode == 2
    assert "Traceback" not in r.stderr


def test_help_does_not_import_torch():
    code = "import sys; from chatcli.app import app; print('torch' in sys.modules)"
    r = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=120)
    assert r.stdout.strip() == "False", r.stderr
