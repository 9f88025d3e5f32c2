//! A small map of read results kept in memory under the authentication
//! epoch's generation ([`crate::auth_epoch`]): hot reference data that every
//! filing reads (a category's terms, a household's chain in the org tree).
//!
//! The same rule as the session cache: an entry is tagged with the
//! generation read *before* its database read, kept only if the generation
//! has not moved since (a change committed during the read is never kept),
//! and served only while the generation is still that one. Database
//! triggers move the epoch whenever the rows behind an entry change
//! (migration 0085), so a change committed by this process is seen by the
//! next request, another process's within the epoch poll's bound. The
//! caller decides whether the poll is fresh enough to serve at all.
//!
//! Bound: at most `capacity` entries; when full, the entries of older
//! generations go first, then half the map, arbitrarily (a refill costs one
//! read).

use crate::auth_epoch::AuthEpoch;
use std::collections::HashMap;
use std::sync::RwLock;

pub struct EpochMap<V> {
    map: RwLock<HashMap<String, (u64, V)>>,
    capacity: usize,
}

impl<V: Clone> EpochMap<V> {
    pub fn new(capacity: usize) -> EpochMap<V> {
        EpochMap {
            map: RwLock::new(HashMap::new()),
            capacity: capacity.max(2),
        }
    }

    /// The value kept for `key`, if it was read in the current generation.
    pub fn get(&self, key: &str, epoch: &AuthEpoch) -> Option<V> {
        let map = self.map.read().unwrap_or_else(|e| e.into_inner());
        let (generation, v) = map.get(key)?;
        (*generation == epoch.generation()).then(|| v.clone())
    }

    /// Keeps `value`, read after `generation` was taken, unless the
    /// generation has moved since. Returns whether it was kept.
    pub fn insert(&self, key: &str, value: V, generation: u64, epoch: &AuthEpoch) -> bool {
        let mut map = self.map.write().unwrap_or_else(|e| e.into_inner());
        let current = epoch.generation();
        if generation != current {
            return false;
        }
        if map.len() >= self.capacity && !map.contains_key(key) {
            map.retain(|_, (g, _)| *g == current);
            if map.len() >= self.capacity {
                let mut keep = false;
                map.retain(|_, _| {
                    keep = !keep;
                    keep
                });
            }
        }
        map.insert(key.to_string(), (generation, value));
        true
    }

    pub fn len(&self) -> usize {
        self.map.read().unwrap_or_else(|e| e.into_inner()).len()
    }

    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_value_read_before_a_change_is_neither_kept_nor_served() {
        let epoch = AuthEpoch::default();
        let m: EpochMap<i64> = EpochMap::new(10);
        let g = epoch.generation();
        assert!(m.insert("a", 1, g, &epoch));
        assert_eq!(m.get("a", &epoch), Some(1));
        assert_eq!(m.get("b", &epoch), None);
        // A read that started before a change committed is not kept …
        let before = epoch.generation();
        epoch.observe(7);
        assert!(!m.insert("b", 2, before, &epoch));
        assert_eq!(m.get("b", &epoch), None);
        // … and what was kept before the change is not served any more.
        assert_eq!(m.get("a", &epoch), None);
        // A fresh read is kept again, replacing the old value.
        assert!(m.insert("a", 3, epoch.generation(), &epoch));
        assert_eq!(m.get("a", &epoch), Some(3));
        // The same epoch observed again moves nothing.
        epoch.observe(7);
        assert_eq!(m.get("a", &epoch), Some(3));
        epoch.invalidate();
        assert_eq!(m.get("a", &epoch), None);
    }

    #[test]
    fn it_stays_within_its_capacity() {
        let epoch = AuthEpoch::default();
        let m: EpochMap<usize> = EpochMap::new(4);
        for i in 0..4 {
            assert!(m.insert(&i.to_string(), i, epoch.generation(), &epoch));
        }
        assert_eq!(m.len(), 4);
        // Full, all current: half goes, the new one stays.
        assert!(m.insert("new", 9, epoch.generation(), &epoch));
        assert!(m.len() <= 4);
        assert_eq!(m.get("new", &epoch), Some(9));
        // Full of an older generation: those go first.
        let m: EpochMap<usize> = EpochMap::new(4);
        for i in 0..4 {
            assert!(m.insert(&format!("x{i}"), i, epoch.generation(), &epoch));
        }
        epoch.invalidate();
        assert!(m.insert("after", 1, epoch.generation(), &epoch));
        assert_eq!(m.len(), 1);
        assert_eq!(m.get("after", &epoch), Some(1));
        // Replacing a key never evicts.
        assert!(m.insert("after", 2, epoch.generation(), &epoch));
        assert_eq!(m.len(), 1);
    }
}
