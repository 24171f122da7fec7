//! `cargo xtask bench socketio`: the figures behind chapter 2's "Measuring it" table.
//!
//! N WebSocket clients connect to the chapter 2 solution, each joins one of R rooms, and S of
//! them emit `chat` to their room at a fixed rate for a fixed time. We report how long
//! connecting took, how many deliveries per second the server made, how many were lost, the
//! latency from a sender's emit to a member's receipt (p50, p99), the server's resident
//! memory per connection and its CPU time per delivery. A second scenario, on a fresh server,
//! holds many mostly idle clients (handshake, `40`, then only pongs) and reports the server's
//! resident memory per idle connection.
//!
//! Two choices keep the numbers honest:
//! - the server is a *child process* (release build), so `/proc/PID/status` gives its own RSS,
//!   not the bench's;
//! - the clients speak Engine.IO and Socket.IO frames by hand over tokio-tungstenite (open
//!   packet, `40`, pong `3` to every ping `2`, `42N["join",room]` answered by `43N[true]`),
//!   so the bench does not depend on the library it measures.
//!
//! Clients and server share the machine's CPUs: the figures are a floor for the server, and
//! the table says on which machine they were taken.

use std::path::PathBuf;
use std::process::Stdio;
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::{Duration, Instant};

use anyhow::{Context, Result, anyhow, bail, ensure};
use futures_util::{SinkExt, StreamExt};
use tokio::io::{AsyncBufReadExt, BufReader};
use tokio::sync::{Semaphore, mpsc, watch};
use tokio_tungstenite::tungstenite::Message;

use crate::{ui, workspace};

/// `cargo xtask bench socketio [--clients N] [--rooms R] [--senders S] [--rate M] [--duration SECS]`
#[derive(clap::Args, Debug, Clone)]
pub struct Args {
    /// WebSocket clients to connect; client i joins room i % rooms.
    #[arg(long, default_value_t = 1000)]
    pub clients: usize,
    /// Rooms the clients are spread over.
    #[arg(long, default_value_t = 10)]
    pub rooms: usize,
    /// Clients that also send (the first S clients, so one per room when S = R).
    #[arg(long, default_value_t = 10)]
    pub senders: usize,
    /// Messages per second per sender.
    #[arg(long, default_value_t = 50)]
    pub rate: u32,
    /// Seconds of sending.
    #[arg(long, default_value_t = 10)]
    pub duration: u64,
    /// Clients of the idle scenario (0 skips it): they connect, answer pings, and nothing else.
    #[arg(long, default_value_t = 10_000)]
    pub idle_clients: usize,
    /// Seconds the idle clients are held after connecting (the server pings every 2 s meanwhile).
    #[arg(long, default_value_t = 6)]
    pub idle_hold: u64,
    /// Measure this server binary instead of building the solution (to compare two builds).
    #[arg(long)]
    pub server: Option<PathBuf>,
    /// Print the table only; do not write book/measurements/socketio.md.
    #[arg(long)]
    pub no_write: bool,
}

/// Handshakes in flight at once: more would only overflow the listen backlog.
pub(super) const CONNECTS_IN_FLIGHT: usize = 64;
/// Any single wait of a client (handshake frame, ack).
const STEP_LIMIT: Duration = Duration::from_secs(15);
/// After the last emit, how long we wait for deliveries still in flight.
const DRAIN_LIMIT: Duration = Duration::from_secs(5);

