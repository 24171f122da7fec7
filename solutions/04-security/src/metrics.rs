//! `/metrics`: what the server counts, in Prometheus' text exposition format.
//!
//! [`Metrics`] is chapter 2's [`Observer`]: the core calls it on the hot path, so each call is
//! a map lookup and an increment under a short lock. Names follow the npm package
//! `socket.io-prometheus-metrics` that socket.io users know (`socket_io_connected`,
//! `socket_io_events_received_total{namespace,event}`, ...), with the `_total` suffix on every
//! counter as Prometheus' naming guide asks (so the byte counters are
//! `socket_io_receive_bytes_total`, not the package's `socket_io_receive_bytes`).
//!
//! Label values come from a closed set. An event name is chosen by the client: counted as is,
//! a client sending random names would create one time series per name and exhaust the
//! monitoring system's memory. Unknown events are counted as `other`.

use std::collections::BTreeMap;
use std::fmt::Write as _;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use socketio::observe::{ConnectErrorKind, Observer};

use crate::histogram::Histogram;

/// The events counted by name; any other is `other`.
pub const KNOWN_EVENTS: [&str; 4] = ["join", "leave", "chat", "echo"];

/// Counter families keyed by their label values.
type Family = Mutex<BTreeMap<Vec<String>, u64>>;

/// Everything `/metrics` shows; clones share the same counters.
#[derive(Clone, Default)]
pub struct Metrics(Arc<Counters>);

impl std::ops::Deref for Metrics {
    type Target = Counters;
    fn deref(&self) -> &Counters {
        &self.0
    }
}

/// The counters behind [`Metrics`].
#[derive(Default)]
pub struct Counters {
    connected: Mutex<BTreeMap<String, i64>>,
    connects: Family,
    disconnects: Family,
    events_received: Family,
    events_sent: Family,
    connect_errors: Family,
    auth_failures: Family,
    refused_events: Family,
    refused_requests: Family,
    unchecked: Family,
    receive_bytes: AtomicU64,
    transmit_bytes: AtomicU64,
    broadcast_duration: Histogram,
    adapters: Mutex<Vec<(String, Arc<scaling::Stats>)>>,
}

impl Metrics {
    /// Shows `namespace` in the gauge from the start, at 0: a dashboard then sees "no one
    /// connected" rather than no data.
    pub fn declare_namespace(&self, namespace: &str) {
        lock(&self.connected)
            .entry(namespace.to_owned())
            .or_default();
    }

    /// Shows the counters of `namespace`'s Redis adapter too.
    pub fn watch_adapter(&self, namespace: &str, stats: Arc<scaling::Stats>) {
        lock(&self.adapters).push((namespace.to_owned(), stats));
    }

    /// A token refused by the JWT middleware, by reason (`expired`, `bad signature`, ...).
    pub fn auth_failure(&self, namespace: &str, reason: &str) {
        add(&self.auth_failures, [namespace, reason], 1);
    }

    /// A connection let in without `check` (`revocation`, `connections`) being made, because
    /// Redis could not be reached.
    pub fn unchecked(&self, namespace: &str, check: &str) {
        add(&self.unchecked, [namespace, check], 1);
    }

    /// Sockets connected to `namespace` now.
    pub fn connected(&self, namespace: &str) -> i64 {
        lock(&self.connected).get(namespace).copied().unwrap_or(0)
    }

