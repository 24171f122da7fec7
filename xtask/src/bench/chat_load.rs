//! The chat load the Socket.IO benches drive, on one server or on a cluster.
//!
//! The clients speak Engine.IO and Socket.IO frames by hand over tokio-tungstenite (open
//! packet, `40`, pong `3` to every ping `2`, `42N["join",room]` answered by `43N[true]`), so
//! the benches do not depend on the library they measure. A sender emits
//! `42["chat",{"room":R,"sender":I,"seq":N,"sent_at":NS}]`; the chat contract relays the object
//! (plus `from`) to the room's other members, and each receipt is recorded with its latency.
//! One thread sends every chat when it is due ([`Arrivals`]: Poisson, staggered or aligned),
//! on the operating system's clock, and records how late it was.

use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::{Duration, Instant};

use anyhow::{Context, Result, anyhow, bail, ensure};
use futures_util::{SinkExt, StreamExt};
use tokio::sync::{Semaphore, mpsc, watch};
use tokio::task::JoinHandle;
use tokio_tungstenite::tungstenite::Message;
use tokio_tungstenite::tungstenite::protocol::WebSocketConfig;

/// Handshakes in flight at once: more would only overflow the listen backlog.
pub(super) const CONNECTS_IN_FLIGHT: usize = 64;
/// Any single wait of a client (handshake frame, ack).
const STEP_LIMIT: Duration = Duration::from_secs(15);
/// After the last emit, how long we wait for deliveries still in flight.
const DRAIN_LIMIT: Duration = Duration::from_secs(5);
/// How long the readers may take to hand their receipts back once told to stop.
const FINISH_LIMIT: Duration = Duration::from_secs(15);

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

/// Where a client connects and what it shows the server on the way.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(super) struct Target {
    /// `ws://ADDR/socket.io/?EIO=4&transport=websocket`.
    pub(super) url: String,
    /// The room it joins.
    pub(super) room: String,
    /// A JWT sent in the CONNECT payload (`40{"token":"..."}`), for chapter 4's server.
    pub(super) token: Option<String>,
    /// An `Origin` header on the upgrade request, as a browser would send.
    pub(super) origin: Option<String>,
}

impl Target {
    /// No token, no Origin header: chapters 2 and 3.
    pub(super) fn plain(url: String, room: String) -> Target {
        Target {
            url,
            room,
            token: None,
            origin: None,
        }
    }
}

/// The Socket.IO CONNECT to `/`: bare, or with the token as its auth payload.
fn connect_packet(token: Option<&str>) -> String {
    match token {
        None => "40".to_owned(),
        Some(token) => format!("40{}", serde_json::json!({ "token": token })),
    }
}

/// Engine.IO handshake, Socket.IO connect to `/`, join the room with an ack.
async fn connect(target: &Target) -> Result<(Ws, Duration)> {
    use tokio_tungstenite::tungstenite::client::IntoClientRequest;
    let started = Instant::now();
    let mut request = target.url.as_str().into_client_request()?;
    if let Some(origin) = &target.origin {
        request.headers_mut().insert("origin", origin.parse()?);
    }
    // TCP_NODELAY on the client too: an emit must not wait for the previous frame's ACK. Small
    // buffers: 10,000 clients share the machine with the server they measure, and tungstenite's
    // default 128 KiB read buffer is zero-filled on the first read.
    let config = WebSocketConfig::default()
        .read_buffer_size(4096)
        .write_buffer_size(0);
    let (mut ws, _) =
        tokio_tungstenite::connect_async_with_config(request, Some(config), true).await?;
    let open = next_text(&mut ws, "the open packet").await?;
    ensure!(
        open.starts_with("0{"),
        "expected the open packet `0{{...}}`, got {open}"
    );
    ws.send(Message::text(connect_packet(target.token.as_deref())))
        .await?;
    let connected = next_text(&mut ws, "the namespace connect `40{...}`").await?;
    ensure!(
        connected.starts_with("40{"),
        "expected `40{{\"sid\":...}}`, got {connected}"
    );
    let room = &target.room;
    ws.send(Message::text(format!("420[\"join\",\"{room}\"]")))
        .await?;
    let ack = next_text(&mut ws, "the join ack").await?;
    ensure!(
        ack == "430[true]",
        "expected the join ack `430[true]`, got {ack}"
    );
    Ok((ws, started.elapsed()))
}

