#!/usr/bin/env bash
# Stage 6 of codescaler-mini, tried and NOT shipped (figures in src/codescaler/models/codescaler-mini/README.md
# and bench/results/tried/stage6/): on-policy completions in the evaluation's format, continued from stage 5.
# Run it after recipes/codescaler-mini.sh over the same RUN_DIR (it reads mbpp-codet.jsonl,
# pairs-stage5.jsonl, pairs-validation.jsonl and model5 there). About 45 min of sampling and 13 min of
# training on 2 cores.
#
#   bash recipes/codescaler-mini-stage6.sh [RUN_DIR]
set -euo pipefail
RUN=${1:-runs/codescaler-mini}
HERE=$(dirname "$0")
# Qwen2.5-Coder-0.5B-Instruct continues each mbpp-codet prompt (signature + docstring) as raw text 4 times,
# and 4 more times where one of the first 4 passed. Pairs are sample against sample: no reference, whose
# length and style differ from a model's answers (stage 4's lesson), so the RM has only correctness to learn.
bash "$HERE/fetch_qwen_coder.sh" "$RUN/qwen"
SAMPLE=(--completion --model "$RUN/qwen" --gguf-file qwen2.5-coder-0.5b-instruct-q4_k_m.gguf -n 4
        --temperature 0.8 --max-new-tokens 160 --batch-size 16 --dtype bfloat16 --resume
        --stop $'\ndef ' --stop $'\nclass ' --stop $'\nif ' --stop $'\nprint' --stop $'\n#' --stop $'\nassert'
        --stop $'\n```' --stop $'\n\n\n')
VERIFY=(--timeout 1 --resume --mutants-per-problem 0 --unaligned-per-problem 0 --no-include-reference)
python -c "import json, sys; sys.stdout.writelines(l for l in open(sys.argv[1]) if json.loads(l).get('reference'))" \
  "$RUN/mbpp-codet.jsonl" > "$RUN/mbpp-codet-ref.jsonl"
codescaler sample "$RUN/mbpp-codet-ref.jsonl" -o "$RUN/sampled-codet-4.jsonl" --seed 0 "${SAMPLE[@]}"
codescaler candidates "$RUN/sampled-codet-4.jsonl" -o "$RUN/cand-sampled-codet-4.jsonl" "${VERIFY[@]}"
# candidates' output keeps no tests, so the problems to sample again are picked from the samples' file
python -c "import json, sys; sys.stdout.writelines(s for s, c in zip(open(sys.argv[1]), open(sys.argv[2])) \
if any(json.loads(c)['passed']))" "$RUN/sampled-codet-4.jsonl" "$RUN/cand-sampled-codet-4.jsonl" \
  > "$RUN/sampled-codet-again.jsonl"
codescaler sample "$RUN/sampled-codet-again.jsonl" -o "$RUN/sampled-codet-8.jsonl" --seed 1 "${SAMPLE[@]}"
codescaler candidates "$RUN/sampled-codet-8.jsonl" -o "$RUN/cand-sampled-codet-8.jsonl" "${VERIFY[@]}"
codescaler pairs "$RUN/cand-sampled-codet-8.jsonl" -o "$RUN/pairs-onpolicy-codet.jsonl" --max-pairs-per-problem 6
# the on-policy training pairs beside 600 of stage 5's training pairs (the trainer shuffles them; the run
# behind the card's figures shuffled the file too, with random.Random(6)); from stage 5 at lr 1e-4
python "$HERE/select_pairs.py" "$RUN/pairs-onpolicy-codet.jsonl" "$RUN/pairs-stage6-onpolicy.jsonl"
python "$HERE/select_pairs.py" "$RUN/pairs-stage5.jsonl" "$RUN/pairs-stage6-replay.jsonl" --limit 600 --seed 6
cat "$RUN/pairs-stage6-onpolicy.jsonl" "$RUN/pairs-stage6-replay.jsonl" > "$RUN/pairs-stage6.jsonl"
codescaler train --model_name_or_path "$RUN/model5" --pairs "$RUN/pairs-stage6.jsonl" \
  --eval_pairs "$RUN/pairs-validation.jsonl" --output_dir "$RUN/model6" --finetune lora --bf16 true \
  --use_cpu true --max_length 512 --per_device_train_batch_size 8 --learning_rate 1e-4 --save_steps 50 \
  --logging_steps 10 --seed 6
