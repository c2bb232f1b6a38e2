"""Conversations for recipe v4: single questions, follow-ups that refer to the previous turn, and
several questions in one conversation, drawn from recipes.tasks.dialogue by family share.

`conversations(scope, n, seed)` -> list of {"messages": [...], "family": ...} (chat JSONL records);
`preference_prompts(scope, n, seed)` -> {"prompt", "chosen", "rejected", "family", "answer"} records for
`chatcli train pairs` (chosen = the trained reply; the rejected reply is replaced on-policy there).
"""
from __future__ import annotations

import random

from recipes.tasks import dialogue as d
from recipes.tasks.scope import Scope

# v6: the memorised facts (a gloss for each of 2,000 words, Chinese for ~1,000) need many more sightings
# each than the procedures, which v5 already ran at 80-90% (v5 shares: 0.28 0.22 0.17 0.10 0.09 0.08 0.06)
# v7: reversal (25-30%) and identity (60-75%) were the weakest; poems (75%, target 50%) give up a share
SHARES = {"arithmetic": 0.20, "letters": 0.20, "meaning": 0.25, "chinese": 0.14, "poem": 0.05,
          "small_talk": 0.10, "out_of_scope": 0.06}
FOLLOW_ADD = ["And plus {c}?", "Now add {c} to that.", "What if you add {c}?", "and + {c}?", "Add {c} to the result."]
FOLLOW_SUB = ["And minus {c}?", "Now take away {c}.", "Subtract {c} from that.", "and - {c}?"]
FOLLOW_REV = ["And backwards?", "Now reverse it.", "What is it backwards?", "Spell it backwards."]
FOLLOW_SPELL = ["How do you spell it?", "Spell it.", "And how is it spelled?"]
FOLLOW_MEAN = ["What does it mean?", "And what does that word mean?", "What's its meaning?"]
FOLLOW_ZH = ["And in Chinese?", "How do you say it in Chinese?", "What is that in Chinese?", "用中文怎么说？"]
FOLLOW_NEXT = ["And the next line?", "下一句呢？", "What comes after that?", "Continue.", "然后呢？"]
FOLLOW_OTHER = ["What about {w}?", "And {w}?", "Same for {w}."]


def pick_family(rng: random.Random) -> str:
    return rng.choices(list(SHARES), weights=list(SHARES.values()))[0]


def turn(rng: random.Random, scope: Scope, family: str | None = None):
    fam = family or pick_family(rng)
    return d.FAMILIES[fam](rng, scope)


def follow_up(rng: random.Random, scope: Scope, item: dict) -> tuple[str, str, dict] | None:
    """A question that only makes sense after `item` ("And backwards?"), with its reply."""
    fam, key = item["family"], item.get("key")
    if fam == "arithmetic":
        prev = int(item["answer"])
        if prev < 0 or prev > 999:
            return None
        if rng.random() < 0.6:
            c = d.operand(rng)
            op = "+" if prev + c <= 999 and rng.random() < 0.6 else "-"
            if op == "-" and c > prev:
                c = rng.randint(0, prev)
            q = rng.choice(FOLLOW_ADD if op == "+" else FOLLOW_SUB).format(c=c)
            value = prev + c if op == "+" else prev - c
            return q, d.solve(op, prev, c), {"family": "arithmetic", "answer": str(value), "key": f"{prev} {op} {c}"}
        op, a, b = key.split(" ")[1], d.operand(rng), d.operand(rng)
        q, reply, it = d.arithmetic(rng, scope, op=op, a=a, b=b)
        return rng.choice(FOLLOW_OTHER).format(w=it["key"]), reply, it  # the key: operands as solved
    if fam in ("spell", "count_letter", "reverse", "meaning", "translate") and key in scope.gloss:
        options = []
        if fam != "reverse":
            options.append(("reverse", FOLLOW_REV))
        if fam != "spell" and fam != "count_letter":
            options.append(("spell", FOLLOW_SPELL))
        if fam != "meaning":
            options.append(("meaning", FOLLOW_MEAN))
        if fam != "translate" and key in scope.zh:
            options.append(("translate", FOLLOW_ZH))
        kind, forms = rng.choice(options)
        q = rng.choice(forms)
        if kind in ("reverse", "spell"):
            _, reply, it = d.letters(rng, scope, word=key, kind=kind)
        elif kind == "meaning":
            _, reply, it = d.meaning(rng, scope, word=key)
        else:
            zh, _ = scope.zh[key]
            reply, it = f"\"{key}\" in Chinese is {zh}.", {"family": "translate", "answer": zh, "key": key}
        return q, reply, it
    if fam == "poem_next":
        for p in scope.poems:
            if item["answer"] in p.lines:
                i = p.lines.index(item["answer"])
                if i + 1 < len(p.lines):
                    nxt = p.lines[i + 1]
                    return rng.choice(FOLLOW_NEXT), f"{nxt}。", {"family": "poem_next", "answer": nxt, "key": item["answer"]}
    return None


