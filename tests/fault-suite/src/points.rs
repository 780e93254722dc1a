//! The points the anti-entropy test writes, which of them were acknowledged, and where each one
//! must be found afterwards.
//!
//! A point is one line of line protocol, unique by its sequence number:
//!
//! ```text
//!   cpu,host=h3 seq=1000042i 1704078000001000042000
//!   └ series ─┘ └─ field ──┘ └ hour 3 + seq µs ──────┘
//! ```
//!
//! The data node routes it by its time to the hour's shard group and by its series key to one
//! shard of that group, so every point of one [`Key`] (hour, host) lands in the same shard. The
//! [`Ledger`] keeps what was acknowledged (`204`: every owner stored it) and checks copies of the
//! shards against it: each acknowledged point is in exactly one shard, on every owner of it.

use std::collections::{BTreeMap, BTreeSet};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;
use std::time::Duration;

use rand::{Rng, SeedableRng};
use rand_chacha::ChaCha8Rng;

use crate::data_nodes::write_lines;
use crate::error::Error;
use crate::meta_view::Owners;

/// The first hour written to: 2024-01-01T00:00:00Z in nanoseconds.
pub const FIRST_HOUR: i64 = 1_704_067_200_000_000_000;
/// An hour in nanoseconds.
const HOUR: i64 = 3_600_000_000_000;
/// Sequence numbers each [`Ledger::block`] hands out.
const BLOCK: u64 = 1_000_000;

/// Where a point goes: its hour (shard group) and host (series, hence shard within the group).
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct Key {
    /// Hours after [`FIRST_HOUR`].
    pub hour: u32,
    /// The `host` tag's number.
    pub host: u32,
}

/// One point.
#[derive(Clone, Debug, PartialEq, Eq, PartialOrd, Ord)]
pub struct Point {
    /// Its hour and series.
    pub key: Key,
    /// Its unique number (also its time within the hour, in microseconds).
    pub seq: u64,
}

impl Point {
    /// The line as sent, and as every copy of its shard stores it.
    pub fn line(&self) -> String {
        let time = FIRST_HOUR + i64::from(self.key.hour) * HOUR + (self.seq as i64) * 1_000;
        format!("cpu,host=h{} seq={}i {time}", self.key.host, self.seq)
    }
}

/// Shard ID → node ID → the distinct lines of that node's copy.
pub type Copies = BTreeMap<u64, BTreeMap<u64, BTreeSet<String>>>;

/// The acknowledged points, and the sequence numbers handed out so far.
#[derive(Clone, Debug, Default)]
pub struct Ledger {
    acked: Vec<Point>,
    next_seq: u64,
}

impl Ledger {
    /// An empty ledger.
    pub fn new() -> Ledger {
        Ledger::default()
    }

    /// `per_key` new points for each of `keys`.
    pub fn points(&mut self, keys: &[Key], per_key: usize) -> Vec<Point> {
        let mut points = Vec::with_capacity(keys.len() * per_key);
        for _ in 0..per_key {
            for key in keys {
                points.push(Point { key: *key, seq: self.next_seq });
                self.next_seq += 1;
            }
        }
        points
    }

    /// A block of fresh sequence numbers for a writer running apart from the ledger.
    pub fn block(&mut self) -> u64 {
        let first = self.next_seq.div_ceil(BLOCK).max(1) * BLOCK;
        self.next_seq = first + BLOCK;
        first
    }

    /// Records `points` as acknowledged.
    pub fn acknowledged(&mut self, points: impl IntoIterator<Item = Point>) {
        self.acked.extend(points);
    }

    /// Every acknowledged point.
    pub fn acked(&self) -> &[Point] {
        &self.acked
    }

    /// The shard each key's points are in, learnt from `copies`; an error naming every point
    /// that is in no copy, or in two shards, and every key whose points are split over shards.
    pub fn routes(&self, copies: &Copies) -> Result<BTreeMap<Key, u64>, Vec<String>> {
        let mut found: BTreeMap<String, BTreeSet<u64>> = BTreeMap::new();
        for (shard, by_node) in copies {
            for line in by_node.values().flatten() {
                found.entry(line.clone()).or_default().insert(*shard);
            }
        }
        let mut routes: BTreeMap<Key, u64> = BTreeMap::new();
        let mut problems = Vec::new();
        for point in &self.acked {
            let line = point.line();
            let shards: Vec<u64> = found.get(&line).into_iter().flatten().copied().collect();
            match shards[..] {
                [] => problems.push(format!("acknowledged point {line:?} is in no copy of any shard")),
                [shard] => match routes.insert(point.key, shard) {
                    Some(other) if other != shard => problems.push(format!(
                        "points of hour {} host h{} are in shards {other} and {shard}",
                        point.key.hour, point.key.host
                    )),
                    _ => {}
                },
                _ => problems.push(format!("acknowledged point {line:?} is in several shards: {shards:?}")),
            }
        }
        if problems.is_empty() {
            Ok(routes)
        } else {
            Err(problems)
        }
    }

