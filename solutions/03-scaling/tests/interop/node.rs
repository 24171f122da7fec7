//! The Node instance of the mixed cluster (`node_instance.mjs`), driven over JSON lines: a
//! command on its stdin, its answer and its observations (reports) on its stdout, in order.
//!
//! Because answers and reports share one ordered stream, everything a client received before
//! an answer arrived is already recorded when the answer is read: an `echo` round trip on a
//! client is a fence, with no sleeping.

use std::path::{Path, PathBuf};
use std::process::Stdio;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use serde_json::{Value, json};
use tokio::io::{AsyncBufReadExt, AsyncWriteExt, BufReader};
use tokio::process::{Child, ChildStdin, Command};
use tokio::sync::mpsc;

use super::PAGE;

/// Node starts, connects to Redis and subscribes within this.
const START: Duration = Duration::from_secs(20);
/// One command's answer: longer than the script's own 3 s request and ack timeouts.
const ANSWER: Duration = Duration::from_secs(6);
/// A report (an event at a client, a server-side event) we wait for.
pub const REPORT: Duration = Duration::from_secs(4);

/// `target/interop/node-cluster/node_modules` of the workspace, where verify installs.
fn modules() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("../../target/interop/node-cluster/node_modules")
}

/// A running `node node_instance.mjs`; killed when dropped.
pub struct NodeInstance {
    _child: Child,
    stdin: ChildStdin,
    lines: mpsc::UnboundedReceiver<Value>,
    stderr: Arc<Mutex<String>>,
    reports: Vec<Value>,
    next_id: u64,
    /// Its HTTP port on 127.0.0.1.
    pub port: u16,
    /// Its adapter's uid on the wire.
    pub uid: String,
}

impl NodeInstance {
    /// Starts an instance on `redis_url` under prefix `key`.
    pub async fn start(redis_url: &str, key: &str, specific_channel: bool) -> NodeInstance {
        let modules = modules();
        assert!(
            modules.join("@socket.io/redis-adapter").exists(),
            "the Node packages are not installed in {}: run `cargo xtask verify`, or `npm install \
             --prefix target/interop/node-cluster socket.io@4.8 @socket.io/redis-adapter@8.3 \
             redis@4 socket.io-client@4.8`",
            modules.display()
        );
        let script = Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/interop/node_instance.mjs");
        let mut child = Command::new("node")
            .arg(&script)
            .args([
                redis_url,
                key,
                if specific_channel { "true" } else { "false" },
            ])
            .env("NODE_PATH", &modules)
            .stdin(Stdio::piped())
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .kill_on_drop(true)
            .spawn()
            .unwrap_or_else(|e| panic!("could not start node {}: {e}", script.display()));
        let stdin = child.stdin.take().expect("piped stdin");
        let stdout = child.stdout.take().expect("piped stdout");
        let stderr_pipe = child.stderr.take().expect("piped stderr");
        let (tx, lines) = mpsc::unbounded_channel();
        tokio::spawn(async move {
            let mut reader = BufReader::new(stdout).lines();
            while let Ok(Some(line)) = reader.next_line().await {
                let value = serde_json::from_str(&line)
                    .unwrap_or_else(|_| json!({"report": "garbage", "line": line}));
                if tx.send(value).is_err() {
                    break;
                }
            }
        });
        let stderr = Arc::new(Mutex::new(String::new()));
        let collected = stderr.clone();
        tokio::spawn(async move {
            let mut reader = BufReader::new(stderr_pipe).lines();
            while let Ok(Some(line)) = reader.next_line().await {
                let mut text = collected.lock().unwrap_or_else(|e| e.into_inner());
                text.push_str(&line);
                text.push('\n');
            }
        });
        let mut node = NodeInstance {
            _child: child,
            stdin,
            lines,
            stderr,
            reports: Vec::new(),
            next_id: 0,
            port: 0,
            uid: String::new(),
        };
        let ready = node
            .report_within(START, "the Node instance to be ready", |r| {
                r["report"] == "ready"
            })
            .await;
        node.port = ready["port"].as_u64().expect("a port") as u16;
        node.uid = ready["uid"].as_str().expect("a uid").to_owned();
        node
    }

    /// `http://127.0.0.1:PORT`, for a client.
    pub fn url(&self) -> String {
        format!("http://127.0.0.1:{}", self.port)
    }

    fn stderr(&self) -> String {
        self.stderr
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .clone()
    }

    async fn next_line(&mut self, limit: Duration, what: &str) -> Value {
        match tokio::time::timeout(limit, self.lines.recv()).await {
            Ok(Some(line)) => line,
            Ok(None) => panic!(
                "the Node instance exited while we waited for {what}; its stderr:\n{}",
                self.stderr()
            ),
            Err(_) => panic!(
                "timed out after {limit:?} waiting for {what} from the Node instance; its \
                 stderr:\n{}",
                self.stderr()
            ),
        }
    }

