"""Resumable batch jobs: which lines count as done, and that done lines are not read again."""

import json

from codescaler.records.batch import run_chunked
from codescaler.records.jsonl import ResumableWriter


def test_done_lines_come_from_each_record_whatever_its_key_order_and_a_cut_tail_is_dropped(tmp_path):
    out = tmp_path / "out.jsonl"
    out.write_text('{"line": 1, "score": 0.5}\n{"id": "b", "line": 2}\nnot json\n{"line": 4, "sc')
    writer = ResumableWriter(out, resume=True)
    writer.close()
    assert writer.done == {1, 2}
    assert out.read_text().endswith("not json\n")  # the half-written record is gone; line 4 runs again


def test_a_resumed_job_neither_reparses_nor_repeats_done_lines(tmp_path):
    source, out = tmp_path / "in.jsonl", tmp_path / "out.jsonl"
    # Line 2 became unreadable after it was answered: a resumed job must not report it again.
    source.write_text('{"id": "a"}\n{broken\n{"id": "c"}\n')
    out.write_text('{"line": 1, "id": "a", "n": 1}\n{"line": 2, "id": "b", "n": 1}\n')
    seen = []

    def process(items):
        seen.extend(number for number, _, _ in items)
        return [{"n": 1} for _ in items]

    new = list(run_chunked(source, out, lambda n, r: r, process, resume=True, show_progress=False))
    assert seen == [3] and [r["line"] for r in new] == [3]
    assert [json.loads(line)["line"] for line in out.read_text().splitlines()] == [1, 2, 3]
