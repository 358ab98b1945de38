//! The call records' storage (private): slots that grow in fixed chunks.
//!
//! A `Vec` doubles when it fills, so at ten million calls it may hold room
//! for sixteen million: 60% more memory than the calls need. The slab
//! grows one chunk at a time instead (the first chunk by doubling, so a
//! small engine stays small), and a slot never moves once made.

use crate::queue::Slot;

/// Slots per chunk (2^14): big enough that the chunk table stays in cache,
/// small enough that the last chunk's spare room is noise.
const CHUNK_BITS: u32 = 14;
const CHUNK: usize = 1 << CHUNK_BITS;

/// Numbered slots, each empty or holding a `T`.
#[derive(Clone, Debug)]
pub(crate) struct Slab<T> {
    chunks: Vec<Vec<Option<T>>>,
}

impl<T> Default for Slab<T> {
    fn default() -> Slab<T> {
        Slab { chunks: Vec::new() }
    }
}

fn split(slot: Slot) -> (usize, usize) {
    let i = slot as usize;
    (i >> CHUNK_BITS, i & (CHUNK - 1))
}

impl<T> Slab<T> {
    /// The value in `slot`, if the slot exists and is full.
    pub fn get(&self, slot: Slot) -> Option<&T> {
        let (c, i) = split(slot);
        self.chunks.get(c)?.get(i)?.as_ref()
    }

    pub fn get_mut(&mut self, slot: Slot) -> Option<&mut T> {
        let (c, i) = split(slot);
        self.chunks.get_mut(c)?.get_mut(i)?.as_mut()
    }

    /// Empties `slot`, returning what it held.
    pub fn take(&mut self, slot: Slot) -> Option<T> {
        let (c, i) = split(slot);
        self.chunks.get_mut(c)?.get_mut(i)?.take()
    }

    /// Fills an existing slot (one [`Slab::take`] emptied).
    pub fn put(&mut self, slot: Slot, value: T) {
        let (c, i) = split(slot);
        if let Some(place) = self.chunks.get_mut(c).and_then(|c| c.get_mut(i)) {
            *place = Some(value);
        }
    }

    /// Makes a new slot holding `value`; `None` when 2^32 slots exist.
    pub fn push(&mut self, value: T) -> Option<Slot> {
        let slot = Slot::try_from(self.slots()).ok()?;
        match self.chunks.last_mut() {
            Some(last) if last.len() < CHUNK => last.push(Some(value)),
            _ => {
                // Later chunks are made whole at once; the first grows by
                // doubling up to a chunk.
                let mut chunk = if self.chunks.is_empty() {
                    Vec::new()
                } else {
                    Vec::with_capacity(CHUNK)
                };
                chunk.push(Some(value));
                self.chunks.push(chunk);
            }
        }
        Some(slot)
    }

    /// Makes empty slots until there are `n` (a restored engine puts its
    /// calls back into the slots they had).
    pub fn grow_to(&mut self, n: usize) {
        while self.slots() < n {
            let missing = n - self.slots();
            match self.chunks.last_mut() {
                Some(last) if last.len() < CHUNK => {
                    let room = (CHUNK - last.len()).min(missing);
                    last.extend(std::iter::repeat_with(|| None).take(room));
                }
                _ => self.chunks.push(Vec::with_capacity(CHUNK)),
            }
        }
    }

    /// Slots made so far, empty ones included.
    pub fn slots(&self) -> usize {
        match self.chunks.split_last() {
            Some((last, full)) => full.len() * CHUNK + last.len(),
            None => 0,
        }
    }

    /// Full slots in slot order.
    pub fn iter(&self) -> impl Iterator<Item = (Slot, &T)> {
        self.chunks
            .iter()
            .flatten()
            .zip(0..)
            .filter_map(|(v, slot)| v.as_ref().map(|v| (slot, v)))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn slots_survive_growth_and_reuse() {
        let mut s = Slab::default();
        let n = 3 * CHUNK + 5;
        for i in 0..n {
            assert_eq!(s.push(i), Some(u32::try_from(i).unwrap()));
        }
        assert_eq!(s.slots(), n);
        assert_eq!(s.chunks.len(), 4);
        assert!(s.chunks.iter().skip(1).all(|c| c.capacity() == CHUNK));
        let last = u32::try_from(n - 1).unwrap();
        assert_eq!(s.take(last), Some(n - 1));
        assert_eq!(s.get(last), None);
        assert_eq!(s.take(last), None);
        s.put(last, 7);
        *s.get_mut(7).unwrap() += 1;
        assert_eq!((s.get(last), s.get(7)), (Some(&7), Some(&8)));
        assert_eq!(s.get(u32::try_from(n).unwrap()), None);
        s.put(u32::try_from(n).unwrap(), 1); // no such slot: ignored
        assert_eq!(s.slots(), n);
        let slots: Vec<Slot> = s.iter().map(|(slot, _)| slot).take(3).collect();
        assert_eq!(slots, [0, 1, 2]);
        assert_eq!(s.iter().count(), n);
    }
}
