//! openraft's network over HTTP: one pooled HTTP client shared by all peers, bincode bodies
//! through the codec, the cluster secret on every request, TLS when the cluster has it.

use std::sync::Arc;
use std::time::Duration;

use openraft::error::{InstallSnapshotError, NetworkError, RPCError, RaftError, RemoteError, Unreachable};
use openraft::network::{RPCOption, RaftNetwork, RaftNetworkFactory};
use openraft::raft::{
    AppendEntriesRequest, AppendEntriesResponse, InstallSnapshotRequest, InstallSnapshotResponse, VoteRequest,
    VoteResponse,
};
use openraft::BasicNode;
use serde::de::DeserializeOwned;
use serde::Serialize;

use cluster_tls::client::error_chain;

use crate::rpc::{CLUSTER_SECRET_HEADER, RAFT_APPEND_PATH, RAFT_SNAPSHOT_PATH, RAFT_VOTE_PATH};
use meta_model::codec;
use meta_model::NodeId;
use meta_store::storage::TypeConfig;

/// The transfer rate the timeout of a large internal request assumes: 10 MB/s.
const BYTES_PER_MILLISECOND: u64 = 10_000;

/// How this node reaches the other meta nodes: one pooled HTTP client (with the cluster's TLS,
/// if any), the scheme its peers serve, and the cluster secret every internal request carries.
#[derive(Clone, Debug)]
pub(crate) struct Peers {
    client: reqwest::Client,
    scheme: &'static str,
    secret: Option<Arc<str>>,
}

impl Peers {
    /// Peers reached with `client`, over `https` when `tls` (else `http`), presenting `secret`.
    pub(crate) fn new(client: reqwest::Client, tls: bool, secret: Option<&str>) -> Self {
        Peers { client, scheme: if tls { "https" } else { "http" }, secret: secret.map(Arc::from) }
    }

    /// The URL of `path` on the peer at `addr` (`host:port`).
    pub(crate) fn url(&self, addr: &str, path: &str) -> String {
        format!("{}://{addr}{path}", self.scheme)
    }

    /// The HTTP client, for requests that are not internal RPCs.
    pub(crate) fn http(&self) -> &reqwest::Client {
        &self.client
    }

    /// Posts an encoded request to `path` on the peer at `addr` and decodes the encoded `Result`
    /// reply; see [`post`].
    pub(crate) async fn post<Req: Serialize, Resp: DeserializeOwned>(
        &self,
        addr: &str,
        path: &str,
        request: &Req,
        timeout: Duration,
    ) -> Result<Resp, TransportError> {
        post(&self.client, self.secret.as_deref(), &self.url(addr, path), request, timeout).await
    }
}

/// Builds connections to peers.
#[derive(Clone, Debug)]
pub(crate) struct HttpNetwork {
    peers: Peers,
}

impl HttpNetwork {
    pub(crate) fn new(peers: Peers) -> Self {
        HttpNetwork { peers }
    }
}

/// A connection to one peer (HTTP keeps the TCP connections pooled underneath).
#[derive(Clone, Debug)]
pub(crate) struct PeerConnection {
    peers: Peers,
    target: NodeId,
    addr: String,
}

impl RaftNetworkFactory<TypeConfig> for HttpNetwork {
    type Network = PeerConnection;

    async fn new_client(&mut self, target: NodeId, node: &BasicNode) -> Self::Network {
        PeerConnection { peers: self.peers.clone(), target, addr: node.addr.clone() }
    }
}

/// Posts an encoded request to `url` and decodes the encoded `Result` reply.
/// Transport failures are errors of the outer `Result`; the inner one is the peer's answer.
///
/// The timeout grows with the body (1 ms per 10 kB, i.e. 10 MB/s): openraft gives an
/// AppendEntries the heartbeat interval as its timeout, which a batch carrying a large entry
/// (a restored backup of a million shards is ~10 MB) could never meet.
async fn post<Req: Serialize, Resp: DeserializeOwned>(
    client: &reqwest::Client,
    secret: Option<&str>,
    url: &str,
    request: &Req,
    timeout: Duration,
) -> Result<Resp, TransportError> {
    let body = codec::encode("internal request", request).map_err(|e| TransportError::Other(e.to_string()))?;
    let timeout = timeout + Duration::from_millis(body.len() as u64 / BYTES_PER_MILLISECOND);
    let mut builder = client.post(url).timeout(timeout).body(body);
    if let Some(secret) = secret {
        builder = builder.header(CLUSTER_SECRET_HEADER, secret);
    }
    let response = builder.send().await.map_err(|e| {
        if e.is_connect() {
            TransportError::Unreachable(error_chain(&e))
        } else {
            TransportError::Other(error_chain(&e))
        }
    })?;
    let status = response.status();
    let bytes = response.bytes().await.map_err(|e| TransportError::Other(e.to_string()))?;
    if !status.is_success() {
        return Err(TransportError::Other(format!("{status}: {}", String::from_utf8_lossy(&bytes))));
    }
    codec::decode("internal reply", &bytes).map_err(|e| TransportError::Other(e.to_string()))
}

/// Why an internal request got no answer.
#[derive(Debug, thiserror::Error)]
pub(crate) enum TransportError {
    /// The peer could not be connected to.
    #[error("unreachable: {0}")]
    Unreachable(String),
    /// Timeout, protocol or codec failure.
    #[error("{0}")]
    Other(String),
}

impl PeerConnection {
    async fn call<Req, Resp, E>(
        &self,
        path: &str,
        request: &Req,
        option: &RPCOption,
    ) -> Result<Resp, RPCError<NodeId, BasicNode, RaftError<NodeId, E>>>
    where
        Req: Serialize,
        Resp: DeserializeOwned,
        E: std::error::Error + DeserializeOwned,
    {
        let reply: Result<Resp, RaftError<NodeId, E>> =
            self.peers.post(&self.addr, path, request, option.hard_ttl()).await.map_err(|e| match e {
                TransportError::Unreachable(_) => RPCError::Unreachable(Unreachable::new(&e)),
                TransportError::Other(_) => RPCError::Network(NetworkError::new(&e)),
            })?;
        reply.map_err(|e| RPCError::RemoteError(RemoteError::new(self.target, e)))
    }
}

impl RaftNetwork<TypeConfig> for PeerConnection {
    async fn append_entries(
        &mut self,
        request: AppendEntriesRequest<TypeConfig>,
        option: RPCOption,
    ) -> Result<AppendEntriesResponse<NodeId>, RPCError<NodeId, BasicNode, RaftError<NodeId>>> {
        self.call(RAFT_APPEND_PATH, &request, &option).await
    }

    async fn install_snapshot(
        &mut self,
        request: InstallSnapshotRequest<TypeConfig>,
        option: RPCOption,
    ) -> Result<InstallSnapshotResponse<NodeId>, RPCError<NodeId, BasicNode, RaftError<NodeId, InstallSnapshotError>>>
    {
        self.call(RAFT_SNAPSHOT_PATH, &request, &option).await
    }

    async fn vote(
        &mut self,
        request: VoteRequest<NodeId>,
        option: RPCOption,
    ) -> Result<VoteResponse<NodeId>, RPCError<NodeId, BasicNode, RaftError<NodeId>>> {
        self.call(RAFT_VOTE_PATH, &request, &option).await
    }
}
