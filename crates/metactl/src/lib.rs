//! `metactl`, the operator CLI: parses a command, calls the `/v1` API through `meta-client`
//! and renders the answer as an `influxd-ctl`-style table, or as the API's JSON with `--json`.
//!
//! ```no_run
//! # async fn demo() {
//! use clap::Parser;
//! let cli = metactl::Cli::parse_from(["metactl", "--url", "127.0.0.1:8091", "show"]);
//! match metactl::run(cli).await {
//!     Ok(text) => print!("{text}"),
//!     Err(error) => eprintln!("metactl: {error}"),
//! }
//! # }
//! ```

mod balance;
mod cli;
mod entropy;
mod placement;
mod shards;
mod table;
mod time;

use meta_client::{Client, ClientError};
use meta_model::{format_duration, DataNode, NodeId, NodeState, ShardId};
use meta_wire::{AlterRetentionPolicyRequest, RetentionPolicyRequest, ShardInfo};
use serde::Serialize;
use serde_json::json;

pub use cli::{BalanceAction, Cli, CtlCommand, DatabasePolicy, EntropyAction, FailureDomainsAction, LabelAction};
use table::Table;
use time::format_rfc3339;

/// Why a command failed; printed as one line.
#[derive(Debug)]
pub struct CtlError(String);

impl std::fmt::Display for CtlError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(&self.0)
    }
}

impl std::error::Error for CtlError {}

impl From<ClientError> for CtlError {
    fn from(error: ClientError) -> Self {
        let text = error.to_string();
        match tls_hint(&text) {
            Some(hint) => CtlError(format!("{text}\n  hint: {hint}")),
            None => CtlError(text),
        }
    }
}

/// What to try when a connection failed for a TLS reason the error text shows.
fn tls_hint(error: &str) -> Option<&'static str> {
    if error.contains("UnknownIssuer") || error.contains("invalid peer certificate") {
        return Some(
            "the meta node's certificate is not signed by a CA this command trusts: pass the cluster's CA with \
             --ca-cert CA.pem",
        );
    }
    if error.contains("http://") && error.contains("invalid HTTP version") {
        return Some("the node answered in something other than HTTP: if it serves HTTPS, pass --ca-cert CA.pem");
    }
    None
}

pub(crate) fn to_json<T: Serialize>(value: &T) -> Result<String, CtlError> {
    serde_json::to_string_pretty(value).map(|s| s + "\n").map_err(|e| CtlError(e.to_string()))
}

/// Runs one command and returns what to print; with `--timeout`, gives up once it has passed.
pub async fn run(cli: Cli) -> Result<String, CtlError> {
    let Some(limit) = cli.timeout else { return execute(cli).await };
    tokio::time::timeout(limit, execute(cli)).await.unwrap_or_else(|_| {
        Err(CtlError(format!(
            "gave up after --timeout {}; a change the command asked for may still take effect: check with `metactl \
             show` before running it again",
            humanize(limit)
        )))
    })
}

/// `limit` as the duration syntax `--timeout` takes (`1m30s`, `250ms`).
fn humanize(limit: std::time::Duration) -> String {
    match u64::try_from(limit.as_nanos()) {
        Ok(nanos) if nanos % 1_000_000_000 != 0 => format!("{}ms", limit.as_millis()),
        Ok(nanos) => format_duration(nanos),
        Err(_) => format!("{}s", limit.as_secs()),
    }
}

