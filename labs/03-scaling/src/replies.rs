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

#[cfg(test)]
mod tests {
    use super::*;
    use socketio::AckResponse;

    fn replies(specific: bool) -> Replies {
        Replies::new(Channels::new("k", "/", "me"), specific)
    }

    fn fetch_from(uid: &str, request_id: &str) -> Request {
        Request::RemoteFetch {
            uid: uid.into(),
            request_id: request_id.into(),
            options: Default::default(),
        }
    }

    #[test]
    fn by_default_every_answer_goes_on_the_shared_channel() {
        let replies = replies(false);
        replies.received(&fetch_from("them", "r1"));
        let answer = Response::Sockets {
            request_id: "r1".into(),
            sockets: vec![],
        };
        assert_eq!(replies.channel_for(&answer), "k-response#/#");
        assert!(
            replies.is_empty(),
            "nothing is remembered without the option"
        );
    }

    #[test]
    fn with_the_option_an_answer_goes_to_its_requester_once() {
        let replies = replies(true);
        replies.received(&fetch_from("them", "r1"));
        let answer = Response::Sockets {
            request_id: "r1".into(),
            sockets: vec![],
        };
        assert_eq!(replies.channel_for(&answer), "k-response#/#them#");
        assert!(replies.is_empty(), "the only answer forgets the requester");
    }

    #[test]
    fn a_broadcasts_acks_keep_the_requester_until_done() {
        let replies = replies(true);
        replies.received(&Request::Broadcast {
            uid: "them".into(),
            request_id: "b1".into(),
            packet: socketio::protocol::Packet::event("/", "e", vec![], vec![]),
            options: Default::default(),
        });
        let count = Response::ClientCount {
            request_id: "b1".into(),
            count: 1,
        };
        let ack = Response::Ack {
            request_id: "b1".into(),
            response: AckResponse {
                args: vec![],
                binary: vec![],
            },
        };
        assert_eq!(replies.channel_for(&count), "k-response#/#them#");
        assert_eq!(replies.channel_for(&ack), "k-response#/#them#");
        replies.done("b1");
        assert!(replies.is_empty());
    }

    #[test]
    fn a_server_side_emits_answer_stays_on_the_shared_channel() {
        let replies = replies(true);
        let answer = Response::ServerAck {
            request_id: "s1".into(),
            data: serde_json::Value::Null,
        };
        assert_eq!(replies.channel_for(&answer), "k-response#/#");
    }
}
