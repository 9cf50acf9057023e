//! `recog serve` scales its workers with the queue: from none, a burst of 100 uploads brings
//! workers out, and once it is served they are retired, losing and duplicating nothing.

mod common;

use std::time::Duration;

use common::{Server, assert_course_answered, get_text, post_course, sample};

#[tokio::test(flavor = "multi_thread")]
async fn burst_scales_workers_out_and_back_losing_and_duplicating_nothing() {
    let server = Server::start(&[
        "--min-workers",
        "0",
        "--max-workers",
        "2",
        "--scale-interval",
        "100ms",
        "--scale-in-ticks",
        "3",
    ]);
    let client = reqwest::Client::new();
    assert_course_answered(post_course(&client, &server.url("/"))).await;

    let mut metrics = get_text(&client, &server.url("/metrics")).await;
    for _ in 0..300 {
        if sample(&metrics, "recog_scaler_workers") == Some(0.0) {
            break;
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
        metrics = get_text(&client, &server.url("/metrics")).await;
    }
    assert_eq!(
        sample(&metrics, "recog_scaler_workers"),
        Some(0.0),
        "{metrics}"
    );
    assert!(sample(&metrics, r#"recog_scaler_decisions_total{direction="out"}"#) >= Some(1.0));
    assert!(sample(&metrics, r#"recog_scaler_decisions_total{direction="in"}"#) >= Some(1.0));
    assert_eq!(
        sample(
            &metrics,
            r#"recog_responses_dropped_total{reason="no_waiter"}"#
        ),
        Some(0.0)
    );
    assert_eq!(server.answers_stored(), 100);
}