pub fn run(args: Args) -> Result<()> {
    ensure!(
        args.clients > 0 && args.rooms > 0,
        "--clients and --rooms must be at least 1"
    );
    ensure!(
        args.senders <= args.clients,
        "--senders ({}) cannot exceed --clients ({})",
        args.senders,
        args.clients
    );
    ensure!(
        args.rate > 0 && args.duration > 0,
        "--rate and --duration must be at least 1"
    );
    raise_open_files_limit(args.clients.max(args.idle_clients))?;
    let binary = match &args.server {
        Some(path) => path.clone(),
        None => build_server()?,
    };
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()?;
    // Bounded: connecting, sending, draining, with generous room for a slow machine.
    let limit = Duration::from_secs(args.duration + 180);
    let report = runtime.block_on(async {
        tokio::time::timeout(limit, measure(&binary, &args))
            .await
            .map_err(|_| anyhow!("the bench did not finish within {limit:?}"))?
    })?;
    let idle = if args.idle_clients == 0 {
        None
    } else {
        let limit = Duration::from_secs(args.idle_hold + 240);
        Some(runtime.block_on(async {
            tokio::time::timeout(limit, super::socketio_idle::measure(&binary, &args))
                .await
                .map_err(|_| anyhow!("the idle scenario did not finish within {limit:?}"))?
        })?)
    };
    let table = report.markdown(&args, idle.as_ref());
    println!("\n{table}");
    if !args.no_write {
        let path = workspace::root().join("book/measurements/socketio.md");
        std::fs::create_dir_all(path.parent().expect("a parent"))?;
        std::fs::write(&path, &table).with_context(|| format!("writing {}", path.display()))?;
        println!("{} {}", ui::green("written:"), path.display());
    }
    Ok(())
}

/// Each connection is a file descriptor in the bench *and* in the server (which inherits our
/// limit). Raise the soft limit up to the hard one; if that is not enough, say how to fix it.
fn raise_open_files_limit(clients: usize) -> Result<()> {
    use rustix::process::{Resource, getrlimit, setrlimit};
    let needed = clients as u64 + 256;
    let limit = getrlimit(Resource::Nofile);
    let soft = limit.current.unwrap_or(u64::MAX);
    if soft >= needed {
        return Ok(());
    }
    let hard = limit.maximum.unwrap_or(u64::MAX);
    if hard < needed {
        bail!(
            "{clients} clients need about {needed} open files, but this shell allows {soft} \
             (hard limit {hard}). Raise it (e.g. `ulimit -n {needed}` as a user allowed to, or in \
             /etc/security/limits.conf), or pass a smaller --clients."
        );
    }
    let raised = rustix::process::Rlimit {
        current: Some(needed),
        maximum: limit.maximum,
    };
    setrlimit(Resource::Nofile, raised).with_context(|| {
        format!("raising the open-files limit from {soft} to {needed}: try `ulimit -n {needed}`")
    })?;
    Ok(())
}

/// `cargo build --release -p solution-02-socketio`, and the path of the binary.
fn build_server() -> Result<PathBuf> {
    ui::step("building solution-02-socketio (release)");
    let status = workspace::cargo()
        .args(["build", "--release", "-p", "solution-02-socketio"])
        .status()
        .context("running cargo build")?;
    ensure!(
        status.success(),
        "building solution-02-socketio failed: see above"
    );
    let target = std::env::var_os("CARGO_TARGET_DIR")
        .map(PathBuf::from)
        .map(|dir| {
            if dir.is_absolute() {
                dir
            } else {
                workspace::root().join(dir)
            }
        })
        .unwrap_or_else(|| workspace::root().join("target"));
    let binary = target.join("release/solution-02-socketio");
    ensure!(binary.exists(), "no binary at {}", binary.display());
    Ok(binary)
}

/// The server as a child process, killed when dropped.
pub(super) struct Server {
    child: tokio::process::Child,
    pub(super) addr: String,
}

impl Server {
    /// Starts the server; `ping_interval_ms` overrides socket.io's 25 s (`PING_INTERVAL_MS`).
    pub(super) async fn start(binary: &PathBuf, ping_interval_ms: Option<u64>) -> Result<Server> {
        let mut command = tokio::process::Command::new(binary);
        if let Some(ms) = ping_interval_ms {
            command.env("PING_INTERVAL_MS", ms.to_string());
        }
        let mut child = command
            .args(["--addr", "127.0.0.1:0"])
            // One log line per connection would cost the server more than the chat itself.
            .env("RUST_LOG", "warn")
            .stdout(Stdio::piped())
            .stderr(Stdio::inherit())
            .kill_on_drop(true)
            .spawn()
            .with_context(|| format!("starting {}", binary.display()))?;
        let mut lines = BufReader::new(child.stdout.take().expect("piped")).lines();
        let addr = tokio::time::timeout(Duration::from_secs(20), async {
            while let Some(line) = lines.next_line().await? {
                if let Some(addr) = line.trim().strip_prefix("listening on http://") {
                    return Ok(addr.trim_end_matches('/').to_owned());
                }
            }
            bail!("the server exited before printing `listening on http://ADDR`")
        })
        .await
        .map_err(|_| {
            anyhow!("the server did not print `listening on http://ADDR` within 20 s")
        })??;
        ensure!(
            addr.starts_with("127.0.0.1:"),
            "the bench only runs on 127.0.0.1, got {addr}"
        );
        // Keep reading its output so a full pipe never blocks it.
        tokio::spawn(async move { while let Ok(Some(_)) = lines.next_line().await {} });
        Ok(Server { child, addr })
    }

