//! The WebSocket transport: a new session over one WebSocket, or the upgrade of a polling one.
//!
//! The upgrade, as the client drives it: on the new WebSocket it sends `2probe`, we answer
//! `3probe`; we make the pending polling GET return (`6`, noop) so the client stops polling; the
//! client sends `5` and from then on the WebSocket carries everything. A probe that fails just
//! closes the WebSocket: the session goes on polling. A WebSocket for a session that is already
//! upgrading or upgraded is accepted and closed at once, leaving that session alone (as the
//! reference server does).
//!
//! Reading and writing run in the one task of the WebSocket (no task per direction). When the
//! session ends, the writer sends what was queued before the end and a close frame, but only
//! for `close_timeout`: then the connection is dropped, so a peer that stopped reading cannot
//! keep the task, its queue and the socket alive.

use std::sync::Arc;
use std::time::Duration;

use axum::extract::ws::{Message, Utf8Bytes, WebSocket};
use futures_util::stream::{SplitSink, SplitStream};
use futures_util::{SinkExt, StreamExt};

use super::packet::{Incoming, Outgoing};
use super::queue::Reader;
use super::session::{CloseReason, Handshake, Session, Transport};
use super::{Engine, dispatch_text};

/// What a new WebSocket is for.
pub enum Attach {
    /// A new session (`transport=websocket` without `sid`).
    New,
    /// The upgrade of a polling session.
    Upgrade(UpgradeClaim),
    /// A session already upgrading or upgraded: this WebSocket is closed at once.
    Refused,
}

/// The right to upgrade a polling session, taken when its WebSocket request arrives. Dropped
/// before the upgrade completed (a failed probe, a WebSocket that never opened), it gives the
/// session back to polling.
pub struct UpgradeClaim(Arc<Session>);

impl UpgradeClaim {
    /// The claim on `session`, unless another WebSocket holds it or the session is upgraded.
    pub fn take(session: Arc<Session>) -> Option<UpgradeClaim> {
        session.begin_upgrade().then_some(UpgradeClaim(session))
    }
}

impl Drop for UpgradeClaim {
    fn drop(&mut self) {
        self.0.abandon_upgrade();
    }
}

/// A shutdown that began between the upgrade request and now refuses a new session.
fn admit(engine: &Engine, existing: Attach) -> Attach {
    match existing {
        Attach::New if engine.is_stopping() => Attach::Refused,
        other => other,
    }
}

/// Serves one WebSocket until it or its session closes.
pub async fn run(engine: Arc<Engine>, socket: WebSocket, existing: Attach, handshake: Handshake) {
    let (mut sink, mut stream) = socket.split();
    let session = match admit(&engine, existing) {
        Attach::Refused => {
            let _ = sink.send(Message::Close(None)).await;
            return;
        }
        Attach::New => {
            let (session, open) = engine.open(Transport::WebSocket, handshake);
            if sink.send(Message::Text(open.into())).await.is_err() {
                session.close(CloseReason::TransportError);
                return;
            }
            session
        }
        Attach::Upgrade(claim) => {
            let session = claim.0.clone();
            // ANCHOR: upgrade
            let probe = tokio::time::timeout(
                engine.config.upgrade_timeout,
                upgrade(&session, &mut sink, &mut stream),
            )
            .await;
            if !matches!(probe, Ok(true)) {
                // Returning drops the claim, which gives the session back to polling; this
                // WebSocket is dropped.
                return;
            }
            session
            // ANCHOR_END: upgrade
        }
    };
    let reading = async {
        read(&session, &mut stream).await;
        session.close(CloseReason::TransportClose);
    };
    tokio::join!(
        write(&session, &mut sink, engine.config.close_timeout),
        reading
    );
}

/// The probe: `2probe` -> `3probe`, noop to release the polling GET, then `5`.
async fn upgrade(
    session: &Arc<Session>,
    sink: &mut SplitSink<WebSocket, Message>,
    stream: &mut SplitStream<WebSocket>,
) -> bool {
    let mut probed = false;
    while let Some(Ok(message)) = stream.next().await {
        let Message::Text(text) = message else {
            continue;
        };
        match super::packet::decode(&text) {
            Ok(Incoming::PingProbe) if !probed => {
                if sink.send(Message::text("3probe")).await.is_err() {
                    return false;
                }
                // The session is `Upgrading` since the claim was taken. A GET waiting for data
                // returns now, so the client can finish polling.
                session.send(Outgoing::noop());
                probed = true;
            }
            Ok(Incoming::Upgrade) if probed => {
                session.set_transport(Transport::WebSocket);
                return true;
            }
            _ => return false,
        }
    }
    false
}

