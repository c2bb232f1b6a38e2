"""`inspect tokens`: how text splits into pieces and ids, with character/byte/token counts."""
from __future__ import annotations

from rich.cells import cell_len
from rich.text import Text

from chatcli.inspect.common import BYTE_PIECE, console, piece_label

SEGMENT_STYLES = ("black on bright_cyan", "black on bright_yellow")


def segments(tok, ids: list[int]) -> list[dict]:
    """Token ids grouped into displayable segments: a run of byte pieces decodes together as UTF-8."""
    out, pending, pending_ids = [], b"", []

    def flush() -> None:
        nonlocal pending, pending_ids
        if pending_ids:
            out.append({"ids": pending_ids, "text": pending.decode("utf-8", errors="replace")})
            pending, pending_ids = b"", []

    for i in ids:
        piece = tok.piece(i)
        m = BYTE_PIECE.match(piece)
        if m:
            pending += bytes([int(m.group(1), 16)])
            pending_ids = pending_ids + [i]
            continue
        flush()
        out.append({"ids": [i], "text": piece.replace("▁", " ")})
    flush()
    return out


def compute_tokens(tok, text: str) -> dict:
    ids = tok.encode(text)
    n_chars, n_bytes = len(text), len(text.encode("utf-8"))
    return {
        "text": text,
        "tokens": [{"id": i, "piece": tok.piece(i)} for i in ids],
        "segments": segments(tok, ids),
        "counts": {"chars": n_chars, "bytes": n_bytes, "tokens": len(ids),
                   "chars_per_token": n_chars / len(ids) if ids else None,
                   "bytes_per_token": n_bytes / len(ids) if ids else None},
        "roundtrip": tok.decode(ids) == text,
    }


def render_tokens(doc: dict) -> None:
    out = console()
    c = doc["counts"]
    colour = not out.no_color and out.is_terminal
    line = Text()
    for k, seg in enumerate(doc["segments"]):
        shown = piece_label(seg["text"])
        if colour:
            line.append(shown, style=SEGMENT_STYLES[k % 2])
        else:
            line.append(("|" if k else "") + shown)
    out.print(line)
    cpt = f"{c['chars_per_token']:.2f}" if c["chars_per_token"] else "-"
    out.print(f"\n[bold]{c['tokens']}[/bold] tokens · {c['chars']} chars · {c['bytes']} bytes · "
              f"{cpt} chars per token")
    out.print("[dim]The model never sees letters, only these ids. ▁ marks a space; <0x..> pieces are raw "
              "bytes for text the vocabulary lacks.[/dim]\n")
    width = max((cell_len(piece_label(t["piece"])) for t in doc["tokens"]), default=5)
    per_row = max(1, (out.width + 2) // (width + 8))
    cells = [f"{t['id']:>5} " + piece_label(t["piece"]) + " " * (width - cell_len(piece_label(t["piece"])))
             for t in doc["tokens"]]
    for start in range(0, len(cells), per_row):
        out.print("  ".join(cells[start:start + per_row]), markup=False)
