//! A slab of records with generations, and the epoll tokens that name its entries: a token
//! that outlives its entry (an event queued before the entry was removed, a reply from the
//! caller about a connection that has closed) finds nothing instead of another entry.

/// What a proxy epoll token names.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum Kind {
    /// A client connection.
    Client = 0,
    /// An upstream connection.
    Upstream = 1,
    /// A listening socket.
    Listener = 2,
}

/// Bit 63 marks the proxy's tokens apart from the worker's jobs (whose tokens keep it
/// clear); the worker's wake token is `u64::MAX`, which no proxy token equals (kind 3 is
/// never used).
pub(crate) const TAG: u64 = 1 << 63;
const GEN_MASK: u32 = (1 << 29) - 1;

/// An entry of a [`Slab`]: its index and generation.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) struct Key {
    pub(crate) index: u32,
    pub(crate) generation: u32,
}

impl Key {
    /// The epoll token of this entry, of `kind`.
    pub(crate) fn token(self, kind: Kind) -> u64 {
        TAG | (kind as u64) << 61
            | u64::from(self.generation & GEN_MASK) << 32
            | u64::from(self.index)
    }

    /// The kind and entry a proxy token names.
    pub(crate) fn of(token: u64) -> (Option<Kind>, Key) {
        let kind = match (token >> 61) & 3 {
            0 => Some(Kind::Client),
            1 => Some(Kind::Upstream),
            2 => Some(Kind::Listener),
            _ => None,
        };
        let key = Key {
            index: token as u32,
            generation: (token >> 32) as u32 & GEN_MASK,
        };
        (kind, key)
    }
}

/// Records addressed by [`Key`]s; removed slots are reused with the next generation.
#[derive(Debug)]
pub(crate) struct Slab<T> {
    entries: Vec<(u32, Option<T>)>,
    free: Vec<u32>,
    len: usize,
}

impl<T> Default for Slab<T> {
    fn default() -> Self {
        Slab {
            entries: Vec::new(),
            free: Vec::new(),
            len: 0,
        }
    }
}

impl<T> Slab<T> {
    /// Entries in the slab.
    pub(crate) fn len(&self) -> usize {
        self.len
    }

    /// Stores `v`; returns its key.
    pub(crate) fn insert(&mut self, v: T) -> Key {
        self.len += 1;
        if let Some(i) = self.free.pop() {
            let e = &mut self.entries[i as usize];
            e.0 = e.0.wrapping_add(1) & GEN_MASK;
            e.1 = Some(v);
            return Key {
                index: i,
                generation: e.0,
            };
        }
        self.entries.push((0, Some(v)));
        Key {
            index: (self.entries.len() - 1) as u32,
            generation: 0,
        }
    }

    /// The entry of `k`, if it is still there.
    pub(crate) fn get(&self, k: Key) -> Option<&T> {
        match self.entries.get(k.index as usize) {
            Some((g, Some(v))) if *g == k.generation => Some(v),
            _ => None,
        }
    }

    /// The entry of `k`, mutable, if it is still there.
    pub(crate) fn get_mut(&mut self, k: Key) -> Option<&mut T> {
        match self.entries.get_mut(k.index as usize) {
            Some((g, Some(v))) if *g == k.generation => Some(v),
            _ => None,
        }
    }

    /// Takes the entry of `k` out, if it is still there.
    pub(crate) fn remove(&mut self, k: Key) -> Option<T> {
        let e = self.entries.get_mut(k.index as usize)?;
        if e.0 != k.generation || e.1.is_none() {
            return None;
        }
        self.len -= 1;
        self.free.push(k.index);
        e.1.take()
    }

    /// The keys of every entry (for sweeps).
    pub(crate) fn keys(&self) -> impl Iterator<Item = Key> + '_ {
        self.entries.iter().enumerate().filter_map(|(i, (g, v))| {
            v.as_ref().map(|_| Key {
                index: i as u32,
                generation: *g,
            })
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn stale_keys_and_tokens_find_nothing() {
        let mut s = Slab::default();
        let a = s.insert("a");
        assert_eq!(s.remove(a), Some("a"));
        let b = s.insert("b");
        assert_eq!(b.index, a.index);
        assert_eq!((s.get(a), s.get(b)), (None, Some(&"b")));
        let t = b.token(Kind::Upstream);
        assert!(t & TAG != 0 && t != u64::MAX);
        assert_eq!(Key::of(t), (Some(Kind::Upstream), b));
        assert_eq!(s.keys().collect::<Vec<_>>(), vec![b]);
    }
}