    /// Runs `command` (an object with `op`); its result, or the script's error message.
    pub async fn try_call(&mut self, mut command: Value) -> Result<Value, String> {
        self.next_id += 1;
        let id = self.next_id;
        command["id"] = json!(id);
        let what = format!("the answer to {command}");
        let mut line = command.to_string();
        line.push('\n');
        if let Err(e) = self.stdin.write_all(line.as_bytes()).await {
            panic!(
                "cannot write to the Node instance ({e}); its stderr:\n{}",
                self.stderr()
            );
        }
        // kit::within bounds the whole wait; next_line's own limit names the command.
        kit::within(
            ANSWER + Duration::from_secs(1),
            async {
                loop {
                    let line = self.next_line(ANSWER, &what).await;
                    if line["id"] == json!(id) {
                        return if line["ok"] == true {
                            Ok(line["result"].clone())
                        } else {
                            Err(line["error"].as_str().unwrap_or("?").to_owned())
                        };
                    }
                    self.reports.push(line);
                }
            },
            &what,
        )
        .await
    }

    /// Runs `command`; panics with the script's error.
    pub async fn call(&mut self, command: Value) -> Value {
        let shown = command.to_string();
        self.try_call(command)
            .await
            .unwrap_or_else(|e| panic!("the Node instance failed {shown}: {e} (see {PAGE})"))
    }

    async fn report_within(
        &mut self,
        limit: Duration,
        what: &str,
        matches: impl Fn(&Value) -> bool,
    ) -> Value {
        if let Some(i) = self.reports.iter().position(&matches) {
            return self.reports.remove(i);
        }
        kit::within(
            limit + Duration::from_secs(1),
            async {
                loop {
                    let line = self.next_line(limit, what).await;
                    if matches(&line) {
                        return line;
                    }
                    self.reports.push(line);
                }
            },
            what,
        )
        .await
    }

    /// Waits for (and consumes) the first report matching `matches`.
    pub async fn report(&mut self, what: &str, matches: impl Fn(&Value) -> bool) -> Value {
        self.report_within(REPORT, what, matches).await
    }

    /// Waits for the next `event` at client `name` and returns its arguments.
    pub async fn received(&mut self, name: &str, event: &str, what: &str) -> Value {
        let report = self
            .report(what, |r| {
                r["report"] == "client" && r["name"] == name && r["event"] == event
            })
            .await;
        report["args"].clone()
    }

    /// Every event client `name` received so far and nobody waited for: `[event, ...args]`.
    pub fn take_received(&mut self, name: &str) -> Vec<Value> {
        let (mine, rest) = std::mem::take(&mut self.reports)
            .into_iter()
            .partition(|r| r["report"] == "client" && r["name"] == name);
        self.reports = rest;
        mine.into_iter()
            .map(|r| {
                let mut items = vec![r["event"].clone()];
                items.extend(r["args"].as_array().cloned().unwrap_or_default());
                Value::Array(items)
            })
            .collect()
    }

    /// A socket.io-client socket named `name` connected to `url`; its socket id.
    pub async fn connect(&mut self, name: &str, url: &str) -> String {
        let auth = json!({ "token": name });
        let query = json!({ "team": "blue" });
        let answer = self
            .call(json!({"op": "connect", "name": name, "url": url, "auth": auth, "query": query}))
            .await;
        answer["sid"].as_str().expect("a sid").to_owned()
    }

    /// Client `name` joins `room` through the chat contract.
    pub async fn join(&mut self, name: &str, room: &str) {
        let ack = self
            .call(json!({"op": "clientEmitWithAck", "name": name, "event": "join", "args": [room]}))
            .await;
        assert_eq!(ack, json!(true), "{name} joining {room} (see {PAGE})");
    }

    /// Client `name` emits `event` with `args`, no ack.
    pub async fn emit(&mut self, name: &str, event: &str, args: Value) {
        self.call(json!({"op": "clientEmit", "name": name, "event": event, "args": args}))
            .await;
    }

    /// An `echo` round trip on client `name`: whatever the servers sent it before is recorded.
    pub async fn fence(&mut self, name: &str) {
        let echo =
            json!({"op": "clientEmitWithAck", "name": name, "event": "echo", "args": ["fence"]});
        match self.try_call(echo).await {
            Ok(ack) => assert_eq!(ack, json!("fence"), "the echo fence of {name}"),
            Err(e) => panic!(
                "{name}'s echo got no answer ({e}); {name} received meanwhile: {:?} (see {PAGE})",
                self.take_received(name)
            ),
        }
    }
}
