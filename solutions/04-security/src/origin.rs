//! The `Origin` allow-list, checked on every handshake and upgrade before a session exists.
//!
//! A browser attaches `Origin` to a WebSocket upgrade and to cross-origin requests, and a page
//! cannot forge it. CORS does not protect a WebSocket: the browser opens it from any page, with
//! the user's cookies, and leaves the decision to the server. Checking `Origin` is how the
//! server refuses a hostile page driving a logged-in user's browser (cross-site WebSocket
//! hijacking). A request without `Origin` does not come from a browser page (curl, a mobile
//! app, a server): it is let through, and authentication (the token) is what stops it.

use axum::http::header::ORIGIN;
use socketio::{Refusal, RequestInfo};

/// The origins allowed to open a session (`scheme://host[:port]`, as browsers send them).
#[derive(Debug, Clone, Default)]
pub struct OriginPolicy {
    allowed: Vec<String>,
}

impl OriginPolicy {
    /// Only these origins (compared without case and without a trailing `/`).
    pub fn allow(origins: impl IntoIterator<Item = impl AsRef<str>>) -> OriginPolicy {
        OriginPolicy {
            allowed: origins
                .into_iter()
                .map(|o| normalise(o.as_ref()))
                .filter(|o| !o.is_empty())
                .collect(),
        }
    }

    pub fn allowed(&self) -> &[String] {
        &self.allowed
    }

    /// Accepts a request without `Origin` or with an allowed one; refuses the rest with 403.
    // ANCHOR: origin_check
    pub fn check(&self, request: &RequestInfo) -> Result<(), Refusal> {
        let Some(origin) = request.headers.get(ORIGIN) else {
            return Ok(());
        };
        let origin = normalise(origin.to_str().unwrap_or(""));
        if self.allowed.contains(&origin) {
            Ok(())
        } else {
            Err(Refusal::forbidden("origin not allowed"))
        }
    }
    // ANCHOR_END: origin_check
}

fn normalise(origin: &str) -> String {
    origin.trim().trim_end_matches('/').to_ascii_lowercase()
}
