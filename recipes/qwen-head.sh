#!/usr/bin/env bash
# A Bradley–Terry head over frozen Qwen2.5-Coder-0.5B-Instruct (issue 16, section 2), on 2 cores: ~1 min of
# candidates, then one forward pass per distinct program (the features, cached in RUN/head/features: a
# killed run resumes), then seconds of fitting. Training problems only: CodeT's HumanEval-style rendering
# of MBPP, its reference body against up to 16 verified mutants of it; the first 600 training pairs (the
# features of all 1,202 cost twice as long), validated on the held-out problems' 119 pairs.
#
#   bash recipes/qwen-head.sh [RUN_DIR]        (then: codescaler rank answers.jsonl --model RUN_DIR/head)
set -euo pipefail
RUN=${1:-runs/qwen-head}
mkdir -p "$RUN"
bash "$(dirname "$0")/fetch_qwen_coder.sh" "${CODESCALER_HOME:-$HOME/.cache/codescaler}/models"
codescaler data export mbpp-codet -o "$RUN/mbpp-codet.jsonl"
codescaler candidates "$RUN/mbpp-codet.jsonl" -o "$RUN/cand-mbpp-codet.jsonl" --timeout 1 --resume \
  --mutants-per-problem 16 --unaligned-per-problem 0
codescaler pairs "$RUN/cand-mbpp-codet.jsonl" -o "$RUN/pairs.jsonl" --max-pairs-per-problem 4
codescaler train-head --model-name-or-path qwen2.5-coder-0.5b --pairs "$RUN/pairs.jsonl" --max-pairs 600 \
  --output-dir "$RUN/head" --max-length 1024
