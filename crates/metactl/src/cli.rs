//! Command-line syntax, mirroring `influxd-ctl`.

use clap::{Args, Parser, Subcommand};

/// Operator CLI of the meta service.
#[derive(Clone, Debug, Parser)]
#[command(name = "metactl", version, about = "Operate a metad cluster (the influxd-ctl of this system)")]
pub struct Cli {
    /// Meta node addresses (HOST:PORT), repeatable or comma-separated; any node will do.
    #[arg(long = "url", global = true, env = "METACTL_URL", value_delimiter = ',', default_value = "127.0.0.1:8091")]
    pub urls: Vec<String>,
    /// Bearer token sent with every request.
    #[arg(long, global = true, env = "METACTL_TOKEN", hide_env_values = true)]
    pub token: Option<String>,
    /// PEM CA bundle that meta nodes' certificates must chain to: talk HTTPS (bare HOST:PORT
    /// addresses mean https://) and verify them against it.
    #[arg(long, global = true, env = "METACTL_CA_CERT", value_name = "PEM")]
    pub ca_cert: Option<std::path::PathBuf>,
    /// PEM client certificate to present when a meta node asks for one (mutual TLS); needs --key.
    #[arg(long, global = true, env = "METACTL_CERT", value_name = "PEM", requires = "key")]
    pub cert: Option<std::path::PathBuf>,
    /// PEM private key of --cert.
    #[arg(long, global = true, env = "METACTL_KEY", value_name = "PEM", requires = "cert")]
    pub key: Option<std::path::PathBuf>,
    /// Talk HTTPS without verifying the meta nodes' certificates: encrypted but not
    /// authenticated (anyone in the middle can read and change everything). Only for a first
    /// look when the CA is not at hand.
    #[arg(long, global = true, env = "METACTL_INSECURE_SKIP_VERIFY", conflicts_with = "ca_cert")]
    pub insecure_skip_verify: bool,
    /// Print the API's JSON document instead of a table.
    #[arg(long, global = true)]
    pub json: bool,
    /// Give up on the whole command after this long (e.g. 30s, 2m; each request also has its own
    /// limit). A command that changes the cluster may have taken effect all the same: check with
    /// `show` before running it again.
    #[arg(long, global = true, value_name = "DURATION", value_parser = parse_timeout)]
    pub timeout: Option<std::time::Duration>,
    /// What to do.
    #[command(subcommand)]
    pub command: CtlCommand,
}

