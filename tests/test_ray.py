"""``--engine ray`` on a three-node Ray cluster on this machine (one CPU each): a node removed while a job runs,
and the job still answers every record once, as the local engine does."""

import json
import threading
import time

import pytest

ray = pytest.importorskip("ray")

from ray.cluster_utils import Cluster  # noqa: E402

from codescaler.cli import main  # noqa: E402


@pytest.fixture(scope="module")
def cluster():
    cluster = Cluster(initialize_head=True, head_node_args={"num_cpus": 1})
    for _ in range(2):
        cluster.add_node(num_cpus=1)
    ray.init(address=cluster.address, log_to_driver=False)
    yield cluster
    ray.shutdown()
    cluster.shutdown()


def read(path):
    return [json.loads(line) for line in path.read_text().splitlines()]


def remove_a_node_once_written(cluster, output, lines: int, seen: list) -> threading.Thread:
    """A thread that removes a worker node once ``output`` holds ``lines`` records; ``seen`` gets how many it held
    then. The cluster has three nodes when it starts."""
    while len(cluster.list_all_nodes()) < 3:  # an earlier test took one
        cluster.add_node(num_cpus=1)
    cluster.wait_for_nodes()

    def watch():
        deadline = time.monotonic() + 120
        while time.monotonic() < deadline:
            written = output.read_text().count("\n") if output.exists() else 0
            if written >= lines:
                seen.append(written)
                cluster.remove_node(cluster.list_all_nodes()[-1], allow_graceful=False)
                return
            time.sleep(0.02)

    thread = threading.Thread(target=watch, daemon=True)
    thread.start()
    return thread


def test_verify_loses_a_node_and_answers_every_record_once_as_local(tmp_path, cluster, monkeypatch):
    monkeypatch.delenv("RAY_ADDRESS", raising=False)
    problems = tmp_path / "problems.jsonl"
    # each program sleeps, so the job is still running when the node goes
    tests = [{"type": "assert", "code": "import time; time.sleep(0.15); assert add(1, 2) == 3"}]
    code = "```python\ndef add(a, b):\n    return a + b + {}\n```"
    rows = [
        {"id": i, "question": "q", "tests": tests, "responses": [code.format(i % 2), code.format(0)]} for i in range(30)
    ]
    lines = [json.dumps(r) for r in rows]
    lines[7] = json.dumps({"id": "bad", "question": 3})
    lines[12] = '{"id": "cut", "question": '
    problems.write_text("\n".join(lines) + "\n")
    local, remote = tmp_path / "local.jsonl", tmp_path / "ray.jsonl"
    assert main(["verify", str(problems), "-o", str(local), "--workers", "2"]) == 0
    seen: list[int] = []
    watcher = remove_a_node_once_written(cluster, remote, 4, seen)
    # the pool holds every CPU of the cluster: reading the input must not need one
    flags = ["--workers", "1", "--engine", "ray", "--ray-actors", "3", "--ray-min-actors", "3", "--ray-batch", "2"]
    assert main(["verify", str(problems), "-o", str(remote), *flags]) == 0
    watcher.join()
    assert seen and seen[0] < len(rows), "the node went after the job had finished: nothing was tested"
    got = read(remote)
    assert [r["line"] for r in got] == list(range(1, 31))  # every record, once, in order
    assert got == read(local)  # the same verdicts, the bad records' errors included
    assert "error" in got[7] and "cut off" in got[12]["error"]
    assert [r["passed"] for r in got[:3]] == [[True, True], [False, True], [True, True]]

    # a killed job resumes: its answered lines are not run again, the rest are answered once
    remote.write_text("".join(json.dumps(r) + "\n" for r in got[:11]) + '{"line": 12, "id"')
    assert main(["verify", str(problems), "-o", str(remote), "--resume", *flags]) == 0
    assert read(remote) == read(local)

    # Parquet in: row n is line n, read a row group per task
    import pyarrow as pa
    import pyarrow.parquet as pq

    table = tmp_path / "problems.parquet"
    pq.write_table(pa.Table.from_pylist(rows), table, row_group_size=8)
    assert main(["verify", str(table), "-o", str(tmp_path / "parquet.jsonl"), *flags]) == 0
    from_parquet = read(tmp_path / "parquet.jsonl")
    assert [r["line"] for r in from_parquet] == list(range(1, 31))
    assert [r for r in from_parquet if r["line"] not in (8, 13)] == [r for r in got if r["line"] not in (8, 13)]


