#!/usr/bin/env bash
# The default recipe (v7): data -> tokenizer -> one mixed pretraining from step 0 -> chat polish -> DPO -> eval.
#
#   recipes/default.sh [DATA_ROOT] [OUT_DIR]      (defaults: ../shared/data, runs/default)
#
# Every stage resumes where it stopped: run the same command again after an interruption (Ctrl-C saves a
# checkpoint) and finished stages are skipped, an unfinished one continues exactly (--resume).
# To redo the chat tuning from the shipped base model instead of pretraining: BASE=weights/base recipes/default.sh
# (the mixed pretraining is then continued from it for CONTINUE_STEPS steps or CONTINUE_TIME seconds first; 0 skips that).
#
# Knobs (env): DIM LAYERS HEADS CONTEXT BATCH VOCAB PRETRAIN_TIME (seconds by the clock; 0 = by steps)
#   PRETRAIN_STEPS POLISH_STEPS PAIRS_N DPO_STEPS CHAT_N (synthetic conversations) SEED BASE CONTINUE_STEPS CONTINUE_TIME
# Measured on a 2-core AMD EPYC (AVX2, fp32), 2026-12-02: data 0.6 min | tokenizer 0.4 min |
#   mixed pretraining 100 min by the clock (~2,300 tok/s) | polish ~6 min | pairs ~4 min | dpo ~5 min | eval ~12 min
# On a GPU the same recipe runs by steps (bigger shape and batch below).
# The final model is OUT_DIR/model (copy it to weights/default to bundle it; <= 25 MB), the base OUT_DIR/base.
set -euo pipefail
# glibc hands large freed buffers (the (B, T, V) logits) back to the OS and page-faults them in again
# every step; keeping them cut the kernel's share of CPU time (SFT 2,040 -> 2,650 tok/s in an earlier run)
export MALLOC_MMAP_THRESHOLD_="${MALLOC_MMAP_THRESHOLD_:-4294967296}" MALLOC_TRIM_THRESHOLD_="${MALLOC_TRIM_THRESHOLD_:-4294967296}"

REPO="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
DATA_ROOT="${1:-$REPO/../shared/data}"
OUT="${2:-$REPO/runs/default}"
PY="${PYTHON:-python3}"
CHATCLI="${CHATCLI:-chatcli}"

if "$PY" -c "import torch, sys; sys.exit(0 if torch.cuda.is_available() else 1)" 2>/dev/null; then
  : "${PRETRAIN_TIME:=0}" "${PRETRAIN_STEPS:=20000}" "${POLISH_STEPS:=500}" "${PAIRS_N:=3000}" "${DPO_STEPS:=500}"
  : "${DIM:=384}" "${LAYERS:=8}" "${HEADS:=6}" "${BATCH:=64}" "${CHAT_N:=400000}"
else
  : "${PRETRAIN_TIME:=6000}" "${PRETRAIN_STEPS:=100000}" "${POLISH_STEPS:=80}" "${PAIRS_N:=600}" "${DPO_STEPS:=80}"
  : "${DIM:=192}" "${LAYERS:=6}" "${HEADS:=6}" "${BATCH:=32}" "${CHAT_N:=120000}"
fi
: "${VOCAB:=4096}" "${CONTEXT:=256}" "${SEED:=1337}" "${BASE:=}" "${CONTINUE_STEPS:=0}" "${CONTINUE_TIME:=0}"
D="$OUT/data"
echo "recipe: d$DIM L$LAYERS H$HEADS vocab=$VOCAB ctx=$CONTEXT batch=$BATCH pretrain=${PRETRAIN_TIME}s/$PRETRAIN_STEPS steps polish=$POLISH_STEPS pairs=$PAIRS_N dpo=$DPO_STEPS base=${BASE:-none} out=$OUT" >&2
resume() { [ -d "$1/train_state" ] && echo --resume || true; }

# 1. data (~40 s): prose, the scoped chat/task conversations, copy runs, held-out text, scope.json
[ -e "$D/stats.json" ] || "$PY" "$REPO/recipes/prepare_data.py" --data-root "$DATA_ROOT" --out "$D" --chat "$CHAT_N"

