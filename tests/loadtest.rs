//! `recog loadtest` end to end: the real binary posting the 100 course images to a real
//! `recog serve`, checked against the PyTorch reference answers.

mod common;

use std::path::Path;
use std::process::{Command, Output};

use common::{ROOT, Server, images_dir};
use serde_json::Value;

const EXPECTED: &str = "models/reference/efficientnet_lite0-top1.csv";

/// Runs `recog loadtest url --images .. --expected expected extra` in the root folder.
fn loadtest(url: &str, expected: &str, extra: &[&str]) -> Output {
    let output = Command::new(env!("CARGO_BIN_EXE_recog"))
        .current_dir(ROOT)
        .args(["loadtest", url, "--expected", expected, "--images"])
        .arg(images_dir())
        .args(extra)
        .output()
        .expect("recog binary starts");
    println!("{}", String::from_utf8_lossy(&output.stdout));
    eprintln!("{}", String::from_utf8_lossy(&output.stderr));
    output
}

fn read_json(path: &Path) -> Value {
    serde_json::from_str(&std::fs::read_to_string(path).unwrap()).unwrap()
}

#[test]
fn closed_loop_of_100_answers_every_course_image_correctly() {
    let server = Server::start(&["--reply-format", "name-label"]);
    let out = tempfile::tempdir().unwrap();
    let (json, svg) = (out.path().join("r.json"), out.path().join("p.svg"));
    let output = loadtest(
        &server.url("/"),
        EXPECTED,
        &[
            "--json",
            json.to_str().unwrap(),
            "--plot",
            svg.to_str().unwrap(),
        ],
    );
    assert_eq!(output.status.code(), Some(0));

    let summary = read_json(&json);
    assert_eq!(summary["mode"], "closed");
    assert_eq!(summary["concurrency"], 100);
    assert_eq!(summary["requests"], 100);
    assert_eq!(summary["correct"], 100);
    assert_eq!(summary["wrong"], 0);
    assert_eq!(summary["failed"], 0);
    assert_eq!(summary["errors"], serde_json::json!({}));

    // All 100 requests leave at the start, so the last answer's latency is most of the wall
    // time: latencies are measured, not lost.
    let (max_ms, wall_ms) = (&summary["latency_ms"]["max"], &summary["wall_seconds"]);
    let (max_ms, wall_ms) = (max_ms.as_f64().unwrap(), wall_ms.as_f64().unwrap() * 1000.0);
    assert!(
        max_ms > wall_ms / 2.0 && max_ms <= wall_ms * 1.001,
        "{summary}"
    );

    let svg = std::fs::read_to_string(&svg).unwrap();
    assert!(
        svg.starts_with("<svg") || svg.starts_with("<?xml"),
        "{svg:.100}"
    );
}

#[test]
fn open_loop_at_50_per_second_sends_exactly_the_requests_asked_for() {
    let server = Server::start(&["--reply-format", "name-label"]);
    let out = tempfile::tempdir().unwrap();
    let json = out.path().join("r.json");
    let flags = ["--rate", "50", "--requests", "20", "--field", "inputFile"];
    let output = loadtest(
        &server.url("/classify"),
        EXPECTED,
        &[&flags[..], &["--json", json.to_str().unwrap()]].concat(),
    );
    assert_eq!(output.status.code(), Some(0));

    let summary = read_json(&json);
    assert_eq!(summary["mode"], "open");
    assert_eq!(summary["rate"], 50.0);
    assert_eq!(summary["requests"], 20);
    assert_eq!(summary["correct"], 20);
    assert_eq!(summary["failed"], 0);
}

#[test]
fn a_wrong_expected_label_fails_with_one_line() {
    let server = Server::start(&[]);
    let out = tempfile::tempdir().unwrap();
    let expected = out.path().join("expected.csv");
    let reference = std::fs::read_to_string(Path::new(ROOT).join(EXPECTED)).unwrap();
    std::fs::write(
        &expected,
        reference.replacen("test_0.JPEG,", "test_0.JPEG,goldfish,", 1),
    )
    .unwrap();

    let output = loadtest(
        &server.url("/"),
        expected.to_str().unwrap(),
        &["--requests", "3"],
    );
    assert_eq!(output.status.code(), Some(1));
    let stdout = String::from_utf8_lossy(&output.stdout);
    assert!(
        stdout.contains("Answers   2 correct, 1 wrong, 0 unchecked"),
        "{stdout}"
    );
    let stderr = String::from_utf8_lossy(&output.stderr);
    let last = stderr.lines().last().unwrap();
    assert_eq!(last, "Error: 1 wrong and 0 failed of 3 requests");
}

#[test]
fn a_run_in_which_nothing_is_answered_fails_even_unchecked() {
    let closed = std::net::TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap();
    let output = common::recog(
        &[
            "loadtest",
            &format!("http://{closed}/"),
            "--requests",
            "3",
            "--images",
        ],
        &[],
    )
    .arg(images_dir())
    .output()
    .unwrap();
    assert_eq!(output.status.code(), Some(1));
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert_eq!(
        stderr.lines().last(),
        Some("Error: 0 wrong and 3 failed of 3 requests")
    );
}
