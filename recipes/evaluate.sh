#!/usr/bin/env bash
# Steps 6-7 of the default recipe: evaluate every stage, assemble the model directory and its card.
#
#   recipes/evaluate.sh OUT_DIR [DATA_DIR]     (DATA_DIR defaults to OUT_DIR/data)
#
# Writes OUT_DIR/eval/*.json (bpb per held-out corpus, task accuracy per stage, decode speed),
# OUT_DIR/eval/summary.json, and OUT_DIR/model (weights, config.json, tokenizer.model, README.md card).
# ~10 min on a 2-core CPU (TASK_N items per family per stage; 0 = the whole slices).
set -euo pipefail
REPO="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
OUT="${1:?usage: recipes/evaluate.sh OUT_DIR [DATA_DIR]}"
D="${2:-$OUT/data}"
PY="${PYTHON:-python3}"
CHATCLI="${CHATCLI:-chatcli}"
: "${TASK_N:=100}"
PER_FAMILY=()
[ "$TASK_N" -gt 0 ] && PER_FAMILY=(--max-per-family "$TASK_N")
mkdir -p "$OUT/eval"

# bits per byte on held-out text: The Tempest (whole play) and 1% of every corpus, base and final model
for stage in pretrain dpo; do
  for f in "$D/tempest.txt" "$D"/heldout/*.txt; do
    "$CHATCLI" eval --model "$OUT/$stage" --data "$f" --json > "$OUT/eval/bpb_${stage}_$(basename "$f" .txt).json"
  done
done
# what weight-only int8 costs on The Tempest
"$CHATCLI" eval --model "$OUT/dpo" --data "$D/tempest.txt" --quantize int8 --json > "$OUT/eval/bpb_int8_tempest.json"

# exact-match task accuracy per stage (the base model is asked with plain "Q: ... A:" prompts)
"$CHATCLI" eval --model "$OUT/pretrain" --tasks --raw "${PER_FAMILY[@]}" --json > "$OUT/eval/tasks_pretrain.json"
for stage in sft dpo; do
  "$CHATCLI" eval --model "$OUT/$stage" --tasks "${PER_FAMILY[@]}" --json > "$OUT/eval/tasks_$stage.json"
done

# decode speed on this machine
"$CHATCLI" bench --model "$OUT/dpo" --prompt-tokens 32 --gen-tokens 128 --batch 1 --repetitions 3 --json \
  > "$OUT/eval/bench.json"

# the model directory: weights + config + tokenizer, no training state or logs; then its card
rm -rf "$OUT/model" && mkdir -p "$OUT/model"
cp "$OUT/dpo/model.safetensors" "$OUT/dpo/config.json" "$OUT/dpo/tokenizer.model" "$OUT/model/"
"$PY" "$REPO/recipes/model_card.py" "$OUT" > "$OUT/model/README.md"
echo "recipe: model written to $OUT/model (card: $OUT/model/README.md, figures: $OUT/eval/summary.json)" >&2
