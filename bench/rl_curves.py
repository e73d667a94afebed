"""Plot GRPO runs side by side from their `codescaler rl` reports: reward, validity, completion length, and
the reward-hacking monitor's agreement with execution (`codescaler.rl.grpo.plot_reports`).

python bench/rl_curves.py bench/results/rl/rm/report.json bench/results/rl/execution/report.json
"""

from __future__ import annotations

import json
import sys
from pathlib import Path

from codescaler.rl.grpo import plot_reports


def main() -> None:
    reports = [json.loads(Path(p).read_text()) for p in sys.argv[1:]]
    out = Path(sys.argv[1]).parents[1] / "curves.png"
    plot_reports(reports, out)
    print(f"-> {out}")


if __name__ == "__main__":
    main()
