"""The seams: every door a user's data comes through, fed the bad inputs of docs/seams.md. Each gets one clear line
that names the thing at fault, the rest of the batch is unharmed, and nothing is lost or left behind."""

import json

import pytest

from codescaler import extract_code, reward
from codescaler.cli import main
from codescaler.integrations import trl, verl
from codescaler.rewards.kinds import model_rewards

QUESTION = "Write add(a, b)."
CODE = "def add(a, b):\n    return a + b"
GOOD = f"```python\n{CODE}\n```"
TESTS = [{"type": "assert", "code": "assert add(1, 2) == 3"}]
PROBLEM = {"id": "ok", "question": QUESTION, "tests": TESTS, "responses": [GOOD]}

# (door, the command with {input} where the file goes); the commands a user points at a file of records
FILE_DOORS = {
    "verify": ["verify", "{input}", "-o", "{output}"],
    "score": ["score", "{input}", "-o", "{output}"],
    "rank": ["rank", "{input}", "-o", "{output}"],
    "evaluate": ["evaluate", "{input}"],
    "pairs": ["pairs", "{input}", "-o", "{output}"],
    "bon": ["bon", "{input}", "-o", "{output}"],
    "calibrate": ["calibrate", "{input}"],
    "sample": ["sample", "{input}", "-o", "{output}", "--model", "x"],
    "candidates": ["candidates", "{input}", "-o", "{output}"],
}
BAD_FILES = {
    "missing path": (None, "no such file"),
    "a folder": ("folder", "is a folder"),
    "an empty file": (b"", "is empty"),
    "a binary file": (b"\x7fELF\x02\x01\x01\x00\x00\x00", "not a text file"),
}


@pytest.mark.parametrize("bad", BAD_FILES)
@pytest.mark.parametrize("door", FILE_DOORS)
def test_a_bad_input_file_is_one_line_and_nothing_starts(door, bad, tmp_path, capsys):
    content, said = BAD_FILES[bad]
    path = tmp_path / "input.jsonl"
    if content == "folder":
        path.mkdir()
    elif content is not None:
        path.write_bytes(content)
    output = tmp_path / "out" / "result.jsonl"
    argv = [a.format(input=path, output=output) for a in FILE_DOORS[door]]
    with pytest.raises(SystemExit) as exited:
        main(argv)
    err = capsys.readouterr().err
    assert exited.value.code == 2 and said in err and str(path) in err
    assert len(err.strip().splitlines()) == 1, err  # one line, no traceback
    assert not output.exists() and not output.parent.exists()  # nothing left behind


def _batch(tmp_path):
    """A batch with every kind of bad record among good ones, as bytes: one line each."""
    lines = [
        ("\ufeff" + json.dumps(PROBLEM)).encode() + b"\r\n",  # BOM and CRLF
        json.dumps({**PROBLEM, "id": "cut"}).encode()[:40] + b"\n",  # a cut line
        json.dumps({**PROBLEM, "id": "types", "tests": "assert add(1, 2) == 3"}).encode() + b"\n",
        json.dumps({**PROBLEM, "id": "cobol", "language": "cobol"}).encode() + b"\n",
        json.dumps({**PROBLEM, "id": "Python", "language": "Python"}).encode() + b"\n",
        json.dumps({**PROBLEM, "id": "latin1"}).encode().replace(b"Write", b"Wr\xefte") + b"\n",
        json.dumps({**PROBLEM, "id": "tokens", "responses": [GOOD + "<|im_end|><|endoftext|>"]}).encode() + b"\n",
        json.dumps({**PROBLEM, "id": "huge", "question": "x" * 2_000_000}).encode() + b"\n",
        json.dumps({**PROBLEM, "id": "time", "time_limit": -1}).encode() + b"\n",
        json.dumps({**PROBLEM, "id": "last"}).encode() + b"\n",
    ]
    path = tmp_path / "batch.jsonl"
    path.write_bytes(b"".join(lines))
    return path


def test_verify_answers_every_record_of_a_bad_batch_and_runs_the_good(tmp_path, caplog):
    out = tmp_path / "verified.jsonl"
    assert main(["verify", str(_batch(tmp_path)), "-o", str(out), "--workers", "1"]) == 0
    rows = [json.loads(line) for line in out.read_text().splitlines()]
    assert [r["line"] for r in rows] == list(range(1, 11))  # every record answered once, in order
    by_line = {r["line"]: r for r in rows}
    assert by_line[1]["passed"] == [True]  # a BOM and CRLF are no part of the record
    assert "cut off at column" in by_line[2]["error"]
    assert "field 'tests' must be list" in by_line[3]["error"]
    assert "unknown language 'cobol'" in by_line[4]["error"] and "python" in by_line[4]["error"]
    assert by_line[5]["passed"] == [True]  # "Python" is python
    at = json.dumps({**PROBLEM, "id": "latin1"}).index("Write") + 3  # the byte of the bad character, 1-based
    assert by_line[6]["error"] == f"line 6: not UTF-8 (byte 0xef at byte {at})"
    assert by_line[7]["passed"] == [True]  # the end token after the block changes nothing
    assert by_line[8]["passed"] == [True]  # a 2 MB line is a record like any other
    assert "time_limit" in by_line[9]["error"] and "positive" in by_line[9]["error"]
    assert by_line[10]["passed"] == [True]
    assert "line 4 (id 'cobol')" in caplog.text  # said as it happens (a warning, on stderr at the command line)


