//! `show-shards`: every shard with its owners (as `influxd-ctl show-shards`), one row per copy
//! with `--verbose`, or with `-m` only what the metadata and the data nodes' disks disagree on.

use std::collections::{BTreeMap, BTreeSet};

use meta_client::Client;
use meta_model::{NodeId, ShardId};
use meta_wire::{DataNodeHealth, EntropyReport, GroupStatus, ShardInfo};
use serde::Serialize;
use serde_json::json;

use crate::entropy::{lower, orphans_table};
use crate::table::Table;
use crate::time::format_rfc3339;
use crate::{to_json, CtlError};

/// Runs `show-shards` (`verbose`: a row per copy; `missing`: only disagreements).
pub(crate) async fn show(client: &Client, verbose: bool, missing: bool, json: bool) -> Result<String, CtlError> {
    let shards = client.shards().await?;
    if missing {
        let report = client.entropy().await?;
        return if json { to_json(&disagreements(&shards, &report)) } else { Ok(render_missing(&shards, &report)) };
    }
    if !verbose {
        return if json { to_json(&json!({ "shards": shards })) } else { Ok(render(&shards)) };
    }
    // Liveness and inventories come from the leader; without one the metadata still shows.
    let report = client.entropy().await.map_err(|e| e.to_string());
    let view = CopyView::new(report.as_ref().ok());
    if json {
        let copies: Vec<CopyRow> = shards.iter().flat_map(|s| view.rows(s)).collect();
        return to_json(&json!({ "shards": shards, "copies": copies }));
    }
    let mut out = render_verbose(&shards, &view);
    if let Err(error) = report {
        out.push_str(&format!("\nLiveness and copies unknown: the leader's report could not be read ({error}).\n"));
    } else if !view.trusted {
        out.push_str(
            "\nCopies unknown: the leader took over recently and trusts no inventory until its grace period \
             ends.\n",
        );
    }
    Ok(out)
}

/// The table of `show-shards`: a row per shard.
fn render(shards: &[ShardInfo]) -> String {
    let header = [
        "ID",
        "Database",
        "Retention Policy",
        "Desired Replicas",
        "Shard Group",
        "Start",
        "End",
        "Expires",
        "Status",
        "Owners",
    ];
    let mut table = Table::new("Shards", &header);
    for shard in shards {
        table.row(vec![
            shard.id.to_string(),
            shard.database.clone(),
            shard.retention_policy.clone(),
            shard.replication_factor.to_string(),
            shard.shard_group.to_string(),
            format_rfc3339(shard.start),
            format_rfc3339(shard.end),
            shard.expires.map(format_rfc3339).unwrap_or_default(),
            group_status(shard),
            owners(shard),
        ]);
    }
    table.render()
}

/// The table of `show-shards --verbose`: a row per copy (a shard without owners gets one row).
fn render_verbose(shards: &[ShardInfo], view: &CopyView) -> String {
    let header = [
        "ID",
        "Database",
        "Retention Policy",
        "Shard Group",
        "Start",
        "End",
        "Status",
        "Owner",
        "Address",
        "State",
        "Liveness",
        "Copy",
    ];
    let mut table = Table::new("Shard Copies", &header);
    for shard in shards {
        let rows = view.rows(shard);
        let rows = if rows.is_empty() { vec![CopyRow::ownerless(shard.id)] } else { rows };
        for row in rows {
            table.row(vec![
                shard.id.to_string(),
                shard.database.clone(),
                shard.retention_policy.clone(),
                shard.shard_group.to_string(),
                format_rfc3339(shard.start),
                format_rfc3339(shard.end),
                group_status(shard),
                row.node_id.map_or_else(|| "-".to_owned(), |id| id.to_string()),
                row.tcp_addr,
                row.state,
                row.liveness,
                row.copy,
            ]);
        }
    }
    table.render()
}

/// The tables of `show-shards -m`: copies owners lack, then files no shard uses.
fn render_missing(shards: &[ShardInfo], report: &EntropyReport) -> String {
    let found = disagreements(shards, report);
    let mut out = String::new();
    if !report.trusted {
        out.push_str(
            "The leader took over recently: it trusts no inventory until its grace period ends, so nothing is \
             known missing yet.\n",
        );
    }
    if found.missing_on_owner.is_empty() {
        out.push_str("No owner lacks a copy of a shard it owns.\n");
    } else {
        let header = ["ID", "Database", "Retention Policy", "Shard Group", "Owner", "Address", "Liveness"];
        let mut table = Table::new("Shards Missing on an Owner (in the metadata, not on the node)", &header);
        for copy in &found.missing_on_owner {
            table.row(vec![
                copy.shard_id.to_string(),
                copy.database.clone(),
                copy.retention_policy.clone(),
                copy.shard_group.map_or_else(|| "-".to_owned(), |g| g.to_string()),
                copy.node_id.to_string(),
                copy.addr.clone(),
                copy.liveness.clone(),
            ]);
        }
        out.push_str(&table.render());
    }
    let orphans = orphans_table(report);
    if orphans.is_empty() {
        out.push_str("No data node keeps a shard file the metadata does not use.\n");
    } else {
        out.push_str(&orphans);
    }
    out
}

