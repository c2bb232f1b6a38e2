#!/usr/bin/env python3
"""A transcript of 20 ordinary prompts, as a new user would type them, for the model card.

  python benchmarks/transcript.py [--model weights/default] [--out transcript.md]

Single prompts go through `chatcli chat PROMPT --json` (in-process, the real CLI); the follow-ups
(a question that refers to the previous turn) go through one chat Session, as the REPL keeps them.
Default sampling settings, seed 0; misses are printed as they are, nothing is picked.
"""
from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path

REPO = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(REPO))

SINGLE = ["Hello! Who are you?", "what can you do?", "What is 17 + 25?", "what's 603 minus 48", "Spell 'garden' backwards.",
          "How many e's are in 'between'?", "What does 'river' mean?", "How do you say 'water' in Chinese?",
          "床前看月光的下一句是什么？", "Recite 春晓.", "What is the capital of France?", "thanks!", "Tell me about the moon."]
FOLLOW = [["What does 'snow' mean?", "And in Chinese?"], ["What is 120 + 35?", "And minus 50?"],
          ["Spell house.", "Now backwards?"], ["白日依山尽的下一句？", "然后呢？"]]


def one_shot(model: Path, prompt: str) -> str:
    from typer.testing import CliRunner

    from chatcli.app import app
    res = CliRunner().invoke(app, ["chat", prompt, "--model", str(model), "--json", "--seed", "0"])
    if res.exit_code != 0:
        return f"(error: {res.output.strip()})"
    return json.loads(res.stdout.strip().splitlines()[-1])["text"]


def conversation(model: Path, prompts: list[str]) -> list[str]:
    from chatcli.bundle import load_bundle
    from chatcli.chat.main import chat_defaults
    from chatcli.chat.session import ChatSession
    session = ChatSession(load_bundle(model), chat_defaults(seed=0))
    return ["".join(session.respond(p)) for p in prompts]


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--model", type=Path, default=REPO / "weights" / "default")
    ap.add_argument("--out", type=Path)
    a = ap.parse_args()
    lines = ["| # | prompt | reply |", "|---:|---|---|"]
    k = 0

    def row(prompt: str, reply: str) -> None:
        nonlocal k
        k += 1
        cell = lambda s: s.strip().replace("|", "\\|").replace("\n", "<br>")  # noqa: E731
        lines.append(f"| {k} | {cell(prompt)} | {cell(reply)} |")
    for p in SINGLE:
        row(p, one_shot(a.model, p))
    for conv in FOLLOW:
        for i, (p, r) in enumerate(zip(conv, conversation(a.model, conv))):
            row(("(follow-up) " if i else "") + p, r)
    text = "\n".join(lines) + "\n"
    if a.out:
        a.out.write_text(text, encoding="utf-8")
    else:
        sys.stdout.write(text)
    return 0


if __name__ == "__main__":
    sys.exit(main())