async fn execute(cli: Cli) -> Result<String, CtlError> {
    let client = Client::with_tls(&cli.urls, cli.tls().as_ref())?.with_token(cli.token.clone());
    let json = cli.json;
    match cli.command {
        CtlCommand::Show => show(&client, json).await,
        CtlCommand::ShowShards { verbose, missing } => shards::show(&client, verbose, missing, json).await,
        CtlCommand::AddData { addr, http_addr, labels } => {
            let node = client.add_data_node(&addr, http_addr.as_deref(), labels.into_iter().collect()).await?;
            if json {
                return to_json(&node);
            }
            Ok(format!("Added data node {} at {}\n", node.id, node.tcp_addr))
        }
        CtlCommand::RemoveData { force, node } => {
            let target = resolve_node(&client, &node).await?;
            let removed = client.remove_data_node(target.id, force).await?;
            if json {
                return to_json(&removed);
            }
            let node = &removed.node;
            let mut out = match node.state {
                NodeState::Draining => format!(
                    "Data node {} at {} is draining: it keeps its shards until each has a copy elsewhere\n",
                    node.id, node.tcp_addr
                ),
                _ => format!("Removed data node {} at {}\n", node.id, node.tcp_addr),
            };
            if !removed.ownerless_shards.is_empty() {
                let ids: Vec<String> = removed.ownerless_shards.iter().map(ShardId::to_string).collect();
                out.push_str(&format!(
                    "WARNING: shard(s) {} now have no owner. Those that held data are lost unless node {} comes \
                     back (`entropy show` lists them as unrecoverable; writes to them are refused); those never \
                     written get new owners.\n",
                    ids.join(", "),
                    node.id
                ));
            }
            Ok(out)
        }
        CtlCommand::UpdateData { old, new } => {
            let target = resolve_node(&client, &old).await?;
            let sole = sole_copies(&client, target.id).await?;
            let node = client.update_data_node(target.id, &new).await?;
            let warning = sole_copies_warning(&client, &node, &sole).await;
            if json {
                if let Some(warning) = &warning {
                    eprint!("{warning}");
                }
                return to_json(&node);
            }
            Ok(format!("Updated data node {} to {}\n{}", node.id, node.tcp_addr, warning.unwrap_or_default()))
        }
        CtlCommand::NodeLabels { node, action } => {
            let target = resolve_node(&client, &node).await?;
            placement::node_labels(&client, target.id, action, json).await
        }
        CtlCommand::FailureDomains { action } => placement::failure_domains(&client, action, json).await,
        CtlCommand::Balance { action } => balance::balance(&client, action, json).await,
        CtlCommand::AddMeta { addr } => {
            let node = client.add_meta_node(&addr).await?;
            if json {
                return to_json(&node);
            }
            Ok(format!("Added meta node {} at {}\n", node.id, node.addr))
        }
        CtlCommand::RemoveMeta { node } => {
            let meta = client.meta_nodes().await?.meta_nodes;
            let target = meta
                .iter()
                .find(|m| m.addr == node || node.parse::<u64>().is_ok_and(|id| id == m.id))
                .ok_or_else(|| CtlError(format!("no meta node with ID or address {node:?} (see `metactl show`)")))?;
            client.remove_meta_node(target.id).await?;
            done(json, format!("Removed meta node {} at {}\n", target.id, target.addr))
        }
        CtlCommand::Backup { file } => {
            let backup = client.metadata(None, std::time::Duration::ZERO).await?;
            let bytes =
                meta_wire::encode_backup(&backup, meta_model::wall_clock()).map_err(|e| CtlError(e.to_string()))?;
            // Write beside the target and rename, so a crash never leaves half a backup.
            let partial = file.with_extension("partial");
            std::fs::write(&partial, &bytes)
                .and_then(|()| std::fs::rename(&partial, &file))
                .map_err(|e| CtlError(format!("cannot write {}: {e}", file.display())))?;
            let shards = backup.metadata.shard_count();
            let message =
                format!("Backed up metadata at index {} ({shards} shards) to {}\n", backup.index, file.display());
            done(json, message)
        }
        CtlCommand::Restore { file } => {
            let bytes = std::fs::read(&file).map_err(|e| CtlError(format!("cannot read {}: {e}", file.display())))?;
            // Checked whole before anything is sent: a damaged file restores nothing.
            let backup = meta_wire::decode_backup(&bytes)
                .map_err(|e| CtlError(format!("refusing to restore {}: {e}", file.display())))?
                .reply;
            client.restore(&backup).await?;
            let shards = backup.metadata.shard_count();
            done(json, format!("Restored {} ({shards} shards, index {})\n", file.display(), backup.index))
        }
        CtlCommand::ShowDatabases => show_databases(&client, json).await,
        CtlCommand::CreateDatabase { name, policy } => {
            let request = RetentionPolicyRequest {
                name: policy.retention_policy,
                duration: policy.duration,
                shard_duration: policy.shard_duration,
                replication: policy.replication,
                default: true,
            };
            client.create_database(&name, Some(request)).await?;
            done(json, format!("Created database {name}\n"))
        }
        CtlCommand::DropDatabase { name } => {
            client.drop_database(&name).await?;
            done(json, format!("Dropped database {name}\n"))
        }
        CtlCommand::CreateRetentionPolicy { database, name, duration, replication, shard_duration, default } => {
            let request = RetentionPolicyRequest { name: name.clone(), duration, shard_duration, replication, default };
            client.create_retention_policy(&database, &request).await?;
            done(json, format!("Created retention policy {database}.{name}\n"))
        }
        CtlCommand::AlterRetentionPolicy { database, name, duration, replication, shard_duration, default } => {
            let change = AlterRetentionPolicyRequest { duration, shard_duration, replication, default };
            client.alter_retention_policy(&database, &name, &change).await?;
            done(json, format!("Altered retention policy {database}.{name}\n"))
        }
        CtlCommand::DropRetentionPolicy { database, name } => {
            client.drop_retention_policy(&database, &name).await?;
            done(json, format!("Dropped retention policy {database}.{name}\n"))
        }
        CtlCommand::TruncateShards { delay } => {
            let reply = client.truncate_shards(delay.as_deref()).await?;
            if json {
                return to_json(&reply);
            }
            Ok(format!(
                "Truncated {} shard groups at {}\n",
                reply.shard_groups.len(),
                format_rfc3339(reply.truncated_at)
            ))
        }
        CtlCommand::RemoveShard { node, shard, force } => {
            let target = resolve_node(&client, &node).await?;
            client.remove_shard_owner(shard, target.id, force).await?;
            done(json, format!("Removed shard {shard} from data node {} at {}\n", target.id, target.tcp_addr))
        }
        CtlCommand::Entropy { action } => match action {
            EntropyAction::Show => entropy::show(&client, json).await,
            EntropyAction::Repair { shard, wait } => entropy::repair(&client, shard, wait, json).await,
            EntropyAction::KillRepair { task } => entropy::kill(&client, task, json).await,
        },
        CtlCommand::CopyShard { source, dest, shard, wait } => {
            let (source, dest) = (resolve_node(&client, &source).await?, resolve_node(&client, &dest).await?);
            entropy::copy_shard(&client, shard, &source, &dest, wait, json).await
        }
        CtlCommand::CopyShardStatus => entropy::copy_shard_status(&client, json).await,
        CtlCommand::Probe { path } => match client.probe(&path).await? {
            200 => done(json, format!("{}{path}: ok\n", client.endpoints()[0])),
            status => Err(CtlError(format!("{}{path}: HTTP {status}", client.endpoints()[0]))),
        },
        CtlCommand::KillCopyShard { source, dest, shard } => {
            let (source, dest) = (resolve_node(&client, &source).await?, resolve_node(&client, &dest).await?);
            entropy::kill_copy_shard(&client, shard, source.id, dest.id, json).await
        }
        CtlCommand::Completions { shell } => completions(shell),
    }
}

