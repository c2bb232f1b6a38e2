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
