#!/usr/bin/env python3
"""The paraphrase chat-eval: questions a user would type, in wordings that training never uses,
scored end to end through `chatcli chat PROMPT --json` (the real CLI: option parsing, chat template,
sampling defaults, stop at <|end|>), per family.

  python benchmarks/chat_eval.py build SCOPE_JSON [--out benchmarks/chat_eval.jsonl]
  python benchmarks/chat_eval.py run [--model weights/default] [--file benchmarks/chat_eval.jsonl]
                                     [--json OUT] [--subprocess] [--limit N]

`build` writes the items from the recipe's scope.json (runs/<name>/data/scope.json) with the
templates below, which are written apart from recipes/tasks/dialogue.py (tests/test_chat_eval.py
checks that no eval prompt is a training wording). Families: identity (who it is, greetings, thanks,
out-of-scope questions answered with "I don't know"), arithmetic, letters (counting, length),
reverse, meaning, chinese, poems; and two generalisation families reported apart from the headline:
heldout_letters (words outside the taught list) and heldout_meaning (ditto: the right reply is a
polite "I don't know" or any gloss; scored only for "does not claim a gloss of another word").
`run` calls the CLI in-process through Typer's runner (same code path as the shell, without a
Python start-up per prompt); --subprocess runs `chatcli chat` as a separate process per prompt.
"""
from __future__ import annotations

import argparse
import json
import random
import re
import subprocess
import sys
import time
import unicodedata
from pathlib import Path

REPO = Path(__file__).resolve().parent.parent
DEFAULT_FILE = Path(__file__).resolve().parent / "chat_eval.jsonl"
HEADLINE = ("identity", "arithmetic", "letters", "reverse", "meaning", "chinese", "poems")

# ------------------------------------------------------------------ eval wordings (not training's)

IDENTITY = [
    ("hey!! what's your name", ["chatcli"]), ("WHO ARE YOU", ["chatcli"]), ("introduce urself", ["chatcli"]),
    ("Are you a robot or a real person?", ["model", "chatcli"]), ("who am i chatting with right now?", ["chatcli"]),
    ("What sort of things can I ask you?", ["add", "spell", "poem"]), ("what are you able to help with", ["add", "spell"]),
    ("can you do maths?", ["add", "subtract"]), ("你好，请问你是谁", ["chatcli"]), ("Hello, who made you?", ["train", "recipe", "chatcli"]),
    ("well good morning to you", ["hello", "hi", "morning"]), ("hiya, how r u", ["fine", "well", "hello", "hi"]),
    ("thx a lot!", ["welcome", "glad"]), ("Cheers, that helped", ["welcome", "glad"]), ("ok bye now", ["bye"]),
    ("Who is the king of Spain?", ["don't know", "do not know", "not sure"]),
    ("What's the GDP of Germany?", ["don't know", "do not know", "not sure"]),
    ("Can you book me a flight to Rome?", ["don't know", "do not know", "can't", "cannot"]),
    ("Explain the theory of relativity", ["don't know", "do not know"]),
    ("德国的首都是哪里", ["don't know", "do not know", "不知道"]),
]
ARITH = ["could you add {a} and {b} for me?", "{a} plus {b} makes what", "what's {a} added to {b}",
         "Work out {a}+{b} please", "{a} and {b} added together = ?", "tell me the total of {a} and {b}",
         "I had {a} coins and found {b} more. How many coins now?", "{a}加上{b}是多少",
         "what does {a} minus {b} give", "take {b} from {a}", "{a} subtract {b}?", "What's left if you remove {b} from {a}?",
         "Please work out {a}-{b}", "{a}减去{b}得多少", "WHAT IS {a} - {b}"]
COUNT = ["how many {l}'s does the word '{w}' have?", "Count how many times {l} shows up in {w}",
         "in \"{w}\", how many letter {l}s are there", "number of times the letter {l} is in {w}?",
         "{w} 这个单词里有多少个 {l}"]
LENGTH = ["how many letters does '{w}' contain", "What is the length of the word {w} in letters?", "{w}一共几个字母"]
REVERSE = ["write {w} backwards please", "what do you get if you reverse '{w}'?", "{w} spelt in reverse?",
           "Turn the word {w} around (backwards)", "flip the letters of {w}", "{w} 反过来怎么写"]
