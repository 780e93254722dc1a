//! A typed async client of the meta service's `/v1` API, used by `metactl`, data nodes and tests.
//!
//! Give it every meta node's address: any node serves any request (followers forward writes to
//! the leader), so the client only needs one that answers; it sends writes to the leader when it
//! can tell which endpoint that is, saving the forwarding hop. It moves to the next address when one
//! cannot be connected to, and retries with backoff while the cluster has no leader (`503
//! no_leader`). A request whose outcome is unknown (timeout after sending) is retried only if it
//! is idempotent (reads); a write then fails with [`ClientError::Unavailable`] rather than risk
//! applying twice.
//!
//! ```no_run
//! # async fn demo() -> Result<(), meta_client::ClientError> {
//! let client = meta_client::Client::new(["127.0.0.1:8091", "127.0.0.1:8191"])?;
//! let node = client.add_data_node("data-1:8088", None, Default::default()).await?;
//! println!("registered data node {}", node.id);
//! # Ok(()) }
//! ```

mod data_node;
mod entropy;

use std::collections::BTreeMap;
use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
use std::time::Duration;

use cluster_tls::client::error_chain;
pub use cluster_tls::client::{ClientTls, Identity};
use reqwest::{Method, StatusCode};
use serde::de::DeserializeOwned;
use serde::Serialize;

use meta_model::{DataNode, MetaNode, NodeId, PlacementPolicy, ShardId, Timestamp};
use meta_wire::{
    AddDataNodeRequest, AddMetaNodeRequest, AddOwnerRequest, AlterRetentionPolicyRequest, BalanceRequest,
    CreateDatabaseRequest, CreateShardGroupRequest, DataNodeList, DataNodeStatus, DatabaseList, ErrorReply,
    FailureDomainsRequest, MetaNodeList, MetadataReply, NodeLabelsRequest, NodeStatus, RemovedDataNode,
    RetentionPolicyRequest, ShardGroupList, ShardGroupReply, ShardInfo, ShardList, TruncateReply,
    TruncateShardsRequest, UpdateDataNodeRequest,
};

/// How many attempts a request gets across endpoints and leader changes.
const ATTEMPTS: u32 = 8;
/// First retry delay; doubles up to [`MAX_BACKOFF`].
const FIRST_BACKOFF: Duration = Duration::from_millis(100);
/// Longest retry delay.
const MAX_BACKOFF: Duration = Duration::from_secs(2);
/// Timeout of one request (long polls add their wait).
const REQUEST_TIMEOUT: Duration = Duration::from_secs(15);
/// Timeout of a [`Client::probe`].
const PROBE_TIMEOUT: Duration = Duration::from_secs(3);
/// Timeout of a membership change (the new meta node catches up first).
const MEMBERSHIP_TIMEOUT: Duration = Duration::from_secs(150);

/// Why a request failed.
#[derive(Debug, thiserror::Error)]
pub enum ClientError {
    /// The service answered with an error (the request was understood and refused).
    #[error("{message} ({code}, HTTP {status})")]
    Api {
        /// HTTP status.
        status: u16,
        /// Stable error code, e.g. `database_not_found`.
        code: String,
        /// The service's message.
        message: String,
    },
    /// No meta node could serve the request.
    #[error("no meta node could serve the request: {last}")]
    Unavailable {
        /// The last failure seen.
        last: String,
    },
    /// An address is not usable.
    #[error("invalid meta node address {0:?}")]
    InvalidEndpoint(String),
    /// A TLS certificate, key or CA file cannot be used.
    #[error("TLS: {0}")]
    Tls(String),
    /// A reply did not have the expected shape.
    #[error("unexpected reply from {url}: {message}")]
    Decode {
        /// Where it came from.
        url: String,
        /// What was wrong.
        message: String,
    },
}

impl ClientError {
    /// The service's error code, when the service refused the request.
    pub fn code(&self) -> Option<&str> {
        match self {
            ClientError::Api { code, .. } => Some(code),
            _ => None,
        }
    }
}

/// A client of one meta cluster.
#[derive(Debug)]
pub struct Client {
    endpoints: Vec<String>,
    http: reqwest::Client,
    /// The scheme of bare addresses: `https` with TLS configured, else `http`.
    scheme: &'static str,
    token: Option<String>,
    /// The endpoint requests start at: the leader once located, else the last that answered.
    preferred: AtomicUsize,
    /// Whether `preferred` is known to be the leader.
    leader_located: AtomicBool,
}

