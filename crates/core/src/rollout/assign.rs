//! Keyed (sticky) assignment: a request with an entity key goes to the candidate when the key's
//! bucket, a stable hash of (the rollout's salt, the key) in 10,000 buckets, falls under the
//! percentage. Raising the percentage keeps every key already in the candidate there; a new
//! rollout (a new salt) draws a new share.
//!
//! The hash is defined here byte for byte (FNV-1a over the salt and the key, then SplitMix64's
//! finaliser to spread consecutive keys), never std's `Hasher`, whose algorithm may change
//! between Rust releases: the extension, pgml-serve and a standby built at different times must
//! send a key to the same model.

/// Buckets of the keyspace: the percentage's resolution is 0.01 point.
pub const BUCKETS: u32 = 10_000;

const FNV_OFFSET: u64 = 0xcbf2_9ce4_8422_2325;
const FNV_PRIME: u64 = 0x0000_0100_0000_01b3;

/// A stable 64-bit hash of (salt, key).
pub fn key_hash(salt: u64, key: &[u8]) -> u64 {
    let mut h = FNV_OFFSET;
    for b in salt.to_le_bytes().iter().chain(key) {
        h ^= u64::from(*b);
        h = h.wrapping_mul(FNV_PRIME);
    }
    // SplitMix64's finaliser: every input bit moves about half the output bits
    h ^= h >> 30;
    h = h.wrapping_mul(0xbf58_476d_1ce4_e5b9);
    h ^= h >> 27;
    h = h.wrapping_mul(0x94d0_49bb_1331_11eb);
    h ^ (h >> 31)
}

/// The key's bucket, in [0, BUCKETS).
pub fn bucket(salt: u64, key: &[u8]) -> u32 {
    ((u128::from(key_hash(salt, key)) * u128::from(BUCKETS)) >> 64) as u32
}

/// Whether the key goes to the candidate when `percent` (0 to 100) of the keys do.
pub fn in_candidate(salt: u64, key: &[u8], percent: f64) -> bool {
    f64::from(bucket(salt, key)) < percent * f64::from(BUCKETS) / 100.0
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_hash_is_fixed_byte_for_byte() {
        // pinned: a change here sends keys already in a running canary to another model
        assert_eq!(key_hash(0, b""), PINNED_EMPTY);
        assert_eq!(
            [bucket(1, b"a"), bucket(1, b"b"), bucket(2, b"a"), bucket(7, b"customer-123456")],
            PINNED
        );
    }

    const PINNED_EMPTY: u64 = 9_313_164_154_874_788_883;
    const PINNED: [u32; 4] = [6978, 8724, 94, 4211];

    #[test]
    fn a_share_of_100000_keys_is_within_half_a_point_and_raising_it_keeps_the_keys_in() {
        for salt in [1u64, 0xdead_beef, u64::MAX] {
            let keys: Vec<String> = (0..100_000).map(|i| format!("customer-{i}")).collect();
            for percent in [1.0, 10.0, 50.0] {
                let n = keys.iter().filter(|k| in_candidate(salt, k.as_bytes(), percent)).count();
                let share = n as f64 / 1000.0;
                assert!((share - percent).abs() < 0.5, "salt {salt}: {share} % of keys at {percent} %");
            }
            // raising 10 % to 20 % keeps every key of the 10 %
            assert!(keys.iter().filter(|k| in_candidate(salt, k.as_bytes(), 10.0)).all(|k| in_candidate(
                salt,
                k.as_bytes(),
                20.0
            )));
            // the buckets are uniform: chi-square over 100 groups of 100 buckets (99 degrees of
            // freedom; 99.9 % quantile 148)
            let mut groups = [0f64; 100];
            for k in &keys {
                groups[(bucket(salt, k.as_bytes()) / 100) as usize] += 1.0;
            }
            let chi2: f64 = groups.iter().map(|g| (g - 1000.0).powi(2) / 1000.0).sum();
            assert!(chi2 < 148.0, "salt {salt}: chi-square {chi2}");
        }
        // another salt draws another share
        let a = (0..10_000).filter(|i| in_candidate(1, format!("k{i}").as_bytes(), 10.0));
        let overlap = a.filter(|i| in_candidate(2, format!("k{i}").as_bytes(), 10.0)).count();
        assert!((50..=150).contains(&overlap), "{overlap} keys in both 10 % shares of 10,000");
        assert!(!in_candidate(1, b"k", 0.0));
        assert!(in_candidate(1, b"k", 100.0));
    }
}
