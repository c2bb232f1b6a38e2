"""Every command in the README's bash blocks is run here (or named below with the reason it is not),
in a sandbox folder holding the files the README mentions, against the bundled model.

chatcli commands run in-process (CliRunner), with `cat FILE |`, `echo TEXT |` and `> FILE` done by the
test; the interactive `chatcli chat` runs in a pseudo-terminal; `chatcli serve` runs as a process and
the README's curl lines are sent to it (on the port it picked: CHATCLI_PORT=0).
"""
from __future__ import annotations

import json
import os
import re
import shlex
import shutil
import subprocess
import sys
import time
from pathlib import Path

import pytest
from typer.testing import CliRunner

from chatcli.app import app
from chatcli.bundle import BUNDLED

ROOT = Path(__file__).resolve().parent.parent
NOT_RUN = {  # prefix -> why a test does not run it
    "python3 -m venv": "the two set-up commands install from the network (.ci/run runs the test one)",
    "pip install": "installs from the network",
    "recipes/": "the bundled model's recipe: hours of training on ../shared/data",
    "BASE=weights/base ": "continues the bundled model's recipe: an hour or more of training on ../shared/data",
    "python benchmarks/": "benchmarks against peers, minutes each (benchmarks/ has its own tests)",
    "chatcli train ": "training stages: run with tiny settings by tests/test_train*.py",
    "chatcli eval ": "needs the trained runs/ of the training commands: tests/test_train_cli.py",
}
SLOW = {"chatcli bench ": "benchmarks run for minutes on a CPU"}


def readme_commands() -> list[str]:
    lines, inside = [], False
    for line in (ROOT / "README.md").read_text(encoding="utf-8").splitlines():
        if line.startswith("```"):
            inside = line.strip() == "```bash"
            continue
        if inside and line.strip():
            lines.append(re.split(r"\s+#\s", line)[0].strip())
    return lines


def _kind(cmd: str) -> str:
    if any(cmd.startswith(p) for p in NOT_RUN):
        return "not run"
    if cmd.startswith("curl ") or cmd == "chatcli serve" or cmd.startswith("chatcli serve "):
        return "serve"
    if cmd == "chatcli chat":
        return "interactive"
    if any(cmd.startswith(p) for p in SLOW):
        return "slow"
    if "chatcli " in cmd:
        return "cli"
    return "unknown"


COMMANDS = readme_commands()


def test_every_readme_command_is_run_or_excluded_for_a_reason():
    assert len(COMMANDS) > 20
    unknown = [c for c in COMMANDS if _kind(c) == "unknown"]
    assert not unknown, f"README commands no test runs: {unknown}"
    assert "chatcli serve" in COMMANDS and any(c.startswith("curl ") for c in COMMANDS)


@pytest.fixture(scope="module")
def sandbox(tmp_path_factory):
    if not (BUNDLED / "model.safetensors").exists():
        pytest.skip("no bundled model")
    box = tmp_path_factory.mktemp("readme")
    (box / "weights").mkdir()
    (box / "weights" / "default").symlink_to(BUNDLED)
    (box / "out").mkdir()
    (box / "notes.txt").write_text("The old queen slept under a tall tree.\nThe king went to the sea.\n")
    (box / "out" / "f.json").write_text(json.dumps({"messages": [
        {"role": "user", "content": "What is chatcli?"}, {"role": "assistant", "content": "A chat assistant."}]}))
    (box / "runs" / "base").mkdir(parents=True)
    (box / "runs" / "base" / "metrics.jsonl").write_text(
        "".join(json.dumps({"step": s, "train_loss": 5.0 - s / 10}) + "\n" for s in range(1, 6))
        + json.dumps({"step": 5, "val_loss": 4.6, "val_bpb": 2.3}) + "\n")
    from chatcli.bundle import load_bundle
    from chatcli.hf_export import export_bundle
    export_bundle(load_bundle(BUNDLED), box / "path" / "to" / "llama-hf")
    env = {"CHATCLI_HOME": str(box / "home"), "NO_COLOR": "1", "CHATCLI_MODEL": None}
    r = CliRunner().invoke(app, ["chat", "Hi", "--max-tokens", "4"], env=env)  # a conversation for -c
    assert r.exit_code == 0, r.stderr
    return box, env


