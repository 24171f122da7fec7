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

use std::path::{Path, PathBuf};
use std::time::{Duration, Instant};

use anyhow::{Context, Result, anyhow, ensure};

use super::chat_load::{CONNECTS_IN_FLIGHT, Target, Traffic, connect_all, ms, percentile};
use super::child::{Server, build_release, load_average, raise_open_files_limit};
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
        None => build_release("solution-02-socketio")?,
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

async fn measure(binary: &Path, args: &Args) -> Result<Report> {
    let load_average = load_average();
    let server = Server::start(binary, None).await?;
    let url = format!("ws://{}/socket.io/?EIO=4&transport=websocket", server.addr);
    let rss_idle_kib = server.rss_kib()?;

    ui::step(&format!(
        "connecting {} clients to {} rooms over WebSocket",
        args.clients, args.rooms
    ));
    let room_of = |i: usize| format!("room-{}", i % args.rooms);
    let started = Instant::now();
    let targets = (0..args.clients)
        .map(|i| Target::plain(url.clone(), room_of(i)))
        .collect();
    let (sockets, mut connect_times) = connect_all(targets).await?;
    let connect_total = started.elapsed();
    let rss_connected_kib = server.rss_kib()?;

    let traffic = Traffic::start(sockets);
    // Each message to room k reaches every member of k but its sender.
    let members = |room: &str| (0..args.clients).filter(|&i| room_of(i) == room).count() as u64;
    let per_sender = u64::from(args.rate) * args.duration;
    let senders: Vec<(usize, String)> = (0..args.senders).map(|i| (i, room_of(i))).collect();
    let expected: u64 = senders
        .iter()
        .map(|(_, room)| per_sender * (members(room) - 1))
        .sum();

    ui::step(&format!(
        "{} senders x {} msg/s for {} s",
        args.senders, args.rate, args.duration
    ));
    let send_started = Instant::now();
    let cpu_before = server.cpu_time()?;
    let sent = traffic.send(&senders, args.rate, args.duration).await?;
    traffic.drain(expected).await;
    let send_window = send_started.elapsed();
    let cpu_sending = server.cpu_time()?.saturating_sub(cpu_before);
    let received = traffic.received();
    let (receipts, closed_by_server) = traffic.finish().await?;
    let mut latencies: Vec<u64> = receipts.iter().flatten().map(|r| r.latency_ns).collect();
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
        received,
        closed_by_server,
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
