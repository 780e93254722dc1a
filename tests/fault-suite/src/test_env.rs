//! What every Docker test does before it starts: run at all (Docker present; without it the test
//! is skipped loudly, except under `CI=true`), build the image from this workspace's debug
//! binaries, clear what dead runs left; and progress lines on stderr as it goes.

use std::path::{Path, PathBuf};

use crate::docker::{available, build_image, remove_leftovers};
use crate::error::Error;

/// Writes one progress line straight to the stderr stream: the test harness captures
/// `eprintln!` of a passing test, and a minutes-long Docker test should show how it goes.
#[macro_export]
macro_rules! say {
    ($($arg:tt)*) => {{
        use std::io::Write as _;
        let _ = writeln!(std::io::stderr().lock(), $($arg)*);
    }};
}

/// Whether this is a CI run (`CI=true` or `CI=1`), where a Docker test may not be skipped.
pub fn in_ci() -> bool {
    std::env::var("CI").is_ok_and(|v| v.eq_ignore_ascii_case("true") || v == "1")
}

/// The target directory of this build, from the running test binary
/// (`<target>/debug/deps/<test>`); an error if a binary the image needs is not built.
pub fn target_dir() -> Result<PathBuf, Error> {
    let not_built =
        |what: String| Error::Cluster(format!("{what}: run `cargo build --workspace --bins` (make test does)"));
    let exe = std::env::current_exe().map_err(|e| not_built(format!("cannot locate the test binary ({e})")))?;
    let target =
        exe.ancestors().nth(3).ok_or_else(|| not_built(format!("{} is not in <target>/debug/deps", exe.display())))?;
    for binary in ["metad", "metactl", "datad"] {
        let path = target.join("debug").join(binary);
        if !path.exists() {
            return Err(not_built(format!("{} is not built", path.display())));
        }
    }
    Ok(target.to_owned())
}

/// Gets a Docker test `test` going: `Ok(false)` after a loud SKIPPED banner when Docker is not
/// available (an error instead under CI), else builds `image` from the debug binaries with
/// `deploy/build-image.sh`, removes containers and networks of dead runs, and `Ok(true)`.
pub async fn prepare(test: &str, image: &str) -> Result<bool, Error> {
    if let Err(why) = available().await {
        if in_ci() {
            return Err(Error::Cluster(format!("CI=true and Docker is not available, so {test} cannot run: {why}")));
        }
        let rule = "!".repeat(100);
        say!("{rule}\nSKIPPED: Docker is not available ({why})\n  {test} did not run\n{rule}");
        return Ok(false);
    }
    say!("--- build the image {image} from the debug binaries");
    let script = Path::new(env!("CARGO_MANIFEST_DIR")).join("../../deploy/build-image.sh");
    say!("{}", build_image(&script, &target_dir()?, image).await?);
    remove_leftovers().await?;
    Ok(true)
}
