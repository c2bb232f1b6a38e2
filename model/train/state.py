"""Pickle-free training state: weights and optimizer tensors in safetensors, scalars in JSON.

Layout under `<run>/train_state/`:
    step-<N>/model.safetensors      fp32 master weights
    step-<N>/optimizer.safetensors  every optimizer tensor ("o<k>.state.<param>.<name>") and RNG states
    step-<N>/state.json             step, counters, param groups, non-tensor optimizer values
    latest.json                     {"dir": "step-<N>"}: written last (atomically), so a crash at any point
                                    leaves the previous complete checkpoint in force
"""
from __future__ import annotations

import json
import shutil
from pathlib import Path

import torch

from model.checkpoint import CheckpointError, atomic_save_tensors, atomic_write_json, export_state_dict, load_weights

STATE_DIR = "train_state"


def _flatten_optimizer(opts: list[torch.optim.Optimizer]) -> tuple[dict[str, torch.Tensor], list[dict]]:
    tensors: dict[str, torch.Tensor] = {}
    info = []
    for k, opt in enumerate(opts):
        sd = opt.state_dict()
        scalars: dict[str, dict] = {}
        for pid, st in sd["state"].items():
            for name, v in st.items():
                if torch.is_tensor(v):
                    tensors[f"o{k}.state.{pid}.{name}"] = v.detach().contiguous().cpu()
                else:
                    scalars.setdefault(str(pid), {})[name] = v
        info.append({"param_groups": sd["param_groups"], "scalars": scalars, "ids": [str(i) for i in sd["state"]]})
    return tensors, info


def _unflatten_optimizer(opts, tensors: dict[str, torch.Tensor], info: list[dict]) -> None:
    if len(info) != len(opts):
        raise CheckpointError(f"checkpoint has {len(info)} optimizers, this run builds {len(opts)} (same --optimizer?)")
    for k, (opt, meta) in enumerate(zip(opts, info)):
        state: dict[int, dict] = {}
        prefix = f"o{k}.state."
        for key, t in tensors.items():
            if key.startswith(prefix):
                pid, name = key[len(prefix):].split(".", 1)
                state.setdefault(int(pid), {})[name] = t
        for pid, vals in meta["scalars"].items():
            state.setdefault(int(pid), {}).update(vals)
        opt.load_state_dict({"state": state, "param_groups": meta["param_groups"]})


def rng_tensors() -> dict[str, torch.Tensor]:
    out = {"rng.torch": torch.get_rng_state()}
    if torch.cuda.is_available():
        for i, s in enumerate(torch.cuda.get_rng_state_all()):
            out[f"rng.cuda.{i}"] = s
    return out


def save_state(run_dir: Path, model, opts, scalars: dict) -> Path:
    """Write a complete checkpoint for scalars["step"], point latest.json at it, drop older ones."""
    root = Path(run_dir) / STATE_DIR
    step_dir = root / f"step-{scalars['step']}"
    step_dir.mkdir(parents=True, exist_ok=True)
    atomic_save_tensors(step_dir / "model.safetensors", export_state_dict(model), metadata={"format": "pt"})
    opt_tensors, opt_info = _flatten_optimizer(opts)
    atomic_save_tensors(step_dir / "optimizer.safetensors", {**opt_tensors, **rng_tensors()})
    atomic_write_json(step_dir / "state.json", {"scalars": scalars, "optimizers": opt_info})
    atomic_write_json(root / "latest.json", {"dir": step_dir.name, "step": scalars["step"]})
    for old in root.glob("step-*"):
        if old.is_dir() and old.name != step_dir.name:
            shutil.rmtree(old, ignore_errors=True)
    return step_dir


def has_state(run_dir: Path) -> bool:
    return (Path(run_dir) / STATE_DIR / "latest.json").is_file()


def load_state(run_dir: Path, model, opts, device: torch.device) -> dict:
    """Restore weights, optimizer tensors and RNG; returns the saved scalars."""
    root = Path(run_dir) / STATE_DIR
    try:
        latest = json.loads((root / "latest.json").read_text())
        step_dir = root / latest["dir"]
        meta = json.loads((step_dir / "state.json").read_text())
    except (OSError, ValueError, KeyError) as e:
        raise CheckpointError(f"{root}: no usable training state ({e})") from None
    sd = load_weights(step_dir / "model.safetensors")
    target = getattr(model, "module", model)
    missing, unexpected = target.load_state_dict({k: v.to(device) for k, v in sd.items()}, strict=False)
    missing = [m for m in missing if not (target.config.tie_embeddings and m == "output.weight")]
    if missing or unexpected:
        raise CheckpointError(f"{step_dir}: weights do not match this model ({(missing + unexpected)[:3]})")
    tensors = load_weights(step_dir / "optimizer.safetensors")
    _unflatten_optimizer(opts, {k: v.to(device) if not k.endswith(".step") else v
                                for k, v in tensors.items() if not k.startswith("rng.")}, meta["optimizers"])
    torch.set_rng_state(tensors["rng.torch"].clone())  # an owned copy: the loaded tensor may be a file mapping
    if torch.cuda.is_available():
        cuda = [tensors[k] for k in sorted(tensors) if k.startswith("rng.cuda.")]
        if cuda:
            torch.cuda.set_rng_state_all([c.clone() for c in cuda])
    return meta["scalars"]
