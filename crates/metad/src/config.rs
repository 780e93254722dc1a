//! Configuration: command-line flags, `METAD_*` environment variables and a TOML file, merged
//! (flags and environment win over the file) and validated into a [`Config`].

use std::collections::BTreeMap;
use std::net::SocketAddr;
use std::path::{Path, PathBuf};

use clap::Parser;
use cluster_tls::node::{NodeTls, NodeTlsOptions};
use serde::Deserialize;

use meta_model::NodeId;

use ae_service::{AntiEntropySection, AntiEntropySettings, SettingsError};

use crate::lifecycle::settings::{LifecycleSettings, PrecreationSection, RetentionSection, ShardGroupSection};

/// The address `metad --dev` listens on.
pub const DEV_LISTEN: &str = "127.0.0.1:8091";
/// The data directory of `metad --dev`.
pub const DEV_DATA_DIR: &str = "./metad-data";

/// Command-line flags; each can also come from a `METAD_*` environment variable.
#[derive(Clone, Debug, Default, Parser)]
#[command(name = "metad", version, about = "Raft-replicated cluster metadata service (a meta node)")]
pub struct Cli {
    /// TOML configuration file; flags and environment variables override it.
    #[arg(long, env = "METAD_CONFIG")]
    pub config: Option<PathBuf>,
    /// Run a single node on the embedded defaults (./metad-data, 127.0.0.1:8091).
    #[arg(long, env = "METAD_DEV")]
    pub dev: bool,
    /// This node's ID; must appear in --peers.
    #[arg(long, env = "METAD_NODE_ID")]
    pub node_id: Option<NodeId>,
    /// Address to listen on, HOST:PORT.
    #[arg(long, env = "METAD_LISTEN")]
    pub listen: Option<String>,
    /// Address peers and clients use to reach this node (defaults to --listen).
    #[arg(long, env = "METAD_ADVERTISE")]
    pub advertise: Option<String>,
    /// Directory for the Raft log, snapshots and state.
    #[arg(long, env = "METAD_DATA_DIR")]
    pub data_dir: Option<PathBuf>,
    /// Every meta node of the cluster: 1=HOST:PORT,2=HOST:PORT,3=HOST:PORT (same on all nodes).
    #[arg(long, env = "METAD_PEERS")]
    pub peers: Option<String>,
    /// Shared secret that meta nodes present to each other on internal routes.
    #[arg(long, env = "METAD_CLUSTER_SECRET", hide_env_values = true)]
    pub cluster_secret: Option<String>,
    /// Bearer token that grants every API call; with it set, the API needs a token.
    #[arg(long, env = "METAD_ADMIN_TOKEN", hide_env_values = true)]
    pub admin_token: Option<String>,
    /// Bearer token for data nodes: reads and shard-group creation.
    #[arg(long, env = "METAD_NODE_TOKEN", hide_env_values = true)]
    pub node_token: Option<String>,
    /// PEM certificate (chain) to serve HTTPS with, the API and the Raft RPC alike; needs
    /// --tls-key. Any TLS option makes this node reach its peers over HTTPS: give every meta node
    /// the same kind.
    #[arg(long, env = "METAD_TLS_CERT", value_name = "PEM")]
    pub tls_cert: Option<PathBuf>,
    /// PEM private key of --tls-cert.
    #[arg(long, env = "METAD_TLS_KEY", value_name = "PEM")]
    pub tls_key: Option<PathBuf>,
    /// PEM CA bundle other meta nodes' certificates (and, with --tls-client-auth, clients') must
    /// chain to; without it, the system's roots.
    #[arg(long, env = "METAD_TLS_CA_CERT", value_name = "PEM")]
    pub tls_ca_cert: Option<PathBuf>,
    /// Mutual TLS: ask every client for a certificate signed by --tls-ca-cert; the internal routes
    /// (Raft, forwarding between meta nodes) require one, the public API takes one if given, and
    /// this node presents its own to its peers. Needs --cluster-secret: the CA signs data nodes'
    /// and operators' certificates too, and the secret keeps them off the internal routes.
    #[arg(long, env = "METAD_TLS_CLIENT_AUTH")]
    pub tls_client_auth: bool,
    /// Reach peers over HTTPS without verifying their certificates: encrypted, not authenticated.
    /// Only for a first look when the CA is not at hand.
    #[arg(long, env = "METAD_TLS_INSECURE_SKIP_VERIFY")]
    pub tls_insecure_skip_verify: bool,
    /// Log as JSON lines instead of text.
    #[arg(long, env = "METAD_LOG_JSON")]
    pub log_json: bool,
}

