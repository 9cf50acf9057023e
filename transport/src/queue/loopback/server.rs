//! The serving side: a broker's queues over HTTP/1.1.

use std::sync::Arc;
use std::time::Duration;

use bytes::Bytes;
use http::{Method, Request, Response, StatusCode};
use http_body_util::{BodyExt, Full};
use hyper::body::Incoming;
use hyper::service::service_fn;
use hyper_util::rt::TokioIo;
use serde::Serialize;
use serde::de::DeserializeOwned;
use tokio::net::TcpListener;

use super::{Receipts, Receive, Send, valid_name};
use crate::Error;
use crate::queue::{Broker, Queue};

/// Serves `broker`'s queues on `listener` to callers presenting `token`, until the process ends.
pub async fn serve(listener: TcpListener, broker: Arc<dyn Broker>, token: String) {
    let token: Arc<str> = format!("Bearer {token}").into();
    loop {
        let stream = match listener.accept().await {
            Ok((stream, _)) => stream,
            Err(error) => {
                tracing::warn!(%error, "Queue service accept failed");
                tokio::time::sleep(Duration::from_millis(100)).await;
                continue;
            }
        };
        let (broker, token) = (broker.clone(), token.clone());
        let service = service_fn(move |request| {
            let (broker, token) = (broker.clone(), token.clone());
            async move { Ok::<_, std::convert::Infallible>(answer(&*broker, &token, request).await) }
        });
        tokio::spawn(async move {
            let connection = hyper::server::conn::http1::Builder::new()
                .serve_connection(TokioIo::new(stream), service);
            if let Err(error) = connection.await {
                tracing::debug!(%error, "Queue service connection ended");
            }
        });
    }
}

async fn answer(
    broker: &dyn Broker,
    token: &str,
    request: Request<Incoming>,
) -> Response<Full<Bytes>> {
    let authorized = request
        .headers()
        .get(http::header::AUTHORIZATION)
        .is_some_and(|value| value.as_bytes() == token.as_bytes());
    if !authorized {
        return text(
            StatusCode::UNAUTHORIZED,
            "missing or wrong queue token".into(),
        );
    }
    match route(broker, request).await {
        Ok(response) => response,
        Err(Error::NoSuchQueue(name)) => text(StatusCode::NOT_FOUND, name),
        Err(error @ Error::Metadata(_)) => text(StatusCode::BAD_REQUEST, error.to_string()),
        Err(error) => text(StatusCode::INTERNAL_SERVER_ERROR, error.to_string()),
    }
}

async fn route(
    broker: &dyn Broker,
    request: Request<Incoming>,
) -> Result<Response<Full<Bytes>>, Error> {
    let path = request.uri().path().to_owned();
    let mut segments = path.strip_prefix("/queues/").unwrap_or_default().split('/');
    let (name, operation) = (segments.next().unwrap_or_default(), segments.next());
    if !valid_name(name) || segments.next().is_some() {
        return Ok(text(StatusCode::NOT_FOUND, format!("no route {path}")));
    }
    let method = request.method().clone();
    let queue = match (&method, operation) {
        (&Method::POST, None) => return broker.create(name).await.map(|_| empty()),
        _ => broker.open(name).await?,
    };
    match (&method, operation) {
        (&Method::GET, None) => Ok(empty()),
        (&Method::GET, Some("depth")) => json(&queue.depth().await?),
        (&Method::POST, Some(operation)) => operate(&*queue, operation, request).await,
        _ => Ok(text(
            StatusCode::NOT_FOUND,
            format!("no route {method} {path}"),
        )),
    }
}

async fn operate(
    queue: &dyn Queue,
    operation: &str,
    request: Request<Incoming>,
) -> Result<Response<Full<Bytes>>, Error> {
    match operation {
        "send" => {
            let send: Send = body(request).await?;
            queue.send(send.body).await.map(|()| empty())
        }
        "receive" => {
            let receive: Receive = body(request).await?;
            json(
                &queue
                    .receive(receive.max, Duration::from_millis(receive.wait_ms))
                    .await?,
            )
        }
        "delete" => {
            let receipts: Receipts = body(request).await?;
            queue.delete(&receipts.receipts).await.map(|()| empty())
        }
        "extend" => {
            let receipts: Receipts = body(request).await?;
            let visibility = Duration::from_millis(receipts.visibility_ms);
            queue
                .extend(&receipts.receipts, visibility)
                .await
                .map(|()| empty())
        }
        _ => Ok(text(
            StatusCode::NOT_FOUND,
            format!("no operation {operation:?}"),
        )),
    }
}

async fn body<T: DeserializeOwned>(request: Request<Incoming>) -> Result<T, Error> {
    let bytes = request
        .into_body()
        .collect()
        .await
        .map_err(|e| Error::Remote(e.to_string()))?
        .to_bytes();
    Ok(serde_json::from_slice(&bytes)?)
}

fn json(value: &impl Serialize) -> Result<Response<Full<Bytes>>, Error> {
    let mut response = Response::new(Full::new(Bytes::from(serde_json::to_vec(value)?)));
    response.headers_mut().insert(
        http::header::CONTENT_TYPE,
        http::HeaderValue::from_static("application/json"),
    );
    Ok(response)
}

fn empty() -> Response<Full<Bytes>> {
    Response::new(Full::default())
}

fn text(status: StatusCode, message: String) -> Response<Full<Bytes>> {
    let mut response = Response::new(Full::new(Bytes::from(message)));
    *response.status_mut() = status;
    response
}
