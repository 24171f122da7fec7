//! The Redis channels of one namespace, named as Node's `@socket.io/redis-adapter` names them.
//!
//! With the default key `socket.io` and the namespace `/`:
//! - `socket.io#/#`: broadcasts to every socket, or to several rooms;
//! - `socket.io#/#<room>#`: a broadcast to exactly one room (a socket id is a room too);
//! - `socket.io-request#/#`: requests (fetch sockets, all rooms, remote join...);
//! - `socket.io-response#/#` and `socket.io-response#/#<uid>#`: their answers.
//!
//! Every instance PSUBSCRIBEs to `socket.io#/#*`, so it receives the room channels too, and
//! filters on arrival: Redis cannot know which rooms an instance holds.

use socketio::BroadcastOptions;

/// The channel names of one namespace for one instance.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Channels {
    /// `<key>#<nsp>#`, also the prefix of every room channel.
    pub base: String,
    /// `<key>-request#<nsp>#`: its subscriber count is the server count.
    pub request: String,
    /// `<key>-response#<nsp>#`, where Node answers by default.
    pub response: String,
    /// `<key>-response#<nsp>#<uid>#`, for answers meant for this instance only.
    pub specific_response: String,
}

impl Channels {
    /// The channels of namespace `nsp` under prefix `key`, for instance `uid`.
    pub fn new(key: &str, nsp: &str, uid: &str) -> Channels {
        let response = format!("{key}-response#{nsp}#");
        Channels {
            base: format!("{key}#{nsp}#"),
            request: format!("{key}-request#{nsp}#"),
            specific_response: format!("{response}{uid}#"),
            response,
        }
    }

    /// The pattern that matches the base channel and every room channel.
    pub fn pattern(&self) -> String {
        format!("{}*", self.base)
    }

    /// The channel a broadcast with these options is published on.
    pub fn for_broadcast(&self, options: &BroadcastOptions) -> String {
        // ANCHOR: room_channel
        // Step 1: pick the channel of a broadcast.
        // Exactly one room: that room's channel `<base><room>#`. Zero or several rooms: the base channel.
        todo!("step 1: pick the channel of a broadcast (book: 03-scaling/wire.md)")
        // ANCHOR_END: room_channel
    }

    /// For a channel received through the pattern: `Some("")` for the base channel,
    /// `Some(room)` for a room channel, `None` for a channel that is not ours.
    pub fn room_of<'a>(&self, channel: &'a str) -> Option<&'a str> {
        let rest = channel.strip_prefix(self.base.as_str())?;
        if rest.is_empty() {
            return Some("");
        }
        rest.strip_suffix('#')
    }

    /// `<key>-response#<nsp>#<uid>#`: where answers meant for instance `uid` only go.
    pub fn response_for(&self, uid: &str) -> String {
        format!("{}{uid}#", self.response)
    }

    /// Whether `channel` carries answers to this instance's requests.
    pub fn is_response(&self, channel: &str) -> bool {
        channel == self.response || channel == self.specific_response
    }
}
