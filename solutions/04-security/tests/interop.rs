//! Interop: the official `socket.io-client` (Node) over `wss://` against the chapter 4 server,
//! with a certificate generated here and trusted the way a client trusts a company CA
//! (`NODE_EXTRA_CA_CERTS`), not by turning verification off.
//!
//! Behind the `interop` feature (plain `cargo test` needs no Node). `cargo xtask verify`
//! installs socket.io-client into `target/interop/` and runs:
//! `cargo test -p solution-04-security --features interop --test interop`.

use std::path::{Path, PathBuf};
use std::process::Stdio;
use std::time::Duration;

use kit::ServerProcess;
use security::Role;
use serde_json::{Value, json};
use tokio::process::Command;

const PAGE: &str = "book/src/04-security/risks.md";
const AUTH_PAGE: &str = "book/src/04-security/authentication.md";
const SECRET: &str = "an-interop-secret-of-32-bytes-ok!";

fn interop_dir() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("../../target/interop")
}

#[tokio::test]
async fn the_official_client_talks_wss_with_a_token() {
    let dir = tempfile::tempdir().expect("a temporary directory");
    let certified = rcgen::generate_simple_self_signed(vec!["127.0.0.1".to_owned()])
        .expect("a self-signed certificate");
    let cert = dir.path().join("cert.pem");
    let key = dir.path().join("key.pem");
    std::fs::write(&cert, certified.cert.pem()).expect("writing the certificate");
    std::fs::write(&key, certified.key_pair.serialize_pem()).expect("writing the key");

    let mut command = Command::new(env!("CARGO_BIN_EXE_solution-04-security"));
    command
        .args(["--addr", "127.0.0.1:0", "--jwt-secret", SECRET])
        .arg("--tls-cert")
        .arg(&cert)
        .arg("--tls-key")
        .arg(&key)
        .env_remove("REDIS_URL");
    let server = ServerProcess::spawn(command, Duration::from_secs(20))
        .await
        .unwrap_or_else(|e| panic!("the chapter 4 server did not start with TLS: {e}"));
    let url = format!("https://{}", server.addr());

    let good = security::jwt::mint(SECRET.as_bytes(), "chat", "alice", Role::User, 600);
    let expired = security::jwt::mint(SECRET.as_bytes(), "chat", "alice", Role::User, -120);
    let modules = interop_dir().join("node/node_modules");
    assert!(
        modules.join("socket.io-client").exists(),
        "socket.io-client is not installed in {}: run `cargo xtask verify`, or `npm install \
         --prefix target/interop/node socket.io-client@4.8`",
        modules.display()
    );
    let mut client = Command::new("node");
    client
        .arg(Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/interop/wss_client.mjs"))
        .args([url.as_str(), good.as_str(), expired.as_str()])
        .env("NODE_PATH", &modules)
        .env("NODE_EXTRA_CA_CERTS", &cert)
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .kill_on_drop(true);
    let output = kit::within(Duration::from_secs(30), client.output(), "the wss client")
        .await
        .expect("node runs");
    let stdout = String::from_utf8_lossy(&output.stdout);
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert!(
        output.status.success(),
        "the socket.io-client over wss:// failed ({}): {stderr}\n{stdout} (see {PAGE})",
        output.status
    );
    let line = stdout
        .lines()
        .rev()
        .find(|l| l.starts_with('{'))
        .expect("a JSON line");
    let result: Value = serde_json::from_str(line).expect("JSON");
    assert_eq!(
        result["good"]["echo"],
        json!(["over tls", {"n": 1}]),
        "a client with a valid token must connect over wss:// and get its echo: {result} (see \
         {PAGE})"
    );
    assert_eq!(
        result["good"]["transport"], "websocket",
        "the session must be a WebSocket over TLS: {result}"
    );
    assert_eq!(
        result["expired"],
        json!({"error": "unauthorized", "data": {"reason": "expired"}}),
        "the official client must see an expired token's CONNECT_ERROR as err.message and \
         err.data: {result} (see {AUTH_PAGE})"
    );
}
