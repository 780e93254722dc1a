//! `entropy show|repair|kill-repair`, `copy-shard`, `copy-shard-status` and `kill-copy-shard`,
//! with the progress bar that `--wait` draws while copies run.

use std::time::Duration;

use indicatif::{ProgressBar, ProgressDrawTarget, ProgressStyle};
use meta_client::Client;
use meta_model::{DataNode, NodeId, ShardId, Task, TaskId, TaskState, Timestamp};
use meta_wire::{CopyTaskInfo, EntropyReport, ShardHealth};

use crate::table::Table;
use crate::{done, to_json, CtlError};

/// How often `--wait` polls the task.
const POLL: Duration = Duration::from_millis(250);

/// `entropy show`.
pub(crate) async fn show(client: &Client, json: bool) -> Result<String, CtlError> {
    let report = client.entropy().await?;
    if json {
        return to_json(&report);
    }
    Ok(render_report(&report, meta_model::wall_clock()))
}

fn render_report(report: &EntropyReport, now: Timestamp) -> String {
    let mut out = String::new();
    let planned = match (report.planned_at, report.plan_micros) {
        (Some(at), Some(micros)) => format!("last plan {} ago, took {}", age(now, at), micros_text(micros)),
        _ => "no plan yet".to_owned(),
    };
    let planned = match report.full_plan_input_micros {
        Some(input) => format!("{planned} (last full round: input built in {})", micros_text(input)),
        None => planned,
    };
    out.push_str(&format!("Leader {}: {planned}", report.leader_id));
    if !report.trusted {
        out.push_str(" (in its grace period after taking over: not planning yet)");
    }
    out.push_str("\n\n");

    let mut nodes =
        Table::new("Data Nodes", &["ID", "Address", "State", "Liveness", "Last Heartbeat", "Dead In", "Shards"]);
    for node in &report.nodes {
        nodes.row(vec![
            node.id.to_string(),
            node.addr.clone(),
            lower(&node.state),
            lower(&node.liveness),
            node.last_heartbeat_ms.map(|ms| format!("{} ago", millis_text(ms))).unwrap_or_else(|| "never".to_owned()),
            node.dead_in_ms.map(millis_text).unwrap_or_else(|| "-".to_owned()),
            node.shards_reported.map(|n| n.to_string()).unwrap_or_else(|| "?".to_owned()),
        ]);
    }
    out.push_str(&nodes.render());
    out.push_str(&handoff_table(report));
    out.push_str(&orphans_table(report));

    let sections: [(&'static str, &[ShardHealth]); 3] = [
        ("Under-replicated Shards", &report.under_replicated),
        ("Insufficient Nodes (replication factor above the eligible nodes)", &report.insufficient_nodes),
        ("Over-replicated Shards", &report.over_replicated),
    ];
    for (title, list) in sections {
        if list.is_empty() {
            continue;
        }
        let mut table = Table::new(title, &["Shard", "Live Copies", "Desired"]);
        for health in list {
            table.row(vec![health.shard_id.to_string(), health.live_copies.to_string(), health.desired.to_string()]);
        }
        out.push('\n');
        out.push_str(&table.render());
    }
    out.push_str(&content_section(report));
    if !report.inconsistent.is_empty() {
        let shards: Vec<String> = report.inconsistent.iter().map(ShardId::to_string).collect();
        out.push_str(&format!(
            "\nINCONSISTENT: the owners of shard(s) {} hold cold copies with different points (their content \
             digests differ); a repair task reconciles them once the shard has all its copies (see Tasks), \
             `entropy repair SHARD` asks for one now.\n",
            shards.join(", ")
        ));
    }
    if !report.mis_replicated.is_empty() {
        let mut table = Table::new(
            "Mis-replicated Shards (owners share a failure domain the live nodes could avoid)",
            &["Shard", "Shared Level", "Owners"],
        );
        for shard in &report.mis_replicated {
            let owners: Vec<String> = shard.owners.iter().map(NodeId::to_string).collect();
            table.row(vec![shard.shard_id.to_string(), shard.level.clone(), owners.join(",")]);
        }
        out.push_str(&format!(
            "\nMIS-REPLICATED: {} shard(s) have owners sharing a {} domain although live nodes elsewhere could \
             hold a copy (failure domains: {}); a new copy goes where it spreads them best.\n",
            report.mis_replicated.len(),
            report.mis_replicated[0].level,
            report.failure_domains.join(" > ")
        ));
        out.push_str(&table.render());
    }
    if !report.missing_on_owner.is_empty() {
        let mut table = Table::new("Missing on Owner", &["Shard", "Owner"]);
        for missing in &report.missing_on_owner {
            table.row(vec![missing.shard_id.to_string(), missing.node_id.to_string()]);
        }
        out.push('\n');
        out.push_str(&table.render());
    }
    if !report.unrecoverable.is_empty() {
        let shards: Vec<String> = report.unrecoverable.iter().map(ShardId::to_string).collect();
        out.push_str(&format!(
            "\nUNRECOVERABLE: no live copy of shard(s) {} exists anywhere; nothing can be copied. Restore them \
             from a backup or drop them.\n",
            shards.join(", ")
        ));
        let queued: u64 = report.nodes.iter().flat_map(|n| &n.handoff).map(|q| q.entries).sum();
        if queued > 0 {
            out.push_str(&format!(
                "Before dropping anything: hinted-handoff queues still hold {queued} write(s) (see Hinted Handoff); \
                 a shard whose writes wait there is delivered to its owners once they are back.\n"
            ));
        }
    }
    let lifecycle = &report.lifecycle;
    if lifecycle.truncated_groups + lifecycle.expired_groups + lifecycle.deleted_groups > 0 {
        out.push_str(&format!(
            "\nShard groups: {} truncated (repaired as any other), {} expired (deleted at the next retention \
             check), {} deleted (data nodes remove their files; forgotten after the prune delay); {} shard(s) \
             of expired or deleted groups are never repaired.\n",
            lifecycle.truncated_groups,
            lifecycle.expired_groups,
            lifecycle.deleted_groups,
            lifecycle.shards_not_planned
        ));
    }
    out.push('\n');
    out.push_str(&tasks_table(&report.tasks, now));
    out
}

/// The owners' copies by content status, and the copies of each inconsistent shard.
fn content_section(report: &EntropyReport) -> String {
    let content = &report.content;
    let mut out = format!(
        "\nContent: {} consistent, {} inconsistent, {} hot (still written, not compared), {} unknown (not reported)\n",
        content.consistent, content.inconsistent, content.hot, content.unknown
    );
    if !content.differing.is_empty() {
        let mut table = Table::new("Inconsistent Shards", &["Shard", "Owner", "Points", "Content Root", "Apart"]);
        for shard in &content.differing {
            for (i, copy) in shard.copies.iter().enumerate() {
                let (id, apart) = if i == 0 {
                    (shard.shard_id.to_string(), format!("≥ {} points", shard.points_apart))
                } else {
                    (String::new(), String::new())
                };
                table.row(vec![
                    id,
                    copy.node_id.to_string(),
                    copy.points.to_string(),
                    format!("{:016x}", copy.root),
                    apart,
                ]);
            }
        }
        out.push('\n');
        out.push_str(&table.render());
    }
    out
}

/// The hinted-handoff queues the data nodes reported (empty when none holds anything or dropped
/// anything): writes that wait on disk for an owner that could not take them.
fn handoff_table(report: &EntropyReport) -> String {
    let queues: Vec<_> = report
        .nodes
        .iter()
        .flat_map(|n| n.handoff.iter().map(move |q| (n.id, q)))
        .filter(|(_, q)| q.entries > 0 || q.dropped_entries > 0)
        .collect();
    if queues.is_empty() {
        return String::new();
    }
    let mut table = Table::new(
        "Hinted Handoff (writes held for owners that missed them)",
        &["Held By", "For", "Writes", "Bytes", "Oldest", "Dropped"],
    );
    let mut dropped = 0;
    let mut lacking: Vec<String> = Vec::new();
    for (holder, queue) in queues {
        dropped += queue.dropped_entries;
        if !queue.dropped_shards.is_empty() {
            let shards: Vec<String> = queue.dropped_shards.iter().map(ShardId::to_string).collect();
            lacking.push(format!("node {} lacks writes to shard(s) {}", queue.target, shards.join(", ")));
        }
        table.row(vec![
            holder.to_string(),
            queue.target.to_string(),
            queue.entries.to_string(),
            bytes(queue.bytes),
            queue.oldest_age_ms.map(millis_text).unwrap_or_else(|| "-".to_owned()),
            format!("{} ({})", queue.dropped_entries, bytes(queue.dropped_bytes)),
        ]);
    }
    let mut out = format!("\n{}", table.render());
    if dropped > 0 {
        out.push_str(&format!(
            "DROPPED: {dropped} write(s) could not be kept for their owners (queue over max-size or max-age, or \
             refused): {}. Such a shard is compared once its copies are cold and repaired to the union of the \
             owners' points; {}.\n",
            lacking.join("; "),
            awaiting_text(&report.content.awaiting_check)
        ));
    }
    out
}

/// What the DROPPED line says of the shards still to be checked (`awaiting`).
fn awaiting_text(awaiting: &[ShardId]) -> String {
    if awaiting.is_empty() {
        return "every such shard has been found consistent since".to_owned();
    }
    let shards: Vec<String> = awaiting.iter().map(ShardId::to_string).collect();
    format!("awaiting that check: shard(s) {} (`metactl entropy repair SHARD` reconciles one now)", shards.join(", "))
}

/// The files data nodes keep in their shard directories without using them (empty when none).
pub(crate) fn orphans_table(report: &EntropyReport) -> String {
    let mut table = Table::new(
        "Orphan Shard Files (kept; never written, copied from or deleted by the node)",
        &["Node", "File", "Shard", "Bytes", "Reason"],
    );
    let mut any = false;
    for node in &report.nodes {
        for orphan in &node.orphans {
            any = true;
            table.row(vec![
                node.id.to_string(),
                orphan.name.clone(),
                orphan.shard_id.map_or_else(|| "-".to_owned(), |s| s.to_string()),
                bytes(orphan.bytes),
                orphan.reason.clone(),
            ]);
        }
    }
    if any {
        format!("\n{}", table.render())
    } else {
        String::new()
    }
}

pub(crate) fn tasks_table(tasks: &[CopyTaskInfo], now: Timestamp) -> String {
    let header = [
        "ID", "Kind", "Shard", "Source", "Target", "Replaces", "Reason", "State", "Attempt", "Progress", "Age", "Error",
    ];
    let mut table = Table::new("Tasks", &header);
    for info in tasks {
        let task = &info.task;
        let progress = match &info.progress {
            Some(p) => {
                let mut text = format!(
                    "{} {}/{}",
                    percent(p.bytes_done, p.bytes_total),
                    bytes(p.bytes_done),
                    bytes(p.bytes_total)
                );
                if let (Some(rate), Some(eta)) = (p.bytes_per_sec, p.eta_ms()) {
                    // The ETA counts from the report, which is `age_ms` old.
                    text.push_str(&format!(" {}/s ETA {}", bytes(rate), millis_text(eta.saturating_sub(p.age_ms))));
                }
                text
            }
            None => "-".to_owned(),
        };
        table.row(vec![
            task.id.to_string(),
            lower(&task.kind),
            task.spec.shard_id.to_string(),
            task.spec.source.to_string(),
            task.spec.target.to_string(),
            task.spec.replaces.map(|r| r.to_string()).unwrap_or_else(|| "-".to_owned()),
            lower(&task.spec.reason),
            lower(&task.state),
            task.attempt.to_string(),
            progress,
            age(now, task.created_at),
            task.last_error.clone().unwrap_or_default(),
        ]);
    }
    table.render()
}

/// `entropy repair SHARD`.
pub(crate) async fn repair(client: &Client, shard: ShardId, wait: bool, json: bool) -> Result<String, CtlError> {
    let reply = client.repair_shard(shard).await?;
    if wait {
        for task in &reply.tasks {
            wait_for(client, task).await?;
        }
    }
    if json {
        return to_json(&reply);
    }
    if reply.tasks.is_empty() {
        if client.entropy().await.is_ok_and(|report| report.unrecoverable.contains(&shard)) {
            return Err(CtlError(format!(
                "shard {shard} has no live copy anywhere: nothing can be copied or reconciled (see UNRECOVERABLE \
                 in `metactl entropy show`)"
            )));
        }
        return Ok(format!("Shard {shard} needs no copy now (see `metactl entropy show`)\n"));
    }
    let tasks: Vec<String> =
        reply.tasks.iter().map(|t| format!("{} ({})", t.id, format!("{:?}", t.kind).to_lowercase())).collect();
    let verb = if wait { "Repaired" } else { "Repairing" };
    Ok(format!("{verb} shard {shard}: task(s) {}\n", tasks.join(", ")))
}

/// `entropy kill-repair TASK`.
pub(crate) async fn kill(client: &Client, task: TaskId, json: bool) -> Result<String, CtlError> {
    let killed = client.kill_copy_task(task).await?;
    if json {
        return to_json(&killed);
    }
    Ok(format!(
        "Killed copy task {} (shard {}); `metactl entropy repair {}` plans it again\n",
        killed.id, killed.spec.shard_id, killed.spec.shard_id
    ))
}

/// `copy-shard SRC DEST SHARD`.
pub(crate) async fn copy_shard(
    client: &Client,
    shard: ShardId,
    source: &DataNode,
    dest: &DataNode,
    wait: bool,
    json: bool,
) -> Result<String, CtlError> {
    let task = client.copy_shard(shard, source.id, dest.id).await?;
    let task = if wait { wait_for(client, &task).await? } else { task };
    if json {
        return to_json(&task);
    }
    let what = format!("shard {shard} from {} to {}", source.tcp_addr, dest.tcp_addr);
    if wait {
        Ok(format!("Copied {what} (task {})\n", task.id))
    } else {
        Ok(format!("Copying {what} (task {}); see `metactl copy-shard-status`\n", task.id))
    }
}

/// `copy-shard-status`: open, failed and killed tasks.
pub(crate) async fn copy_shard_status(client: &Client, json: bool) -> Result<String, CtlError> {
    let list = client.copy_tasks(None).await?;
    let tasks: Vec<CopyTaskInfo> =
        list.tasks.into_iter().filter(|i| i.task.state.is_open() || i.task.blocks_replanning()).collect();
    if json {
        return to_json(&serde_json::json!({ "tasks": tasks }));
    }
    Ok(tasks_table(&tasks, meta_model::wall_clock()))
}

/// `kill-copy-shard SRC DEST SHARD`.
pub(crate) async fn kill_copy_shard(
    client: &Client,
    shard: ShardId,
    source: NodeId,
    dest: NodeId,
    json: bool,
) -> Result<String, CtlError> {
    let open = client.copy_tasks(None).await?.tasks;
    let task = open
        .iter()
        .map(|info| &info.task)
        .find(|t| t.state.is_open() && t.spec.shard_id == shard && t.spec.source == source && t.spec.target == dest)
        .ok_or_else(|| {
            CtlError(format!("no copy of shard {shard} from node {source} to node {dest} is in progress"))
        })?;
    let killed = client.kill_copy_task(task.id).await?;
    done(json, format!("Killed copy task {} (shard {shard} from node {source} to node {dest})\n", killed.id))
}

/// Polls `task` until it finishes, drawing a progress bar on stderr (when it is a terminal);
/// fails unless it is done.
async fn wait_for(client: &Client, task: &Task) -> Result<Task, CtlError> {
    let bar = progress_bar(task, ProgressDrawTarget::stderr());
    loop {
        let info = client.copy_task(task.id).await?;
        if let Some(progress) = &info.progress {
            bar.set_length(progress.bytes_total);
            bar.set_position(progress.bytes_done.min(progress.bytes_total));
        }
        match info.task.state {
            TaskState::Pending | TaskState::Claimed => tokio::time::sleep(POLL).await,
            TaskState::Done => {
                bar.set_position(bar.length().unwrap_or(0));
                bar.finish();
                return Ok(info.task);
            }
            state => {
                bar.abandon();
                // A cancelled task says why in words (its reason), a failed one by its last error.
                let reason = match info.task.cancel_reason {
                    Some(reason) => lower(&reason).replace('_', " "),
                    None => info.task.last_error.unwrap_or_default(),
                };
                return Err(CtlError(format!("copy task {} ended {}: {reason}", task.id, lower(&state))));
            }
        }
    }
}

/// `task 7 shard 12 [#########>....................]  33% 1.00 MiB/3.00 MiB`.
const PROGRESS_TEMPLATE: &str = "{prefix} [{bar:30}] {percent:>3}% {bytes}/{total_bytes}";

/// The progress bar of a copy task, drawn to `target`.
fn progress_bar(task: &Task, target: ProgressDrawTarget) -> ProgressBar {
    let style = ProgressStyle::with_template(PROGRESS_TEMPLATE).unwrap_or_else(|_| ProgressStyle::default_bar());
    ProgressBar::with_draw_target(Some(0), target)
        .with_style(style.progress_chars("#>."))
        .with_prefix(format!("task {} shard {}", task.id, task.spec.shard_id))
}

/// `33%` of a transfer (0% before its size is known; overshoot is capped).
fn percent(done: u64, total: u64) -> String {
    if total == 0 {
        return "0%".to_owned();
    }
    format!("{}%", u128::from(done.min(total)) * 100 / u128::from(total))
}

/// A byte count as people read it (`1.50 KiB`).
pub(crate) fn bytes(n: u64) -> String {
    indicatif::HumanBytes(n).to_string()
}

/// The name the API gives an enum value (`under_replicated`, `claimed`, ...).
pub(crate) fn lower<T: serde::Serialize + std::fmt::Debug>(value: &T) -> String {
    match serde_json::to_value(value) {
        Ok(serde_json::Value::String(name)) => name,
        _ => format!("{value:?}").to_lowercase(),
    }
}

pub(crate) fn age(now: Timestamp, then: Timestamp) -> String {
    millis_text(u64::try_from(now.saturating_sub(then) / 1_000_000).unwrap_or(0))
}

fn millis_text(ms: u64) -> String {
    match ms {
        0..=999 => format!("{ms}ms"),
        1_000..=59_999 => format!("{:.1}s", ms as f64 / 1000.0),
        60_000..=3_599_999 => format!("{}m{}s", ms / 60_000, ms % 60_000 / 1000),
        _ => format!("{}h{}m", ms / 3_600_000, ms % 3_600_000 / 60_000),
    }
}

fn micros_text(micros: u64) -> String {
    if micros < 1000 {
        format!("{micros}µs")
    } else {
        millis_text(micros / 1000)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use meta_model::{TaskKind, TaskReason, TaskSpec};
    use meta_wire::{
        ContentDifference, ContentReport, CopyContent, DataNodeHealth, HandoffQueueReport, LifecycleSummary, Liveness,
        MisReplicatedShard, OrphanShardFile, TaskProgress,
    };

    #[test]
    fn the_progress_bar_fills_with_the_bytes_copied() {
        let spec =
            TaskSpec { shard_id: 12, source: 1, target: 2, replaces: None, priority: 0, reason: TaskReason::Operator };
        let term = indicatif::InMemoryTerm::new(2, 120);
        let bar = progress_bar(
            &Task::pending(7, TaskKind::Copy, spec, 0),
            ProgressDrawTarget::term_like(Box::new(term.clone())),
        );
        bar.set_length(3 * 1024 * 1024);
        bar.set_position(1024 * 1024);
        bar.tick();
        let line = term.contents();
        assert!(line.starts_with("task 7 shard 12 [##########>"), "{line:?}");
        assert!(line.ends_with("]  33% 1.00 MiB/3.00 MiB"), "{line:?}");
    }

    #[test]
    fn durations_and_sizes_read_naturally() {
        assert_eq!(millis_text(250), "250ms");
        assert_eq!(millis_text(1_500), "1.5s");
        assert_eq!(millis_text(125_000), "2m5s");
        assert_eq!(millis_text(7_260_000), "2h1m");
        assert_eq!(bytes(512), "512 B");
        assert_eq!(bytes(1536), "1.50 KiB");
    }

    #[test]
    fn the_report_names_unrecoverable_shards_loudly() {
        let spec = TaskSpec {
            shard_id: 9,
            source: 1,
            target: 3,
            replaces: Some(2),
            priority: 1,
            reason: TaskReason::DeadOwner,
        };
        let task = Task {
            state: TaskState::Claimed,
            attempt: 1,
            lease_deadline: Some(0),
            ..Task::pending(4, TaskKind::Copy, spec, 0)
        };
        let mut report = EntropyReport {
            leader_id: 1,
            trusted: true,
            planned_at: Some(0),
            plan_micros: Some(420),
            full_plan_input_micros: Some(343_000),
            under_replicated: vec![ShardHealth { shard_id: 9, live_copies: 1, desired: 2 }],
            missing_on_owner: vec![],
            unrecoverable: vec![5],
            insufficient_nodes: vec![],
            over_replicated: vec![],
            tasks: vec![CopyTaskInfo {
                task,
                progress: Some(TaskProgress { bytes_done: 50, bytes_total: 100, age_ms: 500, bytes_per_sec: Some(25) }),
            }],
            nodes: vec![DataNodeHealth {
                id: 2,
                addr: "d2:8088".into(),
                state: meta_model::NodeState::Active,
                liveness: Liveness::Dead,
                last_heartbeat_ms: Some(1_900_000),
                dead_in_ms: None,
                version: Some("0.1.0".into()),
                shards_reported: Some(3),
                handoff: vec![HandoffQueueReport {
                    target: 3,
                    entries: 4,
                    bytes: 2048,
                    oldest_age_ms: Some(61_000),
                    dropped_entries: 1,
                    dropped_bytes: 100,
                    dropped_shards: vec![9],
                }],
                orphans: vec![OrphanShardFile {
                    name: "7.shard".into(),
                    shard_id: Some(7),
                    bytes: 10,
                    reason: "other_cluster".into(),
                }],
            }],
            inconsistent: vec![9],
            lifecycle: LifecycleSummary {
                truncated_groups: 1,
                expired_groups: 2,
                deleted_groups: 3,
                shards_not_planned: 10,
            },
            content: ContentReport {
                consistent: 40,
                inconsistent: 1,
                hot: 3,
                unknown: 2,
                differing: vec![ContentDifference {
                    shard_id: 9,
                    copies: vec![
                        CopyContent { node_id: 1, points: 201, root: 0xab },
                        CopyContent { node_id: 2, points: 200, root: 0xcd },
                    ],
                    points_apart: 1,
                }],
                awaiting_check: vec![9],
            },
            failure_domains: vec!["zone".into(), "rack".into()],
            mis_replicated: vec![MisReplicatedShard { shard_id: 12, level: "zone".into(), owners: vec![1, 2] }],
            balance: None,
        };
        let text = render_report(&report, 2_000_000_000);
        assert!(text.contains("Content: 40 consistent, 1 inconsistent, 3 hot"), "{text}");
        assert!(text.contains("00000000000000ab") && text.contains("≥ 1 points"), "{text}");
        assert!(text.contains("1 truncated") && text.contains("2 expired") && text.contains("3 deleted"), "{text}");
        assert!(text.contains("INCONSISTENT: the owners of shard(s) 9"), "{text}");
        assert!(text.contains("MIS-REPLICATED: 1 shard(s) have owners sharing a zone domain"), "{text}");
        assert!(text.contains("(failure domains: zone > rack)") && text.contains("12     zone"), "{text}");
        assert!(
            text.starts_with("Leader 1: last plan 2.0s ago, took 420µs (last full round: input built in 343ms)\n"),
            "{text}"
        );
        assert!(text.contains("UNRECOVERABLE: no live copy of shard(s) 5"), "{text}");
        assert!(text.contains("Under-replicated Shards"), "{text}");
        assert!(text.contains("dead"), "{text}");
        // 50 B left at 25 B/s from a report 500 ms old.
        assert!(text.contains("50% 50 B/100 B 25 B/s ETA 1.5s"), "{text}");
        assert!(!text.contains("Over-replicated"), "empty sections are left out: {text}");
        assert!(text.contains("Hinted Handoff"), "{text}");
        assert!(text.contains("2.00 KiB") && text.contains("1m1s") && text.contains("1 (100 B)"), "{text}");
        assert!(text.contains("DROPPED: 1 write(s)") && text.contains("node 3 lacks writes to shard(s) 9"), "{text}");
        assert!(text.contains("awaiting that check: shard(s) 9"), "{text}");
        report.content.awaiting_check.clear();
        let text = render_report(&report, 2_000_000_000);
        assert!(text.contains("every such shard has been found consistent since"), "{text}");
        assert!(text.contains("Orphan Shard Files") && text.contains("other_cluster"), "{text}");
    }
}
