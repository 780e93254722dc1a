//! Fault tests in Docker for `metad`: a three-node cluster in containers runs under load while
//! seeded random schedules partition the leader away (`docker network disconnect`), take the
//! quorum away (the leader and a follower cut off at once), `kill -9` nodes, `docker pause` the leader, restart nodes and roll restarts through all of them. Every
//! client operation is recorded with its invoke and return times and its outcome, and the
//! history is then checked: linearizable against a model of the database routes (with
//! `consistency_model`'s tester, name by name), no acknowledged write lost, no answer from a node
//! cut off from its peers, and all replicas converged after healing.
//!
//! A second test, `docker_anti_entropy.rs`, runs `datad` data nodes beside the cluster and
//! checks anti-entropy in Docker: a data node `kill -9`ed, then one cut off from the meta nodes
//! (`docker network disconnect`), each declared dead and its shards re-replicated from the
//! surviving copies, with no acknowledged point missing from any owner.
//!
//! The tests are `docker_faults.rs` and `docker_anti_entropy.rs` in the workspace's `tests/tests/`
//! (package `scenarios`); this library holds their parts:
//!
//! | module | holds |
//! |---|---|
//! | `model` | the sequential spec: a set of database names; create / drop / get |
//! | `history` | operations with times and outcomes (ok / fail / info), and how replies are classified |
//! | `checker` | linearizability per name, lost writes, minority refusals |
//! | `schedule` | seeded fault schedules and where the seeds come from |
//! | `docker` | the `docker` CLI and the run's containers and networks (removed on drop) |
//! | `cluster` | three `metad` containers on a peer network and a client network, and the faults |
//! | `load` | the clients |
//! | `runner` | one schedule end to end |
//! | `data_nodes` | `datad` containers beside the cluster (a data network of their own), kill and cut-off |
//! | `meta_view` | shard owners, data-node liveness and copy tasks as the meta service reports them |
//! | `points` | the anti-entropy test's points, which were acknowledged, and a background write load |
//! | `replicas` | owners against holders: the healthy state waited for, and every owner's copy read |
//!
//! ```
//! use std::time::Duration;
//! use fault_suite::{check, Databases, Entry, History, Op, Outcome, Ret};
//!
//! let at = Duration::from_millis;
//! let history = History::new(vec![
//!     Entry { process: 0, node: 1, op: Op::Create("db".into()), invoke: at(0), complete: at(5), outcome: Outcome::Ok(Ret::Created) },
//!     Entry { process: 1, node: 2, op: Op::Get("db".into()), invoke: at(9), complete: at(12), outcome: Outcome::Ok(Ret::NotFound) },
//! ]);
//! // A read after an acknowledged create missed it: not linearizable.
//! assert!(!check(&history, &Databases::default(), 99, &[], Duration::from_secs(1)).is_ok());
//! ```

mod checker;
mod cluster;
mod data_nodes;
mod docker;
mod error;
mod history;
mod load;
mod meta_view;
mod model;
mod points;
mod replicas;
mod runner;
mod schedule;
mod test_env;

pub use checker::{check, first_unexplained, linearizable, Isolation, Linearizable, Verdict, Violation};
pub use cluster::{wait_for, Addresses, Converged, DockerCluster, NODES};
pub use data_nodes::{write_lines, DataNodeState, DataNodeStatus, DataNodes, ShardCopy, DATA_PORT};
pub use docker::{available, build_image, docker, remove_leftovers, Docker};
pub use error::Error;
pub use history::{classify, Counts, Entry, History, Outcome, Reply};
pub use load::{ApiClient, Load, LoadConfig};
pub use meta_view::{health_of, owners_of, replacements, MetaApi, Owners};
pub use model::{Databases, Op, Ret};
pub use points::{body, Batch, Copies, Key, Ledger, Point, WriteLoad, WriteLoadConfig, FIRST_HOUR};
pub use replicas::{read_copies, ReplicaView};
pub use runner::{run_schedule, RunConfig, ScheduleReport, FINAL_PROCESS};
pub use schedule::{parse_seed, seeds_from, seeds_from_env, Fault, Schedule, Step, Target, DEFAULT_SCHEDULES};
pub use test_env::{in_ci, prepare, target_dir};
