//! Deterministic random numbers: `SplitMix64`, simple, fast, and easy to reproduce outside Rust
//! (the scikit-learn reference script reimplements it to replay our splits exactly).

/// A `SplitMix64` generator. Same seed, same sequence, on every platform.
#[derive(Debug, Clone)]
pub struct SplitMix64 {
    state: u64,
}

impl SplitMix64 {
    /// A generator that starts from `seed`.
    pub fn new(seed: u64) -> Self {
        Self { state: seed }
    }

    /// The next 64 random bits.
    pub fn next_u64(&mut self) -> u64 {
        self.state = self.state.wrapping_add(0x9E37_79B9_7F4A_7C15);
        let mut z = self.state;
        z = (z ^ (z >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
        z = (z ^ (z >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
        z ^ (z >> 31)
    }

    /// A uniform index in `0..bound` (`bound` > 0).
    pub fn below(&mut self, bound: usize) -> usize {
        (self.next_u64() % bound as u64) as usize
    }

    /// A uniform float in `[0, 1)` with 53 random bits.
    pub fn next_f64(&mut self) -> f64 {
        (self.next_u64() >> 11) as f64 * (1.0 / (1u64 << 53) as f64)
    }

    /// A standard normal draw (Box–Muller).
    pub fn next_normal(&mut self) -> f64 {
        let u1 = self.next_f64().max(f64::MIN_POSITIVE);
        let u2 = self.next_f64();
        (-2.0 * u1.ln()).sqrt() * (std::f64::consts::TAU * u2).cos()
    }

    /// Fisher–Yates shuffle from the last element down, one draw per position.
    pub fn shuffle<T>(&mut self, items: &mut [T]) {
        for i in (1..items.len()).rev() {
            let j = self.below(i + 1);
            items.swap(i, j);
        }
    }
}

/// `SplitMix64`'s output function: a bijective scramble of 64 bits.
fn mix(mut z: u64) -> u64 {
    z = (z ^ (z >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
    z = (z ^ (z >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
    z ^ (z >> 31)
}

/// A uniform float in `[0, 1)` that depends only on `seed` and `words` (for example a stratum and a row
/// number): each word is added with the golden-ratio step and scrambled, as `SplitMix64` does. Row-level
/// draws made this way are the same however the rows are chunked, and on a shard that knows its offsets.
pub fn keyed_f64(seed: u64, words: &[u64]) -> f64 {
    (keyed_u64(seed, words) >> 11) as f64 * (1.0 / (1u64 << 53) as f64)
}

/// 64 random bits that depend only on `seed` and `words`; see [`keyed_f64`].
pub fn keyed_u64(seed: u64, words: &[u64]) -> u64 {
    words.iter().fold(mix(seed.wrapping_add(0x9E37_79B9_7F4A_7C15)), |state, &word| {
        mix(state ^ word.wrapping_add(0x9E37_79B9_7F4A_7C15))
    })
}

/// The seed of a stochastic node that sets none: derived from the workflow seed and the node id,
/// so that two nodes differ, and the same file gives the same numbers on every run.
pub fn derive_seed(workflow_seed: u64, node_id: &str) -> u64 {
    let hash = blake3::hash(node_id.as_bytes());
    let mut bytes = [0u8; 8];
    bytes.copy_from_slice(&hash.as_bytes()[..8]);
    SplitMix64::new(workflow_seed ^ u64::from_le_bytes(bytes)).next_u64()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn splitmix_matches_the_published_sequence() {
        // Reference values of SplitMix64 seeded with 0 (Vigna's splitmix64.c).
        let mut rng = SplitMix64::new(0);
        assert_eq!(rng.next_u64(), 0xE220_A839_7B1D_CDAF);
        assert_eq!(rng.next_u64(), 0x6E78_9E6A_A1B9_65F4);
    }

    #[test]
    fn derived_seeds_differ_per_node_and_are_stable() {
        assert_eq!(derive_seed(7, "a"), derive_seed(7, "a"));
        assert_ne!(derive_seed(7, "a"), derive_seed(7, "b"));
        assert_ne!(derive_seed(7, "a"), derive_seed(8, "a"));
    }

    #[test]
    fn keyed_draws_are_uniform_and_depend_on_every_word() {
        let draws: Vec<f64> = (0..10_000u64).map(|row| keyed_f64(5, &[0, row])).collect();
        let mean = draws.iter().sum::<f64>() / draws.len() as f64;
        assert!((mean - 0.5).abs() < 0.01, "{mean}");
        assert!(draws.iter().all(|u| (0.0..1.0).contains(u)));
        assert_ne!(keyed_f64(5, &[0, 1]), keyed_f64(5, &[1, 0]));
        assert_ne!(keyed_f64(5, &[0, 1]), keyed_f64(6, &[0, 1]));
        assert_eq!(keyed_f64(5, &[0, 1]), keyed_f64(5, &[0, 1]));
    }

    #[test]
    fn shuffle_is_a_permutation() {
        let mut v: Vec<usize> = (0..100).collect();
        SplitMix64::new(3).shuffle(&mut v);
        assert_ne!(v, (0..100).collect::<Vec<_>>());
        v.sort_unstable();
        assert_eq!(v, (0..100).collect::<Vec<_>>());
    }
}
