//! Seeded random fault schedules: one to three faults, one after another with random gaps and
//! durations, over a run of load. The same seed gives the same schedule (and the same operation
//! sequence per client; timing, and so the history, differ from run to run).
//!
//! Environment: `FAULT_SEED` replays one schedule; `FAULT_SCHEDULES` sets how many are run
//! (default 20); `FAULT_BASE_SEED` fixes the seeds of the whole sequence.

use std::fmt;
use std::time::Duration;

use rand::{Rng, SeedableRng};
use rand_chacha::ChaCha8Rng;

/// How many schedules a run has unless `FAULT_SCHEDULES` says otherwise.
pub const DEFAULT_SCHEDULES: usize = 20;

/// Which node a fault hits, resolved when the fault starts.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Target {
    /// The current leader.
    Leader,
    /// A follower (the `n`th non-leader, modulo their number).
    Follower(usize),
}

impl fmt::Display for Target {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Target::Leader => f.write_str("leader"),
            Target::Follower(_) => f.write_str("follower"),
        }
    }
}

/// One fault.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Fault {
    /// Cut the node off from its peers (`docker network disconnect`) for `hold`, then heal.
    Partition {
        /// The node.
        target: Target,
        /// How long the cut lasts.
        hold: Duration,
    },
    /// Cut the leader and a follower off from their peers at once for `hold`: no side keeps a
    /// majority, so no node may accept a write or answer a linearizable read; then heal both.
    QuorumLoss {
        /// How long the cuts last.
        hold: Duration,
    },
    /// `docker kill` (SIGKILL) the node, leave it down for `down`, then start it again.
    Kill {
        /// The node.
        target: Target,
        /// How long it stays down.
        down: Duration,
    },
    /// `docker pause` the leader for `hold`, then unpause it.
    PauseLeader {
        /// How long it stays frozen.
        hold: Duration,
    },
    /// `docker restart` the node (SIGTERM, then start).
    Restart {
        /// The node.
        target: Target,
    },
    /// Restart all three nodes one after another, each once the previous one is ready again.
    RollingRestart {
        /// The order (node IDs).
        order: [u64; 3],
    },
}

impl fmt::Display for Fault {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let secs = |d: &Duration| d.as_secs_f64();
        match self {
            Fault::Partition { target, hold } => write!(f, "partition {target} away for {:.1}s", secs(hold)),
            Fault::QuorumLoss { hold } => {
                write!(f, "partition leader and a follower away (no quorum) for {:.1}s", secs(hold))
            }
            Fault::Kill { target, down } => write!(f, "kill -9 {target}, down {:.1}s", secs(down)),
            Fault::PauseLeader { hold } => write!(f, "pause leader for {:.1}s", secs(hold)),
            Fault::Restart { target } => write!(f, "restart {target}"),
            Fault::RollingRestart { order } => write!(f, "rolling restart {order:?}"),
        }
    }
}

/// A fault and how long after the previous one (or the start of the load) it begins.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Step {
    /// Gap before the fault starts.
    pub delay: Duration,
    /// The fault.
    pub fault: Fault,
}

/// A run: load for at least `load`, with `steps` done one after another meanwhile.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Schedule {
    /// The seed it was drawn from.
    pub seed: u64,
    /// How long the load runs at least (it also runs until the last fault is over).
    pub load: Duration,
    /// The faults.
    pub steps: Vec<Step>,
}

impl Schedule {
    /// The schedule of `seed`, with `load` of load.
    pub fn generate(seed: u64, load: Duration) -> Schedule {
        let mut rng = ChaCha8Rng::seed_from_u64(seed);
        let millis = |rng: &mut ChaCha8Rng, from: u64, to: u64| Duration::from_millis(rng.random_range(from..=to));
        let count = rng.random_range(1..=3);
        let mut steps = Vec::new();
        let mut rolled = false;
        for index in 0..count {
            let delay = if index == 0 { millis(&mut rng, 500, 3_000) } else { millis(&mut rng, 200, 2_000) };
            let target = |rng: &mut ChaCha8Rng| {
                if rng.random_bool(0.6) {
                    Target::Leader
                } else {
                    Target::Follower(rng.random_range(0..2))
                }
            };
            let fault = match rng.random_range(0..100) {
                0..=24 => Fault::Partition { target: target(&mut rng), hold: millis(&mut rng, 1_500, 4_000) },
                25..=46 => Fault::Kill { target: target(&mut rng), down: millis(&mut rng, 500, 3_000) },
                47..=64 => Fault::PauseLeader { hold: millis(&mut rng, 1_000, 4_000) },
                65..=74 => Fault::QuorumLoss { hold: millis(&mut rng, 1_500, 3_000) },
                75..=89 => Fault::Restart { target: target(&mut rng) },
                _ if !rolled => {
                    rolled = true;
                    let mut order = [1, 2, 3];
                    for i in (1..order.len()).rev() {
                        order.swap(i, rng.random_range(0..=i));
                    }
                    Fault::RollingRestart { order }
                }
                _ => Fault::Restart { target: target(&mut rng) },
            };
            steps.push(Step { delay, fault });
        }
        Schedule { seed, load, steps }
    }

    /// The faults in one line.
    pub fn faults(&self) -> String {
        self.steps.iter().map(|s| format!("+{:.1}s {}", s.delay.as_secs_f64(), s.fault)).collect::<Vec<_>>().join("; ")
    }
}

impl fmt::Display for Schedule {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "seed {:#018x}, {:.0}s of load: {}", self.seed, self.load.as_secs_f64(), self.faults())
    }
}

