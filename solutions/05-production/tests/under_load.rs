//! Chapter 5's server under load, over the network: what the graded tests check with one or
//! five clients, checked with a crowd and a steady stream of chats.
//!
//! - A stalled client among 200 readers must not slow them down, and must be dropped with the
//!   reason "transport buffer full" (book/src/05-production/backpressure.md).
//! - An instance shut down while chats flow must lose nothing its clients can recover: each
//!   one comes back on the other instance with its session and every chat, once, in order
//!   (book/src/05-production/deploys.md, recovery.md).
//!
//! The clients are raw Socket.IO v5 over Engine.IO v4 WebSockets, frames written by hand as in
//! the lab's tests (`labs/05-production/tests/production.rs`), so what is checked is what a
//! client sees on the wire. The servers run in this process, on 127.0.0.1, port 0.

use std::net::SocketAddr;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use futures_util::{SinkExt, StreamExt};
use production::{Settings, StoreKind};
use serde_json::{Value, json};
use tokio::net::TcpStream;
use tokio::sync::{Notify, mpsc, watch};
use tokio::task::JoinSet;
use tokio_tungstenite::tungstenite::Message;
use tokio_tungstenite::{MaybeTlsStream, WebSocketStream};

const BACKPRESSURE: &str = "book/src/05-production/backpressure.md";
const LOAD_TESTING: &str = "book/src/05-production/load-testing.md";
const RECOVERY: &str = "book/src/05-production/recovery.md";
const DEPLOYS: &str = "book/src/05-production/deploys.md";

/// How long any one step may take before the test fails saying what it waited for.
const WAIT: Duration = Duration::from_secs(5);
/// The room every chat of these tests goes to.
const ROOM: &str = "load";

/// The two tests take turns: side by side on a two-core machine, the shutdown test's clients
/// and Redis would land in the latency test's samples, and the comparison would measure them.
static TURN: tokio::sync::Mutex<()> = tokio::sync::Mutex::const_new(());

// ------------------------------------------------------------------ a stalled client

/// Readers in the room.
const READERS: usize = 200;
/// The sender's schedule: 50 chats a second.
const PERIOD: Duration = Duration::from_millis(20);
/// Chats in a measured run: three seconds of the schedule, 30,000 deliveries.
const CHATS: u64 = 150;
/// Chats of the warm-up run, not measured (first allocations, TCP windows opening).
const WARM_UP: u64 = 25;
/// The padding of each chat: a steady stream of 100 KB/s per reader.
const PAD: usize = 2 * 1024;
/// What the stalled client is also sent on each tick, to it alone: loopback's kernel buffers
/// hold megabytes (the server's send buffer grows to about 2.5 MiB with a 64 KiB MSS), which
/// the room's stream alone would take many seconds to fill. With this, its queue on the
/// server starts growing within the first second of the run.
const BULK: usize = 64 * 1024;
/// How long a packet may wait in a client's queue: short, so that the stalled client is dropped
/// during the run, long enough that a reader on a busy machine is not.
const MAX_WAIT: Duration = Duration::from_millis(500);
/// The least room the p99 comparison leaves (see the assertion).
const NOISE_FLOOR: Duration = Duration::from_millis(5);

