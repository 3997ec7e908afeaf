//! The repository's commit-graph, where it has one: each commit's parents, root tree and
//! generation number, read from one mapped file without inflating the commit.
//!
//! Why not libgit2's: libgit2 1.9 refuses a commit-graph holding any chunk it does not know, and
//! git writes one (`GDA2`, corrected commit dates) by default since 2.31; libgit2 then inflates
//! every commit a walk passes. `gix-commitgraph` reads the file as git writes it, chains
//! included.
//!
//! Where the graph carries changed-path Bloom filters (`git commit-graph write --changed-paths`,
//! as GitLab's housekeeping writes them), a commit whose filter rules out every directory a
//! path rule can reach is known to change nothing there without reading a tree.
//!
//! The file is trusted as git trusts it: the server's git wrote it from objects it had already
//! hashed, and no pushed commit is in it (pushed objects wait in the quarantine until the hook
//! accepts them). As git does, it is not read in a shallow repository or one with grafts, where
//! a commit's parents are not those its object names, nor where `core.commitGraph` is false, nor
//! when it was written before git numbered generations. (git also leaves it alone where replace
//! refs exist; countersign, like libgit2, reads commits as stored, replacements ignored, and so
//! does the graph.)

use std::fs::File;
use std::ops::Range;
use std::path::{Path, PathBuf};

use git2::{Oid, Repository};
use memmap2::Mmap;

use crate::git::error::GitError;

pub struct CommitGraph {
    graph: gix_commitgraph::Graph,
    /// Each file's first position in the graph and its Bloom filters, base file first (the
    /// order in which the graph numbers commits).
    filters: Vec<(u32, Option<Filters>)>,
    /// Each file's corrected commit dates, in the same order; `None` unless every file has
    /// them (git reads them only then, too).
    corrected: Option<Vec<CorrectedDates>>,
}

/// One commit as the graph records it.
#[derive(Clone, Copy)]
pub struct GraphCommit<'g> {
    graph: &'g CommitGraph,
    commit: gix_commitgraph::file::Commit<'g>,
    position: u32,
}

impl CommitGraph {
    /// The graph of `repo`'s own object directory; `None` when it has none, or none git would
    /// read (which is no error: history is then read from the commits themselves).
    pub fn open(repo: &Repository) -> Option<CommitGraph> {
        let common = repo.commondir();
        let enabled = repo.config().and_then(|c| c.get_bool("core.commitGraph")).unwrap_or(true);
        if !enabled || repo.is_shallow() || common.join("info/grafts").exists() {
            return None;
        }
        let kind = match repo.object_format() {
            git2::ObjectFormat::Sha256 => gix_hash::Kind::Sha256,
            _ => gix_hash::Kind::Sha1,
        };
        Self::at(&common.join("objects/info"), kind)
    }

    fn at(info_dir: &Path, kind: gix_hash::Kind) -> Option<CommitGraph> {
        // A missing graph is usual; a broken one costs speed, never correctness.
        let not_read = |why: String| -> Option<CommitGraph> {
            tracing::debug!("not reading the commit-graph in {}: {why}", info_dir.display());
            None
        };
        let paths = match graph_files(info_dir, kind) {
            Ok(paths) => paths,
            Err(e) => return not_read(e.to_string()),
        };
        let mut files = Vec::new();
        let mut filters = Vec::new();
        let mut corrected = Some(Vec::new());
        let mut first = 0u32;
        for path in paths {
            let opened = File::open(&path).and_then(|file| {
                // SAFETY: git never rewrites a graph file in place: it writes a new one and renames
                // it over the old, so the bytes of the file opened here do not change (gix maps
                // them the same way). The other maps, of the same open file, are for the filters and
                // the corrected commit dates.
                unsafe { Ok((Mmap::map(&file)?, Mmap::map(&file)?, Mmap::map(&file)?)) }
            });
            let (for_gix, for_filters, for_dates) = match opened {
                Ok(maps) => maps,
                Err(e) => return not_read(format!("{}: {e}", path.display())),
            };
            let file = match gix_commitgraph::File::new(for_gix, path.clone()) {
                Ok(file) if file.object_hash() == kind => file,
                Ok(_) => return not_read(format!("{} is not of {kind} ids", path.display())),
                Err(e) => return not_read(format!("{}: {e}", path.display())),
            };
            filters.push((first, Filters::read(for_filters, file.num_commits())));
            corrected =
                corrected.zip(CorrectedDates::read(for_dates, file.num_commits())).map(|(mut all, dates)| {
                    all.push(dates);
                    all
                });
            first = first.saturating_add(file.num_commits());
            files.push(file);
        }
        match gix_commitgraph::Graph::new(files) {
            // git's test (`generation_numbers_enabled`): graphs from before git 2.18 hold zeros.
            Ok(graph)
                if graph.num_commits() > 0
                    && graph.commit_at(gix_commitgraph::Position(0)).generation() == 0 =>
            {
                not_read("it holds no generation numbers".into())
            }
            Ok(graph) => Some(CommitGraph { graph, filters, corrected }),
            Err(e) => not_read(e.to_string()),
        }
    }

