"""The model card: shape, parameters by component, bytes, KV cache, tokenizer and training history."""
from __future__ import annotations

import json
import struct
from pathlib import Path

from rich.table import Table

from chatcli.inspect.common import console, human_bytes, human_count

SAFETENSORS_SIZES = {"F64": 8, "F32": 4, "F16": 2, "BF16": 2, "I64": 8, "I32": 4, "I16": 2, "I8": 1, "U8": 1,
                     "BOOL": 1, "F8_E4M3": 1, "F8_E5M2": 1}
COMPONENT_HELP = {
    "embeddings": "one vector per token: the model's dictionary of meanings",
    "attention": "q/k/v/o projections: how tokens look back at earlier tokens",
    "mlp": "SwiGLU feed-forward: per-token processing, most of the knowledge",
    "norms": "RMSNorm gains: keep activations at a steady scale",
    "output": "turns the final vector into a score for every token",
}


def disk_bytes_by_dtype(weights: Path) -> dict[str, int]:
    """Bytes per dtype in a safetensors file, read from its header alone."""
    with open(weights, "rb") as f:
        (n,) = struct.unpack("<Q", f.read(8))
        header = json.loads(f.read(n))
    out: dict[str, int] = {}
    for name, info in header.items():
        if name == "__metadata__":
            continue
        start, end = info["data_offsets"]
        out[info["dtype"]] = out.get(info["dtype"], 0) + (end - start)
    return out


def training_summary(training: dict) -> dict:
    stages = training.get("stages") or []
    stages = [s for s in stages if isinstance(s, dict)]
    steps = sum(int(s.get("steps") or 0) for s in stages)
    tokens = training.get("tokens_seen")
    if tokens is None:
        tokens = sum(int(s.get("tokens") or 0) for s in stages) or None
    with_bpb = [s for s in stages if s.get("val_bpb") is not None]
    last_bpb = training.get("last_val_bpb")
    last_stage = with_bpb[-1].get("stage", "?") if with_bpb else None
    if last_bpb is None and with_bpb:
        last_bpb = with_bpb[-1]["val_bpb"]
    # plain held-out text: the validation split of the last pretraining stage (SFT/DPO validate on chat data)
    text = [s for s in with_bpb if s.get("stage") == "pretrain"]
    return {"stages_run": [s.get("stage", "?") for s in stages], "steps": steps, "tokens_seen": tokens,
            "last_val_bpb": last_bpb, "last_val_stage": last_stage,
            "heldout_text_bpb": text[-1]["val_bpb"] if text else None, "stages": stages}


VAL_DATA = {"pretrain": "held-out pretraining text",
            "sft": "held-out chat conversations, assistant replies only",
            "dpo": "held-out preference pairs"}


def compute_card(bundle) -> dict:
    from model.introspect import kv_bytes_per_token, parameter_breakdown
    cfg, tok = bundle.model.config, bundle.tokenizer
    breakdown = parameter_breakdown(bundle.model)
    weights = bundle.path / "model.safetensors"
    kv = {"float32": kv_bytes_per_token(cfg, 4), "bfloat16": kv_bytes_per_token(cfg, 2)}
    n_bytes = sum(1 for i in range(tok.vocab_size) if tok.piece(i).startswith("<0x") and tok.piece(i).endswith(">"))
    return {
        "path": str(bundle.path),
        "config": {**cfg.to_dict(), "head_dim": cfg.head_dim},
        "parameters": {
            "total": breakdown["total"],
            "from_config": cfg.num_params(),
            "components": breakdown["components"],
            "output_head": "tied to embeddings (shared, counted once)" if cfg.tie_embeddings else "separate matrix",
            "tensors": breakdown["tensors"],
        },
        "bytes": {"in_memory": breakdown["bytes_by_dtype"], "on_disk": disk_bytes_by_dtype(weights),
                  "file_size": weights.stat().st_size},
        "kv_cache": {"bytes_per_token": kv,
                     "full_context_bytes": {k: v * cfg.max_seq_len for k, v in kv.items()}},
        "context_length": cfg.max_seq_len,
        "tokenizer": {"vocab_size": tok.vocab_size, "bos_id": tok.bos_id, "eos_id": tok.eos_id,
                      "unk_id": tok.unk_id, "special": dict(tok.special), "byte_fallback_pieces": n_bytes,
                      "chat_markers": tok.has_chat_tokens},
        "training": training_summary(bundle.meta.get("training") or {}),
    }


