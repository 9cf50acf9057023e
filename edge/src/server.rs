//! Accepting connections and shutting down gracefully.

use std::convert::Infallible;
use std::sync::Arc;
use std::time::Duration;

use hyper::server::conn::http1;
use hyper::service::service_fn;
use hyper_util::rt::{TokioIo, TokioTimer};
use hyper_util::server::graceful::GracefulShutdown;
use tokio::net::TcpListener;
use tokio_util::sync::CancellationToken;

use crate::service::Edge;

/// How long a client may take to send its request head.
const HEADER_TIMEOUT: Duration = Duration::from_secs(10);

/// Serves `edge` on `listener` until `shutdown`, then gives open connections the configured
/// grace period to finish.
pub(crate) async fn serve(listener: TcpListener, edge: Arc<Edge>, shutdown: CancellationToken) {
    let grace = edge.config.grace;
    let mut http = http1::Builder::new();
    // Half-close: a client that shuts down its sending side after the request still gets
    // the answer.
    http.timer(TokioTimer::new())
        .header_read_timeout(HEADER_TIMEOUT)
        .half_close(true);
    let connections = GracefulShutdown::new();

    loop {
        let (stream, peer) = tokio::select! {
            () = shutdown.cancelled() => break,
            accepted = listener.accept() => match accepted {
                Ok(accepted) => accepted,
                Err(error) => {
                    tracing::warn!(%error, "Accept failed");
                    tokio::time::sleep(Duration::from_millis(50)).await;
                    continue;
                }
            },
        };
        let edge = edge.clone();
        let service = service_fn(move |request| {
            let edge = edge.clone();
            async move { Ok::<_, Infallible>(edge.handle(request).await) }
        });
        let connection = connections.watch(http.serve_connection(TokioIo::new(stream), service));
        tokio::spawn(async move {
            if let Err(error) = connection.await {
                tracing::debug!(%error, %peer, "Connection ended with an error");
            }
        });
    }

    drop(listener);
    tracing::info!("Shutting down: draining open connections");
    let draining = connections.shutdown();
    tokio::pin!(draining);
    tokio::select! {
        () = &mut draining => return,
        () = tokio::time::sleep(grace) => {}
    }
    // Requests still waiting for their answer are told so; those still sending their upload
    // are cut off.
    tracing::warn!(
        ?grace,
        waiting = edge.waiters.len(),
        "Grace period over, answering what waits with 503"
    );
    edge.waiters.abandon_all();
    let _ = tokio::time::timeout(ANSWER_ABANDONED, draining).await;
}

/// How long connections get to send their 503s once the grace period is over.
const ANSWER_ABANDONED: Duration = Duration::from_secs(1);
