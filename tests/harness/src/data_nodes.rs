//! Data nodes (`datad`) beside the meta nodes: started unregistered on a harness-chosen port
//! (tests register them with `add-data`, as operators do), killed with `kill -9`, restarted on
//! their data directory.

use std::fs::File;
use std::path::PathBuf;
use std::process::{Child, Command, Stdio};

use meta_wire::DataNodeStatus;

use crate::{free_port, sibling_binary, Cluster};

/// A `datad` process and what it needs to be restarted.
#[derive(Debug)]
pub struct DataProcess {
    /// Its loopback address (what `add-data` registers).
    pub addr: String,
    /// Its data directory.
    pub data_dir: PathBuf,
    args: Vec<String>,
    child: Option<Child>,
}

impl Cluster {
    /// Every meta node's address, comma-separated (datad's `--meta`).
    pub fn meta_urls(&self) -> String {
        self.nodes.values().map(|n| n.addr.clone()).collect::<Vec<_>>().join(",")
    }

    /// Starts a new data node with extra `args` (e.g. `--max-copy-rate`); returns its slot.
    pub fn start_data_node(&mut self, args: &[&str]) -> usize {
        let slot = self.data.len();
        let addr = format!("127.0.0.1:{}", free_port());
        let data_dir = self.dir.path().join(format!("data-{slot}"));
        let args = args.iter().map(|a| (*a).to_owned()).collect();
        self.data.push(DataProcess { addr, data_dir, args, child: None });
        self.restart_data_node(slot);
        slot
    }

    /// Starts (or restarts) the data node in `slot` on its address and data directory.
    pub fn restart_data_node(&mut self, slot: usize) {
        let log_path = self.dir.path().join(format!("data-{slot}.log"));
        let meta = self.meta_urls();
        let data = &mut self.data[slot];
        let log = File::options().create(true).append(true).open(&log_path).expect("log file");
        let child = Command::new(sibling_binary("datad"))
            .args(["--meta", &meta, "--listen", &data.addr])
            .arg("--data-dir")
            .arg(&data.data_dir)
            .args(&data.args)
            .env("RUST_LOG", "info")
            .stdout(Stdio::from(log.try_clone().expect("log fd")))
            .stderr(Stdio::from(log))
            .spawn()
            .expect("spawn datad");
        data.child = Some(child);
    }

    /// `kill -9` the data node in `slot`.
    pub fn kill_data_node(&mut self, slot: usize) {
        if let Some(mut child) = self.data[slot].child.take() {
            child.kill().expect("kill -9");
            child.wait().expect("reap");
        }
    }

    /// Sends a signal (e.g. `-STOP`, `-CONT`) to the data node in `slot`.
    pub fn signal_data_node(&self, slot: usize, signal: &str) {
        let child = self.data[slot].child.as_ref().expect("a running data node");
        let status = Command::new("kill").args([signal, &child.id().to_string()]).status().expect("run kill");
        assert!(status.success(), "kill {signal} of data node {slot} failed");
    }

    /// The data directory of the data node in `slot`.
    pub fn data_dir(&self, slot: usize) -> &std::path::Path {
        &self.data[slot].data_dir
    }

    /// The address of the data node in `slot`.
    pub fn data_addr(&self, slot: usize) -> &str {
        &self.data[slot].addr
    }

    /// `GET /status` of the data node in `slot` (`None` if it does not answer).
    pub async fn data_status(&self, slot: usize) -> Option<DataNodeStatus> {
        let addr = &self.data[slot].addr;
        // The client's endpoint does not matter here: it asks `addr` directly.
        let client = meta_client::Client::with_tls([addr], self.tls.as_ref()).ok()?;
        client.data_node_status(addr).await.ok()
    }

    pub(crate) fn kill_data_nodes(&mut self) {
        for data in &mut self.data {
            if let Some(mut child) = data.child.take() {
                let _ = child.kill();
                let _ = child.wait();
            }
        }
    }
}