/// The TOML configuration file (`deploy/metad.example.toml` documents every key).
#[derive(Clone, Debug, Default, PartialEq, Eq, Deserialize)]
#[serde(default, rename_all = "kebab-case", deny_unknown_fields)]
pub struct FileConfig {
    /// This node's ID.
    pub node_id: Option<NodeId>,
    /// Address to listen on.
    pub listen: Option<String>,
    /// Address others use to reach this node.
    pub advertise: Option<String>,
    /// Data directory.
    pub data_dir: Option<PathBuf>,
    /// Meta nodes by ID.
    pub peers: BTreeMap<NodeId, String>,
    /// Shared secret for internal routes.
    pub cluster_secret: Option<String>,
    /// Token granting every API call.
    pub admin_token: Option<String>,
    /// Token granting data-node calls.
    pub node_token: Option<String>,
    /// Raft timing.
    pub raft: RaftTuning,
    /// Anti-entropy: liveness, planning and copy tasks.
    pub anti_entropy: AntiEntropySection,
    /// Retention enforcement.
    pub retention: RetentionSection,
    /// Shard-group precreation.
    pub shard_precreation: PrecreationSection,
    /// Limits on new shard groups.
    pub shard_groups: ShardGroupSection,
    /// TLS of the API and between meta nodes.
    pub tls: TlsSection,
}

/// `[tls]` of the configuration file: the `--tls-*` options (flags override them).
#[derive(Clone, Debug, Default, PartialEq, Eq, Deserialize)]
#[serde(default, rename_all = "kebab-case", deny_unknown_fields)]
pub struct TlsSection {
    /// PEM certificate chain.
    pub cert: Option<PathBuf>,
    /// Its private key.
    pub key: Option<PathBuf>,
    /// The cluster's CA.
    pub ca_cert: Option<PathBuf>,
    /// Mutual TLS.
    pub client_auth: bool,
    /// Reach peers without verifying their certificates.
    pub insecure_skip_verify: bool,
}

/// Raft timing and snapshot settings.
#[derive(Clone, Debug, PartialEq, Eq, Deserialize)]
#[serde(default, rename_all = "kebab-case", deny_unknown_fields)]
pub struct RaftTuning {
    /// Leader heartbeat interval in milliseconds.
    pub heartbeat_interval_ms: u64,
    /// Minimum election timeout in milliseconds.
    pub election_timeout_min_ms: u64,
    /// Maximum election timeout in milliseconds. It is also openraft's leader lease: a follower
    /// refuses votes for this long after it last heard from the leader, and campaigns only after
    /// the lease plus its own timeout (min..max), so a dead leader is replaced after roughly
    /// max + min..max (the defaults: 450–600 ms).
    pub election_timeout_max_ms: u64,
    /// Build a snapshot after this many log entries.
    pub snapshot_after_logs: u64,
    /// Log entries kept after a snapshot, so briefly lagging followers need no snapshot.
    pub logs_kept_after_snapshot: u64,
    /// Bytes per snapshot chunk sent to a lagging follower.
    pub snapshot_chunk_bytes: u64,
    /// Timeout of one snapshot chunk in milliseconds.
    pub snapshot_chunk_timeout_ms: u64,
}

