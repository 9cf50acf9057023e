//! The worker's whole batch, queue to response, next to the bare forward pass it wraps: their
//! ratio is the pipeline's overhead (fetching, decoding, preprocessing, storing, replying).

mod common;

use std::sync::Arc;
use std::time::Duration;

use criterion::{BatchSize, Criterion, Throughput, criterion_group, criterion_main};
use recog_models::{BackendKind, Model, preprocess};
use recog_transport::bucket::{Bucket, DirBucket, Metadata};
use recog_transport::message::{Request, now_ms};
use recog_transport::queue::{Broker, MemoryBroker, Queue};
use recog_worker::{Config, Links};
use tokio::runtime::Runtime;
use tokio_util::sync::CancellationToken;
use uuid::Uuid;

const BATCH: usize = 10;

fn model() -> Model {
    Model::load(
        common::manifest(),
        &common::options(BackendKind::Ort),
        Some(BATCH),
    )
    .unwrap()
}

/// Stores `images` in the input bucket and returns one request body per image.
async fn upload(inputs: &dyn Bucket, images: &[Vec<u8>]) -> Vec<String> {
    let mut bodies = Vec::with_capacity(images.len());
    for image in images {
        let id = Uuid::new_v4();
        inputs
            .put(&id.to_string(), image.clone().into(), &Metadata::default())
            .await
            .unwrap();
        let request = Request {
            id,
            key: id.to_string(),
            file: "bench.jpg".into(),
            reply_to: "replies".into(),
            deadline_ms: now_ms() + 600_000,
        };
        bodies.push(serde_json::to_string(&request).unwrap());
    }
    bodies
}

/// Sends the requests and waits until every reply is in.
async fn round_trip(requests: &dyn Queue, replies: &dyn Queue, bodies: Vec<String>) {
    let mut pending = bodies.len();
    for body in bodies {
        requests.send(body).await.unwrap();
    }
    while pending > 0 {
        let got = replies.receive(10, Duration::from_secs(60)).await.unwrap();
        pending -= got.len();
        let receipts: Vec<String> = got.into_iter().map(|d| d.receipt).collect();
        replies.delete(&receipts).await.unwrap();
    }
}

fn pipeline(c: &mut Criterion) {
    let runtime = Runtime::new().unwrap();
    let images: Vec<Vec<u8>> = common::course_images().into_iter().take(BATCH).collect();
    let dirs = tempfile::tempdir().unwrap();
    let (links, replies) = runtime.block_on(async {
        let broker = Arc::new(MemoryBroker::new(Duration::from_secs(30)));
        let replies = broker.create("replies").await.unwrap();
        let links = Links {
            requests: broker.create("requests").await.unwrap(),
            broker,
            inputs: Arc::new(DirBucket::open(dirs.path().join("input")).await.unwrap()),
            outputs: Arc::new(DirBucket::open(dirs.path().join("output")).await.unwrap()),
        };
        (links, replies)
    });
    let config = Config {
        max_batch: BATCH,
        poll_wait: Duration::from_secs(1),
        batch_delay: Duration::from_millis(5),
        visibility: Duration::from_secs(30),
        max_receives: 5,
        busy: Default::default(),
    };
    let shutdown = CancellationToken::new();
    runtime.spawn(recog_worker::run(
        model(),
        links.clone(),
        config,
        shutdown.clone(),
    ));

    let mut group = c.benchmark_group("pipeline_vs_forward");
    group
        .sample_size(20)
        .throughput(Throughput::Elements(BATCH as u64));
    group.bench_function("worker_batch_10", |b| {
        b.iter_batched(
            || runtime.block_on(upload(links.inputs.as_ref(), &images)),
            |bodies| {
                runtime.block_on(round_trip(
                    links.requests.as_ref(),
                    replies.as_ref(),
                    bodies,
                ))
            },
            BatchSize::PerIteration,
        )
    });

    let spec = common::manifest().preprocess;
    let tensors: Vec<Vec<f32>> = images
        .iter()
        .map(|i| preprocess::tensor(i, &spec).unwrap())
        .collect();
    let mut bare = model();
    group.bench_function("forward_batch_10", |b| {
        b.iter_batched(
            || tensors.clone(),
            |batch| bare.classify(&batch).unwrap(),
            BatchSize::LargeInput,
        )
    });
    group.finish();
    shutdown.cancel();
}

criterion_group!(benches, pipeline);
criterion_main!(benches);