    /// Whether every commit has a corrected commit date ([`GraphCommit::corrected_date`]).
    pub fn has_corrected_dates(&self) -> bool {
        self.corrected.is_some()
    }

    pub fn get(&self, oid: Oid) -> Option<GraphCommit<'_>> {
        self.position(oid).map(|position| self.commit_at(position))
    }

    /// The commit's place in the graph: from 0 to [`CommitGraph::commits`], base file first.
    pub fn position(&self, oid: Oid) -> Option<u32> {
        let id = gix_hash::oid::try_from_bytes(oid.as_bytes()).ok()?;
        Some(self.graph.lookup(id)?.0)
    }

    /// The commit at `position`, which must be below [`CommitGraph::commits`].
    pub fn commit_at(&self, position: u32) -> GraphCommit<'_> {
        let commit = self.graph.commit_at(gix_commitgraph::Position(position));
        GraphCommit { graph: self, commit, position }
    }

    /// How many commits the graph holds.
    pub fn commits(&self) -> u32 {
        self.graph.num_commits()
    }

    /// The [`GraphCommit::walk_order`] git would have given a commit the graph lacks, from its
    /// parents' highest (`None` for a root) and its committer date: one more than that highest
    /// (a root's level is 1), and where the graph holds corrected dates, at least its own date.
    pub fn walk_order_outside(&self, highest_parent: Option<u64>, time: i64) -> u64 {
        let above_parents = highest_parent.map_or(1, |highest| highest.saturating_add(1));
        match self.has_corrected_dates() {
            true => above_parents.max(time.max(0) as u64),
            false => above_parents,
        }
    }
}

/// The graph's files, as git finds them: one `commit-graph` file, or else the chain that
/// `commit-graphs/commit-graph-chain` lists, base first.
fn graph_files(info_dir: &Path, kind: gix_hash::Kind) -> std::io::Result<Vec<PathBuf>> {
    let single = info_dir.join("commit-graph");
    if single.is_file() {
        return Ok(vec![single]);
    }
    let dir = info_dir.join("commit-graphs");
    let chain = std::fs::read_to_string(dir.join("commit-graph-chain"))?;
    let mut files = Vec::new();
    for line in chain.lines() {
        let hash = line.trim_end_matches('\r');
        if hash.len() != kind.len_in_hex()
            || !hash.bytes().all(|b| b.is_ascii_hexdigit())
            || files.len() == 256
        {
            return Err(std::io::Error::other(format!("unexpected commit-graph-chain entry {hash:?}")));
        }
        files.push(dir.join(format!("graph-{hash}.graph")));
    }
    Ok(files)
}