/// The subcommands.
#[derive(Clone, Debug, Subcommand)]
pub enum CtlCommand {
    /// Show the meta and data nodes, and which meta node leads.
    Show,
    /// Show every shard with its owners.
    ShowShards {
        /// One row per copy: each owner's address, state, liveness and whether its last
        /// inventory holds the copy.
        #[arg(short, long)]
        verbose: bool,
        /// Only what metadata and disks disagree on: copies an owner lacks, and shard files a
        /// data node keeps that no shard of the metadata uses (as `influxd-ctl show-shards -m`).
        #[arg(short = 'm', long, conflicts_with = "verbose")]
        missing: bool,
    },
    /// Register a data node by the address it listens on.
    AddData {
        /// The data node's TCP address, HOST:PORT.
        addr: String,
        /// Its HTTP address when it differs from ADDR.
        #[arg(long)]
        http_addr: Option<String>,
        /// A label KEY=VALUE (e.g. zone=us-east-1a); repeatable.
        #[arg(long = "label", value_parser = parse_label)]
        labels: Vec<(String, String)>,
    },
    /// Retire a data node: drain it, or with --force drop it from every shard at once.
    RemoveData {
        /// Drop ownership immediately (the node is gone for good).
        #[arg(long)]
        force: bool,
        /// The node's ID or address.
        node: String,
    },
    /// Move a data node's ID and shards to a new address (a replacement machine).
    UpdateData {
        /// The old address (or ID).
        old: String,
        /// The new address.
        new: String,
    },
    /// Set or delete labels of a data node, keeping its other labels (as `influxd-ctl
    /// node-labels`). Labels of the failure-domain hierarchy place its future shards.
    NodeLabels {
        /// The node's ID or address.
        node: String,
        /// What to change.
        #[command(subcommand)]
        action: LabelAction,
    },
    /// Show or set the failure-domain hierarchy owners are spread over (e.g. zone,rack,host).
    FailureDomains {
        /// What to do.
        #[command(subcommand)]
        action: FailureDomainsAction,
    },
    /// Show rebalancing (each data node's load, moves and why), or enable or disable it.
    Balance {
        /// What to do.
        #[command(subcommand)]
        action: BalanceAction,
    },
    /// Add a running, empty meta node to the cluster; it catches up, then votes.
    AddMeta {
        /// The new meta node's address, HOST:PORT.
        addr: String,
    },
    /// Remove a meta node from the cluster.
    RemoveMeta {
        /// The node's ID or address.
        node: String,
    },
    /// Write the whole metadata to FILE (JSON), consistently as of one log index.
    Backup {
        /// Where to write it.
        file: std::path::PathBuf,
    },
    /// Load a backup FILE into a fresh cluster (no data nodes or databases yet).
    Restore {
        /// The backup to load.
        file: std::path::PathBuf,
    },
    /// Show databases with their retention policies.
    ShowDatabases,
    /// Create a database with a default retention policy.
    CreateDatabase {
        /// Database name.
        name: String,
        /// The default policy.
        #[command(flatten)]
        policy: DatabasePolicy,
    },
    /// Drop a database and all its shards.
    DropDatabase {
        /// Database name.
        name: String,
    },
    /// Create a retention policy.
    CreateRetentionPolicy {
        /// Database name.
        database: String,
        /// Policy name.
        name: String,
        /// How long data is kept (0 = forever), e.g. 7d, 4w.
        #[arg(long)]
        duration: String,
        /// Copies of every shard.
        #[arg(long)]
        replication: u32,
        /// Shard-group duration (default from the retention).
        #[arg(long)]
        shard_duration: Option<String>,
        /// Make it the database's default policy.
        #[arg(long)]
        default: bool,
    },
    /// Change a retention policy.
    AlterRetentionPolicy {
        /// Database name.
        database: String,
        /// Policy name.
        name: String,
        /// New retention.
        #[arg(long)]
        duration: Option<String>,
        /// New replication factor.
        #[arg(long)]
        replication: Option<u32>,
        /// New shard-group duration.
        #[arg(long)]
        shard_duration: Option<String>,
        /// Make it the default policy.
        #[arg(long)]
        default: bool,
    },
    /// Drop a retention policy and its shards.
    DropRetentionPolicy {
        /// Database name.
        database: String,
        /// Policy name.
        name: String,
    },
    /// Stop writes to the current shard groups so new groups take them (e.g. before a node joins).
    TruncateShards {
        /// When the truncation takes effect, from now (default 1m).
        #[arg(long)]
        delay: Option<String>,
    },
    /// Remove a shard from a data node (the node stops owning it; its file is deleted once
    /// another owner holds every point of it). Refused for the only owner of a shard with data.
    RemoveShard {
        /// The node's ID or address.
        node: String,
        /// The shard ID.
        shard: u64,
        /// Remove the only owner of a shard with data all the same (the data is left without an
        /// owner; the node keeps its file).
        #[arg(long)]
        force: bool,
    },
    /// Anti-entropy: under-replicated, missing and unrecoverable shards, and repairs in flight.
    Entropy {
        /// What to do.
        #[command(subcommand)]
        action: EntropyAction,
    },
    /// Copy a shard from one data node to another, which becomes an extra owner when done.
    CopyShard {
        /// The source node's ID or address (an owner of the shard).
        source: String,
        /// The destination node's ID or address.
        dest: String,
        /// The shard ID.
        shard: u64,
        /// Show a progress bar until the copy is done.
        #[arg(long)]
        wait: bool,
    },
    /// Check one process: GET PATH on the first --url; succeeds only on HTTP 200 (container and
    /// systemd health checks: `/ready` of a meta node, `/health` of a data node).
    Probe {
        /// The path to check.
        #[arg(default_value = "/ready")]
        path: String,
    },
    /// Show copy tasks in flight (and failed or killed ones) with their progress.
    CopyShardStatus,
    /// Stop copying SHARD from SOURCE to DEST.
    KillCopyShard {
        /// The source node's ID or address.
        source: String,
        /// The destination node's ID or address.
        dest: String,
        /// The shard ID.
        shard: u64,
    },
    /// Print a completion script for SHELL, e.g. `metactl completions bash >
    /// /etc/bash_completion.d/metactl` (no meta node is contacted).
    Completions {
        /// The shell.
        shell: clap_complete::Shell,
    },
}

/// The `entropy` subcommands.
#[derive(Clone, Debug, Subcommand)]
pub enum EntropyAction {
    /// Show what the planner found, the data nodes' health and the tasks in flight.
    Show,
    /// Repair a shard now; clears its failed or killed tasks first.
    Repair {
        /// The shard ID.
        shard: u64,
        /// Show a progress bar until the repair is done.
        #[arg(long)]
        wait: bool,
    },
    /// Kill a repair task; the planner leaves that copy alone until `entropy repair`.
    KillRepair {
        /// The task ID (see `entropy show`).
        task: u64,
    },
}

