"""The supervised listener (docs/services.md): a child per connection, limits, stop order.

Real loopback sockets and real time: deadlines are generous and the tests assert
outcomes and order, never speed.
"""

from __future__ import annotations

import errno
import logging
import os
import socket
import stat
from pathlib import Path

import pytest
import trio
import trio.testing

from actors import Runtime
from supervisor import (
    ChildSpec,
    InvalidSpec,
    StartFailed,
    Supervisor,
    SupervisorHandle,
    listener,
    listener_address,
    open_tree,
)
from tests.support import eventually, run_python

from .workers import Worker

DEADLINE = 10.0


async def line_echo(stream: trio.SocketStream, events: list[str]) -> None:
    """Echoes each chunk; "boom" raises; records when it starts and ends."""
    events.append("served")
    try:
        async for data in stream:
            if data.strip() == b"boom":
                raise RuntimeError("the handler gave up")
            await stream.send_all(data)
    finally:
        events.append("ended")


async def tcp_address(root: SupervisorHandle, path: str = "echo") -> tuple[str, int]:
    address = await listener_address(root.supervisor(path))
    assert isinstance(address, tuple)
    return address


async def connect(root: SupervisorHandle, path: str = "echo") -> trio.SocketStream:
    return await trio.open_tcp_stream(*await tcp_address(root, path))


async def ask(stream: trio.SocketStream, data: bytes) -> bytes:
    await stream.send_all(data)
    return await stream.receive_some(len(data))


async def _active_is(root: SupervisorHandle, count: int) -> bool:
    return await connections(root) == count


async def connections(root: SupervisorHandle) -> int:
    return (await root.supervisor("echo/connections").count_children()).active


async def test_a_crashing_handler_drops_only_its_connection(
    runtime: Runtime, caplog: pytest.LogCaptureFixture
) -> None:
    events: list[str] = []
    spec = Supervisor(children=[listener("echo", line_echo, args=(events,))])
    with trio.fail_after(DEADLINE):
        async with open_tree(spec, runtime=runtime) as root:
            acceptor = root.child("echo/acceptor").whereis()
            good = await connect(root)
            bad = await connect(root)
            assert await ask(good, b"one") == b"one"
            assert await ask(bad, b"two") == b"two"
            await bad.send_all(b"boom")
            assert await bad.receive_some(10) == b""  # its stream was closed
            assert await ask(good, b"three") == b"three"
            later = await connect(root)
            assert await ask(later, b"four") == b"four"
            assert root.child("echo/acceptor").whereis() == acceptor  # not restarted
            for stream in (good, bad, later):
                await stream.aclose()
    crashes = [r for r in caplog.records if r.levelno == logging.ERROR]
    assert any("the handler gave up" in (r.exc_text or r.getMessage()) for r in crashes)
    assert events.count("served") == events.count("ended") == 3


async def test_at_the_limit_the_next_client_waits_for_a_slot(runtime: Runtime) -> None:
    events: list[str] = []
    spec = Supervisor(children=[listener("echo", line_echo, args=(events,), max_connections=1)])
    with trio.fail_after(DEADLINE):
        async with open_tree(spec, runtime=runtime) as root:
            first = await connect(root)
            assert await ask(first, b"a") == b"a"
            second = await connect(root)  # the kernel's backlog completes the connect
            await second.send_all(b"b")
            # Were it accepted, its handler would run as soon as every task is idle.
            await trio.testing.wait_all_tasks_blocked(0.2)
            assert events == ["served"]
            assert await connections(root) == 1
            await first.aclose()
            assert await second.receive_some(1) == b"b"  # answered once the slot freed
            assert events == ["served", "ended", "served"]
            await second.aclose()


async def test_stop_closes_the_listening_socket_then_gives_connections_their_budget(
    runtime: Runtime,
) -> None:
    order: list[str] = []

    async def polite(stream: trio.SocketStream, address: list[tuple[str, int]]) -> None:
        try:
            await trio.sleep_forever()
        finally:
            with trio.CancelScope(shield=True):
                try:
                    await trio.open_tcp_stream(*address[0])
                except OSError:
                    order.append("listening socket closed")
                await trio.sleep(0.1)  # a cleanup that fits its budget
                await stream.send_all(b"bye")
                order.append("said bye")

    address: list[tuple[str, int]] = []
    spec = Supervisor(children=[listener("echo", polite, args=(address,), connection_shutdown=5.0)])
    with trio.fail_after(DEADLINE):
        async with open_tree(spec, runtime=runtime) as root:
            host, port = await tcp_address(root)
            address.append((host, port))
            client = await connect(root)
            await trio.testing.wait_all_tasks_blocked(0.05)
        # the tree has stopped: the connection's cleanup ran within its budget
        assert order == ["listening socket closed", "said bye"]
        assert await client.receive_some(10) == b"bye"
        assert await client.receive_some(10) == b""
        await client.aclose()
        with pytest.raises(OSError, match="failed"):  # refused
            await trio.open_tcp_stream(host, port)


