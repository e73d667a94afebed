#!/usr/bin/env bash
# Reproduce codescaler-mini, the packaged default RM, on a CPU (2 cores: about 25 min of candidates,
# 45 min of stage-1 training, 40 min of stage 2, 55 min of stage 3 and 25 min of stage 5). Training problems only: MBPP, MBPP+ and the first 600 of LeetCodeDataset's train
# split; HumanEval-derived problems are refused by `codescaler pairs` and `codescaler train`.
#
#   bash recipes/codescaler-mini.sh [RUN_DIR]     (then: python recipes/package_model.py RUN_DIR/model5)
# (Stages 4 and 6, on-policy samples, were tried and not shipped: recipes/codescaler-mini-onpolicy.sh and
# recipes/codescaler-mini-stage6.sh.)
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
# Stage 2: the same adapter trained further on the pairs stage 1 left unused (up to 4 per problem, most
# unaligned ones dropped), at half the learning rate; validated on stage 1's validation pairs.
codescaler pairs "$RUN"/cand-mbpp.jsonl "$RUN"/cand-mbppplus.jsonl "$RUN"/cand-leetcode-train.jsonl \
  -o "$RUN/pairs-all.jsonl" --max-pairs-per-problem 4
python "$(dirname "$0")/select_pairs.py" "$RUN/pairs-all.jsonl" "$RUN/pairs-stage2.jsonl" \
  --exclude "$RUN/pairs.jsonl" --cap unaligned=300
python -c "import json, sys; sys.stdout.writelines(l for l in open('$RUN/pairs.jsonl') if json.loads(l)['split'] == 'validation')" \
  > "$RUN/pairs-validation.jsonl"
codescaler train --model_name_or_path "$RUN/model" --pairs "$RUN/pairs-stage2.jsonl" \
  --eval_pairs "$RUN/pairs-validation.jsonl" --output_dir "$RUN/model2" --finetune lora --bf16 true \
  --use_cpu true --max_length 512 --per_device_train_batch_size 8 --learning_rate 1e-4 --save_steps 50 \
  --logging_steps 10 --seed 1
# Stage 3: a second pass over the single-edit mutants stage 2 still got wrong most often (every comparison,
# arithmetic, constant, boundary and boolean pair of the training split, with 200 deletion and 200
# unaligned pairs kept so neither is forgotten), at half stage 2's learning rate.
python "$(dirname "$0")/select_pairs.py" "$RUN/pairs-all.jsonl" "$RUN/pairs-stage3.jsonl" \
  --cap unaligned=200 --cap mutant:deletion=200 --seed 2
codescaler train --model_name_or_path "$RUN/model2" --pairs "$RUN/pairs-stage3.jsonl" \
  --eval_pairs "$RUN/pairs-validation.jsonl" --output_dir "$RUN/model3" --finetune lora --bf16 true \
  --use_cpu true --max_length 512 --per_device_train_batch_size 8 --learning_rate 5e-5 --save_steps 50 \
  --logging_steps 10 --seed 2
# Stage 5: the evaluation's format. CodeT's HumanEval-style rendering of MBPP (a signature and docstring;
# answers complete it) gives mutants of the reference body as completions, the shape of a HumanEval
# best-of-N pool, on the same training/validation split. Up to 6 pairs per problem, deletions capped at
# 300, beside 500 stage-1-3 pairs replayed (all kinds), shuffled, from stage 3 at lr 1e-4.
codescaler data export mbpp-codet -o "$RUN/mbpp-codet.jsonl"
codescaler candidates "$RUN/mbpp-codet.jsonl" -o "$RUN/cand-mbpp-codet.jsonl" --timeout 1 --resume \
  --mutants-per-problem 16 --unaligned-per-problem 0
codescaler pairs "$RUN/cand-mbpp-codet.jsonl" -o "$RUN/pairs-mbpp-codet.jsonl" --max-pairs-per-problem 6
python "$(dirname "$0")/select_pairs.py" "$RUN/pairs-mbpp-codet.jsonl" "$RUN/pairs-stage5-codet.jsonl" \
  --cap mutant:deletion=300 --seed 5
python "$(dirname "$0")/select_pairs.py" "$RUN/pairs-all.jsonl" "$RUN/pairs-stage5-replay.jsonl" --seed 5 \
  --cap unaligned=50 --cap mutant:deletion=50 --cap mutant:constant=100 --cap mutant:arithmetic=100 \
  --cap mutant:comparison=100 --cap mutant:boundary=70 --cap mutant:boolean=30
python -c "import random, sys; rows = open(sys.argv[1]).readlines() + open(sys.argv[2]).readlines(); \
random.Random(5).shuffle(rows); open(sys.argv[3], 'w').writelines(rows)" \
  "$RUN/pairs-stage5-codet.jsonl" "$RUN/pairs-stage5-replay.jsonl" "$RUN/pairs-stage5.jsonl"
codescaler train --model_name_or_path "$RUN/model3" --pairs "$RUN/pairs-stage5.jsonl" \
  --eval_pairs "$RUN/pairs-validation.jsonl" --output_dir "$RUN/model5" --finetune lora --bf16 true \
  --use_cpu true --max_length 512 --per_device_train_batch_size 8 --learning_rate 1e-4 --save_steps 50 \
  --logging_steps 10 --seed 5