/// Connects client i to `targets[i]`, [`CONNECTS_IN_FLIGHT`] at a time: the sockets in order,
/// and each one's connect time.
pub(super) async fn connect_all(targets: Vec<Target>) -> Result<(Vec<Ws>, Vec<Duration>)> {
    let gate = Arc::new(Semaphore::new(CONNECTS_IN_FLIGHT));
    let mut pending = Vec::with_capacity(targets.len());
    for target in targets {
        let gate = gate.clone();
        pending.push(tokio::spawn(async move {
            let _permit = gate.acquire_owned().await.expect("never closed");
            connect(&target).await
        }));
    }
    let mut sockets = Vec::with_capacity(pending.len());
    let mut times = Vec::with_capacity(pending.len());
    for (i, task) in pending.into_iter().enumerate() {
        let (ws, took) = task.await?.with_context(|| {
            format!("client {i} failed to connect (is the fd limit high enough?)")
        })?;
        sockets.push(ws);
        times.push(took);
    }
    Ok((sockets, times))
}

/// One chat a client received: who sent it, its sequence number, emit-to-receipt time.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(super) struct Receipt {
    pub(super) sender: u32,
    pub(super) seq: u32,
    pub(super) latency_ns: u64,
}

/// The unsigned number after `"name":` in a frame, without a full JSON parse.
pub(super) fn number_field(frame: &str, name: &str) -> Option<u64> {
    let key = format!("\"{name}\":");
    let rest = &frame[frame.find(&key)? + key.len()..];
    let end = rest
        .find(|c: char| !c.is_ascii_digit())
        .unwrap_or(rest.len());
    rest[..end].parse().ok()
}

/// The receipt in a relayed chat frame received at `now_ns` (since the bench's epoch).
fn receipt(frame: &str, now_ns: u64) -> Option<Receipt> {
    let sent = number_field(frame, "sent_at")?;
    Some(Receipt {
        sender: u32::try_from(number_field(frame, "sender")?).ok()?,
        seq: u32::try_from(number_field(frame, "seq")?).ok()?,
        latency_ns: now_ns.saturating_sub(sent),
    })
}

/// When each sender's chats are due, relative to the others'.
#[derive(Debug, Clone, Copy, PartialEq, Eq, clap::ValueEnum)]
pub enum Arrivals {
    /// Each sender at a fixed period, the senders spread evenly over it (sender k of S starts
    /// k/S of a period late): the steadiest stream a rate can make.
    Staggered,
    /// Each sender at random instants (exponential gaps, mean one period, seeded so every run
    /// and server gets the same ones), as independent people typing: chats sometimes cluster.
    Poisson,
    /// Each sender at a fixed period, all starting at the same instant: every period, one chat
    /// per sender arrives at once, and the last delivery of each burst waits for the whole
    /// burst.
    Aligned,
}

impl Arrivals {
    /// The instants (since the start) at which sender `k` of `count` sends chats `0..chats`.
    fn due(self, period: Duration, k: usize, count: usize, chats: u64) -> Vec<Duration> {
        let fixed = |offset: Duration| -> Vec<Duration> {
            (0..chats)
                .map(|seq| offset + period.saturating_mul(u32::try_from(seq).unwrap_or(u32::MAX)))
                .collect()
        };
        match self {
            Arrivals::Aligned => fixed(Duration::ZERO),
            Arrivals::Staggered => fixed(period.mul_f64(k as f64 / count.max(1) as f64)),
            Arrivals::Poisson => {
                let mut random = SplitMix64(k as u64);
                let mut at = Duration::ZERO;
                (0..chats)
                    .map(|_| {
                        // Inverse transform: -ln(U) is exponential with mean 1, U in (0, 1].
                        let uniform = (random.next() >> 11) as f64 / (1u64 << 53) as f64;
                        at += period.mul_f64(-(1.0 - uniform).ln());
                        at
                    })
                    .collect()
            }
        }
    }

