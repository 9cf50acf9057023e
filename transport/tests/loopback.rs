//! The loopback queue service: a real server on 127.0.0.1 in front of the in-memory broker,
//! driven through the client the worker processes use.

use std::sync::Arc;
use std::time::Duration;

use recog_transport::Error;
use recog_transport::queue::loopback::{LoopbackBroker, serve};
use recog_transport::queue::{Broker, Depth, MemoryBroker};
use tokio::net::TcpListener;

const TOKEN: &str = "secret-token";

/// Serves a fresh broker with a 1 s visibility timeout; returns its URL and the broker.
async fn start() -> (String, Arc<MemoryBroker>) {
    let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
    let url = format!("http://{}", listener.local_addr().unwrap());
    let broker = Arc::new(MemoryBroker::new(Duration::from_secs(1)));
    tokio::spawn(serve(listener, broker.clone(), TOKEN.into()));
    (url, broker)
}

#[tokio::test]
async fn every_queue_operation_reaches_the_serving_broker() {
    let (url, local) = start().await;
    let remote = LoopbackBroker::new(&url, TOKEN);
    let queue = remote.create("requests").await.unwrap();
    let same = local.open("requests").await.unwrap();

    for body in ["a", "b", "c"] {
        queue.send(body.into()).await.unwrap();
    }
    assert_eq!(same.depth().await.unwrap().visible, 3);

    let got = queue.receive(2, Duration::ZERO).await.unwrap();
    let bodies: Vec<_> = got.iter().map(|d| d.body.as_str()).collect();
    assert_eq!(bodies, ["a", "b"]);
    assert_eq!(got[0].receive_count, 1);
    assert_eq!(
        queue.depth().await.unwrap(),
        Depth {
            visible: 1,
            in_flight: 2
        }
    );

    // "a" is acknowledged, "b" kept hidden past the original timeout, and "c" left alone.
    queue.delete(&[got[0].receipt.clone()]).await.unwrap();
    queue
        .extend(&[got[1].receipt.clone()], Duration::from_secs(5))
        .await
        .unwrap();
    tokio::time::sleep(Duration::from_millis(1500)).await;
    let rest = queue.receive(10, Duration::ZERO).await.unwrap();
    let bodies: Vec<_> = rest.iter().map(|d| d.body.as_str()).collect();
    assert_eq!(bodies, ["c"]);
}

#[tokio::test]
async fn long_poll_wakes_when_another_process_sends() {
    let (url, local) = start().await;
    let remote = LoopbackBroker::new(&url, TOKEN);
    let queue = remote.create("replies").await.unwrap();
    let waiting = tokio::spawn(async move { queue.receive(10, Duration::from_secs(20)).await });
    tokio::time::sleep(Duration::from_millis(200)).await;
    local
        .open("replies")
        .await
        .unwrap()
        .send("late".into())
        .await
        .unwrap();
    let got = waiting.await.unwrap().unwrap();
    assert_eq!(got.len(), 1);
    assert_eq!(got[0].body, "late");
}

#[tokio::test]
async fn missing_queue_is_no_such_queue() {
    let (url, _local) = start().await;
    let remote = LoopbackBroker::new(&url, TOKEN);
    match remote.open("nowhere").await {
        Err(Error::NoSuchQueue(name)) => assert_eq!(name, "nowhere"),
        other => panic!("expected NoSuchQueue, got {:?}", other.map(|_| ())),
    }
}

#[tokio::test]
async fn wrong_token_is_refused() {
    let (url, local) = start().await;
    local.create("requests").await.unwrap();
    let intruder = LoopbackBroker::new(&url, "guess");
    match intruder.open("requests").await {
        Err(Error::Remote(reason)) => assert!(reason.contains("401"), "{reason}"),
        other => panic!("expected a refusal, got {:?}", other.map(|_| ())),
    }
}

#[tokio::test]
async fn unreachable_service_is_a_remote_error() {
    let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
    let url = format!("http://{}", listener.local_addr().unwrap());
    drop(listener);
    let remote = LoopbackBroker::new(&url, TOKEN);
    assert!(matches!(
        remote.open("requests").await,
        Err(Error::Remote(_))
    ));
}
