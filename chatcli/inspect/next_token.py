"""`inspect next`: the next-token distribution at several temperatures, optionally over greedy steps.

Probabilities are softmax(logits / T) over the whole vocabulary (model.sampling.probabilities);
tokens are ranked by logit, which is the same order at every temperature above 0.
"""
from __future__ import annotations

import math

from rich.table import Table

from chatcli.errors import ChatcliError
from chatcli.inspect.common import bar, check_fits, console, encode_prompt, piece_label, require_text

MAX_TEMPERATURES = 6


def parse_temperatures(spec: str) -> list[float]:
    temps = []
    for part in spec.split(","):
        part = part.strip()
        try:
            t = float(part)
        except ValueError:
            raise ChatcliError(f"--temperature: {part!r} is not a number (example: 0.2,0.8,1.5)") from None
        if not math.isfinite(t) or t < 0 or t > 100:
            raise ChatcliError(f"--temperature: {part} is outside 0..100")
        temps.append(t)
    if not temps or len(temps) > MAX_TEMPERATURES:
        raise ChatcliError(f"--temperature takes 1 to {MAX_TEMPERATURES} values")
    return temps


def distribution(logits, temps: list[float], top: int, tok) -> dict:
    """Top tokens of one position's logits (V,) with their probability at each temperature."""
    import torch

    from model.sampling import probabilities
    probs = [probabilities(logits, t) for t in temps]  # each (V,)
    vals, idx = torch.topk(logits.float(), min(top, logits.shape[-1]))
    entropy = []
    for p in probs:
        nz = p[p > 0]
        entropy.append(max(0.0, float(-(nz * nz.log2()).sum())))
    return {
        "top": [{"id": int(i), "piece": tok.piece(int(i)), "logit": float(v),
                 "probs": [float(p[i]) for p in probs]} for v, i in zip(vals, idx)],
        "top_mass": [float(p[idx].sum()) for p in probs],
        "entropy_bits": entropy,
    }


def compute_next(bundle, text: str, *, top: int, temps: list[float], chat: bool, steps: int) -> dict:
    import torch
    require_text(text)
    if top < 1:
        raise ChatcliError("--top must be at least 1")
    if steps < 1:
        raise ChatcliError("--steps must be at least 1")
    tok, model = bundle.tokenizer, bundle.model
    ids = encode_prompt(bundle, text, chat)
    check_fits(bundle, len(ids), steps - 1)
    out_steps, chosen_ids = [], []
    with torch.no_grad():
        for s in range(steps):
            logits = model(torch.tensor([ids], device=bundle.device))[0, -1]  # (V,)
            d = distribution(logits, temps, top, tok)
            choice = int(logits.argmax())
            out_steps.append({"step": s, "context_tokens": len(ids), **d,
                              "chosen": {"id": choice, "piece": tok.piece(choice)}})
            ids = ids + [choice]
            chosen_ids.append(choice)
    return {"text": text, "mode": "chat" if chat else "raw", "temperatures": temps, "top": top,
            "vocab_size": tok.vocab_size, "steps": out_steps, "greedy_continuation": tok.decode(chosen_ids)}


def render_next(doc: dict) -> None:
    out = console()
    temps = doc["temperatures"]
    bar_w = max(6, min(20, (out.width - 34) // len(temps) - 8))
    out.print(f"[bold]Next token[/bold] after {doc['text']!r} "
              f"[dim]({doc['mode']} prompt, {doc['steps'][0]['context_tokens']} tokens, "
              f"vocabulary {doc['vocab_size']:,})[/dim]")
    for st in doc["steps"]:
        if len(doc["steps"]) > 1:
            so_far = "".join(s["chosen"]["piece"] for s in doc["steps"][:st["step"]]).replace("▁", " ")
            out.print(f"\n[bold]step {st['step'] + 1}[/bold] [dim]context + {so_far!r}[/dim]")
        t = Table(box=None, pad_edge=False, header_style="bold")
        t.add_column("#", justify="right", style="dim")
        t.add_column("token", no_wrap=True, style="cyan")
        t.add_column("logit", justify="right")
        for temp in temps:
            t.add_column(f"T={temp:g}", no_wrap=True)
        for rank, e in enumerate(st["top"], 1):
            cells = [f"[green]{bar(p, bar_w)}[/green] {100 * p:5.1f}%" for p in e["probs"]]
            t.add_row(str(rank), repr(piece_label(e["piece"])), f"{e['logit']:.2f}", *cells)
        t.add_row("", "[dim]top mass[/dim]", "", *[f"[dim]{'':{bar_w}} {100 * m:5.1f}%[/dim]" for m in st["top_mass"]])
        t.add_row("", "[dim]in play[/dim]", "", *[f"[dim]{'':{bar_w}} {2 ** h:5.1f} [/dim]" for h in st["entropy_bits"]])
        out.print(t)
    if len(doc["steps"]) > 1:
        out.print(f"\ngreedy continuation: {doc['greedy_continuation']!r}")
    out.print("\n[dim]probability = softmax(logit / T) over all tokens. Low T sharpens the favourite, high T "
              "flattens the field.\ntop mass: the share of all probability held by the rows shown. in play: "
              "2^entropy, about how many tokens the model is really choosing between.[/dim]")
