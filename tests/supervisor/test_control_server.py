"""The control socket served in-process for a real tree: status, restart, state, bad requests."""

from __future__ import annotations

import functools
import os
import socket
import stat
from collections.abc import AsyncIterator, Callable
from contextlib import asynccontextmanager
from pathlib import Path
from typing import Any

import pytest
import trio

from spawn import Channel
from supervisor import (
    SCHEMA_VERSION,
    ChildSpec,
    ControlError,
    MemoryStore,
    SocketPathTooLong,
    StateStore,
    Supervisor,
    SupervisorHandle,
    control_request,
    open_tree,
    read_state,
    serve_control,
)
from supervisor._control import control_codec
from supervisor._paths import control_socket_path
from tests.actors.persistent_actors import Counter
from tests.supervisor.helpers import crash
from tests.supervisor.workers import Log, Worker

pytestmark = pytest.mark.timeout(30)


def tree(log: Log, intensity: int = 1) -> Supervisor:
    inner = Supervisor(children=[ChildSpec("leaf", Worker, args=("leaf", log))])
    return Supervisor(
        intensity=intensity,
        children=[
            ChildSpec("a", Worker, args=("a", log)),
            ChildSpec("sub", inner),
            ChildSpec("counter", Counter),
        ],
    )


@asynccontextmanager
async def served(
    spec: Supervisor, state_dir: Path, store: StateStore | None = None, **options: Any
) -> AsyncIterator[tuple[SupervisorHandle, Path, list[str]]]:
    """The tree ``spec`` with its control socket; the list records stop requests."""
    stops: list[str] = []
    path = control_socket_path(state_dir)
    store = MemoryStore() if store is None else store
    async with open_tree(spec, store=store) as root, trio.open_nursery() as nursery:
        serve = functools.partial(
            serve_control,
            root,
            path,
            stop=lambda: stops.append("stop"),
            store=store,
            **options,
        )
        await nursery.start(serve)
        yield root, path, stops
        nursery.cancel_scope.cancel()
    assert not path.exists(), "the socket is removed when the server ends"


def child(document: dict[str, Any], path: str) -> dict[str, Any]:
    def walk(children: list[dict[str, Any]]) -> dict[str, Any] | None:
        for entry in children:
            if entry["path"] == path:
                return entry
            nested = entry["supervisor"]
            found = walk(nested["children"]) if nested else None
            if found is not None:
                return found
        return None

    found = walk(document["tree"]["children"])
    assert found is not None, f"no {path} in the status"
    return found


async def test_status_shows_the_tree_and_a_restart_count_that_rises(
    tmp_path: Path, log: Log
) -> None:
    async with served(tree(log, intensity=3), tmp_path) as (root, path, _):
        before = await control_request(path, "status")
        assert before["schema_version"] == SCHEMA_VERSION
        assert before["health"] == "running"
        assert before["pid"] == os.getpid()
        assert [c["id"] for c in before["tree"]["children"]] == ["a", "sub", "counter"]
        assert child(before, "sub/leaf")["state"] == "running"
        assert child(before, "a")["restarts"] == 0
        await crash(root.child("a"))
        after = await control_request(path, "status")
        assert child(after, "a")["restarts"] == 1
        assert "a crashed on request" in child(after, "a")["last_exit"]
        assert after["tree"]["recent_restarts"] == 1


async def test_restart_gives_a_new_ref_and_leaves_the_intensity_untouched(
    tmp_path: Path, log: Log
) -> None:
    async with served(tree(log, intensity=1), tmp_path) as (root, path, _):
        refs = {root.child("a").whereis()}
        for _ in range(3):  # intensity 1: two restarts on failure would escalate
            result = await control_request(path, "restart", path="a")
            refs.add(root.child("a").whereis())
            assert result["path"] == "a"
        assert len(refs) == 4
        leaf = root.child("sub/leaf").whereis()
        await control_request(path, "restart", path="sub/leaf")
        assert root.child("sub/leaf").whereis() not in (None, leaf)
        status = await control_request(path, "status")
        assert status["tree"]["recent_restarts"] == 0
        assert child(status, "a")["restarts"] == 3
        assert await root.child("a").call("ping") == "a"
        assert log.count(("stop", "a")) == 3
        with pytest.raises(ControlError, match="not_found: no child 'nope'"):
            await control_request(path, "restart", path="nope")
        with pytest.raises(ControlError, match="not_found"):
            await control_request(path, "restart", path="a/leaf")  # a is a worker
        for bad in ("", "sub//leaf", "/a", 7):
            with pytest.raises(ControlError) as caught:
                await control_request(path, "restart", path=bad)
            assert caught.value.code == "bad_path"


