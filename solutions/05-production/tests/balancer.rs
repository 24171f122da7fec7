//! Behind a real load balancer: HAProxy, with the configuration the lab ships
//! (`labs/05-production/haproxy/haproxy.cfg`), in front of three chapter 5 instances.
//!
//! - Long polling works through it because its cookie keeps a session on one instance; the
//!   same configuration without the cookie sends the second request elsewhere, and Engine.IO
//!   answers 400 "Session ID unknown".
//! - A rolling restart (SIGTERM, wait, start again on the same port, one instance after the
//!   other) while a fourth instance outside the balancer broadcasts: every receiver behind the
//!   balancer recovers each time and gets every message exactly once. Receivers reconnect at
//!   once, faster than socket.io-client (which waits about a second).
//! - The same when one instance is killed (SIGKILL): its receivers recover elsewhere, from
//!   sessions kept in Redis while they were connected.
//!
//! Behind the `balancer` feature (plain `cargo test` needs no HAProxy). `cargo xtask verify`
//! runs it when `haproxy` is installed:
//! `cargo test -p solution-05-production --features balancer --test balancer`.

use std::net::SocketAddr;
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use futures_util::{SinkExt, StreamExt};
use kit::ServerProcess;
use serde_json::{Value, json};
use tokio::net::TcpStream;
use tokio::process::{Child, Command};
use tokio::sync::{Notify, mpsc, watch};
use tokio_tungstenite::tungstenite::Message;

const DEPLOYS: &str = "book/src/05-production/deploys.md";
const WAIT: Duration = Duration::from_secs(10);

/// The configuration as shipped.
fn shipped_config() -> String {
    let path =
        Path::new(env!("CARGO_MANIFEST_DIR")).join("../../labs/05-production/haproxy/haproxy.cfg");
    std::fs::read_to_string(&path).unwrap_or_else(|e| panic!("{}: {e}", path.display()))
}

/// The same configuration with every `cookie` directive removed: no stickiness.
fn without_stickiness(config: &str) -> String {
    config
        .lines()
        .filter(|line| !line.trim_start().starts_with("cookie "))
        .map(|line| match line.find(" cookie ") {
            Some(at) if line.trim_start().starts_with("server ") => &line[..at],
            _ => line,
        })
        .collect::<Vec<_>>()
        .join("\n")
}

/// A free port on 127.0.0.1 (bound, then released for the child to take).
fn free_addr() -> SocketAddr {
    let listener = std::net::TcpListener::bind("127.0.0.1:0").expect("a port");
    listener.local_addr().expect("an address")
}

/// HAProxy running `config` in front of `instances`; killed when dropped.
struct Balancer {
    addr: SocketAddr,
    stats: SocketAddr,
    _child: Child,
    _dir: tempfile::TempDir,
}

impl Balancer {
    async fn start(config: &str, instances: [SocketAddr; 3]) -> Balancer {
        let dir = tempfile::tempdir().expect("a temporary directory");
        // A stats page for the test to see when HAProxy has an instance up again.
        let config = format!(
            "{config}\n\nfrontend stats\n    bind \"${{STATS_BIND}}\"\n    stats enable\n    stats uri /stats\n"
        );
        let file: PathBuf = dir.path().join("haproxy.cfg");
        std::fs::write(&file, config).expect("the configuration written");
        let (addr, stats) = (free_addr(), free_addr());
        let child = Command::new("haproxy")
            .arg("-f")
            .arg(&file)
            .arg("-db")
            .env("CHAT_BIND", addr.to_string())
            .env("STATS_BIND", stats.to_string())
            .env("INSTANCE_ONE", instances[0].to_string())
            .env("INSTANCE_TWO", instances[1].to_string())
            .env("INSTANCE_THREE", instances[2].to_string())
            .kill_on_drop(true)
            .spawn()
            .expect("haproxy runs (Debian's `haproxy` package; `.ci/provision` installs it)");
        kit::within(
            WAIT,
            async {
                while TcpStream::connect(addr).await.is_err() {
                    tokio::time::sleep(Duration::from_millis(20)).await;
                }
            },
            "HAProxy to listen",
        )
        .await;
        let balancer = Balancer {
            addr,
            stats,
            _child: child,
            _dir: dir,
        };
        for name in ["one", "two", "three"] {
            balancer.wait_status(name, "UP").await;
        }
        balancer
    }

