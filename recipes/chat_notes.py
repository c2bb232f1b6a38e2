"""Write the "chat" section of a recipe model's config.json: what the REPL banner tells a new user.

    python recipes/chat_notes.py OUT_DIR            (edits OUT_DIR/model/config.json in place, atomically)

The section says what the model can and cannot do, with the chat-eval accuracy of each family measured
on the final stage (OUT_DIR/eval/chat_eval_<stage>.json), and offers three prompts from families it
gets right most often (prompts it answered right in that run). `chatcli chat` prints it under the banner
(chatcli/chat/repl.py: expectations).
"""
from __future__ import annotations

import json
import sys
from pathlib import Path

REPO = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(REPO))

from model.checkpoint import atomic_write_json  # noqa: E402

SKILLS = {  # family -> what it is
    "arithmetic": "add and subtract numbers up to 999, with the working",
    "poems": "recite and continue about 40 famous Tang poems",
    "identity": "say who it is and what it can do",
    "letters": "count the letters in a common English word",
    "reverse": "spell a word or write it backwards",
    "meaning": "give the meaning of about 2,000 common English words",
    "chinese": "say about 1,000 common English words in Chinese",
}


def notes(chat_eval: dict) -> dict:
    fams = chat_eval.get("families", {})
    acc = {f: float(fams.get(f, {}).get("acc", 0.0)) for f in SKILLS}
    order = sorted(SKILLS, key=lambda f: -acc[f])
    can = "; ".join(f"{SKILLS[f]} ({acc[f]:.0%})" for f in order) + " (% = right on the chat-eval)"
    # the examples are prompts it answered right in that very run, from its three best families
    right = {}
    for item in chat_eval.get("results", []):
        if item.get("ok") and item.get("family") in SKILLS and "\n" not in item.get("prompt", ""):
            right.setdefault(item["family"], item["prompt"])
    return {"can": can,
            "cannot": "know anything outside that scope (it says it does not know), hold long conversations, "
                      "or be relied on: it is a 3.4M-parameter model trained on two CPU cores",
            "examples": [right[f] for f in order if f in right][:3]}


def main(out: Path) -> int:
    stage = next((s for s in ("dpo", "sft", "pretrain") if (out / "eval" / f"chat_eval_{s}.json").exists()), None)
    if stage is None:
        print(f"chat_notes: no chat-eval in {out / 'eval'}", file=sys.stderr)
        return 1
    cfg_path = out / "model" / "config.json"
    cfg = json.loads(cfg_path.read_text(encoding="utf-8"))
    cfg["chat"] = notes(json.loads((out / "eval" / f"chat_eval_{stage}.json").read_text(encoding="utf-8")))
    atomic_write_json(cfg_path, cfg)
    print(f"chat_notes: banner notes from the {stage} chat-eval written to {cfg_path}", file=sys.stderr)
    return 0


if __name__ == "__main__":
    if len(sys.argv) != 2:
        sys.exit(__doc__.strip().splitlines()[2].strip())
    sys.exit(main(Path(sys.argv[1])))
