//! `cargo xtask bench socketio`: the course's server against socketioxide and Node's socket.io,
//! on the same chat load, servers alternating in one run.
//!
//! Three scenarios, each on a fresh server process per contender and round:
//! - (a) 1000 clients in 10 rooms, 10 senders x 50 msg/s: a busy chat;
//! - (b) 5000 clients in one room, one sender x 20 msg/s: fan-out, 100,000 deliveries a second;
//! - (c) 10,000 mostly idle clients in one room (ping every 2 s), one chat a second going
//!   through to all of them: what a held connection costs.
//!
//! Rounds alternate the servers' order so that a slow phase of the machine does not fall on one
//! contender. Per contender and scenario, latencies of all rounds are merged before taking
//! percentiles (percentiles are never averaged), and CPU and memory are means over the rounds.
//!
//! Two choices keep the numbers honest:
//! - every server is a *child process* (release build, or `node`), so `/proc/PID` gives its own
//!   CPU time and resident memory, not the bench's;
//! - the clients speak Engine.IO and Socket.IO frames by hand over tokio-tungstenite
//!   (`chat_load.rs`), so the bench depends on none of the libraries it measures, and they
//!   stamp each chat with the instant it was due (corrected for coordinated omission).
//!
//! On a machine of two CPUs or more, each server gets one CPU to itself and the clients the
//! others (`--no-pin` shares them all): the figures are then per core, the clients' own work
//! does not queue in front of the server, and Node's one JavaScript thread and a Rust runtime
//! get the same hardware. The table says on which machine and when they were taken.

use std::collections::HashSet;
use std::path::PathBuf;
use std::time::{Duration, Instant};

use anyhow::{Context, Result, anyhow, ensure};

use super::chat_load::{Arrivals, Receipt, Target, Traffic, connect_all, ms, percentile};
use super::child::{Server, load_average, raise_open_files_limit, split_cpus};
use super::contenders::{Contender, Launch};
use crate::{ui, workspace};

/// `cargo xtask bench socketio [--servers ...] [--rounds N] [--duration SECS] [--scale F]
/// [--arrivals poisson|staggered|aligned]`
#[derive(clap::Args, Debug, Clone)]
pub struct Args {
    /// The servers to measure, in the first round's order.
    #[arg(long, value_enum, value_delimiter = ',', default_values_t = [Contender::Course, Contender::Socketioxide, Contender::Node])]
    pub servers: Vec<Contender>,
    /// Rounds: every scenario on every server, once per round, the order rotating.
    #[arg(long, default_value_t = 2)]
    pub rounds: usize,
    /// Seconds of sending in scenarios (a) and (b).
    #[arg(long, default_value_t = 10)]
    pub duration: u64,
    /// Seconds scenario (c) holds its clients (one chat a second goes through meanwhile).
    #[arg(long, default_value_t = 6)]
    pub hold: u64,
    /// Multiplies every scenario's number of clients (0.1 for a quick try; the book uses 1).
    #[arg(long, default_value_t = 1.0)]
    pub scale: f64,
    /// Measure this binary as the course's server instead of building chapter 2's solution.
    #[arg(long)]
    pub server: Option<PathBuf>,
    /// Let the server share every CPU with the clients, instead of giving it one to itself.
    #[arg(long)]
    pub no_pin: bool,
    /// When the senders' chats are due (see load-testing.md).
    #[arg(long, value_enum, default_value_t = Arrivals::Poisson)]
    pub arrivals: Arrivals,
    /// Print the tables only; do not write book/measurements/socketio.md.
    #[arg(long)]
    pub no_write: bool,
    /// Run only these scenarios (`a`, `b`, `c`); implies `--no-write`, the book's table has all.
    #[arg(long, value_delimiter = ',')]
    pub only: Vec<char>,
}

/// One load: who connects, where they are, who sends how much.
struct Scenario {
    name: &'static str,
    clients: usize,
    rooms: usize,
    senders: usize,
    rate: u32,
    seconds: u64,
    ping_interval_ms: Option<u64>,
}

