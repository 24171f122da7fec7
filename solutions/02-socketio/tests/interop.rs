//! Interop: clients written by others against this server.
//!
//! A server that only talks to its own client proves little. These tests start the real
//! binary and drive it with the official JavaScript client (`socket.io-client` 4.8 on Node)
//! and with `python-socketio`'s `AsyncClient`. The client scripts in `tests/interop/` only
//! observe and print one JSON line; the assertions are here, so every failure says what was
//! expected and which book page explains it.
//!
//! Behind the `interop` feature (plain `cargo test` needs neither Node nor Python).
//! `cargo xtask verify` installs the packages into `target/interop/` and runs:
//! `cargo test -p solution-02-socketio --features interop --test interop`.

use std::path::{Path, PathBuf};
use std::process::Stdio;
use std::time::Duration;

use kit::ServerProcess;
use serde_json::{Value, json};
use tokio::process::Command;

/// The binary prints `listening on ...` within this (it is already built by cargo).
const SERVER_START: Duration = Duration::from_secs(20);
/// A whole client script: each of its own waits is 5 s, so this only catches a hung process.
const SCRIPT_LIMIT: Duration = Duration::from_secs(60);

/// `target/interop/` of the workspace: where verify installs npm and pip packages.
fn interop_dir() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("../../target/interop")
}

fn script(name: &str) -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("tests/interop")
        .join(name)
}

async fn start_server() -> ServerProcess {
    let mut command = Command::new(env!("CARGO_BIN_EXE_solution-02-socketio"));
    command.args(["--addr", "127.0.0.1:0"]);
    ServerProcess::spawn(command, SERVER_START)
        .await
        .unwrap_or_else(|e| panic!("the chat server did not start: {e}"))
}

/// Runs a client script and returns the JSON line it printed.
async fn run_client(mut command: Command, what: &str) -> Value {
    command
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .kill_on_drop(true);
    let output = kit::within(SCRIPT_LIMIT, command.output(), what)
        .await
        .unwrap_or_else(|e| panic!("could not start {what} ({command:?}): {e}"));
    let stdout = String::from_utf8_lossy(&output.stdout);
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert!(
        output.status.success(),
        "{what} failed ({}):\n{stderr}\nstdout:\n{stdout}",
        output.status
    );
    let line = stdout
        .lines()
        .rev()
        .find(|l| l.starts_with('{'))
        .unwrap_or_else(|| panic!("{what} printed no JSON result line:\n{stdout}\n{stderr}"));
    println!("{what}: {line}");
    serde_json::from_str(line).unwrap_or_else(|e| panic!("{what} printed bad JSON ({e}): {line}"))
}

async fn node_client(server: &ServerProcess, scenario: &str) -> Value {
    let modules = interop_dir().join("node/node_modules");
    assert!(
        modules.join("socket.io-client").exists(),
        "socket.io-client is not installed in {}: run `cargo xtask verify`, or \
         `npm install --prefix target/interop/node socket.io-client@4.8`",
        modules.display()
    );
    let mut command = Command::new("node");
    command
        .arg(script("node_client.mjs"))
        .arg(server.url(""))
        .arg(scenario)
        .env("NODE_PATH", &modules);
    run_client(
        command,
        &format!("the socket.io-client scenario `{scenario}`"),
    )
    .await
}

/// A received `chat` is the sent object plus `from`, the sender's socket id.
fn chat_from(sent: Value, from: &Value) -> Value {
    let mut message = sent;
    message["from"] = from.clone();
    message
}

