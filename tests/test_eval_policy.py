"""``codescaler eval-policy`` end to end over an OpenAI-compatible server that answers known responses: the
verdicts, Avg@n and pass@k, why samples failed, resuming a killed run, the baseline, and verl's validation rows
judging the same responses the same way."""

import json
import threading
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import pytest

from codescaler.benchmarks import eval_messages, eval_prompt, to_verl, training_prompt
from codescaler.benchmarks.prompts import LCB_SYSTEM
from codescaler.cli import main
from codescaler.evaluation.policy import PolicyEvalConfig, evaluate_policy, prepare
from codescaler.evaluation.report import DIFFERENCE, RATE, build_report
from codescaler.execution.sandbox import Sandbox
from codescaler.execution.verify import verify_responses
from codescaler.extraction import extract_code
from codescaler.integrations import verl
from codescaler.measure.rm_eval import bounded_interval

ADD = {"id": "add", "question": "Write add(a, b).", "entry_point": "add", "starter_code": "def add(a, b):\n    "}
ADD["tests"] = [
    {"type": "call", "fn": "add", "args": [1, 2], "expected": 3},
    {"type": "call", "fn": "add", "args": [2, 2], "expected": 4},
]
SUM = {"id": "sum", "question": "Read two integers and print their sum."}
SUM["tests"] = [
    {"type": "stdio", "input": "1 2\n", "output": "3\n"},
    {"type": "stdio", "input": "5 5\n", "output": "10\n"},
]
NO_TESTS = {"id": "untested", "question": "Anything.", "tests": []}
fence = "```python\n{}\n```".format
# Per problem, four answers: right, wrong, no code, a last block that does not parse (it runs and fails).
ANSWERS = {
    "add": [
        fence("def add(a, b):\n    return a + b"),
        fence("def add(a, b):\n    return a * b"),
        "Use +.",
        fence("def add(a, b) return"),
    ],
    "sum": [
        "Think first.\n" + fence("print(0)") + "\nfinal:\n" + fence("a, b = map(int, input().split())\nprint(a + b)"),
        fence("print(3)"),
        "",
        fence("import sys\nsys.exit(2)"),
    ],
}


class FakePolicy:
    """An OpenAI-compatible server (``/v1/models``, ``/v1/chat/completions``) whose policy answers each problem
    with ``answers[id]``, read from the prompt it is sent; it counts the requests and keeps their bodies."""

    def __init__(self, answers, *, busy_first=0, give=None):
        self.requests = []
        fake = self

        class Handler(BaseHTTPRequestHandler):
            def log_message(self, *args):
                pass

            def _send(self, body, status=200):
                data = json.dumps(body).encode()
                self.send_response(status)
                if status == 503:
                    self.send_header("Retry-After", "0")
                self.send_header("Content-Type", "application/json")
                self.send_header("Content-Length", str(len(data)))
                self.end_headers()
                self.wfile.write(data)

            def do_GET(self):
                self._send({"data": [{"id": "fake-policy"}]})

            def do_POST(self):
                body = json.loads(self.rfile.read(int(self.headers["Content-Length"])))
                fake.requests.append(body)
                if len(fake.requests) <= busy_first:
                    return self._send({"error": "busy"}, 503)
                user = body["messages"][-1]["content"]
                question = user.split("\n")[1].lower()  # "### Question:\n<question>..."
                name = next(k for k in answers if k in question)
                texts = (answers[name] * body["n"])[: give or body["n"]]
                choices = [{"index": i, "message": {"role": "assistant", "content": t}} for i, t in enumerate(texts)]
                self._send({"choices": choices, "usage": {"completion_tokens": 10 * body["n"]}})

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        threading.Thread(target=self.server.serve_forever, daemon=True).start()
        self.url = f"openai+http://127.0.0.1:{self.server.server_port}/v1"

    def close(self):
        self.server.shutdown()


@pytest.fixture
def problems_file(tmp_path):
    path = tmp_path / "problems.jsonl"
    path.write_text("".join(json.dumps(p) + "\n" for p in (ADD, SUM, NO_TESTS)) + "{not json\n")
    return str(path)


@pytest.fixture(scope="module")
def sandbox():
    with Sandbox(workers=2) as sb:
        yield sb


def test_the_paper_protocol_is_the_default():
    config = PolicyEvalConfig()
    assert (config.n, config.temperature, config.top_p, config.top_k) == (8, 0.6, 0.95, 20)
    assert (config.extraction, config.time_limit) == ("last", 2.0)
    assert config.sample_config().system == LCB_SYSTEM


