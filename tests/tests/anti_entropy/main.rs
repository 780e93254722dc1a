//! Anti-entropy end to end with real processes: 3 `metad` and 3-4 `datad` on loopback. The seed
//! scenarios (a dead node replaced, a machine swapped with `update-data`, a live node retired, an
//! unrecoverable RF=1 shard), a silent node healed without an operator, the operator's copy
//! commands, and the failures around them (a data node or the meta leader killed in the middle of
//! a repair), and the web console watching a repair in a real browser.

mod balance;
mod console;
mod content;
mod dead_node;
mod failover;
mod failure_domains;
mod handoff;
mod hot_copy;
mod operator;
mod replace;
mod retire;
mod shard_files;
mod soak;
mod support;
mod tokens;
mod unrecoverable;
mod write_safety;