def _run_cli(cmd: str, box: Path, env: dict):
    stdin, out_file = None, None
    if " | " in cmd:
        source, cmd = cmd.split(" | ", 1)
        verb, _, arg = source.partition(" ")
        if verb == "cat":
            stdin = (box / arg).read_text()
        elif verb == "echo":
            stdin = shlex.split(arg)[0] + "\n"
        else:
            raise AssertionError(f"cannot emulate {source!r}")
    if " > " in cmd:
        cmd, out_file = cmd.split(" > ", 1)
    argv = shlex.split(cmd)
    assert argv[0] == "chatcli"
    cwd = os.getcwd()
    os.chdir(box)
    try:
        r = CliRunner().invoke(app, argv[1:], input=stdin, env=env)
    finally:
        os.chdir(cwd)
    assert r.exit_code == 0, (cmd, r.exit_code, r.stderr, r.exception)
    if out_file:
        (box / out_file).write_text(r.stdout)
        assert r.stdout.strip()
    return r


@pytest.mark.parametrize("cmd", [c for c in COMMANDS if _kind(c) == "cli"])
def test_readme_command(cmd, sandbox):
    box, env = sandbox
    _run_cli(cmd, box, env)


@pytest.mark.slow
@pytest.mark.parametrize("cmd", [c for c in COMMANDS if _kind(c) == "slow"])
def test_readme_slow_command(cmd, sandbox):
    box, env = sandbox
    _run_cli(cmd, box, env)


def test_readme_interactive_chat(sandbox):
    pexpect = pytest.importorskip("pexpect")
    box, env = sandbox
    child_env = {**os.environ, **{k: v for k, v in env.items() if v is not None},
                 "CHATCLI_HISTORY": str(box / "hist"), "PROMPT_TOOLKIT_NO_CPR": "1", "TERM": "xterm"}
    child_env.pop("CHATCLI_MODEL", None)
    c = pexpect.spawn(sys.executable, ["-m", "chatcli.app", "chat"], cwd=str(box), env=child_env,
                      encoding="utf-8", timeout=90, dimensions=(40, 160))
    try:
        c.expect_exact("try: ")  # the banner's prompts
        c.expect_exact(">>>")
        c.sendline("/bye")
        c.expect(pexpect.EOF)
    finally:
        c.close()
    assert c.exitstatus == 0


def test_readme_serve_and_curl(sandbox):
    if shutil.which("curl") is None:
        pytest.skip("no curl")
    box, env = sandbox
    child_env = {**os.environ, **{k: v for k, v in env.items() if v is not None}, "CHATCLI_PORT": "0"}
    child_env.pop("CHATCLI_MODEL", None)
    serve = [c for c in COMMANDS if _kind(c) == "serve" and c.startswith("chatcli serve")]
    curls = [c for c in COMMANDS if c.startswith("curl ")]
    err = open(box / "serve.err", "w")
    proc = subprocess.Popen(shlex.split(serve[0].replace("chatcli", f"{sys.executable} -m chatcli.app", 1)),
                            cwd=box, env=child_env, stdout=subprocess.DEVNULL, stderr=err)
    try:
        deadline = time.time() + 120
        while not (m := re.search(r"127\.0\.0\.1:(\d+)/v1", (box / "serve.err").read_text())):
            assert proc.poll() is None and time.time() < deadline, (box / "serve.err").read_text()
            time.sleep(0.1)
        for cmd in curls:
            r = subprocess.run(cmd.replace("127.0.0.1:8000", f"127.0.0.1:{m.group(1)}"), shell=True, cwd=box,
                               capture_output=True, text=True, timeout=120)
            assert r.returncode == 0, (cmd, r.stderr)
            if '"stream": true' in cmd:
                assert r.stdout.rstrip().endswith("data: [DONE]"), r.stdout
            else:
                doc = json.loads(r.stdout)
                assert "error" not in doc and ("choices" in doc or doc.get("object") == "list"), doc
    finally:
        proc.send_signal(2)
        assert proc.wait(30) == 0
        err.close()
