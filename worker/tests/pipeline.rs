//! The worker on the real model against in-memory queues and directory buckets: it answers,
//! stores, and acknowledges only then; a redelivered request is answered from the stored result;
//! unreadable and expired requests are acknowledged without an answer; one delivered more often
//! than allowed is answered with a failure, or with its stored answer.

use std::path::Path;
use std::sync::Arc;
use std::time::Duration;

use recog_models::backend::Options;
use recog_models::{BackendKind, Manifest, Model};
use recog_transport::bucket::{DirBucket, Metadata};
use recog_transport::message::{Outcome, Request, Response, now_ms};
use recog_transport::queue::{Broker, MemoryBroker, Queue};
use recog_worker::{Config, Links};
use tokio_util::sync::CancellationToken;
use uuid::Uuid;

const WORKER: &str = env!("CARGO_MANIFEST_DIR");

/// Deliveries a request gets.
const MAX_RECEIVES: u32 = 5;

struct Harness {
    links: Links,
    replies: Arc<dyn Queue>,
    shutdown: CancellationToken,
    worker: Option<tokio::task::JoinHandle<()>>,
    _dirs: tempfile::TempDir,
}

/// Queues, buckets and a worker on the real model.
async fn start() -> Harness {
    let mut harness = without_worker().await;
    harness.start_worker();
    harness
}

/// Queues and buckets, with no worker yet.
async fn without_worker() -> Harness {
    let dirs = tempfile::tempdir().unwrap();
    let broker = Arc::new(MemoryBroker::new(Duration::from_secs(30)));
    let replies = broker.create("replies").await.unwrap();
    let links = Links {
        requests: broker.create("requests").await.unwrap(),
        broker,
        inputs: Arc::new(DirBucket::open(dirs.path().join("input")).await.unwrap()),
        outputs: Arc::new(DirBucket::open(dirs.path().join("output")).await.unwrap()),
    };
    Harness {
        links,
        replies,
        shutdown: CancellationToken::new(),
        worker: None,
        _dirs: dirs,
    }
}

impl Harness {
    fn start_worker(&mut self) {
        let models = Path::new(WORKER).join("../models");
        let manifest = Manifest::load(&models.join("efficientnet_lite0.json")).unwrap();
        let options = Options {
            kind: BackendKind::Ort,
            threads: 2,
            ort_library: models.join("libonnxruntime.so"),
        };
        let model = Model::load(manifest, &options, None).unwrap();
        let config = Config {
            max_batch: 10,
            poll_wait: Duration::from_millis(100),
            batch_delay: Duration::from_millis(5),
            visibility: Duration::from_secs(30),
            max_receives: MAX_RECEIVES,
            busy: Default::default(),
        };
        let worker = recog_worker::run(model, self.links.clone(), config, self.shutdown.clone());
        self.worker = Some(tokio::spawn(worker));
    }

    /// Receives the only queued request `times` times and makes it visible again each time,
    /// as deliveries to workers that died with it would.
    async fn deliver_to_the_dead(&self, times: u32) {
        for _ in 0..times {
            let taken = self
                .links
                .requests
                .receive(1, Duration::ZERO)
                .await
                .unwrap();
            let receipts: Vec<String> = taken.into_iter().map(|d| d.receipt).collect();
            assert_eq!(receipts.len(), 1);
            self.links
                .requests
                .extend(&receipts, Duration::ZERO)
                .await
                .unwrap();
        }
    }

    /// Uploads `image` and queues a request for it; returns the request id.
    async fn request(&self, image: &str, deadline_ms: u64) -> Uuid {
        let bytes = std::fs::read(
            Path::new(WORKER)
                .join("../../shared/data/imagenet-100")
                .join(image),
        );
        let id = Uuid::new_v4();
        let metadata = Metadata {
            file: image.into(),
            content_type: "image/jpeg".into(),
        };
        self.links
            .inputs
            .put(&id.to_string(), bytes.unwrap().into(), &metadata)
            .await
            .unwrap();
        self.send(id, image, deadline_ms).await;
        id
    }

    async fn send(&self, id: Uuid, file: &str, deadline_ms: u64) {
        let request = Request {
            id,
            key: id.to_string(),
            file: file.into(),
            reply_to: "replies".into(),
            deadline_ms,
        };
        self.links
            .requests
            .send(serde_json::to_string(&request).unwrap())
            .await
            .unwrap();
    }

