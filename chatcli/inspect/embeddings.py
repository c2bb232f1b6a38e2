"""`inspect embeddings`: nearest tokens by cosine similarity of input embeddings, and analogies.

A word must be a single token: encode(word) (which adds SentencePiece's leading ▁) or an exact
piece such as "ing". A word that splits into several pieces is refused, with the split shown:
averaging the pieces' vectors would describe no token the model actually uses.
Control tokens (bos, eos, unk, chat markers) never appear as neighbours.
"""
from __future__ import annotations

from rich.table import Table

from chatcli.errors import ChatcliError
from chatcli.inspect.common import bar, console, piece_label


def resolve_word(tok, word: str) -> int:
    word = word.strip()
    if not word:
        raise ChatcliError("the word is empty")
    ids = tok.encode(word)
    if len(ids) == 1 and not tok.is_special(ids[0]):
        return ids[0]
    pid = tok.sp.piece_to_id(word)
    if pid != tok.unk_id and not tok.is_special(pid):
        return pid
    split = " + ".join(repr(tok.piece(i)) for i in ids)
    raise ChatcliError(f"{word!r} is not one token: it splits into {len(ids)} pieces ({split}); "
                       "embeddings belong to single tokens, so pick one of the pieces or a word the vocabulary holds")


def compute_embeddings(bundle, word: str | None, *, top: int, analogy: tuple[str, str, str] | None) -> dict:
    from model.introspect import analogy_vector, cosine_neighbours
    if top < 1:
        raise ChatcliError("--top must be at least 1")
    tok, model = bundle.tokenizer, bundle.model
    matrix = model.tok_embeddings.weight.detach()  # (V, C)
    specials = {i for i in range(tok.vocab_size) if tok.is_special(i)}
    if analogy:
        if word:
            raise ChatcliError("give either WORD or --analogy A B C, not both")
        a, b, c = (resolve_word(tok, w) for w in analogy)
        query = analogy_vector(matrix, a, b, c)
        exclude = specials | {a, b, c}
        q = {"expression": f"{analogy[0]} - {analogy[1]} + {analogy[2]}",
             "inputs": [{"word": w, "id": i, "piece": tok.piece(i)} for w, i in zip(analogy, (a, b, c))]}
        mode = "analogy"
    else:
        if not word:
            raise ChatcliError("give a WORD (or --analogy A B C)")
        wid = resolve_word(tok, word)
        query, exclude = matrix[wid], specials | {wid}
        q = {"word": word, "id": wid, "piece": tok.piece(wid)}
        mode = "nearest"
    hits = cosine_neighbours(matrix, query, top, exclude)
    return {"mode": mode, "query": q, "embedding_dim": int(matrix.shape[1]), "vocab_size": tok.vocab_size,
            "neighbours": [{"id": i, "piece": tok.piece(i), "cosine": s} for i, s in hits]}


def render_embeddings(doc: dict) -> None:
    out = console()
    q = doc["query"]
    if doc["mode"] == "analogy":
        parts = " ".join(f"{w['piece']!r}" if k == 0 else f"{'-' if k == 1 else '+'} {w['piece']!r}"
                         for k, w in enumerate(q["inputs"]))
        out.print(f"[bold]Analogy[/bold] {q['expression']}  [dim](tokens {parts})[/dim]")
        out.print("[dim]Vector arithmetic on input embeddings; the three inputs are excluded from the answer.[/dim]")
    else:
        out.print(f"[bold]Nearest tokens[/bold] to {q['piece']!r} (id {q['id']})")
        out.print(f"[dim]Each token is a point in {doc['embedding_dim']}-dimensional space; cosine 1 means the same "
                  "direction, 0 unrelated. Training pulls tokens used alike together.[/dim]")
    t = Table(box=None, pad_edge=False, header_style="bold")
    t.add_column("#", justify="right", style="dim")
    t.add_column("token", style="cyan", no_wrap=True)
    t.add_column("id", justify="right", style="dim")
    t.add_column("cosine", justify="right")
    t.add_column("")
    for k, n in enumerate(doc["neighbours"], 1):
        t.add_row(str(k), repr(piece_label(n["piece"])), str(n["id"]), f"{n['cosine']:+.3f}",
                  f"[green]{bar(max(n['cosine'], 0.0), 20)}[/green]")
    out.print(t)