/// What `show-shards -m` finds, as `--json` prints it.
#[derive(Debug, Serialize)]
struct Disagreements {
    /// Whether the leader trusts its inventories yet (nothing is found missing before).
    trusted: bool,
    /// Copies the metadata gives an owner that its last inventory lacks.
    missing_on_owner: Vec<MissingRow>,
    /// Shard files data nodes keep that no shard of the metadata uses, by node.
    orphans: BTreeMap<NodeId, Vec<meta_wire::OrphanShardFile>>,
}

/// A copy an owner lacks, with where the shard belongs.
#[derive(Debug, Serialize)]
struct MissingRow {
    shard_id: ShardId,
    database: String,
    retention_policy: String,
    shard_group: Option<u64>,
    node_id: NodeId,
    addr: String,
    liveness: String,
}

fn disagreements(shards: &[ShardInfo], report: &EntropyReport) -> Disagreements {
    let by_id: BTreeMap<ShardId, &ShardInfo> = shards.iter().map(|s| (s.id, s)).collect();
    let nodes: BTreeMap<NodeId, &DataNodeHealth> = report.nodes.iter().map(|n| (n.id, n)).collect();
    let missing_on_owner = report
        .missing_on_owner
        .iter()
        .map(|m| {
            let shard = by_id.get(&m.shard_id);
            let node = nodes.get(&m.node_id);
            MissingRow {
                shard_id: m.shard_id,
                database: shard.map(|s| s.database.clone()).unwrap_or_default(),
                retention_policy: shard.map(|s| s.retention_policy.clone()).unwrap_or_default(),
                shard_group: shard.map(|s| s.shard_group),
                node_id: m.node_id,
                addr: node.map(|n| n.addr.clone()).unwrap_or_default(),
                liveness: node.map_or_else(|| "-".to_owned(), |n| lower(&n.liveness)),
            }
        })
        .collect();
    let orphans = report.nodes.iter().filter(|n| !n.orphans.is_empty()).map(|n| (n.id, n.orphans.clone())).collect();
    Disagreements { trusted: report.trusted, missing_on_owner, orphans }
}

/// One copy of a shard as `show-shards --verbose` lists it.
#[derive(Debug, Serialize)]
struct CopyRow {
    shard_id: ShardId,
    node_id: Option<NodeId>,
    tcp_addr: String,
    state: String,
    liveness: String,
    /// `held` (its last inventory has it), `missing` (it lacks it), `never written` (no file is
    /// expected), `no inventory yet` or `unknown` (no trusted report).
    copy: String,
}

impl CopyRow {
    fn ownerless(shard_id: ShardId) -> CopyRow {
        let dash = || "-".to_owned();
        CopyRow { shard_id, node_id: None, tcp_addr: dash(), state: dash(), liveness: dash(), copy: "no owner".into() }
    }
}

/// What the leader's report says of each copy.
struct CopyView<'a> {
    trusted: bool,
    nodes: BTreeMap<NodeId, &'a DataNodeHealth>,
    missing: BTreeSet<(ShardId, NodeId)>,
}

impl<'a> CopyView<'a> {
    fn new(report: Option<&'a EntropyReport>) -> Self {
        CopyView {
            trusted: report.is_some_and(|r| r.trusted),
            nodes: report.map(|r| r.nodes.iter().map(|n| (n.id, n)).collect()).unwrap_or_default(),
            missing: report
                .map(|r| r.missing_on_owner.iter().map(|m| (m.shard_id, m.node_id)).collect())
                .unwrap_or_default(),
        }
    }

    fn rows(&self, shard: &ShardInfo) -> Vec<CopyRow> {
        shard
            .owners
            .iter()
            .map(|owner| {
                let health = self.nodes.get(&owner.id);
                let copy = if !self.trusted {
                    "unknown"
                } else if self.missing.contains(&(shard.id, owner.id)) {
                    "missing"
                } else if !shard.written {
                    "never written"
                } else if health.is_none_or(|h| h.shards_reported.is_none()) {
                    "no inventory yet"
                } else {
                    "held"
                };
                CopyRow {
                    shard_id: shard.id,
                    node_id: Some(owner.id),
                    tcp_addr: owner.tcp_addr.clone(),
                    state: owner.state.map_or_else(|| "unknown".to_owned(), |s| lower(&s)),
                    liveness: health.map_or_else(|| "?".to_owned(), |h| lower(&h.liveness)),
                    copy: copy.to_owned(),
                }
            })
            .collect()
    }
}

fn owners(shard: &ShardInfo) -> String {
    let owners: Vec<String> = shard.owners.iter().map(|o| format!("{{{} {}}}", o.id, o.tcp_addr)).collect();
    format!("[{}]", owners.join(" "))
}

