//! `cargo xtask bench security`: what chapter 4's security layers cost, the figures behind
//! "What the layers cost" in `book/src/04-security/in-production.md`.
//!
//! One `redis-server` (a child on a free port) and the chat load of `bench socketio` against
//! one server at a time, in turn, for several rounds (A B C A B C ...) so the noise shows:
//!
//! - chapter 4 with every layer on: a JWT per client (each its own user, `user-i`) in the
//!   CONNECT payload, an `Origin` header matching `--allowed-origins`, the token bucket and the
//!   connection caps in Redis (limits raised so that none bites: the bucket is still asked on
//!   every event, which is the cost measured);
//! - chapter 4 without a secret nor allowed origins: with a Redis, its bucket and caps cannot
//!   be switched off by flags, so this run isolates JWT and Origin;
//! - chapter 3 on the same Redis: the same adapter without chapter 4's layers, "layers off".
//!
//! Redis is emptied before each run, so no run inherits the slots or buckets of the last.

use std::path::{Path, PathBuf};
use std::time::{Duration, Instant};

use anyhow::{Context, Result, anyhow, ensure};

use super::chat_load::{Arrivals, Target, Traffic, connect_all, ms, percentile};
use super::child::{self, Server, build_release, load_average, raise_open_files_limit};
use super::redis_child::RedisChild;
use super::socketio_cluster::{Layout, Split, latencies};
use crate::{ui, workspace};

/// `cargo xtask bench security [--clients N] [--rooms R] [--senders S] [--rate M]
/// [--duration SECS] [--rounds K]`
#[derive(clap::Args, Debug, Clone)]
pub struct Args {
    /// WebSocket clients; client i joins room i % rooms, as user `user-i`.
    #[arg(long, default_value_t = 300)]
    pub clients: usize,
    /// Rooms the clients are spread over.
    #[arg(long, default_value_t = 10)]
    pub rooms: usize,
    /// Clients that also send (the first S clients).
    #[arg(long, default_value_t = 10)]
    pub senders: usize,
    /// Messages per second per sender.
    #[arg(long, default_value_t = 20)]
    pub rate: u32,
    /// Seconds of sending.
    #[arg(long, default_value_t = 10)]
    pub duration: u64,
    /// Times each server is measured, alternately.
    #[arg(long, default_value_t = 2)]
    pub rounds: usize,
    /// The `redis-server` to start.
    #[arg(long, default_value = "redis-server")]
    pub redis_server: PathBuf,
    /// Print the tables only; do not write book/measurements/security-layers.md.
    #[arg(long)]
    pub no_write: bool,
}

/// The HS256 secret of the run's tokens (a bench on 127.0.0.1: nothing to protect).
const SECRET: &str = "bench-security-layers";
const AUDIENCE: &str = "chat";
/// The page the clients pretend to come from, and the one origin the server allows.
const ORIGIN: &str = "http://127.0.0.1";

/// The servers measured, in the order of each round.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Variant {
    /// Chapter 4, every layer on.
    On,
    /// Chapter 4 without JWT and Origin (bucket and caps still in Redis).
    LimitsOnly,
    /// Chapter 3 on the same Redis.
    Off,
}

const VARIANTS: [Variant; 3] = [Variant::On, Variant::LimitsOnly, Variant::Off];