/// SplitMix64: spreads consecutive numbers over the seed space.
fn mix(mut z: u64) -> u64 {
    z = z.wrapping_add(0x9e37_79b9_7f4a_7c15);
    z = (z ^ (z >> 30)).wrapping_mul(0xbf58_476d_1ce4_e5b9);
    z = (z ^ (z >> 27)).wrapping_mul(0x94d0_49bb_1331_11eb);
    z ^ (z >> 31)
}

/// Parses a seed written in decimal or as `0x` hex.
pub fn parse_seed(text: &str) -> Option<u64> {
    let text = text.trim();
    match text.strip_prefix("0x").or_else(|| text.strip_prefix("0X")) {
        Some(hex) => u64::from_str_radix(hex, 16).ok(),
        None => text.parse().ok(),
    }
}

/// The seeds to run, and a line saying where they came from. `FAULT_SEED` replays one seed;
/// otherwise `FAULT_SCHEDULES` (default 20) seeds derived from `FAULT_BASE_SEED`, or from the
/// clock when that is unset.
pub fn seeds_from(
    seed: Option<&str>,
    schedules: Option<&str>,
    base: Option<&str>,
    clock: u64,
) -> Result<(Vec<u64>, String), String> {
    if let Some(text) = seed {
        let seed = parse_seed(text).ok_or_else(|| format!("FAULT_SEED={text:?} is not a number"))?;
        return Ok((vec![seed], format!("replaying FAULT_SEED={seed:#x}")));
    }
    let count = match schedules {
        Some(text) => text.trim().parse().map_err(|_| format!("FAULT_SCHEDULES={text:?} is not a count"))?,
        None => DEFAULT_SCHEDULES,
    };
    let base = match base {
        Some(text) => parse_seed(text).ok_or_else(|| format!("FAULT_BASE_SEED={text:?} is not a number"))?,
        None => mix(clock),
    };
    let seeds = (0..count as u64).map(|i| mix(base.wrapping_add(i))).collect();
    Ok((seeds, format!("{count} schedules from FAULT_BASE_SEED={base:#x}")))
}

/// [`seeds_from`] the process environment and the clock.
pub fn seeds_from_env() -> Result<(Vec<u64>, String), String> {
    let var = |name: &str| std::env::var(name).ok().filter(|v| !v.trim().is_empty());
    let clock = std::time::SystemTime::now().duration_since(std::time::UNIX_EPOCH).map_or(0, |d| d.as_nanos() as u64);
    seeds_from(
        var("FAULT_SEED").as_deref(),
        var("FAULT_SCHEDULES").as_deref(),
        var("FAULT_BASE_SEED").as_deref(),
        clock ^ u64::from(std::process::id()),
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    const LOAD: Duration = Duration::from_secs(10);

    #[test]
    fn a_seed_gives_the_same_schedule() {
        assert_eq!(Schedule::generate(42, LOAD), Schedule::generate(42, LOAD));
        let differ = (0..20).filter(|s| Schedule::generate(*s, LOAD) != Schedule::generate(s + 1, LOAD)).count();
        assert!(differ > 15, "seeds give varied schedules");
    }

    #[test]
    fn schedules_have_one_to_three_faults_of_every_kind() {
        let mut kinds = std::collections::HashSet::new();
        for seed in 0..500 {
            let schedule = Schedule::generate(seed, LOAD);
            assert!((1..=3).contains(&schedule.steps.len()), "{schedule}");
            let rolling = schedule.steps.iter().filter(|s| matches!(s.fault, Fault::RollingRestart { .. })).count();
            assert!(rolling <= 1, "{schedule}");
            for step in &schedule.steps {
                assert!(step.delay <= Duration::from_secs(3));
                kinds.insert(std::mem::discriminant(&step.fault));
                if let Fault::RollingRestart { order } = step.fault {
                    let mut sorted = order;
                    sorted.sort_unstable();
                    assert_eq!(sorted, [1, 2, 3]);
                }
            }
        }
        assert_eq!(kinds.len(), 6, "every kind of fault is drawn");
    }

    #[test]
    fn seeds_come_from_the_environment() {
        let (one, how) = seeds_from(Some("0x2a"), Some("5"), None, 0).expect("valid");
        assert_eq!(one, [42]);
        assert!(how.contains("FAULT_SEED=0x2a"), "{how}");
        let (many, how) = seeds_from(None, None, Some("7"), 0).expect("valid");
        assert_eq!(many.len(), DEFAULT_SCHEDULES);
        assert!(how.contains("FAULT_BASE_SEED=0x7"), "{how}");
        assert_eq!(seeds_from(None, Some("3"), Some("7"), 0).expect("valid").0, many[..3]);
        assert_ne!(
            seeds_from(None, None, None, 1).expect("valid").0,
            seeds_from(None, None, None, 2).expect("valid").0
        );
        assert!(seeds_from(Some("x"), None, None, 0).is_err());
        assert!(seeds_from(None, Some("many"), None, 0).is_err());
    }

    #[test]
    fn a_schedule_reads_as_one_line() {
        let schedule = Schedule {
            seed: 255,
            load: LOAD,
            steps: vec![Step {
                delay: Duration::from_millis(1_500),
                fault: Fault::Partition { target: Target::Leader, hold: Duration::from_secs(2) },
            }],
        };
        assert_eq!(schedule.to_string(), "seed 0x00000000000000ff, 10s of load: +1.5s partition leader away for 2.0s");
    }
}
