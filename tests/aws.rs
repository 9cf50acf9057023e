//! The two tiers as separate processes on moto's server (an AWS-compatible SQS and S3 on
//! loopback): the course workload, a worker killed mid-batch, a poison request, and an image
//! far larger than an SQS message.

mod common;
mod gate;

use std::collections::HashMap;
use std::net::TcpListener;
use std::path::Path;
use std::process::{Child, Stdio};
use std::time::Duration;

use aws_config::{BehaviorVersion, Region};
use base64::Engine as _;
use common::{ROOT, Server, get_text, images_dir, recog, reference, upload};
use gate::Gate;
use recog_aws::Aws;
use recog_aws::s3::S3Bucket;
use recog_aws::sqs::SqsBroker;
use recog_scaler::control::Fleet;
use recog_scaler::ec2::{Ec2Fleet, Launch, ROLE_TAG};
use recog_transport::bucket::Bucket;
use recog_transport::message::{Outcome, Request, Response, now_ms};
use recog_transport::queue::{Broker, Depth, Queue};

/// `moto_server` on a free loopback port, killed on drop.
struct Moto {
    child: Child,
    url: String,
}

impl Moto {
    fn start() -> Moto {
        let port = TcpListener::bind("127.0.0.1:0")
            .unwrap()
            .local_addr()
            .unwrap()
            .port();
        let mut child = std::process::Command::new(Path::new(ROOT).join(".venv/bin/moto_server"))
            .args(["-H", "127.0.0.1", "-p", &port.to_string()])
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .expect("scripts/setup installs moto into .venv");
        for _ in 0..100 {
            if std::net::TcpStream::connect(("127.0.0.1", port)).is_ok() {
                return Moto {
                    child,
                    url: format!("http://127.0.0.1:{port}"),
                };
            }
            std::thread::sleep(Duration::from_millis(100));
        }
        let _ = child.kill();
        let _ = child.wait();
        panic!("moto_server did not start");
    }

    fn address(&self) -> std::net::SocketAddr {
        self.url.trim_start_matches("http://").parse().unwrap()
    }

    fn env(&self) -> Vec<(&'static str, &'static str)> {
        vec![
            ("AWS_ACCESS_KEY_ID", "testing"),
            ("AWS_SECRET_ACCESS_KEY", "testing"),
            ("AWS_REGION", "us-east-1"),
            ("AWS_EC2_METADATA_DISABLED", "true"),
            ("NO_PROXY", "127.0.0.1,localhost"),
        ]
    }

    /// Runs `recog aws init` with `extra` flags and returns what it printed.
    fn init(&self, extra: &[&str]) -> String {
        let mut args = vec!["aws", "init", "--aws-endpoint-url", &self.url];
        args.extend(extra);
        let output = recog(&args, &self.env()).output().unwrap();
        assert!(
            output.status.success(),
            "{}",
            String::from_utf8_lossy(&output.stderr)
        );
        String::from_utf8(output.stdout).unwrap()
    }

    fn edge(&self, extra: &[&str]) -> Server {
        let mut args = vec!["--aws-endpoint-url", self.url.as_str()];
        args.extend(extra);
        Server::start_edge(&args, &self.env())
    }

    fn worker(&self, extra: &[&str]) -> Process {
        let mut args = vec!["worker", "--aws-endpoint-url", &self.url, "--threads", "1"];
        args.extend(extra);
        Process(recog(&args, &self.env()).spawn().unwrap())
    }

    /// SDK configuration with moto's credentials, for looking at things directly.
    async fn config(&self) -> aws_config::SdkConfig {
        let credentials =
            aws_credential_types::Credentials::new("testing", "testing", None, None, "moto");
        aws_config::defaults(BehaviorVersion::latest())
            .region(Region::new("us-east-1"))
            .credentials_provider(credentials)
            .endpoint_url(&self.url)
            .load()
            .await
    }

    /// SQS and S3 clients on moto.
    async fn aws(&self) -> Aws {
        Aws::from_config(&self.config().await, true)
    }
}

