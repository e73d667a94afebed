#!/usr/bin/env bash
# GRPO of Qwen3-8B-Base with a CodeScaler reward on a Ray cluster (4 nodes x 8 GPUs by default).
#
#   1. On every node: pip install 'codescaler[verl]' (and verl with its vLLM).
#   2. On one node, the RM on an inference engine (docs/engines.md):
#        vllm serve LARK-Lab/CodeScaler-8B --runner pooling --convert classify --max-model-len 4096 --port 8000
#   3. On the Ray head: RM=vllm+http://<rm-node>:8000 bash recipes/verl/run_grpo_qwen3_8b.sh
#
# Without RM each verl reward worker loads LARK-Lab/CodeScaler-8B itself (CODESCALER_SERVER=http://...
# points them at a `codescaler serve` instead).
# REWARD=execution runs the paper's binary execution baseline instead (or hybrid: execution where tests exist).
set -euo pipefail
DATA=${DATA:-$HOME/data/codescaler-deepcoder}
NNODES=${NNODES:-4}
mkdir -p "$DATA"
# DeepCoder's training sets in verl's RL format. Its test sets (LiveCodeBench's test split, CodeContests,
# Codeforces, LeetCode's test split) are validation data, asked and judged as `codescaler eval-policy` does
# (--prompt eval), so the pass rates verl logs are the ones eval-policy measures after training. Each export
# writes NAME.parquet and NAME.tests.jsonl, the tests its rows name: $DATA must be where the reward workers
# read it (a shared folder), or set CODESCALER_TEST_STORE_DIR on them to where it is.
for name in lcb-train leetcode-train; do
  codescaler data export "$name" --format verl -o "$DATA/$name.parquet"
done
for name in lcb codecontests codeforces leetcode-test; do
  codescaler data export "$name" --format verl --prompt eval -o "$DATA/val-$name.parquet"
done
REWARD_FN=$(python -m codescaler.integrations.verl)
HERE=$(cd "$(dirname "$0")" && pwd)

python -m verl.trainer.main_ppo \
  --config-path "$HERE" --config-name codescaler_grpo \
  data.train_files="[$DATA/lcb-train.parquet,$DATA/leetcode-train.parquet]" \
  data.val_files="[$DATA/val-lcb.parquet,$DATA/val-codecontests.parquet,$DATA/val-codeforces.parquet,$DATA/val-leetcode-test.parquet]" \
  reward.custom_reward_function.path="$REWARD_FN" \
  +reward.custom_reward_function.reward_kwargs.model="${RM:-LARK-Lab/CodeScaler-8B}" \
  +reward.custom_reward_function.reward_kwargs.reward="${REWARD:-rm}" \
  trainer.nnodes="$NNODES" \
  "$@"
