//! The gate every handshake and upgrade passes before a session exists: the `Origin`
//! allow-list, then a cap on handshakes per client address per second.
//!
//! A handshake is cheap to send and costs the server a session (memory, a timer). Chapter 2
//! caps the total (`Config::max_sessions`); this caps each address, so one client cannot take
//! the whole allowance. It is counted per instance, in memory: a flood hits the instance the
//! balancer sends it to, and that instance is the one to protect.

use std::collections::HashMap;
use std::net::IpAddr;
use std::sync::Mutex;
use std::time::{Duration, Instant};

use axum::http::StatusCode;
use futures_util::future::{BoxFuture, FutureExt, ready};
use socketio::{AllowRequest, Refusal, RequestInfo};

use crate::origin::OriginPolicy;

/// Handshakes per address within one second.
#[derive(Debug)]
pub struct HandshakeLimit {
    per_second: u32,
    seen: Mutex<HashMap<IpAddr, (Instant, u32)>>,
}

impl HandshakeLimit {
    pub fn new(per_second: u32) -> HandshakeLimit {
        HandshakeLimit {
            per_second,
            seen: Mutex::new(HashMap::new()),
        }
    }

    /// Counts a handshake from `ip`; `false` beyond the cap in the current second.
    // ANCHOR: handshake_cap
    pub fn admit(&self, ip: IpAddr) -> bool {
        let mut seen = self.seen.lock().unwrap_or_else(|p| p.into_inner());
        let now = Instant::now();
        // Forget addresses whose second is over, so the map holds only the last second's.
        if seen.len() > 10_000 {
            seen.retain(|_, (start, _)| now.duration_since(*start) < Duration::from_secs(1));
        }
        let window = seen.entry(ip).or_insert((now, 0));
        if now.duration_since(window.0) >= Duration::from_secs(1) {
            *window = (now, 0);
        }
        window.1 += 1;
        window.1 <= self.per_second
    }
    // ANCHOR_END: handshake_cap

    /// How many addresses the cap remembers (what its memory grows with).
    pub fn tracked(&self) -> usize {
        self.seen.lock().unwrap_or_else(|p| p.into_inner()).len()
    }
}

/// The Origin check, then the per-address cap (upgrades are not new sessions: not counted).
pub struct Gate {
    pub origins: Option<OriginPolicy>,
    pub handshakes: HandshakeLimit,
}

impl Gate {
    fn decide(&self, request: &RequestInfo) -> Result<(), Refusal> {
        if let Some(origins) = &self.origins {
            origins.check(request)?;
        }
        let Some(address) = request.address else {
            return Ok(());
        };
        if !request.upgrade && !self.handshakes.admit(address.ip()) {
            return Err(Refusal {
                status: StatusCode::TOO_MANY_REQUESTS,
                message: "too many handshakes".to_owned(),
            });
        }
        Ok(())
    }
}

impl AllowRequest for Gate {
    fn allow<'a>(&'a self, request: &'a RequestInfo) -> BoxFuture<'a, Result<(), Refusal>> {
        ready(self.decide(request)).boxed()
    }
}
