//! SIGTERM drains: the edge stops accepting, lets the requests in flight finish, then exits;
//! a worker finishes and acknowledges its batch, then exits. Nothing is lost either way, not
//! even when the log has nowhere to go.

mod common;

use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::Duration;

use common::{Server, get_text, images_dir, recog, sample, upload};

fn terminate(pid: u32) {
    let status = std::process::Command::new("kill")
        .args(["-TERM", &pid.to_string()])
        .status();
    assert!(status.unwrap().success());
}

async fn inflight(client: &reqwest::Client, server: &Server) -> usize {
    let metrics = get_text(client, &server.url("/metrics")).await;
    sample(&metrics, "recog_inflight_requests").unwrap() as usize
}

/// Posts the 100 course images and, once each is answered or waiting, sends SIGTERM; returns
/// every reply and how the server exited.
async fn terminate_mid_load(mut server: Server) -> (Vec<(u16, String)>, std::process::ExitStatus) {
    let client = reqwest::Client::new();
    let done = Arc::new(AtomicUsize::new(0));

    let posts: Vec<_> = (0..100)
        .map(|i| {
            let (client, url, done) = (client.clone(), server.url("/"), done.clone());
            tokio::spawn(async move {
                let name = format!("test_{i}.JPEG");
                let bytes = std::fs::read(images_dir().join(&name)).unwrap();
                let answer = upload(&client, &url, "myfile", &name, bytes).await;
                done.fetch_add(1, Ordering::SeqCst);
                answer
            })
        })
        .collect();
    while inflight(&client, &server).await + done.load(Ordering::SeqCst) < 100 {
        tokio::time::sleep(Duration::from_millis(5)).await;
    }
    terminate(server.pid());

    let mut replies = Vec::new();
    for post in posts {
        replies.push(post.await.unwrap());
    }
    let exit = tokio::task::spawn_blocking(move || server.wait())
        .await
        .unwrap();
    (replies, exit)
}

#[tokio::test(flavor = "multi_thread")]
async fn sigterm_lets_every_request_in_flight_finish() {
    let server = Server::start(&["--grace", "60s"]);
    let (replies, exit) = terminate_mid_load(server).await;
    for (status, body) in replies {
        assert_eq!(status, 200, "{body}");
    }
    assert!(exit.success(), "{exit:?}");
}

#[tokio::test(flavor = "multi_thread")]
async fn past_the_grace_period_what_still_waits_gets_a_503_with_its_reason() {
    let server = Server::start(&["--grace", "0s", "--max-workers", "1"]);
    let (replies, exit) = terminate_mid_load(server).await;
    let refused: Vec<_> = replies
        .iter()
        .filter(|(status, _)| *status != 200)
        .collect();
    assert!(
        !refused.is_empty(),
        "the signal came once every image was answered"
    );
    for (status, body) in refused {
        assert_eq!(
            (*status, body.as_str()),
            (
                503,
                "the server shut down before the answer came, retry shortly\n"
            )
        );
    }
    assert!(exit.success(), "{exit:?}");
}

#[tokio::test(flavor = "multi_thread")]
async fn a_closed_stderr_stops_neither_the_workers_nor_the_shutdown() {
    let port = std::net::TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port();
    let data = tempfile::tempdir().unwrap();
    let listen = format!("127.0.0.1:{port}");
    let mut child = recog(&["serve", "--listen", &listen, "--data-dir"], &[])
        .arg(data.path())
        .stderr(std::process::Stdio::piped())
        .spawn()
        .unwrap();
    // Every log line now meets a closed pipe, as under `recog serve 2>&1 | head -n 2`.
    drop(child.stderr.take());

    let client = reqwest::Client::new();
    let url = format!("http://{listen}/");
    let bytes = std::fs::read(images_dir().join("test_0.JPEG")).unwrap();
    let mut answer = None;
    for _ in 0..600 {
        match client.get(format!("http://{listen}/healthz")).send().await {
            Ok(_) => {
                answer = Some(upload(&client, &url, "myfile", "test_0.JPEG", bytes).await);
                break;
            }
            Err(_) => tokio::time::sleep(Duration::from_millis(100)).await,
        }
    }
    assert_eq!(answer, Some((200, "lotion".to_owned())));

    terminate(child.id());
    let exit = tokio::task::spawn_blocking(move || child.wait())
        .await
        .unwrap()
        .unwrap();
    assert!(exit.success(), "{exit:?}");
}