/// Whether a request may be repeated when its outcome is unknown.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Idempotent {
    Yes,
    No,
}

impl Client {
    /// A client of the meta nodes at `endpoints` (`host:port`, `http://host:port` or
    /// `https://host:port`), over plain HTTP unless an endpoint says `https://` (verified against
    /// the system's roots). [`Client::with_tls`] sets whom to trust.
    ///
    /// # Errors
    /// [`ClientError::InvalidEndpoint`] for an empty list or an address that is not a URL base.
    pub fn new<I, S>(endpoints: I) -> Result<Self, ClientError>
    where
        I: IntoIterator<Item = S>,
        S: AsRef<str>,
    {
        Self::with_tls(endpoints, None)
    }

    /// A client of the meta nodes at `endpoints` that connects over TLS as `tls` says: bare
    /// `host:port` addresses mean `https://` then (and `http://` without `tls`).
    ///
    /// # Errors
    /// [`ClientError::InvalidEndpoint`] for an empty list or an address that is not a URL base;
    /// [`ClientError::Tls`] when a certificate or key file cannot be used.
    pub fn with_tls<I, S>(endpoints: I, tls: Option<&ClientTls>) -> Result<Self, ClientError>
    where
        I: IntoIterator<Item = S>,
        S: AsRef<str>,
    {
        let scheme = if tls.is_some() { "https" } else { "http" };
        let mut list = Vec::new();
        for endpoint in endpoints {
            for part in endpoint.as_ref().split(',').map(str::trim).filter(|p| !p.is_empty()) {
                let base = part.trim_end_matches('/');
                let base = if base.contains("://") { base.to_owned() } else { format!("{scheme}://{base}") };
                let usable = |host: &str| !host.is_empty() && !host.ends_with(':') && !host.contains(['/', ' ']);
                if !host_of(&base).is_some_and(usable) {
                    return Err(ClientError::InvalidEndpoint(part.to_owned()));
                }
                list.push(base);
            }
        }
        if list.is_empty() {
            return Err(ClientError::InvalidEndpoint(String::new()));
        }
        let builder = reqwest::Client::builder().timeout(MEMBERSHIP_TIMEOUT + Duration::from_secs(60));
        let builder = cluster_tls::client::configure(builder, tls).map_err(|e| ClientError::Tls(e.to_string()))?;
        let http = builder.build().map_err(|e| ClientError::Tls(e.to_string()))?;
        Ok(Client {
            endpoints: list,
            http,
            scheme,
            token: None,
            preferred: AtomicUsize::new(0),
            leader_located: AtomicBool::new(false),
        })
    }

    /// Sends `token` as a bearer token with every request.
    pub fn with_token(mut self, token: Option<String>) -> Self {
        self.token = token;
        self
    }

    /// The endpoints, as normalised URLs.
    pub fn endpoints(&self) -> &[String] {
        &self.endpoints
    }

    /// `GET /status` of the data node at `addr` (`host:port` of its HTTP API, reached with this
    /// client's scheme and TLS): what it holds and whether it is registered. One attempt with a
    /// short timeout (a health check of one process).
    ///
    /// # Errors
    /// [`ClientError::Unavailable`] if it does not answer, [`ClientError::Decode`] if the reply is
    /// not a data node's status.
    pub async fn data_node_status(&self, addr: &str) -> Result<DataNodeStatus, ClientError> {
        let addr = addr.trim_end_matches('/');
        let url =
            if addr.contains("://") { format!("{addr}/status") } else { format!("{}://{addr}/status", self.scheme) };
        let unavailable = |e: reqwest::Error| ClientError::Unavailable { last: format!("{url}: {}", error_chain(&e)) };
        let response = self.http.get(&url).timeout(PROBE_TIMEOUT).send().await.map_err(unavailable)?;
        response.json().await.map_err(|e| ClientError::Decode { url: url.clone(), message: e.to_string() })
    }

