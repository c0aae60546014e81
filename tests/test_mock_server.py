"""The mock OpenAI-compatible server: seeded fault injection, request counts, its command line."""

import asyncio
import json
import random
import signal
import subprocess
import sys
import threading
import urllib.error
import urllib.request
from collections import Counter

import aiohttp
import pytest

from debate.testing import FaultRates, MockServer

ORDER = ["429", "500", "503", "401", "hang", "malformed", "truncated", "dropped"]
"""The documented order in which the faults take their slices of [0, 1)."""


def expected_outcomes(rates: dict[str, float], seed: int, n: int) -> Counter[str]:
    """The outcomes of ``n`` requests by the documented rule: one draw per request,
    the faults taking consecutive slices of [0, 1) in ``ORDER``."""
    draws, outcomes = random.Random(seed), Counter[str]()
    for _ in range(n):
        u = draws.random()
        for outcome in ORDER:
            if u < rates.get(outcome, 0.0):
                outcomes[outcome] += 1
                break
            u -= rates.get(outcome, 0.0)
        else:
            outcomes["ok"] += 1
    return outcomes


def chat(url: str, key: str = "sk-test", timeout: float = 5.0) -> tuple[int, bytes]:
    """One chat request; ``(status, body)``, status 0 when no response came at all."""
    body = json.dumps({"model": "m", "messages": [{"role": "user", "content": "What is 12?"}]})
    request = urllib.request.Request(f"{url}/chat/completions", data=body.encode(),
                                     headers={"Content-Type": "application/json",
                                              "Authorization": f"Bearer {key}"})
    try:
        with urllib.request.urlopen(request, timeout=timeout) as response:
            return response.status, response.read()
    except urllib.error.HTTPError as error:
        return error.code, error.read()
    except (OSError, ValueError):  # timeout (a hang), reset, cut body
        return 0, b""


def get_json(url: str) -> dict:
    with urllib.request.urlopen(url, timeout=5) as response:
        return json.loads(response.read())