/// The completion script of `shell` for every command and flag.
fn completions(shell: clap_complete::Shell) -> Result<String, CtlError> {
    let mut script = Vec::new();
    clap_complete::generate(shell, &mut <Cli as clap::CommandFactory>::command(), "metactl", &mut script);
    String::from_utf8(script).map_err(|e| CtlError(format!("the completion script is not UTF-8: {e}")))
}

pub(crate) fn done(json: bool, message: String) -> Result<String, CtlError> {
    if json {
        to_json(&json!({ "ok": true, "message": message.trim_end() }))
    } else {
        Ok(message)
    }
}

/// Finds a live data node by ID or by address.
/// Written shards whose only owner is `node`: their one copy is on that node's disk.
async fn sole_copies(client: &Client, node: NodeId) -> Result<Vec<ShardId>, CtlError> {
    let shards = client.shards().await?;
    let sole = |s: &&ShardInfo| s.written && s.owners.len() == 1 && s.owners[0].id == node;
    Ok(shards.iter().filter(sole).map(|s| s.id).collect())
}

/// After `update-data`: which of the node's sole copies the machine now behind its ID lacks
/// (they are lost), or why that could not be checked.
async fn sole_copies_warning(client: &Client, node: &DataNode, sole: &[ShardId]) -> Option<String> {
    if sole.is_empty() {
        return None;
    }
    let list = |ids: &[ShardId]| ids.iter().map(ShardId::to_string).collect::<Vec<_>>().join(", ");
    match client.data_node_status(&node.http_addr).await {
        Ok(status) => {
            let lost: Vec<ShardId> = sole.iter().copied().filter(|&s| !status.holds(s)).collect();
            (!lost.is_empty()).then(|| {
                format!(
                    "WARNING: the machine at {} holds none of shard(s) {}, whose only copy was on data node {}: \
                     that data is lost unless the old disk comes back (restore it from a backup). `entropy show` \
                     lists them as unrecoverable.\n",
                    node.http_addr,
                    list(&lost),
                    node.id
                )
            })
        }
        Err(error) => Some(format!(
            "WARNING: could not ask the machine at {} what it holds ({error}). Shard(s) {} had their only copy on \
             data node {}: if that machine lacks them, their data is lost.\n",
            node.http_addr,
            list(sole),
            node.id
        )),
    }
}