/// The room scenario, shared by WebSocket-only and polling-then-upgrade clients.
fn assert_rooms_chat_and_acks(result: &Value, transport: &str) {
    let ids = &result["ids"];
    for who in ["alice", "bob", "chloe"] {
        assert!(
            ids[who].as_str().is_some_and(|id| !id.is_empty()),
            "[{transport}] every client gets a socket id in `40{{\"sid\":...}}`; {who} got {} \
             (book: book/src/02-socketio/packets.md)",
            ids[who]
        );
    }
    for (join, ack) in result["joins"].as_object().expect("joins") {
        assert_eq!(
            ack,
            &json!([true]),
            "[{transport}] `join` must be acked with [true]; {join} got {ack} \
             (book: book/src/02-socketio/rooms.md)"
        );
    }
    let alice = &ids["alice"];
    assert_eq!(
        result["phase1"]["bob"],
        json!([
            chat_from(
                json!({"room": "music", "text": "to music", "n": 1, "nested": {"ok": true}}),
                alice
            ),
            chat_from(json!({"text": "fence 1"}), alice),
        ]),
        "[{transport}] bob (in music) must receive alice's chat to music, with `from` set to \
         alice's id, then her chat to the whole namespace (book: book/src/02-socketio/broadcast.md)"
    );
    assert_eq!(
        result["phase1"]["chloe"],
        json!([chat_from(json!({"text": "fence 1"}), alice)]),
        "[{transport}] chloe (in general, not in music) must not receive the chat to music, \
         only the chat to the whole namespace (book: book/src/02-socketio/rooms.md)"
    );
    assert_eq!(
        result["phase1"]["alice"],
        json!([]),
        "[{transport}] the sender must not receive her own chat, to a room or to the namespace: \
         that is socket.to(room) / socket.broadcast, not io.to(room) / io.emit \
         (book: book/src/02-socketio/broadcast.md)"
    );
    assert_eq!(
        result["echo"],
        json!(["a", {"b": [1, 2]}, 3, null]),
        "[{transport}] `echo` must ack with exactly its arguments \
         (book: book/src/02-socketio/acks.md)"
    );
    assert_eq!(
        result["leave"],
        json!([true]),
        "[{transport}] `leave` must be acked with [true] (book: book/src/02-socketio/rooms.md)"
    );
    assert_eq!(
        result["phase2"]["bob"],
        json!([chat_from(json!({"text": "fence 2"}), alice)]),
        "[{transport}] after leaving music, bob must no longer receive chats to music \
         (book: book/src/02-socketio/rooms.md)"
    );
}

#[tokio::test]
async fn socket_io_client_over_websocket_only() {
    let server = start_server().await;
    let result = node_client(&server, "websocket").await;
    assert_eq!(
        result["transport"], "websocket",
        "with transports: [\"websocket\"] the session runs over WebSocket from the handshake on \
         (book: book/src/02-socketio/engine-io.md)"
    );
    assert_rooms_chat_and_acks(&result, "websocket only");
}

#[tokio::test]
async fn socket_io_client_polling_then_upgrade() {
    let server = start_server().await;
    let result = node_client(&server, "polling-upgrade").await;
    assert_eq!(
        result["opened_on"], "polling",
        "with its default options the client opens the session over HTTP long polling \
         (book: book/src/02-socketio/long-polling-upgrade.md)"
    );
    assert_eq!(
        result["early_echo"],
        json!(["early", 1]),
        "an echo sent right after connecting (over polling) must be acked with its arguments \
         (book: book/src/02-socketio/long-polling-upgrade.md)"
    );
    assert_eq!(
        result["transport_after_upgrade"], "websocket",
        "after 2probe/3probe/5 the client's transport must be websocket \
         (book: book/src/02-socketio/long-polling-upgrade.md)"
    );
    assert_eq!(
        result["transports_at_end"],
        json!(["websocket", "websocket", "websocket"]),
        "every default client must end on WebSocket (book: book/src/02-socketio/long-polling-upgrade.md)"
    );
    assert_rooms_chat_and_acks(&result, "polling then upgrade");
}

