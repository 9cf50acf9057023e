//! Starting the real `recog serve` on a free port and talking to it, shared by the
//! integration tests.
#![allow(dead_code, reason = "each test file uses only part of this module")]

use std::io::{BufRead, BufReader};
use std::net::SocketAddr;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::sync::{Arc, Mutex};

/// The root package's folder; the binary runs here so that its default paths resolve.
pub const ROOT: &str = env!("CARGO_MANIFEST_DIR");

/// The 100 course images.
pub fn images_dir() -> PathBuf {
    Path::new(ROOT).join("../shared/data/imagenet-100")
}

/// `image -> top-1 label` from the PyTorch reference run by scripts/setup.
pub fn reference() -> std::collections::HashMap<String, String> {
    let csv = Path::new(ROOT).join("models/reference/efficientnet_lite0-top1.csv");
    let text = std::fs::read_to_string(&csv).expect("scripts/setup writes the reference answers");
    let rows = text
        .lines()
        .skip(1)
        .map(|line| line.split(',').collect::<Vec<_>>());
    rows.map(|fields| (fields[0].to_owned(), fields[1].to_owned()))
        .collect()
}

/// A running `recog serve`, killed on drop.
pub struct Server {
    child: Child,
    addr: SocketAddr,
    data: tempfile::TempDir,
    log: Log,
}

/// Every line a server has logged so far.
type Log = Arc<Mutex<Vec<String>>>;

impl Server {
    /// Starts `recog serve` on 127.0.0.1:0 over a fresh data directory, with `extra` flags.
    pub fn start(extra: &[&str]) -> Server {
        Server::start_with_env(extra, &[])
    }

    /// Starts `recog serve` like [`Server::start`], with environment `env` added.
    pub fn start_with_env(extra: &[&str], env: &[(&str, &str)]) -> Server {
        let data = tempfile::tempdir().unwrap();
        let mut args = vec!["serve", "--listen", "127.0.0.1:0", "--data-dir"];
        args.push(data.path().to_str().unwrap());
        args.extend(extra);
        let mut child = recog(&args, env)
            .stderr(Stdio::piped())
            .spawn()
            .expect("recog binary starts");
        let (addr, log) = wait_for_listening(&mut child);
        Server {
            child,
            addr,
            data,
            log,
        }
    }

    /// Starts `recog edge` on 127.0.0.1:0 with `extra` flags and environment `env`.
    pub fn start_edge(extra: &[&str], env: &[(&str, &str)]) -> Server {
        let mut args = vec!["edge", "--listen", "127.0.0.1:0"];
        args.extend(extra);
        let mut child = recog(&args, env)
            .stderr(Stdio::piped())
            .spawn()
            .expect("recog binary starts");
        let (addr, log) = wait_for_listening(&mut child);
        Server {
            child,
            addr,
            data: tempfile::tempdir().unwrap(),
            log,
        }
    }

    /// The server's process id.
    pub fn pid(&self) -> u32 {
        self.child.id()
    }

    /// Waits for the server to exit by itself.
    pub fn wait(&mut self) -> std::process::ExitStatus {
        self.child.wait().unwrap()
    }

    /// `http://<its address><path>`.
    pub fn url(&self, path: &str) -> String {
        format!("http://{}{path}", self.addr)
    }

    /// The lines it has logged so far.
    pub fn log(&self) -> Vec<String> {
        self.log.lock().unwrap().clone()
    }

    /// How many answers its output bucket holds.
    pub fn answers_stored(&self) -> usize {
        let answers = std::fs::read_dir(self.data.path().join("output")).unwrap();
        answers
            .map(|entry| entry.unwrap().file_name())
            .filter(|name| !name.to_string_lossy().starts_with('.'))
            .count()
    }

    /// Its buckets' directory.
    pub fn data_dir(&self) -> &Path {
        self.data.path()
    }
}

