//! Per-user real-time state: the recent events of each user (or anonymous session) of a dataset
//! group, in a bounded LRU cache, so a ranking reflects events recorded after the model was
//! trained without retraining (`spec/models.md` 6.3).
//!
//! The cache is split into shards, each behind its own mutex, so concurrent requests rarely
//! contend; a lock is held only to copy a user's few events out (never across an await). A
//! user's events are kept in ingestion order, at most `recent_events_per_user` of them (the
//! oldest go first). Each event carries its ingestion time, so a request keeps only the events
//! newer than its model's training ([`RealtimeCache::newer_than`]), and its event type, so each model
//! weighs it with its own event weights.
//!
//! The cache is rebuilt from the PUT log at start (see [`crate::state`]): what it holds is
//! always derivable from durable data.

use std::collections::HashMap;
use std::hash::{BuildHasher, RandomState};
use std::sync::{Arc, Mutex};

use lru::LruCache;
use smallvec::SmallVec;

use crate::sync::lock;

/// Shards per cache.
const SHARDS: usize = 16;

/// One recent event.
#[derive(Debug, Clone, PartialEq)]
pub struct RecentEvent {
    /// The item.
    pub item: Arc<str>,
    /// The event type (interned), for the model's event weight.
    pub event_type: Arc<str>,
    /// The ingestion sequence number: nanoseconds since the Unix epoch when it was recorded.
    pub seq: u64,
}

/// A user's recent events, oldest first.
pub type Recent = SmallVec<[RecentEvent; 4]>;

/// One shard: users (or sessions) to their recent events.
type Shard = Mutex<LruCache<Box<str>, Recent>>;

/// The recent events of one dataset group's users.
#[derive(Debug)]
pub struct RealtimeCache {
    shards: Box<[Shard]>,
    /// Users per shard (the caches are unbounded so nothing is allocated up front).
    per_shard: usize,
    hasher: RandomState,
    per_user: usize,
    event_types: Mutex<HashMap<Box<str>, Arc<str>>>,
}

impl RealtimeCache {
    /// A cache of at most `capacity` users with at most `per_user` events each.
    pub fn new(capacity: usize, per_user: usize) -> RealtimeCache {
        RealtimeCache {
            shards: (0..SHARDS)
                .map(|_| Mutex::new(LruCache::unbounded()))
                .collect(),
            per_shard: capacity.div_ceil(SHARDS).max(1),
            hasher: RandomState::new(),
            per_user: per_user.max(1),
            event_types: Mutex::new(HashMap::new()),
        }
    }

    fn shard(&self, user: &str) -> &Shard {
        let h = self.hasher.hash_one(user) as usize;
        &self.shards[h % SHARDS]
    }

    /// The interned event type.
    pub fn event_type(&self, name: &str) -> Arc<str> {
        let mut types = lock(&self.event_types);
        if let Some(t) = types.get(name) {
            return Arc::clone(t);
        }
        let t: Arc<str> = Arc::from(name);
        // Event types are few; a flood of distinct ones only costs memory up to this bound.
        if types.len() < 10_000 {
            types.insert(Box::from(name), Arc::clone(&t));
        }
        t
    }

    /// Records an event for a user, keeping the events in ingestion order.
    pub fn record(&self, user: &str, event: RecentEvent) {
        let mut shard = lock(self.shard(user));
        if let Some(events) = shard.get_mut(user) {
            insert_sorted(events, event, self.per_user);
            return;
        }
        let mut events = Recent::new();
        events.push(event);
        shard.push(Box::from(user), events);
        if shard.len() > self.per_shard {
            shard.pop_lru();
        }
    }

    /// Copies a user's events recorded after `after_seq` (nanoseconds since the epoch) into
    /// `out`, oldest first. Returns how many.
    pub fn newer_than(&self, user: &str, after_seq: u64, out: &mut Recent) -> usize {
        out.clear();
        let mut shard = lock(self.shard(user));
        if let Some(events) = shard.get(user) {
            out.extend(events.iter().filter(|e| e.seq > after_seq).cloned());
        }
        out.len()
    }

    /// How many users the cache holds.
    pub fn len(&self) -> usize {
        self.shards.iter().map(|s| lock(s).len()).sum()
    }

    /// Whether the cache is empty.
    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }
}

/// Inserts an event in sequence order (nearly always at the end) and drops the oldest beyond
/// `max`. An event already present (same item, type and sequence) is not added twice.
fn insert_sorted(events: &mut Recent, event: RecentEvent, max: usize) {
    let at = events
        .iter()
        .rposition(|e| e.seq <= event.seq)
        .map_or(0, |i| i + 1);
    if events[..at]
        .iter()
        .rev()
        .take_while(|e| e.seq == event.seq)
        .any(|e| *e == event)
    {
        return;
    }
    events.insert(at, event);
    if events.len() > max {
        let extra = events.len() - max;
        events.drain(..extra);
    }
}

/// Converts a model's training time (Unix seconds) to the sequence-number scale.
pub fn seq_of_secs(secs: f64) -> u64 {
    if secs <= 0.0 || !secs.is_finite() {
        0
    } else {
        (secs * 1e9) as u64
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn ev(cache: &RealtimeCache, item: &str, seq: u64) -> RecentEvent {
        RecentEvent {
            item: Arc::from(item),
            event_type: cache.event_type("click"),
            seq,
        }
    }

    fn items(r: &Recent) -> Vec<&str> {
        r.iter().map(|e| &*e.item).collect()
    }

    #[test]
    fn keeps_recent_events_in_order_and_bounded() {
        let cache = RealtimeCache::new(100, 3);
        cache.record("u", ev(&cache, "a", 10));
        cache.record("u", ev(&cache, "c", 30));
        cache.record("u", ev(&cache, "b", 20));
        cache.record("u", ev(&cache, "b", 20));
        let mut out = Recent::new();
        assert_eq!(cache.newer_than("u", 0, &mut out), 3);
        assert_eq!(items(&out), ["a", "b", "c"]);
        cache.record("u", ev(&cache, "d", 40));
        cache.newer_than("u", 0, &mut out);
        assert_eq!(items(&out), ["b", "c", "d"]);
        cache.newer_than("u", 30, &mut out);
        assert_eq!(items(&out), ["d"]);
        assert_eq!(cache.newer_than("nobody", 0, &mut out), 0);
        assert!(Arc::ptr_eq(
            &cache.event_type("click"),
            &cache.event_type("click")
        ));
    }

    #[test]
    fn evicts_least_recently_used_users() {
        let cache = RealtimeCache::new(SHARDS, 5);
        for u in 0..10 * SHARDS {
            cache.record(&format!("user-{u}"), ev(&cache, "a", u as u64));
        }
        assert!(cache.len() <= SHARDS);
        assert!(!cache.is_empty());
    }

    #[test]
    fn training_time_to_seq() {
        assert_eq!(seq_of_secs(1.5), 1_500_000_000);
        assert_eq!(seq_of_secs(f64::NAN), 0);
    }
}
