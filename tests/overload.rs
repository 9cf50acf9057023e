//! Overload is shed rather than queued forever: past `--max-in-flight` callers get 503 with
//! Retry-After, past `--request-timeout` 504, and no waiter outlives its request.

mod common;

use std::sync::Arc;
use std::time::Duration;

use common::{Server, get_text, images_dir, sample};
use reqwest::multipart::{Form, Part};
use tokio::sync::Semaphore;

async fn inflight(client: &reqwest::Client, server: &Server) -> f64 {
    let metrics = get_text(client, &server.url("/metrics")).await;
    sample(&metrics, "recog_inflight_requests").unwrap()
}

fn form() -> Form {
    let bytes = std::fs::read(images_dir().join("test_0.JPEG")).unwrap();
    Form::new().part("myfile", Part::bytes(bytes).file_name("test_0.JPEG"))
}

#[tokio::test(flavor = "multi_thread")]
async fn no_answer_in_time_gets_504() {
    let server = Server::start(&[
        "--min-workers",
        "0",
        "--max-workers",
        "0",
        "--request-timeout",
        "1s",
    ]);
    let client = reqwest::Client::new();
    let response = client
        .post(server.url("/"))
        .multipart(form())
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), 504);
    assert_eq!(
        response.text().await.unwrap(),
        "no answer within the request timeout\n"
    );
    assert_eq!(inflight(&client, &server).await, 0.0);
}

#[tokio::test(flavor = "multi_thread")]
async fn thousand_mixed_requests_leave_no_waiter_behind() {
    let server = Server::start(&["--max-in-flight", "40", "--request-timeout", "2s"]);
    let patient = reqwest::Client::new();
    let hasty = reqwest::Client::builder()
        .timeout(Duration::from_millis(30))
        .build()
        .unwrap();
    let slots = Arc::new(Semaphore::new(150));

    let mut requests = Vec::new();
    for i in 0..1000 {
        let client = if i % 3 == 0 {
            hasty.clone()
        } else {
            patient.clone()
        };
        let url = server.url("/");
        let slot = slots.clone().acquire_owned().await.unwrap();
        requests.push(tokio::spawn(async move {
            let outcome = client.post(url).multipart(form()).send().await;
            drop(slot);
            outcome.map(|r| (r.status().as_u16(), r.headers().get("retry-after").cloned()))
        }));
    }

    let (mut answered, mut shed, mut hung_up) = (0, 0, 0);
    for request in requests {
        match request.await.unwrap() {
            Ok((200, _)) => answered += 1,
            Ok((503, retry_after)) => {
                assert_eq!(retry_after.unwrap(), "1");
                shed += 1;
            }
            Ok((504, _)) => {}
            Ok((status, _)) => panic!("unexpected status {status}"),
            Err(error) => {
                assert!(error.is_timeout(), "{error}");
                hung_up += 1;
            }
        }
    }
    println!("answered {answered}, shed {shed}, hung up {hung_up}");
    assert!(answered > 0 && shed > 0 && hung_up > 0);

    let mut gauge = inflight(&patient, &server).await;
    for _ in 0..50 {
        if gauge == 0.0 {
            break;
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
        gauge = inflight(&patient, &server).await;
    }
    assert_eq!(gauge, 0.0);
}
