//! The Redis of the cluster bench: a `redis-server` child on a free 127.0.0.1 port, in its own
//! temporary directory, without persistence; and the two raw connections the bench opens to it
//! (`INFO stats`, and a `PSUBSCRIBE` monitor that counts what the instances publish).
//!
//! The bench speaks RESP by hand over a `TcpStream` (a few lines), so xtask does not depend on
//! the Redis client the adapter under measurement uses.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::process::Stdio;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use anyhow::{Context, Result, anyhow, bail, ensure};
use tokio::io::{AsyncBufRead, AsyncBufReadExt, AsyncReadExt, AsyncWriteExt, BufReader};
use tokio::net::TcpStream;

/// How long a fresh `redis-server` may take to answer PING.
const READY_LIMIT: Duration = Duration::from_secs(10);
/// Any single answer of Redis to the bench.
const ANSWER_LIMIT: Duration = Duration::from_secs(5);

/// A running `redis-server`, stopped (and its directory removed) when dropped.
pub(super) struct RedisChild {
    child: tokio::process::Child,
    pub(super) addr: String,
    dir: PathBuf,
}

impl RedisChild {
    /// Starts `binary` on a free port and waits until it answers PING.
    pub(super) async fn start(binary: &Path) -> Result<RedisChild> {
        let port = std::net::TcpListener::bind("127.0.0.1:0")
            .and_then(|l| l.local_addr())
            .context("finding a free port for redis-server")?
            .port();
        let dir =
            std::env::temp_dir().join(format!("xtask-bench-redis-{}-{port}", std::process::id()));
        std::fs::create_dir_all(&dir).with_context(|| format!("creating {}", dir.display()))?;
        let child = tokio::process::Command::new(binary)
            .args(["--port", &port.to_string(), "--bind", "127.0.0.1"])
            .arg("--dir")
            .arg(&dir)
            .args(["--save", "", "--appendonly", "no"])
            .stdout(Stdio::null())
            .stderr(Stdio::inherit())
            .kill_on_drop(true)
            .spawn()
            .with_context(|| {
                format!(
                    "starting {} (install it: `apt install redis-server`, or pass \
                     --redis-server PATH)",
                    binary.display()
                )
            })?;
        let redis = RedisChild {
            child,
            addr: format!("127.0.0.1:{port}"),
            dir,
        };
        tokio::time::timeout(READY_LIMIT, async {
            loop {
                if let Ok(mut conn) = Conn::open(&redis.addr).await {
                    if conn.command("PING").await.is_ok() {
                        return;
                    }
                }
                tokio::time::sleep(Duration::from_millis(50)).await;
            }
        })
        .await
        .map_err(|_| anyhow!("redis-server did not answer PING within {READY_LIMIT:?}"))?;
        Ok(redis)
    }

    /// `redis://127.0.0.1:PORT`.
    pub(super) fn url(&self) -> String {
        format!("redis://{}", self.addr)
    }

    /// Its process id, for its CPU time.
    pub(super) fn pid(&self) -> Result<u32> {
        self.child.id().context("redis-server has exited")
    }

    /// The numeric fields of `INFO stats` (`total_net_input_bytes`...).
    pub(super) async fn info_stats(&self) -> Result<BTreeMap<String, u64>> {
        let mut conn = Conn::open(&self.addr).await?;
        let items = conn.command("INFO stats").await?;
        let text = String::from_utf8_lossy(items.first().context("an empty INFO answer")?);
        Ok(parse_info(&text))
    }

    /// `FLUSHALL`: every run starts from an empty Redis (no slots or buckets of the last one).
    pub(super) async fn flush_all(&self) -> Result<()> {
        Conn::open(&self.addr).await?.command("FLUSHALL").await?;
        Ok(())
    }
}

impl Drop for RedisChild {
    fn drop(&mut self) {
        let _ = self.child.start_kill();
        let _ = std::fs::remove_dir_all(&self.dir);
    }
}

/// `name:value` lines whose value is a number.
fn parse_info(text: &str) -> BTreeMap<String, u64> {
    text.lines()
        .filter_map(|line| line.trim().split_once(':'))
        .filter_map(|(k, v)| Some((k.to_owned(), v.parse().ok()?)))
        .collect()
}

/// One raw RESP connection.
struct Conn {
    reader: BufReader<TcpStream>,
}

impl Conn {
    async fn open(addr: &str) -> Result<Conn> {
        let stream = tokio::time::timeout(ANSWER_LIMIT, TcpStream::connect(addr))
            .await
            .map_err(|_| anyhow!("connecting to Redis at {addr} timed out"))??;
        stream.set_nodelay(true)?;
        Ok(Conn {
            reader: BufReader::new(stream),
        })
    }