def test_score_answers_every_record_and_reads_special_tokens_as_text_around_the_answer(tmp_path, tiny_model_dir):
    answers = [
        {"id": 1, "question": QUESTION, "response": GOOD},
        {"id": 2, "question": QUESTION, "response": GOOD + "<|im_end|>"},
        {"id": 3, "question": QUESTION, "response": 42},
        {"id": 4, "question": QUESTION},
    ]
    path = tmp_path / "answers.jsonl"
    path.write_text("".join(json.dumps(a) + "\n" for a in answers))
    out = tmp_path / "scored.jsonl"
    assert main(["score", str(path), "-o", str(out), "--model", str(tiny_model_dir)]) == 0
    rows = [json.loads(line) for line in out.read_text().splitlines()]
    assert [r["line"] for r in rows] == [1, 2, 3, 4]
    assert rows[0]["valid"] and rows[1]["valid"] and rows[0]["reward"] == pytest.approx(rows[1]["reward"])
    assert "field 'response' must be str, got int" in rows[2]["error"]
    assert "field 'response' must be str, got nothing" in rows[3]["error"]


@pytest.mark.parametrize(
    "argv, said",
    [
        (["data", "export", "mbbp", "-o", "x.jsonl"], "unknown dataset 'mbbp'; did you mean mbpp"),
        (["score", "{batch}", "-o", "{out}", "--language", "cobol"], "unknown language 'cobol'"),
        (["verify", "{batch}", "-o", "{out}", "--timeout", "-1"], "sandbox limits must be positive, got timeout -1"),
        (["eval-policy", "m", "-o", "{out}", "--benchmarks", "lcbb"], "unknown dataset 'lcbb'"),
        (["score", "{batch}", "-o", "{folder}"], "is a folder: name a file to write"),
    ],
)
def test_an_unknown_name_or_a_bad_setting_is_one_line_before_anything_runs(argv, said, tmp_path, capsys):
    batch = tmp_path / "batch.jsonl"
    batch.write_text(json.dumps(PROBLEM) + "\n")
    out = tmp_path / "out" / "o.jsonl"
    argv = [a.format(batch=batch, out=out, folder=tmp_path) for a in argv]
    try:
        code = main(argv)
    except SystemExit as exited:
        code = exited.code
    err = capsys.readouterr().err
    assert code == 2 and said in err and len(err.strip().splitlines()) == 1, err
    assert not out.exists() and not out.parent.exists()


def test_the_python_api_reads_special_tokens_bytes_and_crlf_as_the_same_answer(tiny_rm):
    variants = [GOOD, GOOD + "<|im_end|>", "<|endoftext|>" + GOOD, GOOD.replace("\n", "\r\n"), GOOD.encode()]
    results = reward(tiny_rm, [QUESTION] * len(variants), variants)
    assert all(r.valid for r in results)
    assert len({round(r.reward, 6) for r in results}) == 1
    assert extract_code(GOOD + "<|im_end|>").code == CODE
    with pytest.raises(ValueError, match="unknown language 'cobol'"):
        extract_code(GOOD, language="cobol")


def test_the_trl_and_verl_adapters_read_decoded_special_tokens_as_the_answer(tiny_rm, monkeypatch):
    plain = trl.RMReward(tiny_rm)([QUESTION], [GOOD])[0]
    assert (
        trl.RMReward(tiny_rm)([QUESTION], [GOOD + "<|im_end|><|endoftext|>"])[0] == pytest.approx(plain) and plain > 0
    )
    monkeypatch.setattr(verl, "_rm", lambda model=None: model_rewards(tiny_rm))
    truth, info = json.dumps({"tests": TESTS}), {"question": QUESTION}
    decoded = verl.compute_score("codescaler/mbpp", GOOD + "<|im_end|>", truth, info)
    assert decoded == pytest.approx(verl.compute_score("codescaler/mbpp", GOOD, truth, info)) and decoded > 0


def test_openrlhf_queries_decoded_with_special_tokens_get_the_answer_s_reward(tiny_rm):
    pytest.importorskip("fastapi")
    from fastapi.testclient import TestClient

    from codescaler.serving.reward_server import create_app

    with TestClient(create_app(tiny_rm)) as client:
        # OpenRLHF sends prompt + response decoded with the special tokens kept, padding and all
        queries = [QUESTION + GOOD, "<|endoftext|><|endoftext|>" + QUESTION + GOOD + "<|im_end|><|endoftext|>"]
        prompts = [QUESTION, "<|endoftext|><|endoftext|>" + QUESTION]
        rewards = client.post("/get_reward", json={"query": queries, "prompts": prompts}).json()["rewards"]
    assert rewards[0] > 0 and rewards[1] == pytest.approx(rewards[0])


@pytest.mark.parametrize(
    "argv, said",
    [
        (["score", "{batch}", "-o", "{out}", "--model", "/no/such/model"], "cannot load model '/no/such/model'"),
        (["eval-policy", "./no/such/policy", "-o", "{out}", "--benchmarks", "{batch}"], "cannot load policy"),
    ],
)
def test_a_model_that_does_not_load_is_one_line_and_leaves_nothing(argv, said, tmp_path, capsys):
    batch = tmp_path / "batch.jsonl"
    batch.write_text(json.dumps({**PROBLEM, "response": GOOD}) + "\n")
    out = tmp_path / "out" / "run"
    assert main([a.format(batch=batch, out=out) for a in argv]) == 2
    err = capsys.readouterr().err
    assert said in err and "Traceback" not in err
    assert not out.exists() and not out.parent.exists()
