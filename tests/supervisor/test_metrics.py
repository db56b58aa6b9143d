"""The metrics endpoint: valid Prometheus text with restart counts and a call latency histogram."""

from __future__ import annotations

import functools

import pytest
import trio
from prometheus_client.parser import text_string_to_metric_families
from prometheus_client.samples import Sample

from actors import ActorExited, Runtime
from supervisor import ChildSpec, Supervisor, open_tree, serve_metrics
from tests.supervisor.helpers import crash
from tests.supervisor.workers import Log, Worker

pytestmark = pytest.mark.timeout(30)


async def get(port: int, target: str = "/metrics", method: str = "GET") -> tuple[str, str]:
    """The status line and body of one request to the endpoint."""
    stream = await trio.open_tcp_stream("127.0.0.1", port)
    async with stream:
        await stream.send_all(f"{method} {target} HTTP/1.1\r\nHost: x\r\n\r\n".encode())
        data = b""
        while chunk := await stream.receive_some(65536):
            data += chunk
    head, _, body = data.partition(b"\r\n\r\n")
    return head.split(b"\r\n")[0].decode(), body.decode()


def samples(text: str) -> dict[str, list[Sample]]:
    found: dict[str, list[Sample]] = {}
    for family in text_string_to_metric_families(text):
        for sample in family.samples:
            found.setdefault(sample.name, []).append(sample)
    return found


async def test_the_endpoint_serves_restarts_depths_dead_letters_and_call_latency(
    runtime: Runtime, log: Log
) -> None:
    inner = Supervisor(children=[ChildSpec("leaf", Worker, args=("leaf", log))])
    spec = Supervisor(
        intensity=5,
        children=[ChildSpec("a", Worker, args=("a", log)), ChildSpec("sub", inner)],
    )
    async with open_tree(spec, runtime=runtime) as root, trio.open_nursery() as nursery:
        port = await nursery.start(functools.partial(serve_metrics, root, 0))
        for _ in range(5):
            assert await root.child("a").call("ping") == "a"
        await crash(root.child("a"))
        runtime.cast_nowait(runtime.named("nobody-by-this-name"), "lost")
        status, body = await get(port)
        assert status == "HTTP/1.1 200 OK"
        found = samples(body)
        restarts = {s.labels["path"]: s.value for s in found["letitcrash_child_restarts_total"]}
        assert restarts == {"a": 1.0, "sub": 0.0, "sub/leaf": 0.0}
        up = {s.labels["path"]: s.value for s in found["letitcrash_child_up"]}
        assert up == {"a": 1.0, "sub": 1.0, "sub/leaf": 1.0}
        depths = {s.labels["path"] for s in found["letitcrash_child_mailbox_depth"]}
        assert depths == {"a", "sub", "sub/leaf"}
        recent = {s.labels["path"]: s.value for s in found["letitcrash_supervisor_recent_restarts"]}
        assert recent == {"/": 1.0, "/sub": 0.0}
        assert found["letitcrash_dead_letters_total"][0].value >= 1
        (count,) = found["letitcrash_call_duration_seconds_count"]
        assert count.value >= 5  # the pings (and the tree walk's own calls)
        buckets = found["letitcrash_call_duration_seconds_bucket"]
        assert buckets[-1].labels["le"] == "+Inf"
        assert buckets[-1].value == count.value
        assert [s.value for s in buckets] == sorted(s.value for s in buckets)
        assert (await get(port, "/elsewhere"))[0] == "HTTP/1.1 404 Not Found"
        assert (await get(port, method="POST"))[0] == "HTTP/1.1 405 Method Not Allowed"
        nursery.cancel_scope.cancel()


async def test_calls_are_timed_only_while_metrics_are_on(runtime: Runtime, log: Log) -> None:
    spec = Supervisor(children=[ChildSpec("a", Worker, args=("a", log))])
    seen: list[float] = []
    async with open_tree(spec, runtime=runtime) as root:
        await root.child("a").call("ping")
        runtime.observe_calls(seen.append)
        await root.child("a").call("ping")
        with pytest.raises(ActorExited, match="crashed on request"):
            await root.child("a").call("crash")
        runtime.observe_calls(None)
        await root.child("a").call("ping")
    assert len(seen) == 2
    assert all(seconds >= 0 for seconds in seen)