impl Variant {
    fn label(self) -> &'static str {
        match self {
            Variant::On => "ch. 4, every layer on",
            Variant::LimitsOnly => "ch. 4, no JWT nor Origin",
            Variant::Off => "ch. 3, layers off",
        }
    }

    fn package(self) -> &'static str {
        match self {
            Variant::On | Variant::LimitsOnly => "solution-04-security",
            Variant::Off => "solution-03-scaling",
        }
    }

    /// The server's arguments after `--addr`: the limits raised above the load, so that they
    /// are consulted but never refuse.
    fn server_args(self, redis_url: &str, args: &Args) -> Vec<String> {
        let mut out = vec!["--redis".to_owned(), redis_url.to_owned()];
        if self == Variant::Off {
            return out;
        }
        if self == Variant::On {
            let layers = ["--jwt-secret", SECRET, "--jwt-audience", AUDIENCE];
            out.extend(layers.map(str::to_owned));
            out.extend(["--allowed-origins", ORIGIN].map(str::to_owned));
        }
        // Every client is its own user, but all of them come from 127.0.0.1, and without a
        // token the bucket is the address's: it must hold every join and every chat at once.
        let all_events = args.clients as f64 + f64::from(args.rate) * args.senders as f64;
        let events = (all_events * 2.0).max(100.0);
        let handshakes = (args.clients * 10).max(100);
        let limits = [
            ("--events-per-second", events.to_string()),
            ("--event-burst", events.to_string()),
            ("--handshakes-per-second", handshakes.to_string()),
            ("--connections-per-user", "4".to_owned()),
            (
                "--connections-per-address",
                (args.clients * 2 + 16).to_string(),
            ),
        ];
        for (flag, value) in limits {
            out.extend([flag.to_owned(), value]);
        }
        out
    }

    /// What client i shows the server: a token and an Origin with every layer on.
    fn target(self, url: &str, room: String, client: usize) -> Result<Target> {
        let mut target = Target::plain(url.to_owned(), room);
        if self == Variant::On {
            let user = format!("user-{client}");
            target.token = Some(crate::token::sign(&user, "user", SECRET, AUDIENCE, 3600)?);
            target.origin = Some(ORIGIN.to_owned());
        }
        Ok(target)
    }
}