impl GraphCommit<'_> {
    /// Git's topological level: 1 for a root, else one more than the highest parent's. A
    /// commit's ancestors all have lower numbers.
    pub fn generation(&self) -> u32 {
        self.commit.generation()
    }

    /// The commit's place in a walk that takes every commit before its ancestors: its
    /// corrected commit date where the graph holds them, else its topological level. Going
    /// down by corrected dates, a walk stops near the commits it looks for; by levels, a
    /// topic forked from an old release (low levels) takes it through most of the mainline.
    pub fn walk_order(&self) -> u64 {
        match self.graph.has_corrected_dates() {
            // The file is trusted as git trusts it (see the module's doc); an offset it cannot
            // give leaves the committer date.
            true => self.corrected_date().unwrap_or(self.committer_time().max(0) as u64),
            false => u64::from(self.generation()),
        }
    }

    pub fn committer_time(&self) -> i64 {
        i64::try_from(self.commit.committer_timestamp()).unwrap_or(i64::MAX)
    }

    /// False when the commit's changed-path filter shows it changed nothing at or below any of
    /// `dirs` (relative to its first parent, as git builds the filters); true when it may have,
    /// or the graph holds no usable filter for it.
    pub fn may_change_under(&self, dirs: &[String]) -> bool {
        let file = self.graph.filters.partition_point(|(first, _)| *first <= self.position) - 1;
        match &self.graph.filters[file] {
            (first, Some(filters)) => filters.may_contain(self.position - first, dirs),
            (_, None) => true,
        }
    }

    /// git's generation number v2, the corrected commit date: the committer date, raised
    /// where needed to one more than every parent's (so clocks that lie cannot put a commit
    /// below its parents). `None` when the graph does not hold them.
    pub fn corrected_date(&self) -> Option<u64> {
        let files = self.graph.corrected.as_ref()?;
        let file = self.graph.filters.partition_point(|(first, _)| *first <= self.position) - 1;
        let offset = files[file].offset(self.position - self.graph.filters[file].0)?;
        Some(self.commit.committer_timestamp().saturating_add(offset))
    }

    /// The commit's id, as the graph holds it.
    pub fn id_bytes(&self) -> &[u8] {
        self.commit.id().as_bytes()
    }

    /// The parents' positions, in order, added to the end of `into`; an error if the file
    /// contradicts itself.
    pub fn parent_positions(&self, into: &mut Vec<u32>) -> Result<(), GitError> {
        for position in self.commit.iter_parents() {
            into.push(position.map_err(|e| self.broken(e))?.0);
        }
        Ok(())
    }

    fn broken(&self, e: impl std::fmt::Display) -> GitError {
        let what = format!("reading the parents of {} from the commit-graph", to_oid(self.commit.id()));
        GitError::new(what, git2::Error::from_str(&e.to_string()))
    }

    pub fn tree(&self) -> Oid {
        to_oid(self.commit.root_tree_id())
    }

    /// The parents, in order; an error if the file contradicts itself.
    pub fn parents(&self, into: &mut Vec<Oid>) -> Result<(), GitError> {
        into.clear();
        for position in self.commit.iter_parents() {
            let position = position.map_err(|e| self.broken(e))?;
            into.push(to_oid(self.graph.graph.id_at(position)));
        }
        Ok(())
    }
}

fn to_oid(id: &gix_hash::oid) -> Oid {
    // `Oid` takes the 20 bytes of a SHA-1 id and the 32 of a SHA-256 one: all a graph holds.
    Oid::from_bytes(id.as_bytes()).expect("a commit-graph of SHA-1 or SHA-256 ids")
}

/// One graph file's changed-path filters (its `BIDX` and `BDAT` chunks): per commit, a Bloom
/// filter of every path it changed against its first parent, and of each leading directory of
/// those paths (gitformat-commit-graph(5)).
///
/// Read by hand because no crate reads them (`gix-commitgraph` reads the other chunks); the
/// hashing is git's `bloom.c`. Anything unexpected means "may have changed": a filter can only
/// ever save reading trees, never decide a verdict.
struct Filters {
    map: Mmap,
    /// `BIDX`: for each commit, where its filter ends in `filters`.
    ends: Range<usize>,
    /// `BDAT` after its header: the filters, back to back.
    filters: Range<usize>,
    hash_version: u32,
    hashes_per_key: u32,
}

/// git's seeds for the two murmur3 hashes a key's bit positions derive from.
const SEEDS: [u32; 2] = [0x293a_e76f, 0x7e64_6e2c];

impl Filters {
    fn read(map: Mmap, commits: u32) -> Option<Filters> {
        let (ends, data) = (chunk(&map, b"BIDX")?, chunk(&map, b"BDAT")?);
        if ends.len() != 4 * commits as usize || data.len() < 12 {
            return None;
        }
        let hash_version = be32(&map, data.start)?;
        let hashes_per_key = be32(&map, data.start + 4)?;
        if !matches!(hash_version, 1 | 2) || !(1..=64).contains(&hashes_per_key) {
            return None;
        }
        let filters = data.start + 12..data.end;
        Some(Filters { map, ends, filters, hash_version, hashes_per_key })
    }