async def test_state_shows_and_drops_a_stored_state(tmp_path: Path, log: Log) -> None:
    store = MemoryStore()
    async with served(tree(log), tmp_path, store) as (root, path, _):
        counter = root.child("counter")
        for _ in range(2):
            await counter.call("add")
        shown = await control_request(path, "state", path="counter")
        assert shown["found"] is True
        assert shown["key"] == "counter"
        assert shown["size"] > 0
        assert "'value': 2" in shown["preview"]
        assert {"version", "generation"} <= shown.keys()
        with pytest.raises(ControlError) as caught:
            await control_request(path, "state", path="counter", drop=True)
        assert caught.value.code == "running"
        assert await read_state(store, "counter") is not None
        first = counter.whereis()
        dropped = await control_request(path, "state", path="counter", drop=True, restart=True)
        assert dropped["dropped"] is True
        assert counter.whereis() not in (None, first)
        assert await counter.call("get") == 0  # started again without its state
        await root.terminate_child("counter")
        stopped = await control_request(path, "state", path="counter", drop=True)
        assert stopped["dropped"] is (stopped["found"] is True)
        assert await read_state(store, "counter") is None
        missing = await control_request(path, "state", path="nothing/here")
        assert missing == {"key": "nothing/here", "found": False}


async def raw_request(path: Path, data: bytes) -> Any:
    """Send ``data`` as it is and read the one reply frame."""
    sock = trio.socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
    await sock.connect(os.fspath(path))
    async with trio.SocketStream(sock) as stream:
        await stream.send_all(data)
        return await Channel(stream, control_codec()).receive()


def frame(payload: bytes) -> bytes:
    return len(payload).to_bytes(4, "big") + payload


async def test_malformed_requests_get_typed_errors_and_the_server_keeps_serving(
    tmp_path: Path, log: Log
) -> None:
    codec = control_codec()
    cases = {
        "bad_request": frame(b"\xc1\xc1 garbage"),
        "too_large": (10**6).to_bytes(4, "big") + b"x" * 64,
        "bad_version": frame(codec.encode({"v": 99, "op": "status"})),
        "unknown_op": frame(codec.encode({"v": 1, "op": "reboot"})),
    }
    cases_more = {"bad_request": frame(codec.encode(["v", 1]))}
    async with served(tree(log), tmp_path, request_timeout=0.5) as (_, path, stops):
        for code, data in [*cases.items(), *cases_more.items()]:
            reply = await raw_request(path, data)
            assert reply["ok"] is False, code
            assert reply["error"] == code, reply
            assert reply["v"] == 1
        stalled = await raw_request(path, b"\x00\x00")  # half a length prefix, then nothing
        assert stalled["error"] == "timeout"
        assert (await control_request(path, "status"))["health"] == "running"
        assert await control_request(path, "stop") == {"pid": os.getpid()}
        assert stops == ["stop"]


def test_a_socket_path_over_107_bytes_is_a_clear_error(tmp_path: Path) -> None:
    long_dir = tmp_path / ("d" * 120)
    path = control_socket_path(long_dir)
    size = len(os.fsencode(path))

    async def main() -> None:
        async with open_tree(Supervisor()) as root:
            await serve_control(root, path, stop=lambda: None)

    with pytest.raises(SocketPathTooLong) as caught:
        trio.run(main)
    assert caught.value.size == size
    assert str(path) in str(caught.value)
    assert f"is {size} bytes" in str(caught.value)
    assert "at most 107" in str(caught.value)
    with pytest.raises(SocketPathTooLong):
        trio.run(control_request, path, "status")


async def test_a_stale_socket_is_removed_and_modes_are_private(tmp_path: Path, log: Log) -> None:
    path = control_socket_path(tmp_path)
    path.parent.mkdir(mode=0o755)
    stale = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
    stale.bind(os.fspath(path))  # what a daemon killed with -9 leaves behind
    stale.close()
    with pytest.raises(ControlError, match="not_running"):
        await control_request(path, "status")
    async with served(tree(log), tmp_path) as (_, served_path, _):
        assert served_path == path
        assert stat.S_IMODE(os.stat(path.parent).st_mode) == 0o700
        assert stat.S_IMODE(os.lstat(path).st_mode) == 0o600
        assert (await control_request(path, "status"))["health"] == "running"


async def test_a_file_that_is_not_a_socket_is_left_alone(tmp_path: Path) -> None:
    path = control_socket_path(tmp_path)
    path.parent.mkdir()
    path.write_text("not a socket")
    stop: Callable[[], None] = lambda: None  # noqa: E731
    async with open_tree(Supervisor()) as root:
        with pytest.raises(ControlError, match="is not a socket"):
            await serve_control(root, path, stop=stop)
    assert path.read_text() == "not a socket"