/// Two runs of 50 chats a second to 200 readers on one server: a baseline, then the same with
/// one more member of the room that never reads. A broadcast never waits for a client
/// (chapter 2's queue), so the readers' p99 must not move; the stalled client must be dropped
/// once its oldest packet waited `max_wait`, and the server must say why.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_stalled_client_among_200_readers_does_not_slow_them_and_is_dropped_with_a_reason() {
    let _turn = TURN.lock().await;
    let server = Instance::start(Settings {
        max_wait: MAX_WAIT,
        ..crowd_settings()
    })
    .await;
    let epoch = Instant::now();
    let (seen_tx, mut seen) = mpsc::unbounded_channel();
    let mut readers = JoinSet::new();
    let joined: Vec<Client> = futures_util::stream::iter(0..READERS)
        .map(|_| async {
            let mut client = Client::connect(server.addr(), json!({})).await;
            client.join(ROOM).await;
            client
        })
        .buffer_unordered(20)
        .collect()
        .await;
    for (index, client) in joined.into_iter().enumerate() {
        readers.spawn(read_chats(index, client, epoch, seen_tx.clone()));
    }
    let mut sender = Client::connect(server.addr(), json!({})).await;

    let warm_up = load_run(&mut sender, &mut seen, epoch, 0, WARM_UP).await;
    warm_up
        .assert_every_chat_once("the warm-up run", &server)
        .await;
    let baseline = load_run(&mut sender, &mut seen, epoch, 1, CHATS).await;
    baseline
        .assert_every_chat_once("the baseline run", &server)
        .await;

    // Joins the room, then is never polled again: nothing reads its socket (a 4 KiB receive
    // buffer), the server's send buffer fills, then its queue on the server.
    let mut stalled = Client::connect_stalling(server.addr()).await;
    stalled.join(ROOM).await;
    let stalled_sid = stalled.sid.clone();
    let bulk = tokio::spawn(bulk_to(server.namespace(), stalled_sid.clone()));
    let loaded = load_run(&mut sender, &mut seen, epoch, 2, CHATS).await;
    bulk.abort();
    loaded
        .assert_every_chat_once("the run with a stalled client", &server)
        .await;

    let (base, with_stalled) = (baseline.p99(), loaded.p99());
    println!(
        "p99 of {} deliveries: baseline {base:?}, with a stalled client {with_stalled:?}",
        loaded.latencies.len()
    );
    // On loopback a p99 is a few milliseconds, and on two cores shared by the server and 201
    // clients one preempted worker (a scheduler tick is 4 ms at 250 Hz) moves it by as much:
    // below a few milliseconds "twice the baseline" is noise, not an effect. The floor keeps
    // what the test is for: a server that waited for the stalled client would add its send
    // buffer's drain time to every delivery after it, which is seconds, not milliseconds.
    let allowed = (base * 2).max(base + NOISE_FLOOR);
    assert!(
        with_stalled <= allowed,
        "expected the readers' p99 with a stalled member of the room to stay within \
         max(2 x baseline, baseline + {NOISE_FLOOR:?}) = {allowed:?}, since a broadcast only \
         pushes on each client's queue and never waits for one; it was {with_stalled:?} against \
         a baseline of {base:?} (latency from the instant each chat was due, see \
         {LOAD_TESTING}; why a broadcast never waits: {BACKPRESSURE})"
    );

    // Pushes happen only while chats flow: the drop happened during the run, or never. Read
    // the stalled socket again: what the kernel held, what its queue held, then the end.
    let ended = kit::within_or(
        WAIT,
        async { while stalled.next().await.is_some() {} },
        "the stalled client's connection to end",
    )
    .await;
    assert!(
        ended.is_ok(),
        "expected the server to have closed the connection of a client that stopped reading \
         while 66 KiB a tick came to it 50 times a second (its queue past a bound: its oldest \
         packet waiting more than max_wait, {MAX_WAIT:?}, or more than 1 MiB queued); it was \
         still open {WAIT:?} after the client read again (see {BACKPRESSURE})"
    );
    let metrics = server.metrics().await;
    let dropped = disconnects(&metrics, production::slow_clients::TOO_SLOW);
    assert_eq!(
        dropped,
        1,
        "expected /metrics to count exactly one socket that left `/` with the reason \
         \"transport buffer full\" (the stalled client), and none of the {READERS} readers; \
         its disconnects are:\n{} (see {BACKPRESSURE})",
        disconnect_lines(&metrics)
    );
    assert!(
        server.namespace().socket(&stalled_sid).is_none(),
        "expected the stalled client's socket {stalled_sid} gone from `/` after its drop (see \
         {BACKPRESSURE})"
    );
    assert_eq!(
        server.memory().sessions(),
        1,
        "expected the session of the client dropped as too slow (\"transport buffer full\") \
         kept for its recovery, and no other (see {BACKPRESSURE}, \"Dropped, not forgotten\")"
    );
}

