"""Interop client: python-socketio's AsyncClient against the course's server.

Usage: python3 python_client.py SERVER_URL

Like node_client.mjs, this script only observes: it connects two clients (one with the
default transports, polling then WebSocket, one WebSocket only), joins a room, chats, and
asks for an echo, then prints one JSON line with what it saw. The Rust test
(tests/interop.rs) judges it. Every wait has a timeout; the script exits non-zero, with a
message on stderr, when it cannot observe at all.

python-socketio is found through PYTHONPATH (the Rust test points it at target/interop/python).
"""

import asyncio
import json
import sys

LIMIT = 5.0


def fail(message):
    sys.stderr.write(f"python interop client: {message}\n")
    sys.exit(1)


try:
    import socketio
except ImportError as error:
    fail(
        "cannot import socketio: install it with `python3 -m pip install --target "
        "target/interop/python 'python-socketio[asyncio_client]==5.*' aiohttp` and set "
        f"PYTHONPATH=target/interop/python ({error})"
    )


async def within(awaitable, what):
    try:
        return await asyncio.wait_for(awaitable, LIMIT)
    except asyncio.TimeoutError:
        raise RuntimeError(f"timed out after {LIMIT} s waiting for {what}") from None


async def ack(client, what, event, *args):
    """Emits with an acknowledgement and returns all the ack's arguments as a list."""
    answer = asyncio.get_running_loop().create_future()

    def on_ack(*values):
        if not answer.done():
            answer.set_result(list(values))

    # python-socketio sends a tuple as several arguments, anything else as one.
    await client.emit(event, tuple(args), callback=on_ack)
    return await within(answer, f"the ack for {what}")


class Inbox:
    """Every `chat` a client receives, and a way to wait for one with a given text."""

    def __init__(self, client):
        self.received = []
        self.changed = asyncio.Event()

        @client.on("chat")
        async def on_chat(message):
            self.received.append(message)
            self.changed.set()

    async def until(self, text, who):
        async def wait():
            while not any(isinstance(m, dict) and m.get("text") == text for m in self.received):
                self.changed.clear()
                await self.changed.wait()

        await within(wait(), f"{who} to receive the chat {text!r}")
        got, self.received = self.received, []
        return got


async def main(url):
    alice = socketio.AsyncClient(reconnection=False)
    bob = socketio.AsyncClient(reconnection=False)
    inboxes = {"alice": Inbox(alice), "bob": Inbox(bob)}
    try:
        try:
            # Default transports: polling first, then the upgrade to WebSocket.
            await within(alice.connect(url, wait_timeout=LIMIT), "alice to connect (polling, then upgrade)")
            await within(
                bob.connect(url, transports=["websocket"], wait_timeout=LIMIT),
                "bob to connect (WebSocket only)",
            )
        except socketio.exceptions.ConnectionError as error:
            fail(f"could not connect to {url}: {error}")

        joins = {
            "alice": await ack(alice, "alice joining general", "join", "general"),
            "bob": await ack(bob, "bob joining general", "join", "general"),
        }
        await alice.emit("chat", {"room": "general", "text": "from python", "n": [1, 2]})
        # A namespace-wide chat from the same sender after the room chat: once bob has it,
        # he has whatever else alice sent before (the server keeps one socket's order).
        await alice.emit("chat", {"text": "fence"})
        bob_got = await inboxes["bob"].until("fence", "bob")
        echo = await ack(alice, "echo", "echo", "x", {"y": [1, 2]}, 3)
        alice_got = inboxes["alice"].received

        result = {
            "ids": {"alice": alice.get_sid("/"), "bob": bob.get_sid("/")},
            "transports": {"alice": alice.transport(), "bob": bob.transport()},
            "joins": joins,
            "bob_got": bob_got,
            "alice_got": alice_got,
            "echo": echo,
        }
        print(json.dumps(result), flush=True)
    except RuntimeError as error:
        fail(str(error))
    finally:
        for client in (alice, bob):
            if client.connected:
                await client.disconnect()


if __name__ == "__main__":
    if len(sys.argv) != 2:
        fail("usage: python3 python_client.py SERVER_URL")
    asyncio.run(main(sys.argv[1]))
