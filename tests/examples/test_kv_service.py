"""examples/kv_service.py, run as a user runs it, with real clients (docs/services.md)."""

from __future__ import annotations

import signal
import subprocess
import sys
from collections.abc import Iterator

import pytest
import trio

from tests.support import ROOT

DEADLINE = 30.0


@pytest.fixture
def server() -> Iterator[tuple[subprocess.Popen[str], int]]:
    """The example in a process of its own; stopped (by its pid) if the test did not."""
    process = subprocess.Popen(
        [sys.executable, "-m", "examples.kv_service", "--port", "0"],
        cwd=ROOT,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )
    try:
        assert process.stdout is not None
        first = process.stdout.readline()
        assert process.stderr is not None
        assert first.startswith("listening on 127.0.0.1:"), first + process.stderr.read()
        yield process, int(first.rsplit(":", 1)[1])
    finally:
        if process.poll() is None:
            process.kill()
        process.wait(DEADLINE)
        for pipe in (process.stdout, process.stderr):
            assert pipe is not None
            pipe.close()


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


async def test_the_kv_service_with_real_clients(
    server: tuple[subprocess.Popen[str], int],
) -> None:
    process, port = server
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

    process.send_signal(signal.SIGTERM)
    out, err = process.communicate(timeout=DEADLINE)
    assert process.returncode == 0, err
    assert out.splitlines() == ["stopping on SIGTERM", "stopped"]
    assert "Traceback" not in err