impl Default for RaftTuning {
    fn default() -> Self {
        RaftTuning {
            // Measured: leader kill -9 to the first acknowledged write in ~0.75 s (median).
            heartbeat_interval_ms: 50,
            election_timeout_min_ms: 150,
            election_timeout_max_ms: 300,
            snapshot_after_logs: 10_000,
            logs_kept_after_snapshot: 1_000,
            snapshot_chunk_bytes: 4 * 1024 * 1024,
            snapshot_chunk_timeout_ms: 30_000,
        }
    }
}

/// A checked configuration.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Config {
    /// This node's ID.
    pub node_id: NodeId,
    /// Address to listen on.
    pub listen: SocketAddr,
    /// Address others use to reach this node.
    pub advertise: String,
    /// Data directory.
    pub data_dir: PathBuf,
    /// Every meta node of the cluster (this one included).
    pub peers: BTreeMap<NodeId, String>,
    /// Shared secret for internal routes.
    pub cluster_secret: Option<String>,
    /// API tokens.
    pub auth: meta_api::Auth,
    /// TLS of the listener and of connections to peers (`None`: plain HTTP).
    pub tls: Option<NodeTls>,
    /// Raft timing.
    pub raft: RaftTuning,
    /// Anti-entropy settings.
    pub anti_entropy: AntiEntropySettings,
    /// Retention, precreation and shard-group limits.
    pub lifecycle: LifecycleSettings,
}

/// A configuration problem, naming the option.
#[derive(Debug, thiserror::Error)]
pub enum ConfigError {
    /// The config file could not be read.
    #[error("cannot read config file {path}: {source}")]
    ReadFile {
        /// The file.
        path: PathBuf,
        /// Why.
        source: std::io::Error,
    },
    /// The config file is not valid TOML for this schema.
    #[error("config file {path}: {message}")]
    ParseFile {
        /// The file.
        path: PathBuf,
        /// The parser's message (with line and key).
        message: String,
    },
    /// A required option is missing.
    #[error("missing {option}: {hint}")]
    Missing {
        /// The option.
        option: &'static str,
        /// How to provide it.
        hint: &'static str,
    },
    /// An option has a bad value.
    #[error("invalid {option} {value:?}: {reason}")]
    Invalid {
        /// The option.
        option: &'static str,
        /// The value given.
        value: String,
        /// What is wrong.
        reason: String,
    },
    /// The data directory is unusable.
    #[error("data dir {path}: {source}")]
    DataDir {
        /// The directory.
        path: PathBuf,
        /// Why it is unusable.
        source: std::io::Error,
    },
}

impl From<SettingsError> for ConfigError {
    fn from(error: SettingsError) -> Self {
        ConfigError::Invalid { option: error.option, value: error.value, reason: error.reason }
    }
}

fn invalid(option: &'static str, value: impl Into<String>, reason: impl Into<String>) -> ConfigError {
    ConfigError::Invalid { option, value: value.into(), reason: reason.into() }
}

/// Parses `1=host:port,2=host:port`.
pub fn parse_peers(text: &str) -> Result<BTreeMap<NodeId, String>, ConfigError> {
    let mut peers = BTreeMap::new();
    for part in text.split(',').map(str::trim).filter(|p| !p.is_empty()) {
        let (id, addr) = part.split_once('=').ok_or_else(|| invalid("--peers", part, "expected ID=HOST:PORT"))?;
        let id: NodeId =
            id.trim().parse().map_err(|_| invalid("--peers", part, "node ID must be a positive integer"))?;
        if peers.insert(id, addr.trim().to_owned()).is_some() {
            return Err(invalid("--peers", text, format!("node {id} is listed twice")));
        }
    }
    Ok(peers)
}

impl FileConfig {
    /// Reads and parses a TOML file.
    pub fn load(path: &Path) -> Result<Self, ConfigError> {
        let text =
            std::fs::read_to_string(path).map_err(|source| ConfigError::ReadFile { path: path.to_owned(), source })?;
        Self::parse(path, &text)
    }

