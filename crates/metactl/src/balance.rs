//! `balance show|enable|disable`: rebalancing, which moves shards from the most to the least
//! loaded data nodes once nothing needs repair.

use meta_client::Client;
use meta_model::{PlacementPolicy, TaskKind, Timestamp};
use meta_wire::{BalanceRequest, BalanceView, EntropyReport, LoadVerdict};

use crate::cli::BalanceAction;
use crate::entropy::{age, bytes, lower, tasks_table};
use crate::table::Table;
use crate::{to_json, CtlError};

/// `balance show` / `enable` / `disable`.
pub(crate) async fn balance(client: &Client, action: BalanceAction, json: bool) -> Result<String, CtlError> {
    let request = match action {
        BalanceAction::Show => return show(client, json).await,
        BalanceAction::Enable { tolerance, max_moves } => {
            BalanceRequest { enabled: Some(true), tolerance_percent: tolerance, max_moves }
        }
        BalanceAction::Disable => BalanceRequest { enabled: Some(false), ..BalanceRequest::default() },
    };
    let policy = client.set_balance(&request).await?;
    if json {
        return to_json(&policy);
    }
    Ok(policy_line(&policy))
}

fn policy_line(policy: &PlacementPolicy) -> String {
    let balance = policy.balance;
    if !balance.enabled {
        return "Balancing disabled: no shard moves to even out load (open moves are withdrawn)\n".to_owned();
    }
    let moves = if balance.max_moves == 1 { "move" } else { "moves" };
    format!(
        "Balancing enabled: tolerance {}% of the mean, at most {} {moves} at once\n",
        balance.tolerance_percent, balance.max_moves
    )
}

async fn show(client: &Client, json: bool) -> Result<String, CtlError> {
    let report = client.entropy().await?;
    if json {
        return to_json(&report.balance);
    }
    Ok(render(&report, meta_model::wall_clock()))
}

fn render(report: &EntropyReport, now: Timestamp) -> String {
    let Some(view) = &report.balance else {
        return "Balancing: no full plan yet (the leader plans every check-interval)\n".to_owned();
    };
    let mut out = status_line(view, now);
    if !view.nodes.is_empty() {
        let mut table = Table::new("Load by Data Node", &["ID", "Shards", "", "Bytes", ""]);
        let mark = |verdict: LoadVerdict| match verdict {
            LoadVerdict::Within => String::new(),
            other => lower(&other),
        };
        for node in &view.nodes {
            table.row(vec![
                node.node_id.to_string(),
                node.shards.to_string(),
                mark(node.shards_verdict),
                bytes(node.bytes),
                mark(node.bytes_verdict),
            ]);
        }
        out.push('\n');
        out.push_str(&table.render());
    }
    let moves: Vec<_> = report.tasks.iter().filter(|t| t.task.kind == TaskKind::Move).cloned().collect();
    if !moves.is_empty() {
        out.push('\n');
        out.push_str(&tasks_table(&moves, now).replacen("Tasks", "Moves", 1));
    }
    out
}

fn status_line(view: &BalanceView, now: Timestamp) -> String {
    let policy = view.policy;
    let mut settings = format!("tolerance {}%, max-moves {}", policy.tolerance_percent, policy.max_moves);
    if let Some(at) = view.planned_at {
        settings.push_str(&format!("; last full plan {} ago", age(now, at)));
    }
    let why = if view.why.is_empty() { String::new() } else { format!(": {}", view.why) };
    format!("Balance: {}{why} ({settings})\n", lower(&view.state).to_uppercase())
}

#[cfg(test)]
mod tests {
    use meta_model::BalancePolicy;
    use meta_wire::{BalanceState, NodeLoad};

    use super::*;

    #[test]
    fn shows_the_state_why_and_each_nodes_load_with_its_verdict() {
        let load = |node_id, shards, shards_verdict| NodeLoad {
            node_id,
            shards,
            bytes: shards * 1024,
            shards_verdict,
            bytes_verdict: shards_verdict,
        };
        let view = BalanceView {
            policy: BalancePolicy::default(),
            state: BalanceState::Moving,
            why: "3 moves in flight".to_owned(),
            moves_in_flight: 3,
            planned_at: Some(1_000_000_000),
            nodes: vec![load(1, 40, LoadVerdict::Over), load(4, 2, LoadVerdict::Under)],
        };
        let report: EntropyReport = serde_json::from_value(serde_json::json!({
            "leader_id": 1, "trusted": true, "planned_at": null, "plan_micros": null,
            "under_replicated": [], "missing_on_owner": [], "unrecoverable": [], "insufficient_nodes": [],
            "over_replicated": [], "tasks": [], "nodes": [],
        }))
        .expect("a report");
        let text = render(&EntropyReport { balance: Some(view), ..report.clone() }, 3_500_000_000);
        let first = "Balance: MOVING: 3 moves in flight (tolerance 10%, max-moves 4; last full plan 2.5s ago)\n";
        assert!(text.starts_with(first), "{text}");
        let row = text.lines().find(|l| l.starts_with("1 ")).expect("node 1's row");
        assert!(row.contains("40") && row.contains("over") && row.contains("40.00 KiB"), "{row}");
        assert!(text.lines().any(|l| l.starts_with("4 ") && l.contains("under")), "{text}");
        assert!(render(&report, 0).contains("no full plan yet"));
    }
}