/// Reads frames until the client closes, errs, or the session ends.
async fn read(session: &Arc<Session>, stream: &mut SplitStream<WebSocket>) {
    loop {
        let message = tokio::select! {
            _ = session.closed() => return,
            message = stream.next() => message,
        };
        match message {
            Some(Ok(Message::Text(text))) => {
                if let Err(error) = dispatch_text(session, &text).await {
                    tracing::debug!(sid = session.sid(), %error, "invalid engine.io packet");
                    session.close(CloseReason::ParseError);
                    return;
                }
            }
            Some(Ok(Message::Binary(data))) => {
                if let Some(handler) = session.handler() {
                    super::guarded(session, handler.on_binary(data)).await;
                }
            }
            Some(Ok(Message::Ping(_) | Message::Pong(_))) => {}
            Some(Ok(Message::Close(_))) | None => return,
            Some(Err(error)) => {
                // Includes frames over max_payload: tungstenite refuses to buffer them.
                tracing::debug!(sid = session.sid(), %error, "websocket error");
                session.close(CloseReason::TransportError);
                return;
            }
        }
    }
}

/// Sends queued packets until the session ends, then what was queued before the end and the
/// close frame. A send may wait on a peer that does not read; once the session has ended, all
/// of it gets `close_timeout` at most, then the WebSocket is given up (dropped by `run`).
async fn write(
    session: &Session,
    sink: &mut SplitSink<WebSocket, Message>,
    close_timeout: Duration,
) {
    let expired = async {
        session.closed().await;
        tokio::time::sleep(close_timeout).await;
    };
    tokio::select! {
        () = deliver(session, sink) => {}
        () = expired => {
            tracing::debug!(sid = session.sid(), "websocket not drained within close_timeout, dropped");
        }
    }
}

/// Packets queued before the end still go out first (`biased`), so a last `44...` reaches the
/// client.
async fn deliver(session: &Session, sink: &mut SplitSink<WebSocket, Message>) {
    let reader = session.reader().await;
    // One future for the whole loop: a fresh one per packet would register a waiter each time.
    let closed = session.closed();
    tokio::pin!(closed);
    loop {
        let packet = tokio::select! {
            biased;
            packet = reader.recv() => packet,
            () = &mut closed => break,
        };
        if send_batch(sink, packet, &reader).await.is_err() {
            session.close(CloseReason::TransportError);
            return;
        }
    }
    while let Some(packet) = reader.try_recv() {
        if send_batch(sink, packet, &reader).await.is_err() {
            return;
        }
    }
    let _ = sink.send(Message::Close(None)).await;
}

// ANCHOR: send_batch
/// The most packets one write carries.
const BATCH: usize = 64;

/// Writes `first` and whatever else is already queued (up to [`BATCH`] packets), then flushes
/// once. A client that keeps up gets one packet per write; one that falls behind, or a burst,
/// gets many per system call, which is most of a fan-out's cost (see chapter 2's "In
/// production", "Measuring it").
async fn send_batch(
    sink: &mut SplitSink<WebSocket, Message>,
    first: Outgoing,
    reader: &Reader<'_>,
) -> Result<(), axum::Error> {
    feed(sink, first).await?;
    for _ in 1..BATCH {
        let Some(packet) = reader.try_recv() else {
            break;
        };
        feed(sink, packet).await?;
    }
    sink.flush().await
}
// ANCHOR_END: send_batch

async fn feed(
    sink: &mut SplitSink<WebSocket, Message>,
    packet: Outgoing,
) -> Result<(), axum::Error> {
    // A noop only releases a polling GET: one queued during the upgrade that no GET took
    // stays off the WebSocket.
    if packet.text.as_str() == "6" {
        return Ok(());
    }
    if !packet.text.as_str().is_empty() {
        sink.feed(Message::Text(Utf8Bytes::clone(&packet.text)))
            .await?;
    }
    for data in packet.binary.iter() {
        sink.feed(Message::Binary(data.clone())).await?;
    }
    Ok(())
}