    /// One `GET` of `path` on the first endpoint, no retry, a short timeout: the HTTP status (for
    /// health checks of one process, e.g. `/ready` of a meta node or `/health` of a data node).
    pub async fn probe(&self, path: &str) -> Result<u16, ClientError> {
        let url = format!("{}{path}", self.endpoints[0]);
        let response = self.http.get(&url).timeout(PROBE_TIMEOUT).send().await;
        response
            .map(|r| r.status().as_u16())
            .map_err(|e| ClientError::Unavailable { last: format!("{url}: {}", error_chain(&e)) })
    }

    async fn request<B: Serialize, T: DeserializeOwned>(
        &self,
        method: Method,
        path: &str,
        body: Option<&B>,
        idempotent: Idempotent,
        timeout: Duration,
    ) -> Result<T, ClientError> {
        let mut backoff = FIRST_BACKOFF;
        let mut last = String::from("no attempt made");
        let start = self.preferred.load(Ordering::Relaxed);
        for attempt in 0..ATTEMPTS {
            let index = (start + attempt as usize) % self.endpoints.len();
            let url = format!("{}{path}", self.endpoints[index]);
            let mut request = self.http.request(method.clone(), &url).timeout(timeout);
            if let Some(body) = body {
                request = request.json(body);
            }
            if let Some(token) = &self.token {
                request = request.bearer_auth(token);
            }
            match request.send().await {
                Ok(response) => {
                    let status = response.status();
                    let bytes = response
                        .bytes()
                        .await
                        .map_err(|e| ClientError::Decode { url: url.clone(), message: e.to_string() })?;
                    if status.is_success() {
                        self.preferred.store(index, Ordering::Relaxed);
                        let bytes = if bytes.is_empty() { &b"null"[..] } else { &bytes[..] };
                        return serde_json::from_slice(bytes)
                            .map_err(|e| ClientError::Decode { url, message: e.to_string() });
                    }
                    let error: Option<ErrorReply> = serde_json::from_slice(&bytes).ok();
                    let (code, message) = match error {
                        Some(reply) => (reply.error.code, reply.error.message),
                        None => ("http_error".to_owned(), String::from_utf8_lossy(&bytes).into_owned()),
                    };
                    // Without a leader nothing was applied: safe to retry any request.
                    let retry = status == StatusCode::SERVICE_UNAVAILABLE
                        && (code == "no_leader" || idempotent == Idempotent::Yes);
                    if !retry {
                        return Err(ClientError::Api { status: status.as_u16(), code, message });
                    }
                    last = format!("{url}: {message}");
                }
                // Never reached the server: safe to try the next one.
                Err(error) if error.is_connect() => last = format!("{url}: {}", error_chain(&error)),
                Err(error) if idempotent == Idempotent::Yes => last = format!("{url}: {}", error_chain(&error)),
                Err(error) => {
                    return Err(ClientError::Unavailable {
                        last: format!("{url}: {} (the write may or may not have been applied)", error_chain(&error)),
                    })
                }
            }
            // The leader may have moved: look for it again before the next write.
            self.leader_located.store(false, Ordering::Relaxed);
            tracing::debug!(attempt, %last, "meta request failed; retrying");
            // Deliberate exponential backoff between attempts (100 ms doubling to 2 s).
            tokio::time::sleep(backoff).await;
            backoff = (backoff * 2).min(MAX_BACKOFF);
        }
        Err(ClientError::Unavailable { last })
    }

    async fn get<T: DeserializeOwned>(&self, path: &str) -> Result<T, ClientError> {
        self.request::<(), T>(Method::GET, path, None, Idempotent::Yes, REQUEST_TIMEOUT).await
    }

    async fn write<B: Serialize, T: DeserializeOwned>(
        &self,
        method: Method,
        path: &str,
        body: Option<&B>,
    ) -> Result<T, ClientError> {
        self.locate_leader().await;
        self.request(method, path, body, Idempotent::No, REQUEST_TIMEOUT).await
    }

    /// Points `preferred` at the leader when it is among the endpoints, so writes skip the
    /// forwarding hop. Any node would serve them; this only saves a round trip.
    async fn locate_leader(&self) {
        if self.leader_located.load(Ordering::Relaxed) {
            return;
        }
        let Ok(status) = self.status().await else { return };
        let leader_addr = status.voters.iter().find(|v| Some(v.id) == status.leader_id).map(|v| v.addr.clone());
        let Some(addr) = leader_addr else { return };
        if let Some(index) = self.endpoints.iter().position(|e| host_of(e) == Some(addr.as_str())) {
            self.preferred.store(index, Ordering::Relaxed);
            self.leader_located.store(true, Ordering::Relaxed);
        }
    }