#[tokio::test]
async fn socket_io_client_namespaces() {
    let server = start_server().await;
    let result = node_client(&server, "namespaces").await;
    let ids = &result["ids"];
    assert_eq!(
        result["same_engine_session"], true,
        "the agent's /admins and /clients sockets share one Engine.IO session"
    );
    assert_ne!(
        ids["agent_admins"], ids["agent_clients"],
        "one session connected to two namespaces has two socket ids, one per namespace \
         (book: book/src/02-socketio/namespaces.md)"
    );
    assert_eq!(
        result["other_agent_got"],
        json!([chat_from(
            json!({"text": "admins only"}),
            &ids["agent_admins"]
        )]),
        "a chat in /admins must reach the other sockets of /admins, with `from` set to the \
         sender's /admins socket id (book: book/src/02-socketio/namespaces.md)"
    );
    assert_eq!(
        result["customer_got"],
        json!([chat_from(
            json!({"text": "fence clients"}),
            &ids["agent_clients"]
        )]),
        "a chat in /admins must not reach /clients; the customer must only get the chat sent \
         in /clients (book: book/src/02-socketio/namespaces.md)"
    );
    assert_eq!(
        result["public_got"],
        json!([]),
        "chats in /admins and /clients must not reach the main namespace / \
         (book: book/src/02-socketio/namespaces.md)"
    );
    assert_eq!(
        result["admins_echo"],
        json!(["x", {"y": 2}]),
        "`echo` in /admins must be acked in /admins with its arguments \
         (book: book/src/02-socketio/acks.md)"
    );
    assert_eq!(
        result["clients_join"],
        json!([true]),
        "`join` in /clients must be acked with [true] (book: book/src/02-socketio/rooms.md)"
    );
    assert_eq!(
        result["nope_error"]["message"], "Invalid namespace",
        "connecting to an unknown namespace must fail with CONNECT_ERROR \
         44/nope,{{\"message\":\"Invalid namespace\"}} (book: book/src/02-socketio/namespaces.md)"
    );
}

#[tokio::test]
async fn python_socketio_async_client() {
    let server = start_server().await;
    let packages = interop_dir().join("python");
    assert!(
        packages.join("socketio").exists(),
        "python-socketio is not installed in {}: run `cargo xtask verify`, or \
         `python3 -m pip install --target target/interop/python 'python-socketio[asyncio_client]==5.*' aiohttp`",
        packages.display()
    );
    let mut command = Command::new("python3");
    command
        .arg(script("python_client.py"))
        .arg(server.url(""))
        .env("PYTHONPATH", &packages);
    let result = run_client(command, "the python-socketio client").await;

    let alice = &result["ids"]["alice"];
    assert!(
        alice.as_str().is_some_and(|id| !id.is_empty()),
        "python-socketio must get a socket id for /; got {alice} (book: book/src/02-socketio/packets.md)"
    );
    assert_eq!(
        result["transports"]["bob"], "websocket",
        "bob connects with transports=['websocket'] (book: book/src/02-socketio/engine-io.md)"
    );
    assert_eq!(
        result["joins"],
        json!({"alice": [true], "bob": [true]}),
        "`join` must be acked with [true] for both clients, over polling and over WebSocket \
         (book: book/src/02-socketio/rooms.md)"
    );
    assert_eq!(
        result["bob_got"],
        json!([
            chat_from(
                json!({"room": "general", "text": "from python", "n": [1, 2]}),
                alice
            ),
            chat_from(json!({"text": "fence"}), alice),
        ]),
        "bob (in general) must receive alice's chat to general then her chat to the namespace, \
         each with `from` (book: book/src/02-socketio/broadcast.md)"
    );
    assert_eq!(
        result["alice_got"],
        json!([]),
        "the sender must not receive her own chats (book: book/src/02-socketio/broadcast.md)"
    );
    assert_eq!(
        result["echo"],
        json!(["x", {"y": [1, 2]}, 3]),
        "`echo` must ack with exactly its arguments (book: book/src/02-socketio/acks.md)"
    );
}
