"""Model directories as the CLI sees them: load (model, tokenizer, metadata) with strict checks.

`--model` takes a model directory; without it the model is `$CHATCLI_MODEL`, else the source tree's
`weights/default` (a checkout or an editable install), else the copy a wheel ships as package data
(`chatcli/bundled/default`, a symlink to `weights/default` in the source tree, followed when the wheel is built).
"""
from __future__ import annotations

import os
from dataclasses import dataclass
from pathlib import Path

import torch

from chatcli.errors import ChatcliError
from model.checkpoint import CONFIG, WEIGHTS, atomic_write_bytes, load_model, save_model
from model.transformer import Transformer
from tokenizer.chat import ChatTemplate
from tokenizer.sp import MODEL_FILE, Tokenizer

REPO_ROOT = Path(__file__).resolve().parent.parent
SOURCE_BUNDLED = REPO_ROOT / "weights" / "default"  # in a checkout or an editable install
PACKAGED_BUNDLED = Path(__file__).resolve().parent / "bundled" / "default"  # in an installed wheel
NO_MODEL = ("no model found: set $CHATCLI_MODEL or pass --model DIR "
            "(the bundled model weights/default is missing: reinstall chatcli)")


def bundled_model_dir() -> Path | None:
    """The bundled model: the source tree's weights/default, else the installed copy; None if neither."""
    for candidate in (SOURCE_BUNDLED, PACKAGED_BUNDLED):
        if (candidate / WEIGHTS).is_file():
            return candidate
    return None


def default_model_dir() -> Path:
    """$CHATCLI_MODEL, else the bundled model; a ChatcliError naming both ways to choose one if neither."""
    given = os.environ.get("CHATCLI_MODEL")
    if given:
        return Path(given)
    found = bundled_model_dir()
    if found is None:
        raise ChatcliError(NO_MODEL)
    return found


BUNDLED = bundled_model_dir() or SOURCE_BUNDLED


@dataclass
class Bundle:
    model: Transformer
    tokenizer: Tokenizer
    meta: dict  # the whole config.json
    path: Path
    device: torch.device
    dtype: torch.dtype

    @property
    def name(self) -> str:
        return self.path.name

    @property
    def template(self) -> ChatTemplate | None:
        return ChatTemplate(self.tokenizer) if self.tokenizer.has_chat_tokens else None


def load_bundle(path: str | Path | None, *, device: torch.device | str = "cpu",
                dtype: torch.dtype = torch.float32) -> Bundle:
    """Load a model directory strictly; every failure is a ChatcliError naming the file."""
    directory = Path(path) if path else default_model_dir()
    if not directory.exists():
        hint = " (from $CHATCLI_MODEL)" if not path and os.environ.get("CHATCLI_MODEL") else ""
        raise ChatcliError(f"{directory}: model directory not found{hint}")
    if not directory.is_dir():
        raise ChatcliError(f"{directory}: not a directory (--model takes a model directory)")
    tok = Tokenizer.load(directory / MODEL_FILE)
    model, meta = load_model(directory, device=device, dtype=dtype)
    if tok.vocab_size != model.config.vocab_size:
        raise ChatcliError(f"{directory / MODEL_FILE}: tokenizer has {tok.vocab_size} tokens but "
                           f"{directory / CONFIG} says vocab_size {model.config.vocab_size}")
    return Bundle(model, tok, meta, directory, torch.device(device), dtype)


def save_bundle(directory: str | Path, model: Transformer, tok: Tokenizer, *, training: dict | None = None,
                dtype: torch.dtype | None = None) -> Path:
    """Write a complete model directory: weights, config.json, tokenizer.model."""
    directory = Path(directory)
    if tok.vocab_size != model.config.vocab_size:
        raise ChatcliError(f"tokenizer has {tok.vocab_size} tokens but the model expects {model.config.vocab_size}")
    directory.mkdir(parents=True, exist_ok=True)
    atomic_write_bytes(directory / MODEL_FILE, tok.serialized())
    save_model(directory, model, tokenizer=tok.info(), training=training, dtype=dtype)
    return directory


__all__ = ["Bundle", "load_bundle", "save_bundle", "default_model_dir", "bundled_model_dir", "BUNDLED",
           "WEIGHTS", "CONFIG"]
