//! The web console in a real browser: Debian's `chromium`, headless, driven over WebDriver by
//! `chromedriver` (both installed by `scripts/ensure-test-tools.sh`). The page is loaded once and
//! never reloaded: everything it shows after that arrives through its long poll.

use std::path::PathBuf;
use std::process::{Child, Command, Stdio};
use std::time::Duration;

use cluster_harness::{sibling_binary, try_wait_for, wait_for, Cluster};
use fantoccini::{Client, ClientBuilder, Locator};
use hyper_util::client::legacy::connect::HttpConnector;

use crate::support::{add_data_node, ae_config_with, cluster_with_config, create_database, metactl, node_id, owners};

/// Where the screenshot of the console is written (the README shows one taken here).
fn screenshot_path() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../target/console.png")
}

/// A headless chromium behind its own chromedriver; both end with the value.
struct Browser {
    driver: Child,
    client: Client,
}

impl Browser {
    async fn start() -> Browser {
        let port = std::net::TcpListener::bind("127.0.0.1:0").and_then(|l| l.local_addr()).expect("a free port").port();
        let driver = Command::new("chromedriver")
            .arg(format!("--port={port}"))
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .unwrap_or_else(|e| panic!("cannot start chromedriver (scripts/ensure-test-tools.sh installs it): {e}"));
        let mut capabilities = serde_json::Map::new();
        let options = serde_json::json!({
            "binary": "/usr/bin/chromium",
            "args": ["--headless=new", "--no-sandbox", "--disable-dev-shm-usage", "--disable-gpu", "--window-size=1500,1300"],
        });
        capabilities.insert("goog:chromeOptions".into(), options);
        let url = format!("http://127.0.0.1:{port}");
        let client = wait_for(Duration::from_secs(30), "a chromium session", || async {
            ClientBuilder::new(HttpConnector::new()).capabilities(capabilities.clone()).connect(&url).await.ok()
        })
        .await;
        Browser { driver, client }
    }

    /// The `attribute` of the first element `css` selects, if there is one.
    async fn attr(&self, css: &str, attribute: &str) -> Option<String> {
        self.client.find(Locator::Css(css)).await.ok()?.attr(attribute).await.ok()?
    }

    /// How many elements `css` selects.
    async fn count(&self, css: &str) -> usize {
        self.client.find_all(Locator::Css(css)).await.map_or(0, |found| found.len())
    }

    /// The text of the first element `css` selects (empty if none).
    async fn text(&self, css: &str) -> String {
        match self.client.find(Locator::Css(css)).await {
            Ok(element) => element.text().await.unwrap_or_default(),
            Err(_) => String::new(),
        }
    }

    /// Waits until the page shows an element `css` selects.
    async fn wait_shown(&self, timeout: Duration, css: &str) {
        wait_for(timeout, &format!("the page to show {css}"), || async { (self.count(css).await > 0).then_some(()) })
            .await;
    }
}