def conversation(rng: random.Random, scope: Scope) -> dict:
    q, reply, item = turn(rng, scope)
    messages = [{"role": "user", "content": q}, {"role": "assistant", "content": reply}]
    families = [item["family"]]
    r = rng.random()
    turns = 1 if r < 0.7 else 2 if r < 0.93 else 3
    for _ in range(turns - 1):
        nxt = follow_up(rng, scope, item) if rng.random() < 0.6 else None
        if nxt is None:
            nxt = turn(rng, scope)
        q, reply, item = nxt
        messages += [{"role": "user", "content": q}, {"role": "assistant", "content": reply}]
        families.append(item["family"])
    if rng.random() < 0.03:
        messages.insert(0, {"role": "system", "content": rng.choice(
            ["You are chatcli, a helpful assistant.", "Be brief.", "You are a helpful assistant."])})
    return {"messages": messages, "family": "+".join(families)}


def conversations(scope: Scope, n: int, seed: int = 0) -> list[dict]:
    rng = random.Random(f"conversations-{seed}")
    return [conversation(rng, scope) for _ in range(n)]


def preference_prompts(scope: Scope, n: int, seed: int = 0) -> list[dict]:
    """Single-turn prompts of the families the task scorer knows, with the trained reply as `chosen`."""
    rng = random.Random(f"preference-{seed}")
    scored = {"arithmetic", "count_letter", "reverse", "meaning", "translate", "poem_next"}  # chatcli: many right replies
    out = []
    while len(out) < n:
        q, reply, item = turn(rng, scope)
        if item["family"] not in scored:
            continue
        out.append({"prompt": [{"role": "user", "content": q}], "chosen": reply, "rejected": "I don't know.",
                    "family": item["family"], "answer": item["answer"], "key": item.get("key", "")})
    return out


def knowledge_text(scope: Scope, seed: int = 0, per_doc: int = 12) -> list[str]:
    """The same facts as plain prose (a glossary, spellings, a word list, the poems): a second form of
    each fact helps a small model recall it when asked in words it has not seen."""
    rng = random.Random(f"knowledge-{seed}")
    lines = []
    for w in scope.words:
        lines.append(rng.choice(["{w}: {g}.", "The word \"{w}\" means {g}.", "{W} means {g}."]).format(
            w=w, W=w[:1].upper() + w[1:], g=scope.gloss[w]))
        lines.append(rng.choice(["{w} is spelled {s}.", "How to spell {w}: {s}."]).format(w=w, s=d.spelled(w)))
        if w in scope.zh:
            lines.append(rng.choice(["English \"{w}\" is {zh} in Chinese.", "“{w}”的中文是{zh}。", "{zh} means {w}."]).format(
                w=w, zh=scope.zh[w][0]))
    rng.shuffle(lines)
    docs = ["\n".join(lines[i:i + per_doc]) for i in range(0, len(lines), per_doc)]
    docs += [f"{p.title}\n{p.author}\n{p.text}" for p in scope.poems]
    return docs
