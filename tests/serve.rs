//! `recog serve` end to end: the real binary on a free port, the real model, the 100 course
//! images posted at once as the course's workload generator does.

use std::collections::HashMap;
use std::io::{BufRead, BufReader};
use std::net::SocketAddr;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};

use reqwest::multipart::{Form, Part};

const ROOT: &str = env!("CARGO_MANIFEST_DIR");

fn images_dir() -> PathBuf {
    Path::new(ROOT).join("../shared/data/imagenet-100")
}

/// A running `recog serve`, killed on drop.
struct Server {
    child: Child,
    addr: SocketAddr,
    _data: tempfile::TempDir,
}

impl Server {
    fn start(extra: &[&str]) -> Server {
        let data = tempfile::tempdir().unwrap();
        let mut child = Command::new(env!("CARGO_BIN_EXE_recog"))
            .current_dir(ROOT)
            .args(["serve", "--listen", "127.0.0.1:0", "--data-dir"])
            .arg(data.path())
            .args(extra)
            .env("RUST_LOG", "info")
            .stderr(Stdio::piped())
            .spawn()
            .expect("recog binary starts");
        let addr = wait_for_listening(&mut child);
        Server {
            child,
            addr,
            _data: data,
        }
    }

    fn url(&self, path: &str) -> String {
        format!("http://{}{path}", self.addr)
    }

    fn data_dir(&self) -> &Path {
        self._data.path()
    }
}

