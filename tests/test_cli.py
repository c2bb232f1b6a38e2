"""The Typer root: --help, --version, and the one-line error contract."""
from __future__ import annotations

import subprocess
import sys

import pytest
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
    import typer.main

    from chatcli.app import app as root
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


def test_every_third_party_import_is_a_declared_dependency():
    """A fresh `pip install -e .` must be able to train: numpy was once only pulled in by the test extra."""
    import ast
    import re
    import sys
    from pathlib import Path
    tomllib = pytest.importorskip("tomllib")
    root = Path(__file__).resolve().parent.parent
    project = tomllib.loads((root / "pyproject.toml").read_text())["project"]
    name = lambda spec: re.split(r"[<>=!~\[ ;]", spec, maxsplit=1)[0].lower().replace("-", "_")  # noqa: E731
    required = {name(d) for d in project["dependencies"]}
    optional = {name(d) for extra in ("plot", "hf", "serve", "gguf") for d in project["optional-dependencies"][extra]}
    found: dict[str, str] = {}
    for path in [p for pkg in ("chatcli", "model", "tokenizer") for p in (root / pkg).rglob("*.py")]:
        for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
            if isinstance(node, ast.Import):
                mods = [a.name for a in node.names]
            elif isinstance(node, ast.ImportFrom) and node.level == 0 and node.module:
                mods = [node.module]
            else:
                continue
            for m in mods:
                top = m.split(".")[0]
                if top not in sys.stdlib_module_names and top not in ("chatcli", "model", "tokenizer", "__future__"):
                    found.setdefault(top, str(path.relative_to(root)))
    assert {"torch", "numpy", "sentencepiece"} <= set(found)
    missing = {m: p for m, p in found.items() if m not in required | optional}
    assert not missing, f"imported but not declared in pyproject.toml: {missing}"
