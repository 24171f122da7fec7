//! A recovered socket's replay, without a gap and without a duplicate.
//!
//! A store records a broadcast before it goes out, and the socket rejoins its rooms after the
//! store's log was read. Two races follow, and both happen for real behind a balancer during
//! a rolling restart (`solutions/05-production/tests/balancer.rs` found them):
//!
//! - **A gap.** A broadcast recorded after the log was read, and delivered on this instance
//!   before the socket is back in its rooms, is in neither the replay nor the live stream.
//!   A [`Tap`], opened before the store is asked and closed once the socket is reachable,
//!   catches every broadcast delivered in between; those meant for the socket follow its
//!   replay.
//! - **A duplicate.** A broadcast recorded before the log was read, and delivered here after
//!   the socket is back (a Redis publication easily is), arrives twice. Every recorded
//!   broadcast carries its offset as its last argument, and offsets are unique, so
//!   [`ReplayedOffsets`] skips a live delivery whose offset the replay gave already, for
//!   [`WINDOW`]: the live copy follows within milliseconds, and a socket should not hold its
//!   replay's offsets for its whole life.

use std::collections::{BTreeSet, HashSet};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use crate::adapter::BroadcastOptions;
use crate::broadcast::EncodedPacket;
use crate::engine::session::lock;

/// A tap holds at most this many broadcasts; beyond, it drops them and says so (a store that
/// takes seconds to answer would otherwise grow it without bound).
const TAP_LIMIT: usize = 10_000;

/// The broadcasts a namespace delivered while a recovery was in flight.
#[derive(Default)]
struct Caught {
    broadcasts: Vec<(EncodedPacket, BroadcastOptions)>,
    dropped: usize,
}

/// A namespace's open taps: the local adapter shows each of them every broadcast it delivers.
#[derive(Clone, Default)]
pub(crate) struct Taps(Arc<Mutex<Vec<Arc<Mutex<Caught>>>>>);

/// One recovery's view of the broadcasts delivered while it runs; closed on drop.
pub(crate) struct Tap {
    taps: Taps,
    caught: Arc<Mutex<Caught>>,
}

impl Taps {
    /// Opens a tap: from now on, every recordable broadcast delivered here is caught.
    pub(crate) fn open(&self) -> Tap {
        let caught = Arc::new(Mutex::new(Caught::default()));
        lock(&self.0).push(caught.clone());
        Tap {
            taps: self.clone(),
            caught,
        }
    }

    /// Whether any tap is open.
    pub(crate) fn any_open(&self) -> bool {
        !lock(&self.0).is_empty()
    }

    /// Runs `recipients` (which picks a broadcast's recipients) with every open tap shown the
    /// broadcast first, under one lock that [`Tap::close`] takes too: a broadcast either is
    /// caught by a tap, or picks its recipients after that tap's socket is reachable.
    pub(crate) fn show<R>(
        &self,
        packet: &EncodedPacket,
        options: &BroadcastOptions,
        recipients: impl FnOnce() -> R,
    ) -> R {
        let taps = lock(&self.0);
        // What a store records: events without an ack id, not volatile.
        let event = matches!(packet.socketio_text().as_bytes().first(), Some(b'2' | b'5'));
        if event && !options.flags.volatile {
            for tap in taps.iter() {
                let mut caught = lock(tap);
                if caught.broadcasts.len() < TAP_LIMIT {
                    caught.broadcasts.push((packet.clone(), options.clone()));
                } else {
                    caught.dropped += 1;
                }
            }
        }
        recipients()
    }
}

impl Tap {
    /// Closes the tap: `reachable` makes the socket reachable (rooms, registry) and is given
    /// what the tap caught that a socket in `rooms` was meant to get, under the lock that
    /// every broadcast takes to pick its recipients, so that later broadcasts come after.
    pub(crate) fn close(
        self,
        rooms: &BTreeSet<String>,
        reachable: impl FnOnce(Vec<EncodedPacket>),
    ) {
        let mut taps = lock(&self.taps.0);
        taps.retain(|tap| !Arc::ptr_eq(tap, &self.caught));
        let caught = std::mem::take(&mut *lock(&self.caught));
        if caught.dropped > 0 {
            tracing::warn!(
                dropped = caught.dropped,
                "a recovery caught too many broadcasts; some of them are lost to it"
            );
        }
        reachable(
            caught
                .broadcasts
                .into_iter()
                .filter(|(_, options)| selects(options, rooms))
                .map(|(packet, _)| packet)
                .collect(),
        );
    }
}

impl Drop for Tap {
    fn drop(&mut self) {
        lock(&self.taps.0).retain(|tap| !Arc::ptr_eq(tap, &self.caught));
    }
}

/// Whether a broadcast sent with `options` reaches a socket in `rooms` (its own id included).
fn selects(options: &BroadcastOptions, rooms: &BTreeSet<String>) -> bool {
    (options.rooms.is_empty() || !options.rooms.is_disjoint(rooms))
        && options.except.is_disjoint(rooms)
}

/// How long a recovered socket remembers the offsets of its replay.
pub const WINDOW: Duration = Duration::from_secs(10);