    /// Everything wrong with `copies` (every owner's copy of every shard in `owners`): an
    /// acknowledged point missing from an owner of its shard (or from every shard), an owner
    /// whose copy was not read, and two owners of one shard holding different points.
    pub fn check(&self, owners: &Owners, copies: &Copies) -> Vec<String> {
        let routes = match self.routes(copies) {
            Ok(routes) => routes,
            Err(problems) => return problems,
        };
        let mut problems = Vec::new();
        for (shard, nodes) in owners {
            for node in nodes {
                if !copies.get(shard).is_some_and(|c| c.contains_key(node)) {
                    problems.push(format!("the copy of shard {shard} on its owner {node} was not read"));
                }
            }
            let held: Vec<(&u64, &BTreeSet<String>)> =
                copies.get(shard).into_iter().flatten().filter(|(node, _)| nodes.contains(*node)).collect();
            if let Some(((first, lines), rest)) = held.split_first() {
                for (node, other) in rest {
                    if other != lines {
                        let only_first = lines.difference(other).count();
                        let only_other = other.difference(lines).count();
                        problems.push(format!(
                            "owners {first} and {node} of shard {shard} hold different points \
                             ({only_first} only on {first}, {only_other} only on {node})"
                        ));
                    }
                }
            }
        }
        let mut missing: BTreeMap<(u64, u64), Vec<u64>> = BTreeMap::new();
        for point in &self.acked {
            let Some(shard) = routes.get(&point.key) else { continue };
            let line = point.line();
            for node in owners.get(shard).into_iter().flatten() {
                let copy = copies.get(shard).and_then(|c| c.get(node));
                if copy.is_some_and(|lines| !lines.contains(&line)) {
                    missing.entry((*shard, *node)).or_default().push(point.seq);
                }
            }
        }
        for ((shard, node), seqs) in missing {
            problems.push(format!(
                "{} acknowledged points of shard {shard} are missing on its owner {node} (seq {:?}{})",
                seqs.len(),
                &seqs[..seqs.len().min(5)],
                if seqs.len() > 5 { ", ..." } else { "" }
            ));
        }
        problems
    }
}

/// The body of one write: `points` as lines.
pub fn body(points: &[Point]) -> String {
    points.iter().map(Point::line).collect::<Vec<_>>().join("\n")
}

/// What one write of a [`WriteLoad`] did.
#[derive(Clone, Debug)]
pub struct Batch {
    /// The data-node slot it was sent to.
    pub slot: usize,
    /// Its points.
    pub points: Vec<Point>,
    /// `Ok` when acknowledged, else what went wrong.
    pub outcome: Result<(), String>,
}

/// Writes in the background while faults happen: batches of `batch` points on randomly chosen
/// `keys`, each sent to a randomly chosen data node among `targets` (`(slot, address)`), one
/// after the other with `pause` between them, until stopped.
#[derive(Debug)]
pub struct WriteLoad {
    stop: Arc<AtomicBool>,
    task: tokio::task::JoinHandle<Vec<Batch>>,
}

/// What a [`WriteLoad`] needs.
#[derive(Clone, Debug)]
pub struct WriteLoadConfig {
    /// Database to write to.
    pub db: String,
    /// Keys to pick from.
    pub keys: Vec<Key>,
    /// Data nodes to write through, `(slot, address)`.
    pub targets: Vec<(usize, String)>,
    /// Points per write.
    pub batch: usize,
    /// Pause between writes.
    pub pause: Duration,
    /// The first sequence number (from [`Ledger::block`]).
    pub first_seq: u64,
    /// Seed of the choices.
    pub seed: u64,
}

