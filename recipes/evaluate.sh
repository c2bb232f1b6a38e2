#!/usr/bin/env bash
# Steps 6-7 of the default recipe: evaluate the stages, assemble the model directories and the card.
#
#   recipes/evaluate.sh OUT_DIR [DATA_DIR]     (DATA_DIR defaults to OUT_DIR/data)
#
# Writes OUT_DIR/eval/*.json (bpb per held-out corpus for base and final, the paraphrase chat-eval per
# stage, the induction probe, decode speed), OUT_DIR/eval/transcript.md, OUT_DIR/model (the final model:
# weights, config.json, tokenizer.model, README.md card) and OUT_DIR/base (the pretrained model, bf16).
# ~12 min on a 2-core CPU.
set -euo pipefail
REPO="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
OUT="${1:?usage: recipes/evaluate.sh OUT_DIR [DATA_DIR]}"
D="${2:-$OUT/data}"
PY="${PYTHON:-python3}"
CHATCLI="${CHATCLI:-chatcli}"
mkdir -p "$OUT/eval"

# bits per byte on held-out text: The Tempest (whole play, never trained on) and 1% of every corpus
for stage in pretrain dpo; do
  for f in "$D/tempest.txt" "$D"/heldout/*.txt; do
    [ -s "$f" ] || continue
    "$CHATCLI" eval --model "$OUT/$stage" --data "$f" --json > "$OUT/eval/bpb_${stage}_$(basename "$f" .txt).json"
  done
done
"$CHATCLI" eval --model "$OUT/dpo" --data "$D/tempest.txt" --quantize int8 --json > "$OUT/eval/bpb_int8_tempest.json"

# the paraphrase chat-eval, end to end through `chatcli chat --json`, for every stage (the mixed
# pretraining already answers chat questions); and whether the base copies (induction probe)
for stage in pretrain sft dpo; do
  "$PY" "$REPO/benchmarks/chat_eval.py" run --model "$OUT/$stage" --json "$OUT/eval/chat_eval_$stage.json" >&2
done
"$PY" "$REPO/benchmarks/induction.py" "$OUT/pretrain" "$OUT/dpo" --json > "$OUT/eval/induction.json"
"$PY" "$REPO/benchmarks/transcript.py" --model "$OUT/dpo" --out "$OUT/eval/transcript.md"

# decode speed on this machine
"$CHATCLI" bench --model "$OUT/dpo" --prompt-tokens 32 --gen-tokens 128 --batch 1 --repetitions 3 --json \
  > "$OUT/eval/bench.json"

# the model directories: weights + config + tokenizer, no training state or logs; then the card
rm -rf "$OUT/model" && mkdir -p "$OUT/model"
cp "$OUT/dpo/model.safetensors" "$OUT/dpo/config.json" "$OUT/dpo/tokenizer.model" "$OUT/model/"
"$PY" "$REPO/recipes/chat_notes.py" "$OUT"  # the banner's can / cannot / three prompts, from the chat-eval
"$PY" "$REPO/recipes/model_card.py" "$OUT" > "$OUT/model/README.md"
"$PY" "$REPO/recipes/export_base.py" "$OUT/pretrain" "$OUT/base"
echo "recipe: model written to $OUT/model (card: $OUT/model/README.md), base to $OUT/base" >&2