    /// The exposition, as served at `/metrics`.
    pub fn render(&self) -> String {
        let mut out = String::new();
        gauge(
            &mut out,
            "socket_io_connected",
            "Sockets connected now, per namespace.",
            &["namespace"],
            lock(&self.connected)
                .iter()
                .map(|(ns, n)| (vec![ns.clone()], *n as f64)),
        );
        let counters: [(&str, &str, &[&str], &Family); 9] = [
            (
                "socket_io_connect_total",
                "Sockets that joined a namespace.",
                &["namespace"],
                &self.connects,
            ),
            (
                "socket_io_disconnect_total",
                "Sockets that left a namespace, by reason.",
                &["namespace", "reason"],
                &self.disconnects,
            ),
            (
                "socket_io_events_received_total",
                "Events received from clients.",
                &["namespace", "event"],
                &self.events_received,
            ),
            (
                "socket_io_events_sent_total",
                "Packets queued for clients (direct and broadcast).",
                &["namespace"],
                &self.events_sent,
            ),
            (
                "socket_io_connect_errors_total",
                "CONNECT answered with CONNECT_ERROR, by message.",
                &["namespace", "reason"],
                &self.connect_errors,
            ),
            (
                "socket_io_auth_failures_total",
                "Tokens refused, by reason.",
                &["namespace", "reason"],
                &self.auth_failures,
            ),
            (
                "socket_io_rate_limited_events_total",
                "Incoming events refused by a limit, by what was done.",
                &["namespace", "action"],
                &self.refused_events,
            ),
            (
                "socket_io_refused_requests_total",
                "Handshakes and upgrades refused before any session, by HTTP status.",
                &["status"],
                &self.refused_requests,
            ),
            (
                "socket_io_unchecked_total",
                "Connections let in while Redis, needed for a check, was unreachable.",
                &["namespace", "check"],
                &self.unchecked,
            ),
        ];
        for (name, help, labels, family) in counters {
            let rows: Vec<_> = lock(family)
                .iter()
                .map(|(values, n)| (values.clone(), *n as f64))
                .collect();
            write_family(&mut out, name, "counter", help, labels, rows);
        }
        let bytes = [
            (
                "socket_io_receive_bytes_total",
                "Bytes of Socket.IO packets received.",
                &self.receive_bytes,
            ),
            (
                "socket_io_transmit_bytes_total",
                "Bytes of Socket.IO packets queued for clients.",
                &self.transmit_bytes,
            ),
        ];
        for (name, help, value) in bytes {
            let rows = [(vec![], value.load(Ordering::Relaxed) as f64)];
            write_family(&mut out, name, "counter", help, &[], rows);
        }
        self.broadcast_duration.render(
            &mut out,
            "socket_io_broadcast_duration_seconds",
            "Time to encode a broadcast and queue it for the local sockets.",
        );
        let adapters = lock(&self.adapters).clone();
        if !adapters.is_empty() {
            let row =
                |ns: &str, kind: &str, n: u64| (vec![ns.to_owned(), kind.to_owned()], n as f64);
            let errors = adapters.iter().flat_map(|(ns, stats)| {
                [
                    row(ns, "garbled", stats.garbled()),
                    row(ns, "foreign", stats.foreign()),
                    row(ns, "publish_failed", stats.publish_failures()),
                ]
            });
            write_family(
                &mut out,
                "socket_io_adapter_errors_total",
                "counter",
                "Redis adapter messages ignored or lost, by kind.",
                &["namespace", "kind"],
                errors.collect::<Vec<_>>(),
            );
            let reconnects = adapters
                .iter()
                .map(|(ns, stats)| (vec![ns.clone()], stats.reconnects() as f64));
            write_family(
                &mut out,
                "socket_io_adapter_reconnects_total",
                "counter",
                "Times the adapter's subscriber came back after losing Redis.",
                &["namespace"],
                reconnects.collect::<Vec<_>>(),
            );
            let messages = adapters.iter().flat_map(|(ns, stats)| {
                [
                    row(ns, "published", stats.published()),
                    row(ns, "received", stats.received()),
                ]
            });
            write_family(
                &mut out,
                "socket_io_adapter_messages_total",
                "counter",
                "Redis adapter messages published (accepted by Redis) and received, by direction.",
                &["namespace", "direction"],
                messages.collect::<Vec<_>>(),
            );
            let per_namespace = |value: fn(&scaling::Stats) -> f64| {
                adapters
                    .iter()
                    .map(|(ns, stats)| (vec![ns.clone()], value(stats)))
                    .collect::<Vec<_>>()
            };
            write_family(
                &mut out,
                "socket_io_adapter_queued",
                "gauge",
                "Publications waiting for Redis in the adapter's outbox.",
                &["namespace"],
                per_namespace(|s| s.queued() as f64),
            );
            // A summary without quantiles: rate(_sum) / rate(_count) is the mean lag.
            let name = "socket_io_adapter_publish_lag_seconds";
            let _ = writeln!(
                out,
                "# HELP {name} Time from an emit to Redis accepting its publication."
            );
            let _ = writeln!(out, "# TYPE {name} summary");
            for (ns, stats) in &adapters {
                let labels = label_set(&["namespace"], std::slice::from_ref(ns));
                let _ = writeln!(out, "{name}_sum{labels} {}", stats.publish_lag_seconds());
                let _ = writeln!(out, "{name}_count{labels} {}", stats.published());
            }
        }
        out
    }
}