/// Emits [`BULK`] bytes to socket `sid` alone every [`PERIOD`], while it is connected.
async fn bulk_to(namespace: Arc<socketio::Namespace>, sid: String) {
    let pad = "b".repeat(BULK);
    let mut ticks = tokio::time::interval(PERIOD);
    while namespace.socket(&sid).is_some() {
        ticks.tick().await;
        namespace
            .to(sid.as_str())
            .emit("bulk", vec![json!({ "pad": pad })]);
    }
}

/// What one reader reports to the test.
enum Seen {
    Chat {
        reader: usize,
        run: u64,
        seq: u64,
        /// From the instant the chat was due to its arrival, in nanoseconds.
        latency: u64,
    },
    Closed {
        reader: usize,
    },
}

/// Reads chats until the connection ends, stamping each one as it arrives.
async fn read_chats(
    reader: usize,
    mut client: Client,
    epoch: Instant,
    seen: mpsc::UnboundedSender<Seen>,
) {
    while let Some(frame) = client.next().await {
        let arrived = epoch.elapsed().as_nanos() as u64;
        let Some(event) = frame.strip_prefix("42") else {
            continue;
        };
        let event: Value = serde_json::from_str(event).expect("JSON in an event");
        let chat = &event[1];
        if let (Some(run), Some(seq), Some(due)) = (
            chat["run"].as_u64(),
            chat["seq"].as_u64(),
            chat["due"].as_u64(),
        ) {
            let latency = arrived.saturating_sub(due);
            let _ = seen.send(Seen::Chat {
                reader,
                run,
                seq,
                latency,
            });
        }
    }
    let _ = seen.send(Seen::Closed { reader });
}

/// What the readers got in one run.
struct RunOutcome {
    chats: u64,
    /// Per reader, the sequence numbers of this run in arrival order.
    seqs: Vec<Vec<u64>>,
    latencies: Vec<u64>,
    /// Readers whose connection ended.
    closed: Vec<usize>,
    /// Chats of an earlier run, arrived during this one: duplicates or very late.
    strays: usize,
    timed_out: bool,
}

impl RunOutcome {
    /// Nearest-rank p99 of the run's latencies.
    fn p99(&self) -> Duration {
        let mut sorted = self.latencies.clone();
        sorted.sort_unstable();
        let rank = (sorted.len() as f64 * 0.99).ceil() as usize;
        Duration::from_nanos(sorted[rank.clamp(1, sorted.len()) - 1])
    }

    async fn assert_every_chat_once(&self, run: &str, server: &Instance) {
        let everything: Vec<u64> = (0..self.chats).collect();
        let wrong: Vec<(usize, usize)> = self
            .seqs
            .iter()
            .enumerate()
            .filter(|(_, seqs)| {
                let mut sorted = (*seqs).clone();
                sorted.sort_unstable();
                sorted != everything
            })
            .map(|(reader, seqs)| (reader, seqs.len()))
            .collect();
        if wrong.is_empty() && self.closed.is_empty() && self.strays == 0 && !self.timed_out {
            return;
        }
        let metrics = server.metrics().await;
        panic!(
            "in {run}, expected each of the {READERS} readers to get each of the {} chats \
             exactly once, and to stay connected; {} reader(s) got something else (reader, \
             chats received): {:?}; readers disconnected: {:?}; chats of an earlier run \
             arriving late: {}; timed out: {}. The server's disconnects:\n{}\n(a reader that \
             keeps up must not be dropped, see {BACKPRESSURE})",
            self.chats,
            wrong.len(),
            &wrong[..wrong.len().min(10)],
            self.closed,
            self.strays,
            self.timed_out,
            disconnect_lines(&metrics)
        );
    }
}

