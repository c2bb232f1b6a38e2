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
    assert "Examples" in r.output
    from chatcli.app import app as root
    import typer.main
    names = set(typer.main.get_command(root).commands)
    assert {"chat", "train", "eval", "inspect", "bench", "convert"} <= names


def test_console_script_runs_without_traceback_on_unknown_command():
    r = subprocess.run([sys.executable, "-m", "chatcli.app", "frobnicate"], capture_output=True, text=True,
                       timeout=120)
    assert r.returncode == 2
    assert "Traceback" not in r.stderr


def test_help_does_not_import_torch():
    code = "import sys; from chatcli.app import app; print('torch' in sys.modules)"
    r = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=120)
    assert r.stdout.strip() == "False", r.stderr
