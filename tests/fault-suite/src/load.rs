//! The load: a few concurrent clients, each running one operation at a time (create, drop or
//! linearizable get of a name from a small set) against a random node that is up, and recording
//! each with its invoke and return times and its outcome. It talks HTTP with `reqwest` directly:
//! `meta-client` retries internally, which would hide what happened from the history.

use std::collections::BTreeSet;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant};

use meta_wire::DatabaseList;
use rand::{Rng, SeedableRng};
use rand_chacha::ChaCha8Rng;
use serde_json::{json, Value};
use tokio::task::JoinHandle;

use crate::cluster::Addresses;
use crate::history::{classify, Entry, Outcome, Reply};
use crate::model::Op;

/// An HTTP client for the database routes that turns every exchange into a [`Reply`].
#[derive(Clone, Debug)]
pub struct ApiClient {
    http: reqwest::Client,
}

impl ApiClient {
    /// A client whose requests give up after `timeout` (the outcome is then unknown).
    pub fn new(timeout: Duration) -> ApiClient {
        let http = reqwest::Client::builder()
            .timeout(timeout)
            // A connection that cannot be made in this time was certainly not used.
            .connect_timeout(Duration::from_millis(500).min(timeout))
            .no_proxy()
            .build()
            .expect("an HTTP client");
        ApiClient { http }
    }

    /// Sends `op` to the node at `address` (`ip:port`).
    pub async fn perform(&self, address: &str, op: &Op) -> Reply {
        let request = match op {
            Op::Create(name) => self.http.post(format!("http://{address}/v1/databases")).json(&json!({"name": name})),
            Op::Drop(name) => self.http.delete(format!("http://{address}/v1/databases/{name}")),
            Op::Get(name) => self.http.get(format!("http://{address}/v1/databases/{name}")),
        };
        let response = match request.send().await {
            Ok(response) => response,
            Err(e) if e.is_connect() => return Reply::NotSent(error_chain(&e)),
            Err(e) => return Reply::Lost(error_chain(&e)),
        };
        let status = response.status().as_u16();
        // Read the whole body (so the connection can be reused); error bodies carry the code.
        match response.bytes().await {
            Ok(body) => {
                let code = serde_json::from_slice::<Value>(&body)
                    .ok()
                    .and_then(|v| v["error"]["code"].as_str().map(str::to_owned));
                Reply::Answered { status, code }
            }
            // The status alone proves a success; an error without its code proves nothing.
            Err(_) if status < 300 => Reply::Answered { status, code: None },
            Err(e) => Reply::Lost(format!("status {status}, body lost: {}", error_chain(&e))),
        }
    }
}

impl ApiClient {
    /// The databases `GET /v1/databases` (linearizable) lists on the node at `address`.
    pub async fn list(&self, address: &str) -> Option<BTreeSet<String>> {
        let response = self.http.get(format!("http://{address}/v1/databases")).send().await.ok()?;
        if response.status().as_u16() != 200 {
            return None;
        }
        let list: DatabaseList = response.json().await.ok()?;
        Some(list.databases.into_iter().map(|db| db.name).collect())
    }
}

/// An error with its causes (reqwest's own message is only the outermost).
fn error_chain(error: &dyn std::error::Error) -> String {
    let mut text = error.to_string();
    let mut source = error.source();
    while let Some(cause) = source {
        text.push_str(": ");
        text.push_str(&cause.to_string());
        source = cause.source();
    }
    text
}

/// How the load behaves.
#[derive(Clone, Debug)]
pub struct LoadConfig {
    /// Concurrent clients.
    pub clients: usize,
    /// The database names they use.
    pub keys: Vec<String>,
    /// Per-request timeout (an operation without an answer by then is unknown).
    pub timeout: Duration,
}

/// The running clients.
#[derive(Debug)]
pub struct Load {
    stop: Arc<AtomicBool>,
    clients: Vec<JoinHandle<(Vec<Entry>, Vec<String>)>>,
}

impl Load {
    /// Starts `config.clients` clients on the nodes in `addresses`; times are measured from
    /// `epoch`; client `n` draws its operations from `seed` and `n`.
    pub fn start(config: &LoadConfig, addresses: Addresses, epoch: Instant, seed: u64) -> Load {
        let stop = Arc::new(AtomicBool::new(false));
        let api = ApiClient::new(config.timeout);
        let clients = (0..config.clients)
            .map(|process| {
                let (stop, api, addresses, keys) =
                    (Arc::clone(&stop), api.clone(), addresses.clone(), config.keys.clone());
                let rng = ChaCha8Rng::seed_from_u64(seed ^ (process as u64 + 1).wrapping_mul(0x9e37_79b9_7f4a_7c15));
                tokio::spawn(run_client(process, rng, api, addresses, keys, epoch, stop))
            })
            .collect();
        Load { stop, clients }
    }

    /// Stops the clients (each finishes its current operation) and returns what they recorded,
    /// and every reply the API should never have given.
    pub async fn stop(mut self) -> (Vec<Entry>, Vec<String>) {
        self.stop.store(true, Ordering::Relaxed);
        let mut entries = Vec::new();
        let mut unexpected = Vec::new();
        for client in std::mem::take(&mut self.clients) {
            let (mut recorded, mut odd) = client.await.expect("a load client");
            entries.append(&mut recorded);
            unexpected.append(&mut odd);
        }
        (entries, unexpected)
    }
}

impl Drop for Load {
    fn drop(&mut self) {
        for client in &self.clients {
            client.abort();
        }
    }
}

async fn run_client(
    process: usize,
    mut rng: ChaCha8Rng,
    api: ApiClient,
    addresses: Addresses,
    keys: Vec<String>,
    epoch: Instant,
    stop: Arc<AtomicBool>,
) -> (Vec<Entry>, Vec<String>) {
    let mut entries = Vec::new();
    let mut unexpected = Vec::new();
    while !stop.load(Ordering::Relaxed) {
        let up = addresses.up();
        if up.is_empty() {
            // Every node is down for a moment (cannot happen with one fault at a time).
            tokio::time::sleep(Duration::from_millis(20)).await;
            continue;
        }
        let (node, address) = up[rng.random_range(0..up.len())].clone();
        let key = keys[rng.random_range(0..keys.len())].clone();
        let op = match rng.random_range(0..10) {
            0..=3 => Op::Create(key),
            4..=6 => Op::Drop(key),
            _ => Op::Get(key),
        };
        let invoke = epoch.elapsed();
        let reply = api.perform(&address, &op).await;
        let complete = epoch.elapsed();
        let outcome = classify(&op, &reply).unwrap_or_else(|odd| {
            unexpected.push(format!("p{process} node {node}: {odd}"));
            Outcome::Info(odd)
        });
        entries.push(Entry { process, node, op, invoke, complete, outcome });
    }
    (entries, unexpected)
}