/// Sends run `run` (`chats` chats, one every [`PERIOD`]) and collects what the readers got.
async fn load_run(
    sender: &mut Client,
    seen: &mut mpsc::UnboundedReceiver<Seen>,
    epoch: Instant,
    run: u64,
    chats: u64,
) -> RunOutcome {
    let mut outcome = RunOutcome {
        chats,
        seqs: vec![Vec::new(); READERS],
        latencies: Vec::with_capacity(READERS * chats as usize),
        closed: Vec::new(),
        strays: 0,
        timed_out: false,
    };
    let send = send_run(sender, epoch, run, chats);
    let collect = kit::within_or(
        PERIOD * chats as u32 + WAIT,
        async {
            let mut complete = 0;
            while complete < READERS && outcome.closed.is_empty() {
                match seen.recv().await {
                    Some(Seen::Chat {
                        reader,
                        run: of,
                        seq,
                        latency,
                    }) if of == run => {
                        outcome.seqs[reader].push(seq);
                        outcome.latencies.push(latency);
                        complete += usize::from(outcome.seqs[reader].len() == chats as usize);
                    }
                    Some(Seen::Chat { .. }) => outcome.strays += 1,
                    Some(Seen::Closed { reader }) => outcome.closed.push(reader),
                    None => break,
                }
            }
        },
        "every reader to get every chat of the run",
    );
    let ((), collected) = tokio::join!(send, collect);
    outcome.timed_out = collected.is_err();
    outcome
}

/// An open-loop sender: chat `seq` is due at `start + seq x PERIOD`, and carries that instant,
/// not the one it left at. A sender held up sends its late chats at once (the interval's
/// default `Burst`), and each carries its lateness into the latency measured: no coordinated
/// omission (see book/src/05-production/load-testing.md).
async fn send_run(sender: &mut Client, epoch: Instant, run: u64, chats: u64) {
    let pad = "x".repeat(PAD);
    let start = tokio::time::Instant::now();
    let mut ticks = tokio::time::interval_at(start, PERIOD);
    let start = start.into_std().duration_since(epoch);
    for seq in 0..chats {
        ticks.tick().await;
        let due = (start + PERIOD * seq as u32).as_nanos() as u64;
        // `pad`, not `text`: chapter 4 refuses a `text` over 500 characters.
        sender
            .send(format!(
                r#"42["chat",{{"room":"{ROOM}","run":{run},"seq":{seq},"due":{due},"pad":"{pad}"}}]"#
            ))
            .await;
    }
}

/// The value of `socket_io_disconnect_total{namespace="/",reason="<reason>"}`, 0 if absent.
fn disconnects(metrics: &str, reason: &str) -> u64 {
    let series = format!("socket_io_disconnect_total{{namespace=\"/\",reason=\"{reason}\"}} ");
    metrics
        .lines()
        .find_map(|line| line.strip_prefix(&series))
        .and_then(|value| value.trim().parse::<f64>().ok())
        .map_or(0, |value| value as u64)
}

/// Every `socket_io_disconnect_total` sample, for failure messages.
fn disconnect_lines(metrics: &str) -> String {
    let lines: Vec<&str> = metrics
        .lines()
        .filter(|line| line.starts_with("socket_io_disconnect_total{"))
        .collect();
    if lines.is_empty() {
        "(none)".to_owned()
    } else {
        lines.join("\n")
    }
}

// ------------------------------------------------------------------ a shutdown under load