MEANING = ["what's the definition of {w}?", "tell me what '{w}' means", "{w} — meaning?", "What does {w} stand for as a word?",
           "Could you explain what the word {w} means?", "define: {w}", "请解释英文单词 {w} 的意思"]
CHINESE = ["what's the chinese word for {w}", "{w} 中文怎么说", "How would I say '{w}' in Chinese?",
           "{w} in Mandarin?", "Give me the Chinese for {w}.", "英文 {w} 翻译成中文是什么"]
POEM_NEXT = ["what follows \"{l}\"?", "{l}，后面是什么", "{l} —— next line?", "接着背：{l}", "“{l}”后面一句是什么"]


def _norm(s: str) -> str:
    s = unicodedata.normalize("NFKC", s).lower()
    return re.sub(r"\s+", " ", s).strip()


def build(scope_path: Path, out: Path, seed: int = 7) -> int:
    scope = json.loads(Path(scope_path).read_text(encoding="utf-8"))
    words = [w for w in scope["words"]]
    rng = random.Random(seed)
    items: list[dict] = []

    def add(family: str, prompt: str, **kw) -> None:
        items.append({"family": family, "prompt": prompt, **kw})

    for p, want in IDENTITY:
        add("identity", p, expect_any=want)
    for i in range(30):
        op = "+" if i < 16 else "-"
        a, b = rng.randint(2, 999), rng.randint(2, 999)
        if op == "-" and a < b:
            a, b = b, a
        forms = [f for f in ARITH if ("plus" in f or "add" in f or "+" in f or "加" in f or "total" in f or "more" in f)] \
            if op == "+" else [f for f in ARITH if not ("plus" in f or "add" in f or "+" in f or "加" in f or "total" in f or "more" in f)]
        add("arithmetic", rng.choice(forms).format(a=a, b=b), answer=str(a + b if op == "+" else a - b))
    taught = [w["word"] for w in words[:1500] if len(w["word"]) <= 10]
    for w in rng.sample(taught, 20):
        if rng.random() < 0.75:
            letter = rng.choice(w)
            add("letters", rng.choice(COUNT).format(l=letter, w=w), answer=str(w.count(letter)))
        else:
            add("letters", rng.choice(LENGTH).format(w=w), answer=str(len(w)))
    for w in rng.sample(taught, 20):
        add("reverse", rng.choice(REVERSE).format(w=w), answer=w[::-1])
    for w in rng.sample(words, 25):
        add("meaning", rng.choice(MEANING).format(w=w["word"]), answer=w["gloss"])
    with_zh = [w for w in words if w["zh"]]
    for w in rng.sample(with_zh, 25):
        add("chinese", rng.choice(CHINESE).format(w=w["word"]), answer=w["zh"])
    pairs = [(p["lines"][i], p["lines"][i + 1]) for p in scope["poems"] for i in range(len(p["lines"]) - 1)]
    for line, nxt in rng.sample(pairs, 20):
        add("poems", rng.choice(POEM_NEXT).format(l=line), answer=nxt)
    unseen = ["kettle", "walrus", "lantern", "pebble", "saddle", "tulip", "violin", "zebra", "wizard", "parrot"]
    for w in unseen:
        add("heldout_letters", rng.choice(REVERSE).format(w=w), answer=w[::-1])
    out.write_text("".join(json.dumps(it, ensure_ascii=False) + "\n" for it in items), encoding="utf-8")
    return len(items)


# ------------------------------------------------------------------ scoring

_FINAL = re.compile(r"answer is\s*[:：]?\s*", re.I)


def final(text: str) -> str:
    hits = list(_FINAL.finditer(text))
    return text[hits[-1].end():].strip() if hits else text.strip()


def correct(item: dict, reply: str) -> bool:
    fam = item["family"]
    if fam == "identity":
        r = _norm(reply).replace("’", "'")
        return any(w in r for w in item["expect_any"])
    if fam in ("arithmetic", "letters"):
        m = re.search(r"-?\d+", final(reply).replace(",", ""))
        return bool(m) and int(m.group(0)) == int(item["answer"])
    if fam in ("reverse", "heldout_letters"):
        got = re.sub(r"[^a-z]", "", final(reply).lower().split("\n")[0])
        return got == item["answer"]
    if fam == "meaning":
        return _norm(item["answer"]).rstrip(".") in _norm(reply)
    if fam in ("chinese", "poems"):
        return item["answer"] in reply
    raise ValueError(f"unknown family {fam!r}")