impl Scenario {
    fn all(args: &Args) -> Vec<Scenario> {
        let scaled = |n: f64| ((n * args.scale).round() as usize).max(2);
        vec![
            Scenario {
                name: "(a) a busy chat",
                clients: scaled(1000.0).max(20),
                rooms: 10,
                senders: 10,
                rate: 50,
                seconds: args.duration,
                ping_interval_ms: None,
            },
            Scenario {
                name: "(b) fan-out",
                clients: scaled(5000.0),
                rooms: 1,
                senders: 1,
                rate: 20,
                seconds: args.duration,
                ping_interval_ms: None,
            },
            Scenario {
                name: "(c) held connections",
                clients: scaled(10_000.0),
                rooms: 1,
                senders: 1,
                rate: 1,
                seconds: args.hold,
                ping_interval_ms: Some(2_000),
            },
        ]
    }

    fn room_of(&self, client: usize) -> String {
        format!("room-{}", client % self.rooms)
    }

    /// Each chat to a room reaches every member but its sender.
    fn expected(&self) -> u64 {
        let per_sender = u64::from(self.rate) * self.seconds;
        (0..self.senders)
            .map(|sender| {
                let room = self.room_of(sender);
                let members = (0..self.clients)
                    .filter(|&i| self.room_of(i) == room)
                    .count() as u64;
                per_sender * (members - 1)
            })
            .sum()
    }

    fn describe(&self) -> String {
        let ping = match self.ping_interval_ms {
            Some(ms) => format!(", ping every {} s", ms / 1000),
            None => String::new(),
        };
        format!(
            "{}: {} clients in {} room(s), {} sender(s) x {} msg/s for {} s{ping}",
            self.name, self.clients, self.rooms, self.senders, self.rate, self.seconds
        )
    }
}

/// What one run of one scenario on one server gave.
struct Run {
    expected: u64,
    received: u64,
    unique: u64,
    send_window: Duration,
    latencies_ns: Vec<u64>,
    /// How late the generator handed each chat over (ns).
    late_ns: Vec<u64>,
    connect_times: Vec<Duration>,
    cpu: Duration,
    rss_before_kib: u64,
    rss_connected_kib: u64,
    rss_after_kib: u64,
    closed_by_server: u64,
}

pub fn run(args: Args) -> Result<()> {
    ensure!(!args.servers.is_empty(), "--servers names no server");
    ensure!(args.rounds > 0, "--rounds must be at least 1");
    ensure!(
        args.duration > 0 && args.hold > 0,
        "--duration and --hold must be at least 1"
    );
    ensure!(args.scale > 0.0, "--scale must be positive");
    let scenarios: Vec<Scenario> = Scenario::all(&args)
        .into_iter()
        .filter(|s| {
            args.only.is_empty()
                || args
                    .only
                    .iter()
                    .any(|c| s.name.starts_with(&format!("({c})")))
        })
        .collect();
    ensure!(
        !scenarios.is_empty(),
        "--only names no scenario: use a, b or c"
    );
    let most = scenarios.iter().map(|s| s.clients).max().unwrap_or(0);
    raise_open_files_limit(most)?;
    let launches = args
        .servers
        .iter()
        .map(|c| c.prepare(args.server.as_deref()))
        .collect::<Result<Vec<Launch>>>()?;
    let load_before = load_average();
    // Named before the split: afterwards this process sees only the clients' CPUs.
    let machine = super::machine_stamp();
    // Before the runtime starts, so that its threads inherit the clients' CPUs.
    let pin = if args.no_pin { None } else { split_cpus()? };
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()?;
    // runs[scenario][server]: one Run per round.
    let mut runs: Vec<Vec<Vec<Run>>> = scenarios
        .iter()
        .map(|_| args.servers.iter().map(|_| Vec::new()).collect())
        .collect();
    for round in 0..args.rounds {
        for (s, scenario) in scenarios.iter().enumerate() {
            for k in 0..args.servers.len() {
                let server = (k + round) % args.servers.len();
                ui::step(&format!(
                    "round {}/{}, {} on {}",
                    round + 1,
                    args.rounds,
                    scenario.describe(),
                    args.servers[server].label()
                ));
                // Bounded: connecting, sending, draining, with room for a slow machine.
                let limit = Duration::from_secs(scenario.seconds + 240);
                let run = runtime
                    .block_on(async {
                        let run = measure(&launches[server], scenario, pin, args.arrivals);
                        tokio::time::timeout(limit, run)
                            .await
                            .map_err(|_| anyhow!("the run did not finish within {limit:?}"))?
                    })
                    .with_context(|| {
                        format!("{} on {}", scenario.name, args.servers[server].label())
                    })?;
                runs[s][server].push(run);
            }
        }
    }
    let table = markdown(
        &args,
        &scenarios,
        &runs,
        &format!("{machine}; {}", node_version()),
        &load_before,
        pin,
    );
    println!("\n{table}");
    if !args.no_write && args.only.is_empty() {
        let path = workspace::root().join("book/measurements/socketio.md");
        std::fs::create_dir_all(path.parent().expect("a parent"))?;
        std::fs::write(&path, &table).with_context(|| format!("writing {}", path.display()))?;
        println!("{} {}", ui::green("written:"), path.display());
    }
    Ok(())
}