    /// How the footers name it.
    pub(super) fn describe(self) -> &'static str {
        match self {
            Arrivals::Staggered => {
                "each sender at a fixed period, the senders spread evenly over it (`--arrivals staggered`)"
            }
            Arrivals::Poisson => {
                "each sender at random instants, exponential gaps of one period on average \
                 (`--arrivals poisson`)"
            }
            Arrivals::Aligned => {
                "each sender at a fixed period, all starting together, one burst a period \
                 (`--arrivals aligned`)"
            }
        }
    }

    /// The command-line value, as clap spells it.
    pub(super) fn flag(self) -> String {
        clap::ValueEnum::to_possible_value(&self)
            .map(|value| value.get_name().to_owned())
            .unwrap_or_default()
    }
}

/// A small seeded generator (SplitMix64, Steele et al. 2014): the same schedule on every run
/// without a dependency.
struct SplitMix64(u64);

impl SplitMix64 {
    fn next(&mut self) -> u64 {
        self.0 = self.0.wrapping_add(0x9E37_79B9_7F4A_7C15);
        let mut z = self.0;
        z = (z ^ (z >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
        z = (z ^ (z >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
        z ^ (z >> 31)
    }
}

/// What [`Traffic::send`] sent.
pub(super) struct Sent {
    pub(super) chats: u64,
    /// How late the generator handed each chat over, after the instant it was due (ns, sorted):
    /// what the latencies include that is the generator's, not the server's.
    pub(super) late_ns: Vec<u64>,
}

/// Connected clients reading and recording chats; any of them can be made to send.
pub(super) struct Traffic {
    epoch: Instant,
    received: Arc<AtomicU64>,
    closed: Arc<AtomicU64>,
    stop: watch::Sender<bool>,
    readers: Vec<JoinHandle<Vec<Receipt>>>,
    outboxes: Vec<mpsc::UnboundedSender<String>>,
}

impl Traffic {
    /// Every client reads until told to stop (answering pings), and writes through a queue.
    pub(super) fn start(sockets: Vec<Ws>) -> Traffic {
        let epoch = Instant::now();
        let received = Arc::new(AtomicU64::new(0));
        let closed = Arc::new(AtomicU64::new(0));
        let (stop, stopped) = watch::channel(false);
        let mut readers = Vec::with_capacity(sockets.len());
        let mut outboxes = Vec::with_capacity(sockets.len());
        for ws in sockets {
            let (mut sink, mut stream) = ws.split();
            let (outbox, mut queue) = mpsc::unbounded_channel::<String>();
            tokio::spawn(async move {
                while let Some(frame) = queue.recv().await {
                    if sink.send(Message::text(frame)).await.is_err() {
                        break;
                    }
                }
            });
            outboxes.push(outbox.clone());
            let (received, closed, mut stopped) =
                (received.clone(), closed.clone(), stopped.clone());
            readers.push(tokio::spawn(async move {
                let mut receipts = Vec::new();
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
                                let now = epoch.elapsed().as_nanos() as u64;
                                if let Some(receipt) = receipt(text, now) {
                                    receipts.push(receipt);
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
                receipts
            }));
        }
        Traffic {
            epoch,
            received,
            closed,
            stop,
            readers,
            outboxes,
        }
    }

    /// Clients `senders[k].0` emit `chat` to their room `senders[k].1`, `rate` per second each
    /// on average for `duration` seconds, at the instants `arrivals` gives.
    ///
    /// One thread keeps every sender's schedule and sleeps until each chat is due with the
    /// operating system's clock (microseconds), not tokio's timer: the timer rounds every
    /// deadline up to the next millisecond, and that rounding would be counted in every
    /// latency as if the server had caused it.
    pub(super) async fn send(
        &self,
        senders: &[(usize, String)],
        rate: u32,
        duration: u64,
        arrivals: Arrivals,
    ) -> Result<Sent> {
        let per_sender = u64::from(rate) * duration;
        let period = Duration::from_secs_f64(1.0 / f64::from(rate));
        let count = senders.len();
        // Every chat of every sender, in the order they are due: (due, sender, seq).
        let mut schedule: Vec<(Duration, usize, u64)> = (0..count)
            .flat_map(|k| {
                let due = arrivals.due(period, k, count, per_sender);
                due.into_iter().zip(0..).map(move |(at, seq)| (at, k, seq))
            })
            .collect();
        schedule.sort_unstable();
        let epoch = self.epoch;
        let outboxes: Vec<_> = senders
            .iter()
            .map(|(client, room)| (*client, room.clone(), self.outboxes[*client].clone()))
            .collect();
        let clock = tokio::task::spawn_blocking(move || {
            let start = epoch.elapsed();
            let mut late_ns = Vec::with_capacity(schedule.len());
            for (at, k, seq) in schedule {
                let (client, room, outbox) = &outboxes[k];
                // Each chat is stamped with the instant it was *meant* to leave, not the one
                // it left: a generator held up (a busy CPU, a full socket) then counts the
                // hold in every chat it delayed, not in one (coordinated omission, see
                // load-testing.md). Late chats go at once.
                let sent_at = intended_send(start, at);
                let now = epoch.elapsed().as_nanos() as u64;
                if sent_at > now {
                    std::thread::sleep(Duration::from_nanos(sent_at - now));
                }
                let frame = format!(
                    "42[\"chat\",{{\"room\":\"{room}\",\"sender\":{client},\"seq\":{seq},\
                     \"sent_at\":{sent_at}}}]"
                );
                late_ns.push((epoch.elapsed().as_nanos() as u64).saturating_sub(sent_at));
                if outbox.send(frame).is_err() {
                    break;
                }
            }
            late_ns
        });
        let limit = Duration::from_secs(duration + 30);
        let mut late_ns = tokio::time::timeout(limit, clock)
            .await
            .map_err(|_| anyhow!("the senders did not finish within {limit:?}"))??;
        late_ns.sort_unstable();
        Ok(Sent {
            chats: per_sender * count as u64,
            late_ns,
        })
    }

    /// Waits until `expected` chats were received, or [`DRAIN_LIMIT`] (what never comes is loss).
    pub(super) async fn drain(&self, expected: u64) {
        let started = Instant::now();
        while self.received() < expected && started.elapsed() < DRAIN_LIMIT {
            tokio::time::sleep(Duration::from_millis(20)).await;
        }
    }

    /// The instant the `sent_at` of every chat counts from.
    pub(super) fn epoch(&self) -> Instant {
        self.epoch
    }

    /// Chats received so far, duplicates included.
    pub(super) fn received(&self) -> u64 {
        self.received.load(Ordering::Relaxed)
    }

    /// Stops the readers: each client's receipts, in client order, and how many connections
    /// the server closed.
    pub(super) async fn finish(self) -> Result<(Vec<Vec<Receipt>>, u64)> {
        let _ = self.stop.send(true);
        let readers = self.readers;
        let receipts = tokio::time::timeout(FINISH_LIMIT, async {
            let mut all = Vec::with_capacity(readers.len());
            for reader in readers {
                all.push(reader.await?);
            }
            Ok::<_, anyhow::Error>(all)
        })
        .await
        .map_err(|_| anyhow!("the readers did not stop within {FINISH_LIMIT:?}"))??;
        Ok((receipts, self.closed.load(Ordering::Relaxed)))
    }
}

// ANCHOR: intended_send
/// Nanoseconds since the epoch at which a chat is due: the schedule started at `start` (since
/// the epoch) and the chat is due `at` into it (`seq × period` for a fixed period).
fn intended_send(start: Duration, at: Duration) -> u64 {
    (start + at).as_nanos() as u64
}
// ANCHOR_END: intended_send

/// The value below which `p` percent of the sorted `values` fall (nearest rank).
pub(super) fn percentile<T: Copy>(sorted: &[T], p: f64) -> Option<T> {
    if sorted.is_empty() {
        return None;
    }
    let rank = ((p / 100.0) * sorted.len() as f64).ceil() as usize;
    Some(sorted[rank.clamp(1, sorted.len()) - 1])
}

/// `12.34 ms`.
pub(super) fn ms(d: Duration) -> String {
    format!("{:.2} ms", d.as_secs_f64() * 1000.0)
}

#[cfg(test)]
mod tests {
    use std::time::Duration;

    use super::{
        Arrivals, Receipt, connect_packet, intended_send, number_field, percentile, receipt,
    };

    #[test]
    fn the_token_rides_in_the_connect_payload() {
        assert_eq!(connect_packet(None), "40");
        assert_eq!(connect_packet(Some("a.b.c")), r#"40{"token":"a.b.c"}"#);
    }

    #[test]
    fn fields_are_found_in_a_relayed_chat() {
        let frame =
            r#"42["chat",{"from":"abc","room":"room-1","sender":7,"sent_at":123456,"seq":4}]"#;
        assert_eq!(number_field(frame, "sent_at"), Some(123456));
        assert_eq!(number_field(frame, "sender"), Some(7));
        assert_eq!(
            receipt(frame, 123500),
            Some(Receipt {
                sender: 7,
                seq: 4,
                latency_ns: 44
            })
        );
        assert_eq!(number_field(r#"42["chat",{"text":"hi"}]"#, "sent_at"), None);
        assert_eq!(receipt(r#"42["chat",{"sent_at":1}]"#, 2), None);
    }

    #[test]
    fn chats_are_stamped_when_they_were_due() {
        let (start, at) = (Duration::from_millis(5), Duration::from_millis(60));
        assert_eq!(intended_send(start, at), 65_000_000);
    }

    #[test]
    fn fixed_schedules_are_aligned_or_spread_over_one_period() {
        let period = Duration::from_millis(20);
        let ms = Duration::from_millis;
        let first = |arrivals: Arrivals| -> Vec<Duration> {
            (0..4).map(|k| arrivals.due(period, k, 4, 2)[0]).collect()
        };
        assert_eq!(first(Arrivals::Staggered), [ms(0), ms(5), ms(10), ms(15)]);
        assert_eq!(first(Arrivals::Aligned), [Duration::ZERO; 4]);
        assert_eq!(
            Arrivals::Staggered.due(period, 1, 4, 3),
            [ms(5), ms(25), ms(45)]
        );
    }

    #[test]
    fn poisson_arrivals_keep_the_rate_on_average_and_vary() {
        let period = Duration::from_millis(20);
        let due = Arrivals::Poisson.due(period, 3, 10, 10_000);
        assert!(due.windows(2).all(|w| w[0] <= w[1]), "in order");
        let mean = due.last().unwrap().as_secs_f64() / due.len() as f64;
        assert!((mean - 0.020).abs() < 0.001, "mean gap {mean} s, not 20 ms");
        let gaps: Vec<f64> = due
            .windows(2)
            .map(|w| (w[1] - w[0]).as_secs_f64())
            .collect();
        let short = gaps.iter().filter(|&&g| g < 0.002).count() as f64 / gaps.len() as f64;
        // Exponential: P(gap < period/10) = 1 - e^-0.1, about 9.5 %; a fixed period has none.
        assert!(
            (0.08..0.11).contains(&short),
            "{short} of the gaps under 2 ms"
        );
        assert_eq!(due, Arrivals::Poisson.due(period, 3, 10, 10_000), "seeded");
        assert_eq!(Arrivals::Poisson.flag(), "poisson");
        assert_ne!(
            due,
            Arrivals::Poisson.due(period, 4, 10, 10_000),
            "one stream per sender"
        );
    }

    #[test]
    fn percentiles_are_nearest_rank() {
        let values: Vec<u64> = (1..=100).collect();
        assert_eq!(percentile(&values, 50.0), Some(50));
        assert_eq!(percentile(&values, 99.0), Some(99));
        assert_eq!(percentile::<u64>(&[], 50.0), None);
    }
}
