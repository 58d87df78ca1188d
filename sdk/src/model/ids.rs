//! An immutable id table: strings in one blob with offsets, plus an open-addressing hash index
//! stored alongside, so a loaded table needs no per-id work and looks ids up in O(1).
//!
//! The hash (64-bit FNV-1a) and the probing (linear, table size a power of two >= 2n) are part
//! of the model format: changing either needs a new format version.

/// Ids of one side (items or users), indexed 0..n.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct IdTable {
    pub(crate) blob: Vec<u8>,
    /// `offsets[i]..offsets[i + 1]` is id `i` in `blob`; `offsets.len() == n + 1`.
    pub(crate) offsets: Vec<u64>,
    /// Slot -> id index + 1 (0 = empty).
    pub(crate) slots: Vec<u32>,
}

const EMPTY: u32 = 0;

/// 64-bit FNV-1a.
pub(crate) fn fnv1a(bytes: &[u8]) -> u64 {
    let mut h: u64 = 0xcbf2_9ce4_8422_2325;
    for &b in bytes {
        h ^= u64::from(b);
        h = h.wrapping_mul(0x0100_0000_01b3);
    }
    h
}

/// Byte equality; short ids (most of them) compared inline rather than through a `memcmp`
/// call, which costs more than the comparison itself at these lengths.
#[inline]
fn same(a: &[u8], b: &[u8]) -> bool {
    if a.len() != b.len() {
        return false;
    }
    if a.len() < 16 {
        return a.iter().zip(b).all(|(x, y)| x == y);
    }
    a == b
}

impl IdTable {
    /// Builds a table from ids in index order. Ids must be distinct.
    pub fn new<S: AsRef<str>>(ids: &[S]) -> IdTable {
        let mut blob = Vec::new();
        let mut offsets = Vec::with_capacity(ids.len() + 1);
        offsets.push(0);
        for id in ids {
            blob.extend_from_slice(id.as_ref().as_bytes());
            offsets.push(blob.len() as u64);
        }
        let size = (ids.len() * 2).next_power_of_two().max(2);
        let mut slots = vec![EMPTY; size];
        let mask = size - 1;
        for (i, id) in ids.iter().enumerate() {
            let mut s = fnv1a(id.as_ref().as_bytes()) as usize & mask;
            while slots[s] != EMPTY {
                s = (s + 1) & mask;
            }
            slots[s] = i as u32 + 1;
        }
        IdTable {
            blob,
            offsets,
            slots,
        }
    }

    /// How many ids.
    pub fn len(&self) -> usize {
        self.offsets.len().saturating_sub(1)
    }

    /// Whether the table is empty.
    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }

    /// The id at index `i`.
    pub fn get(&self, i: u32) -> &str {
        let (a, b) = (
            self.offsets[i as usize] as usize,
            self.offsets[i as usize + 1] as usize,
        );
        // The blob is built from &str values and checked as UTF-8 when loaded.
        std::str::from_utf8(&self.blob[a..b]).unwrap_or_default()
    }

    /// The index of an id.
    pub fn index(&self, id: &str) -> Option<u32> {
        if self.slots.is_empty() {
            return None;
        }
        let mask = self.slots.len() - 1;
        let mut s = fnv1a(id.as_bytes()) as usize & mask;
        loop {
            match self.slots[s] {
                EMPTY => return None,
                i => {
                    let i = i - 1;
                    let (a, b) = (
                        self.offsets[i as usize] as usize,
                        self.offsets[i as usize + 1] as usize,
                    );
                    if same(&self.blob[a..b], id.as_bytes()) {
                        return Some(i);
                    }
                }
            }
            s = (s + 1) & mask;
        }
    }

    /// Iterates over the ids in index order.
    pub fn iter(&self) -> impl Iterator<Item = &str> + '_ {
        (0..self.len() as u32).map(|i| self.get(i))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn looks_up_every_id_and_rejects_others() {
        let ids: Vec<String> = (0..1000).map(|i| format!("item-{i}")).collect();
        let t = IdTable::new(&ids);
        assert_eq!(t.len(), 1000);
        for (i, id) in ids.iter().enumerate() {
            assert_eq!(t.index(id), Some(i as u32));
            assert_eq!(t.get(i as u32), id);
        }
        assert_eq!(t.index("item-1000"), None);
        assert_eq!(IdTable::new::<&str>(&[]).index("x"), None);
    }
}