async fn measure(
    launch: &Launch,
    scenario: &Scenario,
    pin: Option<usize>,
    arrivals: Arrivals,
) -> Result<Run> {
    let server = Server::spawn(launch.command(pin), scenario.ping_interval_ms).await?;
    let url = format!("ws://{}/socket.io/?EIO=4&transport=websocket", server.addr);
    let rss_before_kib = server.rss_kib()?;
    let targets = (0..scenario.clients)
        .map(|i| Target::plain(url.clone(), scenario.room_of(i)))
        .collect();
    let (sockets, connect_times) = connect_all(targets).await?;
    let rss_connected_kib = server.rss_kib()?;

    let traffic = Traffic::start(sockets);
    let expected = scenario.expected();
    let senders: Vec<(usize, String)> = (0..scenario.senders)
        .map(|i| (i, scenario.room_of(i)))
        .collect();
    let cpu_before = server.cpu_time()?;
    let send_started = Instant::now();
    let sent = traffic
        .send(&senders, scenario.rate, scenario.seconds, arrivals)
        .await?;
    traffic.drain(expected).await;
    let send_window = send_started.elapsed();
    let cpu = server.cpu_time()?.saturating_sub(cpu_before);
    let rss_after_kib = server.rss_kib()?;
    let received = traffic.received();
    let (receipts, closed_by_server) = traffic.finish().await?;
    Ok(Run {
        expected,
        received,
        unique: receipts.iter().map(|r| distinct(r)).sum(),
        send_window,
        latencies_ns: receipts.iter().flatten().map(|r| r.latency_ns).collect(),
        late_ns: sent.late_ns,
        connect_times,
        cpu,
        rss_before_kib,
        rss_connected_kib,
        rss_after_kib,
        closed_by_server,
    })
}

/// Chats one client received, each (sender, seq) counted once.
fn distinct(receipts: &[Receipt]) -> u64 {
    receipts
        .iter()
        .map(|r| (r.sender, r.seq))
        .collect::<HashSet<_>>()
        .len() as u64
}

/// One contender's runs of one scenario, merged.
struct Merged {
    deliveries_per_s: f64,
    lost: u64,
    expected: u64,
    duplicates: u64,
    p50: Duration,
    p99: Duration,
    max: Duration,
    late_p99: Duration,
    late_max: Duration,
    connect_p50: Duration,
    connect_p99: Duration,
    cpu_s: f64,
    kib_connected: f64,
    kib_after: f64,
    closed: u64,
}