impl Drop for Server {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// Reads the server's log until it says where it listens; keeps draining it afterwards.
fn wait_for_listening(child: &mut Child) -> SocketAddr {
    let mut lines = BufReader::new(child.stderr.take().unwrap()).lines();
    for line in lines.by_ref() {
        let line = line.unwrap();
        eprintln!("{line}");
        if let Some(rest) = line.split("Listening addr=").nth(1) {
            let addr = rest.split_whitespace().next().unwrap().parse().unwrap();
            std::thread::spawn(move || lines.for_each(|line| eprintln!("{}", line.unwrap())));
            return addr;
        }
    }
    panic!("recog serve exited before listening");
}

/// `image -> top-1 label` from the PyTorch reference run by scripts/setup.
fn reference() -> HashMap<String, String> {
    let csv = Path::new(ROOT).join("models/reference/efficientnet_lite0-top1.csv");
    let text = std::fs::read_to_string(&csv).expect("scripts/setup writes the reference answers");
    text.lines()
        .skip(1)
        .map(|line| {
            let fields: Vec<&str> = line.split(',').collect();
            (fields[0].to_owned(), fields[1].to_owned())
        })
        .collect()
}

fn course_images() -> Vec<(String, Vec<u8>)> {
    let mut names: Vec<String> = std::fs::read_dir(images_dir())
        .unwrap()
        .map(|entry| entry.unwrap().file_name().to_string_lossy().into_owned())
        .collect();
    names.sort();
    names
        .into_iter()
        .map(|name| {
            (
                name.clone(),
                std::fs::read(images_dir().join(&name)).unwrap(),
            )
        })
        .collect()
}

async fn post(
    client: &reqwest::Client,
    url: &str,
    field: &str,
    name: &str,
    bytes: Vec<u8>,
) -> (u16, String) {
    let form = Form::new().part(
        field.to_owned(),
        Part::bytes(bytes).file_name(name.to_owned()),
    );
    let response = client.post(url).multipart(form).send().await.unwrap();
    (response.status().as_u16(), response.text().await.unwrap())
}

/// Posts every image at once, one connection each, and returns `(name, status, body)`.
async fn post_all(url: &str, images: Vec<(String, Vec<u8>)>) -> Vec<(String, u16, String)> {
    let client = reqwest::Client::new();
    let requests = images.into_iter().enumerate().map(|(i, (name, bytes))| {
        let client = client.clone();
        let url = url.to_owned();
        let field = if i % 2 == 0 { "myfile" } else { "inputFile" };
        tokio::spawn(async move {
            let (status, body) = post(&client, &url, field, &name, bytes).await;
            (name, status, body)
        })
    });
    let mut results = Vec::new();
    for request in requests.collect::<Vec<_>>() {
        results.push(request.await.unwrap());
    }
    results
}

fn assert_agrees_with_reference(results: &[(String, u16, String)]) {
    let reference = reference();
    let mut disagreements = Vec::new();
    for (name, status, body) in results {
        assert_eq!(*status, 200, "{name}: {body}");
        let (stem, label) = body.split_once(':').expect("name-label reply");
        assert_eq!(format!("{stem}.JPEG"), *name);
        if reference[name] != label {
            disagreements.push(format!(
                "{name}: recog {label:?}, PyTorch {:?}",
                reference[name]
            ));
        }
    }
    println!("disagreements with PyTorch: {disagreements:#?}");
    assert!(
        disagreements.len() <= 2,
        "{} of 100 disagree",
        disagreements.len()
    );
}

#[tokio::test(flavor = "multi_thread")]
async fn hundred_concurrent_uploads_agree_with_pytorch_on_ort() {
    let server = Server::start(&["--reply-format", "name-label"]);
    let results = post_all(&server.url("/"), course_images()).await;
    assert_eq!(results.len(), 100);
    assert_agrees_with_reference(&results);

    let stored = |bucket: &str| {
        std::fs::read_dir(server.data_dir().join(bucket))
            .unwrap()
            .filter(|e| {
                !e.as_ref()
                    .unwrap()
                    .file_name()
                    .to_string_lossy()
                    .starts_with('.')
            })
            .count()
    };
    assert_eq!(stored("input"), 100);
    assert_eq!(stored("output"), 100);
}

#[tokio::test(flavor = "multi_thread")]
async fn hundred_concurrent_uploads_agree_with_pytorch_on_tch() {
    let server = Server::start(&["--reply-format", "name-label", "--backend", "tch"]);
    let results = post_all(&server.url("/classify"), course_images()).await;
    assert_agrees_with_reference(&results);
}

#[tokio::test(flavor = "multi_thread")]
async fn broken_image_gets_422_and_its_batch_is_still_answered() {
    let server = Server::start(&[]);
    let mut images: Vec<(String, Vec<u8>)> = course_images().into_iter().take(9).collect();
    images.push(("broken.jpg".into(), b"this is text, not a JPEG".to_vec()));
    let results = post_all(&server.url("/"), images).await;

    let reference = reference();
    for (name, status, body) in &results {
        if name == "broken.jpg" {
            assert_eq!(
                (*status, body.as_str()),
                (422, "not a supported image format\n")
            );
        } else {
            assert_eq!(*status, 200, "{name}: {body}");
            assert_eq!(body, &reference[name]);
        }
    }
}

#[tokio::test(flavor = "multi_thread")]
async fn json_reply_carries_top5_and_timings() {
    let server = Server::start(&[]);
    let (name, bytes) = course_images().remove(0);
    let form = Form::new().part("myfile", Part::bytes(bytes).file_name(name.clone()));
    let client = reqwest::Client::new();
    let response = client
        .post(server.url("/"))
        .header("Accept", "application/json")
        .multipart(form)
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), 200);
    let body: serde_json::Value = response.json().await.unwrap();
    assert_eq!(body["file"], name.as_str());
    assert_eq!(body["label"], reference()[&name].as_str());
    assert_eq!(body["top5"].as_array().unwrap().len(), 5);
    assert_eq!(body["top5"][0]["label"], body["label"]);
    assert_eq!(body["timings"]["batch_size"], 1);
}

#[tokio::test(flavor = "multi_thread")]
async fn health_metrics_and_unknown_routes() {
    let server = Server::start(&[]);
    let client = reqwest::Client::new();
    let health = client.get(server.url("/healthz")).send().await.unwrap();
    assert_eq!(
        (health.status().as_u16(), health.text().await.unwrap()),
        (200, "ok".into())
    );

    let (name, bytes) = course_images().remove(0);
    assert_eq!(
        post(&client, &server.url("/"), "myfile", &name, bytes)
            .await
            .0,
        200
    );
    let metrics = client
        .get(server.url("/metrics"))
        .send()
        .await
        .unwrap()
        .text()
        .await
        .unwrap();
    assert!(
        metrics.contains(r#"recog_http_requests_total{route="classify",status="200"} 1"#),
        "{metrics}"
    );
    assert!(
        metrics.contains("recog_inference_duration_seconds_bucket"),
        "{metrics}"
    );

    let missing = client.get(server.url("/nope")).send().await.unwrap();
    assert_eq!(missing.status(), 404);
    let wrong_method = client.get(server.url("/classify")).send().await.unwrap();
    assert_eq!(wrong_method.status(), 405);
    assert_eq!(wrong_method.headers()["allow"], "POST");
}