/// The offsets of a replay, until a deadline.
#[derive(Default)]
pub(crate) struct ReplayedOffsets {
    /// Whether there is anything to check: most sockets never recovered.
    armed: AtomicBool,
    offsets: Mutex<Option<(HashSet<String>, Instant)>>,
}

impl ReplayedOffsets {
    /// Remembers the offsets a replay delivered, for [`WINDOW`].
    pub(crate) fn remember(&self, offsets: impl IntoIterator<Item = String>) {
        let offsets: HashSet<String> = offsets.into_iter().collect();
        if offsets.is_empty() {
            return;
        }
        *lock(&self.offsets) = Some((offsets, Instant::now() + WINDOW));
        self.armed.store(true, Ordering::Release);
    }

    /// Whether the event frame `text` (Socket.IO text, without Engine.IO's `4`) carries an
    /// offset the replay gave already.
    pub(crate) fn already_gave(&self, text: &str) -> bool {
        if !self.armed.load(Ordering::Acquire) {
            return false;
        }
        let mut remembered = lock(&self.offsets);
        let Some((offsets, until)) = remembered.as_ref() else {
            return false;
        };
        if Instant::now() >= *until {
            *remembered = None;
            self.armed.store(false, Ordering::Release);
            return false;
        }
        last_string_argument(text).is_some_and(|offset| offsets.contains(offset))
    }
}

/// The last argument of an event's text when it is a string without escapes: where a
/// recorded broadcast's offset is (`2["chat",{...},"1733000000000-0"]`).
fn last_string_argument(text: &str) -> Option<&str> {
    if !(text.starts_with('2') || text.starts_with('5')) {
        return None;
    }
    let body = text.strip_suffix("\"]")?;
    let start = body.rfind('"')?;
    let before = body[..start].chars().next_back()?;
    (before == ',' || before == '[').then(|| &body[start + 1..])
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_offset_is_the_last_string_argument_of_an_event() {
        assert_eq!(
            last_string_argument(r#"2["chat",{"n":1},"17-0"]"#),
            Some("17-0")
        );
        assert_eq!(last_string_argument(r#"2/admins,["chat","3"]"#), Some("3"));
        assert_eq!(
            last_string_argument(r#"51-["file",{"_placeholder":true,"num":0},"4"]"#),
            Some("4")
        );
        assert_eq!(last_string_argument(r#"2["chat",{"n":1}]"#), None);
        assert_eq!(last_string_argument(r#"2["chat","a \"b\""]"#), None);
        assert_eq!(last_string_argument(r#"3["ack","4"]"#), None);
    }

    fn packet(text: &str) -> EncodedPacket {
        EncodedPacket::from_socketio_text(text, Vec::new())
    }

    fn to(rooms: &[&str], except: &[&str]) -> BroadcastOptions {
        BroadcastOptions {
            rooms: rooms.iter().map(|r| r.to_string()).collect(),
            except: except.iter().map(|r| r.to_string()).collect(),
            ..BroadcastOptions::default()
        }
    }

    #[test]
    fn a_tap_gives_what_it_caught_for_the_sockets_rooms_and_nothing_after_it_closed() {
        let taps = Taps::default();
        let tap = taps.open();
        let shown = |text: &str, options: BroadcastOptions| {
            taps.show(&packet(text), &options, || ());
        };
        shown(r#"2["chat",1,"1"]"#, to(&["r1"], &[]));
        shown(r#"2["chat",2,"2"]"#, to(&["r2"], &[]));
        shown(r#"2["chat",3,"3"]"#, to(&[], &["sid"]));
        shown(r#"2["chat",4,"4"]"#, to(&[], &[]));
        let mut volatile = to(&[], &[]);
        volatile.flags.volatile = true;
        shown(r#"2["chat",5]"#, volatile);
        let rooms: BTreeSet<String> = ["r1".to_owned(), "sid".to_owned()].into();
        let mut given = Vec::new();
        tap.close(&rooms, |caught| {
            given = caught
                .iter()
                .map(|p| p.socketio_text().to_owned())
                .collect();
        });
        assert_eq!(given, [r#"2["chat",1,"1"]"#, r#"2["chat",4,"4"]"#]);
        assert!(
            lock(&taps.0).is_empty(),
            "a closed tap catches nothing more"
        );
    }

    #[test]
    fn a_dropped_tap_is_closed() {
        let taps = Taps::default();
        drop(taps.open());
        assert!(lock(&taps.0).is_empty());
    }

    #[test]
    fn a_replayed_offset_is_skipped_only_within_the_window() {
        let replayed = ReplayedOffsets::default();
        assert!(
            !replayed.already_gave(r#"2["chat","1"]"#),
            "nothing remembered yet"
        );
        replayed.remember(["1".to_owned(), "2".to_owned()]);
        assert!(replayed.already_gave(r#"2["chat",{"n":1},"1"]"#));
        assert!(
            !replayed.already_gave(r#"2["chat",{"n":3},"3"]"#),
            "3 was not replayed"
        );
        *lock(&replayed.offsets) = Some((HashSet::from(["1".to_owned()]), Instant::now()));
        assert!(
            !replayed.already_gave(r#"2["chat",{"n":1},"1"]"#),
            "the window is over"
        );
        assert!(
            !replayed.armed.load(Ordering::Acquire),
            "and the offsets are forgotten"
        );
    }
}