    /// Whether the filter of the commit at `index` in this file may hold any of `keys`.
    fn may_contain(&self, index: u32, keys: &[String]) -> bool {
        let index = index as usize;
        let end = be32(&self.map, self.ends.start + 4 * index);
        let start = if index == 0 { Some(0) } else { be32(&self.map, self.ends.start + 4 * (index - 1)) };
        let (Some(start), Some(end)) = (start, end) else { return true };
        let (start, end) = (start as usize, end as usize);
        if start >= end || end > self.filters.len() {
            // Empty: git computed no filter for the commit.
            return true;
        }
        let filter = &self.map[self.filters.start + start..self.filters.start + end];
        let bits = filter.len() as u64 * 8;
        keys.iter().any(|key| {
            // Version 1 hashed bytes past 0x7f as signed chars; for other keys both agree.
            if self.hash_version == 1 && !key.is_ascii() {
                return true;
            }
            let [first, step] = SEEDS.map(|seed| murmur3(seed, key.as_bytes()));
            (0..self.hashes_per_key).all(|i| {
                let bit = u64::from(first.wrapping_add(i.wrapping_mul(step))) % bits;
                filter[(bit / 8) as usize] & (1 << (bit % 8)) != 0
            })
        })
    }
}

/// One graph file's corrected commit dates: its `GDA2` chunk, each commit's offset from its
/// committer date, and `GDO2`, where offsets too large for 31 bits are kept
/// (gitformat-commit-graph(5)). Read by hand for the same reason as the filters.
struct CorrectedDates {
    map: Mmap,
    offsets: Range<usize>,
    overflow: Option<Range<usize>>,
}

impl CorrectedDates {
    fn read(map: Mmap, commits: u32) -> Option<CorrectedDates> {
        let offsets = chunk(&map, b"GDA2")?;
        if offsets.len() != 4 * commits as usize {
            return None;
        }
        let overflow = chunk(&map, b"GDO2");
        Some(CorrectedDates { map, offsets, overflow })
    }

    fn offset(&self, index: u32) -> Option<u64> {
        let value = be32(&self.map, self.offsets.start + 4 * index as usize)?;
        if value & 0x8000_0000 == 0 {
            return Some(u64::from(value));
        }
        let overflow = self.overflow.as_ref()?;
        let at = overflow.start + 8 * (value & 0x7fff_ffff) as usize;
        let bytes = self.map.get(at..at + 8).filter(|_| at + 8 <= overflow.end)?;
        Some(u64::from_be_bytes(bytes.try_into().ok()?))
    }
}

/// Where chunk `id` lies in a graph file, if it has one.
fn chunk(map: &Mmap, id: &[u8; 4]) -> Option<Range<usize>> {
    // The header: signature, version, hash version, number of chunks, number of bases.
    let chunks = *map.get(6)?;
    let index = gix_chunk::file::Index::from_bytes(map, 8, u32::from(chunks)).ok()?;
    let range = index.offset_by_id(*id).ok()?;
    let range = usize::try_from(range.start).ok()?..usize::try_from(range.end).ok()?;
    (range.start <= range.end && range.end <= map.len()).then_some(range)
}

fn be32(bytes: &[u8], at: usize) -> Option<u32> {
    Some(u32::from_be_bytes(bytes.get(at..at + 4)?.try_into().ok()?))
}

/// 32-bit murmur3, as git's `murmur3_seeded_v2`.
fn murmur3(mut hash: u32, data: &[u8]) -> u32 {
    const C1: u32 = 0xcc9e_2d51;
    const C2: u32 = 0x1b87_3593;
    let mix = |k: u32| k.wrapping_mul(C1).rotate_left(15).wrapping_mul(C2);
    let mut blocks = data.chunks_exact(4);
    for block in &mut blocks {
        hash ^= mix(u32::from_le_bytes(block.try_into().expect("four bytes")));
        hash = hash.rotate_left(13).wrapping_mul(5).wrapping_add(0xe654_6b64);
    }
    let tail = blocks.remainder();
    if !tail.is_empty() {
        let k = tail.iter().rev().fold(0u32, |k, &byte| (k << 8) | u32::from(byte));
        hash ^= mix(k);
    }
    hash ^= data.len() as u32;
    hash ^= hash >> 16;
    hash = hash.wrapping_mul(0x85eb_ca6b);
    hash ^= hash >> 13;
    hash = hash.wrapping_mul(0xc2b2_ae35);
    hash ^ (hash >> 16)
}

#[cfg(test)]
mod tests {
    use super::murmur3;

    #[test]
    fn murmur3_gives_git_s_values() {
        // git's t0095-bloom.sh, which checks the reference murmur3 values.
        assert_eq!(murmur3(0, b""), 0x0000_0000);
        assert_eq!(murmur3(0, b"Hello world!"), 0x627b_0c2c);
        assert_eq!(murmur3(0, b"The quick brown fox jumps over the lazy dog"), 0x2e4f_f723);
    }
}
