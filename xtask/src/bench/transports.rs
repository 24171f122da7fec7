//! `cargo xtask bench transports`: bytes per message and delivery latency of chapter 1's
//! four transports, measured against the course's solution served in-process on 127.0.0.1.
//!
//! Every client speaks raw HTTP/1.1 or WebSocket over its own `TcpStream`, so the bytes it
//! counts are exactly the bytes that crossed its socket, both directions. Messages are
//! published through the feed (what `POST /messages` does after validation) at a fixed rate;
//! each carries its publication time, so a client computes the latency when it parses it.

use std::fmt::Write as _;
use std::time::{Duration, Instant};

use anyhow::{Context, Result, bail};
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpStream;
use transports::{AppState, Config};

/// Subscribers per run.
const CLIENTS: usize = 100;
/// Short polling's interval.
const POLL_EVERY: Duration = Duration::from_millis(100);
/// (messages per second, messages published): about 5, 2 and 1 seconds per run.
const RATES: [(u64, u64); 3] = [(1, 5), (100, 200), (1000, 1000)];
/// Text length of every message: a 16-digit timestamp, a bar and padding.
const TEXT_CHARS: usize = 32;

#[derive(Clone, Copy, PartialEq, Eq, Debug)]
enum Transport {
    ShortPoll,
    LongPoll,
    Sse,
    WebSocket,
}

impl Transport {
    const ALL: [Transport; 4] = [
        Transport::ShortPoll,
        Transport::LongPoll,
        Transport::Sse,
        Transport::WebSocket,
    ];

    fn name(self) -> &'static str {
        match self {
            Transport::ShortPoll => "short polling (every 100 ms)",
            Transport::LongPoll => "long polling",
            Transport::Sse => "Server-Sent Events",
            Transport::WebSocket => "WebSocket",
        }
    }
}

/// What one client saw during one run.
#[derive(Default)]
struct ClientStats {
    /// Bytes of connection setup (SSE request and response headers, WebSocket handshake).
    setup_bytes: u64,
    /// Bytes after setup, both directions.
    bytes: u64,
    messages: u64,
    latencies_us: Vec<u64>,
}

struct Row {
    transport: Transport,
    rate: u64,
    bytes_per_message: f64,
    setup_bytes: u64,
    p50_ms: f64,
    p99_ms: f64,
    delivered: u64,
    expected: u64,
}

pub fn run() -> Result<()> {
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
        .context("starting the tokio runtime")?;
    let started = Instant::now();
    let rows = runtime.block_on(async {
        let mut rows = Vec::new();
        for transport in Transport::ALL {
            for (rate, count) in RATES {
                crate::ui::step(&format!(
                    "{}: {CLIENTS} clients, {count} messages at {rate}/s",
                    transport.name()
                ));
                rows.push(measure(transport, rate, count).await?);
            }
        }
        anyhow::Ok(rows)
    })?;
    let table = render(&rows);
    println!("\n{table}");
    let path = crate::workspace::root().join("book/measurements/transports.md");
    std::fs::create_dir_all(path.parent().expect("a parent"))?;
    std::fs::write(&path, &table).with_context(|| format!("writing {}", path.display()))?;
    println!(
        "written to {} in {:.0} s",
        path.display(),
        started.elapsed().as_secs_f64()
    );
    Ok(())
}