def test_score_loses_a_node_and_gives_every_record_its_local_score(tmp_path, tiny_model_dir, cluster, monkeypatch):
    if "qwen3" in str(tiny_model_dir):
        pytest.skip("one architecture is enough here")
    monkeypatch.delenv("RAY_ADDRESS", raising=False)
    answers = tmp_path / "answers.jsonl"
    code = "```python\ndef add(a, b):\n    return a + b + {}\n```"
    rows = [{"id": i, "question": f"Add {i}. " * (i % 40), "response": code.format(i % 3)} for i in range(600)]
    rows[5] = {"id": "bad", "question": 3}
    answers.write_text("".join(json.dumps(r) + "\n" for r in rows))
    common = ["--model", str(tiny_model_dir)]
    local, remote = tmp_path / "local.jsonl", tmp_path / "ray.jsonl"
    assert main(["score", str(answers), "-o", str(local), *common]) == 0
    seen: list[int] = []
    watcher = remove_a_node_once_written(cluster, remote, 20, seen)
    flags = ["--engine", "ray", "--ray-actors", "3", "--ray-batch", "10"]
    assert main(["score", str(answers), "-o", str(remote), *flags, *common]) == 0
    watcher.join()
    assert seen and seen[0] < len(rows), "the node went after the job had finished: nothing was tested"
    here, there = read(local), read(remote)
    assert [r["line"] for r in there] == list(range(1, 601)) and "error" in there[5]
    for a, b in zip(here, there):
        assert a.keys() == b.keys() and a.get("valid") == b.get("valid")
        if a.get("score") is not None:
            assert b["score"] == pytest.approx(a["score"], abs=1e-4)


def test_ray_flags_are_checked_before_anything_runs(tmp_path, capsys):
    answers = tmp_path / "a.jsonl"
    answers.write_text('{"id": 1, "question": "q", "response": "r"}\n')
    code = main(["verify", str(answers), "-o", str(tmp_path / "o.jsonl"), "--engine", "ray", "--ray-actors", "0"])
    assert code == 2 and "--ray-actors" in capsys.readouterr().err
    assert not (tmp_path / "o.jsonl").exists()


def three_nodes(cluster) -> None:
    while len(cluster.list_all_nodes()) < 3:  # an earlier test took one
        cluster.add_node(num_cpus=1)
    cluster.wait_for_nodes()


def free_port() -> int:
    import socket

    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


@pytest.fixture(scope="module")
def serve_url(cluster):
    """Serve's HTTP proxy, started once: its address is fixed for the cluster's life."""
    from ray import serve

    port = free_port()
    serve.start(http_options={"host": "127.0.0.1", "port": port})
    yield f"http://127.0.0.1:{port}"
    serve.shutdown()


def kill_a_replica(deployment: str) -> str:
    """Kill one replica of ``deployment`` as a lost node would (no drain); its name."""
    name, namespace = next(
        (a["name"], a["namespace"])
        for a in ray.util.list_named_actors(all_namespaces=True)
        if f"#{deployment}#" in a["name"]
    )
    ray.kill(ray.get_actor(name, namespace=namespace), no_restart=True)
    return name


