#!/usr/bin/env bash
# codescaler-mini's P(pass) calibration: fitted on execution-verified candidates of MBPP's held-out problems
# (the validation split every training stage held out; never trained on), every other problem; ECE and Brier
# measured on the rest. Writes the fit into the packaged model's codescaler_config.json.
set -euo pipefail
RUN=${1:-runs/calibration}
mkdir -p "$RUN"
codescaler data export mbpp -o "$RUN/mbpp.jsonl"
python - "$RUN" <<'PY'
import json, sys
from codescaler.training.pairs import problem_split
run = sys.argv[1]
rows = [json.loads(line) for line in open(f"{run}/mbpp.jsonl")]
with open(f"{run}/mbpp-heldout.jsonl", "w") as f:
    f.writelines(json.dumps(r) + "\n" for r in rows if problem_split(r["id"], 0.1, 0) == "validation")
PY
codescaler candidates "$RUN/mbpp-heldout.jsonl" -o "$RUN/cand.jsonl" --timeout 2
python - "$RUN" <<'PY'
import json, sys
run = sys.argv[1]
rows = [r for r in map(json.loads, open(f"{run}/cand.jsonl")) if "error" not in r]
for name, part in (("fit", rows[0::2]), ("eval", rows[1::2])):
    with open(f"{run}/{name}.jsonl", "w") as f:
        f.writelines(json.dumps(r) + "\n" for r in part)
PY
codescaler calibrate "$RUN/fit.jsonl" --model codescaler-mini --eval "$RUN/eval.jsonl" --save -o "$RUN/calibration.json"
