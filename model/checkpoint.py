"""Model directories on disk: model.safetensors + config.json, written atomically, loaded strictly.

Layout of a model directory (see README):
    model.safetensors   state dict of the uncompiled model (tied head stored once)
    config.json         {"format_version": 1, "model": {...}, "tokenizer": {...}, "training": {...}}
    tokenizer.model     written by the caller (this package never touches tokenizers)

Nothing here ever unpickles: weights are safetensors, metadata is JSON. Every file the project
writes goes through `atomic_output` here (temp file beside the target, fsync, rename: JSON, JSONL,
text, GGUF and PNG outputs elsewhere too), and ends with the mode a plain open() would give it
(0644 under the usual umask), so others can read an exported model.

Loading builds the model skeleton with torch.nn.init's fillers switched off (`_skeleton`): every
weight is then assigned from the file, so random init would be wasted work. The skeleton's tensors
are uninitialised CPU memory (torch.empty: pages are never touched, so nothing is committed), not
meta tensors: ops on the meta device run through torch's Python reference kernels, which import
torch._dynamo (about a third of a one-shot answer's start-up). The weights themselves are views of
a private memory map of model.safetensors (`load_weights`): loading copies nothing.
"""
from __future__ import annotations

import contextlib
import json
import os
import tempfile
import threading
from collections.abc import Iterable, Iterator
from pathlib import Path
from typing import Any

import torch
from safetensors import SafetensorError, safe_open
from safetensors.torch import load_file, save_file

from model.config import ConfigError, ModelConfig
from model.transformer import Transformer

FORMAT_VERSION = 1
WEIGHTS = "model.safetensors"
CONFIG = "config.json"


class CheckpointError(Exception):
    """A model directory or weights file that cannot be loaded as asked."""


def _file_mode() -> int:
    """The mode open() would give a new file (0666 less the umask), read once at import."""
    mask = os.umask(0o022)
    os.umask(mask)
    return 0o666 & ~mask


FILE_MODE = _file_mode()  # mkstemp's temp files are 0600; finished files get this instead


@contextlib.contextmanager
def atomic_output(path: Path) -> Iterator[Path]:
    """The one atomic writer: yields a temp path beside `path` to write; on success the file is
    given FILE_MODE, fsynced and renamed over `path`; on any error it is removed and `path` is untouched."""
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(prefix=f".{path.name}.", suffix=".tmp", dir=path.parent)
    os.close(fd)
    try:
        yield Path(tmp)
        os.chmod(tmp, FILE_MODE)
        with open(tmp, "rb") as f:
            os.fsync(f.fileno())
        os.replace(tmp, path)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise


def atomic_write_bytes(path: Path, data: bytes) -> None:
    with atomic_output(path) as tmp:
        tmp.write_bytes(data)


def atomic_write_text(path: Path, text: str) -> None:
    atomic_write_bytes(path, text.encode("utf-8"))


def atomic_write_json(path: Path, obj: Any, indent: int | None = 2) -> None:
    atomic_write_text(path, json.dumps(obj, indent=indent, ensure_ascii=False) + "\n")


def atomic_write_jsonl(path: Path, records: Iterable[Any]) -> int:
    """One JSON value a line (ensure_ascii off), written atomically; returns the number of lines."""
    lines = [json.dumps(r, ensure_ascii=False) + "\n" for r in records]
    atomic_write_text(path, "".join(lines))
    return len(lines)


def atomic_save_tensors(path: Path, tensors: dict[str, torch.Tensor], metadata: dict[str, str] | None = None) -> None:
    with atomic_output(path) as tmp:
        save_file(tensors, tmp, metadata=metadata)


def export_state_dict(model: Transformer, dtype: torch.dtype | None = None) -> dict[str, torch.Tensor]:
    """State dict ready for safetensors: unwrapped names, tied head dropped, contiguous, optional dtype."""
    model = getattr(model, "_orig_mod", model)
    model = getattr(model, "module", model)
    sd = {}
    for name, t in model.state_dict().items():
        if model.config.tie_embeddings and name == "output.weight":
            continue
        t = t.detach()
        if dtype is not None and t.is_floating_point():
            t = t.to(dtype)
        sd[name] = t.contiguous().cpu()
    return sd


def save_model(directory: Path, model: Transformer, *, tokenizer: dict | None = None,
               training: dict | None = None, dtype: torch.dtype | None = None) -> None:
    """Write model.safetensors then config.json (each atomically) into directory."""
    directory = Path(directory)
    atomic_save_tensors(directory / WEIGHTS, export_state_dict(model, dtype), metadata={"format": "pt"})
    atomic_write_json(directory / CONFIG, {
        "format_version": FORMAT_VERSION,
        "model": model.config.to_dict(),
        "tokenizer": tokenizer or {},
        "training": training or {},
    })


def read_json_file(path: Path, missing: str = "not found") -> Any:
    """A JSON file's value; a missing or malformed file is a one-line CheckpointError naming it."""
    path = Path(path)
    if not path.is_file():
        raise CheckpointError(f"{path}: {missing}")
    try:
        return json.loads(path.read_text(encoding="utf-8"))
    except (UnicodeDecodeError, json.JSONDecodeError) as e:
        raise CheckpointError(f"{path}: not valid JSON ({e})") from None


