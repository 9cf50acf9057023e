//! A real Prometheus (Debian's package) scrapes a running `recog serve`; after a small load its
//! HTTP API has the request counter and a latency quantile, and every metric the Grafana
//! dashboard queries.

mod common;

use std::net::TcpListener;
use std::path::Path;
use std::process::{Child, Command, Stdio};
use std::time::Duration;

use common::{ROOT, Server, images_dir, upload};
use reqwest::Url;
use serde_json::Value;

/// A Prometheus server on a free loopback port, killed on drop.
struct Prometheus {
    child: Child,
    url: String,
    _dir: tempfile::TempDir,
}

impl Prometheus {
    fn start(target: &str) -> Prometheus {
        let dir = tempfile::tempdir().unwrap();
        let config = format!(
            "global:\n  scrape_interval: 1s\nscrape_configs:\n  - job_name: recog\n    static_configs:\n      - targets: [\"{target}\"]\n"
        );
        std::fs::write(dir.path().join("prometheus.yml"), config).unwrap();
        let port = TcpListener::bind("127.0.0.1:0")
            .unwrap()
            .local_addr()
            .unwrap()
            .port();
        let child = Command::new("prometheus")
            .arg(format!(
                "--config.file={}",
                dir.path().join("prometheus.yml").display()
            ))
            .arg(format!(
                "--storage.tsdb.path={}",
                dir.path().join("data").display()
            ))
            .arg(format!("--web.listen-address=127.0.0.1:{port}"))
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .expect("scripts/setup installs Debian's prometheus package");
        Prometheus {
            child,
            url: format!("http://127.0.0.1:{port}"),
            _dir: dir,
        }
    }

    /// Runs an instant query and returns its result vector.
    async fn query(&self, client: &reqwest::Client, query: &str) -> Vec<Value> {
        let url = Url::parse_with_params(&format!("{}/api/v1/query", self.url), [("query", query)]);
        let Ok(response) = client.get(url.unwrap()).send().await else {
            return Vec::new();
        };
        let body: Value = response.json().await.unwrap_or_default();
        body["data"]["result"]
            .as_array()
            .cloned()
            .unwrap_or_default()
    }

    /// Polls `query` once a second until it has a result, for up to a minute.
    async fn wait_for(&self, client: &reqwest::Client, query: &str) -> Vec<Value> {
        for _ in 0..60 {
            let result = self.query(client, query).await;
            if !result.is_empty() {
                return result;
            }
            tokio::time::sleep(Duration::from_secs(1)).await;
        }
        panic!("Prometheus never answered {query}");
    }
}

impl Drop for Prometheus {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// Metric names a PromQL expression reads, without histogram suffixes.
fn metric_names(expr: &str) -> Vec<String> {
    let mut names = Vec::new();
    for (start, _) in expr.match_indices("recog_") {
        let name: String = expr[start..]
            .chars()
            .take_while(|c| c.is_ascii_alphanumeric() || *c == '_')
            .collect();
        let base = ["_bucket", "_sum", "_count"]
            .iter()
            .fold(name, |n, s| n.trim_end_matches(s).to_owned());
        names.push(base);
    }
    names
}

#[tokio::test(flavor = "multi_thread")]
async fn prometheus_scrapes_requests_latency_and_every_dashboard_metric() {
    let server = Server::start(&[]);
    let prometheus = Prometheus::start(server.url("").trim_start_matches("http://"));
    let client = reqwest::Client::new();

    for name in ["test_0.JPEG", "test_1.JPEG", "test_2.JPEG"] {
        let bytes = std::fs::read(images_dir().join(name)).unwrap();
        let (status, _) = upload(&client, &server.url("/"), "myfile", name, bytes).await;
        assert_eq!(status, 200);
    }

    let requests = prometheus
        .wait_for(
            &client,
            r#"recog_http_requests_total{route="classify",status="200"} >= 3"#,
        )
        .await;
    assert_eq!(requests[0]["value"][1], "3");
    let p95 = prometheus
        .wait_for(
            &client,
            "histogram_quantile(0.95, sum by (le) (recog_http_request_duration_seconds_bucket))",
        )
        .await;
    let seconds: f64 = p95[0]["value"][1].as_str().unwrap().parse().unwrap();
    assert!(seconds > 0.0, "p95 {seconds}");

    let dashboard: Value = serde_json::from_str(
        &std::fs::read_to_string(Path::new(ROOT).join("monitoring/grafana-dashboard.json"))
            .unwrap(),
    )
    .unwrap();
    let exprs: Vec<String> = dashboard["panels"]
        .as_array()
        .unwrap()
        .iter()
        .flat_map(|panel| panel["targets"].as_array().unwrap().iter())
        .map(|target| target["expr"].as_str().unwrap().to_owned())
        .collect();
    assert!(exprs.len() >= 6);
    for name in exprs.iter().flat_map(|expr| metric_names(expr)) {
        let series = prometheus
            .wait_for(
                &client,
                &format!("count({{__name__=~\"{name}(_bucket)?\"}})"),
            )
            .await;
        assert!(
            !series.is_empty(),
            "dashboard metric {name} is not exported"
        );
    }
}
