"""Shared pieces of the inspect views: loading, prompt encoding, JSON output, bars and token labels."""
from __future__ import annotations

import json
import math
import os
import re
import sys
from pathlib import Path

from rich.console import Console

from chatcli.errors import ChatcliError
from chatcli.render import out_console

BYTE_PIECE = re.compile(r"^<0x([0-9A-Fa-f]{2})>$")
EIGHTHS = " ▏▎▍▌▋▊▉"


def console() -> Console:
    """stdout console; off a terminal it is 120 columns wide (unless COLUMNS says otherwise)."""
    c = out_console()
    if not c.is_terminal and "COLUMNS" not in os.environ:
        c.width = 120
    return c


def load(model: Path | None, device: str = "cpu"):
    """The bundle in float32 (inspection wants exact numbers, not speed)."""
    import torch

    from chatcli.bundle import load_bundle
    from chatcli.device import resolve_device
    return load_bundle(model, device=resolve_device(device), dtype=torch.float32)


def require_text(text: str | None, what: str = "TEXT") -> str:
    if text is None or text == "":
        raise ChatcliError(f"{what} is empty: give some text to inspect")
    return text


def encode_prompt(bundle, text: str, chat: bool) -> list[int]:
    """raw: <bos> + text, continued as plain text; chat: a one-user-turn prompt ending at the assistant marker."""
    tok = bundle.tokenizer
    if chat:
        if bundle.template is None:
            raise ChatcliError("this model's tokenizer has no chat markers; use --raw")
        return bundle.template.render_prompt([{"role": "user", "content": text}])
    return [tok.bos_id] + tok.encode(text)


def check_fits(bundle, n_tokens: int, extra: int = 0) -> None:
    limit = bundle.model.config.max_seq_len
    if n_tokens + extra > limit:
        raise ChatcliError(f"the text is {n_tokens} tokens{f' (+{extra} steps)' if extra else ''}; "
                           f"this model's context holds {limit}: shorten it")


def piece_label(piece: str) -> str:
    """A piece made printable on one line: newlines and tabs escaped (▁ is SentencePiece's space)."""
    return piece.replace("\n", "\\n").replace("\t", "\\t").replace("\r", "\\r")


def finite_or_none(x: float) -> float | None:
    return x if isinstance(x, (int, float)) and math.isfinite(x) else None


def emit_json(doc: dict) -> None:
    sys.stdout.write(json.dumps(doc, ensure_ascii=False, indent=2, allow_nan=False) + "\n")
    sys.stdout.flush()


def bar(fraction: float, width: int) -> str:
    """A horizontal bar of `width` cells for fraction in [0, 1], with eighth-block resolution."""
    fraction = min(max(fraction, 0.0), 1.0)
    eighths = round(fraction * width * 8)
    full, rest = divmod(eighths, 8)
    s = "█" * full + (EIGHTHS[rest] if rest else "")
    return s.ljust(width)


def human_bytes(n: float) -> str:
    for unit in ("B", "KiB", "MiB", "GiB", "TiB"):
        if abs(n) < 1024 or unit == "TiB":
            return f"{n:.0f} {unit}" if unit == "B" else f"{n:.1f} {unit}"
        n /= 1024
    return f"{n} B"


def human_count(n: float) -> str:
    for unit, size in (("B", 1e9), ("M", 1e6), ("K", 1e3)):
        if abs(n) >= size:
            return f"{n / size:.2f}{unit}"
    return f"{n:.0f}"
