#!/usr/bin/env bash
# Stage 4 of codescaler-mini, tried and NOT shipped (figures in src/codescaler/models/codescaler-mini/README.md):
# on-policy negatives from Qwen2.5-Coder-0.5B-Instruct on MBPP, continued from stage 3. Run it after
# recipes/codescaler-mini.sh over the same RUN_DIR (it reads mbpp.jsonl, pairs-all.jsonl,
# pairs-validation.jsonl and model3 there). About 70 min of sampling and 20 min of training on 2 cores.
#
#   bash recipes/codescaler-mini-onpolicy.sh [RUN_DIR]
set -euo pipefail
RUN=${1:-runs/codescaler-mini}
# On-policy negatives: Qwen2.5-Coder-0.5B-Instruct answers the first MBPP_SAMPLED MBPP problems
# 4 times each (bf16 on CPU, each answer cut after its first code block); every answer is verified, and
# pairs are drawn as in stage 1 (passing answers and the reference as chosen, failing answers as
# rejected; the asserts the model pastes under its answer are stripped, as `codescaler pairs` does by
# default, else "has asserts" alone marks the failing side). 600 mutant and unaligned pairs of stage 3 are
# replayed beside the 790 on-policy training pairs so that what stages 1-3 learned is kept.
MBPP_SAMPLED=${MBPP_SAMPLED:-352}
bash "$(dirname "$0")/fetch_qwen_coder.sh" "$RUN/qwen"
head -n "$MBPP_SAMPLED" "$RUN/mbpp.jsonl" > "$RUN/mbpp-sampled.jsonl"
codescaler sample "$RUN/mbpp-sampled.jsonl" -o "$RUN/sampled-mbpp.jsonl" --resume --model "$RUN/qwen" \
  --gguf-file qwen2.5-coder-0.5b-instruct-q4_k_m.gguf -n 4 --temperature 0.8 --max-new-tokens 384 \
  --batch-size 16 --dtype bfloat16 --stop $'\n```\n' --seed 0
codescaler candidates "$RUN/sampled-mbpp.jsonl" -o "$RUN/cand-sampled.jsonl" --timeout 1 --resume \
  --mutants-per-problem 0 --unaligned-per-problem 0
codescaler pairs "$RUN/cand-sampled.jsonl" -o "$RUN/pairs-sampled.jsonl" --max-pairs-per-problem 4
cat "$RUN/pairs-sampled.jsonl" "$RUN/pairs-all.jsonl" > "$RUN/pairs-mixed.jsonl"
python "$(dirname "$0")/select_pairs.py" "$RUN/pairs-mixed.jsonl" "$RUN/pairs-stage4.jsonl" --seed 4 \
  --cap unaligned=75 --cap mutant:deletion=75 --cap mutant:constant=120 --cap mutant:arithmetic=120 \
  --cap mutant:comparison=110 --cap mutant:boundary=70 --cap mutant:boolean=30
codescaler train --model_name_or_path "$RUN/model3" --pairs "$RUN/pairs-stage4.jsonl" \
  --eval_pairs "$RUN/pairs-validation.jsonl" --output_dir "$RUN/model4" --finetune lora --bf16 true \
  --use_cpu true --max_length 512 --per_device_train_batch_size 8 --learning_rate 1e-4 --save_steps 50 \
  --logging_steps 10 --seed 4