def _table(title: str) -> Table:
    t = Table(title=title, title_justify="left", title_style="bold", show_header=False, box=None, pad_edge=False)
    t.add_column(style="cyan", no_wrap=True)
    t.add_column(justify="right", no_wrap=True)
    t.add_column(style="dim")
    return t


def render_card(card: dict) -> None:
    out = console()
    cfg, params = card["config"], card["parameters"]
    out.print(f"[bold]Model card[/bold]  {card['path']}")
    out.print("[dim]A transformer reads tokens and scores every possible next token. Each parameter is a "
              "knob set by training.[/dim]\n")

    t = _table("Shape")
    t.add_row("layers", str(cfg["n_layers"]), "blocks the text passes through, one after another")
    t.add_row("width (dim)", str(cfg["dim"]), "numbers describing each token inside the model")
    t.add_row("attention heads", f"{cfg['n_heads']} ({cfg['n_kv_heads']} kv)",
              "parallel 'lookups' per layer; kv heads are shared between query heads (GQA)")
    t.add_row("head size", str(cfg["head_dim"]), "width of each head's query/key vectors")
    t.add_row("MLP hidden", str(cfg["ffn_hidden"]), "width of the feed-forward layer inside each block")
    t.add_row("context length", str(card["context_length"]), "most tokens the model can see at once")
    t.add_row("rope theta", f"{cfg['rope_theta']:g}", "base of the rotary position code")
    out.print(t, "")

    t = _table(f"Parameters: {params['total']:,} ({human_count(params['total'])})")
    total = max(params["total"], 1)
    for comp, n in params["components"].items():
        if comp == "output" and cfg["tie_embeddings"]:
            t.add_row("output head", "shared", "reuses the embedding matrix (tied), so no extra knobs")
            continue
        t.add_row(comp, f"{n:,}  {100 * n / total:5.1f}%", COMPONENT_HELP[comp])
    out.print(t, "")

    t = _table("Memory")
    for dt, n in card["bytes"]["in_memory"].items():
        t.add_row(f"weights ({dt}, loaded)", human_bytes(n), "what the weights take in RAM as loaded")
    for dt, n in card["bytes"]["on_disk"].items():
        t.add_row(f"weights ({dt}, on disk)", human_bytes(n), "model.safetensors tensors")
    kv = card["kv_cache"]
    t.add_row("KV cache / token", f"{human_bytes(kv['bytes_per_token']['float32'])} fp32, "
              f"{human_bytes(kv['bytes_per_token']['bfloat16'])} bf16",
              "keys and values remembered per token so earlier text is not recomputed")
    t.add_row("KV cache, full context", human_bytes(kv["full_context_bytes"]["float32"]) + " fp32",
              f"for all {card['context_length']} positions")
    out.print(t, "")

    tk = card["tokenizer"]
    t = _table("Tokenizer")
    t.add_row("vocabulary", f"{tk['vocab_size']:,}", "distinct pieces (tokens) the model knows")
    t.add_row("byte pieces", str(tk["byte_fallback_pieces"]), "raw bytes, so any text can be written")
    t.add_row("bos / eos / unk", f"{tk['bos_id']} / {tk['eos_id']} / {tk['unk_id']}", "start, end and unknown ids")
    for name, pid in tk["special"].items():
        t.add_row(name, str(pid), "chat marker (only the chat template can insert it)")
    out.print(t, "")

    tr = card["training"]
    t = _table("Training")
    if not tr["stages"]:
        t.add_row("stages", "none recorded", "config.json has no training history")
    else:
        t.add_row("stages run", ", ".join(tr["stages_run"]), "pretrain: read text; sft: learn to chat; dpo: preferences")
        t.add_row("steps", f"{tr['steps']:,}", "optimizer updates: each nudges every knob a little")
        if tr["tokens_seen"]:
            t.add_row("tokens seen", human_count(tr["tokens_seen"]), "training text read, in tokens")
        if tr.get("heldout_text_bpb") is not None:
            t.add_row("held-out text bpb", f"{tr['heldout_text_bpb']:.4f}",
                      "bits per byte on text held out from pretraining: lower means better prediction")
        stage = tr.get("last_val_stage")
        if tr["last_val_bpb"] is not None and stage != "pretrain":
            what = VAL_DATA.get(stage, f"the {stage} stage's validation data") if stage else "the last validation data"
            t.add_row(f"last val bpb ({stage or '?'})", f"{tr['last_val_bpb']:.4f}",
                      f"bits per byte on {what}; not comparable with text bpb")
    out.print(t)
