"""The default model lookup: $CHATCLI_MODEL, then the source tree's weights/default, then the installed copy."""
from __future__ import annotations

import pytest

from chatcli import bundle
from chatcli.errors import ChatcliError


def _model_dir(path):
    path.mkdir(parents=True)
    (path / bundle.WEIGHTS).write_bytes(b"x")
    return path


def test_lookup_order(tmp_path, monkeypatch):
    source, packaged = tmp_path / "source", tmp_path / "packaged"
    monkeypatch.setattr(bundle, "SOURCE_BUNDLED", source)
    monkeypatch.setattr(bundle, "PACKAGED_BUNDLED", packaged)
    monkeypatch.delenv("CHATCLI_MODEL", raising=False)
    with pytest.raises(ChatcliError) as err:
        bundle.default_model_dir()
    assert "$CHATCLI_MODEL" in str(err.value) and "--model" in str(err.value) and "\n" not in str(err.value)
    _model_dir(packaged)
    assert bundle.default_model_dir() == packaged
    _model_dir(source)
    assert bundle.default_model_dir() == source
    monkeypatch.setenv("CHATCLI_MODEL", str(tmp_path / "mine"))
    assert bundle.default_model_dir() == tmp_path / "mine"
    with pytest.raises(ChatcliError, match=r"CHATCLI_MODEL"):
        bundle.load_bundle(None)


@pytest.mark.slow
def test_wheel_ships_the_bundled_model(tmp_path):
    """A plain wheel install, outside the source tree and with PYTHONPATH unset, chats with the bundled model."""
    import os
    import site
    import subprocess
    import sys
    from pathlib import Path

    if not (bundle.SOURCE_BUNDLED / bundle.WEIGHTS).exists():
        pytest.skip("weights/default is not in this checkout")
    env = {k: v for k, v in os.environ.items() if k not in ("PYTHONPATH", "CHATCLI_MODEL")}
    root = Path(bundle.__file__).resolve().parent.parent
    subprocess.run([sys.executable, "-m", "pip", "wheel", str(root), "--no-deps", "--no-build-isolation",
                    "-w", str(tmp_path / "whl")], check=True, env=env, capture_output=True)
    wheel = next((tmp_path / "whl").glob("chatcli-*.whl"))
    subprocess.run([sys.executable, "-m", "venv", str(tmp_path / "v")], check=True, env=env)
    venv_site = next((tmp_path / "v" / "lib").glob("python*/site-packages"))
    # the test venv's dependencies (torch, typer, ...) without its editable chatcli
    (venv_site / "zz_deps.pth").write_text("\n".join(site.getsitepackages()) + "\n")
    subprocess.run([str(tmp_path / "v" / "bin" / "pip"), "install", "-q", "--no-deps", "--force-reinstall",
                    str(wheel)], check=True, env=env, capture_output=True)
    r = subprocess.run([str(tmp_path / "v" / "bin" / "chatcli"), "chat", "hi", "--max-tokens", "4"],
                       cwd=tmp_path, env=env, capture_output=True, text=True, timeout=120)
    assert r.returncode == 0, r.stderr
    assert r.stdout.strip()
    probe = "import chatcli.bundle as b; print(b.BUNDLED)"
    where = subprocess.run([str(tmp_path / "v" / "bin" / "python"), "-c", probe],
                           cwd=tmp_path, env=env, capture_output=True, text=True, check=True).stdout
    assert str(venv_site) in where and where.strip().endswith("bundled/default")