    fn url(&self, path_and_query: &str) -> String {
        format!("http://{}{path_and_query}", self.addr)
    }

    /// The status HAProxy's health checks give `server` (`UP`, `DOWN`, `UP 1/2`...).
    async fn status(&self, server: &str) -> String {
        let Ok(response) = reqwest::get(format!("http://{}/stats;csv", self.stats)).await else {
            return String::new();
        };
        let csv = response.text().await.unwrap_or_default();
        csv.lines()
            .map(|line| line.split(',').collect::<Vec<_>>())
            .find(|fields| fields.len() > 17 && fields[0] == "instances" && fields[1] == server)
            .map(|fields| fields[17].to_owned())
            .unwrap_or_default()
    }

    async fn wait_status(&self, server: &str, wanted: &str) {
        kit::within(
            WAIT,
            async {
                while self.status(server).await != wanted {
                    tokio::time::sleep(Duration::from_millis(50)).await;
                }
            },
            &format!("HAProxy to see instance {server} {wanted}"),
        )
        .await;
    }
}

/// The chapter 5 server as a process on `addr`, with `args`.
async fn instance(addr: SocketAddr, args: &[&str]) -> ServerProcess {
    let mut command = Command::new(env!("CARGO_BIN_EXE_solution-05-production"));
    command
        .args(["--addr", &addr.to_string()])
        .args(args)
        .env_remove("REDIS_URL")
        .env_remove("JWT_SECRET");
    ServerProcess::spawn(command, Duration::from_secs(20))
        .await
        .unwrap_or_else(|e| panic!("the chapter 5 server did not start on {addr}: {e}"))
}

async fn three_instances(args: &[&str]) -> Vec<ServerProcess> {
    let mut instances = Vec::new();
    for _ in 0..3 {
        instances.push(instance(free_addr(), args).await);
    }
    instances
}

fn addrs(instances: &[ServerProcess]) -> [SocketAddr; 3] {
    [
        instances[0].addr(),
        instances[1].addr(),
        instances[2].addr(),
    ]
}

// ------------------------------------------------------------------ sticky sessions

/// One long-polling exchange: the status, the body and the cookie HAProxy set, if any.
async fn poll(
    request: reqwest::RequestBuilder,
    cookie: Option<&str>,
) -> (u16, String, Option<String>) {
    let request = match cookie {
        Some(cookie) => request.header("cookie", cookie),
        None => request,
    };
    let response = kit::within(WAIT, request.send(), "a polling request")
        .await
        .expect("HAProxy answers");
    let status = response.status().as_u16();
    let cookie = response
        .headers()
        .get("set-cookie")
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.split(';').next())
        .map(str::to_owned);
    (status, response.text().await.unwrap_or_default(), cookie)
}

