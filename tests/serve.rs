//! `recog serve` end to end: the real binary on a free port, the real model, the 100 course
//! images posted at once as the course's workload generator does.

mod common;

use common::{Server, get_text, images_dir, reference, upload};
use reqwest::multipart::{Form, Part};

/// `image -> top-1 label` from the PyTorch reference run by scripts/setup.
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

/// Posts every image at once, one connection each, and returns `(name, status, body)`.
async fn post_all(url: &str, images: Vec<(String, Vec<u8>)>) -> Vec<(String, u16, String)> {
    let client = reqwest::Client::new();
    let requests = images.into_iter().enumerate().map(|(i, (name, bytes))| {
        let client = client.clone();
        let url = url.to_owned();
        let field = if i % 2 == 0 { "myfile" } else { "inputFile" };
        tokio::spawn(async move {
            let (status, body) = upload(&client, &url, field, &name, bytes).await;
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
        upload(&client, &server.url("/"), "myfile", &name, bytes)
            .await
            .0,
        200
    );
    let metrics = get_text(&client, &server.url("/metrics")).await;
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
