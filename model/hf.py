"""Hugging Face Llama interop: our state dict and config <-> `LlamaForCausalLM` files.

Pure renaming: the transformer already uses HF's "rotate half" rotary layout, so no weight is
permuted. Needs no `transformers` import; the tests use transformers only as a reference.
Export writes config.json, generation_config.json (stop ids, default sampling) and
model.safetensors; the tokenizer files are written by chatcli.hf_export.
"""
from __future__ import annotations

import json
import re
from pathlib import Path

import torch

from model.checkpoint import (
    CheckpointError,
    atomic_save_tensors,
    atomic_write_json,
    check_state_dict,
    export_state_dict,
    load_weights,
    read_json_file,
)
from model.config import ConfigError, ModelConfig
from model.transformer import Transformer

_LAYER_MAP = {
    "attention.wq.weight": "self_attn.q_proj.weight",
    "attention.wk.weight": "self_attn.k_proj.weight",
    "attention.wv.weight": "self_attn.v_proj.weight",
    "attention.wo.weight": "self_attn.o_proj.weight",
    "feed_forward.w1.weight": "mlp.gate_proj.weight",
    "feed_forward.w3.weight": "mlp.up_proj.weight",
    "feed_forward.w2.weight": "mlp.down_proj.weight",
    "attention_norm.weight": "input_layernorm.weight",
    "ffn_norm.weight": "post_attention_layernorm.weight",
}
_TOP_MAP = {"tok_embeddings.weight": "model.embed_tokens.weight", "norm.weight": "model.norm.weight",
            "output.weight": "lm_head.weight"}
_INV_LAYER_MAP = {v: k for k, v in _LAYER_MAP.items()}
_INV_TOP_MAP = {v: k for k, v in _TOP_MAP.items()}
_LAYER_RE = re.compile(r"^layers\.(\d+)\.(.+)$")
_HF_LAYER_RE = re.compile(r"^model\.layers\.(\d+)\.(.+)$")


def to_hf_name(name: str) -> str:
    if name in _TOP_MAP:
        return _TOP_MAP[name]
    m = _LAYER_RE.match(name)
    assert m and m.group(2) in _LAYER_MAP, f"no HF name for {name}"
    return f"model.layers.{m.group(1)}.{_LAYER_MAP[m.group(2)]}"


def from_hf_name(name: str) -> str | None:
    """Our name for an HF tensor name, or None for tensors we do not keep (rotary caches)."""
    if name in _INV_TOP_MAP:
        return _INV_TOP_MAP[name]
    m = _HF_LAYER_RE.match(name)
    if m:
        if m.group(2) in _INV_LAYER_MAP:
            return f"layers.{m.group(1)}.{_INV_LAYER_MAP[m.group(2)]}"
        if m.group(2).endswith("rotary_emb.inv_freq"):
            return None
    raise CheckpointError(f"unsupported tensor in Hugging Face checkpoint: {name}")


def hf_config(cfg: ModelConfig, bos_id: int = 1, eos_id: int = 2, dtype: str = "float32") -> dict:
    return {
        "architectures": ["LlamaForCausalLM"], "model_type": "llama",
        "vocab_size": cfg.vocab_size, "hidden_size": cfg.dim, "intermediate_size": cfg.ffn_hidden,
        "num_hidden_layers": cfg.n_layers, "num_attention_heads": cfg.n_heads,
        "num_key_value_heads": cfg.n_kv_heads, "head_dim": cfg.head_dim,
        "max_position_embeddings": cfg.max_seq_len, "rms_norm_eps": cfg.norm_eps,
        "rope_theta": cfg.rope_theta, "rope_parameters": {"rope_type": "default", "rope_theta": cfg.rope_theta},
        "rope_scaling": None, "tie_word_embeddings": cfg.tie_embeddings, "hidden_act": "silu",
        "attention_bias": False, "mlp_bias": False, "attention_dropout": 0.0,
        "bos_token_id": bos_id, "eos_token_id": eos_id, "torch_dtype": dtype, "initializer_range": 0.02,
    }


