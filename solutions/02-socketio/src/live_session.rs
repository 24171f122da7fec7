//! A connected socket's session kept in the store, so that it outlives this instance.
//!
//! socket.io saves a session when its socket ends. An instance that is killed (out of memory,
//! a lost host, `kill -9`) saves nothing, and its clients come back to fresh sessions
//! elsewhere. And a save that starts when the transport closes races the client, which may
//! reconnect to another instance before the save lands. A store shared by a cluster can do
//! better ([`SessionStore::live_refresh`]): the session is written when its socket connects,
//! again soon after each of its own joins, leaves and data changes, and at least once every
//! refresh period, each write with the store's expiry. A killed instance's sessions then
//! stay recoverable for the window, less at most one refresh period; rooms joined from
//! another instance (a remote `socketsJoin`) reach the store at the next refresh.
//!
//! One task per socket does every write of its session, the last one included (saved, or
//! forgotten after a goodbye): two writes of one socket never race each other, and a
//! shutdown, which awaits the engine's tasks, leaves with every session written.

use std::sync::{Arc, Mutex};
use std::time::Duration;

use tokio::sync::Notify;
use tokio_util::sync::CancellationToken;

use crate::engine::session::lock;
use crate::session_store::{SavedSession, SessionStore};
use crate::socket::Socket;

/// What becomes of a session when its socket ends.
#[derive(Debug)]
pub(crate) enum LastWrite {
    /// Kept for recovery (the connection was lost, the server is shutting down...).
    Save(SavedSession),
    /// Gone (a goodbye): its pid must not be usable again.
    Forget(String),
}

#[derive(Debug, Default)]
enum Phase {
    /// No live task: the socket's end writes the session itself.
    #[default]
    Plain,
    /// A live task writes the session.
    Live,
    /// The socket ended: the live task has its last write to do.
    Ending(Option<LastWrite>),
    Ended,
}

/// A socket's side of its live session.
#[derive(Debug, Default)]
pub(crate) struct LiveSession {
    phase: Mutex<Phase>,
    changed: Notify,
    ended: CancellationToken,
}

impl LiveSession {
    /// Something saved with the session changed (rooms, data).
    pub(crate) fn changed(&self) {
        // A permit is kept: a change made while a write is under way is written next.
        self.changed.notify_one();
    }

    /// The socket ends with `last`: handed to the live task if there is one, else given
    /// back for the caller to write.
    pub(crate) fn end(&self, last: LastWrite) -> Option<LastWrite> {
        let mut phase = lock(&self.phase);
        match std::mem::take(&mut *phase) {
            Phase::Live => {
                *phase = Phase::Ending(Some(last));
                self.ended.cancel();
                None
            }
            Phase::Plain => {
                *phase = Phase::Ended;
                Some(last)
            }
            ended => {
                *phase = ended;
                None
            }
        }
    }

    /// Becomes live unless the socket has ended already.
    fn start(&self) -> bool {
        let mut phase = lock(&self.phase);
        let plain = matches!(*phase, Phase::Plain);
        if plain {
            *phase = Phase::Live;
        }
        plain
    }

    fn take_last(&self) -> Option<LastWrite> {
        let mut phase = lock(&self.phase);
        match std::mem::replace(&mut *phase, Phase::Ended) {
            Phase::Ending(last) => last,
            _ => None,
        }
    }
}

/// Keeps `socket`'s session in `store` while it is connected, written again at least every
/// `every`; then writes its last state. Runs on the engine's tracker.
pub(crate) fn keep(socket: Socket, store: Arc<dyn SessionStore>, every: Duration) {
    // ANCHOR: keep
    let live = socket.live_session().clone();
    if !live.start() {
        return;
    }
    let session = socket.engine_session().clone();
    session.spawn(async move {
        loop {
            if let Some(saved) = socket.saved_session()
                && let Err(error) = store.save(saved).await
            {
                tracing::warn!(sid = socket.id(), %error, "live session not written");
            }
            tokio::select! {
                biased;
                _ = live.ended.cancelled() => break,
                _ = live.changed.notified() => {}
                _ = tokio::time::sleep(every) => {}
            }
        }
        let written = match live.take_last() {
            Some(LastWrite::Save(saved)) => store.save(saved).await,
            Some(LastWrite::Forget(pid)) => store.forget(&pid).await,
            None => Ok(()),
        };
        if let Err(error) = written {
            tracing::warn!(sid = socket.id(), %error, "session's last state not written");
        }
    });
    // ANCHOR_END: keep
}

#[cfg(test)]
mod tests {
    use super::*;

    fn saved() -> LastWrite {
        LastWrite::Forget("pid".into())
    }

    #[test]
    fn without_a_live_task_the_end_is_given_back_once() {
        let live = LiveSession::default();
        assert!(live.end(saved()).is_some(), "the caller writes it");
        assert!(!live.start(), "an ended socket gets no live task");
        assert!(live.end(saved()).is_none());
    }

    #[test]
    fn with_a_live_task_the_end_is_its_to_write() {
        let live = LiveSession::default();
        assert!(live.start());
        assert!(!live.start(), "one live task a socket");
        assert!(live.end(saved()).is_none(), "handed to the task");
        assert!(live.ended.is_cancelled());
        assert!(matches!(live.take_last(), Some(LastWrite::Forget(_))));
        assert!(live.take_last().is_none());
    }
}
