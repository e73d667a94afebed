import json
import subprocess
import sys

import pytest
from conftest import run_cli_without

from codescaler.cli import main, make_parser
from codescaler.records.schema import ScoreRow

EXAMPLE = "examples/subarray_sum.jsonl"  # argparse checks an input exists as it parses

GOOD = "```python\ndef f(x):\n    return x + 1\n```"


def write_lines(path, lines):
    path.write_text("".join((line if isinstance(line, str) else json.dumps(line)) + "\n" for line in lines))


def read_out(path):
    return [json.loads(line) for line in path.read_text().splitlines()]


@pytest.mark.parametrize("command", [[], ["score"], ["rank"]])
def test_help_for_every_command(command, capsys):
    with pytest.raises(SystemExit) as exit_info:
        make_parser().parse_args([*command, "--help"])
    assert exit_info.value.code == 0
    assert "usage: codescaler" in capsys.readouterr().out


def test_config_fields_become_flags():
    args = make_parser().parse_args(
        [
            "score",
            EXAMPLE,
            "-o",
            "out",
            "--model",
            "m",
            "--mode",
            "lenient",
            "--shaping",
            "sigmoid",
            "--batch-size",
            "4",
        ]
    )
    assert (args.mode, args.shaping, args.batch_size, args.invalid_reward) == ("lenient", "sigmoid", 4, 0.0)
    with pytest.raises(SystemExit):
        make_parser().parse_args(["score", EXAMPLE, "-o", "out", "--model", "m", "--shaping", "tanh"])


def test_selection_and_reward_commands_default_to_their_own_judges(monkeypatch):
    from codescaler import judges
    from codescaler.cli import flags, score

    monkeypatch.setattr(score, "SELECTION_JUDGE", "coder")  # as if measurement had chosen a likelihood judge
    monkeypatch.setattr(score, "REWARD_JUDGE", "rm")
    parser = make_parser()
    assert parser.parse_args(["rank", EXAMPLE]).judge == "coder"
    assert parser.parse_args(["score", EXAMPLE, "-o", "out"]).judge == "rm"
    assert parser.parse_args(["serve"]).judge == judges.REWARD_JUDGE == flags.REWARD_JUDGE
    assert parser.parse_args(["rank", EXAMPLE, "--judge", "rm"]).judge == "rm"


def test_score_writes_one_line_per_input_including_malformed(tiny_model_dir, tmp_path):
    src, out = tmp_path / "in.jsonl", tmp_path / "out.jsonl"
    write_lines(
        src,
        [
            {"id": "a", "question": "Q1", "response": GOOD},
            "{not json",
            {"id": "c", "question": "Q3"},
            [1, 2],
            {"id": "e", "question": "Q5", "response": "no code here"},
        ],
    )
    assert main(["score", str(src), "-o", str(out), "--model", str(tiny_model_dir)]) == 0
    rows = read_out(out)
    assert [r["line"] for r in rows] == [1, 2, 3, 4, 5]
    assert rows[0]["valid"] and isinstance(rows[0]["score"], float) and rows[0]["reward"] > 0
    assert set(rows[0]) == set(ScoreRow.__annotations__)  # the schema's row, no more, no less
    assert rows[1]["error"].startswith("line 2: invalid JSON")
    assert rows[2]["error"] == "line 3 (id 'c'): field 'response' must be str, got nothing"
    assert rows[3]["error"] == "line 4: expected a JSON object, got list"
    assert rows[4]["valid"] is False and rows[4]["reason"] == "no_block" and rows[4]["score"] is None