impl Drop for Server {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// `recog <args>`, run in the repository root with `env` added.
pub fn recog(args: &[&str], env: &[(&str, &str)]) -> Command {
    let mut command = Command::new(env!("CARGO_BIN_EXE_recog"));
    command.current_dir(ROOT).args(args).env("RUST_LOG", "info");
    command.envs(env.iter().copied());
    command
}

/// Reads the server's log until it says where it listens; keeps reading it afterwards into
/// the returned log (and the test's own output).
fn wait_for_listening(child: &mut Child) -> (SocketAddr, Log) {
    let log = Log::default();
    let mut lines = BufReader::new(child.stderr.take().unwrap()).lines();
    for line in lines.by_ref() {
        let line = line.unwrap();
        eprintln!("{line}");
        log.lock().unwrap().push(line.clone());
        if let Some(rest) = line.split("Listening addr=").nth(1) {
            let addr = rest.split_whitespace().next().unwrap().parse().unwrap();
            let keep = log.clone();
            std::thread::spawn(move || {
                for line in lines.map_while(Result::ok) {
                    eprintln!("{line}");
                    keep.lock().unwrap().push(line);
                }
            });
            return (addr, log);
        }
    }
    panic!("recog serve exited before listening");
}

/// Posts `bytes` as file `name` in form field `field`; returns the status and body.
pub async fn upload(
    client: &reqwest::Client,
    url: &str,
    field: &str,
    name: &str,
    bytes: Vec<u8>,
) -> (u16, String) {
    let part = reqwest::multipart::Part::bytes(bytes).file_name(name.to_owned());
    let form = reqwest::multipart::Form::new().part(field.to_owned(), part);
    let response = client.post(url).multipart(form).send().await.unwrap();
    (response.status().as_u16(), response.text().await.unwrap())
}

/// The body of `GET url`.
pub async fn get_text(client: &reqwest::Client, url: &str) -> String {
    client.get(url).send().await.unwrap().text().await.unwrap()
}

/// The value of the sample whose name and labels are exactly `series`, if exported.
pub fn sample(metrics: &str, series: &str) -> Option<f64> {
    let line = metrics
        .lines()
        .find(|line| line.split_whitespace().next() == Some(series))?;
    line.split_whitespace().nth(1)?.parse().ok()
}

/// Polls `/metrics` until `series` has a value that passes `until`, for up to `limit`;
/// returns the last scrape.
pub async fn wait_for_sample(
    client: &reqwest::Client,
    server: &Server,
    series: &str,
    until: impl Fn(f64) -> bool,
    limit: std::time::Duration,
) -> String {
    let deadline = std::time::Instant::now() + limit;
    loop {
        let metrics = get_text(client, &server.url("/metrics")).await;
        if sample(&metrics, series).is_some_and(&until) || std::time::Instant::now() > deadline {
            return metrics;
        }
        tokio::time::sleep(std::time::Duration::from_millis(100)).await;
    }
}

/// The 100 course images posted at once to `url`, each answering `(image, status, body)`.
pub fn post_course(
    client: &reqwest::Client,
    url: &str,
) -> Vec<tokio::task::JoinHandle<(String, u16, String)>> {
    reference()
        .into_keys()
        .map(|name| {
            let (client, url) = (client.clone(), url.to_owned());
            tokio::spawn(async move {
                let bytes = std::fs::read(images_dir().join(&name)).unwrap();
                let (status, body) = upload(&client, &url, "myfile", &name, bytes).await;
                (name, status, body)
            })
        })
        .collect()
}

/// Waits for every post and checks that each was answered 200 with the reference label.
pub async fn assert_course_answered(posts: Vec<tokio::task::JoinHandle<(String, u16, String)>>) {
    let expected = reference();
    for post in posts {
        let (name, status, body) = post.await.unwrap();
        assert_eq!(
            (status, body.as_str()),
            (200, expected[&name].as_str()),
            "{name}"
        );
    }
}

/// The process ids of the workers a `recog serve` has started, from its log.
pub fn worker_pids(server: &Server) -> Vec<u32> {
    let pid = |line: &String| {
        let rest = line.split("Worker started").nth(1)?;
        rest.split("pid=")
            .nth(1)?
            .split_whitespace()
            .next()?
            .parse()
            .ok()
    };
    server.log().iter().filter_map(pid).collect()
}