    async fn next_reply(&self) -> Response {
        let mut got = self
            .replies
            .receive(1, Duration::from_secs(60))
            .await
            .unwrap();
        assert_eq!(got.len(), 1, "no reply within a minute");
        let delivery = got.remove(0);
        self.replies.delete(&[delivery.receipt]).await.unwrap();
        serde_json::from_str(&delivery.body).unwrap()
    }

    async fn stop(self) {
        self.shutdown.cancel();
        self.worker.unwrap().await.unwrap();
    }
}

fn label(response: &Response) -> &str {
    match &response.outcome {
        Outcome::Classified(classification) => classification.label(),
        other => panic!("not classified: {other:?}"),
    }
}

fn in_a_minute() -> u64 {
    now_ms() + 60_000
}

#[tokio::test(flavor = "multi_thread")]
async fn answers_stores_and_then_acknowledges() {
    let harness = start().await;
    let id = harness.request("test_0.JPEG", in_a_minute()).await;

    let reply = harness.next_reply().await;
    assert_eq!(reply.id, id);
    assert_eq!(label(&reply), "lotion");

    let stored = harness.links.outputs.get(&id.to_string()).await.unwrap();
    assert_eq!(serde_json::from_slice::<Response>(&stored).unwrap(), reply);
    while harness.links.requests.depth().await.unwrap().total() > 0 {
        tokio::time::sleep(Duration::from_millis(10)).await;
    }
    harness.stop().await;
}

#[tokio::test(flavor = "multi_thread")]
async fn redelivered_request_is_answered_from_the_stored_result() {
    let harness = start().await;
    let id = Uuid::new_v4();
    let stored = Response {
        id,
        outcome: Outcome::Rejected {
            reason: "answered before".into(),
        },
    };
    let body = serde_json::to_vec(&stored).unwrap();
    harness
        .links
        .outputs
        .put(&id.to_string(), body.into(), &Metadata::default())
        .await
        .unwrap();

    harness.send(id, "test_0.JPEG", in_a_minute()).await;
    assert_eq!(harness.next_reply().await, stored);
    harness.stop().await;
}

#[tokio::test(flavor = "multi_thread")]
async fn unreadable_and_expired_requests_are_acknowledged_without_an_answer() {
    let harness = start().await;
    harness
        .links
        .requests
        .send("not a request".into())
        .await
        .unwrap();
    harness.request("test_1.JPEG", now_ms() - 1).await;
    let id = harness.request("test_2.JPEG", in_a_minute()).await;

    assert_eq!(harness.next_reply().await.id, id);
    while harness.links.requests.depth().await.unwrap().total() > 0 {
        tokio::time::sleep(Duration::from_millis(10)).await;
    }
    assert_eq!(harness.replies.depth().await.unwrap().total(), 0);
    harness.stop().await;
}

#[tokio::test(flavor = "multi_thread")]
async fn request_delivered_too_often_gets_a_failure_or_its_stored_answer() {
    let mut harness = without_worker().await;
    let failed = harness.request("test_0.JPEG", in_a_minute()).await;
    harness.deliver_to_the_dead(MAX_RECEIVES).await;
    harness.start_worker();
    let reply = harness.next_reply().await;
    assert_eq!(reply.id, failed);
    assert_eq!(
        reply.outcome,
        Outcome::Failed {
            reason: "no worker finished this request in 5 deliveries".into()
        }
    );
    harness.stop().await;

    // A worker that stored the answer and died before replying: the answer is sent.
    let mut harness = without_worker().await;
    let answered = harness.request("test_0.JPEG", in_a_minute()).await;
    let stored = Response {
        id: answered,
        outcome: Outcome::Rejected {
            reason: "answered before".into(),
        },
    };
    let body = serde_json::to_vec(&stored).unwrap();
    let key = answered.to_string();
    harness
        .links
        .outputs
        .put(&key, body.into(), &Metadata::default())
        .await
        .unwrap();
    harness.deliver_to_the_dead(MAX_RECEIVES).await;
    harness.start_worker();
    assert_eq!(harness.next_reply().await, stored);
    while harness.links.requests.depth().await.unwrap().total() > 0 {
        tokio::time::sleep(Duration::from_millis(10)).await;
    }
    harness.stop().await;
}