/// Clients on the instance that leaves.
const LISTENERS: usize = 30;
/// Chats every listener has before the instance leaves: mid-stream.
const BEFORE_LEAVING: usize = 10;
/// A listener that lost its instance waits for this many more chats to be sent before it
/// reconnects: a client backs off (socket.io-client about a second; 100 ms here), so that it
/// misses chats and the replay is exercised, not only the live stream.
const BACKOFF_CHATS: u64 = 5;
/// Chats sent once every listener is back: the live stream after the recovery.
const AFTER_RECOVERY: u64 = 10;

/// Two instances on one Redis (the Redis store and adapter); 30 clients on A in a room, a
/// sender on B chatting every 20 ms. A leaves mid-stream, gracefully; each client reconnects
/// to B with its `pid` and last `offset`, and must get its socket id back, the chats it missed
/// replayed, then the live stream: every chat exactly once, in order.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_instance_shut_down_under_load_loses_nothing_recoverable() {
    let _turn = TURN.lock().await;
    let redis = kit::redis::redis_for_test().await;
    // A key of its own: with REDIS_URL, a shared server keeps the streams of earlier runs.
    let key = format!("under-load-{}-{}", std::process::id(), random_suffix());
    let leaving = Instance::start(cluster_settings(&redis, &key)).await;
    let staying = Instance::start(cluster_settings(&redis, &key)).await;

    let (sent_tx, sent) = watch::channel(0_u64);
    let (stop_tx, stop) = watch::channel(false);
    let progress = Arc::new(Notify::new());
    let crowd: Vec<Arc<Mutex<Listened>>> = (0..LISTENERS).map(|_| Arc::default()).collect();
    let mut listeners = JoinSet::new();
    for listened in &crowd {
        let mut client = Client::connect(leaving.addr(), json!({})).await;
        client.join(ROOM).await;
        listeners.spawn(listen(
            client,
            staying.addr(),
            listened.clone(),
            progress.clone(),
            sent.clone(),
        ));
    }
    let sender = Client::connect(staying.addr(), json!({})).await;
    let sending = tokio::spawn(chat_until(sender, sent_tx, stop));

    kit::within(
        WAIT,
        crowd_reaches(&crowd, &progress, |l| l.numbers.len() >= BEFORE_LEAVING),
        "every listener to get its first chats",
    )
    .await;
    let server = leaving.server.clone();
    let left = tokio::spawn(async move { server.leave().await });
    kit::within(
        WAIT,
        crowd_reaches(&crowd, &progress, |l| l.back.is_some()),
        "every listener to be back on B",
    )
    .await;
    let mut after = sent.clone();
    let back_at = *after.borrow();
    kit::within(
        WAIT,
        after.wait_for(|n| *n >= back_at + AFTER_RECOVERY),
        "the sender's chats after the recovery",
    )
    .await
    .expect("the sender runs");
    let _ = stop_tx.send(true);
    let total = kit::within(WAIT, sending, "the sender to stop")
        .await
        .expect("the sender ran");
    let report = kit::within(WAIT, left, "A's leave() to return")
        .await
        .expect("leave() ran");
    let arrived = kit::within_or(
        WAIT,
        crowd_reaches(&crowd, &progress, |l| l.numbers.len() as u64 >= total),
        "every listener to get every chat",
    )
    .await;

    assert_eq!(
        report.closed_sessions, LISTENERS,
        "expected A's shutdown to close the {LISTENERS} sessions it held, with \"server \
         shutting down\" (see {DEPLOYS})"
    );
    let everything: Vec<i64> = (0..total as i64).collect();
    let mut replayed = 0;
    for (index, listened) in crowd.iter().enumerate() {
        let listened = listened.lock().expect("listened");
        let back = listened.back.as_ref().expect("every listener came back");
        assert!(
            back.sid == listened.sid && back.pid_kept,
            "expected listener {index} to recover on B: the CONNECT answer to \
             `40{{\"pid\":...,\"offset\":...}}` giving back its sid {} and its pid; it got sid \
             {} and {} pid (see {RECOVERY}, \"In Redis\")",
            listened.sid,
            back.sid,
            if back.pid_kept { "the same" } else { "another" }
        );
        assert_eq!(
            listened.numbers, everything,
            "expected listener {index} to get each of the {total} chats exactly once and in \
             order, across A's shutdown: those before it live from A, those it missed replayed \
             by B ({} of them), the rest live from B ({arrived:?}); it got this sequence (see \
             {DEPLOYS}, \"Leaving in order\")",
            back.replayed
        );
        replayed += back.replayed;
    }
    assert!(
        replayed > 0,
        "expected some of the chats sent while the listeners backed off to be replayed before \
         the CONNECT answer; none were, so this test did not exercise the replay (see \
         {RECOVERY})"
    );
}