def test_resume_after_kill_loses_and_repeats_nothing(tiny_model_dir, tmp_path):
    src, out = tmp_path / "in.jsonl", tmp_path / "out.jsonl"
    write_lines(src, [{"id": i, "question": f"Q{i % 3}", "response": GOOD.replace("1", str(i))} for i in range(10)])
    argv = ["score", str(src), "-o", str(out), "--model", str(tiny_model_dir)]
    assert main(argv) == 0
    full = read_out(out)
    # A kill -9 mid-write: four complete lines and half of the fifth.
    text = out.read_text().splitlines(keepends=True)
    out.write_text("".join(text[:4]) + text[4][: len(text[4]) // 2])
    assert main([*argv, "--resume"]) == 0
    resumed = read_out(out)
    assert sorted(r["line"] for r in resumed) == list(range(1, 11))
    assert {r["line"]: r["score"] for r in resumed} == pytest.approx({r["line"]: r["score"] for r in full}, abs=1e-4)


def test_without_resume_output_is_overwritten(tiny_model_dir, tmp_path):
    src, out = tmp_path / "in.jsonl", tmp_path / "out.jsonl"
    write_lines(src, [{"id": 1, "question": "Q", "response": GOOD}])
    out.write_text('{"line": 7, "stale": true}\n')
    main(["score", str(src), "-o", str(out), "--model", str(tiny_model_dir)])
    assert [r["line"] for r in read_out(out)] == [1]


def test_rank_prints_table_and_writes_order(tiny_model_dir, tmp_path, capsys):
    src, out = tmp_path / "problems.jsonl", tmp_path / "ranked.jsonl"
    responses = [GOOD, "```python\ndef f(x)\n```", "```python\ndef f(x):\n    return x - 1\n```"]
    write_lines(
        src,
        [
            {"id": "p1", "question": "Write f.", "responses": responses},
            {
                "id": "p2",
                "question": "Complete f.",
                "responses": ["    return x\n", "    return (\n"],
                "code_prefix": "def f(x):\n",
            },
            {"id": "p3", "question": "Q", "responses": "not a list"},
        ],
    )
    assert main(["rank", str(src), "-o", str(out), "--model", str(tiny_model_dir)]) == 0
    printed = capsys.readouterr().out
    assert "p1" in printed and "rank" in printed and "no (syntax_error: 1)" in printed
    rows = read_out(out)
    assert sorted(rows[0]["order"]) == [0, 1, 2] and rows[0]["order"][-1] == 1
    assert rows[1]["valid"] == [True, False] and rows[1]["order"] == [0, 1]
    assert "field 'responses' must be list" in rows[2]["error"]


def test_train_takes_its_flags_after_global_ones():
    """`train` was only special-cased as the first argument: `codescaler -v train --help` failed."""
    result = subprocess.run(
        [sys.executable, "-m", "codescaler", "-v", "train", "--help"], capture_output=True, text=True
    )
    assert result.returncode == 0 and "--pairs" in result.stdout and "--finetune" in result.stdout
    with pytest.raises(SystemExit):
        main(["score", "in.jsonl", "-o", "out.jsonl", "--no-such-flag"])


def test_list_fields_take_lists(capsys):
    args = make_parser().parse_args(["bon", EXAMPLE, "-o", "r", "--methods", "rm", "oracle", "--n", "1", "4"])
    assert (args.methods, args.n) == (["rm", "oracle"], [1, 4])
    args = make_parser().parse_args(["sample", EXAMPLE, "-o", "s", "--model", "m", "--stop", "A", "--stop", "B", "C"])
    assert args.stop == ["A", "B", "C"] and make_parser().parse_args(["bon", EXAMPLE, "-o", "r"]).n[-1] == 100
    assert main(["bon", EXAMPLE, "-o", "r", "--methods", "rm", "best"]) == 2
    assert "unknown methods" in capsys.readouterr().err


def test_commands_that_load_no_model_run_without_torch(tmp_path):
    """A verl or Ray CPU worker that only executes tests may have no torch: verify, evaluate and data run there."""
    problems, verified = tmp_path / "p.jsonl", tmp_path / "v.jsonl"
    write_lines(
        problems,
        [
            {
                "id": "a",
                "question": "q",
                "tests": [{"type": "assert", "code": "assert x == 1"}],
                "responses": ["```python\nx = 1\n```", "```python\nx = 2\n```"],
            }
        ],
    )
    commands = [["data", "list"], ["verify", str(problems), "-o", str(verified), "--workers", "1"]]
    run_cli_without(("torch", "transformers", "trl"), *commands, ["evaluate", str(verified), "--k", "1", "2"])
    assert read_out(verified)[0]["passed"] == [True, False]


def test_console_script_runs():
    result = subprocess.run([sys.executable, "-m", "codescaler", "--help"], capture_output=True, text=True)
    assert result.returncode == 0 and "score" in result.stdout and "rank" in result.stdout


def test_resume_after_a_real_kill_9(tiny_model_dir, tmp_path):
    import os
    import signal
    import time

    src, out = tmp_path / "in.jsonl", tmp_path / "out.jsonl"
    write_lines(src, [{"id": i, "question": f"Q{i % 7}", "response": GOOD.replace("1", str(i))} for i in range(3000)])
    argv = [sys.executable, "-m", "codescaler", "score", str(src), "-o", str(out), "--model", str(tiny_model_dir)]
    job = subprocess.Popen(argv, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    deadline = time.monotonic() + 120
    while time.monotonic() < deadline and job.poll() is None:
        if out.exists() and out.stat().st_size > 0:
            break
        time.sleep(0.05)
    job.send_signal(signal.SIGKILL)
    job.wait()
    killed_at = len(out.read_text().splitlines()) if out.exists() else 0
    assert main(["score", str(src), "-o", str(out), "--model", str(tiny_model_dir), "--resume"]) == 0
    lines = [r["line"] for r in read_out(out)]
    assert sorted(lines) == list(range(1, 3001)), f"killed after {killed_at} lines"
    assert os.path.getsize(out) > 0


def test_help_says_each_default_once(capsys):
    with pytest.raises(SystemExit):
        main(["serve-sandbox", "--help"])
    shown = " ".join(capsys.readouterr().out.split())
    assert "(default: )" not in shown and "$CODESCALER_API_KEY (default" not in shown
    assert "(default: 6.0)" in shown  # the run timeout a request that names none gets


def test_data_list_says_where_each_dataset_is(capsys, monkeypatch, tmp_path):
    (tmp_path / "mbpp").mkdir()
    (tmp_path / "mbpp" / "mbpp.jsonl").write_text("{}\n")
    monkeypatch.setenv("CODESCALER_DATA", str(tmp_path))
    assert main(["data", "list"]) == 0
    rows = {line.split()[0]: line.split() for line in capsys.readouterr().out.splitlines()[1:]}
    assert rows["mbpp"][1:4] == ["local", "0.0", "kB"]
    assert rows["humaneval"][1] == "missing"


def test_version_flag(capsys):
    import importlib.metadata

    with pytest.raises(SystemExit) as exit_:
        main(["--version"])
    assert exit_.value.code == 0
    assert capsys.readouterr().out.strip() == f"codescaler {importlib.metadata.version('codescaler')}"


@pytest.mark.parametrize(
    ("argv", "said"),
    [
        (["data", "export", "mbpp", "-o", "/tmp"], "/tmp is a folder: name a file to write"),
        (["serve-sandbox", "--port", "99999"], "port 99999 is not a TCP port"),
        (["serve", "--port", "-1"], "port -1 is not a TCP port"),
    ],
)
def test_bad_output_paths_and_ports_are_one_line(argv, said, capsys):
    """A folder as -o used to raise IsADirectoryError with a traceback, at the end of the work; --port 99999 printed
    it and listened on another port."""
    try:
        code = main(argv)
    except SystemExit as exit_:
        code = exit_.code
    assert code == 2
    err = capsys.readouterr().err
    assert said in err and len(err.strip().splitlines()) == 1 and "Traceback" not in err


def test_a_file_with_no_record_is_refused_before_a_model_loads(tmp_path, capsys):
    """rank used to load the model, then exit 0 with every line an error row."""
    bad = tmp_path / "notjson.jsonl"
    bad.write_text("not json\n[1, 2]\n\n")
    with pytest.raises(SystemExit) as exit_:
        main(["rank", str(bad), "--model", "/nonexistent-model-that-would-fail-to-load"])
    assert exit_.value.code == 2
    err = capsys.readouterr().err
    assert "holds no record: none of its 2 lines is a JSON object (line 1: invalid JSON" in err
    good = tmp_path / "one.jsonl"
    good.write_text("not json\n" + json.dumps({"question": "q", "response": "r"}) + "\n")
    from codescaler.records.jsonl import check_input

    assert check_input(good) == good  # one record among bad lines is input: its bad lines become error rows


def test_data_export_makes_its_output_folder_as_batch_jobs_do(tmp_path, capsys):
    """`data export mbpp -o /nonexistent/dir/x.jsonl` raised FileNotFoundError; every batch job makes its folder."""
    out = tmp_path / "new" / "deeper" / "mbpp.jsonl"
    assert main(["data", "export", "mbpp", "-o", str(out)]) == 0
    assert len(out.read_text().splitlines()) == 974
