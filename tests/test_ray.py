import json

import pytest

ray = pytest.importorskip("ray")

from codescaler.cli import main  # noqa: E402


@pytest.fixture(scope="module")
def local_ray():
    ray.init(num_cpus=2, include_dashboard=False, log_to_driver=False)
    yield
    ray.shutdown()


def read(path):
    return [json.loads(line) for line in path.read_text().splitlines()]


def test_score_and_verify_with_ray_equal_local(tmp_path, tiny_model_dir, local_ray, monkeypatch):
    if "qwen3" in str(tiny_model_dir):
        pytest.skip("one architecture is enough: a local Ray costs half a minute")
    monkeypatch.delenv("RAY_ADDRESS", raising=False)
    answers = tmp_path / "answers.jsonl"
    code = "```python\ndef add(a, b):\n    return a + b + {}\n```"
    rows = [{"id": i, "question": f"Add {i}.", "response": code.format(i % 3)} for i in range(10)]
    rows.append({"id": "bad", "question": 3})
    answers.write_text("".join(json.dumps(r) + "\n" for r in rows))
    common = ["--model", str(tiny_model_dir)]
    assert main(["score", str(answers), "-o", str(tmp_path / "local.jsonl"), *common]) == 0
    assert (
        main(
            ["score", str(answers), "-o", str(tmp_path / "ray.jsonl"), "--engine", "ray", "--ray-actors", "2", *common]
        )
        == 0
    )
    local, remote = read(tmp_path / "local.jsonl"), read(tmp_path / "ray.jsonl")
    assert [r["line"] for r in remote] == list(range(1, 12)) and "error" in remote[-1]
    for a, b in zip(local, remote):
        assert a.keys() == b.keys() and a.get("valid") == b.get("valid")
        if a.get("score") is not None:
            assert abs(a["score"] - b["score"]) < 1e-4

    problems = tmp_path / "problems.jsonl"
    tests = [{"type": "assert", "code": "assert add(1, 2) == 3"}]
    problems.write_text(
        "".join(
            json.dumps({"id": i, "question": "q", "tests": tests, "responses": [r["response"]]}) + "\n"
            for i, r in enumerate(rows[:10])
        )
    )
    assert main(["verify", str(problems), "-o", str(tmp_path / "v-local.jsonl"), "--workers", "1"]) == 0
    assert (
        main(
            [
                "verify",
                str(problems),
                "-o",
                str(tmp_path / "v-ray.jsonl"),
                "--workers",
                "1",
                "--engine",
                "ray",
                "--ray-actors",
                "2",
            ]
        )
        == 0
    )
    assert read(tmp_path / "v-local.jsonl") == read(tmp_path / "v-ray.jsonl")
    assert [r["passed"] for r in read(tmp_path / "v-ray.jsonl")][:3] == [[True], [False], [False]]