    /// Sends an inline command (words separated by spaces) and reads one answer.
    async fn command(&mut self, line: &str) -> Result<Vec<Vec<u8>>> {
        self.reader
            .get_mut()
            .write_all(format!("{line}\r\n").as_bytes())
            .await?;
        tokio::time::timeout(ANSWER_LIMIT, read_frame(&mut self.reader))
            .await
            .map_err(|_| anyhow!("Redis did not answer `{line}` within {ANSWER_LIMIT:?}"))?
    }
}

/// One RESP answer, flattened: a simple string, integer or bulk string as one item; an array
/// (of those: replies and pushes of Pub/Sub are flat) as its items. An error fails.
async fn read_frame<R: AsyncBufRead + Unpin>(reader: &mut R) -> Result<Vec<Vec<u8>>> {
    let header = read_line(reader).await?;
    if let Some(count) = header.strip_prefix('*') {
        let count: usize = count.parse().context("a bad RESP array length")?;
        let mut items = Vec::with_capacity(count);
        for _ in 0..count {
            let line = read_line(reader).await?;
            items.push(read_item(reader, &line).await?);
        }
        return Ok(items);
    }
    Ok(vec![read_item(reader, &header).await?])
}

async fn read_item<R: AsyncBufRead + Unpin>(reader: &mut R, line: &str) -> Result<Vec<u8>> {
    match line.split_at_checked(1) {
        Some(("+" | ":", rest)) => Ok(rest.as_bytes().to_vec()),
        Some(("-", error)) => bail!("Redis answered an error: {error}"),
        Some(("$", len)) => {
            let len: i64 = len.parse().context("a bad RESP bulk length")?;
            if len < 0 {
                return Ok(Vec::new());
            }
            let mut bytes = vec![0; len as usize + 2];
            reader.read_exact(&mut bytes).await?;
            ensure!(bytes.ends_with(b"\r\n"), "a RESP bulk string without CRLF");
            bytes.truncate(len as usize);
            Ok(bytes)
        }
        _ => bail!("an unexpected RESP line {line:?}"),
    }
}

async fn read_line<R: AsyncBufRead + Unpin>(reader: &mut R) -> Result<String> {
    let mut line = String::new();
    if reader.read_line(&mut line).await? == 0 {
        bail!("Redis closed the connection");
    }
    Ok(line.trim_end_matches(['\r', '\n']).to_owned())
}

/// Messages and payload bytes seen on one channel.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub(super) struct ChannelCount {
    pub(super) messages: u64,
    pub(super) bytes: u64,
}

/// What the monitor saw: counts by channel, and each message with the time it arrived.
#[derive(Default)]
struct Seen {
    counts: BTreeMap<String, ChannelCount>,
    arrivals: Vec<(Instant, Vec<u8>)>,
}

/// A raw subscriber on a pattern, counting what is published on each channel it matches.
pub(super) struct Monitor {
    seen: Arc<Mutex<Seen>>,
    task: tokio::task::JoinHandle<()>,
}

impl Monitor {
    /// `PSUBSCRIBE pattern`, confirmed before this returns: nothing published later is missed.
    pub(super) async fn start(addr: &str, pattern: &str) -> Result<Monitor> {
        let mut conn = Conn::open(addr).await?;
        let confirmation = conn.command(&format!("PSUBSCRIBE {pattern}")).await?;
        ensure!(
            confirmation.first().map(Vec::as_slice) == Some(b"psubscribe".as_slice()),
            "PSUBSCRIBE was not confirmed"
        );
        let seen = Arc::new(Mutex::new(Seen::default()));
        let recorded = seen.clone();
        let task = tokio::spawn(async move {
            while let Ok(items) = read_frame(&mut conn.reader).await {
                let [kind, _pattern, channel, payload] = items.as_slice() else {
                    continue;
                };
                if kind == b"pmessage" {
                    let arrived = Instant::now();
                    let channel = String::from_utf8_lossy(channel).into_owned();
                    let mut seen = recorded.lock().expect("not poisoned");
                    let count = seen.counts.entry(channel).or_default();
                    count.messages += 1;
                    count.bytes += payload.len() as u64;
                    seen.arrivals.push((arrived, payload.clone()));
                }
            }
        });
        Ok(Monitor { seen, task })
    }

    /// What was counted so far, by channel.
    pub(super) fn counts(&self) -> BTreeMap<String, ChannelCount> {
        self.seen.lock().expect("not poisoned").counts.clone()
    }