def hammer(send, requests: int, clients: int, kill) -> list:
    """``send(i)`` for each i from ``clients`` threads at once; ``kill()`` once a fifth are answered."""
    from concurrent.futures import ThreadPoolExecutor

    answered = []
    lock = threading.Lock()

    def one(i):
        result = send(i)
        with lock:
            answered.append(i)
            if len(answered) == requests // 5:
                kill()
        return result

    with ThreadPoolExecutor(clients) as pool:
        return list(pool.map(one, range(requests)))


def test_serve_sandbox_on_ray_serve_loses_a_replica_under_64_clients_and_answers_every_request(cluster, serve_url):
    import httpx
    from ray import serve

    from codescaler.execution.sandbox import Limits
    from codescaler.integrations.ray_serve import sandbox_application
    from codescaler.serving.http import ReplicaConfig
    from codescaler.serving.sandbox_server import SandboxServeConfig

    three_nodes(cluster)
    config = SandboxServeConfig(workers=1, api_key="sesame")
    serve.run(sandbox_application(Limits(), config, ReplicaConfig(2, 2)), name="sandbox", route_prefix="/")
    url = serve_url
    killed = []
    try:
        with httpx.Client(timeout=120, headers={"Authorization": "Bearer sesame"}) as http:
            assert httpx.post(f"{url}/run_code", json={"code": "print(1)", "language": "python"}).status_code == 401

            def send(i):
                body = {"code": "import time; time.sleep(0.05); print(int(input()) * 2)", "language": "python"}
                return http.post(f"{url}/run_code", json=dict(body, stdin=str(i)))

            answers = hammer(send, 128, 64, lambda: killed.append(kill_a_replica("SandboxWorker")))
            assert killed
            assert [a.status_code for a in answers] == [200] * 128
            assert [a.json()["run_result"]["stdout"] for a in answers] == [f"{2 * i}\n" for i in range(128)]
            assert all(a.json()["status"] == "Success" for a in answers)
            # the same API as the single process: a bad language is a 422 naming it
            refused = http.post(f"{url}/run_code", json={"code": "x", "language": "cobol"})
            assert refused.status_code == 422 and "cobol" in refused.json()["detail"]
    finally:
        serve.delete("sandbox")


def test_serve_on_ray_serve_loses_a_replica_under_64_clients_and_scores_as_local(
    cluster, serve_url, tiny_model_dir, tiny_rm
):
    if "qwen3" in str(tiny_model_dir):
        pytest.skip("one architecture is enough here")
    from ray import serve

    from codescaler.integrations.client import RewardClient
    from codescaler.integrations.ray_serve import reward_application
    from codescaler.rewards.kinds import ScoringConfig, reward
    from codescaler.serving.http import ReplicaConfig
    from codescaler.serving.reward_server import ServeConfig

    three_nodes(cluster)
    questions = [f"Add {i}." for i in range(128)]
    responses = [f"```python\ndef add(a, b):\n    return a + b + {i % 5}\n```" for i in range(128)]
    expected = [r.reward for r in reward(tiny_rm, questions, responses, show_progress=False)]
    model = {"judge": "rm", "name_or_path": str(tiny_model_dir), "max_length": 512}
    app = reward_application(model, ScoringConfig(), ServeConfig(max_wait_ms=20), ReplicaConfig(2, 2))
    serve.run(app, name="reward", route_prefix="/")
    killed = []
    try:
        with RewardClient(serve_url, timeout=120) as client:

            def send(i):
                return client.rewards([questions[i]], [responses[i]])[0]

            got = hammer(send, 128, 64, lambda: killed.append(kill_a_replica("RewardWorker")))
        assert killed
        assert got == pytest.approx(expected, abs=1e-4)
    finally:
        serve.delete("reward")