    /// CPU time the server process has used so far, user + system (`/proc/PID/stat`).
    pub(super) fn cpu_time(&self) -> Result<Duration> {
        let pid = self.child.id().context("the server has exited")?;
        let stat = std::fs::read_to_string(format!("/proc/{pid}/stat"))
            .context("reading /proc/PID/stat (the bench needs Linux)")?;
        // The command name (field 2) may hold spaces: count fields after its closing `)`.
        let fields: Vec<&str> = stat
            .rsplit_once(')')
            .map(|(_, rest)| rest.split_whitespace().collect())
            .unwrap_or_default();
        // utime and stime are fields 14 and 15 of the whole line, 12 and 13 after `)`.
        let ticks: u64 = [11, 12]
            .iter()
            .map(|&i| fields.get(i).and_then(|f| f.parse::<u64>().ok()))
            .sum::<Option<u64>>()
            .context("no utime/stime in /proc/PID/stat")?;
        Ok(Duration::from_secs_f64(
            ticks as f64 / clock_ticks_per_second() as f64,
        ))
    }

    /// Resident memory of the server process, in KiB (`VmRSS` in /proc/PID/status).
    pub(super) fn rss_kib(&self) -> Result<u64> {
        let pid = self.child.id().context("the server has exited")?;
        let status = std::fs::read_to_string(format!("/proc/{pid}/status"))
            .context("reading /proc/PID/status (the bench needs Linux)")?;
        status
            .lines()
            .find_map(|l| l.strip_prefix("VmRSS:"))
            .and_then(|v| v.trim().trim_end_matches("kB").trim().parse().ok())
            .context("no VmRSS in /proc/PID/status")
    }
}

/// The unit of `/proc/PID/stat`'s times (`getconf CLK_TCK`, 100 on Linux unless told otherwise).
fn clock_ticks_per_second() -> u64 {
    std::process::Command::new("getconf")
        .arg("CLK_TCK")
        .output()
        .ok()
        .and_then(|o| String::from_utf8_lossy(&o.stdout).trim().parse().ok())
        .filter(|&ticks| ticks > 0)
        .unwrap_or(100)
}

pub(super) type Ws =
    tokio_tungstenite::WebSocketStream<tokio_tungstenite::MaybeTlsStream<tokio::net::TcpStream>>;

/// The next text frame that is not a ping; pings are answered on the spot.
pub(super) async fn next_text(ws: &mut Ws, what: &str) -> Result<String> {
    loop {
        let frame = tokio::time::timeout(STEP_LIMIT, ws.next())
            .await
            .map_err(|_| anyhow!("timed out waiting for {what}"))?
            .ok_or_else(|| anyhow!("the server closed the connection before {what}"))??;
        match frame {
            Message::Text(text) if text.as_str() == "2" => ws.send(Message::text("3")).await?,
            Message::Text(text) => return Ok(text.as_str().to_owned()),
            Message::Close(_) => bail!("the server closed the connection before {what}"),
            _ => {}
        }
    }
}

/// Engine.IO handshake, Socket.IO connect to `/`, join `room` with an ack.
async fn connect(url: &str, room: &str) -> Result<(Ws, Duration)> {
    let started = Instant::now();
    let (mut ws, _) = tokio_tungstenite::connect_async(url).await?;
    let open = next_text(&mut ws, "the open packet").await?;
    ensure!(
        open.starts_with("0{"),
        "expected the open packet `0{{...}}`, got {open}"
    );
    ws.send(Message::text("40")).await?;
    let connected = next_text(&mut ws, "the namespace connect `40{...}`").await?;
    ensure!(
        connected.starts_with("40{"),
        "expected `40{{\"sid\":...}}`, got {connected}"
    );
    ws.send(Message::text(format!("420[\"join\",\"{room}\"]")))
        .await?;
    let ack = next_text(&mut ws, "the join ack").await?;
    ensure!(
        ack == "430[true]",
        "expected the join ack `430[true]`, got {ack}"
    );
    Ok((ws, started.elapsed()))
}