impl Drop for Browser {
    fn drop(&mut self) {
        // The session ends with its driver; killing the driver takes chromium down with it.
        let _ = self.driver.kill();
        let _ = self.driver.wait();
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_console_follows_a_dead_data_node_and_its_repair_without_a_reload() {
    let config = ae_config_with(&[("suspect-timeout", "3s"), ("dead-node-timeout", "8s")]);
    // Copies slow enough to be watched: about 6 s for the shard below.
    let slow_copies = ["--max-copy-rate", "200000", "--chunk-size", "65536"];
    let mut cluster = cluster_with_config(&config, 2, &slow_copies).await;
    create_database(&cluster, 2).await;
    let points = 20_000;
    crate::support::write_hours(&cluster, 1, 1, points).await;
    let out = metactl(&cluster, &["balance", "disable"]).await;
    assert!(out.starts_with("Balancing disabled"), "{out}");
    let spare = add_data_node(&mut cluster, &slow_copies).await;
    let (dead, survivor, spare_id) =
        (node_id(&cluster, 0).await, node_id(&cluster, 1).await, node_id(&cluster, spare).await);
    let shards = owners(&cluster).await;
    assert!(shards.values().all(|o| o.contains(&dead) && o.contains(&survivor)), "RF 2 on two nodes: {shards:?}");

    let browser = Browser::start().await;
    let leader = cluster.leader(Duration::from_secs(10)).await;
    let follower = cluster.running().into_iter().find(|&id| id != leader).expect("a follower");
    eprintln!("--- the console of a follower (meta node {follower}) shows the cluster");
    browser.client.goto(&cluster.url(follower, "/ui")).await.expect("the console loads");
    browser.wait_shown(Duration::from_secs(20), &format!("#leader[data-leader=\"{leader}\"]")).await;
    browser.wait_shown(Duration::from_secs(10), "#meta-nodes tr[data-health=\"ok\"]:nth-child(3)").await;
    assert_eq!(browser.count("#meta-nodes tr").await, 3);
    assert_eq!(browser.count(&format!("#meta-nodes tr[data-leader=\"true\"][data-node-id=\"{leader}\"]")).await, 1);
    for id in [dead, survivor, spare_id] {
        browser
            .wait_shown(
                Duration::from_secs(20),
                &format!("#data-nodes tr[data-node-id=\"{id}\"][data-liveness=\"online\"]"),
            )
            .await;
    }
    let shard = *shards.keys().next().expect("a shard");
    let row = format!("#shard-map-body tr[data-shard-id=\"{shard}\"]");
    browser.wait_shown(Duration::from_secs(10), &row).await;
    assert_eq!(browser.attr(&row, "data-problems").await.as_deref(), Some(""), "a healthy shard");
    assert_eq!(browser.count(&format!("{row} td.owner")).await, 2, "two owners");

    eprintln!("--- data node {dead} is killed: the page turns it suspect, then dead");
    cluster.kill_data_node(0);
    let node_row = |liveness: &str| format!("#data-nodes tr[data-node-id=\"{dead}\"][data-liveness=\"{liveness}\"]");
    browser.wait_shown(Duration::from_secs(15), &node_row("suspect")).await;
    browser.wait_shown(Duration::from_secs(20), &node_row("dead")).await;

    eprintln!("--- a repair to the spare appears with progress, then finishes");
    let task_row = format!("#tasks tr[data-shard-id=\"{shard}\"]");
    let progress = format!("{task_row}[data-state=\"claimed\"] progress");
    let seen_progress = try_wait_for(Duration::from_secs(30), || async {
        let value: f64 = browser.attr(&progress, "value").await?.parse().ok()?;
        let max: f64 = browser.attr(&progress, "max").await?.parse().ok()?;
        (value > 0.0 && value < max).then_some((value, max))
    })
    .await;
    let (value, max) = seen_progress.expect("a repair in progress, part done, shown with a progress bar");
    eprintln!("--- progress {value}/{max} bytes; rate {}", browser.text(&format!("{task_row} td:nth-child(9)")).await);
    browser.wait_shown(Duration::from_secs(10), &format!("{row} td.copying")).await;
    take_screenshot(&browser).await;
    browser.wait_shown(Duration::from_secs(60), &format!("{task_row}[data-state=\"done\"]")).await;
    browser.wait_shown(Duration::from_secs(10), &format!("{row}[data-problems=\"\"]")).await;
    let owners_now = owners(&cluster).await;
    assert_eq!(owners_now[&shard], [survivor, spare_id], "the spare replaced the dead node");
    assert_eq!(browser.count(&format!("{row} td.owner")).await, 2, "two owners again, as the page shows");
}

/// Writes the page as it is now to [`screenshot_path`] and checks it is a PNG.
async fn take_screenshot(browser: &Browser) {
    let png = browser.client.screenshot().await.expect("a screenshot");
    assert!(png.len() > 10_000 && png.starts_with(b"\x89PNG\r\n\x1a\n"), "a PNG of the page: {} bytes", png.len());
    let path = screenshot_path();
    std::fs::create_dir_all(path.parent().expect("a parent")).expect("target/");
    std::fs::write(&path, &png).expect("write the screenshot");
    let written = std::fs::read(&path).expect("read it back");
    assert!(written.starts_with(b"\x89PNG") && written.len() == png.len(), "{}", path.display());
    eprintln!("--- screenshot: {} ({} bytes)", path.display(), png.len());
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn with_tokens_the_console_asks_for_one_and_shows_nothing_without_it() {
    let cluster = Cluster::start_with_config(&sibling_binary("metad"), 1, "admin-token = \"c0nsole-admin\"\n").await;
    let browser = Browser::start().await;
    browser.client.goto(&cluster.url(1, "/ui")).await.expect("the console loads");
    browser.wait_shown(Duration::from_secs(15), "#login:not([hidden])").await;
    assert_eq!(browser.attr("#console", "hidden").await.as_deref(), Some("true"), "nothing is shown");
    assert_eq!(browser.count("#meta-nodes tr").await, 0, "no data reached the page");

    eprintln!("--- a wrong token is refused, and the page says so");
    let token = browser.client.find(Locator::Id("token")).await.expect("a token field");
    token.send_keys("wrong").await.expect("typed");
    browser.client.find(Locator::Css("#login button")).await.expect("a button").click().await.expect("clicked");
    wait_for(Duration::from_secs(10), "the refusal shown", || async {
        browser.text("#login-error").await.contains("not valid").then_some(())
    })
    .await;
    assert_eq!(browser.count("#meta-nodes tr").await, 0);

    eprintln!("--- the admin token opens the console; the URL never carries it");
    let token = browser.client.find(Locator::Id("token")).await.expect("a token field");
    token.send_keys("c0nsole-admin").await.expect("typed");
    browser.client.find(Locator::Css("#login button")).await.expect("a button").click().await.expect("clicked");
    browser.wait_shown(Duration::from_secs(15), "#meta-nodes tr[data-health=\"ok\"]").await;
    let url = browser.client.current_url().await.expect("a URL");
    assert!(!url.as_str().contains("c0nsole"), "{url}");
    // Nor does any request the page made (the browser's own record of them).
    let script = "return performance.getEntriesByType('resource').map(entry => entry.name)";
    let requested = browser.client.execute(script, Vec::new()).await.expect("the page's requests");
    let requested: Vec<String> = serde_json::from_value(requested).expect("a list of URLs");
    assert!(requested.iter().any(|u| u.contains("/v1/console")), "the page polled the view: {requested:?}");
    assert!(requested.iter().all(|u| !u.contains("c0nsole")), "no URL carries the token: {requested:?}");
}
