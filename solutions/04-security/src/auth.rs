//! The JWT connect middleware: who is connecting, checked before the socket exists.
//!
//! The token travels in the CONNECT packet's `auth` payload (`{"token": "..."}`), which a
//! browser client sends inside the connection, never in a URL. The handshake query
//! (`/socket.io/?token=...`) is accepted too, because some clients cannot set `auth`, but a
//! query ends up in access logs and proxies' histories: the book says why to avoid it.
//!
//! A refusal is a `CONNECT_ERROR` `{"message":"unauthorized","data":{"reason":"..."}}`; the
//! socket.io client hands it to `connect_error` and does not retry by itself, unlike a network
//! error.

use std::sync::Arc;

use futures_util::future::FutureExt;
use serde_json::{Value, json};
use socketio::middleware::{ConnectError, ConnectMiddleware, ConnectRequest, MiddlewareFuture};

use crate::claims::{Claims, Role};
use crate::jwt::{Rejection, Verifier};
use crate::metrics::Metrics;
use crate::revocation::Revocations;

/// The namespace only admins may join.
pub const ADMINS: &str = "/admins";

/// Verifies the token of every CONNECT, and keeps `/admins` for the `admin` role.
pub struct Authenticator {
    pub verifier: Verifier,
    pub revocations: Arc<Revocations>,
    pub metrics: Metrics,
}

impl Authenticator {
    // ANCHOR: authenticate
    async fn authenticate(&self, request: &mut ConnectRequest) -> Result<(), ConnectError> {
        let token = token_of(request);
        let verified = match self.verifier.verify(&token) {
            Ok(claims) => self
                .check_revocation(&claims, &request.namespace)
                .await
                .map(|()| claims),
            Err(rejection) => Err(rejection),
        };
        let claims = verified.map_err(|rejection| {
            self.metrics
                .auth_failure(&request.namespace, &rejection.reason());
            unauthorized(rejection)
        })?;
        if request.namespace == ADMINS && claims.role != Role::Admin {
            return Err(ConnectError::new("forbidden")
                .with_data(json!({ "reason": "admin role required" })));
        }
        request
            .data
            .insert("user".into(), Value::from(claims.sub.clone()));
        request
            .data
            .insert("role".into(), Value::from(claims.role.as_str()));
        request.extensions.insert(claims);
        Ok(())
    }
    // ANCHOR_END: authenticate

    /// Redis unreachable: the list cannot be read. The public namespaces fail open (a chat
    /// that refuses everyone while Redis restarts is an outage of its own; the signature and
    /// expiry still hold), `/admins` fails closed (a revoked admin token is the one that must
    /// never come back). Both are counted and logged.
    async fn check_revocation(&self, claims: &Claims, namespace: &str) -> Result<(), Rejection> {
        match self.revocations.is_revoked(&claims.jti).await {
            Ok(false) => Ok(()),
            Ok(true) => Err(Rejection::Revoked),
            Err(error) => {
                self.metrics.unchecked(namespace, "revocation");
                tracing::warn!(%error, namespace, "revocation list unreachable");
                if namespace == ADMINS {
                    Err(Rejection::Unverifiable)
                } else {
                    Ok(())
                }
            }
        }
    }
}

impl ConnectMiddleware for Authenticator {
    fn call<'a>(&'a self, request: &'a mut ConnectRequest) -> MiddlewareFuture<'a> {
        self.authenticate(request).boxed()
    }
}

/// The token: `auth.token` first, then the handshake query's `token`; empty if neither.
pub fn token_of(request: &ConnectRequest) -> String {
    request
        .auth
        .get("token")
        .and_then(Value::as_str)
        .or_else(|| request.query.get("token").map(String::as_str))
        .unwrap_or("")
        .to_owned()
}

fn unauthorized(rejection: Rejection) -> ConnectError {
    ConnectError::new("unauthorized").with_data(json!({ "reason": rejection.reason() }))
}
