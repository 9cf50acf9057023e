//! A TCP gate in front of a server on loopback, for outage tests: while open it forwards every
//! connection; closing it cuts the open connections and refuses new ones, as if the server had
//! gone away; stalling it accepts connections and never answers, as a hung server does;
//! reopening forwards again on the same port, the server's state intact.

use std::net::SocketAddr;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use tokio::net::{TcpListener, TcpStream};
use tokio::task::JoinHandle;

pub struct Gate {
    address: SocketAddr,
    target: SocketAddr,
    accept: Option<JoinHandle<()>>,
    connections: Arc<Mutex<Vec<JoinHandle<()>>>>,
}

impl Gate {
    /// An open gate on a free loopback port in front of `target`.
    pub async fn open(target: SocketAddr) -> Gate {
        let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
        let mut gate = Gate {
            address: listener.local_addr().unwrap(),
            target,
            accept: None,
            connections: Arc::default(),
        };
        gate.forward(listener, false);
        gate
    }

    /// The gate's address as an HTTP base URL.
    pub fn url(&self) -> String {
        format!("http://{}", self.address)
    }

    /// Cuts every open connection and stops listening.
    pub fn close(&mut self) {
        if let Some(accept) = self.accept.take() {
            accept.abort();
        }
        for connection in self.connections.lock().unwrap().drain(..) {
            connection.abort();
        }
    }

    /// Cuts every open connection, then accepts new ones and holds them unanswered.
    pub async fn stall(&mut self) {
        self.close();
        self.listen(true).await;
    }

    /// Cuts every open or stalled connection and forwards new ones again.
    pub async fn reopen(&mut self) {
        self.close();
        self.listen(false).await;
    }

    async fn listen(&mut self, stalled: bool) {
        for _ in 0..50 {
            match TcpListener::bind(self.address).await {
                Ok(listener) => return self.forward(listener, stalled),
                // The aborted accept task may not have dropped its listener yet.
                Err(_) => tokio::time::sleep(Duration::from_millis(100)).await,
            }
        }
        panic!("cannot listen on {} again", self.address);
    }

    fn forward(&mut self, listener: TcpListener, stalled: bool) {
        let (target, connections) = (self.target, self.connections.clone());
        self.accept = Some(tokio::spawn(async move {
            while let Ok((mut inbound, _)) = listener.accept().await {
                let connection = tokio::spawn(async move {
                    if stalled {
                        return std::future::pending().await;
                    }
                    if let Ok(mut outbound) = TcpStream::connect(target).await {
                        let _ = tokio::io::copy_bidirectional(&mut inbound, &mut outbound).await;
                    }
                });
                let mut connections = connections.lock().unwrap();
                connections.retain(|c| !c.is_finished());
                connections.push(connection);
            }
        }));
    }
}

impl Drop for Gate {
    fn drop(&mut self) {
        self.close();
    }
}