/// The Status column: live, or since when the group is truncated, expired or deleted.
fn group_status(shard: &ShardInfo) -> String {
    match shard.status {
        GroupStatus::Live => "live".to_owned(),
        GroupStatus::Truncated => {
            format!("truncated {}", shard.truncated_at.map(format_rfc3339).unwrap_or_default())
        }
        GroupStatus::Expired => "expired".to_owned(),
        GroupStatus::Deleted => format!("deleted {}", shard.deleted_at.map(format_rfc3339).unwrap_or_default()),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use meta_model::NodeState;
    use meta_wire::{Liveness, MissingCopy, OrphanShardFile, ShardOwner};

    fn shard(id: ShardId, written: bool, owners: &[NodeId]) -> ShardInfo {
        let owner = |&id: &NodeId| ShardOwner { id, tcp_addr: format!("d{id}:8088"), state: Some(NodeState::Active) };
        ShardInfo {
            id,
            database: "db".into(),
            retention_policy: "rp".into(),
            replication_factor: 2,
            shard_group: 1,
            start: 0,
            end: 3_600_000_000_000,
            expires: None,
            truncated_at: None,
            deleted_at: None,
            status: GroupStatus::Live,
            written,
            owners: owners.iter().map(owner).collect(),
        }
    }

    fn node(id: NodeId, liveness: Liveness, inventory: bool) -> DataNodeHealth {
        DataNodeHealth {
            id,
            addr: format!("d{id}:8086"),
            state: NodeState::Active,
            liveness,
            last_heartbeat_ms: Some(100),
            dead_in_ms: None,
            version: None,
            shards_reported: inventory.then_some(2),
            handoff: vec![],
            orphans: vec![],
        }
    }

    /// Shard 1 written on nodes 1 and 2 (node 2 lacks it), shard 2 never written, shard 3 on
    /// node 3 that has sent no inventory yet, shard 4 without owners; node 1 keeps an orphan.
    fn cluster() -> (Vec<ShardInfo>, EntropyReport) {
        let shards = vec![shard(1, true, &[1, 2]), shard(2, false, &[1, 2]), shard(3, true, &[3]), shard(4, true, &[])];
        let mut first = node(1, Liveness::Online, true);
        first.orphans = vec![OrphanShardFile {
            name: "9.shard".into(),
            shard_id: Some(9),
            bytes: 2048,
            reason: "unknown_shard".into(),
        }];
        let report = EntropyReport {
            trusted: true,
            missing_on_owner: vec![MissingCopy { shard_id: 1, node_id: 2 }],
            nodes: vec![first, node(2, Liveness::Suspect, true), node(3, Liveness::Online, false)],
            ..EntropyReport::default()
        };
        (shards, report)
    }

    fn copy_of(rows: &[CopyRow], node: NodeId) -> (&str, &str) {
        let row = rows.iter().find(|r| r.node_id == Some(node)).expect("a row for the owner");
        (row.copy.as_str(), row.liveness.as_str())
    }

    #[test]
    fn verbose_rows_say_of_each_copy_whether_its_owner_holds_it() {
        let (shards, report) = cluster();
        let view = CopyView::new(Some(&report));
        assert_eq!(copy_of(&view.rows(&shards[0]), 1), ("held", "online"));
        assert_eq!(copy_of(&view.rows(&shards[0]), 2), ("missing", "suspect"));
        assert_eq!(copy_of(&view.rows(&shards[1]), 2), ("never written", "suspect"));
        assert_eq!(copy_of(&view.rows(&shards[2]), 3), ("no inventory yet", "online"));
        assert!(view.rows(&shards[3]).is_empty());
        let text = render_verbose(&shards, &view);
        assert_eq!(text.lines().filter(|l| l.contains("d1:8088")).count(), 2, "one row per copy:\n{text}");
        assert!(text.contains("no owner"), "a shard without owners still shows:\n{text}");

        // Before the leader trusts inventories, and without a report, nothing is claimed.
        let untrusted = EntropyReport { trusted: false, ..report.clone() };
        let view = CopyView::new(Some(&untrusted));
        assert_eq!(copy_of(&view.rows(&shards[0]), 2), ("unknown", "suspect"));
        let view = CopyView::new(None);
        assert_eq!(copy_of(&view.rows(&shards[0]), 1), ("unknown", "?"));
    }

    #[test]
    fn the_missing_view_lists_copies_owners_lack_and_files_no_shard_uses() {
        let (shards, report) = cluster();
        let found = disagreements(&shards, &report);
        assert_eq!(found.missing_on_owner.len(), 1);
        let missing = &found.missing_on_owner[0];
        assert_eq!((missing.shard_id, missing.node_id, missing.addr.as_str()), (1, 2, "d2:8086"));
        assert_eq!((missing.database.as_str(), missing.liveness.as_str()), ("db", "suspect"));
        assert_eq!(found.orphans.keys().copied().collect::<Vec<_>>(), [1]);
        let text = render_missing(&shards, &report);
        assert!(text.contains("Shards Missing on an Owner") && text.contains("9.shard"), "{text}");
        assert!(!text.contains("grace period"), "{text}");

        let clean = EntropyReport { trusted: false, ..EntropyReport::default() };
        let text = render_missing(&shards, &clean);
        assert!(text.contains("grace period") && text.contains("No owner lacks a copy"), "{text}");
        assert!(text.contains("No data node keeps a shard file"), "{text}");
    }
}