def test_eval_prompts_are_livecodebench_s():
    with_starter = eval_prompt(ADD)
    assert with_starter.startswith("### Question:\nWrite add(a, b).\n\n### Format: You will use the following starter")
    assert "```python\ndef add(a, b):\n```" in with_starter
    assert with_starter.endswith("### Answer: (use the provided format with backticks)\n\n")
    assert "```python\n# YOUR CODE HERE\n```" in eval_prompt(SUM) and "stdin" in eval_prompt(SUM)
    assert eval_messages(SUM)[0] == {"role": "system", "content": LCB_SYSTEM}
    assert training_prompt(ADD).startswith("Write add(a, b).\n\n```python\ndef add(a, b):\n```")


def test_the_evaluation_extractor_takes_the_last_block_unparsed():
    answer = fence("x = 1") + "\nthen\n" + fence("def f(:")
    assert extract_code(answer, mode="last").code == "def f(:"  # lenient would fall back to x = 1
    assert extract_code(answer, mode="lenient").code == "x = 1"
    assert extract_code("no code here", mode="last").reason == "no_block"
    assert extract_code(fence(""), mode="last").reason == "empty"


def test_eval_policy_end_to_end(problems_file, tmp_path, sandbox):
    fake = FakePolicy(ANSWERS)
    try:
        out = tmp_path / "run"
        config = PolicyEvalConfig(benchmarks=[problems_file], n=4, ks=[1, 2, 4], max_new_tokens=64)
        evaluate_policy(fake.url, out, config, sandbox)
        report = build_report(out, config.ks)
    finally:
        fake.close()
    (bench,) = report["benchmarks"].values()
    assert bench["problems"] == 2 and bench["samples"] == 8
    assert bench["per_problem"] == {"add": 0.25, "sum": 0.25}
    assert bench["avg@4"]["mean"] == pytest.approx(0.25)
    assert bench["pass@k"]["1"]["mean"] == pytest.approx(0.25) and bench["pass@k"]["4"]["mean"] == pytest.approx(1.0)
    assert bench["pass@k"]["2"]["mean"] == pytest.approx(0.5)  # 1 - C(3,2)/C(4,2)
    assert bench["failures"]["wrong_answer"] == pytest.approx(0.25)
    assert bench["failures"]["no_code"] == pytest.approx(0.25) and bench["validity"] == pytest.approx(0.75)
    # the unparsable last block runs and fails to compile; sys.exit(2) is a runtime error: two statuses, not one
    assert bench["failures"]["runtime_error"] == pytest.approx(0.125)
    assert bench["failures"]["compile_error"] == pytest.approx(0.125)
    assert bench["tokens_per_sample"] == pytest.approx(10)
    reasons = {u["id"]: u["reason"] for u in report["unrunnable"]}
    assert reasons["untested"].endswith("no tests") and "invalid JSON" in reasons[None]  # apart, not failures
    body = fake.requests[0]
    assert (body["temperature"], body["top_p"], body["top_k"], body["n"]) == (0.6, 0.95, 20, 4)
    assert body["messages"][0]["content"] == LCB_SYSTEM and body["model"] == "fake-policy"
    md = (out / "report.md").read_text()
    assert "Avg@n" in md and "untested: line 3 (id 'untested'): no tests" in md and (out / "report.png").exists()
    assert "on 1 benchmark" in md and "1 benchmarks" not in md
    sample = json.loads((out / "samples.jsonl").read_text().splitlines()[0])
    assert "tests" not in sample and sample["id"] == "add"  # a sample names its problem, never carries its tests


def test_the_openai_sampler_retries_a_busy_server_and_names_a_bad_answer():
    from codescaler.judges.http import ServerError
    from codescaler.training.generation import SampleConfig, make_sampler

    prompt = eval_prompt(ADD)
    busy = FakePolicy(ANSWERS, busy_first=2)
    try:
        (samples,) = make_sampler(busy.url, SampleConfig(n=2)).sample([prompt], SampleConfig(n=2))
    finally:
        busy.close()
    assert len(busy.requests) == 3 and [s.text for s in samples] == ANSWERS["add"][:2]
    short = FakePolicy(ANSWERS, give=1)
    try:
        with pytest.raises(ServerError, match="1 choices for n=2"):
            make_sampler(short.url, SampleConfig(n=2)).sample([prompt], SampleConfig(n=2))
    finally:
        short.close()