# ------------------------------------------------------------------ running

def ask_inprocess(model: Path, prompt: str, seed: int) -> dict:
    from typer.testing import CliRunner

    from chatcli.app import app
    res = CliRunner().invoke(app, ["chat", prompt, "--model", str(model), "--json", "--seed", str(seed)])
    if res.exit_code != 0:
        return {"text": "", "error": (res.stderr if hasattr(res, "stderr") else res.output).strip()}
    return json.loads(res.stdout.strip().splitlines()[-1])


def ask_subprocess(model: Path, prompt: str, seed: int) -> dict:
    p = subprocess.run(["chatcli", "chat", prompt, "--model", str(model), "--json", "--seed", str(seed)],
                       capture_output=True, text=True, stdin=subprocess.DEVNULL)
    if p.returncode != 0:
        return {"text": "", "error": p.stderr.strip()}
    return json.loads(p.stdout.strip().splitlines()[-1])


def run(model: Path, path: Path, *, subprocess_mode: bool = False, limit: int = 0, seed: int = 0) -> dict:
    items = [json.loads(x) for x in path.read_text(encoding="utf-8").splitlines() if x.strip()]
    if limit:
        items = items[:limit]
    ask = ask_subprocess if subprocess_mode else ask_inprocess
    t0 = time.perf_counter()
    results = []
    for it in items:
        reply = ask(model, it["prompt"], seed)
        ok = correct(it, reply.get("text", ""))
        results.append({**it, "reply": reply.get("text", ""), "ok": ok, "finish_reason": reply.get("finish_reason"),
                        **({"error": reply["error"]} if "error" in reply else {})})
    fams: dict[str, list[bool]] = {}
    for r in results:
        fams.setdefault(r["family"], []).append(r["ok"])
    per = {f: {"n": len(v), "correct": sum(v), "acc": round(sum(v) / len(v), 3)} for f, v in fams.items()}
    head = [r["ok"] for r in results if r["family"] in HEADLINE]
    stopped = [r["finish_reason"] == "stop" for r in results]
    return {"model": str(model), "file": str(path), "items": len(results), "families": per,
            "overall": round(sum(head) / max(1, len(head)), 3), "stopped_at_end": round(sum(stopped) / max(1, len(stopped)), 3),
            "time_s": round(time.perf_counter() - t0, 1), "mode": "subprocess" if subprocess_mode else "in-process CLI",
            "results": results}


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    sub = ap.add_subparsers(dest="cmd")
    b = sub.add_parser("build")
    b.add_argument("scope")
    b.add_argument("--out", default=str(DEFAULT_FILE))
    b.add_argument("--seed", type=int, default=7, help="7 gives the shipped file; another seed a dev set")
    r = sub.add_parser("run")
    r.add_argument("--model", default=str(REPO / "weights" / "default"))
    r.add_argument("--file", default=str(DEFAULT_FILE))
    r.add_argument("--json", dest="json_out", default="")
    r.add_argument("--subprocess", action="store_true")
    r.add_argument("--limit", type=int, default=0)
    r.add_argument("--seed", type=int, default=0)
    a = ap.parse_args(argv)
    if a.cmd == "build":
        n = build(Path(a.scope), Path(a.out), seed=a.seed)
        print(f"wrote {n} items to {a.out}", file=sys.stderr)
        return 0
    if a.cmd != "run":
        ap.print_help()
        return 2
    sys.path.insert(0, str(REPO))
    res = run(Path(a.model), Path(a.file), subprocess_mode=a.subprocess, limit=a.limit, seed=a.seed)
    if a.json_out:
        Path(a.json_out).write_text(json.dumps(res, ensure_ascii=False, indent=1) + "\n", encoding="utf-8")
    for f, st in res["families"].items():
        print(f"{f:16s} {st['correct']:3d}/{st['n']:3d}  {100 * st['acc']:5.1f}%")
    print(f"{'overall':16s} {100 * res['overall']:5.1f}%  (headline families; replies ending at <|end|>: "
          f"{100 * res['stopped_at_end']:.0f}%; {res['time_s']} s, {res['mode']})")
    return 0


if __name__ == "__main__":
    sys.exit(main())
