"""Problem records as verl's RL dataset."""

from __future__ import annotations

import json

from codescaler.benchmarks.registry import Record

# The instruction RL prompts end with: the strict extractor wants exactly one fenced block.
ANSWER_FORMAT = "\n\nWrite your solution as one complete program in a single ```{language} code block."


def to_verl(records: list[Record], name: str) -> list[Record]:
    """Rows of verl's RL dataset: chat ``prompt``, ``data_source``, tests as ``reward_model.ground_truth``."""
    rows = []
    for index, r in enumerate(records):
        truth = {k: r[k] for k in ("tests", "entry_point", "code_prefix", "prelude", "language") if r.get(k)}
        rows.append(
            {
                "data_source": f"codescaler/{name}",
                "prompt": [{"role": "user", "content": r["question"] + ANSWER_FORMAT.format(language=r["language"])}],
                "ability": "code",
                "reward_model": {"style": "rule", "ground_truth": json.dumps(truth)},
                "extra_info": {"index": index, "id": r["id"], "question": r["question"], "split": r.get("split", "")},
            }
        )
    return rows
