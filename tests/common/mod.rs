//! Starting the real `recog serve` on a free port and talking to it, shared by the
//! integration tests.
#![allow(dead_code, reason = "each test file uses only part of this module")]

use std::io::{BufRead, BufReader};
use std::net::SocketAddr;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};

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
}

impl Server {
    /// Starts `recog serve` on 127.0.0.1:0 over a fresh data directory, with `extra` flags.
    pub fn start(extra: &[&str]) -> Server {
        let data = tempfile::tempdir().unwrap();
        let mut args = vec!["serve", "--listen", "127.0.0.1:0", "--data-dir"];
        args.push(data.path().to_str().unwrap());
        args.extend(extra);
        let mut child = recog(&args, &[])
            .stderr(Stdio::piped())
            .spawn()
            .expect("recog binary starts");
        let addr = wait_for_listening(&mut child);
        Server { child, addr, data }
    }

    /// Starts `recog edge` on 127.0.0.1:0 with `extra` flags and environment `env`.
    pub fn start_edge(extra: &[&str], env: &[(&str, &str)]) -> Server {
        let mut args = vec!["edge", "--listen", "127.0.0.1:0"];
        args.extend(extra);
        let mut child = recog(&args, env)
            .stderr(Stdio::piped())
            .spawn()
            .expect("recog binary starts");
        let addr = wait_for_listening(&mut child);
        Server {
            child,
            addr,
            data: tempfile::tempdir().unwrap(),
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