impl Merged {
    fn of(runs: &[Run], clients: usize) -> Merged {
        let mut latencies: Vec<u64> = runs.iter().flat_map(|r| r.latencies_ns.clone()).collect();
        latencies.sort_unstable();
        let mut connects: Vec<Duration> =
            runs.iter().flat_map(|r| r.connect_times.clone()).collect();
        connects.sort_unstable();
        let mut late: Vec<u64> = runs.iter().flat_map(|r| r.late_ns.clone()).collect();
        late.sort_unstable();
        let n = runs.len().max(1) as f64;
        let sum = |f: &dyn Fn(&Run) -> u64| runs.iter().map(f).sum::<u64>();
        let per_connection = |f: &dyn Fn(&Run) -> u64| {
            runs.iter()
                .map(|r| f(r).saturating_sub(r.rss_before_kib) as f64 / clients as f64)
                .sum::<f64>()
                / n
        };
        let window: f64 = runs.iter().map(|r| r.send_window.as_secs_f64()).sum();
        let nanos = Duration::from_nanos;
        Merged {
            deliveries_per_s: sum(&|r| r.received) as f64 / window.max(f64::MIN_POSITIVE),
            lost: sum(&|r| r.expected.saturating_sub(r.unique)),
            expected: sum(&|r| r.expected),
            duplicates: sum(&|r| r.received - r.unique),
            p50: percentile(&latencies, 50.0).map(nanos).unwrap_or_default(),
            p99: percentile(&latencies, 99.0).map(nanos).unwrap_or_default(),
            max: latencies.last().copied().map(nanos).unwrap_or_default(),
            late_p99: percentile(&late, 99.0).map(nanos).unwrap_or_default(),
            late_max: late.last().copied().map(nanos).unwrap_or_default(),
            connect_p50: percentile(&connects, 50.0).unwrap_or_default(),
            connect_p99: percentile(&connects, 99.0).unwrap_or_default(),
            cpu_s: runs.iter().map(|r| r.cpu.as_secs_f64()).sum::<f64>() / n,
            kib_connected: per_connection(&|r| r.rss_connected_kib),
            kib_after: per_connection(&|r| r.rss_after_kib),
            closed: sum(&|r| r.closed_by_server),
        }
    }
}

/// One cell of a table: a contender's merged figures, formatted.
type Cell = dyn Fn(&Merged) -> String;

fn markdown(
    args: &Args,
    scenarios: &[Scenario],
    runs: &[Vec<Vec<Run>>],
    machine: &str,
    load: &str,
    pin: Option<usize>,
) -> String {
    let mut out = String::new();
    let mut merged = Vec::new();
    for (scenario, per_server) in scenarios.iter().zip(runs) {
        let row: Vec<Merged> = per_server
            .iter()
            .map(|r| Merged::of(r, scenario.clients))
            .collect();
        out.push_str(&format!("**{}**\n\n| measure |", scenario.describe()));
        for contender in &args.servers {
            out.push_str(&format!(" {} |", contender.label()));
        }
        out.push_str("\n|---|");
        out.push_str(&"---|".repeat(args.servers.len()));
        out.push('\n');
        let lines: [(&str, &Cell); 8] = [
            ("deliveries per second", &|m| {
                format!("{:.0}", m.deliveries_per_s)
            }),
            ("lost / duplicated (of expected)", &|m| {
                format!("{} / {} (of {})", m.lost, m.duplicates, m.expected)
            }),
            ("latency p50 / p99 / max", &|m| {
                format!("{} / {} / {}", ms(m.p50), ms(m.p99), ms(m.max))
            }),
            (
                "the generator's lateness, due to handed over (in the latency), p99 / max",
                &|m| format!("{} / {}", ms(m.late_p99), ms(m.late_max)),
            ),
            ("server CPU seconds per run, sending and drain", &|m| {
                format!("{:.2} s", m.cpu_s)
            }),
            (
                "server RSS per connection, connected / after the chat",
                &|m| format!("{:.1} / {:.1} KiB", m.kib_connected, m.kib_after),
            ),
            ("connect (handshake, `40`, join ack) p50 / p99", &|m| {
                format!("{} / {}", ms(m.connect_p50), ms(m.connect_p99))
            }),
            ("connections closed by the server", &|m| {
                m.closed.to_string()
            }),
        ];
        for (name, value) in lines {
            out.push_str(&format!("| {name} |"));
            for m in &row {
                out.push_str(&format!(" {} |", value(m)));
            }
            out.push('\n');
        }
        out.push('\n');
        merged.push(row);
    }
    out.push_str(&bar(args, scenarios, &merged));
    let placement = match pin {
        Some(cpu) => format!(
            "Each server runs alone on CPU {cpu} (`taskset`), the clients in the bench's own \
             process on the other CPUs."
        ),
        None => "The clients run in the bench's own process and share every CPU with the \
                 server."
            .to_owned(),
    };
    let command = format!(
        "cargo xtask bench socketio --servers {} --rounds {} --duration {} --hold {} --scale {}{} --arrivals {}",
        args.servers
            .iter()
            .map(|c| format!("{c:?}").to_lowercase())
            .collect::<Vec<_>>()
            .join(","),
        args.rounds,
        args.duration,
        args.hold,
        args.scale,
        if args.no_pin { " --no-pin" } else { "" },
        args.arrivals.flag()
    );
    out.push_str(&format!(
        "\nMeasured with `{command}`: {} round(s), servers alternating, a fresh server process \
         per scenario, contender and round; latencies merged over the rounds, CPU and memory \
         averaged. Latency runs from the instant a chat was due to its receipt (corrected for \
         coordinated omission), {}. {placement} {machine}; load average before the run: {load}.\n",
        args.rounds,
        args.arrivals.describe(),
    ));
    out
}

