//! Secrets stay out of logs and command lines: the token `recog serve` hands its worker
//! processes for its queue service travels in their environment only, and credentials in the
//! environment are never logged.

mod common;

use std::time::Duration;

use common::{Server, sample, wait_for_sample, worker_pids};

/// The value of `name` in process `pid`'s environment.
fn environment_value(pid: u32, name: &str) -> Option<String> {
    let environ = std::fs::read(format!("/proc/{pid}/environ")).unwrap();
    environ.split(|&b| b == 0).find_map(|entry| {
        let entry = String::from_utf8_lossy(entry);
        entry
            .strip_prefix(&format!("{name}="))
            .map(ToOwned::to_owned)
    })
}

#[tokio::test(flavor = "multi_thread")]
async fn worker_token_and_credentials_stay_out_of_logs_and_command_lines() {
    let secret = "wJalrXUtnFEMI-not-a-real-secret-0123456789";
    let server = Server::start_with_env(
        &["--min-workers", "1", "--max-workers", "1"],
        &[("AWS_SECRET_ACCESS_KEY", secret), ("RUST_LOG", "debug")],
    );
    let client = reqwest::Client::new();
    let metrics = wait_for_sample(
        &client,
        &server,
        "recog_workers",
        |workers| workers == 1.0,
        Duration::from_secs(60),
    )
    .await;
    assert_eq!(sample(&metrics, "recog_workers"), Some(1.0), "{metrics}");

    let pid = worker_pids(&server)[0];
    let token = environment_value(pid, "RECOG_BROKER_TOKEN").expect("the worker has a token");
    assert!(token.len() >= 32, "a guessable token: {token:?}");

    let command_line = std::fs::read(format!("/proc/{pid}/cmdline")).unwrap();
    let command_line = String::from_utf8_lossy(&command_line);
    assert!(command_line.contains("--broker-url"), "{command_line}");
    assert!(!command_line.contains(&token), "{command_line}");

    // The worker's own log goes to the same stderr as its parent's.
    let log = server.log().join("\n");
    assert!(log.contains("Starting recog worker"), "{log}");
    for hidden in [token.as_str(), secret] {
        assert!(!log.contains(hidden), "{hidden} logged:\n{log}");
    }
}
