//! The routes: classify an upload, health, metrics.

use std::sync::Arc;
use std::time::Duration;

use bytes::Bytes;
use http::header::{ACCEPT, ALLOW, CONTENT_TYPE, RETRY_AFTER};
use http::{HeaderValue, Method, Request, Response, StatusCode};
use http_body_util::{BodyExt, Full, LengthLimitError, Limited};
use hyper::body::Incoming;
use metrics_exporter_prometheus::PrometheusHandle;
use recog_transport::bucket::{Bucket, Metadata};
use recog_transport::message::{self, Classification, Outcome};
use recog_transport::metrics::{HTTP_REQUEST_DURATION, HTTP_REQUESTS};
use recog_transport::queue::Queue;
use tokio::time::Instant;
use uuid::Uuid;

use crate::error::EdgeError;
use crate::reply::{self, ReplyFormat};
use crate::upload::{self, Upload};
use crate::waiters::{Unanswered, Waiters};

/// How the edge answers.
#[derive(Clone)]
pub struct Config {
    /// Plain-text reply shape.
    pub reply_format: ReplyFormat,
    /// How long a request waits for its answer before a 504.
    pub request_timeout: Duration,
    /// How long a client may take to send its body before a 408.
    pub body_timeout: Duration,
    /// Largest accepted request body, in bytes.
    pub max_body: usize,
    /// Most requests waiting for answers at once; more get 503.
    pub max_in_flight: usize,
    /// How long open connections may finish after shutdown starts.
    pub grace: Duration,
    /// Renders `/metrics`; without it the page is empty.
    pub metrics: Option<PrometheusHandle>,
}

/// The edge's shared state: where uploads go and who waits for answers.
pub struct Edge {
    pub(crate) config: Config,
    pub(crate) requests: Arc<dyn Queue>,
    pub(crate) reply_queue: String,
    pub(crate) inputs: Arc<dyn Bucket>,
    pub(crate) waiters: Arc<Waiters>,
}

/// A classified upload, ready to be written in the format the client asked for.
struct Answer {
    id: Uuid,
    file: String,
    classification: Classification,
}

impl Edge {
    /// Routes one request and records its metrics.
    pub(crate) async fn handle(
        self: Arc<Self>,
        request: Request<Incoming>,
    ) -> Response<Full<Bytes>> {
        let start = Instant::now();
        let route = route(request.uri().path());
        let response = match self.dispatch(request).await {
            Ok(response) => response,
            Err(error) => error_response(&error),
        };
        let status = response.status().as_u16().to_string();
        metrics::counter!(HTTP_REQUESTS, "route" => route, "status" => status).increment(1);
        metrics::histogram!(HTTP_REQUEST_DURATION, "route" => route)
            .record(start.elapsed().as_secs_f64());
        response
    }

    async fn dispatch(
        &self,
        request: Request<Incoming>,
    ) -> Result<Response<Full<Bytes>>, EdgeError> {
        match (request.method(), request.uri().path()) {
            (&Method::POST, "/" | "/classify") => self.classify(request).await,
            (&Method::GET, "/healthz") => Ok(text(StatusCode::OK, "ok".into())),
            (&Method::GET, "/metrics") => Ok(self.render_metrics()),
            (_, "/" | "/classify") => Err(EdgeError::MethodNotAllowed("POST")),
            (_, "/healthz" | "/metrics") => Err(EdgeError::MethodNotAllowed("GET")),
            _ => Err(EdgeError::NotFound),
        }
    }

    async fn classify(
        &self,
        request: Request<Incoming>,
    ) -> Result<Response<Full<Bytes>>, EdgeError> {
        let wants_json = accepts_json(&request);
        let content_type = request
            .headers()
            .get(CONTENT_TYPE)
            .and_then(|v| v.to_str().ok());
        let content_type = content_type.map(str::to_owned);
        let body = self.read_body(request.into_body()).await?;
        let upload = upload::parse(content_type.as_deref(), body).await?;

        let answer = self.answer(upload).await?;
        if wants_json {
            let body = reply::json(answer.id, &answer.file, &answer.classification);
            return Ok(with_type(
                StatusCode::OK,
                body.to_string(),
                "application/json",
            ));
        }
        let body = reply::text(
            self.config.reply_format,
            &answer.file,
            &answer.classification,
        );
        Ok(text(StatusCode::OK, body))
    }

