//! Interop: the official `socket.io-client` (Node) recovers its session from chapter 5's server:
//! `socket.recovered === true`, the same id, and every message it missed exactly once, on every
//! reconnect, across instances with the Redis store, and not after the window.
//!
//! Behind the `interop` feature (plain `cargo test` needs no Node). `cargo xtask verify`
//! installs socket.io-client into `target/interop/` and runs:
//! `cargo test -p solution-05-production --features interop --test interop`.

use std::net::SocketAddr;
use std::path::{Path, PathBuf};
use std::process::Stdio;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use kit::ServerProcess;
use serde_json::{Value, json};
use tokio::io::{AsyncBufReadExt, AsyncReadExt, BufReader};
use tokio::net::{TcpListener, TcpStream};
use tokio::process::{Child, Command};

const PAGE: &str = "book/src/05-production/recovery.md";
const DEPLOYS: &str = "book/src/05-production/deploys.md";

fn interop_dir() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("../../target/interop")
}

/// The chapter 5 server as a process, with `args` after `--addr 127.0.0.1:0`.
async fn instance(args: &[&str]) -> ServerProcess {
    let mut command = Command::new(env!("CARGO_BIN_EXE_solution-05-production"));
    command
        .args(["--addr", "127.0.0.1:0"])
        .args(args)
        .env_remove("REDIS_URL")
        .env_remove("JWT_SECRET");
    ServerProcess::spawn(command, Duration::from_secs(20))
        .await
        .unwrap_or_else(|e| panic!("the chapter 5 server did not start with {args:?}: {e}"))
}

