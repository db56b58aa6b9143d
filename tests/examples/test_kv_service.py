"""examples/kv_service.py, run as the README runs it (`letitcrash run`), with real clients.

See docs/services.md and docs/daemon.md.
"""

from __future__ import annotations

import signal
from collections.abc import Iterator
from pathlib import Path

import pytest
import trio

from tests.daemon.running import Daemon, LineClient, running

DEADLINE = 30.0


@pytest.fixture
def server(tmp_path: Path) -> Iterator[tuple[Daemon, int]]:
    """The example run by `letitcrash run` (the README's main job), port 0."""
    with running("examples.kv_service:tree", tmp_path, "--set", "port=0") as daemon:
        daemon.ready()
        yield daemon, daemon.port("kv")


class Client:
    def __init__(self, stream: trio.SocketStream) -> None:
        self.stream = stream
        self.buffer = b""

    async def ask(self, line: bytes) -> bytes:
        await self.stream.send_all(line + b"\n")
        return await self.reply()

    async def reply(self) -> bytes:
        while b"\n" not in self.buffer:
            data = await self.stream.receive_some(65536)
            if not data:
                raise EOFError(self.buffer)
            self.buffer += data
        line, self.buffer = self.buffer.split(b"\n", 1)
        return line


async def closed(stream: trio.SocketStream) -> bool:
    """The server closed it: end of stream, or a reset (it closed with our bytes unread)."""
    try:
        return await stream.receive_some(10) == b""
    except trio.BrokenResourceError:
        return True


async def client(port: int) -> Client:
    return Client(await trio.open_tcp_stream("127.0.0.1", port))


async def test_the_kv_service_with_real_clients(server: tuple[Daemon, int]) -> None:
    daemon, port = server
    with trio.fail_after(DEADLINE):
        alice = await client(port)
        assert await alice.ask(b"GET colour") == b"NOT_FOUND"
        assert await alice.ask(b"SET colour deep blue") == b"OK"
        assert await alice.ask(b"GET colour") == b"VALUE deep blue"

        garbage = await client(port)
        assert (await garbage.ask(b"\xff\xfe junk")).startswith(b"ERROR")
        assert (await garbage.ask(b"FLY me to the moon")).startswith(b"ERROR unknown")
        assert await garbage.ask(b"GET colour") == b"VALUE deep blue"  # still served

        cut = await client(port)
        await cut.stream.send_all(b"SET half")  # no newline: then gone mid-line
        await cut.stream.aclose()

        long = await client(port)
        await long.stream.send_all(b"SET big " + b"x" * (70 * 1024))
        assert await long.reply() == b"ERROR line too long"
        assert await closed(long.stream)

        bob = await client(port)  # the others did no harm
        assert await bob.ask(b"DEL colour") == b"DELETED"
        assert await alice.ask(b"GET colour") == b"NOT_FOUND"
        for each in (alice, garbage, long, bob):
            await each.stream.aclose()

    daemon.send(signal.SIGTERM)
    assert daemon.wait(DEADLINE) == 0, daemon.text()
    assert daemon.records[-1]["event"] == "daemon stopped"
    assert not any(record["level"] == "ERROR" for record in daemon.records), daemon.text()
    assert not daemon.raw, daemon.raw


def test_acknowledged_writes_survive_kill_9_of_the_daemon(tmp_path: Path) -> None:
    """Strict mode: every write answered OK is there after a SIGKILL and a second start."""
    acknowledged = {}
    with running("examples.kv_service:tree", tmp_path, "--set", "port=0") as daemon:
        daemon.ready()
        with LineClient(daemon.port("kv")) as client:
            for n in range(50):
                assert client.ask(f"SET k{n} v{n}") == "OK"
                acknowledged[f"k{n}"] = f"v{n}"
            assert client.ask("DEL k0") == "DELETED"
            del acknowledged["k0"]
            daemon.send(signal.SIGKILL)
        assert daemon.wait() == -signal.SIGKILL
    with running("examples.kv_service:tree", tmp_path, "--set", "port=0") as again:
        again.ready()
        with LineClient(again.port("kv")) as client:
            assert client.ask("GET k0") == "NOT_FOUND"
            for key, value in acknowledged.items():
                assert client.ask(f"GET {key}") == f"VALUE {value}"
        again.send(signal.SIGTERM)
        assert again.wait() == 0, again.text()
