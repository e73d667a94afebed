#!/usr/bin/env bash
# GRPO of Qwen3-8B-Base with a CodeScaler reward on a Ray cluster (4 nodes x 8 GPUs by default).
#
#   1. On every node: pip install 'codescaler[verl]' (and verl with its vLLM).
#   2. On one node, the reward server (one RM shared by every verl worker):
#        codescaler serve --model LARK-Lab/CodeScaler-8B --host 0.0.0.0 --port 8000
#      or a vLLM pooling server (see docs/vllm.md) behind the same endpoint.
#   3. On the Ray head: CODESCALER_SERVER=http://<rm-node>:8000 bash recipes/verl/run_grpo_qwen3_8b.sh
#
# Without CODESCALER_SERVER each verl reward worker loads CODESCALER_MODEL itself.
# CODESCALER_REWARD=execution runs the paper's binary execution baseline instead.
set -euo pipefail
DATA=${DATA:-$HOME/data/codescaler-deepcoder}
NNODES=${NNODES:-4}
mkdir -p "$DATA"
# DeepCoder-style training sets in verl's RL format; LiveCodeBench's test split for validation.
for name in lcb-train codeforces codecontests leetcode-train; do
  codescaler data export "$name" --format verl -o "$DATA/$name.parquet"
done
codescaler data export lcb --format verl -o "$DATA/lcb-test.parquet"
REWARD_FN=$(python -m codescaler.integrations.verl)
HERE=$(cd "$(dirname "$0")" && pwd)

python -m verl.trainer.main_ppo \
  --config-path "$HERE" --config-name codescaler_grpo \
  data.train_files="[$DATA/lcb-train.parquet,$DATA/codeforces.parquet,$DATA/codecontests.parquet,$DATA/leetcode-train.parquet]" \
  data.val_files="[$DATA/lcb-test.parquet]" \
  custom_reward_function.path="$REWARD_FN" \
  trainer.nnodes="$NNODES" \
  "$@"
