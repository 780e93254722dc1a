//! Configuration: command-line flags and `DATAD_*` environment variables, validated into a
//! [`Config`].

use std::net::SocketAddr;
use std::path::PathBuf;
use std::time::Duration;

use clap::Parser;
use cluster_tls::node::{NodeTls, NodeTlsOptions};

use crate::error::DatadError;
use crate::handoff::HandoffSettings;

/// Command-line flags; each can also come from a `DATAD_*` environment variable.
#[derive(Clone, Debug, Parser)]
#[command(name = "datad", version, about = "Reference data node of the meta service")]
pub struct Cli {
    /// Meta nodes to talk to: URL[,URL...] (`host:port`, `http://host:port` or
    /// `https://host:port`).
    #[arg(long, env = "DATAD_META")]
    pub meta: String,
    /// Address to serve HTTP on, HOST:PORT; register it with `metactl add-data HOST:PORT`.
    #[arg(long, env = "DATAD_LISTEN")]
    pub listen: String,
    /// Address the node is registered under, when it differs from --listen (e.g. listening on
    /// 0.0.0.0). Defaults to --listen (with port 0: the port actually bound).
    #[arg(long, env = "DATAD_ADVERTISE")]
    pub advertise: Option<String>,
    /// Directory for shard files.
    #[arg(long, env = "DATAD_DATA_DIR")]
    pub data_dir: PathBuf,
    /// The cluster's node token: presented to the meta service (its `--node-token`) and to
    /// other data nodes, and required from them on this node's internal routes (appends between
    /// owners, shard reads, digests and repairs).
    #[arg(long, env = "DATAD_TOKEN", hide_env_values = true)]
    pub token: Option<String>,
    /// Token `POST /write` requires: `Authorization: Bearer TOKEN` (or `Token TOKEN`), the
    /// password of Basic authentication, or InfluxDB 1.x clients' `p` query parameter. Writes
    /// are open without it.
    #[arg(long, env = "DATAD_WRITE_TOKEN", hide_env_values = true)]
    pub write_token: Option<String>,
    /// Most copy tasks to run at once.
    #[arg(long, env = "DATAD_MAX_FETCH", default_value_t = 4)]
    pub max_fetch: u32,
    /// Bytes per range request when copying a shard.
    #[arg(long, env = "DATAD_CHUNK_SIZE", default_value_t = 1024 * 1024)]
    pub chunk_size: u64,
    /// Heartbeat interval until the meta leader asks for another (e.g. `1s`, `500ms`).
    #[arg(long, env = "DATAD_HEARTBEAT_INTERVAL", default_value = "1s")]
    pub heartbeat_interval: String,
    /// How often to look for the node's registration and to claim copy tasks.
    #[arg(long, env = "DATAD_CLAIM_INTERVAL", default_value = "1s")]
    pub claim_interval: String,
    /// Most bytes per second each copy task downloads (0: unlimited), so repairs leave
    /// bandwidth for writes and queries.
    #[arg(long, env = "DATAD_MAX_COPY_RATE", default_value_t = 0)]
    pub max_copy_rate: u64,
    /// How long a copy's partial file is kept once no copy of this node works on it (killed, or
    /// moved to another node): until then a retry resumes from it; then it is deleted (e.g. `1h`).
    #[arg(long, env = "DATAD_PARTIAL_TTL", default_value = "1h")]
    pub partial_ttl: String,
    /// A shard not written for this long (and whose group has ended) is cold: heartbeats carry
    /// its content root, which the meta leader compares between owners (e.g. `10m`).
    #[arg(long, env = "DATAD_COLD_AFTER", default_value = "10m")]
    pub cold_after: String,
    /// How long a shard file the cluster no longer keeps here (group deleted by retention,
    /// shard dropped, ownership moved) waits before it is deleted (e.g. `1h`, `0s`).
    #[arg(long, env = "DATAD_SHARD_DELETE_GRACE", default_value = "1h")]
    pub shard_delete_grace: String,
    /// Most shard groups one write may create (one Raft write each): a write whose points span
    /// more new groups is refused whole, naming the line.
    #[arg(long, env = "DATAD_MAX_NEW_SHARD_GROUPS", default_value_t = 64)]
    pub max_new_shard_groups: usize,
    /// Most bytes a hinted-handoff queue (one per owner this node could not write to) holds;
    /// writes beyond are dropped and counted (InfluxDB's default: 10 GiB).
    #[arg(long, env = "DATAD_HANDOFF_MAX_SIZE", default_value_t = 10 * 1024 * 1024 * 1024)]
    pub handoff_max_size: u64,
    /// Longest a write waits in a hinted-handoff queue before it is dropped and counted (InfluxDB's
    /// default: 168h).
    #[arg(long, env = "DATAD_HANDOFF_MAX_AGE", default_value = "168h")]
    pub handoff_max_age: String,
    /// Pause between attempts to deliver the hinted-handoff queues (e.g. `1s`).
    #[arg(long, env = "DATAD_HANDOFF_RETRY_INTERVAL", default_value = "1s")]
    pub handoff_retry_interval: String,
    /// Register this node at start if it is not registered yet, as `metactl add-data ADDR`
    /// would (for unattended starts: compose, systemd). Without it an operator registers it.
    #[arg(long, env = "DATAD_REGISTER")]
    pub register: bool,
    /// PEM certificate (chain) to serve HTTPS with; needs --tls-key. Any --tls-* option makes the
    /// node talk HTTPS to meta nodes and peers (bare HOST:PORT addresses mean https://).
    #[arg(long, env = "DATAD_TLS_CERT", value_name = "PEM")]
    pub tls_cert: Option<PathBuf>,
    /// PEM private key of --tls-cert.
    #[arg(long, env = "DATAD_TLS_KEY", value_name = "PEM")]
    pub tls_key: Option<PathBuf>,
    /// PEM CA bundle the certificates of meta nodes and peers (and, with --tls-client-auth, of
    /// clients) must chain to; without it, the system's roots.
    #[arg(long, env = "DATAD_TLS_CA_CERT", value_name = "PEM")]
    pub tls_ca_cert: Option<PathBuf>,
    /// Mutual TLS: ask every client for a certificate signed by --tls-ca-cert; the internal routes
    /// (appends between owners, shard reads, digests, repairs) require one, and this node
    /// presents its own to meta nodes and peers.
    #[arg(long, env = "DATAD_TLS_CLIENT_AUTH")]
    pub tls_client_auth: bool,
    /// Connect to meta nodes and peers over HTTPS without verifying their certificates:
    /// encrypted, not authenticated. Only for a first look when the CA is not at hand.
    #[arg(long, env = "DATAD_TLS_INSECURE_SKIP_VERIFY")]
    pub tls_insecure_skip_verify: bool,
    /// Log as JSON lines instead of text.
    #[arg(long, env = "DATAD_LOG_JSON")]
    pub log_json: bool,
}