def test_a_killed_run_resumes_without_sampling_again(problems_file, tmp_path, sandbox):
    out = tmp_path / "run"
    config = PolicyEvalConfig(benchmarks=[problems_file], n=4, ks=[1], chunk_size=1)
    fake = FakePolicy(ANSWERS)
    try:
        evaluate_policy(fake.url, out, config, sandbox)
        assert len(fake.requests) == 2
        # killed while writing the second problem's samples, before any verdict of it
        samples = (out / "samples.jsonl").read_text().splitlines()
        (out / "samples.jsonl").write_text(samples[0] + "\n" + samples[1][:40])
        verdicts = (out / "verdicts.jsonl").read_text().splitlines()
        (out / "verdicts.jsonl").write_text(verdicts[0] + "\n")
        evaluate_policy(fake.url, out, config, sandbox)
        assert len(fake.requests) == 3  # only the lost problem was sampled again
        assert [json.loads(x)["id"] for x in (out / "verdicts.jsonl").read_text().splitlines()] == ["add", "sum"]
        with pytest.raises(ValueError, match="differs in n"):
            evaluate_policy(fake.url, out, PolicyEvalConfig(benchmarks=[problems_file], n=2), sandbox)
    finally:
        fake.close()


def test_a_baseline_gives_paired_differences(problems_file, tmp_path, sandbox):
    better = {"add": [ANSWERS["add"][0]] * 3 + [ANSWERS["add"][1]], "sum": ANSWERS["sum"]}
    runs = {}
    for name, answers in (("base", ANSWERS), ("rl", better)):
        fake = FakePolicy(answers)
        try:
            config = PolicyEvalConfig(benchmarks=[problems_file], n=4, ks=[1])
            evaluate_policy(fake.url, tmp_path / name, config, sandbox)
        finally:
            fake.close()
        runs[name] = build_report(tmp_path / name, config.ks, tmp_path / "base" if name == "rl" else None)
    compared = runs["rl"]["baseline"]
    (diff,) = compared["benchmarks"].values()
    assert diff["problems"] == 2 and diff["difference"]["mean"] == pytest.approx(0.25)  # add: 0.75 - 0.25, sum: 0
    assert compared["all"]["difference"]["mean"] == pytest.approx(0.25)


def test_intervals_stay_honest_over_a_few_problems():
    # Two problems at 0%: the normal interval said 0.0 [0.0, 0.0], a certainty two problems cannot give.
    rate = bounded_interval([0.0, 0.0], RATE)
    assert rate["mean"] == 0.0 and rate["low"] == 0.0 and 0.6 < rate["high"] < 0.7
    # Qwen2.5-Coder-0.5B's Codeforces row on 4 problems: the normal interval alone reaches -18%.
    rate = bounded_interval([0.0, 0.0, 0.0, 0.75], RATE)
    assert rate["low"] >= 0.0 and 0.18 < rate["high"] < 0.7
    assert bounded_interval([1.0, 1.0, 0.75, 1.0], RATE)["high"] <= 1.0
    same = bounded_interval([0.0, 0.0, 0.0], DIFFERENCE)
    assert same["low"] < -0.3 and same["high"] > 0.3  # no change seen on 3 problems is no proof of no change
    many = bounded_interval([0.5] * 400, RATE)
    assert many["high"] - many["low"] < 0.1


def test_a_finished_run_extends_to_a_larger_limit(problems_file, tmp_path, sandbox):
    fake = FakePolicy(ANSWERS)
    try:
        out = tmp_path / "run"
        evaluate_policy(fake.url, out, PolicyEvalConfig(benchmarks=[problems_file], n=4, ks=[1], limit=1), sandbox)
        assert len(fake.requests) == 1
        evaluate_policy(fake.url, out, PolicyEvalConfig(benchmarks=[problems_file], n=4, ks=[1], limit=3), sandbox)
        assert len(fake.requests) == 2  # only the new problem was sampled; the first one's samples stand
        evaluate_policy(fake.url, out, PolicyEvalConfig(benchmarks=[problems_file], n=4, ks=[1]), sandbox)
        assert len(fake.requests) == 2  # nothing left to sample
        ids = [json.loads(x)["id"] for x in (out / "verdicts.jsonl").read_text().splitlines()]
        assert ids == ["add", "sum"]
        with pytest.raises(ValueError, match="differs in limit"):
            evaluate_policy(fake.url, out, PolicyEvalConfig(benchmarks=[problems_file], n=4, limit=1), sandbox)
    finally:
        fake.close()