    /// Every message so far, with the time it arrived here.
    pub(super) fn arrivals(&self) -> Vec<(Instant, Vec<u8>)> {
        self.seen.lock().expect("not poisoned").arrivals.clone()
    }
}

impl Drop for Monitor {
    fn drop(&mut self) {
        self.task.abort();
    }
}

/// The floor of a hop through Redis on this machine, now: a raw connection publishes a
/// timestamp on a channel of its own every `period`, another subscribed to it records how long
/// each took to come back. Two process hops (bench, Redis, bench), as the adapter's
/// (instance, Redis, instance), without the adapter's work.
pub(super) struct Probe {
    stop: tokio::sync::watch::Sender<bool>,
    publisher: tokio::task::JoinHandle<Result<()>>,
    subscriber: tokio::task::JoinHandle<()>,
    latencies: Arc<Mutex<Vec<u64>>>,
}

/// The probe's channel: outside the monitor's pattern, so it is not counted as the adapter's.
const PROBE_CHANNEL: &str = "xtask-bench-probe";

impl Probe {
    /// Subscribed (confirmed) before this returns, then publishing every `period`.
    pub(super) async fn start(addr: &str, period: Duration) -> Result<Probe> {
        let mut subscriber = Conn::open(addr).await?;
        subscriber
            .command(&format!("SUBSCRIBE {PROBE_CHANNEL}"))
            .await?;
        let mut publisher = Conn::open(addr).await?;
        let epoch = Instant::now();
        let (stop, mut stopped) = tokio::sync::watch::channel(false);
        let latencies = Arc::new(Mutex::new(Vec::new()));
        let recorded = latencies.clone();
        let subscriber = tokio::spawn(async move {
            while let Ok(items) = read_frame(&mut subscriber.reader).await {
                if let [kind, _channel, payload] = items.as_slice() {
                    let sent = String::from_utf8_lossy(payload).parse::<u64>().ok();
                    if let (b"message", Some(sent)) = (kind.as_slice(), sent) {
                        let now = epoch.elapsed().as_nanos() as u64;
                        recorded
                            .lock()
                            .expect("not poisoned")
                            .push(now.saturating_sub(sent));
                    }
                }
            }
        });
        let publisher = tokio::spawn(async move {
            let mut tick = tokio::time::interval(period);
            loop {
                tokio::select! {
                    _ = stopped.changed() => return Ok(()),
                    _ = tick.tick() => {}
                }
                let sent = epoch.elapsed().as_nanos();
                publisher
                    .command(&format!("PUBLISH {PROBE_CHANNEL} {sent}"))
                    .await?;
            }
        });
        Ok(Probe {
            stop,
            publisher,
            subscriber,
            latencies,
        })
    }

    /// Stops it (after a moment for the last one to come back): the sorted latencies, ns.
    pub(super) async fn finish(self) -> Result<Vec<u64>> {
        let _ = self.stop.send(true);
        self.publisher.await??;
        tokio::time::sleep(Duration::from_millis(100)).await;
        self.subscriber.abort();
        let mut latencies = std::mem::take(&mut *self.latencies.lock().expect("not poisoned"));
        latencies.sort_unstable();
        Ok(latencies)
    }
}

#[cfg(test)]
mod tests {
    use super::{parse_info, read_frame};

    #[tokio::test]
    async fn resp_frames_are_flattened() {
        let mut input: &[u8] =
            b"*4\r\n$8\r\npmessage\r\n$11\r\nsocket.io#*\r\n$9\r\nsocket.io\r\n$4\r\na\r\nb\r\n+PONG\r\n:3\r\n-ERR no\r\n";
        let mut reader = tokio::io::BufReader::new(&mut input);
        let items = read_frame(&mut reader).await.unwrap();
        assert_eq!(
            items,
            vec![
                b"pmessage".to_vec(),
                b"socket.io#*".to_vec(),
                b"socket.io".to_vec(),
                b"a\r\nb".to_vec()
            ]
        );
        assert_eq!(
            read_frame(&mut reader).await.unwrap(),
            vec![b"PONG".to_vec()]
        );
        assert_eq!(read_frame(&mut reader).await.unwrap(), vec![b"3".to_vec()]);
        assert!(read_frame(&mut reader).await.is_err());
    }

    #[test]
    fn info_keeps_the_numbers() {
        let info = parse_info("# Stats\r\ntotal_net_input_bytes:1234\r\nx:abc\r\n");
        assert_eq!(info.get("total_net_input_bytes"), Some(&1234));
        assert_eq!(info.len(), 1);
    }
}