/// One run: a fresh server, `CLIENTS` clients of one transport, `count` messages at `rate`.
async fn measure(transport: Transport, rate: u64, count: u64) -> Result<Row> {
    let config = Config {
        history: 10_000,
        client_queue: 4096,
        ..Config::default()
    };
    let state = AppState::new(config);
    let feed = state.feed.clone();
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await?;
    let addr = listener.local_addr()?;
    let (stop, stopped) = tokio::sync::oneshot::channel::<()>();
    let server = tokio::spawn(transports::serve(listener, state, async move {
        let _ = stopped.await;
    }));
    let epoch = Instant::now();

    let mut clients = Vec::new();
    for _ in 0..CLIENTS {
        let stream = TcpStream::connect(addr).await?;
        stream.set_nodelay(true)?;
        clients.push(Client::connect(transport, stream).await?);
    }
    let mut tasks = tokio::task::JoinSet::new();
    for client in clients {
        tasks.spawn(client.receive(count, epoch));
    }
    let mut ticker = tokio::time::interval(Duration::from_micros(1_000_000 / rate));
    for _ in 0..count {
        ticker.tick().await;
        let micros = epoch.elapsed().as_micros();
        let text = format!("{micros:016}|");
        feed.publish(format!("{text:-<TEXT_CHARS$}"));
    }
    let results = tokio::time::timeout(Duration::from_secs(30), tasks.join_all())
        .await
        .context("clients did not receive every message within 30 s")?;
    let _ = stop.send(());
    let _ = tokio::time::timeout(Duration::from_secs(5), server).await;

    let mut stats = Vec::new();
    for result in results {
        stats.push(result?);
    }
    let delivered: u64 = stats.iter().map(|s| s.messages).sum();
    let bytes: u64 = stats.iter().map(|s| s.bytes).sum();
    let mut latencies: Vec<u64> = stats.iter().flat_map(|s| s.latencies_us.clone()).collect();
    latencies.sort_unstable();
    if latencies.is_empty() {
        bail!("{}: no message delivered", transport.name());
    }
    let pct = |p: f64| {
        let i = ((latencies.len() as f64 - 1.0) * p).round() as usize;
        latencies[i] as f64 / 1000.0
    };
    Ok(Row {
        transport,
        rate,
        bytes_per_message: bytes as f64 / delivered as f64,
        setup_bytes: stats.first().map_or(0, |s| s.setup_bytes),
        p50_ms: pct(0.50),
        p99_ms: pct(0.99),
        delivered,
        expected: count * CLIENTS as u64,
    })
}

/// A client's socket, counting every byte it reads and writes.
struct Client {
    transport: Transport,
    stream: TcpStream,
    buffer: Vec<u8>,
    stats: ClientStats,
}

impl Client {
    /// Opens the connection; for SSE and WebSocket, completes the setup (counted apart).
    async fn connect(transport: Transport, stream: TcpStream) -> Result<Client> {
        let mut client = Client {
            transport,
            stream,
            buffer: Vec::new(),
            stats: ClientStats::default(),
        };
        match transport {
            Transport::ShortPoll | Transport::LongPoll => {}
            Transport::Sse => {
                client
                    .write(b"GET /sse HTTP/1.1\r\nHost: 127.0.0.1\r\nAccept: text/event-stream\r\n\r\n")
                    .await?;
                client.read_head().await?;
            }
            Transport::WebSocket => {
                client
                    .write(
                        b"GET /ws HTTP/1.1\r\nHost: 127.0.0.1\r\nUpgrade: websocket\r\n\
                          Connection: Upgrade\r\nSec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\n\
                          Sec-WebSocket-Version: 13\r\n\r\n",
                    )
                    .await?;
                let head = client.read_head().await?;
                if !head.starts_with("HTTP/1.1 101") {
                    bail!("the WebSocket upgrade was refused: {head}");
                }
            }
        }
        // What was counted so far is setup, not per-message cost.
        client.stats.setup_bytes = client.stats.bytes;
        client.stats.bytes = 0;
        Ok(client)
    }

