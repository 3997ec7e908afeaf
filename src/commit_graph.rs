//! The repository's commit-graph, where it has one: each commit's parents, root tree and
//! generation number, read from one mapped file without inflating the commit.
//!
//! Why not libgit2's: libgit2 1.9 refuses a commit-graph holding any chunk it does not know, and
//! git writes one (`GDA2`, corrected commit dates) by default since 2.31; libgit2 then inflates
//! every commit a walk passes. `gix-commitgraph` reads the file as git writes it, chains
//! included.
//!
//! The file is trusted as git trusts it: the server's git wrote it from objects it had already
//! hashed, and no pushed commit is in it (pushed objects wait in the quarantine until the hook
//! accepts them). As git does, it is not read in a shallow repository or one with grafts, where
//! a commit's parents are not those its object names.

use std::path::Path;

use git2::{Oid, Repository};

use crate::repo::GitError;

pub struct CommitGraph {
    graph: gix_commitgraph::Graph,
}

/// One commit as the graph records it.
#[derive(Clone, Copy)]
pub struct GraphCommit<'g> {
    graph: &'g gix_commitgraph::Graph,
    commit: gix_commitgraph::file::Commit<'g>,
}

impl CommitGraph {
    /// The graph of `repo`'s own object directory; `None` when it has none, or none git would
    /// read (which is no error: history is then read from the commits themselves).
    pub fn open(repo: &Repository) -> Option<CommitGraph> {
        let common = repo.commondir();
        if repo.is_shallow() || common.join("info/grafts").exists() {
            return None;
        }
        Self::at(&common.join("objects/info"))
    }

    fn at(info_dir: &Path) -> Option<CommitGraph> {
        match gix_commitgraph::Graph::from_info_dir(info_dir, gix_hash::Kind::Sha1) {
            Ok(graph) => Some(CommitGraph { graph }),
            Err(e) => {
                // A missing graph is usual; a broken one costs speed, never correctness.
                tracing::debug!("not reading the commit-graph in {}: {e}", info_dir.display());
                None
            }
        }
    }

    pub fn get(&self, oid: Oid) -> Option<GraphCommit<'_>> {
        let id = gix_hash::oid::try_from_bytes(oid.as_bytes()).ok()?;
        let position = self.graph.lookup(id)?;
        Some(GraphCommit { graph: &self.graph, commit: self.graph.commit_at(position) })
    }
}

impl GraphCommit<'_> {
    /// Git's topological level: 1 for a root, else one more than the highest parent's. A
    /// commit's ancestors all have lower numbers.
    pub fn generation(&self) -> u32 {
        self.commit.generation()
    }

    pub fn committer_time(&self) -> i64 {
        i64::try_from(self.commit.committer_timestamp()).unwrap_or(i64::MAX)
    }

    pub fn tree(&self) -> Oid {
        to_oid(self.commit.root_tree_id())
    }

    /// The parents, in order; an error if the file contradicts itself.
    pub fn parents(&self, into: &mut Vec<Oid>) -> Result<(), GitError> {
        into.clear();
        for position in self.commit.iter_parents() {
            let position = position.map_err(|e| {
                let what =
                    format!("reading the parents of {} from the commit-graph", to_oid(self.commit.id()));
                GitError::new(what, git2::Error::from_str(&e.to_string()))
            })?;
            into.push(to_oid(self.graph.id_at(position)));
        }
        Ok(())
    }
}

fn to_oid(id: &gix_hash::oid) -> Oid {
    // A SHA-1 graph holds 20-byte ids, which is all `Oid` takes.
    Oid::from_bytes(id.as_bytes()).expect("a commit-graph of SHA-1 ids")
}