def test_the_command_prints_the_table(problems_file, tmp_path, capsys):
    fake = FakePolicy(ANSWERS)
    try:
        args = ["eval-policy", fake.url, "-o", str(tmp_path / "run"), "--benchmarks", problems_file, "-n", "4"]
        assert main([*args, "--ks", "1", "4", "--workers", "1"]) == 0
    finally:
        fake.close()
    printed = capsys.readouterr().out
    assert "Avg@4  25.0%" in printed and "report.md" in printed


@pytest.mark.data
@pytest.mark.parametrize("name", ["lcb", "codecontests", "codeforces", "leetcode-test", "mbppplus", "humanevalplus"])
def test_verl_validation_rows_judge_as_eval_policy_does(name, tmp_path, sandbox):
    """The rows `data export --format verl --prompt eval` writes ask what eval-policy asks and score a fixed set
    of responses (the reference where the data has one, a wrong program, prose) exactly as eval-policy does."""
    from codescaler import benchmarks

    records = benchmarks.load(name)[:3]
    responses = [
        [*([fence(r["reference"])] if r.get("reference") else []), fence("print(42)"), "I would use a loop."]
        for r in records
    ]
    path = tmp_path / "problems.jsonl"
    path.write_text("".join(json.dumps(r) + "\n" for r in records))
    prepare(tmp_path / "run", PolicyEvalConfig(benchmarks=[str(path)], n=1), "a policy")
    prepared = [json.loads(line) for line in (tmp_path / "run" / "problems.jsonl").read_text().splitlines()]
    runs = [{**p, "responses": rs} for p, rs in zip(prepared, responses)]
    ours = [[v.passed for v in verdicts] for verdicts in verify_responses(runs, sandbox)]
    rows = to_verl(records, name, prompt="eval")
    theirs = [
        [
            verl.compute_score(
                row["data_source"], r, row["reward_model"]["ground_truth"], row["extra_info"], reward="execution"
            )
            == 1.0
            for r in rs
        ]
        for row, rs in zip(rows, responses)
    ]
    assert theirs == ours
    assert [row["prompt"] for row in rows] == [eval_messages(r) for r in records]
    assert [p["prompt"] for p in prepared] == [row["prompt"][1]["content"] for row in rows]
    if records[0].get("reference"):
        assert all(passed[0] for passed in ours)  # every reference passes under the protocol


def test_a_function_problem_without_starter_code_is_asked_for_its_function():
    """LiveCodeBench's "read from stdin" would contradict tests that call a function: the prompt names it."""
    no_starter = {**ADD, "starter_code": None}
    prompt = eval_prompt(no_starter)
    assert "def add(arg1, arg2):" in prompt and "stdin" not in prompt
    mbpp_like = {
        "id": "m",
        "question": "Write a function to add two numbers.",
        "tests": [{"type": "assert", "code": "assert add_two(len([1]), 2) == 3"}],
        "reference": "def add_two(first, second):\n    return first + second\n",
    }
    assert "def add_two(first, second):" in eval_prompt(mbpp_like)  # the reference's signature, names and all
    assert "def add_two(arg1, arg2):" in training_prompt({**mbpp_like, "reference": None})
    assert "stdin" in eval_prompt(SUM)  # a stdio problem keeps LiveCodeBench's instruction


def test_a_pass_at_k_past_n_is_said_not_dropped_silently(caplog):
    assert PolicyEvalConfig(n=2, ks=[1, 4]).ks == [1]
    assert "pass@4 not reported: k must be at most -n 2" in caplog.text


def test_the_report_names_problems_the_policy_was_trained_on(problems_file, tmp_path, sandbox):
    trained = tmp_path / "trained.jsonl"
    trained.write_text(json.dumps({"id": "elsewhere", "question": SUM["question"], "tests": SUM["tests"]}) + "\n")
    fake = FakePolicy(ANSWERS)
    try:
        config = PolicyEvalConfig(benchmarks=[problems_file], n=4, ks=[1], train_data=[str(trained)])
        evaluate_policy(fake.url, tmp_path / "run", config, sandbox)
    finally:
        fake.close()
    report = build_report(tmp_path / "run", config.ks, train_data=config.train_data)
    assert report["training_overlap"][problems_file] == 1  # SUM's question, under another id
    assert "Problems the policy was trained on" in (tmp_path / "run" / "report.md").read_text()