    async fn receive(mut self, count: u64, epoch: Instant) -> Result<ClientStats> {
        let mut cursor = 0u64;
        while cursor < count {
            let received = |epoch: Instant| epoch.elapsed().as_micros() as u64;
            // The time is taken when the answer has arrived: for short polling, before the
            // wait for the next poll, which is not part of the message's latency.
            let (bodies, now) = match self.transport {
                Transport::ShortPoll => {
                    let next = tokio::time::Instant::now() + POLL_EVERY;
                    let body = self.get(&format!("/poll?after={cursor}")).await?;
                    let now = received(epoch);
                    tokio::time::sleep_until(next).await;
                    (vec![body], now)
                }
                Transport::LongPoll => {
                    let body = self
                        .get(&format!("/long-poll?after={cursor}&timeout_ms=20000"))
                        .await?;
                    (vec![body], received(epoch))
                }
                Transport::Sse => (vec![self.next_sse_data().await?], received(epoch)),
                Transport::WebSocket => (vec![self.next_ws_text().await?], received(epoch)),
            };
            for body in bodies {
                for message in parse_messages(&body)? {
                    if message.id <= cursor {
                        continue;
                    }
                    cursor = message.id;
                    self.stats.messages += 1;
                    let sent: u64 = message.text[..16].parse().context("a timestamp")?;
                    self.stats.latencies_us.push(now.saturating_sub(sent));
                }
            }
        }
        Ok(self.stats)
    }

    async fn write(&mut self, bytes: &[u8]) -> Result<()> {
        self.stream.write_all(bytes).await?;
        self.stats.bytes += bytes.len() as u64;
        Ok(())
    }

    async fn fill(&mut self) -> Result<()> {
        let mut chunk = [0u8; 16 * 1024];
        let n = self.stream.read(&mut chunk).await?;
        if n == 0 {
            bail!("the server closed the connection");
        }
        self.stats.bytes += n as u64;
        self.buffer.extend_from_slice(&chunk[..n]);
        Ok(())
    }

    /// Reads up to the end of the response head; returns it.
    async fn read_head(&mut self) -> Result<String> {
        loop {
            if let Some(end) = find(&self.buffer, b"\r\n\r\n") {
                let head = String::from_utf8_lossy(&self.buffer[..end]).into_owned();
                self.buffer.drain(..end + 4);
                return Ok(head);
            }
            self.fill().await?;
        }
    }

    /// One GET on the keep-alive connection; the body (empty for 204).
    async fn get(&mut self, path: &str) -> Result<String> {
        self.write(format!("GET {path} HTTP/1.1\r\nHost: 127.0.0.1\r\n\r\n").as_bytes())
            .await?;
        let head = self.read_head().await?;
        let length = head
            .lines()
            .find_map(|l| {
                let (name, value) = l.split_once(':')?;
                name.eq_ignore_ascii_case("content-length")
                    .then(|| value.trim().parse::<usize>().ok())?
            })
            .unwrap_or(0);
        while self.buffer.len() < length {
            self.fill().await?;
        }
        let body: Vec<u8> = self.buffer.drain(..length).collect();
        Ok(String::from_utf8(body)?)
    }

    /// The `data:` of the next SSE event, de-chunking the body as it goes.
    async fn next_sse_data(&mut self) -> Result<String> {
        loop {
            // The buffer holds raw chunked bytes; events never span chunks here (axum
            // writes one chunk per event), so read one chunk at a time.
            if let Some(line_end) = find(&self.buffer, b"\r\n") {
                let size_text = String::from_utf8_lossy(&self.buffer[..line_end]).into_owned();
                let size = usize::from_str_radix(size_text.trim(), 16)
                    .with_context(|| format!("a chunk size, got {size_text:?}"))?;
                let total = line_end + 2 + size + 2;
                if self.buffer.len() >= total {
                    let chunk: Vec<u8> = self.buffer.drain(..total).collect();
                    let text = String::from_utf8_lossy(&chunk[line_end + 2..line_end + 2 + size])
                        .into_owned();
                    if let Some(data) = text.lines().find_map(|l| l.strip_prefix("data: ")) {
                        return Ok(format!("[{data}]"));
                    }
                    continue; // retry:, keep-alive
                }
            }
            self.fill().await?;
        }
    }