# The mixture, by share of the tokens the sampler draws (weights repeat a source's documents): chat
# conversations (loss on the replies only) about half, Shakespeare the largest text share (The Tempest
# is the held-out headline), the facts again as prose, and copy runs that grow induction heads.
MIX=("$D/chat.jsonl@0.6" "$D/text/shakespeare.txt@1.4" "$D/text/brown.txt@0.4" "$D/text/kjv.txt@0.25"
     "$D/text/fortunes.txt@0.4" "$D/text/poetry.txt@0.1" "$D/text/fortunes_zh.txt@0.3" "$D/text/wordnet.txt@0.03"
     "$D/knowledge.txt@7" "$D/copy.txt@0.3")

if [ -z "$BASE" ]; then
  # 2. tokenizer (~25 s): English text, chat and facts; Chinese from fortunes and the taught poems only, so
  #    that 4,096 pieces are not spent on rare characters (those fall back to bytes)
  [ -e "$OUT/tokenizer/tokenizer.model" ] || "$CHATCLI" train tokenizer "$D/text/shakespeare.txt" "$D/text/brown.txt" \
    "$D/text/kjv.txt@0.3" "$D/text/fortunes.txt" "$D/text/fortunes_zh.txt" "$D/knowledge.txt@3" "$D/chat.jsonl@0.3" \
    --vocab-size "$VOCAB" --out "$OUT/tokenizer"
  # 3. one mixed pretraining from step 0 (Muon, warmup-stable-decay by the clock)
  "$CHATCLI" train pretrain "${MIX[@]}" --tokenizer "$OUT/tokenizer" --preset small --dim "$DIM" --layers "$LAYERS" \
    --heads "$HEADS" --kv-heads "$HEADS" --context "$CONTEXT" --batch-size "$BATCH" --optimizer muon --schedule wsd \
    --warmup 50 --val-frac 0.005 --eval-every 200 --eval-tokens 16384 --ckpt-every 50 --seed "$SEED" \
    --time-budget "$PRETRAIN_TIME" --max-steps "$PRETRAIN_STEPS" --out "$OUT/pretrain" $(resume "$OUT/pretrain")
  PRE="$OUT/pretrain"
elif [ "$CONTINUE_STEPS" -gt 0 ] || [ "$CONTINUE_TIME" != 0 ]; then
  # 3'. continue the mixed training from the shipped base (fresh AdamW state: optimizer state is not shipped),
  #     by steps, or by the clock with CONTINUE_TIME seconds (the cosine schedule then follows the clock)
  [ "$CONTINUE_TIME" != 0 ] && [ "$CONTINUE_STEPS" -eq 0 ] && CONTINUE_STEPS=100000
  "$CHATCLI" train sft "${MIX[@]}" --model "$BASE" --max-steps "$CONTINUE_STEPS" --time-budget "$CONTINUE_TIME" \
    --lr 6e-4 --warmup 30 --batch-size "$BATCH" --val-frac 0.005 --eval-every 500 --ckpt-every 50 --seed "$SEED" \
    --out "$OUT/pretrain" $(resume "$OUT/pretrain")
  PRE="$OUT/pretrain"
else
  PRE="$BASE"
fi

# 4. chat polish (~6 min CPU): a fresh draw of conversations plus some prose, at a low lr
"$CHATCLI" train sft "$D/polish.jsonl" "$D/text/shakespeare.txt@0.15" "$D/knowledge.txt@1" --model "$PRE" \
  --max-steps "$POLISH_STEPS" --lr 3e-4 --warmup 10 --batch-size "$BATCH" --eval-every "$POLISH_STEPS" \
  --ckpt-every 20 --seed "$((SEED + 1))" --out "$OUT/sft" $(resume "$OUT/sft")

# 5. preferences (~4 + ~5 min CPU). On-policy pairs: the polished model answers PAIRS_N prompts; an answer
#    the task scorer marks wrong is rejected against the right one. DPO+NLL against the frozen SFT model.
[ -e "$D/dpo_onpolicy.jsonl" ] || "$CHATCLI" train pairs "$D/prefs.jsonl" --model "$OUT/sft" \
  --out "$D/dpo_onpolicy.jsonl" --n "$PAIRS_N" --seed "$SEED"
"$CHATCLI" train dpo "$D/dpo_onpolicy.jsonl" --model "$OUT/sft" --max-steps "$DPO_STEPS" --lr 5e-5 --nll-weight 1.0 \
  --batch-size 16 --seed "$SEED" --ckpt-every 20 --out "$OUT/dpo" $(resume "$OUT/dpo")

# 6-7. evaluation, the model directories and the card (~12 min CPU): see recipes/evaluate.sh
"$REPO/recipes/evaluate.sh" "$OUT" "$D"