impl Observer for Metrics {
    fn request_refused(&self, status: u16, _message: &str) {
        add(&self.refused_requests, [status.to_string().as_str()], 1);
    }

    fn packet_in(&self, nsp: &str, event: Option<&str>, bytes: usize) {
        self.receive_bytes
            .fetch_add(bytes as u64, Ordering::Relaxed);
        if let Some(event) = event {
            add(&self.events_received, [nsp, known_event(event)], 1);
        }
    }

    fn packet_out(&self, nsp: &str, bytes: usize) {
        self.transmit_bytes
            .fetch_add(bytes as u64, Ordering::Relaxed);
        add(&self.events_sent, [nsp], 1);
    }

    fn connect_error(&self, nsp: &str, kind: ConnectErrorKind, message: &str) {
        // An unknown namespace is the client's choice of name: not a label value.
        let (nsp, reason) = match kind {
            ConnectErrorKind::InvalidNamespace => ("unknown", "invalid namespace"),
            ConnectErrorKind::Refused => (nsp, message),
        };
        add(&self.connect_errors, [nsp, reason], 1);
    }

    fn socket_connected(&self, nsp: &str, _recovered: bool) {
        *lock(&self.connected).entry(nsp.to_owned()).or_default() += 1;
        add(&self.connects, [nsp], 1);
    }

    fn socket_disconnected(&self, nsp: &str, reason: &str) {
        *lock(&self.connected).entry(nsp.to_owned()).or_default() -= 1;
        add(&self.disconnects, [nsp, reason], 1);
    }

    fn event_refused(&self, nsp: &str, _event: &str, verdict: &str) {
        add(&self.refused_events, [nsp, verdict], 1);
    }

    fn broadcast_delivered(
        &self,
        nsp: &str,
        _recipients: usize,
        delivered: usize,
        elapsed: Duration,
    ) {
        add(&self.events_sent, [nsp], delivered as u64);
        self.broadcast_duration.observe(elapsed);
    }
}

fn known_event(event: &str) -> &str {
    KNOWN_EVENTS
        .iter()
        .find(|known| **known == event)
        .copied()
        .unwrap_or("other")
}

fn add<const N: usize>(family: &Family, labels: [&str; N], n: u64) {
    let key = labels.iter().map(|l| (*l).to_owned()).collect();
    *lock(family).entry(key).or_default() += n;
}

fn gauge(
    out: &mut String,
    name: &str,
    help: &str,
    labels: &[&str],
    rows: impl IntoIterator<Item = (Vec<String>, f64)>,
) {
    write_family(out, name, "gauge", help, labels, rows);
}

/// One metric family: `# HELP`, `# TYPE`, then a sample per label set.
pub fn write_family(
    out: &mut String,
    name: &str,
    kind: &str,
    help: &str,
    labels: &[&str],
    rows: impl IntoIterator<Item = (Vec<String>, f64)>,
) {
    let _ = writeln!(out, "# HELP {name} {help}");
    let _ = writeln!(out, "# TYPE {name} {kind}");
    for (values, value) in rows {
        let _ = writeln!(out, "{name}{} {value}", label_set(labels, &values));
    }
}

/// `{a="x",b="y"}`, with values escaped as the format requires (`\`, `"` and newlines);
/// empty without labels.
// ANCHOR: label_set
pub fn label_set(names: &[&str], values: &[String]) -> String {
    if names.is_empty() {
        return String::new();
    }
    let escape = |value: &str| {
        value
            .replace('\\', "\\\\")
            .replace('"', "\\\"")
            .replace('\n', "\\n")
    };
    let pairs: Vec<String> = names
        .iter()
        .zip(values)
        .map(|(name, value)| format!("{name}=\"{}\"", escape(value)))
        .collect();
    format!("{{{}}}", pairs.join(","))
}
// ANCHOR_END: label_set

fn lock<T>(mutex: &Mutex<T>) -> std::sync::MutexGuard<'_, T> {
    mutex
        .lock()
        .unwrap_or_else(|poisoned| poisoned.into_inner())
}
