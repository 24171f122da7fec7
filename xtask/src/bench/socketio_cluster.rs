//! `cargo xtask bench socketio-cluster`: the figures behind chapter 3's "What it costs" table.
//!
//! One `redis-server` (a child on a free port), N instances of the chapter 3 solution (release
//! build, children) on it, and the chat load of `bench socketio` spread over them: client i
//! connects to instance i % N and joins room i % R, and the first S clients emit `chat` to
//! their room. Each receipt names its sender, so the bench counts loss and duplicates, and
//! splits the latency between receivers on the sender's instance (delivered locally) and on
//! another one (through Redis): the difference of their medians is the cost of the hop. A raw
//! `PSUBSCRIBE` on Redis counts what the instances publish, per channel, and `INFO stats`
//! gives Redis' network traffic. The same load on one instance (the same binary and Redis: a
//! cluster of one) is the baseline.

use std::collections::{BTreeMap, HashSet};
use std::path::{Path, PathBuf};
use std::time::{Duration, Instant};

use anyhow::{Context, Result, anyhow, ensure};

use super::chat_load::{Arrivals, Receipt, Target, Traffic, connect_all, ms, percentile};
use super::child::{self, Server, build_release, load_average, raise_open_files_limit};
use super::redis_child::{ChannelCount, Monitor, Probe, RedisChild};
use crate::{ui, workspace};

/// `cargo xtask bench socketio-cluster [--clients N] [--rooms R] [--senders S] [--rate M]
/// [--duration SECS] [--instances I] [--arrivals poisson|staggered|aligned]`: by default the
/// load of `bench socketio`'s scenario (a), spread over the cluster.
#[derive(clap::Args, Debug, Clone)]
pub struct Args {
    /// WebSocket clients; client i connects to instance i % instances and joins room i % rooms.
    #[arg(long, default_value_t = 1000)]
    pub clients: usize,
    /// Rooms the clients are spread over.
    #[arg(long, default_value_t = 10)]
    pub rooms: usize,
    /// Clients that also send (the first S clients).
    #[arg(long, default_value_t = 10)]
    pub senders: usize,
    /// Messages per second per sender.
    #[arg(long, default_value_t = 50)]
    pub rate: u32,
    /// Seconds of sending.
    #[arg(long, default_value_t = 10)]
    pub duration: u64,
    /// Instances of the cluster.
    #[arg(long, default_value_t = 3)]
    pub instances: usize,
    /// Skip the single-instance baseline.
    #[arg(long)]
    pub no_baseline: bool,
    /// Measure this server binary instead of building solution-03-scaling.
    #[arg(long)]
    pub server: Option<PathBuf>,
    /// The `redis-server` to start.
    #[arg(long, default_value = "redis-server")]
    pub redis_server: PathBuf,
    /// When the senders' chats are due (see load-testing.md).
    #[arg(long, value_enum, default_value_t = Arrivals::Poisson)]
    pub arrivals: Arrivals,
    /// Print the table only; do not write book/measurements/socketio-cluster.md.
    #[arg(long)]
    pub no_write: bool,
}

/// The adapter's channels of namespace `/` (default key): `BASE` alone for the whole
/// namespace, `BASE<room>#` for one room.
const BASE_CHANNEL: &str = "socket.io#/#";
/// What the monitor subscribes to: every channel of the adapter's default key.
const MONITOR_PATTERN: &str = "socket.io*";
/// How often the probe measures a bare hop through Redis while the chat runs.
const PROBE_PERIOD: Duration = Duration::from_millis(50);

