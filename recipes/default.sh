#!/usr/bin/env bash
# The default recipe: data -> tokenizer -> pretrain -> SFT -> DPO -> eval, ending in a model directory.
#
#   recipes/default.sh [DATA_ROOT] [OUT_DIR]      (defaults: ../shared/data, runs/default)
#
# Device: CUDA when torch sees one, else CPU. Step counts per device can be overridden with env vars:
#   PRESET, VOCAB, PRETRAIN_STEPS, SFT_STEPS, DPO_STEPS, SCALE (multiplies the synthetic example counts).
# Expected time on a 2-core CPU (the budget the default targets, ~60 min of training in total):
#   prepare_data ~1 min | tokenizer ~2 min | pretrain ~40 min | sft ~12 min | dpo ~6 min | eval ~5 min
# On one H100: about 5 minutes end to end with the larger GPU step counts.
# The final model is OUT_DIR/model (copy it to weights/default to bundle it; <= 25 MB).
set -euo pipefail

REPO="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
DATA_ROOT="${1:-$REPO/../shared/data}"
OUT="${2:-$REPO/runs/default}"
PY="${PYTHON:-python3}"
CHATCLI="${CHATCLI:-chatcli}"

if "$PY" -c "import torch, sys; sys.exit(0 if torch.cuda.is_available() else 1)" 2>/dev/null; then
  DEVICE=cuda
  : "${PRETRAIN_STEPS:=20000}" "${SFT_STEPS:=4000}" "${DPO_STEPS:=1000}"
else
  DEVICE=cpu
  : "${PRETRAIN_STEPS:=3000}" "${SFT_STEPS:=1200}" "${DPO_STEPS:=300}"
fi
: "${PRESET:=small}" "${VOCAB:=8192}" "${SCALE:=1.0}"
D="$OUT/data"
echo "recipe: device=$DEVICE preset=$PRESET vocab=$VOCAB steps=$PRETRAIN_STEPS/$SFT_STEPS/$DPO_STEPS out=$OUT" >&2

# 1. data (~1 min): pretraining text, held-out text, SFT/DPO JSONL, task test slices
"$PY" "$REPO/recipes/prepare_data.py" --data-root "$DATA_ROOT" --out "$D" --scale "$SCALE"

# 2. tokenizer (~2 min on CPU): trained on the pretraining text (tasks and chat-like text included)
"$CHATCLI" train tokenizer "$D"/pretrain/*.txt --vocab-size "$VOCAB" --out "$OUT/tokenizer"

# 3. pretraining (~40 min CPU / ~3 min H100); --resume continues an interrupted run
RESUME=()
[ -e "$OUT/pretrain/metrics.jsonl" ] && RESUME=(--resume)
"$CHATCLI" train pretrain "$D"/pretrain/*.txt --tokenizer "$OUT/tokenizer" --preset "$PRESET" \
  --max-steps "$PRETRAIN_STEPS" --out "$OUT/pretrain" "${RESUME[@]}"

# 4. SFT (~12 min CPU): chatterbot + synthetic task conversations
"$CHATCLI" train sft "$D/sft.jsonl" --model "$OUT/pretrain" --max-steps "$SFT_STEPS" --out "$OUT/sft"

# 5. DPO (~6 min CPU): correct vs plausible-wrong answers
"$CHATCLI" train dpo "$D/dpo.jsonl" --model "$OUT/sft" --max-steps "$DPO_STEPS" --out "$OUT/dpo"

# 6. evaluation (~5 min CPU): bpb per held-out corpus (The Tempest included), task accuracy per stage
mkdir -p "$OUT/eval"
for f in "$D/tempest.txt" "$D"/heldout/*.txt; do
  name="$(basename "$f" .txt)"
  "$CHATCLI" eval --model "$OUT/dpo" --data "$f" --json > "$OUT/eval/bpb_$name.json"
done
for stage in pretrain sft dpo; do
  "$CHATCLI" eval --model "$OUT/$stage" --tasks --json > "$OUT/eval/tasks_$stage.json"
done
"$PY" - "$OUT" <<'PYEOF'
import json, sys
from pathlib import Path
out = Path(sys.argv[1]) / "eval"
rows = {}
for p in sorted(out.glob("*.json")):
    try:
        rows[p.stem] = json.loads(p.read_text())
    except ValueError:
        rows[p.stem] = {"error": "unreadable"}
(out / "summary.json").write_text(json.dumps(rows, indent=1, ensure_ascii=False) + "\n")
for k, v in rows.items():
    brief = v.get("bpb", v.get("val_bpb", v.get("average")))
    print(f"{k:28s} {brief}", file=sys.stderr)
PYEOF

# 7. the model directory
rm -rf "$OUT/model" && cp -r "$OUT/dpo" "$OUT/model"
rm -f "$OUT/model/metrics.jsonl"
echo "recipe: model written to $OUT/model (eval summary: $OUT/eval/summary.json)" >&2