/// The `sent_at` number in a received chat frame, without a full JSON parse.
fn sent_at(frame: &str) -> Option<u64> {
    let rest = &frame[frame.find("\"sent_at\":")? + "\"sent_at\":".len()..];
    let end = rest
        .find(|c: char| !c.is_ascii_digit())
        .unwrap_or(rest.len());
    rest[..end].parse().ok()
}

struct Report {
    connect_total: Duration,
    connect_p50: Duration,
    connect_p99: Duration,
    sent: u64,
    expected: u64,
    received: u64,
    closed_by_server: u64,
    send_window: Duration,
    latency_p50: Duration,
    latency_p99: Duration,
    latency_max: Duration,
    rss_idle_kib: u64,
    rss_connected_kib: u64,
    rss_after_kib: u64,
    /// Server CPU time (user + system) from the first emit to the end of the drain.
    cpu_sending: Duration,
    /// `/proc/loadavg` before the run: other work on the machine skews latency.
    load_average: String,
}

async fn measure(binary: &PathBuf, args: &Args) -> Result<Report> {
    let load_average = load_average();
    let server = Server::start(binary, None).await?;
    let url = format!("ws://{}/socket.io/?EIO=4&transport=websocket", server.addr);
    let rss_idle_kib = server.rss_kib()?;

    ui::step(&format!(
        "connecting {} clients to {} rooms over WebSocket",
        args.clients, args.rooms
    ));
    let room_of = |i: usize| format!("room-{}", i % args.rooms);
    let gate = Arc::new(Semaphore::new(CONNECTS_IN_FLIGHT));
    let started = Instant::now();
    let mut pending = Vec::with_capacity(args.clients);
    for i in 0..args.clients {
        let (gate, url, room) = (gate.clone(), url.clone(), room_of(i));
        pending.push(tokio::spawn(async move {
            let _permit = gate.acquire_owned().await.expect("never closed");
            connect(&url, &room).await
        }));
    }
    let mut sockets = Vec::with_capacity(args.clients);
    let mut connect_times = Vec::with_capacity(args.clients);
    for (i, task) in pending.into_iter().enumerate() {
        let (ws, took) = task.await?.with_context(|| {
            format!("client {i} failed to connect (is the fd limit high enough?)")
        })?;
        sockets.push(ws);
        connect_times.push(took);
    }
    let connect_total = started.elapsed();
    let rss_connected_kib = server.rss_kib()?;

    // Every client reads until told to stop; senders also write through their queue.
    let epoch = Instant::now();
    let received = Arc::new(AtomicU64::new(0));
    let closed = Arc::new(AtomicU64::new(0));
    let (stop, stopped) = watch::channel(false);
    let mut readers = Vec::with_capacity(args.clients);
    let mut outboxes = Vec::with_capacity(args.senders);
    for (i, ws) in sockets.into_iter().enumerate() {
        let (mut sink, mut stream) = ws.split();
        let (outbox, mut queue) = mpsc::unbounded_channel::<String>();
        tokio::spawn(async move {
            while let Some(frame) = queue.recv().await {
                if sink.send(Message::text(frame)).await.is_err() {
                    break;
                }
            }
        });
        if i < args.senders {
            outboxes.push((outbox.clone(), room_of(i)));
        }
        let (received, closed, mut stopped) = (received.clone(), closed.clone(), stopped.clone());
        readers.push(tokio::spawn(async move {
            let mut latencies = Vec::new();
            loop {
                let frame = tokio::select! {
                    _ = stopped.changed() => break,
                    frame = stream.next() => frame,
                };
                match frame {
                    Some(Ok(Message::Text(text))) => {
                        let text = text.as_str();
                        if text == "2" {
                            let _ = outbox.send("3".to_owned());
                        } else if text.starts_with("42[\"chat\"") {
                            if let Some(sent) = sent_at(text) {
                                let now = epoch.elapsed().as_nanos() as u64;
                                latencies.push(now.saturating_sub(sent));
                                received.fetch_add(1, Ordering::Relaxed);
                            }
                        }
                    }
                    Some(Ok(_)) => {}
                    Some(Err(_)) | None => {
                        closed.fetch_add(1, Ordering::Relaxed);
                        break;
                    }
                }
            }
            latencies
        }));
    }

    // Each message to room k reaches every member of k but its sender.
    let members = |room: &str| (0..args.clients).filter(|&i| room_of(i) == room).count() as u64;
    let per_sender = u64::from(args.rate) * args.duration;
    let expected: u64 = outboxes
        .iter()
        .map(|(_, room)| per_sender * (members(room) - 1))
        .sum();

    ui::step(&format!(
        "{} senders x {} msg/s for {} s",
        args.senders, args.rate, args.duration
    ));
    let send_started = Instant::now();
    let cpu_before = server.cpu_time()?;
    let mut senders = Vec::new();
    for (outbox, room) in outboxes {
        let period = Duration::from_secs_f64(1.0 / f64::from(args.rate));
        senders.push(tokio::spawn(async move {
            let mut tick = tokio::time::interval(period);
            for seq in 0..per_sender {
                tick.tick().await;
                let sent_at = epoch.elapsed().as_nanos() as u64;
                let frame = format!(
                    "42[\"chat\",{{\"room\":\"{room}\",\"seq\":{seq},\"sent_at\":{sent_at}}}]"
                );
                if outbox.send(frame).is_err() {
                    break;
                }
            }
        }));
    }
    for sender in senders {
        sender.await?;
    }
    let sent = per_sender * args.senders as u64;
    // Deliveries still in flight: wait for them, but not forever (what never comes is loss).
    let drain_started = Instant::now();
    while received.load(Ordering::Relaxed) < expected && drain_started.elapsed() < DRAIN_LIMIT {
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    let send_window = send_started.elapsed();
    let cpu_sending = server.cpu_time()?.saturating_sub(cpu_before);
    let _ = stop.send(true);
    let mut latencies = Vec::new();
    for reader in readers {
        latencies.extend(reader.await?);
    }
    let rss_after_kib = server.rss_kib()?;
    latencies.sort_unstable();
    connect_times.sort_unstable();
    let nanos = |ns: u64| Duration::from_nanos(ns);
    Ok(Report {
        connect_total,
        connect_p50: percentile(&connect_times, 50.0).unwrap_or_default(),
        connect_p99: percentile(&connect_times, 99.0).unwrap_or_default(),
        sent,
        expected,
        received: received.load(Ordering::Relaxed),
        closed_by_server: closed.load(Ordering::Relaxed),
        send_window,
        latency_p50: percentile(&latencies, 50.0).map(nanos).unwrap_or_default(),
        latency_p99: percentile(&latencies, 99.0).map(nanos).unwrap_or_default(),
        latency_max: latencies.last().copied().map(nanos).unwrap_or_default(),
        rss_idle_kib,
        rss_connected_kib,
        rss_after_kib,
        cpu_sending,
        load_average,
    })
}

/// `/proc/loadavg`'s three averages: other work on the machine skews latency.
pub(super) fn load_average() -> String {
    std::fs::read_to_string("/proc/loadavg")
        .map(|l| l.split_whitespace().take(3).collect::<Vec<_>>().join(" "))
        .unwrap_or_else(|_| "unknown".to_owned())
}

/// The value below which `p` percent of the sorted `values` fall (nearest rank).
fn percentile<T: Copy>(sorted: &[T], p: f64) -> Option<T> {
    if sorted.is_empty() {
        return None;
    }
    let rank = ((p / 100.0) * sorted.len() as f64).ceil() as usize;
    Some(sorted[rank.clamp(1, sorted.len()) - 1])
}

fn ms(d: Duration) -> String {
    format!("{:.2} ms", d.as_secs_f64() * 1000.0)
}

impl Report {
    fn markdown(&self, args: &Args, idle: Option<&super::socketio_idle::IdleReport>) -> String {
        let lost = self.expected.saturating_sub(self.received);
        let loss = if self.expected == 0 {
            0.0
        } else {
            100.0 * lost as f64 / self.expected as f64
        };
        let per_connection =
            |kib: u64| kib.saturating_sub(self.rss_idle_kib) as f64 / args.clients as f64;
        let deliveries_per_s = self.received as f64 / self.send_window.as_secs_f64();
        let cpu_per_delivery = if self.received == 0 {
            "no deliveries".to_owned()
        } else {
            format!(
                "{:.2} µs ({:.2} s of CPU for {} deliveries)",
                self.cpu_sending.as_secs_f64() * 1e6 / self.received as f64,
                self.cpu_sending.as_secs_f64(),
                self.received
            )
        };
        let command = format!(
            "cargo xtask bench socketio --clients {} --rooms {} --senders {} --rate {} --duration {} \
             --idle-clients {} --idle-hold {}",
            args.clients,
            args.rooms,
            args.senders,
            args.rate,
            args.duration,
            args.idle_clients,
            args.idle_hold
        );
        let mut rows = vec![
            (
                "load".to_owned(),
                format!(
                    "{} WebSocket clients in {} rooms; {} senders x {} msg/s for {} s",
                    args.clients, args.rooms, args.senders, args.rate, args.duration
                ),
            ),
            (
                format!("connect time, all clients ({CONNECTS_IN_FLIGHT} handshakes in flight)"),
                format!("{:.2} s", self.connect_total.as_secs_f64()),
            ),
            (
                "connect time per client (handshake, `40`, join ack), p50 / p99".to_owned(),
                format!("{} / {}", ms(self.connect_p50), ms(self.connect_p99)),
            ),
            ("chat messages sent".to_owned(), self.sent.to_string()),
            (
                "deliveries expected / received".to_owned(),
                format!("{} / {}", self.expected, self.received),
            ),
            ("loss".to_owned(), format!("{lost} ({loss:.2} %)")),
            (
                "deliveries per second".to_owned(),
                format!("{deliveries_per_s:.0}"),
            ),
            (
                "server CPU per delivery (user + system, first emit to end of drain)".to_owned(),
                cpu_per_delivery,
            ),
            (
                "latency, emit to receipt, p50 / p99 / max".to_owned(),
                format!(
                    "{} / {} / {}",
                    ms(self.latency_p50),
                    ms(self.latency_p99),
                    ms(self.latency_max)
                ),
            ),
            (
                "server RSS idle / with clients / after the traffic".to_owned(),
                format!(
                    "{:.1} / {:.1} / {:.1} MiB",
                    self.rss_idle_kib as f64 / 1024.0,
                    self.rss_connected_kib as f64 / 1024.0,
                    self.rss_after_kib as f64 / 1024.0
                ),
            ),
            (
                // Right after the connect burst the allocator still holds the handshakes'
                // transient buffers; after the traffic it has settled. Both are shown.
                "server RSS per connection, after connecting / after the traffic".to_owned(),
                format!(
                    "{:.1} / {:.1} KiB",
                    per_connection(self.rss_connected_kib),
                    per_connection(self.rss_after_kib)
                ),
            ),
            (
                "connections closed by the server".to_owned(),
                self.closed_by_server.to_string(),
            ),
        ];
        if let Some(idle) = idle {
            rows.extend(idle.rows());
        }
        let mut out = String::from("| measure | value |\n|---|---|\n");
        for (name, value) in rows {
            out.push_str(&format!("| {name} | {value} |\n"));
        }
        out.push_str(&format!(
            "\nMeasured with `{command}`: the solution's release build as a child process (a fresh \
             one for the idle clients), the clients in the bench's own process on the same \
             machine (they share its CPUs). {}; load average before the run: {}.\n",
            super::machine_stamp(),
            self.load_average
        ));
        out
    }
}

#[cfg(test)]
mod tests {
    use super::{percentile, sent_at};

    #[test]
    fn sent_at_is_found_in_a_relayed_chat() {
        let frame = r#"42["chat",{"from":"abc","room":"room-1","sent_at":123456,"seq":4}]"#;
        assert_eq!(sent_at(frame), Some(123456));
        assert_eq!(sent_at(r#"42["chat",{"text":"hi"}]"#), None);
    }

    #[test]
    fn percentiles_are_nearest_rank() {
        let values: Vec<u64> = (1..=100).collect();
        assert_eq!(percentile(&values, 50.0), Some(50));
        assert_eq!(percentile(&values, 99.0), Some(99));
        assert_eq!(percentile::<u64>(&[], 50.0), None);
    }
}