impl Drop for Moto {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// A child process killed on drop.
struct Process(Child);

impl Drop for Process {
    fn drop(&mut self) {
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}

async fn queue(aws: &Aws, name: &str) -> std::sync::Arc<dyn Queue> {
    SqsBroker::new(aws.sqs.clone(), Duration::from_secs(30))
        .open(name)
        .await
        .unwrap()
}

/// How many objects the bucket holds.
async fn objects(aws: &Aws, bucket: &str) -> usize {
    S3Bucket::new(aws.s3.clone(), bucket)
        .keys()
        .await
        .unwrap()
        .len()
}

/// Polls `queue` until its depth is `want`, for up to a minute.
async fn wait_for_depth(queue: &dyn Queue, want: Depth) {
    for _ in 0..600 {
        if queue.depth().await.unwrap() == want {
            return;
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    panic!(
        "queue depth never became {want:?}: {:?}",
        queue.depth().await.unwrap()
    );
}

/// Posts all 100 course images at once; returns `image -> reply body`.
async fn classify_course(url: &str) -> HashMap<String, String> {
    let client = reqwest::Client::new();
    let mut names: Vec<String> = std::fs::read_dir(images_dir())
        .unwrap()
        .map(|e| e.unwrap().file_name().to_string_lossy().into_owned())
        .collect();
    names.sort();
    let posts = names.into_iter().map(|name| {
        let (client, url) = (client.clone(), url.to_owned());
        tokio::spawn(async move {
            let bytes = std::fs::read(images_dir().join(&name)).unwrap();
            let (status, body) = upload(&client, &url, "myfile", &name, bytes).await;
            assert_eq!(status, 200, "{name}: {body}");
            (name, body)
        })
    });
    let mut answers = HashMap::new();
    for post in posts.collect::<Vec<_>>() {
        let (name, body) = post.await.unwrap();
        answers.insert(name, body);
    }
    answers
}

#[tokio::test(flavor = "multi_thread")]
async fn edge_and_two_workers_on_moto_answer_like_the_embedded_run() {
    let moto = Moto::start();
    let printed = moto.init(&[]);
    assert!(
        printed.contains("recog-requests") && printed.contains("s3://recog-output"),
        "{printed}"
    );
    assert_eq!(moto.init(&[]), printed, "init is idempotent");

    let edge = moto.edge(&[]);
    let metrics = TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap();
    let _workers = [
        moto.worker(&["--metrics-listen", &metrics.to_string()]),
        moto.worker(&[]),
    ];
    let on_aws = classify_course(&edge.url("/")).await;
    let exported = get_text(
        &reqwest::Client::new(),
        &format!("http://{metrics}/metrics"),
    )
    .await;
    assert!(
        exported.contains("recog_images_classified_total"),
        "{exported}"
    );

    let embedded = Server::start(&[]);
    let on_one_machine = classify_course(&embedded.url("/")).await;
    assert_eq!(on_aws, on_one_machine);

    let aws = moto.aws().await;
    wait_for_depth(
        queue(&aws, "recog-requests").await.as_ref(),
        Depth::default(),
    )
    .await;
    assert_eq!(objects(&aws, "recog-input").await, 100);
    assert_eq!(objects(&aws, "recog-output").await, 100);

    let mut edge = edge;
    let status = std::process::Command::new("kill")
        .args(["-TERM", &edge.pid().to_string()])
        .status();
    assert!(status.unwrap().success());
    assert!(
        tokio::task::spawn_blocking(move || edge.wait())
            .await
            .unwrap()
            .success()
    );
    let queues = aws.sqs.list_queues().send().await.unwrap();
    let urls = queues.queue_urls();
    assert!(
        urls.iter().all(|url| !url.contains("recog-replies-")),
        "{urls:?}"
    );
}

#[tokio::test(flavor = "multi_thread")]
async fn worker_killed_after_receiving_loses_nothing_and_answers_once() {
    let moto = Moto::start();
    moto.init(&["--visibility-timeout", "3s"]);
    let edge = moto.edge(&["--request-timeout", "60s"]);
    // A long batch delay keeps the received request in this worker's hands until it is killed.
    let mut doomed = moto.worker(&["--visibility-timeout", "3s", "--batch-delay", "15s"]);

    let url = edge.url("/");
    let post = tokio::spawn(async move {
        let bytes = std::fs::read(images_dir().join("test_36.JPEG")).unwrap();
        upload(
            &reqwest::Client::new(),
            &url,
            "myfile",
            "test_36.JPEG",
            bytes,
        )
        .await
    });
    let aws = moto.aws().await;
    let requests = queue(&aws, "recog-requests").await;
    wait_for_depth(
        requests.as_ref(),
        Depth {
            visible: 0,
            in_flight: 1,
        },
    )
    .await;
    doomed.0.kill().unwrap();
    doomed.0.wait().unwrap();

    let _rescuer = moto.worker(&["--visibility-timeout", "3s"]);
    assert_eq!(post.await.unwrap(), (200, "flagpole".into()));
    wait_for_depth(requests.as_ref(), Depth::default()).await;
    let metrics = get_text(&reqwest::Client::new(), &edge.url("/metrics")).await;
    assert!(
        metrics.contains(r#"recog_responses_dropped_total{reason="no_waiter"} 0"#),
        "{metrics}"
    );
    assert_eq!(objects(&aws, "recog-output").await, 1);
}

#[tokio::test(flavor = "multi_thread")]
async fn poison_request_is_dead_lettered_and_its_caller_told() {
    let moto = Moto::start();
    moto.init(&["--visibility-timeout", "1s", "--max-receives", "2"]);
    let _worker = moto.worker(&["--visibility-timeout", "1s", "--max-receives", "2"]);
    let aws = moto.aws().await;
    let broker = SqsBroker::new(aws.sqs.clone(), Duration::from_secs(30));
    let replies = broker.create("test-replies").await.unwrap();

    // A request whose image is not in the bucket fails on every delivery.
    let id = uuid::Uuid::new_v4();
    let request = Request {
        id,
        key: "missing-image".into(),
        file: "poison.jpg".into(),
        reply_to: "test-replies".into(),
        deadline_ms: now_ms() + 120_000,
    };
    let requests = queue(&aws, "recog-requests").await;
    requests
        .send(serde_json::to_string(&request).unwrap())
        .await
        .unwrap();

    let mut got = Vec::new();
    for _ in 0..10 {
        got = replies.receive(1, Duration::from_secs(10)).await.unwrap();
        if !got.is_empty() {
            break;
        }
    }
    let response: Response = serde_json::from_str(&got[0].body).unwrap();
    assert_eq!(response.id, id);
    match response.outcome {
        Outcome::Failed { reason } => {
            assert!(
                reason.starts_with("classification failed on every attempt: "),
                "{reason}"
            )
        }
        other => panic!("expected a failure, got {other:?}"),
    }
    let dead = queue(&aws, "recog-requests-dead").await;
    wait_for_depth(
        dead.as_ref(),
        Depth {
            visible: 1,
            in_flight: 0,
        },
    )
    .await;
    wait_for_depth(requests.as_ref(), Depth::default()).await;
}

#[tokio::test(flavor = "multi_thread")]
async fn five_megabyte_image_travels_by_claim_check() {
    let moto = Moto::start();
    moto.init(&[]);
    let edge = moto.edge(&["--request-timeout", "60s"]);
    let image = image::load_from_memory(&std::fs::read(images_dir().join("test_36.JPEG")).unwrap())
        .unwrap();
    let mut big = Vec::new();
    image
        .resize_exact(1300, 1300, image::imageops::FilterType::Triangle)
        .write_to(&mut std::io::Cursor::new(&mut big), image::ImageFormat::Bmp)
        .unwrap();
    assert!(big.len() > 5_000_000);

    let url = edge.url("/");
    let post = tokio::spawn(async move {
        upload(&reqwest::Client::new(), &url, "myfile", "big.bmp", big).await
    });
    let aws = moto.aws().await;
    let requests = queue(&aws, "recog-requests").await;
    let mut message = Vec::new();
    while message.is_empty() {
        message = requests.receive(1, Duration::from_secs(5)).await.unwrap();
    }
    assert!(
        message[0].body.len() < 1024,
        "{} bytes",
        message[0].body.len()
    );
    let request: Request = serde_json::from_str(&message[0].body).unwrap();
    assert_eq!(request.file, "big.bmp");
    requests
        .extend(&[message[0].receipt.clone()], Duration::ZERO)
        .await
        .unwrap();

    let _worker = moto.worker(&[]);
    let (status, label) = post.await.unwrap();
    assert_eq!(status, 200, "{label}");
    assert!(!label.is_empty());
}

#[tokio::test(flavor = "multi_thread")]
async fn workers_terminated_and_killed_mid_load_lose_nothing() {
    let moto = Moto::start();
    moto.init(&["--visibility-timeout", "3s"]);
    let edge = moto.edge(&["--request-timeout", "90s"]);
    let mut graceful = moto.worker(&["--visibility-timeout", "3s"]);
    let mut killed = moto.worker(&["--visibility-timeout", "3s"]);

    let url = edge.url("/");
    let posts = tokio::spawn(async move { classify_course(&url).await });
    let aws = moto.aws().await;
    while objects(&aws, "recog-output").await < 10 {
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    let status = std::process::Command::new("kill")
        .args(["-TERM", &graceful.0.id().to_string()])
        .status();
    assert!(status.unwrap().success());
    killed.0.kill().unwrap();
    let _rescuer = moto.worker(&["--visibility-timeout", "3s"]);

    let answers = posts.await.unwrap();
    assert_eq!(answers, reference());
    let exit = tokio::task::spawn_blocking(move || graceful.0.wait().unwrap())
        .await
        .unwrap();
    assert!(exit.success(), "SIGTERM ends a worker cleanly: {exit:?}");
    wait_for_depth(
        queue(&aws, "recog-requests").await.as_ref(),
        Depth::default(),
    )
    .await;
    assert_eq!(objects(&aws, "recog-output").await, 100);
}

#[tokio::test(flavor = "multi_thread")]
async fn queue_and_bucket_outage_is_refused_clearly_and_recovered_from_by_itself() {
    let moto = Moto::start();
    moto.init(&[]);
    let mut gate = Gate::open(moto.address()).await;
    let timeout = Duration::from_secs(15);
    let url = gate.url();
    let mut args = vec![
        "--aws-endpoint-url",
        url.as_str(),
        "--request-timeout",
        "15s",
    ];
    let edge = Server::start_edge(&args, &moto.env());
    args.truncate(2);
    let worker = ["worker", "--threads", "1"].iter().chain(&args).copied();
    let _worker = Process(
        recog(&worker.collect::<Vec<_>>(), &moto.env())
            .spawn()
            .unwrap(),
    );

    // A client that gives up a little after the edge's deadline: a request that hangs past
    // the deadline fails the test.
    let client = reqwest::Client::builder()
        .timeout(timeout + Duration::from_secs(5))
        .build()
        .unwrap();
    let expected = reference();
    let post = |name: &'static str| {
        let (client, url) = (client.clone(), edge.url("/"));
        async move {
            let bytes = std::fs::read(images_dir().join(name)).unwrap();
            upload(&client, &url, "myfile", name, bytes).await
        }
    };
    let (status, label) = post("test_36.JPEG").await;
    assert_eq!(
        (status, label.as_str()),
        (200, expected["test_36.JPEG"].as_str())
    );

    gate.close();
    let outage = std::time::Instant::now();
    let mut refused = 0;
    while outage.elapsed() < Duration::from_secs(10) {
        let (status, reason) = post("test_0.JPEG").await;
        assert!(matches!(status, 503 | 504), "{status} {reason}");
        assert!(
            !reason.trim().is_empty() && !reason.trim().contains('\n'),
            "one line: {reason:?}"
        );
        refused += 1;
        tokio::time::sleep(Duration::from_millis(500)).await;
    }
    assert!(refused >= 2, "requests were made during the outage");
    gate.reopen().await;

    // The edge's reply listener and the worker reconnect by themselves.
    let (status, label) = post("test_36.JPEG").await;
    assert_eq!(
        (status, label.as_str()),
        (200, expected["test_36.JPEG"].as_str())
    );
    assert_eq!(classify_course(&edge.url("/")).await, expected);
}

#[tokio::test(flavor = "multi_thread")]
async fn hung_bucket_and_queue_server_gets_a_504_by_the_deadline() {
    let moto = Moto::start();
    moto.init(&[]);
    let mut gate = Gate::open(moto.address()).await;
    let url = gate.url();
    let edge = Server::start_edge(
        &["--aws-endpoint-url", &url, "--request-timeout", "3s"],
        &moto.env(),
    );
    let _worker = Process(
        recog(
            &["worker", "--threads", "1", "--aws-endpoint-url", &url],
            &moto.env(),
        )
        .spawn()
        .unwrap(),
    );
    // A client that waits well past the edge's deadline: a request that hangs fails the test.
    let client = reqwest::Client::builder()
        .timeout(Duration::from_secs(10))
        .build()
        .unwrap();
    let bytes = std::fs::read(images_dir().join("test_36.JPEG")).unwrap();
    let edge_url = edge.url("/");
    let post = || upload(&client, &edge_url, "myfile", "test_36.JPEG", bytes.clone());

    gate.stall().await;
    let (status, reason) = post().await;
    assert_eq!(
        (status, reason.as_str()),
        (504, "no answer within the request timeout\n")
    );

    gate.reopen().await;
    let mut answer = post().await;
    for _ in 0..10 {
        if answer.0 == 200 {
            break;
        }
        answer = post().await;
    }
    assert_eq!(answer, (200, reference()["test_36.JPEG"].clone()));
}

fn launch(role: &str) -> Launch {
    Launch {
        ami: "ami-12345678".into(),
        instance_type: "t3.micro".into(),
        subnet: None,
        security_groups: Vec::new(),
        instance_profile: None,
        user_data: "#!/bin/bash\nsystemctl restart recog-worker.service\n".into(),
        role: role.into(),
    }
}

fn tag<'a>(instance: &'a aws_sdk_ec2::types::Instance, key: &str) -> Option<&'a str> {
    instance
        .tags()
        .iter()
        .find(|t| t.key() == Some(key))
        .and_then(|t| t.value())
}

#[tokio::test(flavor = "multi_thread")]
async fn ec2_fleet_launches_tagged_instances_and_terminates_the_surplus() {
    let moto = Moto::start();
    let config = moto.config().await;
    let fleet = Ec2Fleet::new(&config, launch("test-workers"));
    let other = Ec2Fleet::new(&config, launch("someone-else"));
    other.scale_to(1).await.unwrap();

    fleet.scale_to(3).await.unwrap();
    let census = fleet.census().await.unwrap();
    assert_eq!(census.pending + census.running, 3);
    let instances = fleet.instances().await.unwrap();
    let mut names: Vec<&str> = instances.iter().filter_map(|i| tag(i, "Name")).collect();
    names.sort();
    assert_eq!(
        names,
        ["recog-worker-1", "recog-worker-2", "recog-worker-3"]
    );
    assert!(
        instances
            .iter()
            .all(|i| tag(i, ROLE_TAG) == Some("test-workers"))
    );

    let ec2 = aws_sdk_ec2::Client::new(&config);
    let id = instances[0].instance_id().unwrap();
    let attribute = ec2
        .describe_instance_attribute()
        .instance_id(id)
        .attribute(aws_sdk_ec2::types::InstanceAttributeName::UserData)
        .send()
        .await
        .unwrap();
    let encoded = attribute.user_data().and_then(|u| u.value()).unwrap();
    let decoded = base64::engine::general_purpose::STANDARD
        .decode(encoded)
        .unwrap();
    assert_eq!(String::from_utf8(decoded).unwrap(), launch("x").user_data);

    fleet.scale_to(1).await.unwrap();
    let census = fleet.census().await.unwrap();
    assert_eq!(census.pending + census.running, 1);
    assert_eq!(
        other.census().await.unwrap().running,
        1,
        "another fleet's instances are left alone"
    );
}

#[tokio::test(flavor = "multi_thread")]
async fn recog_scaler_launches_workers_for_a_queue_on_moto() {
    let moto = Moto::start();
    moto.init(&[]);
    let aws = moto.aws().await;
    let requests = queue(&aws, "recog-requests").await;
    for i in 0..6 {
        requests.send(format!("request {i}")).await.unwrap();
    }

    let args = [
        "scaler",
        "--aws-endpoint-url",
        &moto.url,
        "--ami",
        "ami-12345678",
        "--max-workers",
        "5",
        "--scale-interval",
        "200ms",
    ];
    let _scaler = Process(recog(&args, &moto.env()).spawn().unwrap());
    let fleet = Ec2Fleet::new(&moto.config().await, launch("recog-worker"));
    for _ in 0..300 {
        let census = fleet.census().await.unwrap();
        if census.pending + census.running == 3 {
            return;
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    panic!(
        "the scaler never launched ceil(6/2) = 3 workers: {:?}",
        fleet.census().await.unwrap()
    );
}