/// What one listener saw.
#[derive(Default)]
struct Listened {
    /// Its socket id on A.
    sid: String,
    /// Chat numbers in arrival order, replayed ones included.
    numbers: Vec<i64>,
    back: Option<Back>,
}

/// How a listener came back on B.
struct Back {
    sid: String,
    /// Whether the CONNECT answer gave back the pid it presented (socket.io's `recovered`).
    pid_kept: bool,
    /// Chats written before the CONNECT answer.
    replayed: usize,
}

/// A listener: reads A until A closes it, backs off, reconnects to B with `{pid, offset}` as
/// socket.io-client does, then reads B.
async fn listen(
    mut client: Client,
    staying: SocketAddr,
    listened: Arc<Mutex<Listened>>,
    progress: Arc<Notify>,
    mut sent: watch::Receiver<u64>,
) {
    let pid = client
        .pid
        .clone()
        .unwrap_or_else(|| panic!("expected a `pid` in the CONNECT answer (see {RECOVERY})"));
    listened.lock().expect("listened").sid = client.sid.clone();
    let mut offset = None;
    while let Some(frame) = client.next().await {
        if let Some(event) = frame.strip_prefix("42") {
            offset = Some(record_chat(&listened, &progress, event));
        }
    }
    let noticed = *sent.borrow();
    kit::within(
        WAIT,
        sent.wait_for(|n| *n >= noticed + BACKOFF_CHATS),
        "the chats sent while a listener backs off",
    )
    .await
    .expect("the sender runs");
    let auth = match offset {
        Some(offset) => json!({"pid": pid, "offset": offset}),
        None => json!({"pid": pid}),
    };
    let mut client = Client::connect(staying, auth).await;
    let replayed = client.missed.len();
    for event in std::mem::take(&mut client.missed) {
        record_chat(&listened, &progress, &event.to_string());
    }
    listened.lock().expect("listened").back = Some(Back {
        sid: client.sid.clone(),
        pid_kept: client.pid.as_deref() == Some(pid.as_str()),
        replayed,
    });
    progress.notify_waiters();
    // Until the test ends (the JoinSet's drop aborts it): the last chats are still on the way
    // when the sender stops.
    while let Some(frame) = client.next().await {
        if let Some(event) = frame.strip_prefix("42") {
            record_chat(&listened, &progress, event);
        }
    }
}

/// Records chat `["chat", {"n": n, ...}, offset]`; gives its offset.
fn record_chat(listened: &Mutex<Listened>, progress: &Notify, event: &str) -> String {
    let event: Value = serde_json::from_str(event).expect("JSON in an event");
    let n = event[1]["n"]
        .as_i64()
        .unwrap_or_else(|| panic!("expected [\"chat\", {{\"n\": N}}, offset], got {event}"));
    let offset = event[2].as_str().unwrap_or_else(|| {
        panic!("expected a recorded chat to end with its offset, got {event} (see {RECOVERY})")
    });
    listened.lock().expect("listened").numbers.push(n);
    progress.notify_waiters();
    offset.to_owned()
}

