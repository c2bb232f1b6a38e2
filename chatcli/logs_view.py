"""What `chatcli logs` prints: the conversation list, one conversation's transcript, and their JSON.

Text goes to stdout (it is what the user asked for); styles only on a terminal, NO_COLOR honoured.
JSON times are ISO 8601 in UTC; the text view shows local time.
"""
from __future__ import annotations

import json
import sys
from datetime import datetime, timezone

from rich.markup import escape

from chatcli.render import out_console


def iso(t: float | None) -> str | None:
    return None if t is None else datetime.fromtimestamp(t, timezone.utc).isoformat(timespec="seconds")


def local(t: float) -> str:
    return datetime.fromtimestamp(t).strftime("%Y-%m-%d %H:%M")


def _one_line(text: str | None, width: int) -> str:
    flat = " ".join((text or "").split())
    return flat if len(flat) <= width else flat[:width - 1] + "…"


def conversation_json(c: dict, turns: list[dict] | None = None) -> dict:
    doc = {"id": c["id"], "model": c["model"], "system": c["system"], "source": c["source"],
           "created": iso(c["created"]), "updated": iso(c["updated"])}
    if "turns" in c and turns is None:
        doc["turns"] = c["turns"]
        doc["first_prompt"] = c.get("first_prompt")
    if turns is not None:
        doc["turns"] = [{**t, "created": iso(t["created"])} for t in turns]
    return doc


def print_list(rows: list[dict], *, as_json: bool, where: str) -> None:
    if as_json:
        sys.stdout.write(json.dumps([conversation_json(r) for r in rows], ensure_ascii=False, indent=2) + "\n")
        return
    con = out_console()
    if not rows:
        con.print(escape(f"no conversations logged yet ({where})"))
        return
    for r in rows:
        con.print(f"[bold]{r['id']}[/bold]  {local(r['updated'])}  {r['turns']:>3} turn{'s' if r['turns'] != 1 else ' '}"
                  f"  [dim]{escape(r['source'] or '-')}[/dim]  {escape(_one_line(r.get('first_prompt'), 60))}")


def print_conversation(c: dict, turns: list[dict], *, as_json: bool) -> None:
    if as_json:
        sys.stdout.write(json.dumps(conversation_json(c, turns), ensure_ascii=False, indent=2) + "\n")
        return
    con = out_console()
    con.print(f"[bold]conversation {c['id']}[/bold] · {escape(c['model'] or '?')} · {escape(c['source'] or '-')} · "
              f"started {local(c['created'])}")
    if c["system"]:
        con.print(f"[dim]system:[/dim] {escape(c['system'])}")
    for t in turns:
        con.print()
        mark = " (replaced by /retry)" if t["replaced"] else ""
        con.print(f"[bold]>>> {escape(t['prompt'])}[/bold][dim]{mark}[/dim]")
        con.print(escape(t["answer"]) + (" [dim][interrupted][/dim]" if t["interrupted"] else ""))
        if t["completion_tokens"] is not None:
            rate = f" · decode {t['decode_tok_s']:.0f} tok/s" if t["decode_tok_s"] else ""
            con.print(f"[dim]{local(t['created'])} · {t['prompt_tokens']} prompt tok · {t['completion_tokens']} generated"
                      f"{rate} · {t['finish_reason']} · seed {t['seed']}[/dim]")
