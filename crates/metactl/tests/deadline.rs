//! `--timeout` and `completions`, through `metactl::run` as the binary calls it.

use clap::Parser;

#[tokio::test]
async fn a_meta_node_that_never_answers_fails_the_command_at_its_timeout() {
    // Accepts connections and never answers on them: every request hangs until its own limit.
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.expect("bind");
    let addr = listener.local_addr().expect("addr").to_string();
    let holder = tokio::spawn(async move {
        let mut held = Vec::new();
        while let Ok((socket, _)) = listener.accept().await {
            held.push(socket);
        }
    });
    let cli = metactl::Cli::parse_from(["metactl", "--url", &addr, "--timeout", "300ms", "show"]);
    let error = metactl::run(cli).await.expect_err("nothing answers").to_string();
    assert!(error.starts_with("gave up after --timeout 300ms"), "{error}");
    assert!(error.contains("metactl show"), "says how to find out what happened: {error}");
    holder.abort();
}

#[tokio::test]
async fn completions_cover_every_subcommand_without_a_meta_node() {
    // No meta node listens there: completions never contact one.
    let cli = metactl::Cli::parse_from(["metactl", "--url", "127.0.0.1:1", "completions", "bash"]);
    let script = metactl::run(cli).await.expect("a script");
    for word in ["_metactl", "show-shards", "copy-shard-status", "--timeout", "failure-domains"] {
        assert!(script.contains(word), "{word} missing from the bash completions");
    }
    let cli = metactl::Cli::parse_from(["metactl", "completions", "zsh"]);
    assert!(metactl::run(cli).await.expect("a script").starts_with("#compdef metactl"));
}
