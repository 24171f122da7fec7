//! Where this instance publishes its answers to other servers' requests.
//!
//! Node's adapter answers on the shared response channel `<key>-response#<nsp>#` by default,
//! where every instance reads every answer. With `publishOnSpecificResponseChannel` it answers
//! on the requester's own channel `<key>-response#<nsp>#<uid>#` instead, so only the requester
//! reads it. Every instance listens on both, so either choice works in a mixed cluster.
//!
//! Node 8.3 routes the answers it publishes through `publishResponse` (rooms, sockets, a
//! broadcast's client count and acks); a server-side emit's answer always goes on the shared
//! channel. We do the same. The requester's uid is only in the request, so it is noted here
//! when the request arrives and looked up when the answer leaves.

use std::collections::HashMap;
use std::sync::Mutex;

use crate::channels::Channels;
use crate::wire::{Request, Response};

/// The answer channels of one namespace's adapter.
pub struct Replies {
    channels: Channels,
    specific: bool,
    // Request id -> requester uid, only with `specific`; an entry lives until its last answer.
    requesters: Mutex<HashMap<String, String>>,
}

impl Replies {
    /// Answers on the shared channel, or on each requester's own channel when `specific`.
    pub fn new(channels: Channels, specific: bool) -> Replies {
        Replies {
            channels,
            specific,
            requesters: Mutex::default(),
        }
    }

    fn requesters(&self) -> std::sync::MutexGuard<'_, HashMap<String, String>> {
        self.requesters
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner)
    }

    /// Notes who sent `request`, when its answers go on the requester's channel.
    pub fn received(&self, request: &Request) {
        if !self.specific {
            return;
        }
        let (uid, request_id) = match request {
            Request::AllRooms {
                uid, request_id, ..
            }
            | Request::RemoteFetch {
                uid, request_id, ..
            }
            | Request::Broadcast {
                uid, request_id, ..
            } => (uid, request_id),
            _ => return,
        };
        self.requesters().insert(request_id.clone(), uid.clone());
    }

    /// The channel `response` goes on. Rooms and sockets are a request's only answer, so
    /// the requester is forgotten then; a broadcast's acks keep it until [`Replies::done`].
    pub fn channel_for(&self, response: &Response) -> String {
        let requester = match response {
            Response::ServerAck { .. } => None,
            Response::Rooms { request_id, .. } | Response::Sockets { request_id, .. } => {
                self.requesters().remove(request_id)
            }
            Response::ClientCount { request_id, .. } | Response::Ack { request_id, .. } => {
                self.requesters().get(request_id).cloned()
            }
        };
        match requester {
            Some(uid) => self.channels.response_for(&uid),
            None => self.channels.response.clone(),
        }
    }

    /// No more answers to `request_id` will leave.
    pub fn done(&self, request_id: &str) {
        self.requesters().remove(request_id);
    }

    /// How many requesters are remembered (tests check that nothing accumulates).
    pub fn len(&self) -> usize {
        self.requesters().len()
    }

    /// Whether none is.
    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }
}