/// Opens an Engine.IO polling session and CONNECTs to `/`, then joins three rooms, one
/// request at a time; gives every (status, body) after the handshake.
async fn polling_session(balancer: &Balancer, keep_cookie: bool) -> Vec<(u16, String)> {
    let http = reqwest::Client::new();
    let base = "/socket.io/?EIO=4&transport=polling";
    let (status, body, cookie) = poll(http.get(balancer.url(base)), None).await;
    assert_eq!(status, 200, "the handshake through HAProxy: {body}");
    let open: Value = serde_json::from_str(body.strip_prefix('0').expect("an open packet"))
        .expect("JSON in the open packet");
    let sid = open["sid"].as_str().expect("a sid");
    let cookie = cookie.filter(|_| keep_cookie);
    let url = balancer.url(&format!("{base}&sid={sid}"));
    let mut answers = Vec::new();
    let mut exchange = async |body: String| {
        let (status, text, _) = poll(http.post(&url).body(body), cookie.as_deref()).await;
        answers.push((status, text));
        if status != 200 {
            return;
        }
        let (status, text, _) = poll(http.get(&url), cookie.as_deref()).await;
        answers.push((status, text));
    };
    exchange("40".to_owned()).await;
    for (id, room) in ["r1", "r2", "r3"].into_iter().enumerate() {
        exchange(format!("42{id}[\"join\",\"{room}\"]")).await;
    }
    answers
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn long_polling_works_through_the_sticky_balancer_and_fails_without_stickiness() {
    let instances = three_instances(&[]).await;
    let sticky = Balancer::start(&shipped_config(), addrs(&instances)).await;
    let answers = polling_session(&sticky, true).await;
    assert!(
        answers.iter().all(|(status, _)| *status == 200),
        "expected every polling request to reach the instance that holds the session, since \
         HAProxy's SERVERID cookie pins it there; got {answers:?} (see {DEPLOYS})"
    );
    assert!(
        answers.iter().any(|(_, body)| body.starts_with("40{"))
            && answers
                .iter()
                .filter(|(_, body)| body.starts_with("43"))
                .count()
                == 3,
        "expected the CONNECT answer and three join acks over polling; got {answers:?}"
    );
    drop(sticky);

    let round_robin =
        Balancer::start(&without_stickiness(&shipped_config()), addrs(&instances)).await;
    let answers = polling_session(&round_robin, false).await;
    assert!(
        answers
            .iter()
            .any(|(status, body)| *status == 400 && body.contains("Session ID unknown")),
        "expected, without the cookie, a request sent by round robin to an instance that never \
         saw the session, and its 400 {{\"code\":1,\"message\":\"Session ID unknown\"}}; got \
         {answers:?} (see {DEPLOYS})"
    );
}

// ------------------------------------------------------------------ rolling restart

/// What one receiver saw: the chat numbers in arrival order, and its reconnections.
#[derive(Debug, Default)]
struct Seen {
    numbers: Vec<i64>,
    reconnections: u32,
    fresh_sessions: u32,
}

/// A receiver behind the balancer, over WebSocket, that reconnects with `{pid, offset}` as
/// socket.io-client does, until `stop` turns true. Sends `()` on `ready` once in room r1.
async fn receiver(
    url: String,
    seen: Arc<Mutex<Seen>>,
    progress: Arc<Notify>,
    ready: mpsc::Sender<()>,
    mut stop: watch::Receiver<bool>,
) {
    let mut pid: Option<String> = None;
    let mut offset: Option<String> = None;
    loop {
        let Ok((mut ws, _)) = tokio_tungstenite::connect_async(url.as_str()).await else {
            // No instance could take it at that moment: a client backs off and tries again.
            tokio::time::sleep(Duration::from_millis(50)).await;
            continue;
        };
        let auth = match (&pid, &offset) {
            (Some(pid), Some(offset)) => json!({"pid": pid, "offset": offset}),
            (Some(pid), None) => json!({"pid": pid}),
            _ => json!({}),
        };
        loop {
            let frame = tokio::select! {
                frame = ws.next() => frame,
                _ = stop.changed() => return,
            };
            let Some(Ok(Message::Text(text))) = frame else {
                break;
            };
            let text = text.as_str();
            if text.starts_with('0') {
                let _ = ws.send(Message::text(format!("40{auth}"))).await;
            } else if text == "2" {
                let _ = ws.send(Message::text("3")).await;
            } else if let Some(event) = text.strip_prefix("42") {
                let args: Value = serde_json::from_str(event).expect("JSON in an event");
                let n = args[1]["n"].as_i64().expect("a numbered chat");
                seen.lock().expect("seen").numbers.push(n);
                progress.notify_waiters();
                offset = args[2].as_str().map(str::to_owned).or(offset);
            } else if let Some(answer) = text.strip_prefix("40") {
                let answer: Value = serde_json::from_str(answer).expect("JSON in CONNECT");
                let given = answer["pid"].as_str().map(str::to_owned);
                let recovered = pid.is_some() && given == pid;
                if pid.is_some() {
                    let mut seen = seen.lock().expect("seen");
                    seen.reconnections += 1;
                    seen.fresh_sessions += u32::from(!recovered);
                    progress.notify_waiters();
                }
                if !recovered {
                    // A fresh session is in no room: join again (what it missed is lost).
                    let _ = ws.send(Message::text("421[\"join\",\"r1\"]")).await;
                }
                pid = given;
            } else if text.starts_with("431") {
                let _ = ready.try_send(());
            }
        }
    }
}

/// Emits `chat` to r1 from a client of `addr` every 200 ms while `sending`, then five more
/// (and at least 10 in all), numbered from 0; gives how many. Chapter 4's rate limit allows
/// 10 a second.
async fn emit_until(addr: SocketAddr, sending: Arc<AtomicBool>) -> i64 {
    let url = format!("ws://{addr}/socket.io/?EIO=4&transport=websocket");
    let (mut ws, _) = tokio_tungstenite::connect_async(url)
        .await
        .expect("the sender connects");
    let _open = ws.next().await;
    ws.send(Message::text("40")).await.expect("CONNECT sent");
    let connected = ws.next().await;
    assert!(
        matches!(&connected, Some(Ok(Message::Text(t))) if t.starts_with("40{")),
        "expected the sender's CONNECT answer, got {connected:?}"
    );
    let mut n = 0;
    // Five more once the restarts are over: they reach every receiver at its last instance.
    let mut after = 0;
    while n < 10 || after < 5 {
        if !sending.load(Ordering::SeqCst) {
            after += 1;
        }
        let chat = format!("42[\"chat\",{{\"room\":\"r1\",\"n\":{n}}}]");
        ws.send(Message::text(chat)).await.expect("a chat sent");
        n += 1;
        tokio::time::sleep(Duration::from_millis(200)).await;
    }
    n
}

/// Six receivers behind `balancer` in room r1, and a sender on `sender` (outside it) chatting
/// every 200 ms while `disrupt` runs, then five more. Every receiver must recover each time it
/// reconnects, and get every chat exactly once; each one must have reconnected if
/// `all_reconnect`, at least one of them otherwise.
async fn chats_survive(
    balancer: &Balancer,
    sender: SocketAddr,
    all_reconnect: bool,
    disrupt: impl AsyncFnOnce(),
) {
    const RECEIVERS: usize = 6;
    let (ready_tx, mut ready) = mpsc::channel(RECEIVERS);
    let (stop_tx, stop) = watch::channel(false);
    let url = format!(
        "ws://{}/socket.io/?EIO=4&transport=websocket",
        balancer.addr
    );
    let progress = Arc::new(Notify::new());
    let seen: Vec<Arc<Mutex<Seen>>> = (0..RECEIVERS).map(|_| Arc::default()).collect();
    let receivers: Vec<_> = seen
        .iter()
        .map(|seen| {
            let task = receiver(
                url.clone(),
                seen.clone(),
                progress.clone(),
                ready_tx.clone(),
                stop.clone(),
            );
            tokio::spawn(task)
        })
        .collect();
    for _ in 0..RECEIVERS {
        kit::within(WAIT, ready.recv(), "every receiver in room r1").await;
    }

    let sending = Arc::new(AtomicBool::new(true));
    let emitter = tokio::spawn(emit_until(sender, sending.clone()));
    disrupt().await;
    sending.store(false, Ordering::SeqCst);
    let sent = kit::within(WAIT, emitter, "the sender to finish")
        .await
        .expect("the sender ran");

    let everything: Vec<i64> = (0..sent).collect();
    let reconnected = |s: &Seen| s.reconnections >= 1;
    let all_arrived = kit::within_or(
        WAIT,
        async {
            loop {
                // Registered before the check: a change made meanwhile still wakes it.
                let changed = progress.notified();
                let seen: Vec<_> = seen.iter().map(|s| s.lock().expect("seen")).collect();
                let complete = seen.iter().all(|s| s.numbers.len() >= everything.len());
                let reconnections = if all_reconnect {
                    seen.iter().all(|s| reconnected(s))
                } else {
                    seen.iter().any(|s| reconnected(s))
                };
                if complete && reconnections {
                    break;
                }
                drop(seen);
                changed.await;
            }
        },
        "every receiver to have every chat, after its reconnections",
    )
    .await;
    let _ = stop_tx.send(true);
    for task in receivers {
        let _ = kit::within(WAIT, task, "a receiver to stop").await;
    }
    let seen: Vec<_> = seen.iter().map(|s| s.lock().expect("seen")).collect();
    assert!(
        seen.iter().any(|s| reconnected(s)),
        "expected the receivers of the stopped instance to reconnect; none did (see {DEPLOYS})"
    );
    for (index, seen) in seen.iter().enumerate() {
        let mut numbers = seen.numbers.clone();
        numbers.sort_unstable();
        assert!(
            (reconnected(seen) || !all_reconnect) && seen.fresh_sessions == 0,
            "expected receiver {index} to reconnect when its instance stopped and to recover \
             every time; it reconnected {} time(s), {} of them to a fresh session (see {DEPLOYS})",
            seen.reconnections,
            seen.fresh_sessions
        );
        assert_eq!(
            numbers, everything,
            "expected receiver {index} to get each of the {sent} chats exactly once, across its \
             reconnections ({all_arrived:?}); it got {:?} in that order (see {DEPLOYS})",
            seen.numbers
        );
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_rolling_restart_behind_the_balancer_loses_no_recoverable_message() {
    let redis = kit::redis::redis_for_test().await;
    let args = ["--redis", redis.url(), "--drain-notice-ms", "1000"];
    let mut instances = three_instances(&args).await;
    let balancer = Balancer::start(&shipped_config(), addrs(&instances)).await;
    // The sender's instance is a fourth one, outside the balancer: it is never restarted.
    let sender = instance(free_addr(), &args).await;
    chats_survive(&balancer, sender.addr(), true, async || {
        for (index, name) in ["one", "two", "three"].into_iter().enumerate() {
            let addr = instances[index].addr();
            terminate(&mut instances[index]).await;
            instances[index] = instance(addr, &args).await;
            balancer.wait_status(name, "UP").await;
        }
    })
    .await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_instance_killed_behind_the_balancer_loses_no_recoverable_message() {
    let redis = kit::redis::redis_for_test().await;
    let args = ["--redis", redis.url()];
    let mut instances = three_instances(&args).await;
    let balancer = Balancer::start(&shipped_config(), addrs(&instances)).await;
    let sender = instance(free_addr(), &args).await;
    chats_survive(&balancer, sender.addr(), false, async || {
        // SIGKILL: no drain, no goodbye, nothing saved at the end. Its clients recover only
        // because their sessions were in Redis while they were connected.
        let killed = instances[0].child_mut().kill().await;
        killed.expect("the instance killed");
        balancer.wait_status("one", "DOWN").await;
    })
    .await;
}

/// Sends SIGTERM, as a deploy does, and waits for the instance to have left.
async fn terminate(server: &mut ServerProcess) {
    server
        .terminate(Duration::from_secs(15))
        .await
        .unwrap_or_else(|e| panic!("the instance did not leave after SIGTERM: {e}"));
}