impl WriteLoad {
    /// Starts writing.
    pub fn start(http: reqwest::Client, config: WriteLoadConfig) -> Result<WriteLoad, Error> {
        if config.keys.is_empty() || config.targets.is_empty() {
            return Err(Error::Cluster(format!("a write load needs keys and targets: {config:?}")));
        }
        let stop = Arc::new(AtomicBool::new(false));
        let stopped = Arc::clone(&stop);
        let task = tokio::spawn(async move {
            let mut rng = ChaCha8Rng::seed_from_u64(config.seed);
            let mut seq = config.first_seq;
            let mut batches = Vec::new();
            while !stopped.load(Ordering::SeqCst) {
                let points: Vec<Point> = (0..config.batch)
                    .map(|_| {
                        seq += 1;
                        Point { key: config.keys[rng.random_range(0..config.keys.len())], seq }
                    })
                    .collect();
                let (slot, address) = &config.targets[rng.random_range(0..config.targets.len())];
                let outcome = write_lines(&http, address, &config.db, body(&points)).await;
                batches.push(Batch { slot: *slot, points, outcome });
                // The load's pace (how often it writes), not a wait for any condition.
                tokio::time::sleep(config.pause).await;
            }
            batches
        });
        Ok(WriteLoad { stop, task })
    }

    /// Stops after the write in flight and returns every write's outcome.
    pub async fn stop(self) -> Result<Vec<Batch>, Error> {
        self.stop.store(true, Ordering::SeqCst);
        self.task.await.map_err(|e| Error::Cluster(format!("the write load panicked: {e}")))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn copies(entries: &[(u64, u64, &[String])]) -> Copies {
        let mut copies = Copies::new();
        for (shard, node, lines) in entries {
            copies.entry(*shard).or_default().insert(*node, lines.iter().cloned().collect());
        }
        copies
    }

    #[test]
    fn points_are_unique_and_blocks_never_overlap() {
        let mut ledger = Ledger::new();
        let keys = [Key { hour: 0, host: 1 }, Key { hour: 2, host: 3 }];
        let points = ledger.points(&keys, 2);
        assert_eq!(points.len(), 4);
        assert_eq!(points[3].line(), format!("cpu,host=h3 seq=3i {}", FIRST_HOUR + 2 * HOUR + 3_000));
        let first = ledger.block();
        assert_eq!(first, BLOCK);
        assert!(ledger.points(&keys, 1)[0].seq >= first + BLOCK, "the ledger's own points come after the block");
        assert!(ledger.block() >= 3 * BLOCK);
    }

    #[test]
    fn a_point_missing_on_one_owner_or_everywhere_is_reported() {
        let mut ledger = Ledger::new();
        let key = Key { hour: 0, host: 0 };
        let points = ledger.points(&[key, Key { hour: 1, host: 0 }], 2);
        let lines: Vec<String> = points.iter().map(Point::line).collect();
        ledger.acknowledged(points);
        // Hour 0 is shard 1 on nodes 4 and 5; hour 1 is shard 2 on nodes 5 and 6.
        let hour0 = [lines[0].clone(), lines[2].clone()];
        let hour1 = [lines[1].clone(), lines[3].clone()];
        let owners = Owners::from([(1, vec![4, 5]), (2, vec![5, 6])]);
        let whole = copies(&[(1, 4, &hour0), (1, 5, &hour0), (2, 5, &hour1), (2, 6, &hour1)]);
        assert_eq!(ledger.check(&owners, &whole), Vec::<String>::new());
        assert_eq!(ledger.routes(&whole).expect("routes")[&key], 1);

        let short = copies(&[(1, 4, &hour0), (1, 5, &hour0[..1]), (2, 5, &hour1), (2, 6, &hour1)]);
        let problems = ledger.check(&owners, &short);
        assert!(problems.iter().any(|p| p.contains("missing on its owner 5")), "{problems:?}");
        assert!(problems.iter().any(|p| p.contains("hold different points")), "{problems:?}");

        let lost = copies(&[(1, 4, &hour0), (1, 5, &hour0), (2, 5, &hour1[..1]), (2, 6, &hour1[..1])]);
        let problems = ledger.check(&owners, &lost);
        assert!(problems.iter().any(|p| p.contains("is in no copy")), "{problems:?}");

        let unread = copies(&[(1, 4, &hour0), (2, 5, &hour1), (2, 6, &hour1)]);
        let problems = ledger.check(&owners, &unread);
        assert_eq!(problems, vec!["the copy of shard 1 on its owner 5 was not read".to_owned()]);
    }

    #[test]
    fn a_key_split_over_two_shards_is_reported() {
        let mut ledger = Ledger::new();
        let points = ledger.points(&[Key { hour: 0, host: 0 }], 2);
        let lines: Vec<String> = points.iter().map(Point::line).collect();
        ledger.acknowledged(points);
        let split = copies(&[(1, 4, &lines[..1]), (2, 4, &lines[1..])]);
        let problems = ledger.routes(&split).expect_err("split");
        assert!(problems[0].contains("in shards 1 and 2"), "{problems:?}");
    }
}