    /// The payload of the next text frame (server frames are never masked).
    async fn next_ws_text(&mut self) -> Result<String> {
        loop {
            if self.buffer.len() >= 2 {
                let (header, length) = match self.buffer[1] & 0x7f {
                    126 if self.buffer.len() >= 4 => (
                        4,
                        u16::from_be_bytes([self.buffer[2], self.buffer[3]]) as usize,
                    ),
                    126 | 127 => (usize::MAX, 0),
                    n => (2, n as usize),
                };
                if header != usize::MAX && self.buffer.len() >= header + length {
                    let opcode = self.buffer[0] & 0x0f;
                    let frame: Vec<u8> = self.buffer.drain(..header + length).collect();
                    if opcode == 1 {
                        let text = String::from_utf8(frame[header..].to_vec())?;
                        return Ok(format!("[{text}]"));
                    }
                    continue; // ping
                }
            }
            self.fill().await?;
        }
    }
}

#[derive(serde::Deserialize)]
struct Delivered {
    id: u64,
    text: String,
}

fn parse_messages(body: &str) -> Result<Vec<Delivered>> {
    if body.trim().is_empty() {
        return Ok(Vec::new());
    }
    serde_json::from_str(body).with_context(|| format!("a JSON array of messages, got {body:?}"))
}

fn find(haystack: &[u8], needle: &[u8]) -> Option<usize> {
    haystack.windows(needle.len()).position(|w| w == needle)
}

fn render(rows: &[Row]) -> String {
    let profile = if cfg!(debug_assertions) {
        "dev profile (unoptimized)"
    } else {
        "release profile"
    };
    let sample = format!("{{\"id\":123,\"text\":\"{}\"}}", "x".repeat(TEXT_CHARS));
    // The same messages as the 1000/s runs (ids 1 to 1000): 2 bytes of frame header each.
    let (_, last) = RATES[RATES.len() - 1];
    let floor = (1..=last)
        .map(|id| 2 + format!("{{\"id\":{id},\"text\":\"{}\"}}", "x".repeat(TEXT_CHARS)).len())
        .sum::<usize>() as f64
        / last as f64;
    let mut out = String::new();
    let _ = writeln!(
        out,
        "| transport | messages/s | bytes on the wire per message | latency p50 | latency p99 | delivered |"
    );
    let _ = writeln!(out, "|---|---:|---:|---:|---:|---:|");
    for row in rows {
        let _ = writeln!(
            out,
            "| {} | {} | {:.0} | {:.2} ms | {:.2} ms | {}/{} |",
            row.transport.name(),
            row.rate,
            row.bytes_per_message,
            row.p50_ms,
            row.p99_ms,
            row.delivered,
            row.expected
        );
    }
    let _ = writeln!(
        out,
        "| floor: the WebSocket frame alone | {} | {floor:.0} | | | |",
        RATES[RATES.len() - 1].0
    );
    let setup = |t: Transport| {
        rows.iter()
            .find(|r| r.transport == t)
            .map_or(0, |r| r.setup_bytes)
    };
    let _ = write!(
        out,
        "\n*{CLIENTS} subscribers per run on 127.0.0.1, messages of {TEXT_CHARS} characters \
         (`{sample}` is {} bytes of JSON), server and clients in one process ({profile}); \
         {}.*\n\n\
         *Bytes: every byte each client's socket read and wrote during the run, divided by the \
         messages it received, averaged over the clients. Polling counts each request and \
         response whole (a minimal request with only a `Host` header; a browser adds several \
         hundred bytes of headers to each). SSE and WebSocket count what crossed the socket \
         after the connection was set up; the setup is paid once per connection and not \
         included: {} bytes for SSE (request and response headers), {} bytes for the WebSocket \
         handshake. The floor is a text frame from the server: 2 bytes of header and the \
         payload, averaged over the ids of the 1000/s runs (1 to 1000). Latency: from publication to the client having parsed the message.*\n",
        sample.len(),
        crate::bench::machine_stamp(),
        setup(Transport::Sse),
        setup(Transport::WebSocket),
    );
    out
}
