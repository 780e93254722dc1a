//! The `docker` CLI, and the containers and networks one run owns: created with this process's
//! label, removed (with their anonymous volumes) when the [`Docker`] guard is dropped, on panic
//! too. Leftovers of runs whose process died before cleaning up are removed by
//! [`remove_leftovers`].

use std::path::Path;
use std::process::Stdio;
use std::sync::Mutex;
use std::time::Duration;

use crate::error::Error;

/// The label every container and network of the suite carries; its value is the owning pid.
const LABEL: &str = "fault-suite.pid";
/// How long one `docker` command may take.
const COMMAND_TIMEOUT: Duration = Duration::from_secs(60);
/// How many times `docker pause` is tried when the cgroup freezer could not freeze in time.
const FREEZE_ATTEMPTS: u32 = 10;
/// The wait between two of those tries.
const FREEZE_RETRY: Duration = Duration::from_millis(200);

/// Runs `docker ARGS`, returning its standard output.
pub async fn docker(args: &[&str]) -> Result<String, Error> {
    let command = args.join(" ");
    let failed = |message: String| Error::Docker { command: command.clone(), message };
    let child = tokio::process::Command::new("docker")
        .args(args)
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .kill_on_drop(true)
        .spawn()
        .map_err(|e| failed(e.to_string()))?;
    let output = tokio::time::timeout(COMMAND_TIMEOUT, child.wait_with_output())
        .await
        .map_err(|_| failed(format!("no answer within {COMMAND_TIMEOUT:?}")))?
        .map_err(|e| failed(e.to_string()))?;
    if !output.status.success() {
        return Err(failed(String::from_utf8_lossy(&output.stderr).trim().to_owned()));
    }
    Ok(String::from_utf8_lossy(&output.stdout).trim().to_owned())
}

/// Runs `docker ARGS` synchronously (for cleanup in `Drop`), ignoring failures.
fn docker_blocking(args: &[&str]) {
    let _ = std::process::Command::new("docker")
        .args(args)
        .stdin(Stdio::null())
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .status();
}

/// The Docker server's version, or why Docker cannot be used.
pub async fn available() -> Result<String, Error> {
    docker(&["info", "--format", "{{.ServerVersion}}"]).await
}

/// Builds the image `tag` with `script` (`deploy/build-image.sh`) from the debug binaries in
/// `target_dir/debug`, without compiling anything; returns what the script printed.
pub async fn build_image(script: &Path, target_dir: &Path, tag: &str) -> Result<String, Error> {
    let failed = |message: String| Error::Docker { command: format!("build: {}", script.display()), message };
    let child = tokio::process::Command::new("bash")
        .arg(script)
        .env("PROFILE", "dev")
        .env("SKIP_BUILD", "1")
        .env("TAG", tag)
        .env("CARGO_TARGET_DIR", target_dir)
        .stdin(Stdio::null())
        .kill_on_drop(true)
        .output();
    let output = tokio::time::timeout(Duration::from_secs(300), child)
        .await
        .map_err(|_| failed("no answer within 300s".to_owned()))?
        .map_err(|e| failed(e.to_string()))?;
    if !output.status.success() {
        return Err(failed(String::from_utf8_lossy(&output.stderr).trim().to_owned()));
    }
    Ok(String::from_utf8_lossy(&output.stdout).trim().to_owned())
}

/// Removes containers and networks left by suite runs whose process is gone.
pub async fn remove_leftovers() -> Result<(), Error> {
    let filter = format!("label={LABEL}");
    let format = format!("{{{{.ID}}}} {{{{.Label \"{LABEL}\"}}}}");
    let dead = |listing: String| -> Vec<String> {
        listing
            .lines()
            .filter_map(|line| line.split_once(' '))
            .filter(|(_, pid)| !std::path::Path::new(&format!("/proc/{pid}")).exists())
            .map(|(id, _)| id.to_owned())
            .collect()
    };
    let containers = dead(docker(&["ps", "-a", "--filter", &filter, "--format", &format]).await?);
    if !containers.is_empty() {
        let mut args = vec!["rm", "-f", "-v"];
        args.extend(containers.iter().map(String::as_str));
        docker(&args).await?;
    }
    let networks = dead(docker(&["network", "ls", "--filter", &filter, "--format", &format]).await?);
    for network in networks {
        if let Err(error) = docker(&["network", "rm", &network]).await {
            // Docker can keep counting an endpoint of a removed container as active (a daemon
            // bug, moby#42119): such a network cannot be removed until the daemon restarts. It
            // holds nothing and a new run makes networks of its own, so the run goes on.
            eprintln!("warning: a network of a dead run stays: {error}");
        }
    }
    Ok(())
}

/// The containers and networks of one run; dropping it removes them all.
#[derive(Debug, Default)]
pub struct Docker {
    containers: Mutex<Vec<String>>,
    networks: Mutex<Vec<String>>,
}

impl Docker {
    /// An empty set of resources.
    pub fn new() -> Self {
        Self::default()
    }

    fn label() -> String {
        format!("{LABEL}={}", std::process::id())
    }

    /// Creates a bridge network.
    pub async fn create_network(&self, name: &str) -> Result<(), Error> {
        self.networks.lock().expect("lock").push(name.to_owned());
        docker(&["network", "create", "--label", &Self::label(), name]).await.map(drop)
    }

