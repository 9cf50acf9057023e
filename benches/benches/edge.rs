//! The edge's own overhead: an upload goes in over HTTP, through the request queue to an
//! instant classifier that answers at once, and back out. No model runs.

mod common;

use std::sync::Arc;
use std::time::Duration;

use criterion::{Criterion, Throughput, criterion_group, criterion_main};
use recog_edge::{Config, Links, ReplyFormat};
use recog_transport::bucket::DirBucket;
use recog_transport::message::{Classification, Outcome, Request, Response, Score, Timings};
use recog_transport::queue::{Broker, MemoryBroker, Queue};
use reqwest::multipart::{Form, Part};
use tokio::net::TcpListener;
use tokio::runtime::Runtime;
use tokio_util::sync::CancellationToken;

/// Answers every request at once with the same label.
async fn instant_classifier(requests: Arc<dyn Queue>, broker: Arc<MemoryBroker>) {
    let top5 = vec![Score {
        label: "goldfish".into(),
        score: 1.0,
    }];
    let classification = Classification {
        top5,
        timings: Timings::default(),
    };
    loop {
        let got = requests.receive(10, Duration::from_secs(1)).await.unwrap();
        for delivery in &got {
            let request: Request = serde_json::from_str(&delivery.body).unwrap();
            let outcome = Outcome::Classified(classification.clone());
            let body = serde_json::to_string(&Response {
                id: request.id,
                outcome,
            })
            .unwrap();
            broker
                .open(&request.reply_to)
                .await
                .unwrap()
                .send(body)
                .await
                .unwrap();
        }
        let receipts: Vec<String> = got.into_iter().map(|d| d.receipt).collect();
        requests.delete(&receipts).await.unwrap();
    }
}

async fn start_edge(data: &std::path::Path) -> String {
    let broker = Arc::new(MemoryBroker::new(Duration::from_secs(30)));
    let requests = broker.create("requests").await.unwrap();
    let links = Links {
        requests: requests.clone(),
        replies: broker.create("replies").await.unwrap(),
        reply_queue: "replies".into(),
        inputs: Arc::new(DirBucket::open(data).await.unwrap()),
    };
    let config = Config {
        reply_format: ReplyFormat::Label,
        request_timeout: Duration::from_secs(30),
        body_timeout: Duration::from_secs(30),
        max_body: 20 << 20,
        max_in_flight: 1000,
        grace: Duration::from_secs(1),
        metrics: None,
    };
    let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
    let url = format!("http://{}/", listener.local_addr().unwrap());
    tokio::spawn(instant_classifier(requests, broker));
    tokio::spawn(recog_edge::run(
        listener,
        links,
        config,
        CancellationToken::new(),
    ));
    url
}

fn edge(c: &mut Criterion) {
    let runtime = Runtime::new().unwrap();
    let data = tempfile::tempdir().unwrap();
    let url = runtime.block_on(start_edge(data.path()));
    let image = common::course_images().remove(0);
    let client = reqwest::Client::new();

    let mut group = c.benchmark_group("edge");
    group.throughput(Throughput::Elements(1));
    group.bench_function("round_trip_instant_classifier", |b| {
        b.to_async(&runtime).iter(|| async {
            let form = Form::new().part("myfile", Part::bytes(image.clone()).file_name("a.jpg"));
            let response = client.post(&url).multipart(form).send().await.unwrap();
            assert_eq!(response.text().await.unwrap(), "goldfish");
        })
    });
    group.finish();
}

criterion_group!(benches, edge);
criterion_main!(benches);