def test_command_line_starts_without_warnings_injects_seeded_faults_and_counts():
    rates = {"429": 0.2, "500": 0.1, "503": 0.1, "401": 0.1, "hang": 0.05, "malformed": 0.1}
    process = subprocess.Popen(
        [sys.executable, "-W", "error", "-m", "debate.testing.mock_server", "--port", "0",
         "--fail-429", "0.2", "--fail-500", "0.1", "--fail-503", "0.1", "--fail-401", "0.1",
         "--hang", "0.05", "--malformed", "0.1", "--seed", "3"],
        stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    watchdog = threading.Timer(60, process.kill)  # a server that never starts fails the test
    watchdog.start()
    try:
        ready = process.stdout.readline()  # printed once it listens: no polling for the port
        assert ready, process.stderr.read()
        url = json.loads(ready)["url"]
        statuses = Counter(chat(url, timeout=0.3)[0] for _ in range(60))
        assert get_json(url + "/models")["data"][0]["id"] == "mock"
        stats = get_json(url.removesuffix("/v1") + "/stats")
    finally:
        process.send_signal(signal.SIGTERM)
        _, err = process.communicate(timeout=30)
        watchdog.cancel()
    assert process.returncode == 0 and err == ""  # stopped cleanly, not a warning printed
    expected = expected_outcomes(rates, seed=3, n=60)
    assert stats["outcomes"] == dict(expected) and stats["requests"] == 60
    assert stats["paths"] == {"/v1/chat/completions": dict(expected), "/v1/models": {"ok": 1}}
    assert stats["in_flight"] == expected["hang"]  # hung requests are still unanswered
    assert statuses == Counter({200: expected["ok"] + expected["malformed"],
                                429: expected["429"], 500: expected["500"],
                                503: expected["503"], 401: expected["401"],
                                0: expected["hang"]})


def test_a_bad_rate_on_the_command_line_is_refused():
    result = subprocess.run([sys.executable, "-m", "debate.testing.mock_server", "--port", "0",
                             "--fail-429", "0.7", "--hang", "0.5"],
                            capture_output=True, text=True, timeout=60)
    assert result.returncode == 2
    assert "rates add up to more than 1: {'429': 0.7, 'hang': 0.5}" in result.stderr


def test_help_documents_every_fault_option():
    result = subprocess.run([sys.executable, "-m", "debate.testing.mock_server", "--help"],
                            capture_output=True, text=True, timeout=60)
    for option in ("--fail-429", "--fail-500", "--fail-503", "--fail-401", "--hang",
                   "--malformed", "--truncated", "--dropped", "--seed", "/stats"):
        assert option in result.stdout


async def test_seeded_rates_give_the_same_counts_however_requests_interleave():
    rates = FaultRates(rate_limit=0.1, server_error=0.05, unavailable=0.05, unauthorized=0.02,
                       hang=0.01, malformed=0.02, truncated=0.02, dropped=0.02, seed=11)
    n = 1500
    gate = asyncio.Semaphore(64)

    async def one(session: aiohttp.ClientSession, url: str) -> None:
        async with gate:
            try:
                async with session.post(f"{url}/chat/completions", json={
                        "model": "m", "messages": [{"role": "user", "content": "1"}]}) as r:
                    await r.read()
            except (aiohttp.ClientError, TimeoutError):
                pass  # hangs, cut bodies and dropped connections

    with MockServer(rates=rates, latency=0.001, jitter=0.002) as server:
        timeout = aiohttp.ClientTimeout(total=0.5)
        async with aiohttp.ClientSession(timeout=timeout) as session:
            await asyncio.gather(*(one(session, server.url) for _ in range(n)))
            async with session.get(server.url.removesuffix("/v1") + "/stats") as r:
                stats = await r.json()
    expected = expected_outcomes({"429": 0.1, "500": 0.05, "503": 0.05, "401": 0.02,
                                  "hang": 0.01, "malformed": 0.02, "truncated": 0.02,
                                  "dropped": 0.02}, seed=11, n=n)
    assert server.served == expected and server.requests == n
    assert stats["outcomes"] == dict(sorted(expected.items())) and stats["requests"] == n
    assert stats["paths"] == {"/v1/chat/completions": stats["outcomes"]}
    for outcome, rate in rates.slices():  # and the rates are what was asked for
        assert abs(expected[outcome] - rate * n) <= 5 * (rate * n) ** 0.5 + 1, outcome


def test_queued_faults_come_first_and_a_401_echoes_the_key():
    with MockServer(faults=[401, "malformed"], rates=FaultRates(rate_limit=1.0)) as server:
        status, body = chat(server.url, key="sk-echoed-12345678")
        assert status == 401 and b"invalid API key: Bearer sk-echoed-12345678" in body
        assert chat(server.url) == (200, b'{"choices": [')
        assert chat(server.url)[0] == 429
    assert server.served == {"401": 1, "malformed": 1, "429": 1}


def test_fault_rates_are_checked():
    with pytest.raises(ValueError, match="hang must be between 0 and 1"):
        FaultRates(hang=-0.1)
    with pytest.raises(ValueError, match="add up to more than 1"):
        FaultRates(rate_limit=0.6, server_error=0.6)


def test_waiting_for_a_count_and_for_idle():
    with MockServer(latency=0.05) as server:
        with pytest.raises(TimeoutError, match="1 'ok' requests"):
            server.wait_for_requests(1, timeout=0.05)
        answered = []
        threads = [threading.Thread(target=lambda: answered.append(chat(server.url)[0]))
                   for _ in range(3)]
        for thread in threads:
            thread.start()
        server.wait_for_requests(3)
        assert server.served["ok"] == 3
        server.wait_idle()  # every request answered, every connection closed
        assert server.in_flight == 0
        for thread in threads:
            thread.join()
        assert answered == [200, 200, 200]


def test_the_package_imports_neither_module_until_asked():
    code = ("import sys, debate.testing; "
            "print([m for m in ('debate.testing.mock_server', 'debate.testing.scripted', "
            "'aiohttp') if m in sys.modules]); "
            "debate.testing.MockServer; print('debate.testing.mock_server' in sys.modules)")
    result = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True,
                            timeout=60)
    assert result.stdout.split("\n")[:2] == ["[]", "True"], result.stderr