    /// `GET /v1/status` of whichever node answers.
    pub async fn status(&self) -> Result<NodeStatus, ClientError> {
        self.get("/v1/status").await
    }

    /// The whole metadata; with `index`, waits up to `wait` for the state to move past it.
    pub async fn metadata(&self, index: Option<u64>, wait: Duration) -> Result<MetadataReply<'static>, ClientError> {
        let path = match index {
            Some(index) => format!("/v1/metadata?index={index}&wait={}ms", wait.as_millis()),
            None => "/v1/metadata".to_owned(),
        };
        self.request::<(), _>(Method::GET, &path, None, Idempotent::Yes, REQUEST_TIMEOUT + wait).await
    }

    /// The whole metadata as the node that answers has applied it (`?stale=true`: no read barrier,
    /// so it may lag the leader; what one node holds, e.g. to compare replicas).
    pub async fn stale_metadata(&self) -> Result<MetadataReply<'static>, ClientError> {
        self.get("/v1/metadata?stale=true").await
    }

    /// Loads a backup (what [`Client::metadata`] returned) into an empty cluster.
    pub async fn restore(&self, backup: &MetadataReply<'_>) -> Result<(), ClientError> {
        self.request(Method::POST, "/v1/restore", Some(backup), Idempotent::No, MEMBERSHIP_TIMEOUT).await
    }

    /// All data nodes.
    pub async fn data_nodes(&self) -> Result<Vec<DataNode>, ClientError> {
        Ok(self.get::<DataNodeList>("/v1/data-nodes").await?.data_nodes)
    }

    /// Registers a data node (`add-data`).
    pub async fn add_data_node(
        &self,
        tcp_addr: &str,
        http_addr: Option<&str>,
        labels: BTreeMap<String, String>,
    ) -> Result<DataNode, ClientError> {
        let body =
            AddDataNodeRequest { tcp_addr: tcp_addr.to_owned(), http_addr: http_addr.map(str::to_owned), labels };
        self.write(Method::POST, "/v1/data-nodes", Some(&body)).await
    }

    /// Moves a data node's ID to new addresses (`update-data`).
    pub async fn update_data_node(&self, id: NodeId, tcp_addr: &str) -> Result<DataNode, ClientError> {
        let body = UpdateDataNodeRequest { tcp_addr: tcp_addr.to_owned(), http_addr: None, labels: None };
        self.write(Method::PUT, &format!("/v1/data-nodes/{id}"), Some(&body)).await
    }

    /// Sets and deletes labels of a data node in one step (`node-labels`), keeping the others.
    pub async fn set_node_labels(
        &self,
        id: NodeId,
        set: BTreeMap<String, String>,
        delete: Vec<String>,
    ) -> Result<DataNode, ClientError> {
        let body = NodeLabelsRequest { set, delete };
        self.write(Method::PATCH, &format!("/v1/data-nodes/{id}/labels"), Some(&body)).await
    }

    /// How shards are placed: the failure-domain hierarchy.
    pub async fn placement(&self) -> Result<PlacementPolicy, ClientError> {
        self.get("/v1/placement").await
    }

    /// Sets the failure-domain hierarchy (`failure-domains set`): label keys, highest level first.
    pub async fn set_failure_domains(&self, levels: Vec<String>) -> Result<PlacementPolicy, ClientError> {
        let body = FailureDomainsRequest { failure_domains: levels };
        self.write(Method::PUT, "/v1/placement/failure-domains", Some(&body)).await
    }

    /// Changes the balance policy (`balance enable|disable`); fields left `None` keep their value.
    pub async fn set_balance(&self, request: &BalanceRequest) -> Result<PlacementPolicy, ClientError> {
        self.write(Method::PUT, "/v1/placement/balance", Some(request)).await
    }

    /// Retires a data node (`remove-data`): drains it, or with `force` drops it at once.
    pub async fn remove_data_node(&self, id: NodeId, force: bool) -> Result<RemovedDataNode, ClientError> {
        self.write::<(), _>(Method::DELETE, &format!("/v1/data-nodes/{id}?force={force}"), None).await
    }

    /// All meta nodes recorded in the metadata.
    pub async fn meta_nodes(&self) -> Result<MetaNodeList, ClientError> {
        self.get("/v1/meta-nodes").await
    }

    /// Adds the running, empty meta node at `addr` to the cluster (`add-meta`): it catches up as a
    /// learner, then votes. Can take as long as copying the metadata to it.
    pub async fn add_meta_node(&self, addr: &str) -> Result<MetaNode, ClientError> {
        let body = AddMetaNodeRequest { addr: addr.to_owned() };
        self.request(Method::POST, "/v1/meta-nodes", Some(&body), Idempotent::No, MEMBERSHIP_TIMEOUT).await
    }

    /// Removes a meta node from the cluster (`remove-meta`).
    pub async fn remove_meta_node(&self, id: NodeId) -> Result<(), ClientError> {
        let path = format!("/v1/meta-nodes/{id}");
        self.request::<(), _>(Method::DELETE, &path, None, Idempotent::No, MEMBERSHIP_TIMEOUT).await
    }

    /// Databases with their retention policies.
    pub async fn databases(&self) -> Result<DatabaseList, ClientError> {
        self.get("/v1/databases").await
    }

    /// Databases as the node that answers has applied them (`?stale=true`: no read barrier).
    pub async fn stale_databases(&self) -> Result<DatabaseList, ClientError> {
        self.get("/v1/databases?stale=true").await
    }

    /// Creates a database, optionally with its default retention policy.
    pub async fn create_database(
        &self,
        name: &str,
        retention_policy: Option<RetentionPolicyRequest>,
    ) -> Result<(), ClientError> {
        let body = CreateDatabaseRequest { name: name.to_owned(), retention_policy };
        self.write(Method::POST, "/v1/databases", Some(&body)).await
    }

    /// Drops a database.
    pub async fn drop_database(&self, name: &str) -> Result<(), ClientError> {
        self.write::<(), _>(Method::DELETE, &format!("/v1/databases/{}", encode(name)), None).await
    }

    /// Creates a retention policy.
    pub async fn create_retention_policy(
        &self,
        database: &str,
        policy: &RetentionPolicyRequest,
    ) -> Result<(), ClientError> {
        let path = format!("/v1/databases/{}/retention-policies", encode(database));
        self.write(Method::POST, &path, Some(policy)).await
    }

    /// Changes a retention policy.
    pub async fn alter_retention_policy(
        &self,
        database: &str,
        name: &str,
        change: &AlterRetentionPolicyRequest,
    ) -> Result<(), ClientError> {
        let path = format!("/v1/databases/{}/retention-policies/{}", encode(database), encode(name));
        self.write(Method::PATCH, &path, Some(change)).await
    }

    /// Drops a retention policy.
    pub async fn drop_retention_policy(&self, database: &str, name: &str) -> Result<(), ClientError> {
        let path = format!("/v1/databases/{}/retention-policies/{}", encode(database), encode(name));
        self.write::<(), _>(Method::DELETE, &path, None).await
    }

    /// The shard group covering `timestamp`, created when missing. Idempotent, so retried.
    pub async fn create_shard_group(
        &self,
        database: &str,
        retention_policy: Option<&str>,
        timestamp: Timestamp,
    ) -> Result<ShardGroupReply, ClientError> {
        let body = CreateShardGroupRequest {
            database: database.to_owned(),
            retention_policy: retention_policy.map(str::to_owned),
            timestamp,
        };
        self.request(Method::POST, "/v1/shard-groups", Some(&body), Idempotent::Yes, REQUEST_TIMEOUT).await
    }

    /// The shard groups of a policy (the database's default when `None`) overlapping
    /// `[from, to)`.
    pub async fn shard_groups(
        &self,
        database: &str,
        retention_policy: Option<&str>,
        from: Timestamp,
        to: Timestamp,
    ) -> Result<ShardGroupList, ClientError> {
        let mut path = format!("/v1/shard-groups?database={}&from={from}&to={to}", encode(database));
        if let Some(rp) = retention_policy {
            path.push_str(&format!("&retention_policy={}", encode(rp)));
        }
        self.get(&path).await
    }

    /// Every shard with its owners.
    pub async fn shards(&self) -> Result<Vec<ShardInfo>, ClientError> {
        Ok(self.get::<ShardList>("/v1/shards").await?.shards)
    }

    /// Every shard with its owners as the node that answers has applied them (`?stale=true`: no
    /// read barrier).
    pub async fn stale_shards(&self) -> Result<Vec<ShardInfo>, ClientError> {
        Ok(self.get::<ShardList>("/v1/shards?stale=true").await?.shards)
    }

    /// Deletes a shard everywhere.
    pub async fn drop_shard(&self, shard: ShardId) -> Result<(), ClientError> {
        self.write::<(), _>(Method::DELETE, &format!("/v1/shards/{shard}"), None).await
    }

    /// Makes a data node an owner of a shard.
    pub async fn add_shard_owner(&self, shard: ShardId, node_id: NodeId) -> Result<(), ClientError> {
        self.write(Method::POST, &format!("/v1/shards/{shard}/owners"), Some(&AddOwnerRequest { node_id })).await
    }

    /// Stops a data node owning a shard (`remove-shard`); refused (`last_owner`) for the only
    /// owner of a shard that holds data unless `force`.
    pub async fn remove_shard_owner(&self, shard: ShardId, node_id: NodeId, force: bool) -> Result<(), ClientError> {
        let path = format!("/v1/shards/{shard}/owners/{node_id}{}", if force { "?force=true" } else { "" });
        self.write::<(), _>(Method::DELETE, &path, None).await
    }

    /// Truncates the current shard groups at now + `delay` (e.g. `1m`).
    pub async fn truncate_shards(&self, delay: Option<&str>) -> Result<TruncateReply, ClientError> {
        let body = TruncateShardsRequest { delay: delay.map(str::to_owned) };
        self.write(Method::POST, "/v1/truncate-shards", Some(&body)).await
    }
}