async def test_an_acceptor_restart_keeps_connections_and_port(runtime: Runtime) -> None:
    events: list[str] = []
    spec = Supervisor(children=[listener("echo", line_echo, args=(events,))])
    with trio.fail_after(DEADLINE):
        async with open_tree(spec, runtime=runtime) as root:
            address = await listener_address(root.supervisor("echo"))
            open_one = await connect(root)
            first = root.child("echo/acceptor").whereis()
            assert first is not None
            runtime.kill(first)
            await runtime.wait(first)
            # answered by the next incarnation (an address waits for it)
            assert await listener_address(root.supervisor("echo")) == address
            assert root.child("echo/acceptor").whereis() not in (None, first)
            assert await ask(open_one, b"still here") == b"still here"
            # the child that waited for the dead acceptor's next client has stopped:
            # the open connection and the new acceptor's waiting child are left
            await eventually(
                lambda: _active_is(root, 2), what="the old waiting child to stop", timeout=DEADLINE
            )
            again = await connect(root)
            assert await ask(again, b"new") == b"new"
            for stream in (open_one, again):
                await stream.aclose()


async def test_a_killed_waiting_child_is_replaced_and_holds_no_slot(runtime: Runtime) -> None:
    events: list[str] = []
    spec = Supervisor(children=[listener("echo", line_echo, args=(events,), max_connections=1)])
    with trio.fail_after(DEADLINE):
        async with open_tree(spec, runtime=runtime) as root:
            await eventually(lambda: _active_is(root, 1), what="a waiting child", timeout=DEADLINE)
            [waiting] = await root.supervisor("echo/connections").which_children()
            assert waiting.ref is not None
            runtime.kill(waiting.ref)
            await runtime.wait(waiting.ref)
            for data in (b"first", b"second"):  # one slot: the second needs the first's back
                client = await connect(root)
                assert await ask(client, data) == data
                await client.aclose()
                await eventually(lambda: _active_is(root, 1), what="a slot", timeout=DEADLINE)
            assert events == ["served", "ended"] * 2


async def test_a_busy_port_fails_the_start_with_the_os_error(runtime: Runtime) -> None:
    taken = socket.socket()
    taken.bind(("127.0.0.1", 0))
    taken.listen()
    try:
        spec = Supervisor(
            children=[listener("echo", line_echo, address=taken.getsockname(), args=([],))]
        )
        with pytest.raises(StartFailed) as failed:
            async with open_tree(spec, runtime=runtime):
                pass  # pragma: no cover - the start fails
        assert "Address already in use" in str(failed.value) or str(errno.EADDRINUSE) in str(
            failed.value
        )
    finally:
        taken.close()


async def test_a_unix_socket_is_0600_and_a_stale_one_is_replaced(
    runtime: Runtime, tmp_path: Path
) -> None:
    path = str(tmp_path / "echo.sock")
    stale = socket.socket(socket.AF_UNIX)
    stale.bind(path)
    stale.close()  # the file stays, nobody listens: stale
    spec = Supervisor(children=[listener("echo", line_echo, address=path, args=([],))])
    with trio.fail_after(DEADLINE):
        async with open_tree(spec, runtime=runtime) as root:
            assert await listener_address(root.supervisor("echo")) == path
            assert stat.S_IMODE(os.stat(path).st_mode) == 0o600
            client = await trio.open_unix_socket(path)
            assert await ask(client, b"hi") == b"hi"
            await client.aclose()
            twin = Supervisor(children=[listener("twin", line_echo, address=path, args=([],))])
            with pytest.raises(StartFailed, match="already"):  # a live one: EADDRINUSE
                await root.start_child(ChildSpec("twin", twin))
    assert not await trio.Path(path).exists()  # the listener removed its own socket file


def test_bad_listener_specs_are_refused() -> None:
    with pytest.raises(InvalidSpec, match="actor class"):
        listener("l", Worker)  # type: ignore[arg-type]
    with pytest.raises(InvalidSpec, match="address"):
        listener("l", line_echo, address=("127.0.0.1", 70000))
    with pytest.raises(InvalidSpec, match="max_connections"):
        listener("l", line_echo, max_connections=0)
    with pytest.raises(InvalidSpec, match="backlog"):
        listener("l", line_echo, backlog=True)


def test_out_of_fds_pauses_accepting_and_crashes_nothing() -> None:
    """EMFILE at accept: logged, accepting pauses and resumes; the acceptor is not restarted."""
    done = run_python("-m", "tests.supervisor.emfile_listener")
    assert done.returncode == 0, done.stderr
    assert done.stdout.splitlines() == ["first: one", "acceptor restarted: False", "second: two"]
    assert "accept failed, pausing: [Errno 24]" in done.stderr