/// Largest chunk a copy may ask for in one request (a peer serves at most this much at once).
pub const MAX_CHUNK_SIZE: u64 = 16 * 1024 * 1024;

/// A checked configuration.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Config {
    /// Meta node endpoints.
    pub meta: Vec<String>,
    /// Address to serve on.
    pub listen: SocketAddr,
    /// Address the node is registered under (`None`: the bound address).
    pub advertise: Option<String>,
    /// Directory for shard files.
    pub data_dir: PathBuf,
    /// The cluster's node token (meta service and peers), if any.
    pub token: Option<String>,
    /// The token `POST /write` requires, if any.
    pub write_token: Option<String>,
    /// Most copy tasks at once.
    pub max_fetch: u32,
    /// Bytes per copy request.
    pub chunk_size: u64,
    /// Heartbeat interval (the leader's reply overrides it).
    pub heartbeat_interval: Duration,
    /// Registration and claim interval.
    pub claim_interval: Duration,
    /// Bytes per second per copy task (`None`: unlimited).
    pub max_copy_rate: Option<u64>,
    /// How long an abandoned partial copy is kept.
    pub partial_ttl: Duration,
    /// How long a retired shard's file waits before deletion.
    pub shard_delete_grace: Duration,
    /// Time without writes after which a shard is cold.
    pub cold_after: Duration,
    /// Register itself at start when not registered yet.
    pub register: bool,
    /// Hinted-handoff limits and pace.
    pub handoff: HandoffSettings,
    /// Most shard groups one write may create.
    pub max_new_shard_groups: usize,
    /// TLS of the listener and of connections to meta nodes and peers (`None`: plain HTTP).
    pub tls: Option<NodeTls>,
}

fn invalid(option: &'static str, value: impl Into<String>, reason: impl Into<String>) -> DatadError {
    DatadError::Config { option, value: value.into(), reason: reason.into() }
}

/// Parses a positive duration such as `1s` or `250ms`.
/// A duration that may be zero.
fn parse_grace(option: &'static str, text: &str) -> Result<Duration, DatadError> {
    meta_model::parse_duration(text).map(Duration::from_nanos).map_err(|e| invalid(option, text, e.to_string()))
}

fn parse_interval(option: &'static str, text: &str) -> Result<Duration, DatadError> {
    let interval = parse_grace(option, text)?;
    if interval.is_zero() {
        return Err(invalid(option, text, "must be positive"));
    }
    Ok(interval)
}