    /// Creates (does not start) a container named `name` on `network` with `alias` there:
    /// `options` go before the image, `args` after it. Health checks are off (they would only
    /// take CPU from the nodes); readiness is polled by the suite.
    pub async fn create_container(
        &self,
        name: &str,
        network: &str,
        alias: &str,
        options: &[String],
        image: &str,
        args: &[String],
    ) -> Result<(), Error> {
        self.containers.lock().expect("lock").push(name.to_owned());
        let label = Self::label();
        let mut command = vec![
            "create",
            "--name",
            name,
            "--label",
            &label,
            "--network",
            network,
            "--network-alias",
            alias,
            "--no-healthcheck",
        ];
        command.extend(options.iter().map(String::as_str));
        command.push(image);
        command.extend(args.iter().map(String::as_str));
        docker(&command).await.map(drop)
    }

    /// Attaches `container` to `network`, with `alias` resolvable on that network only.
    pub async fn connect(&self, network: &str, container: &str, alias: Option<&str>) -> Result<(), Error> {
        match alias {
            Some(alias) => docker(&["network", "connect", "--alias", alias, network, container]).await,
            None => docker(&["network", "connect", network, container]).await,
        }
        .map(drop)
    }

    /// Detaches `container` from `network`.
    pub async fn disconnect(&self, network: &str, container: &str) -> Result<(), Error> {
        docker(&["network", "disconnect", network, container]).await.map(drop)
    }

    /// Starts stopped containers.
    pub async fn start(&self, containers: &[&str]) -> Result<(), Error> {
        let mut args = vec!["start"];
        args.extend(containers);
        docker(&args).await.map(drop)
    }

    /// `SIGKILL`s the container's process (`docker kill`).
    pub async fn kill(&self, container: &str) -> Result<(), Error> {
        docker(&["kill", container]).await.map(drop)
    }

    /// Freezes every process of the container (`docker pause`).
    ///
    /// The kernel's cgroup freezer cannot freeze a task in uninterruptible sleep (a metad thread
    /// inside `fsync` on a slow disk), and runc gives up with "unable to freeze" after a short
    /// wait, leaving the container running; the pause is tried again, up to
    /// `FREEZE_ATTEMPTS` times, before that is reported.
    pub async fn pause(&self, container: &str) -> Result<(), Error> {
        let mut retry = tokio::time::interval(FREEZE_RETRY);
        // A failed pause itself takes longer than the wait: each try waits the full wait after it.
        retry.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
        let mut attempt = 1;
        loop {
            retry.tick().await;
            match docker(&["pause", container]).await {
                Ok(_) => return Ok(()),
                Err(Error::Docker { message, .. })
                    if message.contains("unable to freeze") && attempt < FREEZE_ATTEMPTS =>
                {
                    attempt += 1;
                }
                Err(e) => return Err(e),
            }
        }
    }

    /// Thaws a paused container.
    pub async fn unpause(&self, container: &str) -> Result<(), Error> {
        docker(&["unpause", container]).await.map(drop)
    }

    /// Stops (`SIGTERM`, then `SIGKILL` after `grace`) and starts the container again.
    pub async fn restart(&self, container: &str, grace: Duration) -> Result<(), Error> {
        docker(&["restart", "-t", &grace.as_secs().to_string(), container]).await.map(drop)
    }

    /// The container's IPv4 address on `network` (`None` when it is not attached or not running).
    pub async fn ip(&self, container: &str, network: &str) -> Result<Option<String>, Error> {
        let format = format!("{{{{with index .NetworkSettings.Networks \"{network}\"}}}}{{{{.IPAddress}}}}{{{{end}}}}");
        let ip = docker(&["inspect", "-f", &format, container]).await?;
        Ok(Some(ip).filter(|ip| !ip.is_empty()))
    }

    /// Whether the container's state is `running`, `paused`, `exited`...
    pub async fn state(&self, container: &str) -> Result<String, Error> {
        docker(&["inspect", "-f", "{{.State.Status}}", container]).await
    }

    /// The last `lines` lines the container logged.
    pub async fn logs(&self, container: &str, lines: usize) -> String {
        let child = tokio::process::Command::new("docker")
            .args(["logs", "--tail", &lines.to_string(), container])
            .stdin(Stdio::null())
            .kill_on_drop(true)
            .output();
        match tokio::time::timeout(COMMAND_TIMEOUT, child).await {
            Ok(Ok(output)) => {
                // metad logs to stdout and stderr; both are wanted, and its colours are not.
                let text = [output.stdout, output.stderr].concat();
                strip_ansi(&String::from_utf8_lossy(&text))
            }
            Ok(Err(e)) => format!("(docker logs failed: {e})"),
            Err(_) => "(docker logs did not answer)".to_owned(),
        }
    }

    /// Removes every container (with its anonymous volumes) and network of this run.
    pub fn remove_all(&self) {
        let containers = std::mem::take(&mut *self.containers.lock().unwrap_or_else(|e| e.into_inner()));
        if !containers.is_empty() {
            let mut args = vec!["rm", "-f", "-v"];
            args.extend(containers.iter().map(String::as_str));
            docker_blocking(&args);
        }
        let networks = std::mem::take(&mut *self.networks.lock().unwrap_or_else(|e| e.into_inner()));
        for network in networks {
            docker_blocking(&["network", "rm", &network]);
        }
    }
}

impl Drop for Docker {
    fn drop(&mut self) {
        self.remove_all();
    }
}

/// `text` without ANSI colour sequences.
fn strip_ansi(text: &str) -> String {
    let mut out = String::with_capacity(text.len());
    let mut chars = text.chars();
    while let Some(c) = chars.next() {
        if c == '\u{1b}' {
            // Skip to the end of the CSI sequence (a letter).
            for c in chars.by_ref() {
                if c.is_ascii_alphabetic() {
                    break;
                }
            }
        } else {
            out.push(c);
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn colours_are_stripped_from_logs() {
        assert_eq!(strip_ansi("\u{1b}[2m2026\u{1b}[0m \u{1b}[31mERROR\u{1b}[0m x"), "2026 ERROR x");
    }
}