def read_config(directory: Path) -> dict:
    path = Path(directory) / CONFIG
    data = read_json_file(path, f"not found (is {directory} a model directory?)")
    if not isinstance(data, dict) or "model" not in data:
        raise CheckpointError(f"{path}: missing the \"model\" section")
    version = data.get("format_version")
    if version != FORMAT_VERSION:
        raise CheckpointError(f"{path}: format_version {version!r} is not supported (expected {FORMAT_VERSION})")
    return data


def model_config_from(data: dict, where: Path | str) -> ModelConfig:
    try:
        return ModelConfig.from_dict(data["model"])
    except (ConfigError, TypeError) as e:
        raise CheckpointError(f"{where}: invalid model config: {e}") from None


def load_weights(path: Path) -> dict[str, torch.Tensor]:
    path = Path(path)
    if not path.is_file():
        raise CheckpointError(f"{path}: not found")
    try:
        with safe_open(str(path), framework="pt"):  # safetensors validates the header and offsets
            pass
        return _mapped(path) or load_file(str(path))
    except (SafetensorError, OSError, ValueError, RuntimeError) as e:
        raise CheckpointError(f"{path}: corrupt or truncated safetensors file ({e})") from None


_DTYPES = {"F32": torch.float32, "BF16": torch.bfloat16, "F16": torch.float16, "F64": torch.float64,
           "I64": torch.int64, "I32": torch.int32, "I8": torch.int8, "U8": torch.uint8, "BOOL": torch.bool}


def _mapped(path: Path) -> dict[str, torch.Tensor] | None:
    """Tensors of an (already validated) safetensors file as views of one private memory map of it:
    nothing is copied, pages are read on first touch, writes stay private (copy on write).
    None when the file's layout does not allow views (unknown dtype, misaligned data)."""
    size = path.stat().st_size
    with open(path, "rb") as f:
        n = int.from_bytes(f.read(8), "little")
        header = json.loads(f.read(n))
    storage = torch.UntypedStorage.from_file(str(path), shared=False, nbytes=size)
    out = {}
    for name, info in header.items():
        if name == "__metadata__":
            continue
        dtype = _DTYPES.get(info["dtype"])
        start = 8 + n + info["data_offsets"][0]
        if dtype is None or start % dtype.itemsize:
            return None
        out[name] = torch.empty(0, dtype=dtype).set_(storage, start // dtype.itemsize, info["shape"])
    return out


def check_state_dict(sd: dict[str, torch.Tensor], model: Transformer, where: Path | str) -> None:
    """Strict match of names and shapes; raises CheckpointError naming what differs."""
    expected = {k: v.shape for k, v in model.state_dict().items()
                if not (model.config.tie_embeddings and k == "output.weight")}
    missing = sorted(set(expected) - set(sd))
    unknown = sorted(set(sd) - set(expected))
    if missing:
        raise CheckpointError(f"{where}: missing tensors: {', '.join(missing[:5])}{' ...' if len(missing) > 5 else ''}")
    if unknown:
        raise CheckpointError(f"{where}: unknown tensors: {', '.join(unknown[:5])}{' ...' if len(unknown) > 5 else ''}")
    for k, shape in expected.items():
        if tuple(sd[k].shape) != tuple(shape):
            raise CheckpointError(f"{where}: tensor {k} has shape {tuple(sd[k].shape)}, config expects {tuple(shape)}")
        if not sd[k].is_floating_point():
            raise CheckpointError(f"{where}: tensor {k} has non-float dtype {sd[k].dtype}")


_INIT_FILLERS = ("normal_", "uniform_", "trunc_normal_", "kaiming_uniform_", "kaiming_normal_",
                 "xavier_uniform_", "xavier_normal_", "zeros_", "ones_", "constant_")
_skeleton_lock = threading.Lock()


def _keep(tensor, *args, **kwargs):
    return tensor


@contextlib.contextmanager
def _no_init():
    """torch.nn.init's in-place fillers as no-ops for the duration (restored afterwards)."""
    with _skeleton_lock:
        saved = {name: getattr(torch.nn.init, name) for name in _INIT_FILLERS if hasattr(torch.nn.init, name)}
        try:
            for name in saved:
                setattr(torch.nn.init, name, _keep)
            yield
        finally:
            for name, fn in saved.items():
                setattr(torch.nn.init, name, fn)


def _skeleton(cfg: ModelConfig) -> Transformer:
    """A Transformer with uninitialised weights, to be filled by load_state_dict(assign=True)."""
    with _no_init():
        return Transformer(cfg)


def load_model(directory: Path, *, device: torch.device | str = "cpu",
               dtype: torch.dtype = torch.float32) -> tuple[Transformer, dict]:
    """Build the model from config.json and load model.safetensors strictly. Returns (model, config data)."""
    directory = Path(directory)
    data = read_config(directory)
    cfg = model_config_from(data, directory / CONFIG)
    weights = directory / WEIGHTS
    sd = load_weights(weights)
    model = _skeleton(cfg)
    check_state_dict(sd, model, weights)
    for k, t in sd.items():
        if not torch.isfinite(t.float()).all():
            raise CheckpointError(f"{weights}: tensor {k} holds NaN or infinite values")
    model.load_state_dict({k: v.to(dtype) for k, v in sd.items()}, strict=False, assign=True)
    if cfg.tie_embeddings:
        model.output.weight = model.tok_embeddings.weight
    model.reset_rope()
    model.to(device=device)
    model.eval()
    return model, data