pub fn run(args: Args) -> Result<()> {
    ensure!(
        args.clients > 0 && args.rooms > 0 && args.instances > 0,
        "--clients, --rooms and --instances must be at least 1"
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
    let binary = match &args.server {
        Some(path) => path.clone(),
        None => build_release("solution-03-scaling")?,
    };
    let started = Instant::now();
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()?;
    let runs = runtime.block_on(async {
        ui::step("starting redis-server");
        let redis = RedisChild::start(&args.redis_server).await?;
        let mut runs = vec![scenario(&binary, &redis, args.instances, false, &args).await?];
        if args.instances > 1 && args.rooms > 1 {
            runs.push(scenario(&binary, &redis, args.instances, true, &args).await?);
        }
        if !args.no_baseline {
            runs.push(scenario(&binary, &redis, 1, false, &args).await?);
        }
        Ok::<_, anyhow::Error>(runs)
    })?;
    let table = markdown(&args, &runs);
    println!("\n{table}");
    println!("(measured in {:.1} s)", started.elapsed().as_secs_f64());
    if !args.no_write {
        let path = workspace::root().join("book/measurements/socketio-cluster.md");
        std::fs::create_dir_all(path.parent().expect("a parent"))?;
        std::fs::write(&path, &table).with_context(|| format!("writing {}", path.display()))?;
        println!("{} {}", ui::green("written:"), path.display());
    }
    Ok(())
}

/// Where client i is: its room and its instance.
#[derive(Debug, Clone, Copy)]
pub(super) struct Layout {
    pub(super) clients: usize,
    pub(super) rooms: usize,
    pub(super) instances: usize,
    /// Client i on instance (i % rooms) % instances: each room lives on one instance, so no
    /// delivery crosses Redis, yet every instance still receives every publication.
    pub(super) by_room: bool,
}

impl Layout {
    pub(super) fn room(&self, client: usize) -> usize {
        client % self.rooms
    }

    fn instance(&self, client: usize) -> usize {
        if self.by_room {
            self.room(client) % self.instances
        } else {
            client % self.instances
        }
    }

    /// The deliveries one chat of `sender` is owed: (on its instance, on the others).
    /// Every member of its room but itself.
    pub(super) fn recipients(&self, sender: usize) -> (u64, u64) {
        let members = (0..self.clients)
            .filter(|&c| c != sender && self.room(c) == self.room(sender))
            .map(|c| self.instance(c) == self.instance(sender));
        members.fold((0, 0), |(same, other), here| {
            if here {
                (same + 1, other)
            } else {
                (same, other + 1)
            }
        })
    }
}

/// The receipts, checked and split by where the receiver is relative to the sender.
#[derive(Debug, Default, PartialEq, Eq)]
pub(super) struct Split {
    /// Latencies (ns, sorted) of first receipts on the sender's instance.
    pub(super) same: Vec<u64>,
    /// The same on another instance.
    pub(super) other: Vec<u64>,
    /// Receipts of a chat the client had already received.
    pub(super) duplicates: u64,
    /// Receipts by a client that is not in the sender's room, or is the sender.
    pub(super) misdelivered: u64,
}

impl Split {
    pub(super) fn of(layout: Layout, receipts: &[Vec<Receipt>]) -> Split {
        let mut split = Split::default();
        for (client, receipts) in receipts.iter().enumerate() {
            let mut seen = HashSet::with_capacity(receipts.len());
            for receipt in receipts {
                let sender = receipt.sender as usize;
                if sender == client
                    || sender >= layout.clients
                    || layout.room(sender) != layout.room(client)
                {
                    split.misdelivered += 1;
                } else if !seen.insert((receipt.sender, receipt.seq)) {
                    split.duplicates += 1;
                } else if layout.instance(sender) == layout.instance(client) {
                    split.same.push(receipt.latency_ns);
                } else {
                    split.other.push(receipt.latency_ns);
                }
            }
        }
        split.same.sort_unstable();
        split.other.sort_unstable();
        split
    }

    pub(super) fn received(&self) -> u64 {
        (self.same.len() + self.other.len()) as u64
    }

    pub(super) fn all(&self) -> Vec<u64> {
        let mut all = [self.same.as_slice(), self.other.as_slice()].concat();
        all.sort_unstable();
        all
    }
}

/// One run of the load on `instances` instances.
struct Scenario {
    instances: usize,
    by_room: bool,
    load_average: String,
    connect_total: Duration,
    sent: u64,
    /// How late the generator handed each chat over (ns, sorted).
    late: Vec<u64>,
    expected_same: u64,
    expected_other: u64,
    split: Split,
    closed_by_server: u64,
    /// From the first emit to the end of the drain.
    window: Duration,
    /// Each instance's CPU time (user + system) over the window.
    cpu: Vec<Duration>,
    redis_cpu: Duration,
    /// Each instance's resident memory after the traffic, KiB.
    rss_kib: Vec<u64>,
    /// `total_net_input_bytes` and `total_net_output_bytes` of Redis over the window.
    net_in: u64,
    net_out: u64,
    channels: BTreeMap<String, ChannelCount>,
    /// Latencies (ns, sorted) of the raw PUBLISH-to-message probe over the window.
    probe: Vec<u64>,
    /// Emit to the monitor's receipt of the instance's PUBLISH (ns, sorted).
    to_redis: Vec<u64>,
}

async fn scenario(
    binary: &Path,
    redis: &RedisChild,
    instances: usize,
    by_room: bool,
    args: &Args,
) -> Result<Scenario> {
    // Connecting, sending, draining, with generous room for a slow machine.
    let limit = Duration::from_secs(args.duration + 120);
    tokio::time::timeout(limit, measure(binary, redis, instances, by_room, args))
        .await
        .map_err(|_| anyhow!("the {instances}-instance run did not finish within {limit:?}"))?
}

async fn measure(
    binary: &Path,
    redis: &RedisChild,
    instances: usize,
    by_room: bool,
    args: &Args,
) -> Result<Scenario> {
    let load_average = load_average();
    ui::step(&format!(
        "{instances} x {} on {}",
        binary.display(),
        redis.url()
    ));
    let url = redis.url();
    let mut servers = Vec::with_capacity(instances);
    for _ in 0..instances {
        servers.push(Server::start_with(binary, &["--redis", &url], None).await?);
    }
    let monitor = Monitor::start(&redis.addr, MONITOR_PATTERN).await?;
    let layout = Layout {
        clients: args.clients,
        rooms: args.rooms,
        instances,
        by_room,
    };

    ui::step(&format!(
        "connecting {} clients to {} rooms over {instances} instance(s)",
        args.clients, args.rooms
    ));
    let room = |i: usize| format!("room-{}", layout.room(i));
    let targets = (0..args.clients)
        .map(|i| {
            let addr = &servers[layout.instance(i)].addr;
            let url = format!("ws://{addr}/socket.io/?EIO=4&transport=websocket");
            Target::plain(url, room(i))
        })
        .collect();
    let started = Instant::now();
    let connect_limit = Duration::from_secs(60);
    let (sockets, _) = tokio::time::timeout(connect_limit, connect_all(targets))
        .await
        .map_err(|_| anyhow!("connecting the clients took more than {connect_limit:?}"))??;
    let connect_total = started.elapsed();

    let traffic = Traffic::start(sockets);
    let traffic_epoch = traffic.epoch();
    let senders: Vec<(usize, String)> = (0..args.senders).map(|i| (i, room(i))).collect();
    let per_sender = u64::from(args.rate) * args.duration;
    let (expected_same, expected_other) = (0..args.senders)
        .map(|s| layout.recipients(s))
        .fold((0, 0), |(a, b), (same, other)| {
            (a + same * per_sender, b + other * per_sender)
        });

    ui::step(&format!(
        "{} senders x {} msg/s for {} s",
        args.senders, args.rate, args.duration
    ));
    let info_before = redis.info_stats().await?;
    let cpu_before = cpu_times(&servers)?;
    let redis_cpu_before = child::cpu_time(redis.pid()?)?;
    let probe = Probe::start(&redis.addr, PROBE_PERIOD).await?;
    let window_started = Instant::now();
    let sent = traffic
        .send(&senders, args.rate, args.duration, args.arrivals)
        .await?;
    traffic.drain(expected_same + expected_other).await;
    let window = window_started.elapsed();
    let probe = probe.finish().await?;
    let cpu = cpu_times(&servers)?
        .into_iter()
        .zip(cpu_before)
        .map(|(after, before)| after.saturating_sub(before))
        .collect();
    let redis_cpu = child::cpu_time(redis.pid()?)?.saturating_sub(redis_cpu_before);
    let info_after = redis.info_stats().await?;
    let (receipts, closed_by_server) = traffic.finish().await?;
    let rss_kib = servers
        .iter()
        .map(Server::rss_kib)
        .collect::<Result<Vec<_>>>()?;
    let channels = monitor.counts();
    let mut to_redis: Vec<u64> = monitor
        .arrivals()
        .iter()
        .filter_map(|(arrived, payload)| {
            let sent = msgpack_sent_at(payload)?;
            let at = arrived.checked_duration_since(traffic_epoch)?.as_nanos() as u64;
            Some(at.saturating_sub(sent))
        })
        .collect();
    to_redis.sort_unstable();
    drop(servers);
    let delta = |field: &str| {
        let get = |info: &BTreeMap<String, u64>| info.get(field).copied().unwrap_or(0);
        get(&info_after).saturating_sub(get(&info_before))
    };
    Ok(Scenario {
        instances,
        by_room,
        load_average,
        connect_total,
        sent: sent.chats,
        late: sent.late_ns,
        expected_same,
        expected_other,
        split: Split::of(layout, &receipts),
        closed_by_server,
        window,
        cpu,
        redis_cpu,
        rss_kib,
        net_in: delta("total_net_input_bytes"),
        net_out: delta("total_net_output_bytes"),
        channels,
        probe,
        to_redis,
    })
}

/// The `sent_at` of a chat inside a broadcast as the adapter publishes it (MessagePack: the
/// key `sent_at` as a fixstr, then an unsigned integer of any width).
fn msgpack_sent_at(payload: &[u8]) -> Option<u64> {
    const KEY: &[u8] = b"\xa7sent_at";
    let at = payload.windows(KEY.len()).position(|w| w == KEY)? + KEY.len();
    let rest = payload.get(at..)?;
    let (&marker, bytes) = rest.split_first()?;
    let width = match marker {
        0x00..=0x7f => return Some(u64::from(marker)),
        0xcc => 1,
        0xcd => 2,
        0xce => 4,
        0xcf => 8,
        _ => return None,
    };
    let bytes = bytes.get(..width)?;
    Some(bytes.iter().fold(0, |n, &b| (n << 8) | u64::from(b)))
}

fn cpu_times(servers: &[Server]) -> Result<Vec<Duration>> {
    servers.iter().map(Server::cpu_time).collect()
}

/// `p50 / p99 / max` of sorted nanoseconds, `—` when there are none.
pub(super) fn latencies(sorted: &[u64]) -> String {
    let at = |p: f64| percentile(sorted, p).map(|ns| ms(Duration::from_nanos(ns)));
    match (at(50.0), at(99.0), sorted.last()) {
        (Some(p50), Some(p99), Some(&max)) => {
            format!("{p50} / {p99} / {}", ms(Duration::from_nanos(max)))
        }
        _ => "—".to_owned(),
    }
}

/// `+1.23 ms`: the difference of two latencies in nanoseconds.
fn signed_ms(ns: i128) -> String {
    format!("{:+.2} ms", ns as f64 / 1e6)
}

impl Scenario {
    /// The column's heading.
    fn title(&self) -> String {
        match (self.instances, self.by_room) {
            (1, _) => "1 instance (baseline)".to_owned(),
            (n, false) => format!("{n} instances"),
            (n, true) => format!("{n} instances, each room on one"),
        }
    }

    fn received(&self) -> u64 {
        self.split.received()
    }

    fn lost(&self) -> u64 {
        (self.expected_same + self.expected_other).saturating_sub(self.received())
    }

    /// The chats published on room channels, on the base channel, and everything else.
    fn published(&self) -> (ChannelCount, ChannelCount, ChannelCount) {
        let mut rooms = ChannelCount::default();
        let mut base = ChannelCount::default();
        let mut other = ChannelCount::default();
        for (channel, count) in &self.channels {
            let slot = if channel == BASE_CHANNEL {
                &mut base
            } else if channel.starts_with(BASE_CHANNEL) {
                &mut rooms
            } else {
                &mut other
            };
            slot.messages += count.messages;
            slot.bytes += count.bytes;
        }
        (rooms, base, other)
    }

    fn per_second(&self, amount: u64) -> f64 {
        amount as f64 / self.window.as_secs_f64()
    }

    /// The column of this run, one cell per row of [`markdown`].
    fn cells(&self) -> Vec<String> {
        let received = self.received();
        let (rooms, base, other) = self.published();
        let published_bytes = rooms.bytes + base.bytes + other.bytes;
        let cpu_total: Duration = self.cpu.iter().sum();
        let join = |values: Vec<String>| values.join(" / ");
        let hop = match (
            percentile(&self.split.same, 50.0),
            percentile(&self.split.other, 50.0),
        ) {
            (Some(same), Some(other)) => {
                let p99 = |v: &[u64]| percentile(v, 99.0).unwrap_or(0) as i128;
                format!(
                    "{} p50 ({} p99)",
                    signed_ms(other as i128 - same as i128),
                    signed_ms(p99(&self.split.other) - p99(&self.split.same))
                )
            }
            _ => "—".to_owned(),
        };
        let count = |expected: u64, got: usize| {
            if expected == 0 {
                "none".to_owned()
            } else {
                format!("{got} of {expected}")
            }
        };
        vec![
            format!("{:.2} s", self.connect_total.as_secs_f64()),
            self.sent.to_string(),
            latencies(&self.late),
            format!(
                "{} / {}",
                self.expected_same + self.expected_other,
                received
            ),
            format!(
                "{} / {} / {}",
                self.lost(),
                self.split.duplicates,
                self.split.misdelivered
            ),
            format!("{:.0}", self.per_second(received)),
            latencies(&self.split.all()),
            format!(
                "{}: {}",
                count(self.expected_same, self.split.same.len()),
                latencies(&self.split.same)
            ),
            format!(
                "{}: {}",
                count(self.expected_other, self.split.other.len()),
                latencies(&self.split.other)
            ),
            hop,
            latencies(&self.to_redis),
            latencies(&self.probe),
            format!(
                "{} / {} / {}",
                rooms.messages, base.messages, other.messages
            ),
            format!(
                "{:.1} KiB/s ({:.0} B per chat)",
                self.per_second(published_bytes) / 1024.0,
                published_bytes as f64 / self.sent.max(1) as f64
            ),
            format!(
                "{:.1} KiB/s x {} instance(s)",
                self.per_second(published_bytes) / 1024.0,
                self.instances
            ),
            format!(
                "{:.1} / {:.1} KiB/s",
                self.per_second(self.net_in) / 1024.0,
                self.per_second(self.net_out) / 1024.0
            ),
            format!(
                "{} s",
                join(
                    self.cpu
                        .iter()
                        .map(|d| format!("{:.2}", d.as_secs_f64()))
                        .collect()
                )
            ),
            if received == 0 {
                "no deliveries".to_owned()
            } else {
                format!("{:.2} µs", cpu_total.as_secs_f64() * 1e6 / received as f64)
            },
            format!("{:.2} s", self.redis_cpu.as_secs_f64()),
            format!(
                "{} MiB",
                join(
                    self.rss_kib
                        .iter()
                        .map(|kib| format!("{:.1}", *kib as f64 / 1024.0))
                        .collect()
                )
            ),
            self.closed_by_server.to_string(),
        ]
    }
}

/// The names of the rows, in the order of [`Scenario::cells`].
const ROWS: [&str; 21] = [
    "connect time, all clients",
    "chat messages sent",
    "the generator's lateness, due to handed over (in every latency below), p50 / p99 / max",
    "deliveries expected / received",
    "lost / duplicated / misdelivered",
    "deliveries per second",
    "latency, emit to receipt, p50 / p99 / max",
    "… receivers on the sender's instance",
    "… receivers on another instance (through Redis)",
    "the Redis hop: another instance minus the same one",
    "emit to the PUBLISH seen by a raw subscriber, p50 / p99 / max",
    "a bare hop through Redis meanwhile (raw PUBLISH to SUBSCRIBE, every 50 ms)",
    "messages published to Redis: room channels / base channel / other",
    "payload bytes published to Redis",
    "payload bytes each instance receives from Redis (its pattern subscription gets every publication)",
    "Redis network in / out (`INFO stats`)",
    "instance CPU time while sending (user + system), each",
    "instance CPU per delivery, all instances",
    "Redis CPU time while sending",
    "instance RSS after the traffic, each",
    "connections closed by the server",
];

fn markdown(args: &Args, columns: &[Scenario]) -> String {
    let cells: Vec<Vec<String>> = columns.iter().map(|s| s.cells()).collect();
    let mut out = format!(
        "Load: {} WebSocket clients in {} rooms, client i in room i mod {}, on instance i mod N \
         (\"each room on one\": on instance (i mod {}) mod N, so no delivery crosses Redis); {} \
         senders x {} msg/s for {} s, {}.\n\n| measure |",
        args.clients,
        args.rooms,
        args.rooms,
        args.rooms,
        args.senders,
        args.rate,
        args.duration,
        args.arrivals.describe()
    );
    for scenario in columns {
        out.push_str(&format!(" {} |", scenario.title()));
    }
    out.push_str(&format!("\n|---|{}\n", "---|".repeat(columns.len())));
    for (row, name) in ROWS.iter().enumerate() {
        out.push_str(&format!("| {name} |"));
        for column in &cells {
            out.push_str(&format!(" {} |", column[row]));
        }
        out.push('\n');
    }
    let command = format!(
        "cargo xtask bench socketio-cluster --clients {} --rooms {} --senders {} --rate {} \
         --duration {} --instances {}{} --arrivals {}",
        args.clients,
        args.rooms,
        args.senders,
        args.rate,
        args.duration,
        args.instances,
        if args.no_baseline {
            " --no-baseline"
        } else {
            ""
        },
        args.arrivals.flag()
    );
    let loads: Vec<String> = columns
        .iter()
        .map(|s| format!("{} ({})", s.load_average, s.title()))
        .collect();
    out.push_str(&format!(
        "\nMeasured with `{command}`: one `redis-server` (child process, no persistence), the \
         solution's release build as child processes on it (the baseline is the same binary, \
         alone on the same Redis), the clients in the bench's own process; everything shares \
         the machine's CPUs. Latencies count first receipts only; Redis' network counters \
         include the probe's (about 1 KiB/s each way). {}; load average before each \
         run: {}.\n",
        super::machine_stamp(),
        loads.join(", ")
    ));
    out
}

#[cfg(test)]
mod tests {
    use super::{Layout, Receipt, Split, msgpack_sent_at};

    #[test]
    fn sent_at_is_read_from_messagepack() {
        let with = |value: &[u8]| [b"\x84\xa4room\xa1a\xa7sent_at".as_slice(), value].concat();
        assert_eq!(msgpack_sent_at(&with(b"\x05")), Some(5));
        assert_eq!(msgpack_sent_at(&with(b"\xcd\x01\x00")), Some(256));
        assert_eq!(
            msgpack_sent_at(&with(b"\xcf\x00\x00\x00\x01\x00\x00\x00\x00")),
            Some(1 << 32)
        );
        assert_eq!(msgpack_sent_at(&with(b"\xce\x01")), None);
        assert_eq!(msgpack_sent_at(b"\x90"), None);
    }

    const LAYOUT: Layout = Layout {
        clients: 6,
        rooms: 2,
        instances: 3,
        by_room: false,
    };

    #[test]
    fn recipients_are_split_by_instance() {
        // Room 0 is clients 0, 2, 4 on instances 0, 2, 1: all of 0's recipients are elsewhere.
        assert_eq!(LAYOUT.recipients(0), (0, 2));
        let one = Layout {
            instances: 1,
            ..LAYOUT
        };
        assert_eq!(one.recipients(0), (2, 0));
        // With 2 instances, room 0's clients 0, 2, 4 are all on instance 0.
        let two = Layout {
            instances: 2,
            ..LAYOUT
        };
        assert_eq!(two.recipients(0), (2, 0));
        assert_eq!(two.recipients(1), (2, 0));
        // Each room on one instance: nobody is owed a delivery through Redis.
        let by_room = Layout {
            by_room: true,
            ..LAYOUT
        };
        assert!((0..6).all(|c| by_room.recipients(c).1 == 0));
        assert_eq!(by_room.instance(3), 1);
    }

    #[test]
    fn receipts_are_checked_and_split() {
        let r = |sender, seq, latency_ns| Receipt {
            sender,
            seq,
            latency_ns,
        };
        let two = Layout {
            clients: 4,
            rooms: 1,
            instances: 2,
            by_room: false,
        };
        let receipts = vec![
            // Client 0 (instance 0): its own chat comes back, which the contract forbids.
            vec![r(0, 0, 1)],
            // Client 1 (instance 1): sender 0 is elsewhere; seq 0 twice is a duplicate.
            vec![r(0, 0, 30), r(0, 0, 31), r(0, 1, 20)],
            // Client 2 (instance 0): sender 0 is on its instance.
            vec![r(0, 1, 5), r(0, 0, 4)],
            // Client 3: a sender that does not exist.
            vec![r(9, 0, 7)],
        ];
        let split = Split::of(two, &receipts);
        assert_eq!(
            split,
            Split {
                same: vec![4, 5],
                other: vec![20, 30],
                duplicates: 1,
                misdelivered: 2,
            }
        );
        assert_eq!(split.received(), 4);
        assert_eq!(split.all(), vec![4, 5, 20, 30]);
    }
}
