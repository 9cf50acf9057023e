//! A worker process of `recog serve` killed with SIGKILL in the middle of a 100-image load:
//! every request is still answered, correctly and exactly once, because the killed worker's
//! batch is delivered again once its visibility timeout passes.

mod common;

use std::time::Duration;

use common::{
    Server, assert_course_answered, get_text, post_course, sample, wait_for_sample, worker_pids,
};

#[tokio::test(flavor = "multi_thread")]
async fn sigkill_mid_batch_loses_and_duplicates_nothing() {
    let server = Server::start(&[
        "--min-workers",
        "2",
        "--max-workers",
        "2",
        "--scale-interval",
        "100ms",
        "--visibility-timeout",
        "2s",
    ]);
    let client = reqwest::Client::new();
    let two = |workers| workers == 2.0;
    let metrics = wait_for_sample(
        &client,
        &server,
        "recog_workers",
        two,
        Duration::from_secs(60),
    );
    assert_eq!(sample(&metrics.await, "recog_workers"), Some(2.0));

    let posts = post_course(&client, &server.url("/"));

    // Once answers flow, both workers hold batches: kill the first.
    let metrics = wait_for_sample(
        &client,
        &server,
        r#"recog_images_classified_total{backend="ort"}"#,
        |classified| classified >= 1.0,
        Duration::from_secs(60),
    )
    .await;
    assert!(
        metrics.contains("recog_images_classified_total"),
        "{metrics}"
    );
    let victim = worker_pids(&server)[0];
    let killed = std::process::Command::new("kill")
        .args(["-KILL", &victim.to_string()])
        .status()
        .unwrap();
    assert!(killed.success());

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