/// The `host:port` of a URL base (`None` without a supported scheme).
fn host_of(base: &str) -> Option<&str> {
    base.strip_prefix("http://").or_else(|| base.strip_prefix("https://"))
}

/// Everything but RFC 3986's unreserved characters is percent-encoded in a path segment or query
/// value (names may hold spaces, `%`, `?`, `#`, `&`, `+` and any other character but `/`).
const SEGMENT: &percent_encoding::AsciiSet =
    &percent_encoding::NON_ALPHANUMERIC.remove(b'-').remove(b'_').remove(b'.').remove(b'~');

/// Percent-encodes a path segment or query value.
fn encode(segment: &str) -> String {
    percent_encoding::utf8_percent_encode(segment, SEGMENT).to_string()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn endpoints_accept_bare_and_comma_separated_addresses() {
        let client = Client::new(["127.0.0.1:8091,http://h2:8091/", " h3:1 "]).expect("valid");
        assert_eq!(client.endpoints(), ["http://127.0.0.1:8091", "http://h2:8091", "http://h3:1"]);
        assert!(Client::new([""]).is_err());
        assert!(Client::new(["ftp://h:1"]).is_err());
        assert!(Client::new(["https://"]).is_err());
        assert!(Client::new(["http:"]).is_err());
        assert_eq!(
            Client::new(["https://meta.example.com/"]).expect("valid").endpoints(),
            ["https://meta.example.com"]
        );
        let secure = Client::new(["https://secure:1", "h4:2"]).expect("valid");
        assert_eq!(secure.endpoints(), ["https://secure:1", "http://h4:2"], "bare means plain without TLS");
        let tls = ClientTls { skip_verify: true, ..ClientTls::default() };
        let secure = Client::with_tls(["h4:2", "http://plain:3"], Some(&tls)).expect("valid");
        assert_eq!(secure.endpoints(), ["https://h4:2", "http://plain:3"], "bare means https with TLS");
        let missing = ClientTls { ca_cert: Some("/nonexistent/ca.pem".into()), ..ClientTls::default() };
        let error = Client::with_tls(["h:1"], Some(&missing)).expect_err("no CA file");
        assert!(error.to_string().contains("/nonexistent/ca.pem"), "{error}");
    }

    #[test]
    fn path_segments_are_percent_encoded() {
        assert_eq!(encode("my db/x"), "my%20db%2Fx");
        assert_eq!(encode("plain-name_1.0"), "plain-name_1.0");
        assert_eq!(encode("50% a?b#c&d+e=ü"), "50%25%20a%3Fb%23c%26d%2Be%3D%C3%BC");
    }
}