/// Chats `{"room": ROOM, "n": n}` every [`PERIOD`] until `stop`; gives how many it sent.
async fn chat_until(
    mut sender: Client,
    sent: watch::Sender<u64>,
    mut stop: watch::Receiver<bool>,
) -> u64 {
    let mut ticks = tokio::time::interval(PERIOD);
    let mut n = 0;
    loop {
        tokio::select! {
            _ = ticks.tick() => {}
            _ = stop.changed() => return n,
        }
        sender
            .send(format!(r#"42["chat",{{"room":"{ROOM}","n":{n}}}]"#))
            .await;
        n += 1;
        sent.send_replace(n);
    }
}

/// Resolves once `done` holds for every listener, woken by each change; the caller bounds it.
async fn crowd_reaches(
    crowd: &[Arc<Mutex<Listened>>],
    progress: &Notify,
    done: impl Fn(&Listened) -> bool,
) {
    loop {
        // Registered before the check: a change made meanwhile still wakes it.
        let changed = progress.notified();
        if crowd.iter().all(|l| done(&l.lock().expect("listened"))) {
            return;
        }
        changed.await;
    }
}

fn random_suffix() -> u128 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map_or(0, |d| d.as_nanos())
}

// ------------------------------------------------------------------ servers and clients

/// Chapter 5 as shipped, with chapter 4's per-address limits opened: every client of these
/// tests comes from 127.0.0.1, so the handshake cap (20 a second), the sockets per address
/// (100) and the event bucket (10 a second, per address without a token) would throttle the
/// test, not a user.
fn crowd_settings() -> Settings {
    let mut settings = Settings::default();
    settings.security.handshakes_per_second = 10_000;
    settings.security.connections_per_address = 10_000;
    settings.security.rate = security::bucket::Rate {
        burst: 100_000.0,
        per_second: 100_000.0,
    };
    settings
}

/// The Redis store and adapter, `key` as the cluster's prefix.
fn cluster_settings(redis: &kit::redis::RedisServer, key: &str) -> Settings {
    let mut settings = crowd_settings();
    settings.store = StoreKind::Redis;
    settings.security.redis = Some(redis.client());
    settings.security.key = key.to_owned();
    settings
}

/// A chapter 5 server in this process, served on 127.0.0.1:0 with the peers' addresses.
struct Instance {
    server: Arc<production::Server>,
    http: kit::TestServer,
}

impl Instance {
    async fn start(settings: Settings) -> Instance {
        let server = production::start(settings)
            .await
            .unwrap_or_else(|e| panic!("the chapter 5 server did not start: {e}"));
        let router = server.router.clone();
        let http = kit::TestServer::start_with(|listener| async move {
            let app = router.into_make_service_with_connect_info::<SocketAddr>();
            axum::serve(listener, app).await.expect("serving");
        })
        .await;
        Instance {
            server: Arc::new(server),
            http,
        }
    }

    fn addr(&self) -> SocketAddr {
        self.http.addr()
    }

    fn namespace(&self) -> Arc<socketio::Namespace> {
        self.server.io.of("/").expect("the namespace `/`")
    }

    fn memory(&self) -> &production::memory_store::MemoryStore {
        self.server.memory.as_ref().expect("the memory store")
    }

    /// `GET /metrics` (chapter 4's Prometheus text).
    async fn metrics(&self) -> String {
        let response = kit::within(WAIT, reqwest::get(self.http.url("/metrics")), "/metrics")
            .await
            .expect("/metrics answers");
        response.text().await.expect("the text of /metrics")
    }
}

type Ws = WebSocketStream<MaybeTlsStream<TcpStream>>;

/// A raw Socket.IO client on `/`, over one WebSocket: `0{...}` read, `40` sent, `40{...}` read;
/// it answers every ping `2` with `3` while it is read.
struct Client {
    ws: Ws,
    sid: String,
    pid: Option<String>,
    /// Events written before the CONNECT answer (a recovery's replay), as arrays.
    missed: Vec<Value>,
}

impl Client {
    /// Opens a WebSocket to `addr` and CONNECTs to `/` with `auth`.
    async fn connect(addr: SocketAddr, auth: Value) -> Client {
        let tcp = kit::within(WAIT, TcpStream::connect(addr), "the TCP connect")
            .await
            .unwrap_or_else(|e| panic!("could not connect to {addr}: {e}"));
        Client::connect_over(tcp, addr, auth).await
    }

    /// Like [`Client::connect`], on a socket whose receive buffer is 4 KiB: once its reader
    /// stops, the server's writes block within a few packets.
    async fn connect_stalling(addr: SocketAddr) -> Client {
        let socket = tokio::net::TcpSocket::new_v4().expect("a TCP socket");
        socket.set_recv_buffer_size(4096).expect("SO_RCVBUF");
        let tcp = kit::within(WAIT, socket.connect(addr), "the TCP connect")
            .await
            .unwrap_or_else(|e| panic!("could not connect to {addr}: {e}"));
        Client::connect_over(tcp, addr, json!({})).await
    }

    async fn connect_over(tcp: TcpStream, addr: SocketAddr, auth: Value) -> Client {
        let url = format!("ws://{addr}/socket.io/?EIO=4&transport=websocket");
        let (ws, _) = kit::within(
            WAIT,
            tokio_tungstenite::client_async(url.as_str(), MaybeTlsStream::Plain(tcp)),
            "the WebSocket handshake",
        )
        .await
        .unwrap_or_else(|e| panic!("the WebSocket handshake to {url} failed: {e}"));
        let mut client = Client {
            ws,
            sid: String::new(),
            pid: None,
            missed: Vec::new(),
        };
        let open = client.frame("the open packet `0{...}`").await;
        assert!(
            open.starts_with("0{"),
            "expected the open packet, got {open:?}"
        );
        client.send(format!("40{auth}")).await;
        loop {
            let frame = client.frame("the CONNECT answer `40{...}`").await;
            if let Some(event) = frame.strip_prefix("42") {
                let event = serde_json::from_str(event).expect("JSON in a replayed event");
                client.missed.push(event);
                continue;
            }
            let answer = frame.strip_prefix("40").unwrap_or_else(|| {
                panic!("expected the CONNECT answer `40{{...}}`, got {frame:?} (see {RECOVERY})")
            });
            let answer: Value = serde_json::from_str(answer).expect("JSON in the CONNECT answer");
            client.sid = answer["sid"].as_str().expect("a sid").to_owned();
            client.pid = answer["pid"].as_str().map(str::to_owned);
            return client;
        }
    }

    /// `420["join","<room>"]`, and its ack `430[true]`.
    async fn join(&mut self, room: &str) {
        self.send(format!(r#"420["join","{room}"]"#)).await;
        loop {
            let frame = self.frame("the ack of join `430[...]`").await;
            if frame.starts_with("430") {
                assert_eq!(frame, "430[true]", "expected room {room} to be joined");
                return;
            }
        }
    }

    async fn send(&mut self, text: String) {
        self.ws
            .send(Message::text(text))
            .await
            .unwrap_or_else(|e| panic!("a frame could not be sent: {e}"));
    }

    /// The next text frame within [`WAIT`]; panics if the connection ends.
    async fn frame(&mut self, what: &str) -> String {
        kit::within(WAIT, self.next(), what)
            .await
            .unwrap_or_else(|| panic!("expected {what}, but the server closed the connection"))
    }

    /// The next text frame, pings answered; `None` once the connection has ended.
    async fn next(&mut self) -> Option<String> {
        loop {
            match self.ws.next().await? {
                Ok(Message::Text(text)) if text.as_str() == "2" => {
                    let _ = self.ws.send(Message::text("3")).await;
                }
                Ok(Message::Text(text)) => return Some(text.to_string()),
                Ok(Message::Close(_)) | Err(_) => return None,
                Ok(_) => {}
            }
        }
    }
}
