//! Time-ordered request ids (UUIDv7, RFC 9562): 48 bits of Unix milliseconds, then 12 bits of
//! the sub-millisecond fraction (the RFC's "method 3", so ids of one process sort in the order
//! they were made to about a quarter of a microsecond), then 62 random bits.

/// The time now in microseconds since 1970-01-01 UTC (0 before it).
pub fn now_micros() -> i64 {
    std::time::SystemTime::now().duration_since(std::time::UNIX_EPOCH).map_or(0, |d| d.as_micros() as i64)
}

/// A source of request ids for one process: a 64-bit SplitMix generator, seeded once. Not
/// cryptographic: ids must be unique, not unguessable.
#[derive(Debug, Clone)]
pub struct RequestIds {
    state: u64,
    /// The last id's time stamp (milliseconds << 12 | fraction): the next is later, so ids of
    /// one process sort in the order they were made even within a quarter of a microsecond (a
    /// batch's rows).
    last: u64,
}

impl RequestIds {
    /// A generator seeded from `seed` (the extension mixes the pid and the start time).
    pub fn new(seed: u64) -> Self {
        RequestIds { state: seed ^ 0x9E37_79B9_7F4A_7C15, last: 0 }
    }

    /// The next 64 random bits.
    pub fn next_u64(&mut self) -> u64 {
        self.state = self.state.wrapping_add(0x9E37_79B9_7F4A_7C15);
        let mut z = self.state;
        z = (z ^ (z >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
        z = (z ^ (z >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
        z ^ (z >> 31)
    }

    /// A uniform draw in [0, 1).
    pub fn next_f64(&mut self) -> f64 {
        (self.next_u64() >> 11) as f64 * (1.0 / (1u64 << 53) as f64)
    }

    /// A UUIDv7 for the time `unix_micros` (microseconds since 1970-01-01 UTC).
    pub fn uuid_v7(&mut self, unix_micros: i64) -> [u8; 16] {
        let micros = unix_micros.max(0) as u64;
        // the fraction of the millisecond scaled to 12 bits, after the last id's
        let stamp = (((micros / 1000) << 12) | ((micros % 1000) * 4096 / 1000)).max(self.last + 1);
        self.last = stamp;
        let (millis, fraction) = (stamp >> 12, (stamp & 0xFFF) as u16);
        let random = self.next_u64();
        let mut id = [0u8; 16];
        id[..6].copy_from_slice(&millis.to_be_bytes()[2..]);
        id[6] = 0x70 | (fraction >> 8) as u8;
        id[7] = fraction as u8;
        id[8..].copy_from_slice(&random.to_be_bytes());
        id[8] = (id[8] & 0x3F) | 0x80;
        id
    }
}

/// A UUID's 16 bytes from its text (32 hex digits, with or without the four dashes).
pub fn parse_uuid(text: &str) -> Option<[u8; 16]> {
    const DASHES: [usize; 4] = [8, 13, 18, 23];
    let bytes = text.as_bytes();
    let hex: Vec<u8> = match bytes.len() {
        32 => bytes.to_vec(),
        36 if DASHES.iter().all(|&i| bytes[i] == b'-') => {
            bytes.iter().enumerate().filter(|(i, _)| !DASHES.contains(i)).map(|(_, b)| *b).collect()
        }
        _ => return None,
    };
    let mut id = [0u8; 16];
    for (i, pair) in hex.chunks(2).enumerate() {
        id[i] = u8::from_str_radix(std::str::from_utf8(pair).ok()?, 16).ok()?;
    }
    Some(id)
}

/// A UUID's usual text form (8-4-4-4-12 lowercase hex digits).
pub fn format_uuid(id: &[u8; 16]) -> String {
    let hex: String = id.iter().map(|b| format!("{b:02x}")).collect();
    format!("{}-{}-{}-{}-{}", &hex[..8], &hex[8..12], &hex[12..16], &hex[16..20], &hex[20..])
}

/// The Unix time in milliseconds a UUIDv7 carries.
pub fn unix_millis(id: &[u8; 16]) -> i64 {
    let mut millis = [0u8; 8];
    millis[2..].copy_from_slice(&id[..6]);
    i64::from_be_bytes(millis)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ids_are_version_7_carry_their_time_and_sort_by_it() {
        let mut ids = RequestIds::new(42);
        let t = 1_796_601_600_123_456; // 2026-12-07 00:00:00.123456 UTC
        let a = ids.uuid_v7(t);
        let b = ids.uuid_v7(t + 1);
        let c = ids.uuid_v7(t + 1000);
        assert_eq!(a[6] >> 4, 7, "version");
        assert_eq!(a[8] >> 6, 0b10, "variant");
        assert_eq!(unix_millis(&a), t / 1000);
        assert!(a < b && b < c, "later ids sort later, a microsecond apart too");
        let mut seen = std::collections::HashSet::new();
        let mut previous = c;
        for _ in 0..100_000 {
            let id = ids.uuid_v7(t);
            assert!(seen.insert(id), "ids made in the same microsecond differ");
            assert!(id > previous, "ids made in the same microsecond sort in the order they were made");
            previous = id;
        }
    }

    #[test]
    fn uuids_print_and_parse_back() {
        let mut ids = RequestIds::new(3);
        let id = ids.uuid_v7(1_796_601_600_000_000);
        let text = format_uuid(&id);
        assert_eq!(text.len(), 36);
        assert_eq!(parse_uuid(&text), Some(id));
        assert_eq!(parse_uuid(&text.replace('-', "")), Some(id));
        assert_eq!(parse_uuid(&text.to_uppercase()), Some(id));
        for bad in [
            "",
            "01890a5d-ac96-774b-bcce",
            "zz890a5d-ac96-774b-bcce-b302099a8057",
            "0-1-8-9-0a5dac96774bbcceb302099a8057",
        ] {
            assert_eq!(parse_uuid(bad), None, "{bad}");
        }
    }

    #[test]
    fn draws_are_uniform() {
        let mut ids = RequestIds::new(7);
        let n = 100_000;
        let below = (0..n).filter(|_| ids.next_f64() < 0.25).count();
        assert!((below as f64 / n as f64 - 0.25).abs() < 0.01, "{below}");
    }
}