/// The course's goals against the comparison servers, checked on this run's figures.
fn bar(args: &Args, scenarios: &[Scenario], merged: &[Vec<Merged>]) -> String {
    let column = |c: Contender| args.servers.iter().position(|&s| s == c);
    let (Some(course), rust, node) = (
        column(Contender::Course),
        column(Contender::Socketioxide),
        column(Contender::Node),
    ) else {
        return String::new();
    };
    let mark = |ok: bool| if ok { "met" } else { "**not met**" };
    let mut lines = Vec::new();
    for (s, scenario) in scenarios.iter().enumerate() {
        let ours = &merged[s][course];
        if let Some(rust) = rust {
            let theirs = &merged[s][rust];
            lines.push(format!(
                "- {}: deliveries per second at least socketioxide's ({:.0} vs {:.0}): {}; p99 no \
                 worse ({} vs {}): {}; RSS per connection no more ({:.1} vs {:.1} KiB): {}.",
                scenario.name,
                ours.deliveries_per_s,
                theirs.deliveries_per_s,
                mark(ours.deliveries_per_s >= theirs.deliveries_per_s * 0.99),
                ms(ours.p99),
                ms(theirs.p99),
                mark(ours.p99 <= theirs.p99),
                ours.kib_after,
                theirs.kib_after,
                mark(ours.kib_after <= theirs.kib_after)
            ));
        }
        if let Some(node) = node.filter(|_| scenario.ping_interval_ms.is_none()) {
            let theirs = &merged[s][node];
            let ratio = theirs.p99.as_secs_f64() / ours.p99.as_secs_f64().max(1e-9);
            lines.push(format!(
                "- {}: p99 a third of Node's or less ({} vs {}, {ratio:.1}x): {}.",
                scenario.name,
                ms(ours.p99),
                ms(theirs.p99),
                mark(ratio >= 3.0)
            ));
        }
    }
    if let Some((s, held)) = scenarios
        .iter()
        .enumerate()
        .find(|(_, s)| s.ping_interval_ms.is_some())
    {
        let ours = &merged[s][course];
        lines.push(format!(
            "- {}: {} connections held, every chat through ({} lost, {} closed): {}.",
            held.name,
            held.clients,
            ours.lost,
            ours.closed,
            mark(ours.lost == 0 && ours.closed == 0)
        ));
    }
    format!("The course's goals on this run:\n\n{}\n", lines.join("\n"))
}

/// `node --version`, for the footer.
fn node_version() -> String {
    std::process::Command::new("node")
        .arg("--version")
        .output()
        .ok()
        .map(|o| format!("Node {}", String::from_utf8_lossy(&o.stdout).trim()))
        .unwrap_or_else(|| "Node not found".to_owned())
}
