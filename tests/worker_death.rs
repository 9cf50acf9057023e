//! A worker process of `recog serve` killed with SIGKILL in the middle of a 100-image load:
//! every request is still answered, correctly and exactly once, because the killed worker's
//! batch is delivered again once its visibility timeout passes (the default, 10s, well within
//! the callers' 30s). SIGTERM instead lets the worker finish its batch: nothing is delivered
//! twice.

mod common;

use std::time::Duration;

use common::{
    Server, assert_course_answered, get_text, post_course, sample, wait_for_sample, worker_pids,
};

/// One load at a time, so that the signal lands while requests are still queued.
static ONE_AT_A_TIME: tokio::sync::Mutex<()> = tokio::sync::Mutex::const_new(());

/// Starts `recog serve` with two workers, posts the course's 100 images, and once all of them
/// are queued or answered, with answers flowing, sends `signal` to the first worker: with the
/// rest still queued, both workers hold batches.
async fn signal_a_worker_mid_load(
    client: &reqwest::Client,
    signal: &str,
) -> (Server, Vec<tokio::task::JoinHandle<(String, u16, String)>>) {
    let server = Server::start(&[
        "--min-workers",
        "2",
        "--max-workers",
        "2",
        "--scale-interval",
        "100ms",
    ]);
    let two = |workers| workers == 2.0;
    let metrics = wait_for_sample(
        client,
        &server,
        "recog_workers",
        two,
        Duration::from_secs(60),
    );
    assert_eq!(sample(&metrics.await, "recog_workers"), Some(2.0));

    let posts = post_course(client, &server.url("/"));
    loop {
        let metrics = get_text(client, &server.url("/metrics")).await;
        let classified = sample(&metrics, r#"recog_images_classified_total{backend="ort"}"#);
        let waiting = sample(&metrics, "recog_inflight_requests");
        match (classified, waiting) {
            (Some(classified), Some(waiting)) if classified >= 1.0 => {
                assert!(classified < 90.0, "the load was over before the signal");
                if classified + waiting >= 100.0 {
                    break;
                }
            }
            _ => {}
        }
        tokio::time::sleep(Duration::from_millis(5)).await;
    }
    let victim = worker_pids(&server)[0];
    let sent = std::process::Command::new("kill")
        .args([signal, &victim.to_string()])
        .status()
        .unwrap();
    assert!(sent.success());
    (server, posts)
}

#[tokio::test(flavor = "multi_thread")]
async fn sigkill_mid_batch_loses_and_duplicates_nothing() {
    let _alone = ONE_AT_A_TIME.lock().await;
    let client = reqwest::Client::new();
    let (server, posts) = signal_a_worker_mid_load(&client, "-KILL").await;

    assert_course_answered(posts).await;
    let metrics = get_text(&client, &server.url("/metrics")).await;
    assert!(
        sample(&metrics, "recog_messages_redelivered_total") >= Some(1.0),
        "the killed worker's batch was delivered again\n{metrics}"
    );
    assert_eq!(server.answers_stored(), 100);
    assert!(
        server
            .log()
            .iter()
            .any(|line| line.contains("Worker exited unexpectedly")),
        "the fleet noticed the death"
    );
    // The scaler replaced the dead worker.
    assert!(
        worker_pids(&server).len() >= 3,
        "{:?}",
        worker_pids(&server)
    );
}

#[tokio::test(flavor = "multi_thread")]
async fn sigterm_lets_a_worker_finish_its_batch_first() {
    let _alone = ONE_AT_A_TIME.lock().await;
    let client = reqwest::Client::new();
    let (server, posts) = signal_a_worker_mid_load(&client, "-TERM").await;

    assert_course_answered(posts).await;
    let metrics = get_text(&client, &server.url("/metrics")).await;
    assert_eq!(
        sample(&metrics, "recog_messages_redelivered_total"),
        Some(0.0),
        "the stopped worker acknowledged what it held\n{metrics}"
    );
    assert_eq!(server.answers_stored(), 100);
    let log = server.log();
    assert!(
        log.iter().any(|line| line.contains("Worker stopped")),
        "{log:#?}"
    );
    assert!(!log.iter().any(|line| line.contains("exited unexpectedly")));
}
