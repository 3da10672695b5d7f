//! The prediction log's buffer: a byte ring in memory shared by processes, many producers (the
//! backends predicting) and one consumer (the writer). A producer never waits: it reserves its
//! bytes with one compare-and-swap on the head and, when the ring has no room, drops the record
//! and counts it. The consumer reads committed records in order and zeroes what it consumed
//! before it moves the tail, so an uncommitted record always reads as a zero header.
//!
//! Layout: a [`RingHeader`], then `capacity` bytes of records. A record is an 8-byte-aligned
//! `u32` header (the payload's length + 1 once committed, 0 before), then the payload. A record
//! that does not fit before the end of the ring leaves a padding header there and starts at 0.

use std::sync::atomic::{AtomicI64, AtomicU32, AtomicU64, Ordering};

/// Counters and positions, at the start of the ring's memory. Positions only grow; the byte
/// offset of a position is its value modulo the capacity.
#[repr(C)]
#[derive(Debug, Default)]
pub struct RingHeader {
    /// The end of the reserved bytes.
    pub head: AtomicU64,
    /// The start of the bytes not yet consumed.
    pub tail: AtomicU64,
    /// Records committed by producers.
    pub appended: AtomicU64,
    /// Records dropped because the ring was full.
    pub dropped_full: AtomicU64,
    /// Records the consumer took but could not write (counted by the consumer).
    pub dropped_unwritten: AtomicU64,
    /// Records the consumer wrote.
    pub written: AtomicU64,
    /// Who owns the ring (the extension keeps a database's oid and a generation here).
    pub owner: AtomicU64,
    /// When a record was last appended, in Unix microseconds.
    pub last_append: AtomicI64,
    /// How many of the dropped records (full + unwritten) the consumer has reported already.
    pub reported_drops: AtomicU64,
}

impl RingHeader {
    /// Zeroes the counters, when the ring passes to another owner.
    pub fn reset_counters(&self) {
        for counter in
            [&self.appended, &self.written, &self.dropped_full, &self.dropped_unwritten, &self.reported_drops]
        {
            counter.store(0, Ordering::Relaxed);
        }
    }
}

const PAD: u32 = u32::MAX;

fn align8(n: u64) -> u64 {
    (n + 7) & !7
}

/// A view of a ring in memory this process can reach (shared memory, or a test's buffer).
pub struct Ring {
    header: *const RingHeader,
    data: *mut u8,
    capacity: u64,
}

// SAFETY: every access to the shared bytes goes through the atomics' protocol described above.
unsafe impl Send for Ring {}
unsafe impl Sync for Ring {}

impl Ring {
    /// Bytes of memory a ring of `capacity` record bytes needs (the capacity is rounded down to
    /// a multiple of 8).
    pub const fn size_for(capacity: usize) -> usize {
        std::mem::size_of::<RingHeader>() + (capacity & !7)
    }

    /// A view of the ring at `memory`.
    ///
    /// # Safety
    /// `memory` must be 8-byte aligned, `size_for(capacity)` bytes long, live as long as the
    /// view, and either zeroed by [`Ring::reset`] or used by rings of the same capacity only.
    pub unsafe fn from_raw(memory: *mut u8, capacity: usize) -> Ring {
        Ring {
            header: memory as *const RingHeader,
            data: unsafe { memory.add(std::mem::size_of::<RingHeader>()) },
            capacity: (capacity & !7) as u64,
        }
    }

    pub fn header(&self) -> &RingHeader {
        // SAFETY: from_raw's contract
        unsafe { &*self.header }
    }

    /// Zeroes the ring and its counters (at shared-memory initialisation only).
    pub fn reset(&self) {
        // SAFETY: from_raw's contract; nothing else uses the ring yet
        unsafe {
            std::ptr::write_bytes(self.header as *mut RingHeader, 0, 1);
            std::ptr::write_bytes(self.data, 0, self.capacity as usize);
        }
    }

    pub fn capacity(&self) -> usize {
        self.capacity as usize
    }

    /// Bytes reserved and not yet consumed.
    pub fn used(&self) -> usize {
        let h = self.header();
        h.head.load(Ordering::Acquire).saturating_sub(h.tail.load(Ordering::Acquire)) as usize
    }

    fn header_word(&self, offset: u64) -> &AtomicU32 {
        // SAFETY: offset is 8-aligned and below the capacity
        unsafe { &*(self.data.add(offset as usize) as *const AtomicU32) }
    }

    /// Appends one record; false (and counted) when the ring has no room for it. Never waits
    /// on the consumer or another producer.
    pub fn push(&self, payload: &[u8]) -> bool {
        let h = self.header();
        let need = align8(4 + payload.len() as u64);
        if need > self.capacity / 2 {
            h.dropped_full.fetch_add(1, Ordering::Relaxed);
            return false;
        }
        let (start, pad_at) = loop {
            // the tail first: it never passes the head, so head - tail cannot underflow
            let tail = h.tail.load(Ordering::Acquire);
            let head = h.head.load(Ordering::Acquire);
            let offset = head % self.capacity;
            let pad = if offset + need > self.capacity { self.capacity - offset } else { 0 };
            if head + pad + need - tail > self.capacity {
                h.dropped_full.fetch_add(1, Ordering::Relaxed);
                return false;
            }
            if h.head
                .compare_exchange_weak(head, head + pad + need, Ordering::AcqRel, Ordering::Relaxed)
                .is_ok()
            {
                break ((head + pad) % self.capacity, (pad > 0).then_some(offset));
            }
        };
        if let Some(offset) = pad_at {
            self.header_word(offset).store(PAD, Ordering::Release);
        }
        // SAFETY: the reserved bytes belong to this producer until it commits them
        unsafe {
            std::ptr::copy_nonoverlapping(payload.as_ptr(), self.data.add(start as usize + 4), payload.len());
        }
        self.header_word(start).store(payload.len() as u32 + 1, Ordering::Release);
        h.appended.fetch_add(1, Ordering::Relaxed);
        true
    }

