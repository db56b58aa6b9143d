"""Prometheus metrics of a running tree, on an opt-in loopback port (the ``metrics`` extra).

Each scrape walks the live tree: restarts, mailbox depth and whether each child
runs, the recent restarts of each supervisor, the runtime's dead letters and
actors. Call latencies go into a histogram from the moment :func:`serve_metrics`
starts (``Runtime.observe_calls``) until it ends; without it nothing is timed.
Metric names are listed in docs/operations.md.

>>> import functools, trio
>>> from actors import Actor
>>> from supervisor import ChildSpec, Supervisor, open_tree, serve_metrics
>>> async def main() -> None:
...     async with open_tree(Supervisor(children=[ChildSpec("w", Actor)])) as root:
...         async with trio.open_nursery() as nursery:
...             port = await nursery.start(functools.partial(serve_metrics, root, 0))
...             async with await trio.open_tcp_stream("127.0.0.1", port) as stream:
...                 await stream.send_all(b"GET /metrics HTTP/1.1\\r\\n\\r\\n")
...                 data = b""
...                 while chunk := await stream.receive_some():
...                     data += chunk
...             lines = data.decode().splitlines()
...             print([line for line in lines if line.startswith("letitcrash_child_up")])
...             nursery.cancel_scope.cancel()
>>> trio.run(main)
['letitcrash_child_up{kind="worker",path="w"} 1.0']
"""

from __future__ import annotations

import functools
from collections.abc import Iterator
from typing import TYPE_CHECKING, Any, Final

import trio

from ._handles import SupervisorHandle
from ._status import ChildState, SupervisorStatus

if TYPE_CHECKING:
    from actors import RuntimeStatistics

#: The bounds of the call latency histogram, in seconds.
CALL_BUCKETS: Final = (
    0.0001, 0.00025, 0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0,
    2.5, 5.0, 10.0,
)  # fmt: skip
#: The longest request head a scrape may send, and how long it may take.
MAX_HEAD: Final = 8192
HEAD_TIMEOUT: Final = 5.0


async def serve_metrics(
    root: SupervisorHandle,
    port: int,
    host: str = "127.0.0.1",
    *,
    task_status: trio.TaskStatus[int] = trio.TASK_STATUS_IGNORED,
) -> None:
    """Serve ``GET /metrics`` for the tree ``root`` on ``host:port`` until cancelled.

    ``port=0`` picks a free port; the port is reported through ``task_status``.
    Needs ``prometheus_client`` (``pip install 'letitcrash[metrics]'``).
    """
    try:
        import prometheus_client
    except ImportError as exc:  # pragma: no cover - the extra is installed in tests
        message = "metrics need prometheus_client: pip install 'letitcrash[metrics]'"
        raise ImportError(message) from exc
    registry = prometheus_client.CollectorRegistry(auto_describe=True)
    calls = prometheus_client.Histogram(
        "letitcrash_call_duration_seconds",
        "Duration of calls made through the tree's runtime",
        buckets=CALL_BUCKETS,
        registry=registry,
    )
    tree = _TreeCollector()
    registry.register(tree)
    runtime = root.runtime
    runtime.observe_calls(calls.observe)
    try:
        listeners = await trio.open_tcp_listeners(port, host=host)
        task_status.started(listeners[0].socket.getsockname()[1])

        async def scrape() -> bytes:
            status = await root.describe_tree()
            tree.snapshot = (status, runtime.statistics())
            return prometheus_client.generate_latest(registry)  # no checkpoint since the walk

        await trio.serve_listeners(functools.partial(_answer, scrape), listeners)
    finally:
        runtime.observe_calls(None)


class _TreeCollector:
    """Turns the latest tree walk into metric families (prometheus_client's collector API)."""

    def __init__(self) -> None:
        self.snapshot: tuple[SupervisorStatus, RuntimeStatistics] | None = None

    def collect(self) -> Iterator[Any]:
        from prometheus_client.core import CounterMetricFamily, GaugeMetricFamily

        if self.snapshot is None:
            return
        status, stats = self.snapshot
        labels = ["path", "kind"]
        restarts = CounterMetricFamily(
            "letitcrash_child_restarts", "Starts of a child after its first", labels=labels
        )
        depth = GaugeMetricFamily(
            "letitcrash_child_mailbox_depth", "Messages waiting for a child", labels=labels
        )
        up = GaugeMetricFamily("letitcrash_child_up", "1 if a child runs, else 0", labels=labels)
        for child in status.walk():
            values = [child.path, child.kind.value]
            restarts.add_metric(values, child.restarts)
            depth.add_metric(values, child.mailbox_depth)
            up.add_metric(values, 1 if child.state is ChildState.RUNNING else 0)
        recent = GaugeMetricFamily(
            "letitcrash_supervisor_recent_restarts",
            "Restarts counting toward a supervisor's intensity now",
            labels=["path"],
        )
        for supervisor in _supervisors(status):
            recent.add_metric([supervisor.path], supervisor.recent_restarts)
        yield from (restarts, depth, up, recent)
        yield CounterMetricFamily(
            "letitcrash_dead_letters", "Messages dropped: their target was dead", stats.dead_letters
        )
        yield GaugeMetricFamily("letitcrash_actors", "Actors alive", stats.actors)


def _supervisors(status: SupervisorStatus) -> Iterator[SupervisorStatus]:
    yield status
    for child in status.children:
        if child.supervisor is not None:
            yield from _supervisors(child.supervisor)


async def _answer(scrape: Any, stream: trio.SocketStream) -> None:
    """One HTTP/1.0-style exchange: read the request head, answer, close."""
    async with stream:
        head = b""
        with trio.move_on_after(HEAD_TIMEOUT):
            while b"\r\n\r\n" not in head and len(head) < MAX_HEAD:
                chunk = await stream.receive_some(MAX_HEAD)
                if not chunk:
                    break
                head += chunk
        parts = head.split(b"\r\n", 1)[0].split()
        if len(parts) != 3 or b"\r\n\r\n" not in head:
            await _send(stream, "400 Bad Request", b"bad request\n")
        elif parts[0] != b"GET":
            await _send(stream, "405 Method Not Allowed", b"GET only\n")
        elif parts[1].split(b"?")[0] not in (b"/metrics", b"/"):
            await _send(stream, "404 Not Found", b"see /metrics\n")
        else:
            await _send(stream, "200 OK", await scrape(), "text/plain; version=0.0.4")


async def _send(
    stream: trio.SocketStream, status: str, body: bytes, kind: str = "text/plain"
) -> None:
    head = (
        f"HTTP/1.1 {status}\r\nContent-Type: {kind}; charset=utf-8\r\n"
        f"Content-Length: {len(body)}\r\nConnection: close\r\n\r\n"
    )
    try:
        with trio.move_on_after(HEAD_TIMEOUT):
            await stream.send_all(head.encode() + body)
    except trio.BrokenResourceError:
        pass  # the scraper went away
