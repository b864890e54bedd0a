//! The benches' deterministic pseudo-random numbers (xorshift64): the same seed gives the same
//! keys in every run and every build, so runs compare.

/// The next number of the sequence in `state` (which must not be 0).
pub fn xorshift(state: &mut u64) -> u64 {
    *state ^= *state << 13;
    *state ^= *state >> 7;
    *state ^= *state << 17;
    *state
}