def test_serve_builders_read_serve_runs_string_arguments():
    """``serve run codescaler.integrations.ray_serve:sandbox_app workers=4 ...`` passes strings: each is read as its
    field's type; a replica range that cannot hold is refused before anything deploys."""
    from codescaler.integrations.ray_serve import _pick, sandbox_app
    from codescaler.serving.http import ReplicaConfig
    from codescaler.serving.sandbox_server import SandboxServeConfig

    config = _pick(SandboxServeConfig, {"workers": "4", "api_key": "k", "max_run_timeout": "30", "other": "x"})
    assert (config.workers, config.api_key, config.max_run_timeout) == (4, "k", 30.0)
    assert sandbox_app({"workers": "2", "min_replicas": "1", "max_replicas": "3", "timeout": "5"}) is not None
    with pytest.raises(ValueError, match="--min-replicas"):
        sandbox_app({"min_replicas": "3", "max_replicas": "2"})
    assert _pick(ReplicaConfig, {}) == ReplicaConfig()


def test_candidates_on_ray_verify_as_locally(tmp_path, cluster, monkeypatch):
    """``pairs``' verification (``codescaler candidates``) on the cluster gives the local run's candidates and
    verdicts."""
    monkeypatch.delenv("RAY_ADDRESS", raising=False)
    three_nodes(cluster)
    problems = tmp_path / "problems.jsonl"
    rows = [
        {
            "id": i,
            "question": f"Add two numbers, then {i}.",
            "entry_point": "add",
            "reference": f"def add(a, b):\n    return a + b + {i}\n",
            "tests": [{"type": "assert", "code": f"assert add(1, 2) == {3 + i}\nassert add(0, 0) == {i}"}],
            "responses": [f"```python\ndef add(a, b):\n    return a + b + {i % 2}\n```"],
        }
        for i in range(6)
    ]
    problems.write_text("".join(json.dumps(r) + "\n" for r in rows))
    local, remote = tmp_path / "local.jsonl", tmp_path / "ray.jsonl"
    assert main(["candidates", str(problems), "-o", str(local), "--workers", "1"]) == 0
    # unaligned candidates come from the other problems of a batch: the default batch is the local chunk
    flags = ["--engine", "ray", "--workers", "1", "--ray-actors", "3"]
    assert main(["candidates", str(problems), "-o", str(remote), *flags]) == 0
    here, there = read(local), read(remote)
    assert [r["line"] for r in there] == list(range(1, 7))
    assert [(r["candidate_sources"], r["passed"]) for r in there] == [
        (r["candidate_sources"], r["passed"]) for r in here
    ]
    assert any(False in r["passed"] for r in there) and any(True in r["passed"] for r in there)


@pytest.mark.parametrize("policy", ["served", "weights"])
def test_eval_policy_samples_and_verifies_on_actors_as_locally(tmp_path, cluster, monkeypatch, tiny_policy, policy):
    """``eval-policy --engine ray``: sampling on actors that hold the policy (a served one, or weights each actor
    loads), then every sample run on sandbox actors: the local run's samples, verdicts and report."""
    from test_eval_policy import ADD, ANSWERS, NO_TESTS, SUM, FakePolicy

    monkeypatch.delenv("RAY_ADDRESS", raising=False)
    three_nodes(cluster)
    problems = tmp_path / "problems.jsonl"
    problems.write_text("".join(json.dumps(p) + "\n" for p in (ADD, SUM, NO_TESTS, ADD, SUM)) + "{not json\n")
    fake = FakePolicy(ANSWERS) if policy == "served" else None
    model = fake.url if fake else str(tiny_policy)
    try:
        common = ["--benchmarks", str(problems), "-n", "4", "--ks", "1", "4", "--chunk-size", "1", "--workers", "1"]
        common += ["--max-new-tokens", "24", "--temperature", "0"]  # greedy: the same tokens on any process
        assert main(["eval-policy", model, "-o", str(tmp_path / "local"), *common]) == 0
        flags = ["--engine", "ray", "--ray-actors", "3"]
        assert main(["eval-policy", model, "-o", str(tmp_path / "ray"), *common, *flags]) == 0
    finally:
        if fake:
            fake.close()
    if fake:
        assert len(fake.requests) == 8  # each runnable problem sampled once here and once on an actor

    def kept(path):  # a sample's seconds are its own run's
        return [{k: v for k, v in r.items() if k != "seconds"} for r in read(path)]

    samples = kept(tmp_path / "ray" / "samples.jsonl")
    assert samples == kept(tmp_path / "local" / "samples.jsonl") and len(samples) == 4
    assert read(tmp_path / "ray" / "verdicts.jsonl") == read(tmp_path / "local" / "verdicts.jsonl")
    here, there = (json.loads((tmp_path / d / "report.json").read_text()) for d in ("local", "ray"))
    for report in (here, there):  # as the samples' seconds
        (figures,) = report["benchmarks"].values()
        assert figures.pop("seconds_per_sample") > 0
    assert there["benchmarks"] == here["benchmarks"] and there["unrunnable"] == here["unrunnable"]
    if fake:
        assert [r["passed"] for r in read(tmp_path / "ray" / "verdicts.jsonl")][0] == [True, False, False, False]


