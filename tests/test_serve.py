import asyncio
import threading

import pytest

pytest.importorskip("fastapi")
from fastapi.testclient import TestClient

from codescaler import reward
from codescaler.serving.reward_server import ServeConfig, create_app

Q = "Write add(a, b)."
GOOD = "```python\ndef add(a, b):\n    return a + b\n```"


def test_score_get_reward_health_metrics(tiny_rm):
    expected = reward(tiny_rm, [Q, Q], [GOOD, "prose"])
    with TestClient(create_app(tiny_rm)) as client:
        body = client.post(
            "/score", json={"items": [{"question": Q, "response": GOOD}, {"question": Q, "response": "prose"}]}
        ).json()
        assert [r["reward"] for r in body["results"]] == pytest.approx([e.reward for e in expected])
        assert body["results"][1] == {
            "code": "",
            "reward": 0.0,
            "valid": False,
            "reason": "no_block",
            "score": None,
            "truncated": False,
            "num_tokens": 0,
            "p_pass": None,
        }
        openrlhf = client.post("/get_reward", json={"query": [Q + GOOD], "prompts": [Q]}).json()
        assert openrlhf["rewards"] == pytest.approx([expected[0].reward])
        assert client.get("/health").json()["status"] == "ok"
        metrics = client.get("/metrics").text
        assert "codescaler_batch_size_count" in metrics and 'endpoint="/score"' in metrics


def test_errors_422_413_503(tiny_rm):
    app = create_app(tiny_rm, config=ServeConfig(max_body_bytes=2000, max_queue=1))
    with TestClient(app) as client:
        broken = client.post("/score", content=b"{not json", headers={"content-type": "application/json"})
        assert broken.status_code == 422
        assert client.post("/score", json={"items": [{"question": Q}]}).status_code == 422
        assert client.post("/score", json={"items": []}).status_code == 422
        assert client.post("/get_reward", json={"query": ["a", "b"], "prompts": ["a"]}).status_code == 422
        assert client.post("/score", json={"items": [{"question": "x" * 3000, "response": GOOD}]}).status_code == 413
        full = client.post("/score", json={"items": [{"question": Q, "response": GOOD}] * 2})
        assert full.status_code == 503 and full.headers["retry-after"] == "1"


def test_concurrent_requests_share_batches(tiny_rm):
    app = create_app(tiny_rm, config=ServeConfig(max_wait_ms=200))
    with TestClient(app) as client:
        results, threads = [], []

        def ask(i):
            results.append(client.post("/score", json={"items": [{"question": Q, "response": GOOD}]}).status_code)

        for i in range(8):
            threads.append(threading.Thread(target=ask, args=(i,)))
            threads[-1].start()
        for t in threads:
            t.join()
        assert results == [200] * 8
        metrics = client.get("/metrics").text
        line = next(x for x in metrics.splitlines() if x.startswith("codescaler_batch_size_count"))
        count = float(line.split()[-1])
        assert count < 8  # at least two requests shared a forward batch


def test_batcher_survives_a_failing_batch(tiny_rm, monkeypatch):
    app = create_app(tiny_rm)
    with TestClient(app, raise_server_exceptions=False) as client:
        import codescaler.serving.reward_server as serve_module

        monkeypatch.setattr(serve_module, "reward", lambda *a, **k: (_ for _ in ()).throw(RuntimeError("boom")))
        assert client.post("/score", json={"items": [{"question": Q, "response": GOOD}]}).status_code == 500
        monkeypatch.undo()
        assert client.post("/score", json={"items": [{"question": Q, "response": GOOD}]}).status_code == 200
    assert asyncio  # the event loop module is used by the app under test


def test_a_keyed_reward_server_over_real_http(tiny_rm):
    """Without the key: 401 and nothing scored; with it (RewardClient's api_key): the rewards."""
    import socket

    import httpx
    import uvicorn

    from codescaler.integrations.client import RewardClient
    from codescaler.judges.http import ServerError

    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    app = create_app(tiny_rm, config=ServeConfig(api_key="k3y"))
    server = uvicorn.Server(uvicorn.Config(app, host="127.0.0.1", port=port, log_level="error"))
    thread = threading.Thread(target=server.run, daemon=True)
    thread.start()
    url = f"http://127.0.0.1:{port}"
    try:
        for _ in range(100):
            if server.started:
                break
            threading.Event().wait(0.05)
        assert httpx.get(f"{url}/health").status_code == 200
        assert httpx.post(f"{url}/score", json={"items": [{"question": Q, "response": GOOD}]}).status_code == 401
        with pytest.raises(ServerError, match="401"):
            RewardClient(url, api_key="wrong").rewards([Q], [GOOD])
        (got,) = RewardClient(url, api_key="k3y").rewards([Q], [GOOD])
        assert got == pytest.approx(reward(tiny_rm, [Q], [GOOD])[0].reward)
        metrics = httpx.get(f"{url}/metrics", headers={"Authorization": "Bearer k3y"}).text
        assert "k3y" not in metrics and 'endpoint="/score",status="401"} 2.0' in metrics
    finally:
        server.should_exit = True
        thread.join(timeout=10)
