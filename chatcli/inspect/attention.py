"""`inspect attention`: which earlier tokens each token looks at, per layer and head.

Weights come from model.introspect.attention_maps (recomputed explicitly, causal, rows sum to 1).
The terminal heatmap shows one head (or the mean of a layer's heads); --png draws every head.
"""
from __future__ import annotations

from rich.cells import set_cell_size
from rich.color import Color
from rich.style import Style
from rich.table import Table
from rich.text import Text

from chatcli.errors import ChatcliError
from chatcli.inspect.common import check_fits, console, encode_prompt, piece_label, require_text

SHADES = "·░▒▓█"  # plain-text intensity levels, by sqrt(weight)
RAMP = ((13, 8, 135), (126, 3, 168), (204, 71, 120), (248, 149, 64), (240, 249, 33))  # plasma
MAX_SHOWN = 64


def compute_attention(bundle, text: str, *, layer: int | None, head: int | None, chat: bool = False) -> dict:
    """Weights of every head of one layer (keys "weights", "heads"); `head` is only validated here.

    Narrow the result to one head with pick_head(doc, head)."""
    from model.introspect import attention_maps, check_layer_head
    require_text(text)
    cfg, tok = bundle.model.config, bundle.tokenizer
    layer = cfg.n_layers - 1 if layer is None else layer
    try:
        check_layer_head(cfg, layer, head)
    except ValueError as e:
        raise ChatcliError(str(e)) from None
    ids = encode_prompt(bundle, text, chat)
    check_fits(bundle, len(ids))
    maps, _ = attention_maps(bundle.model, ids)  # (L, H, T, T)
    layer_maps = maps[layer]  # (H, T, T)
    heads = list(range(cfg.n_heads))
    return {
        "text": text, "mode": "chat" if chat else "raw",
        "tokens": [{"id": i, "piece": tok.piece(i)} for i in ids],
        "n_layers": cfg.n_layers, "n_heads": cfg.n_heads, "layer": layer, "head": None, "heads": heads,
        "weights": [layer_maps[h].tolist() for h in heads],
        "head_summary": [head_summary(layer_maps[h], h) for h in range(cfg.n_heads)],
    }


def pick_head(doc: dict, head: int | None) -> dict:
    """The all-heads document narrowed to one head (or unchanged for None)."""
    if head is None:
        return doc
    return {**doc, "head": head, "heads": [head], "weights": [doc["weights"][doc["heads"].index(head)]]}


def head_summary(w, h: int) -> dict:
    """Where a head (T, T) puts its weight, averaged over query positions."""
    import torch
    T = w.shape[0]
    pos = torch.arange(T, dtype=torch.float32)
    dist = (w * (pos.view(-1, 1) - pos.view(1, -1)).clamp(min=0)).sum(-1)  # (T,)
    prev = torch.stack([w[t, t - 1] for t in range(1, T)]).mean() if T > 1 else torch.tensor(0.0)
    return {"head": h, "self": float(w.diagonal().mean()), "previous": float(prev),
            "first": float(w[:, 0].mean()), "mean_distance": float(dist.mean())}


def _mean(weights: list) -> list:
    n = len(weights)
    T = len(weights[0])
    return [[sum(w[r][c] for w in weights) / n for c in range(T)] for r in range(T)]


def _ramp(x: float) -> Color:
    x = min(max(x, 0.0), 1.0) * (len(RAMP) - 1)
    i = min(int(x), len(RAMP) - 2)
    f = x - i
    a, b = RAMP[i], RAMP[i + 1]
    return Color.from_rgb(*(round(a[k] + (b[k] - a[k]) * f) for k in range(3)))


def render_attention(doc: dict) -> None:
    out = console()
    colour = out.is_terminal and not out.no_color
    W = _mean(doc["weights"]) if len(doc["weights"]) > 1 else doc["weights"][0]
    T = len(W)
    label_w = 14
    cap = max(4, min(MAX_SHOWN, (out.width - label_w - 6) // 2))
    first = max(0, T - cap)
    which = f"head {doc['head']}" if doc["head"] is not None else f"mean of {doc['n_heads']} heads (pick one with --head)"
    out.print(f"[bold]Attention[/bold] layer {doc['layer']} of 0..{doc['n_layers'] - 1}, {which}")
    out.print("[dim]Row = the token reading; column = the earlier token it reads from. Each row sums to 1; "
              "nothing to the right of the diagonal (a token cannot see the future).[/dim]")
    if first:
        out.print(f"[yellow]showing the last {T - first} of {T} tokens (terminal width); "
                  f"weight on earlier tokens is not drawn; --json or --png has all[/yellow]")
    idx = range(first, T)
    tens = "".join(f"{(c // 10) % 10 if c >= 10 else ' '} " for c in idx)
    units = "".join(f"{c % 10} " for c in idx)
    out.print(" " * label_w + tens, markup=False, highlight=False)
    out.print(" " * label_w + units, markup=False, highlight=False)
    for r in idx:
        piece = piece_label(doc["tokens"][r]["piece"])
        piece = set_cell_size(piece, 8)
        line = Text(f"{r:>3} {piece}  ", style="bold" if r == T - 1 else "")
        for c in idx:
            if c > r:
                line.append("  ")
                continue
            p = W[r][c]
            s = min(p, 1.0) ** 0.5
            if colour:
                line.append("  ", style=Style(bgcolor=_ramp(s)))
            else:
                ch = SHADES[min(int(s * len(SHADES)), len(SHADES) - 1)]
                line.append(ch * 2)
        out.print(line)
    legend = Text("scale ")
    for k, ch in enumerate(SHADES):
        lo, hi = (k / len(SHADES)) ** 2, ((k + 1) / len(SHADES)) ** 2
        if colour:
            legend.append("  ", style=Style(bgcolor=_ramp((k + 0.5) / len(SHADES))))
        else:
            legend.append(ch * 2)
        legend.append(f" {100 * lo:.0f}-{100 * hi:.0f}%  ")
    out.print(legend)

    t = Table(title="What each head of this layer looks at (averaged over tokens)", title_justify="left",
              box=None, pad_edge=False, header_style="bold")
    for col in ("head", "self", "previous", "first token", "mean distance"):
        t.add_column(col, justify="right")
    for s in doc["head_summary"]:
        t.add_row(str(s["head"]), f"{100 * s['self']:.0f}%", f"{100 * s['previous']:.0f}%",
                  f"{100 * s['first']:.0f}%", f"{s['mean_distance']:.1f} tokens")
    out.print()
    out.print(t)