/// The `node-labels` subcommands.
#[derive(Clone, Debug, Subcommand)]
pub enum LabelAction {
    /// Set labels KEY=VALUE (added, or replacing the value a key had).
    Set {
        /// The labels, KEY=VALUE.
        #[arg(required = true, value_parser = parse_label)]
        labels: Vec<(String, String)>,
    },
    /// Delete labels by key (a key the node lacks is no error).
    Delete {
        /// The keys.
        #[arg(required = true)]
        keys: Vec<String>,
    },
}

/// The `failure-domains` subcommands.
#[derive(Clone, Debug, Subcommand)]
pub enum FailureDomainsAction {
    /// Show the hierarchy and where each data node sits in it.
    Show,
    /// Set the hierarchy: label keys, highest level first, comma-separated ("" for none).
    Set {
        /// E.g. `zone,rack,host`.
        levels: String,
    },
}

/// The `balance` subcommands.
#[derive(Clone, Debug, Subcommand)]
pub enum BalanceAction {
    /// Each active data node's load against the tolerance, the moves in flight, and why.
    Show,
    /// Move shards to even out load (settings not given keep their value).
    Enable {
        /// How far (percent of the mean, 0 to 100) a node's shard count or bytes may stray.
        #[arg(long)]
        tolerance: Option<u32>,
        /// Most moves in flight at once in the cluster (1 to 1000).
        #[arg(long)]
        max_moves: Option<u32>,
    },
    /// Stop moving shards; open moves are withdrawn.
    Disable,
}

/// The default retention policy of `create-database`.
#[derive(Clone, Debug, Args)]
pub struct DatabasePolicy {
    /// Name of the default policy.
    #[arg(long = "retention-policy", default_value = "autogen")]
    pub retention_policy: String,
    /// Its retention (0 = forever).
    #[arg(long, default_value = "0")]
    pub duration: String,
    /// Its replication factor.
    #[arg(long, default_value_t = 1)]
    pub replication: u32,
    /// Its shard-group duration.
    #[arg(long)]
    pub shard_duration: Option<String>,
}

impl Cli {
    /// The TLS the flags ask for: `None` for plain HTTP (no TLS flag given).
    pub fn tls(&self) -> Option<meta_client::ClientTls> {
        let identity = match (&self.cert, &self.key) {
            (Some(cert), Some(key)) => Some(meta_client::Identity { cert: cert.clone(), key: key.clone() }),
            _ => None,
        };
        let wanted = self.ca_cert.is_some() || identity.is_some() || self.insecure_skip_verify;
        wanted.then(|| meta_client::ClientTls {
            ca_cert: self.ca_cert.clone(),
            identity,
            skip_verify: self.insecure_skip_verify,
        })
    }
}

fn parse_timeout(text: &str) -> Result<std::time::Duration, String> {
    match meta_model::parse_duration(text) {
        Ok(0) => Err("must be longer than 0".to_owned()),
        Ok(nanos) => Ok(std::time::Duration::from_nanos(nanos)),
        Err(error) => Err(error.to_string()),
    }
}

fn parse_label(text: &str) -> Result<(String, String), String> {
    match text.split_once('=') {
        Some((key, value)) if !key.is_empty() => Ok((key.to_owned(), value.to_owned())),
        _ => Err(format!("expected KEY=VALUE, got {text:?}")),
    }
}

#[cfg(test)]
mod tests {
    use clap::CommandFactory;

    use super::*;

    #[test]
    fn the_command_line_is_well_formed() {
        Cli::command().debug_assert();
    }

    #[test]
    fn urls_split_on_commas_and_labels_parse() {
        let cli = Cli::parse_from(["metactl", "--url", "a:1,b:2", "add-data", "d:1", "--label", "zone=z1"]);
        assert_eq!(cli.urls, ["a:1", "b:2"]);
        match cli.command {
            CtlCommand::AddData { labels, .. } => assert_eq!(labels, [("zone".to_owned(), "z1".to_owned())]),
            other => panic!("parsed as {other:?}"),
        }
        assert!(Cli::try_parse_from(["metactl", "add-data", "d:1", "--label", "novalue"]).is_err());
    }

    #[test]
    fn the_timeout_is_a_positive_duration_before_or_after_the_subcommand() {
        let cli = Cli::parse_from(["metactl", "show", "--timeout", "1m30s"]);
        assert_eq!(cli.timeout, Some(std::time::Duration::from_secs(90)));
        let cli = Cli::parse_from(["metactl", "--timeout", "250ms", "show-shards"]);
        assert_eq!(cli.timeout, Some(std::time::Duration::from_millis(250)));
        assert_eq!(Cli::parse_from(["metactl", "show"]).timeout, None);
        for bad in ["0", "inf", "", "10", "-1s", "soon"] {
            let flag = format!("--timeout={bad}");
            let error = Cli::try_parse_from(["metactl", &flag, "show"]).expect_err(bad).to_string();
            assert!(error.contains("--timeout"), "{bad:?}: {error}");
        }
    }
}