    async fn read_body(&self, body: Incoming) -> Result<Bytes, EdgeError> {
        let limited = Limited::new(body, self.config.max_body).collect();
        match tokio::time::timeout(self.config.body_timeout, limited).await {
            Err(_) => Err(EdgeError::BodyTimeout),
            Ok(Ok(collected)) => Ok(collected.to_bytes()),
            Ok(Err(error)) if error.is::<LengthLimitError>() => {
                Err(EdgeError::TooLarge(self.config.max_body))
            }
            Ok(Err(error)) => Err(EdgeError::BadMultipart(error.to_string())),
        }
    }

    /// Stores the upload, queues a request for it and waits for the worker's answer.
    async fn answer(&self, upload: Upload) -> Result<Answer, EdgeError> {
        let id = Uuid::new_v4();
        let waiter = self.waiters.register(id).ok_or(EdgeError::Overloaded)?;
        let deadline = Instant::now() + self.config.request_timeout;

        let key = id.to_string();
        let metadata = Metadata {
            file: upload.file.clone(),
            content_type: upload.content_type,
        };
        let request = message::Request {
            id,
            key: key.clone(),
            file: upload.file.clone(),
            reply_to: self.reply_queue.clone(),
            deadline_ms: message::now_ms() + self.config.request_timeout.as_millis() as u64,
        };
        let body = serde_json::to_string(&request).expect("a request always serialises");
        // A bucket or queue that hangs rather than fails still answers the caller by the
        // deadline.
        let queued = async {
            self.inputs.put(&key, upload.bytes, &metadata).await?;
            self.requests.send(body).await
        };
        match tokio::time::timeout_at(deadline, queued).await {
            Err(_) => return Err(EdgeError::TimedOut),
            Ok(result) => result.map_err(unavailable)?,
        }

        match waiter
            .wait(deadline)
            .await
            .map_err(|unanswered| match unanswered {
                Unanswered::TimedOut => EdgeError::TimedOut,
                Unanswered::Abandoned => EdgeError::ShuttingDown,
            })? {
            Outcome::Classified(classification) => Ok(Answer {
                id,
                file: upload.file,
                classification,
            }),
            Outcome::Rejected { reason } => Err(EdgeError::Rejected(reason)),
            Outcome::Failed { reason } => Err(EdgeError::Failed(reason)),
        }
    }

    fn render_metrics(&self) -> Response<Full<Bytes>> {
        let body = self
            .config
            .metrics
            .as_ref()
            .map(PrometheusHandle::render)
            .unwrap_or_default();
        with_type(StatusCode::OK, body, "text/plain; version=0.0.4")
    }
}

fn unavailable(error: recog_transport::Error) -> EdgeError {
    tracing::error!(%error, "Queue or bucket failed");
    EdgeError::Unavailable
}

fn route(path: &str) -> &'static str {
    match path {
        "/" | "/classify" => "classify",
        "/healthz" => "healthz",
        "/metrics" => "metrics",
        _ => "other",
    }
}

fn accepts_json<B>(request: &Request<B>) -> bool {
    let accept = request.headers().get(ACCEPT).and_then(|v| v.to_str().ok());
    accept.is_some_and(|accept| accept.contains("application/json"))
}

fn text(status: StatusCode, body: String) -> Response<Full<Bytes>> {
    with_type(status, body, "text/plain; charset=utf-8")
}

fn with_type(
    status: StatusCode,
    body: String,
    content_type: &'static str,
) -> Response<Full<Bytes>> {
    let mut response = Response::new(Full::new(Bytes::from(body)));
    *response.status_mut() = status;
    response
        .headers_mut()
        .insert(CONTENT_TYPE, HeaderValue::from_static(content_type));
    response
}

fn error_response(error: &EdgeError) -> Response<Full<Bytes>> {
    tracing::debug!(%error, "Request refused");
    let mut response = text(error.status(), format!("{error}\n"));
    match error {
        EdgeError::MethodNotAllowed(allow) => {
            response
                .headers_mut()
                .insert(ALLOW, HeaderValue::from_static(allow));
        }
        EdgeError::Overloaded | EdgeError::Unavailable | EdgeError::ShuttingDown => {
            response
                .headers_mut()
                .insert(RETRY_AFTER, HeaderValue::from_static("1"));
        }
        _ => {}
    }
    response
}