pub fn run(args: Args) -> Result<()> {
    ensure!(
        args.clients > 0 && args.rooms > 0 && args.rounds > 0,
        "--clients, --rooms and --rounds must be at least 1"
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
    raise_open_files_limit(args.clients)?;
    let security = build_release(Variant::On.package())?;
    let scaling = build_release(Variant::Off.package())?;
    let started = Instant::now();
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()?;
    let runs = runtime.block_on(async {
        ui::step("starting redis-server");
        let redis = RedisChild::start(&args.redis_server).await?;
        let mut runs = Vec::new();
        for round in 1..=args.rounds {
            for variant in VARIANTS {
                let binary = if variant == Variant::Off {
                    &scaling
                } else {
                    &security
                };
                runs.push(run_once(binary, &redis, variant, round, &args).await?);
            }
        }
        Ok::<_, anyhow::Error>(runs)
    })?;
    let table = markdown(&args, &runs);
    println!("\n{table}");
    println!("(measured in {:.1} s)", started.elapsed().as_secs_f64());
    if !args.no_write {
        let path = workspace::root().join("book/measurements/security-layers.md");
        std::fs::create_dir_all(path.parent().expect("a parent"))?;
        std::fs::write(&path, &table).with_context(|| format!("writing {}", path.display()))?;
        println!("{} {}", ui::green("written:"), path.display());
    }
    Ok(())
}

/// One server under the load once.
struct Run {
    variant: Variant,
    round: usize,
    load_average: String,
    /// Each client's connect time (WebSocket, CONNECT, join), sorted.
    connect: Vec<Duration>,
    expected: u64,
    split: Split,
    closed_by_server: u64,
    /// From the first emit to the end of the drain.
    window: Duration,
    cpu: Duration,
    redis_cpu: Duration,
    redis_commands: u64,
    rss_kib: u64,
}

async fn run_once(
    binary: &Path,
    redis: &RedisChild,
    variant: Variant,
    round: usize,
    args: &Args,
) -> Result<Run> {
    let limit = Duration::from_secs(args.duration + 120);
    let label = variant.label();
    tokio::time::timeout(limit, measure(binary, redis, variant, round, args))
        .await
        .map_err(|_| anyhow!("run {round} of `{label}` did not finish within {limit:?}"))?
}

async fn measure(
    binary: &Path,
    redis: &RedisChild,
    variant: Variant,
    round: usize,
    args: &Args,
) -> Result<Run> {
    redis.flush_all().await?;
    let load_average = load_average();
    ui::step(&format!("round {round}: {}", variant.label()));
    let extra = variant.server_args(&redis.url(), args);
    let extra: Vec<&str> = extra.iter().map(String::as_str).collect();
    let server = Server::start_with(binary, &extra, None).await?;
    let layout = Layout {
        clients: args.clients,
        rooms: args.rooms,
        instances: 1,
        by_room: false,
    };
    let room = |i: usize| format!("room-{}", layout.room(i));
    let url = format!("ws://{}/socket.io/?EIO=4&transport=websocket", server.addr);
    let targets = (0..args.clients)
        .map(|i| variant.target(&url, room(i), i))
        .collect::<Result<Vec<_>>>()?;
    let (sockets, mut connect) = connect_all(targets).await?;
    connect.sort_unstable();

    let traffic = Traffic::start(sockets);
    let senders: Vec<(usize, String)> = (0..args.senders).map(|i| (i, room(i))).collect();
    let per_sender = u64::from(args.rate) * args.duration;
    let expected = (0..args.senders)
        .map(|s| layout.recipients(s).0 * per_sender)
        .sum();
    let commands = |info: &std::collections::BTreeMap<String, u64>| {
        info.get("total_commands_processed").copied().unwrap_or(0)
    };
    let commands_before = commands(&redis.info_stats().await?);
    let cpu_before = server.cpu_time()?;
    let redis_cpu_before = child::cpu_time(redis.pid()?)?;
    let window_started = Instant::now();
    traffic
        .send(&senders, args.rate, args.duration, Arrivals::Poisson)
        .await?;
    traffic.drain(expected).await;
    let window = window_started.elapsed();
    let cpu = server.cpu_time()?.saturating_sub(cpu_before);
    let redis_cpu = child::cpu_time(redis.pid()?)?.saturating_sub(redis_cpu_before);
    let redis_commands = commands(&redis.info_stats().await?).saturating_sub(commands_before);
    let (receipts, closed_by_server) = traffic.finish().await?;
    let rss_kib = server.rss_kib()?;
    drop(server);
    Ok(Run {
        variant,
        round,
        load_average,
        connect,
        expected,
        split: Split::of(layout, &receipts),
        closed_by_server,
        window,
        cpu,
        redis_cpu,
        redis_commands,
        rss_kib,
    })
}

impl Run {
    fn deliveries_per_second(&self) -> f64 {
        self.split.received() as f64 / self.window.as_secs_f64()
    }

    fn lost(&self) -> u64 {
        self.expected.saturating_sub(self.split.received())
    }

    fn latency_p50_ms(&self) -> f64 {
        percentile(&self.split.all(), 50.0).unwrap_or(0) as f64 / 1e6
    }

    fn connect_p50_ms(&self) -> f64 {
        percentile(&self.connect, 50.0).map_or(0.0, |d| d.as_secs_f64() * 1e3)
    }

    fn cpu_per_delivery_us(&self) -> f64 {
        self.cpu.as_secs_f64() * 1e6 / self.split.received().max(1) as f64
    }

    /// One row of the first table.
    fn row(&self) -> String {
        let connect = |p| percentile(&self.connect, p).map_or("—".to_owned(), ms);
        format!(
            "| {} | {} | {:.0} | {} / {} / {} | {} | {} / {} | {:.2} µs | {:.2} s, {} | {:.1} MiB \
             | {} |\n",
            self.round,
            self.variant.label(),
            self.deliveries_per_second(),
            self.lost(),
            self.split.duplicates,
            self.split.misdelivered,
            latencies(&self.split.all()),
            connect(50.0),
            connect(99.0),
            self.cpu_per_delivery_us(),
            self.redis_cpu.as_secs_f64(),
            self.redis_commands,
            self.rss_kib as f64 / 1024.0,
            self.closed_by_server,
        )
    }
}

/// `(mean, min, max)` of `values`, `None` if there are none.
fn spread(values: &[f64]) -> Option<(f64, f64, f64)> {
    if values.is_empty() {
        return None;
    }
    let mean = values.iter().sum::<f64>() / values.len() as f64;
    let min = values.iter().copied().fold(f64::INFINITY, f64::min);
    let max = values.iter().copied().fold(f64::NEG_INFINITY, f64::max);
    Some((mean, min, max))
}

/// `(a - b) / b` in percent.
fn percent_change(a: f64, b: f64) -> f64 {
    if b == 0.0 { 0.0 } else { (a - b) / b * 100.0 }
}

/// `+1.2 % (-0.3 to +2.7)`: the mean of per-round differences and their range.
fn difference(values: &[f64], unit: &str, decimals: usize) -> String {
    match spread(values) {
        None => "—".to_owned(),
        Some((mean, _, _)) if values.len() == 1 => format!("{mean:+.decimals$} {unit}"),
        Some((mean, min, max)) => {
            format!("{mean:+.decimals$} {unit} ({min:+.decimals$} to {max:+.decimals$})")
        }
    }
}

/// Per round, `measure(variant) - measure(Off)` (or in percent of Off).
fn per_round(runs: &[Run], variant: Variant, measure: fn(&Run) -> f64, relative: bool) -> Vec<f64> {
    let of = |round: usize, v: Variant| {
        runs.iter()
            .find(|r| r.round == round && r.variant == v)
            .map(measure)
    };
    let rounds = runs.iter().map(|r| r.round).max().unwrap_or(0);
    (1..=rounds)
        .filter_map(|round| {
            let (a, b) = (of(round, variant)?, of(round, Variant::Off)?);
            Some(if relative {
                percent_change(a, b)
            } else {
                a - b
            })
        })
        .collect()
}

fn markdown(args: &Args, runs: &[Run]) -> String {
    let mut out = format!(
        "Load: {} WebSocket clients in {} rooms (client i in room i mod {}, as user `user-i`), \
         {} senders x {} msg/s for {} s, against each server in turn, {} round(s).\n\n\
         | round | server | deliveries per second | lost / duplicated / misdelivered | latency \
         p50 / p99 / max | connect p50 / p99 | server CPU per delivery | Redis CPU, commands \
         while sending | server RSS after | closed by the server |\n\
         |---|---|---|---|---|---|---|---|---|---|\n",
        args.clients, args.rooms, args.rooms, args.senders, args.rate, args.duration, args.rounds
    );
    for run in runs {
        out.push_str(&run.row());
    }
    out.push_str(
        "\nDifferences to chapter 3 on the same Redis, per round: the mean, and in brackets \
         the range over the rounds.\n\n\
         | measure | ch. 4, every layer on | ch. 4, no JWT nor Origin |\n|---|---|---|\n",
    );
    type Measure = (&'static str, fn(&Run) -> f64, bool, &'static str, usize);
    let measures: [Measure; 4] = [
        (
            "deliveries per second",
            Run::deliveries_per_second,
            true,
            "%",
            1,
        ),
        ("latency p50", Run::latency_p50_ms, false, "ms", 2),
        ("connect p50", Run::connect_p50_ms, false, "ms", 2),
        (
            "server CPU per delivery",
            Run::cpu_per_delivery_us,
            true,
            "%",
            0,
        ),
    ];
    for (name, measure, relative, unit, decimals) in measures {
        out.push_str(&format!("| {name} |"));
        for variant in [Variant::On, Variant::LimitsOnly] {
            let values = per_round(runs, variant, measure, relative);
            out.push_str(&format!(" {} |", difference(&values, unit, decimals)));
        }
        out.push('\n');
    }
    let command = format!(
        "cargo xtask bench security --clients {} --rooms {} --senders {} --rate {} --duration {} \
         --rounds {}",
        args.clients, args.rooms, args.senders, args.rate, args.duration, args.rounds
    );
    let loads: Vec<String> = runs.iter().map(|r| r.load_average.clone()).collect();
    out.push_str(&format!(
        "\nMeasured with `{command}`: one `redis-server` (child process, no persistence, \
         emptied before each run), one server at a time as a release-build child process on it, \
         the clients in the bench's own process; everything shares the machine's CPUs. With \
         every layer on, each client sends its own token (HS256, `sub` = `user-i`) and \
         `Origin: {ORIGIN}`; the limits are raised above the load (so the bucket and the caps \
         are asked in Redis but refuse nothing). The offered load is fixed: deliveries per \
         second fall only if a server cannot keep up, and the CPU per delivery is where a cost \
         shows first. {}; load average before each run, in order: {}.\n",
        super::machine_stamp(),
        loads.join(", ")
    ));
    out
}

#[cfg(test)]
mod tests {
    use super::{Args, Variant, difference, percent_change, spread};

    fn args() -> Args {
        Args {
            clients: 300,
            rooms: 10,
            senders: 10,
            rate: 20,
            duration: 10,
            rounds: 2,
            redis_server: "redis-server".into(),
            no_write: false,
        }
    }

    #[test]
    fn layers_are_switched_by_flags_and_limits_stay_above_the_load() {
        let url = "redis://127.0.0.1:1";
        assert_eq!(Variant::Off.server_args(url, &args()), ["--redis", url]);
        let on = Variant::On.server_args(url, &args());
        let value = |flag: &str| {
            let at = on.iter().position(|a| a == flag).expect(flag);
            on[at + 1].clone()
        };
        assert_eq!(value("--jwt-secret"), super::SECRET);
        assert_eq!(value("--allowed-origins"), super::ORIGIN);
        // 300 joins and 10 x 20 chats per second from one address (the bucket without a token).
        assert!(value("--events-per-second").parse::<f64>().unwrap() >= 500.0);
        assert!(value("--event-burst").parse::<f64>().unwrap() >= 500.0);
        assert!(value("--connections-per-address").parse::<usize>().unwrap() > 300);
        assert!(value("--handshakes-per-second").parse::<usize>().unwrap() > 300);
        let limits_only = Variant::LimitsOnly.server_args(url, &args());
        assert!(!limits_only.iter().any(|a| a == "--jwt-secret"));
        assert!(!limits_only.iter().any(|a| a == "--allowed-origins"));
        assert!(limits_only.iter().any(|a| a == "--events-per-second"));
    }

    #[test]
    fn only_every_layer_on_sends_a_token_and_an_origin() {
        let on = Variant::On.target("ws://x", "room-1".into(), 7).unwrap();
        assert!(on.token.is_some_and(|t| t.split('.').count() == 3));
        assert_eq!(on.origin.as_deref(), Some(super::ORIGIN));
        let off = Variant::LimitsOnly
            .target("ws://x", "room-1".into(), 7)
            .unwrap();
        assert_eq!((off.token, off.origin), (None, None));
    }

    #[test]
    fn differences_have_a_mean_and_a_range() {
        assert_eq!(spread(&[]), None);
        assert_eq!(spread(&[1.0, 3.0, 2.0]), Some((2.0, 1.0, 3.0)));
        assert_eq!(percent_change(90.0, 100.0), -10.0);
        assert_eq!(percent_change(1.0, 0.0), 0.0);
        assert_eq!(difference(&[-1.0, 3.0], "%", 1), "+1.0 % (-1.0 to +3.0)");
        assert_eq!(difference(&[0.25], "ms", 2), "+0.25 ms");
        assert_eq!(difference(&[], "ms", 2), "—");
    }
}