def config_from_hf(data: dict, where: Path | str) -> ModelConfig:
    if data.get("model_type") != "llama":
        raise CheckpointError(f"{where}: model_type {data.get('model_type')!r} is not supported (only llama)")
    if data.get("hidden_act", "silu") != "silu":
        raise CheckpointError(f"{where}: hidden_act {data.get('hidden_act')!r} is not supported (only silu)")
    if data.get("attention_bias") or data.get("mlp_bias"):
        raise CheckpointError(f"{where}: biases in attention or MLP are not supported")
    rope = data.get("rope_parameters") or data.get("rope_scaling") or {}
    if rope.get("rope_type", rope.get("type", "default")) not in ("default", None):
        raise CheckpointError(f"{where}: rope scaling {rope.get('rope_type')!r} is not supported")
    theta = rope.get("rope_theta", data.get("rope_theta", 10000.0))
    heads = data["num_attention_heads"]
    head_dim = data.get("head_dim") or data["hidden_size"] // heads
    if head_dim * heads != data["hidden_size"]:
        raise CheckpointError(f"{where}: head_dim * heads != hidden_size is not supported")
    try:
        return ModelConfig(
            vocab_size=data["vocab_size"], dim=data["hidden_size"], n_layers=data["num_hidden_layers"],
            n_heads=heads, n_kv_heads=data.get("num_key_value_heads") or heads,
            ffn_hidden=data["intermediate_size"], max_seq_len=data.get("max_position_embeddings", 2048),
            rope_theta=float(theta), norm_eps=float(data.get("rms_norm_eps", 1e-6)),
            tie_embeddings=bool(data.get("tie_word_embeddings", False)))
    except (ConfigError, KeyError) as e:
        raise CheckpointError(f"{where}: cannot read config: {e}") from None


def generation_config(bos_id: int, stop_ids: list[int], sampling: dict | None = None) -> dict:
    """generation_config.json: the ids that end an answer (all of them, e.g. <|end|> and </s>) and
    default sampling, so `model.generate(...)` stops where chatcli stops."""
    doc = {"bos_token_id": bos_id, "eos_token_id": list(stop_ids), "pad_token_id": stop_ids[-1]}
    s = sampling or {}
    if s:
        doc["do_sample"] = s.get("temperature", 1.0) > 0
        if s.get("temperature", 0) > 0:
            doc["temperature"] = s["temperature"]
        off = {"top_p": 1.0, "top_k": 0, "min_p": 0.0, "repeat_penalty": 1.0}
        for ours, theirs in (("top_p", "top_p"), ("top_k", "top_k"), ("min_p", "min_p"),
                             ("repeat_penalty", "repetition_penalty")):
            if ours in s and s[ours] != off[ours]:
                doc[theirs] = s[ours]
    return doc


def export_hf(model: Transformer, out_dir: Path, *, bos_id: int = 1, eos_id: int = 2,
              dtype: torch.dtype | None = None, stop_ids: list[int] | None = None,
              sampling: dict | None = None) -> None:
    """Write config.json, generation_config.json and model.safetensors in HF Llama layout.

    stop_ids: every id that ends generation (default [eos_id]); sampling: default sampling
    settings (SamplingConfig field names) for generation_config.json.
    """
    out_dir = Path(out_dir)
    sd = {to_hf_name(k): v for k, v in export_state_dict(model, dtype).items()}
    atomic_save_tensors(out_dir / "model.safetensors", sd, metadata={"format": "pt"})
    dname = str(dtype or next(model.parameters()).dtype).replace("torch.", "")
    atomic_write_json(out_dir / "config.json", hf_config(model.config, bos_id, eos_id, dname))
    atomic_write_json(out_dir / "generation_config.json", generation_config(bos_id, stop_ids or [eos_id], sampling))


def _hf_weights(hf_dir: Path) -> dict[str, torch.Tensor]:
    single = hf_dir / "model.safetensors"
    if single.is_file():
        return load_weights(single)
    index = hf_dir / "model.safetensors.index.json"
    if index.is_file():
        files = sorted(set(json.loads(index.read_text(encoding="utf-8"))["weight_map"].values()))
        out: dict[str, torch.Tensor] = {}
        for f in files:
            out.update(load_weights(hf_dir / f))
        return out
    raise CheckpointError(f"{hf_dir}: no model.safetensors (pytorch .bin files are refused: they are pickles)")


def import_hf(hf_dir: Path, dtype: torch.dtype = torch.float32) -> Transformer:
    """Build our Transformer from an HF Llama directory (config.json + safetensors)."""
    hf_dir = Path(hf_dir)
    cfg_path = hf_dir / "config.json"
    cfg = config_from_hf(read_json_file(cfg_path), cfg_path)
    sd = {}
    for name, t in _hf_weights(hf_dir).items():
        ours = from_hf_name(name)
        if ours is not None:
            sd[ours] = t.to(dtype)
    if cfg.tie_embeddings:
        sd.pop("output.weight", None)
    model = Transformer(cfg).to(dtype)
    check_state_dict(sd, model, hf_dir)
    model.load_state_dict(sd, strict=False)
    model.eval()
    return model