    /// Parses TOML text (`path` is only for messages).
    pub fn parse(path: &Path, text: &str) -> Result<Self, ConfigError> {
        toml::from_str(text).map_err(|e| ConfigError::ParseFile { path: path.to_owned(), message: e.to_string() })
    }
}

impl Cli {
    /// Merges flags and environment over the config file (and the dev defaults) and validates.
    pub fn into_config(self) -> Result<Config, ConfigError> {
        let file = match &self.config {
            Some(path) => FileConfig::load(path)?,
            None => FileConfig::default(),
        };
        let dev = self.dev;
        let node_id = self.node_id.or(file.node_id).or(dev.then_some(1)).ok_or(ConfigError::Missing {
            option: "--node-id",
            hint: "give every meta node a distinct ID (or use --dev for a single local node)",
        })?;
        let listen_text = self
            .listen
            .or(file.listen)
            .or(dev.then(|| DEV_LISTEN.to_owned()))
            .ok_or(ConfigError::Missing { option: "--listen", hint: "the HOST:PORT to serve on, e.g. 0.0.0.0:8091" })?;
        let listen: SocketAddr = listen_text
            .parse()
            .map_err(|_| invalid("--listen", &listen_text, "expected IP:PORT, e.g. 127.0.0.1:8091"))?;
        let advertise = self.advertise.or(file.advertise).unwrap_or_else(|| listen_text.clone());
        meta_model::validate_addr("--advertise", &advertise)
            .map_err(|e| invalid("--advertise", &advertise, e.to_string()))?;
        if listen.ip().is_unspecified() && advertise == listen_text {
            return Err(invalid(
                "--advertise",
                &advertise,
                "listening on all interfaces: give the address peers should dial",
            ));
        }
        let data_dir =
            self.data_dir.or(file.data_dir).or(dev.then(|| PathBuf::from(DEV_DATA_DIR))).ok_or(
                ConfigError::Missing { option: "--data-dir", hint: "a directory for the Raft log and snapshots" },
            )?;
        let peers = match self.peers {
            Some(text) => parse_peers(&text)?,
            None if !file.peers.is_empty() => file.peers,
            None if dev => BTreeMap::from([(node_id, advertise.clone())]),
            None => {
                return Err(ConfigError::Missing {
                    option: "--peers",
                    hint: "list every meta node, e.g. 1=h1:8091,2=h2:8091,3=h3:8091 (the same on all nodes)",
                })
            }
        };
        for (id, addr) in &peers {
            if *id == 0 {
                return Err(invalid("--peers", format!("{id}={addr}"), "node IDs start at 1"));
            }
            meta_model::validate_addr("--peers", addr).map_err(|e| invalid("--peers", addr, e.to_string()))?;
        }
        match peers.get(&node_id) {
            None => {
                return Err(invalid(
                    "--node-id",
                    node_id.to_string(),
                    format!("not among --peers (IDs there: {:?})", peers.keys().collect::<Vec<_>>()),
                ))
            }
            Some(addr) if *addr != advertise => {
                return Err(invalid(
                    "--peers",
                    addr,
                    format!("node {node_id} is listed at {addr} but advertises {advertise}"),
                ))
            }
            Some(_) => {}
        }
        let raft = file.raft;
        if raft.election_timeout_min_ms <= raft.heartbeat_interval_ms
            || raft.election_timeout_max_ms <= raft.election_timeout_min_ms
        {
            return Err(invalid(
                "raft timing",
                format!("{raft:?}"),
                "need heartbeat-interval-ms < election-timeout-min-ms < election-timeout-max-ms",
            ));
        }
        let auth = meta_api::Auth {
            admin_token: self.admin_token.or(file.admin_token),
            node_token: self.node_token.or(file.node_token),
        };
        if auth.node_token.is_some() && auth.admin_token.is_none() {
            return Err(ConfigError::Missing {
                option: "--admin-token",
                hint: "a node token alone would leave every other call open; set an admin token too",
            });
        }
        let anti_entropy = file.anti_entropy.validate()?;
        let lifecycle =
            crate::lifecycle::settings::validate(&file.retention, &file.shard_precreation, &file.shard_groups)?;
        check_data_dir(&data_dir)?;
        let cluster_secret = self.cluster_secret.or(file.cluster_secret);
        let tls = NodeTlsOptions {
            cert: self.tls_cert.or(file.tls.cert),
            key: self.tls_key.or(file.tls.key),
            ca_cert: self.tls_ca_cert.or(file.tls.ca_cert),
            client_auth: self.tls_client_auth || file.tls.client_auth,
            skip_verify: self.tls_insecure_skip_verify || file.tls.insecure_skip_verify,
        }
        .resolve()
        .map_err(|e| invalid(e.option, "", e.reason))?;
        if tls.as_ref().is_some_and(|tls| tls.client_auth) && cluster_secret.is_none() {
            return Err(ConfigError::Missing {
                option: "--cluster-secret",
                hint: "mutual TLS admits every certificate the CA signed, data nodes' and operators' too: the \
                       cluster secret is what keeps them off the meta nodes' internal routes (Raft, forwarding)",
            });
        }
        Ok(Config {
            node_id,
            listen,
            advertise,
            data_dir,
            peers,
            cluster_secret,
            auth,
            tls,
            raft,
            anti_entropy,
            lifecycle,
        })
    }
}