impl Cli {
    /// Validates the flags into a [`Config`].
    pub fn into_config(self) -> Result<Config, DatadError> {
        let meta: Vec<String> =
            self.meta.split(',').map(str::trim).filter(|s| !s.is_empty()).map(str::to_owned).collect();
        if meta.is_empty() {
            return Err(invalid("--meta", &self.meta, "give at least one meta node address"));
        }
        let listen: SocketAddr = self
            .listen
            .parse()
            .map_err(|_| invalid("--listen", &self.listen, "expected IP:PORT, e.g. 127.0.0.1:8088"))?;
        if listen.ip().is_unspecified() && self.advertise.is_none() {
            return Err(invalid("--listen", &self.listen, "listening on all interfaces: give --advertise HOST:PORT"));
        }
        if let Some(advertise) = &self.advertise {
            meta_model::validate_addr("--advertise", advertise)
                .map_err(|e| invalid("--advertise", advertise, e.to_string()))?;
        }
        if self.max_new_shard_groups == 0 {
            return Err(invalid("--max-new-shard-groups", "0", "must be at least 1"));
        }
        if self.max_fetch == 0 {
            return Err(invalid("--max-fetch", "0", "must be at least 1"));
        }
        if self.chunk_size == 0 || self.chunk_size > MAX_CHUNK_SIZE {
            return Err(invalid("--chunk-size", self.chunk_size.to_string(), format!("must be 1..={MAX_CHUNK_SIZE}")));
        }
        let tls = NodeTlsOptions {
            cert: self.tls_cert,
            key: self.tls_key,
            ca_cert: self.tls_ca_cert,
            client_auth: self.tls_client_auth,
            skip_verify: self.tls_insecure_skip_verify,
        }
        .resolve()
        .map_err(|e| invalid(e.option, "", e.reason))?;
        Ok(Config {
            tls,
            meta,
            listen,
            advertise: self.advertise,
            data_dir: self.data_dir,
            token: self.token.filter(|t| !t.is_empty()),
            write_token: self.write_token.filter(|t| !t.is_empty()),
            max_fetch: self.max_fetch,
            chunk_size: self.chunk_size,
            heartbeat_interval: parse_interval("--heartbeat-interval", &self.heartbeat_interval)?,
            claim_interval: parse_interval("--claim-interval", &self.claim_interval)?,
            max_copy_rate: (self.max_copy_rate > 0).then_some(self.max_copy_rate),
            partial_ttl: parse_interval("--partial-ttl", &self.partial_ttl)?,
            shard_delete_grace: parse_grace("--shard-delete-grace", &self.shard_delete_grace)?,
            cold_after: parse_grace("--cold-after", &self.cold_after)?,
            register: self.register,
            max_new_shard_groups: self.max_new_shard_groups,
            handoff: HandoffSettings {
                max_size: self.handoff_max_size,
                max_age: parse_interval("--handoff-max-age", &self.handoff_max_age)?,
                retry_interval: parse_interval("--handoff-retry-interval", &self.handoff_retry_interval)?,
            },
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn parse(extra: &[&str]) -> Result<Config, DatadError> {
        let base = ["datad", "--meta", "m1:8091, m2:8091", "--listen", "127.0.0.1:8088", "--data-dir", "/tmp/d"];
        Cli::try_parse_from(base.iter().chain(extra)).expect("flags parse").into_config()
    }

    #[test]
    fn defaults_match_the_documented_contract() {
        let config = parse(&[]).expect("valid");
        assert_eq!(config.meta, ["m1:8091", "m2:8091"]);
        assert_eq!((config.max_fetch, config.chunk_size), (4, 1024 * 1024));
        assert_eq!(config.heartbeat_interval, Duration::from_secs(1));
        assert_eq!(config.claim_interval, Duration::from_secs(1));
        assert_eq!(config.advertise, None);
        assert_eq!(config.handoff.max_size, 10 << 30);
        assert_eq!(config.handoff.max_age, Duration::from_secs(168 * 3600));
    }

    #[test]
    fn bad_values_name_the_option() {
        for (flags, option) in [
            (&["--max-fetch", "0"][..], "--max-fetch"),
            (&["--chunk-size", "0"], "--chunk-size"),
            (&["--heartbeat-interval", "0"], "--heartbeat-interval"),
            (&["--claim-interval", "soon"], "--claim-interval"),
            (&["--handoff-max-age", "0s"], "--handoff-max-age"),
            (&["--tls-cert", "n.pem"], "--tls-key"),
            (&["--tls-client-auth", "--tls-cert", "n.pem", "--tls-key", "k.pem"], "--tls-ca-cert"),
        ] {
            match parse(flags) {
                Err(DatadError::Config { option: got, .. }) => assert_eq!(got, option),
                other => panic!("{flags:?}: expected a config error, got {other:?}"),
            }
        }
        let any = Cli::try_parse_from(["datad", "--meta", "m", "--listen", "0.0.0.0:1", "--data-dir", "d"]);
        assert!(any.expect("flags parse").into_config().is_err(), "0.0.0.0 needs --advertise");
    }
}