/// The Node script, started with its stdout and stderr piped.
fn client(receiver: &str, sender: &str, mode: &str, rounds: u32, away_ms: u64) -> Child {
    let modules = interop_dir().join("node/node_modules");
    assert!(
        modules.join("socket.io-client").exists(),
        "socket.io-client is not installed in {}: run `cargo xtask verify`, or `npm install \
         --prefix target/interop/node socket.io-client@4.8`",
        modules.display()
    );
    Command::new("node")
        .arg(Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/interop/recovery_client.mjs"))
        .args([receiver, sender, mode])
        .arg(rounds.to_string())
        .arg(away_ms.to_string())
        .env("NODE_PATH", &modules)
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .kill_on_drop(true)
        .spawn()
        .expect("node runs")
}

/// Waits for the script to end and gives its result line.
async fn result_of(child: Child) -> Value {
    let output = kit::within(
        Duration::from_secs(60),
        child.wait_with_output(),
        "the recovery client",
    )
    .await
    .expect("node runs");
    let stdout = String::from_utf8_lossy(&output.stdout);
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert!(
        output.status.success(),
        "the official client's run failed ({}): {stderr}\n{stdout} (see {PAGE})",
        output.status
    );
    let line = stdout
        .lines()
        .rev()
        .find(|l| l.starts_with("{\"firstId\""))
        .unwrap_or_else(|| panic!("no result line in: {stdout}"));
    serde_json::from_str(line).expect("JSON")
}

/// What a receiver in `general` must have got in round `r`: the two messages to its room and
/// the one to everybody, in order, once each; not the one to `music`; then the live one.
fn missed_in(round: u64) -> Value {
    json!([
        format!("{round}.1"),
        format!("{round}.2"),
        format!("{round}.3")
    ])
}

fn assert_recovered(result: &Value, rounds: u64, reason: &str) {
    for (i, round) in result["rounds"]
        .as_array()
        .expect("rounds")
        .iter()
        .enumerate()
    {
        let r = i as u64 + 1;
        assert_eq!(
            round["reason"], reason,
            "round {r}: the drop's reason seen by the client: {result}"
        );
        assert_eq!(
            round["recovered"], true,
            "round {r}: the official client must report socket.recovered === true after a \
             {reason:?} within the window: {result} (see {PAGE})"
        );
        assert_eq!(
            round["id"], result["firstId"],
            "round {r}: a recovered socket keeps its id: {result} (see {PAGE})"
        );
        assert_eq!(
            round["replayed"],
            missed_in(r),
            "round {r}: the missed messages, replayed before the CONNECT answer, in order, \
             once each, none of another room: {result} (see {PAGE})"
        );
        assert_eq!(
            round["got"][3],
            format!("{r}.live"),
            "round {r}: after the replay, live delivery goes on: {result}"
        );
        assert_eq!(
            round["got"].as_array().map(Vec::len),
            Some(4),
            "round {r}: nothing twice: {result}"
        );
    }
    assert_eq!(
        result["rounds"].as_array().map(Vec::len),
        Some(rounds as usize)
    );
}

#[tokio::test]
async fn the_official_client_recovers_twice_in_a_row_from_the_memory_store() {
    let server = instance(&[]).await;
    let url = format!("http://{}", server.addr());
    let result = result_of(client(&url, &url, "self", 2, 0)).await;
    // `engine.close()` is "forced close" for the client; the server sees "transport close".
    assert_recovered(&result, 2, "forced close");
}

#[tokio::test]
async fn after_the_window_the_official_client_gets_a_fresh_session_and_no_replay() {
    let server = instance(&["--window-secs", "1"]).await;
    let url = format!("http://{}", server.addr());
    // Away for longer than the 1 s window: waiting out a duration is what this test is about.
    let result = result_of(client(&url, &url, "self", 1, 1600)).await;
    let round = &result["rounds"][0];
    assert_eq!(
        round["recovered"], false,
        "a client back after the window must get a fresh session: {result} (see {PAGE})"
    );
    assert_ne!(
        round["id"], result["firstId"],
        "a fresh session has a new id: {result}"
    );
    assert_eq!(
        round["replayed"],
        json!([]),
        "a fresh session gets no replay: {result} (see {PAGE})"
    );
    assert_eq!(
        round["got"],
        json!(["1.live"]),
        "only the live message: {result}"
    );
}

/// A one-backend TCP forwarder: every new connection goes to the backend of the moment, as a
/// balancer sends a reconnecting client to an instance that is still up.
async fn forwarder(backend: Arc<Mutex<SocketAddr>>) -> SocketAddr {
    let listener = TcpListener::bind("127.0.0.1:0").await.expect("a port");
    let addr = listener.local_addr().expect("an address");
    tokio::spawn(async move {
        while let Ok((mut inbound, _)) = listener.accept().await {
            let to = *backend.lock().expect("backend");
            tokio::spawn(async move {
                if let Ok(mut outbound) = TcpStream::connect(to).await {
                    let _ = tokio::io::copy_bidirectional(&mut inbound, &mut outbound).await;
                }
            });
        }
    });
    addr
}

#[tokio::test]
async fn the_official_client_recovers_on_another_instance_when_its_own_leaves() {
    let redis = kit::redis::redis_for_test().await;
    let on_redis = ["--redis", redis.url()];
    let b = instance(&on_redis).await;
    let backend = Arc::new(Mutex::new(SocketAddr::from(([127, 0, 0, 1], 9))));
    let proxy = forwarder(backend.clone()).await;
    let sender = format!("http://{}", b.addr());
    let mut instances = [instance(&on_redis).await, instance(&on_redis).await];
    // Round 1 leaves the first of them, round 2 the second; each time the forwarder sends the
    // reconnection to the next (round 2 lands on B).
    let mut child = client(&format!("http://{proxy}"), &sender, "external", 2, 0);
    let stdout = child.stdout.take().expect("piped stdout");
    let mut lines = BufReader::new(stdout).lines();
    let mut output = Vec::new();
    *backend.lock().expect("backend") = instances[0].addr();
    for round in 0..2 {
        let line = kit::within(
            Duration::from_secs(30),
            lines.next_line(),
            "the client's ready line",
        )
        .await
        .expect("stdout")
        .unwrap_or_else(|| panic!("the client ended before round {}", round + 1));
        assert_eq!(line, format!("{{\"ready\":{}}}", round + 1));
        let next = if round == 0 {
            instances[1].addr()
        } else {
            b.addr()
        };
        *backend.lock().expect("backend") = next;
        terminate(&mut instances[round]).await;
    }
    while let Ok(Some(line)) = lines.next_line().await {
        output.push(line);
    }
    let status = kit::within(Duration::from_secs(30), child.wait(), "the client's exit")
        .await
        .expect("node ran");
    let mut stderr = String::new();
    if let Some(mut err) = child.stderr.take() {
        let _ = err.read_to_string(&mut stderr).await;
    }
    assert!(
        status.success(),
        "the official client's run failed ({status}): {stderr}\n{output:?} (see {DEPLOYS})"
    );
    let line = output
        .iter()
        .rev()
        .find(|l| l.starts_with("{\"firstId\""))
        .unwrap_or_else(|| panic!("no result line in: {output:?}"));
    let result: Value = serde_json::from_str(line).expect("JSON");
    assert_recovered(&result, 2, "transport close");
}

/// Sends SIGTERM, as a deploy does, and waits for the instance to have left.
async fn terminate(server: &mut ServerProcess) {
    server
        .terminate(Duration::from_secs(15))
        .await
        .unwrap_or_else(|e| panic!("the instance did not leave after SIGTERM: {e}"));
}
