//! The HTTP long-polling transport: `GET` waits for packets, `POST` sends them.
//!
//! A payload holds several packets joined by the record separator `\x1e`; binary data is
//! `b` + base64. One GET and one POST at a time per session: a second concurrent one is a
//! protocol error and ends the session, as in Engine.IO's reference server.

use std::sync::Arc;
use std::sync::atomic::Ordering;

use axum::body::Body;
use axum::http::{StatusCode, header};
use axum::response::{IntoResponse, Response};
use base64::Engine as _;
use base64::engine::general_purpose::STANDARD;

use super::dispatch_text;
use super::packet::Outgoing;
use super::session::{CloseReason, Session, Transport};
use crate::config::Config;

/// The record separator between packets of one polling payload.
pub const SEPARATOR: char = '\x1e';

/// A `text/plain` 200 answer.
pub fn text_response(body: String) -> Response {
    (
        StatusCode::OK,
        [(header::CONTENT_TYPE, "text/plain; charset=UTF-8")],
        body,
    )
        .into_response()
}

fn bad_request(session: &Session, status: StatusCode, why: &'static str) -> Response {
    tracing::debug!(
        sid = session.sid(),
        why,
        "polling request refused, session closed"
    );
    session.close(CloseReason::TransportError);
    (status, why).into_response()
}

/// Joins packets into one polling payload: text as is, binary as `b` + base64.
pub fn encode_payload(packets: &[Outgoing]) -> String {
    // ANCHOR: encode_payload
    // Step 6: join packets into one polling payload.
    // A GET's answer: every packet's text, then each of its attachments as `b` and base64, joined by
    // the record separator `\x1e` (the page's polling section).
    todo!(
        "step 6: join packets into one polling payload (book: 02-socketio/long-polling-upgrade.md)"
    )
    // ANCHOR_END: encode_payload
}

/// A polling request for a session that now uses its WebSocket: refused (400, code 3, as the
/// reference server's "transport mismatch"), but the session goes on over its WebSocket.
fn upgraded(session: &Session) -> Response {
    tracing::debug!(
        sid = session.sid(),
        "polling request after the upgrade refused"
    );
    super::error(3, "Bad request")
}

/// `GET ?sid=...`: waits for at least one packet, then returns the queued ones that fit in
/// `max_payload` bytes (the first one always goes, however large: a client must be able to
/// receive every packet). The rule is the reference client's for its POSTs. A session the server
/// closes answers `1` (close); one the client closed (it POSTed `1`) answers `6` (noop), as the
/// reference server does. A GET the client aborts while it waits closes the session.
pub async fn get(config: &Config, session: Arc<Session>) -> Response {
    if session.transport() == Transport::WebSocket {
        return upgraded(&session);
    }
    let Some(reader) = session.try_reader() else {
        return bad_request(
            &session,
            StatusCode::BAD_REQUEST,
            "overlapping GET requests",
        );
    };
    let pending = PendingGet(Some(&session));
    let first = tokio::select! {
        biased;
        packet = reader.recv() => Some(packet),
        _ = session.closed() => None,
    };
    pending.answered();
    let Some(first) = first else {
        let last = match session.close_reason() {
            Some(CloseReason::TransportClose) => "6",
            _ => "1",
        };
        return text_response(last.to_owned());
    };
    let mut size = first.polling_len();
    let mut packets = vec![first];
    while let Some(packet) = reader.try_recv() {
        // One separator, then the packet.
        let grown = size + 1 + packet.polling_len();
        if grown > config.max_payload {
            reader.put_back(packet);
            break;
        }
        size = grown;
        packets.push(packet);
    }
    text_response(encode_payload(&packets))
}

/// A GET waiting for packets. Dropped before it has its answer, the request was aborted (hyper
/// drops the handler of a connection the client closed): the client is gone or confused, and
/// the session is closed as the reference server does ("poll connection closed prematurely",
/// reason "transport error"). Packets already taken are in the answer, never lost here.
struct PendingGet<'a>(Option<&'a Session>);

impl PendingGet<'_> {
    fn answered(mut self) {
        self.0 = None;
    }
}

impl Drop for PendingGet<'_> {
    fn drop(&mut self) {
        if let Some(session) = self.0 {
            tracing::debug!(sid = session.sid(), "polling GET aborted, session closed");
            session.close(CloseReason::TransportError);
        }
    }
}

/// `POST ?sid=...`: decodes the payload and hands each packet to the session.
pub async fn post(config: &Config, session: Arc<Session>, body: Body) -> Response {
    if session.transport() == Transport::WebSocket {
        return upgraded(&session);
    }
    if session.posting.swap(true, Ordering::AcqRel) {
        return bad_request(
            &session,
            StatusCode::BAD_REQUEST,
            "overlapping POST requests",
        );
    }
    let response = receive(config, &session, body).await;
    session.posting.store(false, Ordering::Release);
    response
}

async fn receive(config: &Config, session: &Arc<Session>, body: Body) -> Response {
    let Ok(bytes) = axum::body::to_bytes(body, config.max_payload).await else {
        return bad_request(session, StatusCode::PAYLOAD_TOO_LARGE, "payload too large");
    };
    let Ok(text) = std::str::from_utf8(&bytes) else {
        return bad_request(session, StatusCode::BAD_REQUEST, "payload is not UTF-8");
    };
    // ANCHOR: decode_payload
    // Step 6: split a polling payload into packets.
    // A POST's body is the same format the other way: each part reaches the session as if it had
    // come in a WebSocket frame, and a body that is not a valid payload is answered `400`.
    todo!(
        "step 6: split a polling payload into packets (book: 02-socketio/long-polling-upgrade.md)"
    );
    // ANCHOR_END: decode_payload
    text_response("ok".to_owned())
}

#[cfg(test)]
mod tests {
    use super::*;
    use bytes::Bytes;

    #[test]
    fn payloads_join_with_the_record_separator_and_base64_binary() {
        let binary = Outgoing {
            text: "451-[\"a\",{\"_placeholder\":true,\"num\":0}]".into(),
            binary: Arc::from(vec![Bytes::from_static(&[1, 2, 3])]),
        };
        assert_eq!(
            encode_payload(&[Outgoing::ping(), binary]),
            "2\x1e451-[\"a\",{\"_placeholder\":true,\"num\":0}]\x1ebAQID"
        );
    }
}
