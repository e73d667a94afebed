"""Problem records as verl's RL dataset: training rows (the RL prompt, strict extraction) or evaluation rows,
verl's validation data, asked and judged exactly as ``codescaler eval-policy`` asks and judges them."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Literal

from codescaler.benchmarks.prompts import eval_messages, training_prompt
from codescaler.benchmarks.registry import Record
from codescaler.records.test_store import write_test_store

PROMPTS = ("train", "eval")


def to_verl(
    records: list[Record],
    name: str,
    prompt: Literal["train", "eval"] = "train",
    time_limit: float = 2.0,
    store: str | Path | None = None,
) -> list[Record]:
    """Rows of verl's RL dataset: chat ``prompt``, ``data_source``, tests as ``reward_model.ground_truth``.

    With ``store`` the tests are written there once and the ground truth names them (``tests_ref``,
    :mod:`codescaler.records.test_store`); without, each row carries its tests inline.

    ``prompt="eval"``: the paper's evaluation protocol, the same as ``codescaler eval-policy``'s defaults:
    LiveCodeBench's prompt, answers read by their last block unparsed, ``time_limit`` seconds per test, so
    the pass rate verl logs during training is the one measured after it."""
    if prompt not in PROMPTS:
        raise ValueError(f"prompt must be one of {', '.join(PROMPTS)}, got {prompt!r}")
    refs = write_test_store(store, records) if store is not None else [None] * len(records)
    rows = []
    for index, (r, ref) in enumerate(zip(records, refs)):
        truth = {k: r[k] for k in ("tests", "entry_point", "code_prefix", "prelude", "language") if r.get(k)}
        if ref is not None:
            truth = {k: v for k, v in truth.items() if k != "tests"} | {"tests_ref": ref}
        if prompt == "eval":
            truth |= {"extraction": "last", "time_limit": time_limit}
        messages = eval_messages(r) if prompt == "eval" else [{"role": "user", "content": training_prompt(r)}]
        rows.append(
            {
                "data_source": f"codescaler/{name}",
                "prompt": messages,
                "ability": "code",
                "reward_model": {"style": "rule", "ground_truth": json.dumps(truth)},
                "extra_info": {"index": index, "id": r["id"], "question": r["question"], "split": r.get("split", "")},
            }
        )
    return rows