/// Creates the data directory if needed and checks it is writable.
fn check_data_dir(path: &Path) -> Result<(), ConfigError> {
    let fail = |source| ConfigError::DataDir { path: path.to_owned(), source };
    std::fs::create_dir_all(path).map_err(fail)?;
    let probe = path.join(".metad-write-probe");
    std::fs::write(&probe, b"ok").map_err(fail)?;
    std::fs::remove_file(&probe).map_err(fail)?;
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn cli(dir: &Path) -> Cli {
        Cli {
            node_id: Some(2),
            listen: Some("127.0.0.1:9002".into()),
            data_dir: Some(dir.to_owned()),
            peers: Some("1=127.0.0.1:9001, 2=127.0.0.1:9002,3=127.0.0.1:9003".into()),
            ..Cli::default()
        }
    }

    #[test]
    fn a_cluster_member_config_validates() {
        let dir = tempfile::tempdir().expect("tempdir");
        let config = cli(dir.path()).into_config().expect("valid");
        assert_eq!(config.node_id, 2);
        assert_eq!(config.advertise, "127.0.0.1:9002");
        assert_eq!(config.peers.len(), 3);
        assert_eq!(config.raft, RaftTuning::default());
    }

    #[test]
    fn dev_mode_needs_nothing_else() {
        let dir = tempfile::tempdir().expect("tempdir");
        let config =
            Cli { dev: true, data_dir: Some(dir.path().to_owned()), ..Cli::default() }.into_config().expect("valid");
        assert_eq!((config.node_id, config.listen.to_string()), (1, DEV_LISTEN.to_owned()));
        assert_eq!(config.peers, BTreeMap::from([(1, DEV_LISTEN.to_owned())]));
    }

    #[test]
    fn bad_options_are_named() {
        let dir = tempfile::tempdir().expect("tempdir");
        let cases: Vec<(Cli, &str)> = vec![
            (Cli { node_id: None, ..cli(dir.path()) }, "--node-id"),
            (Cli { node_id: Some(7), ..cli(dir.path()) }, "--node-id"),
            (Cli { listen: Some("nonsense".into()), ..cli(dir.path()) }, "--listen"),
            (Cli { peers: Some("1=a:1,x=b:2".into()), ..cli(dir.path()) }, "--peers"),
            (Cli { peers: Some("1=a:1,1=b:2".into()), ..cli(dir.path()) }, "--peers"),
            (Cli { peers: Some("2=other:9002".into()), ..cli(dir.path()) }, "--peers"),
            (Cli { peers: None, ..cli(dir.path()) }, "--peers"),
            (Cli { listen: Some("0.0.0.0:9002".into()), ..cli(dir.path()) }, "--advertise"),
            (Cli { data_dir: Some("/proc/metad-cannot-be-here".into()), ..cli(dir.path()) }, "data dir"),
            (Cli { node_token: Some("n".into()), ..cli(dir.path()) }, "--admin-token"),
            (Cli { tls_cert: Some("n.pem".into()), ..cli(dir.path()) }, "--tls-key"),
            (
                Cli {
                    tls_cert: Some("n.pem".into()),
                    tls_key: Some("k.pem".into()),
                    tls_client_auth: true,
                    ..cli(dir.path())
                },
                "--tls-ca-cert",
            ),
            (
                Cli {
                    tls_cert: Some("n.pem".into()),
                    tls_key: Some("k.pem".into()),
                    tls_ca_cert: Some("ca.pem".into()),
                    tls_client_auth: true,
                    ..cli(dir.path())
                },
                "--cluster-secret",
            ),
        ];
        for (cli, option) in cases {
            let message = cli.into_config().expect_err("must be refused").to_string();
            assert!(message.contains(option), "{message:?} should name {option}");
        }
    }

    #[test]
    fn example_config_parses_validates_and_matches_the_defaults() {
        let path = Path::new(env!("CARGO_MANIFEST_DIR")).join("../../deploy/metad.example.toml");
        let file = FileConfig::load(&path).expect("example config parses");
        assert_eq!(file.raft, RaftTuning::default(), "the example documents the defaults");
        assert_eq!(file.anti_entropy, AntiEntropySection::default(), "the example documents the defaults");
        assert_eq!(file.retention, RetentionSection::default(), "the example documents the defaults");
        assert_eq!(file.shard_precreation, PrecreationSection::default(), "the example documents the defaults");
        assert_eq!(file.shard_groups, ShardGroupSection::default(), "the example documents the defaults");
        let dir = tempfile::tempdir().expect("tempdir");
        let cli = Cli { config: Some(path), data_dir: Some(dir.path().to_owned()), ..Cli::default() };
        let config = cli.into_config().expect("example config validates");
        assert_eq!(config.peers.len(), 3);
    }

    #[test]
    fn tls_comes_from_the_file_and_flags_override_it() {
        let file = "cluster-secret = \"s\"\n[tls]\ncert = \"f.pem\"\nkey = \"f-key.pem\"\nca-cert = \"ca.pem\"\nclient-auth = true\n";
        let dir = tempfile::tempdir().expect("tempdir");
        let path = dir.path().join("metad.toml");
        std::fs::write(&path, file).expect("write");
        let config = Cli { config: Some(path.clone()), ..cli(dir.path()) }.into_config().expect("valid");
        let tls = config.tls.expect("TLS on");
        assert!(tls.client_auth);
        let server = tls.server;
        assert_eq!(
            (server.cert.to_str(), server.client_ca.as_deref().and_then(|p| p.to_str())),
            (Some("f.pem"), Some("ca.pem"))
        );
        let flag = Cli { config: Some(path), tls_cert: Some("flag.pem".into()), ..cli(dir.path()) };
        let server = flag.into_config().expect("valid").tls.map(|t| t.server).expect("TLS on");
        assert_eq!(server.cert.to_str(), Some("flag.pem"));
        assert_eq!(cli(dir.path()).into_config().expect("valid").tls, None, "plain HTTP by default");
    }

    #[test]
    fn unknown_keys_in_the_file_are_refused() {
        let error =
            FileConfig::parse(Path::new("x.toml"), "node-id = 1\nlisten-addr = \"a:1\"\n").expect_err("refused");
        assert!(error.to_string().contains("listen-addr"), "{error}");
    }
}
