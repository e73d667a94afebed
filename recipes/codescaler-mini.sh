#!/usr/bin/env bash
# Reproduce codescaler-mini, the packaged default RM, on a CPU (2 cores: about 25 min of candidates and
# 45 min of training). Training problems only: MBPP, MBPP+ and the first 600 of LeetCodeDataset's train
# split; HumanEval-derived problems are refused by `codescaler pairs` and `codescaler train`.
#
#   bash recipes/codescaler-mini.sh [RUN_DIR]     (then: python recipes/package_model.py RUN_DIR/model)
set -euo pipefail
RUN=${1:-runs/codescaler-mini}
mkdir -p "$RUN"
codescaler data export mbpp -o "$RUN/mbpp.jsonl"
codescaler data export mbppplus -o "$RUN/mbppplus.jsonl"
codescaler data export leetcode-train -o "$RUN/leetcode-all.jsonl"
head -n 600 "$RUN/leetcode-all.jsonl" > "$RUN/leetcode-train.jsonl"
# reference + up to 8 mutants + 2 unaligned programs per problem, every one verified in the sandbox
for set in mbpp mbppplus leetcode-train; do
  codescaler candidates "$RUN/$set.jsonl" -o "$RUN/cand-$set.jsonl" --timeout 1 --resume
done
# the 2 hardest negatives per problem; a 10% problem-level validation split (MBPP and MBPP+ ids together)
codescaler pairs "$RUN"/cand-mbpp.jsonl "$RUN"/cand-mbppplus.jsonl "$RUN"/cand-leetcode-train.jsonl \
  -o "$RUN/pairs.jsonl" --max-pairs-per-problem 2
# LoRA (r=16) on every linear layer of the top 8 of 30 blocks, plus the score head; bf16 autocast on CPU.
# Re-running the same command resumes from the last checkpoint.
codescaler train --pairs "$RUN/pairs.jsonl" --output_dir "$RUN/model" --finetune lora --lora_layers 8 \
  --bf16 true --use_cpu true --max_length 512 --per_device_train_batch_size 8 --save_steps 50 \
  --logging_steps 10 --seed 0