    /// Passes every committed record, in order, to `f`, up to `max_records`, and frees their
    /// bytes. Stops at the first record reserved but not yet committed. One consumer at a time.
    pub fn drain(&self, max_records: usize, mut f: impl FnMut(&[u8])) -> usize {
        let h = self.header();
        let mut tail = h.tail.load(Ordering::Relaxed);
        let head = h.head.load(Ordering::Acquire);
        let mut n = 0;
        while tail < head && n < max_records {
            let offset = tail % self.capacity;
            let word = self.header_word(offset).load(Ordering::Acquire);
            let size = match word {
                0 => break,
                PAD => self.capacity - offset,
                _ => {
                    let len = (word - 1) as usize;
                    // SAFETY: a committed record of `len` bytes at offset + 4
                    f(unsafe { std::slice::from_raw_parts(self.data.add(offset as usize + 4), len) });
                    n += 1;
                    align8(4 + len as u64)
                }
            };
            self.header_word(offset).store(0, Ordering::Relaxed);
            // SAFETY: consumed bytes, no producer writes them before the tail passes them
            unsafe { std::ptr::write_bytes(self.data.add(offset as usize + 4), 0, size as usize - 4) };
            tail += size;
        }
        h.tail.store(tail, Ordering::Release);
        n
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::sync::Arc;

    struct Memory(Vec<u64>);

    fn ring(capacity: usize) -> (Arc<Memory>, Arc<Ring>) {
        let mut mem = Arc::new(Memory(vec![0u64; Ring::size_for(capacity) / 8 + 1]));
        let ptr = Arc::get_mut(&mut mem).unwrap().0.as_mut_ptr() as *mut u8;
        let ring = Arc::new(unsafe { Ring::from_raw(ptr, capacity) });
        ring.reset();
        (mem, ring)
    }

    #[test]
    fn records_come_out_in_order_across_the_wrap() {
        let (_mem, ring) = ring(256);
        let mut out = vec![];
        for round in 0..50u8 {
            for i in 0..3u8 {
                assert!(ring.push(&vec![round ^ i; (round as usize * 7 + i as usize) % 40]));
            }
            ring.drain(usize::MAX, |r| out.push(r.to_vec()));
        }
        assert_eq!(out.len(), 150);
        for (k, r) in out.iter().enumerate() {
            let (round, i) = ((k / 3) as u8, (k % 3) as u8);
            assert_eq!(r, &vec![round ^ i; (round as usize * 7 + i as usize) % 40]);
        }
        assert_eq!(ring.used(), 0);
    }

    #[test]
    fn a_full_ring_drops_and_counts() {
        let (_mem, ring) = ring(1024);
        let pushed = (0..100).filter(|_| ring.push(&[1u8; 60])).count();
        assert_eq!(pushed, 1024 / 64);
        let h = ring.header();
        assert_eq!(h.dropped_full.load(Ordering::Relaxed), 100 - pushed as u64);
        assert_eq!(ring.drain(usize::MAX, |_| {}), pushed);
        assert!(ring.push(&[1u8; 60]), "room again once drained");
        assert!(!ring.push(&[0u8; 600]), "a record above half the ring is never taken");
    }

    /// Four producers and one consumer at once: every record arrives whole exactly once or is
    /// counted as dropped.
    #[test]
    fn producers_and_a_consumer_at_once_lose_nothing_uncounted() {
        let (_mem, ring) = ring(4096);
        let producers: Vec<_> = (0..4u64)
            .map(|p| {
                let ring = ring.clone();
                std::thread::spawn(move || {
                    let mut ok = 0u64;
                    for i in 0..50_000u64 {
                        let v = p * 1_000_000 + i;
                        let len = 8 * (1 + (i % 5) as usize);
                        let payload: Vec<u8> = v.to_le_bytes().iter().copied().cycle().take(len).collect();
                        ok += ring.push(&payload) as u64;
                    }
                    ok
                })
            })
            .collect();
        let mut seen = [0u64; 4];
        let mut received = 0u64;
        let mut check = |r: &[u8]| {
            let v = u64::from_le_bytes(r[..8].try_into().unwrap());
            assert!(r.chunks(8).all(|c| c == v.to_le_bytes()), "a record arrived torn");
            let (p, i) = ((v / 1_000_000) as usize, v % 1_000_000);
            assert!(i >= seen[p], "producer {p}'s records out of order");
            seen[p] = i;
            received += 1;
        };
        while !producers.iter().all(|p| p.is_finished()) {
            ring.drain(usize::MAX, &mut check);
        }
        let pushed: u64 = producers.into_iter().map(|p| p.join().unwrap()).sum();
        ring.drain(usize::MAX, &mut check);
        let h = ring.header();
        assert_eq!(received, pushed);
        assert_eq!(h.appended.load(Ordering::Relaxed), pushed);
        assert_eq!(pushed + h.dropped_full.load(Ordering::Relaxed), 200_000);
    }
}