def test_bon_ground_truth_loses_a_node_and_is_the_local_one(tmp_path, cluster, monkeypatch):
    """``bon --engine ray`` runs each problem's tests, then its generated tests, alone in an actor's sandbox: with a
    node removed midway, every problem's truth and outputs are the local ones, each cached once, and a rerun runs
    nothing."""
    monkeypatch.delenv("RAY_ADDRESS", raising=False)
    pool = tmp_path / "pool.jsonl"
    tests = [{"type": "assert", "code": "import time; time.sleep(0.2); assert inc(1) == 2"}]
    rows = [
        {
            "id": f"p{i}",
            "question": "Write inc(x).",
            "entry_point": "inc",
            "tests": tests,
            "responses": [f"```python\ndef inc(x):\n    return x + {j}\n```" for j in (1, i % 3, 2)],
            "generated_tests": ["assert inc(1) == 2"],
        }
        for i in range(12)
    ]
    pool.write_text("".join(json.dumps(r) + "\n" for r in rows))
    common = ["--methods", "codet", "oracle", "random", "--n", "1", "3", "--draws", "2", "--workers", "1"]
    assert main(["bon", str(pool), "-o", str(tmp_path / "local"), *common]) == 0
    cache = tmp_path / "ray" / "cache" / "ground_truth.jsonl"
    seen: list[int] = []
    watcher = remove_a_node_once_written(cluster, cache, 3, seen)
    assert main(["bon", str(pool), "-o", str(tmp_path / "ray"), *common, "--engine", "ray", "--ray-actors", "3"]) == 0
    watcher.join()
    assert seen and seen[0] < len(rows), "the node went after the ground truth was done: nothing was tested"

    def truths(folder):
        return {row["key"]: row["value"]["passed"] for row in read(folder / "cache" / "ground_truth.jsonl")}

    assert truths(tmp_path / "ray") == truths(tmp_path / "local") and len(read(cache)) == 12  # each once

    def outputs(folder):
        return {row["key"]: row["value"]["outputs"] for row in read(folder / "cache" / "generated.jsonl")}

    assert outputs(tmp_path / "ray") == outputs(tmp_path / "local") and len(outputs(tmp_path / "ray")) == 12
    here, there = (json.loads((tmp_path / d / "report.json").read_text()) for d in ("local", "ray"))
    assert there["accuracy"] == here["accuracy"] and here["accuracy"]["oracle"]["3"]["mean"] == 1.0
    assert all(v["wall"] > 0.2 and v["programs"] >= 2 for v in (r["value"] for r in read(cache)))
    assert main(["bon", str(pool), "-o", str(tmp_path / "ray"), *common, "--engine", "ray"]) == 0
    assert len(read(cache)) == 12 and len(read(tmp_path / "ray" / "cache" / "generated.jsonl")) == 12  # ran nothing
