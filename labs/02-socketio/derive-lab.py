#!/usr/bin/env python3
"""Derives the lab's src/ from the solution's: each learner region (between `// ANCHOR: name`
and `// ANCHOR_END: name`) becomes a comment explaining the step and a `todo!`.

Run from the repository root after changing the solution: `python3 labs/02-socketio/derive-lab.py`.
"""
import os
import pathlib
import re
import shutil

ROOT = pathlib.Path(__file__).resolve().parents[2]
SOLUTION = ROOT / "solutions/02-socketio/src"
LAB = ROOT / "labs/02-socketio/src"

# name -> (step, book page, what to do, explanation, optional expression wrapping the todo)
REGIONS = {
    "open_packet": (1, "engine-io", "encode the open packet",
        "The first packet: `0` followed by this struct as JSON (serde renames the fields to camelCase)."),
    "heartbeat": (1, "engine-io", "ping every ping_interval and close on a missing pong",
        "Loop: sleep `interval` (or return when the session closes), send `Outgoing::ping()`, then wait\n"
        "for `session.pong.notified()` at most `timeout`; on timeout close with `CloseReason::PingTimeout`."),
    "encode": (2, "packets", "encode a Socket.IO packet",
        "Type digit, then `<attachments>-` for binary types, then `<nsp>,` unless the namespace is `/`,\n"
        "then the ack id, then the JSON data."),
    "decode": (2, "packets", "decode a Socket.IO packet without trusting it",
        "The reverse of `encode`, refusing anything invalid with a `DecodeError`: slice only at ASCII\n"
        "delimiters, bound the attachment count by `max_attachments`, check the payload with `validate`,\n"
        "and return `Decoded::Partial` when attachments are announced."),
    "attachments": (2, "packets", "collect attachments until the packet is complete",
        "Push the frame; once `expected` frames arrived, check every placeholder points at one of them\n"
        "(`placeholders_valid`) and return the packet."),
    "connect": (3, "namespaces", "run the middlewares, create the socket and answer CONNECT",
        "Run each middleware on a `ConnectRequest` (a refusal is sent as `connect_error(...)` and returned),\n"
        "create the `Socket` with a fresh id (or the restored one), register it in `self.sockets`, and send\n"
        "`40{\"sid\":...}` (with `pid` when a session store is configured)."),
    "join": (4, "rooms", "put a socket in a room",
        "Update both maps: room -> sockets and socket -> rooms."),
    "leave": (4, "rooms", "take a socket out of a room",
        "Remove from both maps; drop a room (or a socket's entry) once it is empty."),
    "members": (4, "rooms", "the sockets in any of several rooms, each once",
        "The union of the rooms' member sets."),
    "recipients": (5, "broadcast", "choose the recipients of a broadcast",
        "No rooms means every local socket; otherwise the members of the rooms. Then remove the members of\n"
        "`except_rooms` and `except_sid`. A set makes each socket appear once."),
    "emit_with_ack": (5, "acks", "emit with an ack id and wait for the answer with a timeout",
        "Register an id in `self.inner.acks`, keep a `ForgetOnDrop` guard, send the event with `packet.id`,\n"
        "then return a future that awaits the receiver under `tokio::time::timeout`.",
        "std::future::ready::<Result<AckResponse, AckError>>({todo})"),
    "on_ack": (5, "acks", "resolve the pending ack a client answered",
        "Take the id and the array data, and `resolve` the waiter (a late or unknown id is ignored)."),
    "ack_sender": (5, "acks", "send the ACK packet for a client's event",
        "Build `Packet::ack(...)` for this socket's namespace and id, and send it."),
    "encode_payload": (6, "long-polling-upgrade", "join packets into one polling payload",
        "Each packet's text, then each attachment as `b` + base64, all joined by `\\x1e`."),
    "decode_payload": (6, "long-polling-upgrade", "split a polling payload into packets",
        "Split on `SEPARATOR`; `b...` is base64 binary for `on_binary`, the rest goes to `dispatch_text`;\n"
        "anything invalid answers `bad_request(...)`."),
    "upgrade": (6, "long-polling-upgrade", "probe and upgrade a polling session to this WebSocket",
        "Run `upgrade(...)` under `engine.config.upgrade_timeout`; if it fails, fall back to polling and\n"
        "return; otherwise continue with `session`."),
}

# Steps up to this one keep the solution's code (to check that the lab progresses step by step).
SOLVED = int(os.environ.get("LAB_SOLVED_STEPS", "0"))

ANCHOR = re.compile(r"^(\s*)// ANCHOR: (\w+)\s*$")


def derive(text: str, used: set) -> str:
    out, lines, i = [], text.split("\n"), 0
    while i < len(lines):
        line = lines[i]
        m = ANCHOR.match(line)
        if m and m.group(2) in REGIONS:
            used.add(m.group(2))
        if not m or m.group(2) not in REGIONS or REGIONS[m.group(2)][0] <= SOLVED:
            out.append(line)
            i += 1
            continue
        indent, name = m.groups()
        step, page, what, why, *wrap = REGIONS[name]
        used.add(name)
        end = next(j for j in range(i, len(lines)) if lines[j].strip() == f"// ANCHOR_END: {name}")
        todo = f'todo!("step {step}: {what} (book: 02-socketio/{page}.md)")'
        out.append(line)
        out.append(f"{indent}// Step {step}: {what}.")
        out.extend(f"{indent}// {w}" for w in why.split("\n"))
        expression = wrap[0].format(todo=todo) if wrap else todo
        # Code after the region (not the closing brace) needs the todo as a statement.
        follows = lines[end + 1].strip() if end + 1 < len(lines) else "}"
        out.append(indent + expression + ("" if follows.startswith("}") else ";"))
        out.append(lines[end])
        i = end + 1
    return "\n".join(out)


def main():
    if LAB.exists():
        shutil.rmtree(LAB)
    used = set()
    for path in sorted(SOLUTION.rglob("*")):
        target = LAB / path.relative_to(SOLUTION)
        if path.is_dir():
            target.mkdir(parents=True, exist_ok=True)
            continue
        target.parent.mkdir(parents=True, exist_ok=True)
        if path.suffix != ".rs":
            shutil.copy(path, target)
            continue
        text = derive(path.read_text(), used)
        if path.name == "lib.rs":
            text = text.replace(
                "//! A Socket.IO v5 server",
                "//! LAB (chapter 2): the course's Socket.IO server with the learner's steps left as `todo!`.\n"
                "//! `cargo test -p lab-02-socketio step1_` checks step 1, and so on; steps.toml lists them.\n//!\n"
                "//! A Socket.IO v5 server", 1)
            text = text.replace(
                "\npub mod ack;",
                "\n// While steps are `todo!`, the helpers they will use look unused to the compiler.\n"
                "#![allow(unused_imports, unused_variables, dead_code, unreachable_code)]\n\npub mod ack;", 1)
        target.write_text(text)
    missing = set(REGIONS) - used
    if missing:
        raise SystemExit(f"anchors not found in the solution: {sorted(missing)}")


main()
