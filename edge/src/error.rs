//! Why a request failed, and the one place that maps it to an HTTP status and a one-line body.

use http::StatusCode;

/// A request that cannot be answered with a label.
#[derive(Debug, thiserror::Error)]
pub enum EdgeError {
    /// The body is not multipart/form-data.
    #[error("expected a multipart/form-data upload with the image in field `myfile`")]
    NotMultipart,
    /// The multipart body is malformed.
    #[error("malformed multipart body: {0}")]
    BadMultipart(String),
    /// No part carries a file.
    #[error("no file part: send the image in form field `myfile` or `inputFile`")]
    NoFile,
    /// More than one part carries a file.
    #[error("one image per request, got {0} file parts")]
    TooManyFiles(usize),
    /// The file part is empty.
    #[error("the uploaded file is empty")]
    EmptyFile,
    /// The body is larger than the limit.
    #[error("upload larger than the {0}-byte limit")]
    TooLarge(usize),
    /// The client stopped sending its body.
    #[error("request body not received in time")]
    BodyTimeout,
    /// A worker could not classify the image.
    #[error("{0}")]
    Rejected(String),
    /// recog failed on this request on every allowed attempt.
    #[error("{0}")]
    Failed(String),
    /// Too many requests are already waiting.
    #[error("too many requests in flight, retry shortly")]
    Overloaded,
    /// No answer before the deadline.
    #[error("no answer within the request timeout")]
    TimedOut,
    /// The edge shut down before the answer came.
    #[error("the server shut down before the answer came, retry shortly")]
    ShuttingDown,
    /// The queue or bucket failed; details go to the log, not the client.
    #[error("the classification backend is unavailable, retry shortly")]
    Unavailable,
    /// No route at this path.
    #[error("not found: POST an image to / or /classify")]
    NotFound,
    /// The path exists but not for this method.
    #[error("method not allowed")]
    MethodNotAllowed(&'static str),
}

impl EdgeError {
    /// The HTTP status for this error.
    pub fn status(&self) -> StatusCode {
        match self {
            EdgeError::NotMultipart => StatusCode::UNSUPPORTED_MEDIA_TYPE,
            EdgeError::BadMultipart(_)
            | EdgeError::NoFile
            | EdgeError::TooManyFiles(_)
            | EdgeError::EmptyFile => StatusCode::BAD_REQUEST,
            EdgeError::BodyTimeout => StatusCode::REQUEST_TIMEOUT,
            EdgeError::TooLarge(_) => StatusCode::PAYLOAD_TOO_LARGE,
            EdgeError::Rejected(_) => StatusCode::UNPROCESSABLE_ENTITY,
            EdgeError::Failed(_) => StatusCode::BAD_GATEWAY,
            EdgeError::Overloaded | EdgeError::Unavailable | EdgeError::ShuttingDown => {
                StatusCode::SERVICE_UNAVAILABLE
            }
            EdgeError::TimedOut => StatusCode::GATEWAY_TIMEOUT,
            EdgeError::NotFound => StatusCode::NOT_FOUND,
            EdgeError::MethodNotAllowed(_) => StatusCode::METHOD_NOT_ALLOWED,
        }
    }
}