async fn resolve_node(client: &Client, node: &str) -> Result<DataNode, CtlError> {
    let nodes = client.data_nodes().await?;
    let found = match node.parse::<u64>() {
        Ok(id) => nodes.into_iter().find(|n| n.id == id),
        Err(_) => nodes.into_iter().find(|n| n.is_member() && (n.tcp_addr == node || n.http_addr == node)),
    };
    found.ok_or_else(|| CtlError(format!("no data node with ID or address {node:?} (see `metactl show`)")))
}

async fn show(client: &Client, json: bool) -> Result<String, CtlError> {
    let status = client.status().await?;
    let data_nodes = client.data_nodes().await?;
    let meta_nodes = client.meta_nodes().await?.meta_nodes;
    // Liveness and hinted handoff come from the leader's anti-entropy report; without it (the
    // service disabled, or no leader yet) the table shows what the metadata alone says.
    let health = client.entropy().await.map(|report| report.nodes).unwrap_or_default();
    if json {
        return to_json(&json!({
            "cluster_id": status.cluster_id,
            "leader_id": status.leader_id,
            "term": status.term,
            "data_nodes": data_nodes,
            "data_node_health": health,
            "meta_nodes": meta_nodes,
            "raft": status,
        }));
    }
    let mut data =
        Table::new("Data Nodes", &["ID", "TCP Address", "HTTP Address", "State", "Liveness", "Handoff Held", "Labels"]);
    for node in &data_nodes {
        let labels: Vec<String> = node.labels.iter().map(|(k, v)| format!("{k}={v}")).collect();
        let state = format!("{:?}", node.state).to_lowercase();
        let seen = health.iter().find(|h| h.id == node.id);
        let liveness = seen.map_or_else(|| "-".to_owned(), |h| format!("{:?}", h.liveness).to_lowercase());
        let handoff = seen.map_or_else(
            || "-".to_owned(),
            |h| {
                let (writes, bytes) = h.handoff.iter().fold((0, 0), |(w, b), q| (w + q.entries, b + q.bytes));
                let dropped: u64 = h.handoff.iter().map(|q| q.dropped_entries).sum();
                let held = format!("{writes} ({})", indicatif::HumanBytes(bytes));
                if dropped > 0 {
                    format!("{held}, {dropped} dropped")
                } else {
                    held
                }
            },
        );
        data.row(vec![
            node.id.to_string(),
            node.tcp_addr.clone(),
            node.http_addr.clone(),
            state,
            liveness,
            handoff,
            labels.join(","),
        ]);
    }
    let mut meta = Table::new("Meta Nodes", &["ID", "Address", "Raft"]);
    for node in &meta_nodes {
        let role = if status.leader_id == Some(node.id) { "leader" } else { "follower" };
        meta.row(vec![node.id.to_string(), node.addr.clone(), role.to_owned()]);
    }
    let cluster = status.cluster_id.as_deref().unwrap_or("(none yet)");
    Ok(format!("Cluster {cluster}\n\n{}\n{}", data.render(), meta.render()))
}

async fn show_databases(client: &Client, json: bool) -> Result<String, CtlError> {
    let list = client.databases().await?;
    if json {
        return to_json(&list);
    }
    let header = ["Database", "Retention Policy", "Duration", "Shard Duration", "Replication", "Default"];
    let mut table = Table::new("Databases", &header);
    for db in &list.databases {
        if db.retention_policies.is_empty() {
            table.row(vec![db.name.clone(), String::new(), String::new(), String::new(), String::new(), String::new()]);
        }
        for rp in &db.retention_policies {
            table.row(vec![
                db.name.clone(),
                rp.name.clone(),
                format_duration(rp.duration),
                format_duration(rp.shard_group_duration),
                rp.replication_factor.to_string(),
                rp.default.to_string(),
            ]);
        }
    }
    Ok(table.render())
}
