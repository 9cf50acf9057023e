//! `recog serve` scales its workers with the queue: from none, a burst of 100 uploads brings
//! workers out, and once it is served they are retired, losing and duplicating nothing.

mod common;

use std::time::Duration;

use common::{Server, get_text, images_dir, reference, upload};

/// The value of the sample whose name and labels are exactly `series`, if exported.
fn sample(metrics: &str, series: &str) -> Option<f64> {
    let line = metrics
        .lines()
        .find(|line| line.split_whitespace().next() == Some(series))?;
    line.split_whitespace().nth(1)?.parse().ok()
}

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
    let posts: Vec<_> = reference()
        .into_keys()
        .map(|name| {
            let (client, url) = (client.clone(), server.url("/"));
            tokio::spawn(async move {
                let bytes = std::fs::read(images_dir().join(&name)).unwrap();
                let (status, body) = upload(&client, &url, "myfile", &name, bytes).await;
                (name, status, body)
            })
        })
        .collect();
    let expected = reference();
    for post in posts {
        let (name, status, body) = post.await.unwrap();
        assert_eq!(
            (status, body.as_str()),
            (200, expected[&name].as_str()),
            "{name}"
        );
    }

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
    let answers = std::fs::read_dir(server.data_dir().join("output")).unwrap();
    assert_eq!(
        answers
            .filter(|e| !e
                .as_ref()
                .unwrap()
                .file_name()
                .to_string_lossy()
                .starts_with('.'))
            .count(),
        100
    );
}
