//! The git-reading layer: every question asked of the repository, answered as plain values
//! (ids, names, [`engine::facts`]) for the layers above. libgit2 does the reading; where it
//! cannot read what git writes (commit-graph generation data, reftable), gitoxide's crates or
//! the git CLI do, and the choice stays in here.

pub mod ancestry;
pub mod changes;
pub mod commit;
pub mod commit_graph;
pub mod error;
pub mod header;
pub mod notes;
pub mod patch_id;
pub mod policy_source;
pub mod recorded;
pub mod ref_updates;
pub mod repo;
pub mod selection;

/// A seeded stream of numbers below each bound asked, for this layer's randomized tests
/// (xorshift64: six lines, not worth a crate).
#[cfg(test)]
pub(crate) fn random_below(mut state: u64) -> impl FnMut(usize) -> usize {
    move |below| {
        state ^= state << 13;
        state ^= state >> 7;
        state ^= state << 17;
        (state % below as u64) as usize
    }
}
