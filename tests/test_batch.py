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


def test_a_parquet_input_reads_as_its_rows_and_resumes_like_jsonl(tmp_path):
    """Row n of a Parquet file is line n: the same outputs as the JSONL of the same records, and a resumed job
    answers only the rows not yet answered. Rows are read a batch at a time (``_PARQUET_ROWS``)."""
    import pyarrow as pa
    import pyarrow.parquet as pq

    from codescaler.records import jsonl

    records = [{"id": i, "question": f"q{i}", "response": "r" * (i % 7)} for i in range(2500)]
    jsonl_path, parquet_path = tmp_path / "in.jsonl", tmp_path / "in.parquet"
    jsonl_path.write_text("".join(json.dumps(r) + "\n" for r in records))
    pq.write_table(pa.Table.from_pylist(records), parquet_path, row_group_size=1000)
    assert jsonl.check_input(parquet_path) == parquet_path and jsonl.count_records(parquet_path) == 2500

    def process(items):
        return [{"length": len(record["response"])} for _, record, _ in items]

    out_j, out_p = tmp_path / "j.jsonl", tmp_path / "p.jsonl"
    from_jsonl = list(run_chunked(jsonl_path, out_j, lambda n, r: r, process, show_progress=False))
    half = list(run_chunked(parquet_path, out_p, lambda n, r: r, process, show_progress=False))
    assert half == from_jsonl and [r["line"] for r in half] == list(range(1, 2501))
    out_p.write_text("".join(json.dumps(r) + "\n" for r in half[:1234]))  # a job killed after 1,234 rows
    seen = []
    rest = list(
        run_chunked(parquet_path, out_p, lambda n, r: seen.append(n) or r, process, resume=True, show_progress=False)
    )
    assert seen == list(range(1235, 2501)) and len(rest) == 2500 - 1234
    assert [json.loads(line) for line in out_p.read_text().splitlines()] == from_jsonl


def test_a_cut_or_corrupt_parquet_input_is_refused_by_name_and_a_text_line_starting_par1_is_a_record_error(tmp_path):
    import pyarrow as pa
    import pyarrow.parquet as pq
    import pytest

    from codescaler.records import jsonl
    from codescaler.records.errors import InputError, RecordError

    whole = tmp_path / "whole.parquet"
    pq.write_table(pa.Table.from_pylist([{"id": i} for i in range(10)]), whole)
    data = whole.read_bytes()
    cut, corrupt = tmp_path / "cut.parquet", tmp_path / "corrupt.parquet"
    cut.write_bytes(data[: len(data) // 2])  # a copy stopped halfway: no footer
    corrupt.write_bytes(data[:4] + b"\xff" * (len(data) - 12) + data[-8:])  # framed, but the footer is garbage
    with pytest.raises(InputError, match="cut.parquet starts as Parquet but has no Parquet footer"):
        jsonl.check_input(cut)
    with pytest.raises(InputError, match="corrupt.parquet is not a readable Parquet file"):
        jsonl.check_input(corrupt)
    text = tmp_path / "par1.jsonl"
    text.write_text('PAR1 is not JSON\n{"id": 2}\n')
    assert [(n, type(r)) for n, r in jsonl.read_lines(text)] == [(1, RecordError), (2, dict)]
