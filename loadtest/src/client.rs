//! One upload, sent as the course's generator sends it, and what became of it.

use std::future::Future;
use std::pin::Pin;
use std::sync::atomic::{AtomicBool, Ordering};

use reqwest::multipart::{Form, Part};
use reqwest::{StatusCode, Url};

use crate::expected::{Expected, Verdict};
use crate::images::Image;
use crate::{Error, LoadtestArgs};

/// An upload under way.
pub type Pending = Pin<Box<dyn Future<Output = Outcome> + Send>>;

/// What became of one request.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Outcome {
    /// A 200 answer, checked against the expected label if there was one.
    Answered(Verdict),
    /// An answer with another status.
    Rejected(u16),
    /// No answer: the connection failed or the request timed out.
    Failed,
}

impl Outcome {
    /// Whether the server answered 200.
    pub fn is_answered(&self) -> bool {
        matches!(self, Outcome::Answered(_))
    }
}

/// Posts images to one URL.
#[derive(Debug)]
pub struct Uploader {
    http: reqwest::Client,
    url: Url,
    field: String,
    /// Whether a request has failed yet: the first failure is logged as a warning.
    failed_once: AtomicBool,
}

impl Uploader {
    /// An uploader for `--url`, `--field` and `--timeout`.
    pub fn new(args: &LoadtestArgs) -> Result<Uploader, Error> {
        let http = reqwest::Client::builder()
            .timeout(args.timeout)
            .build()
            .map_err(Error::Client)?;
        Ok(Uploader {
            http,
            url: args.url.clone(),
            field: args.field.clone(),
            failed_once: AtomicBool::new(false),
        })
    }

    /// Posts `image` and checks a 200 answer against `expected`.
    pub async fn send(&self, image: &Image, expected: Option<&Expected>) -> Outcome {
        match self.post(image).await {
            Ok((StatusCode::OK, body)) => {
                Outcome::Answered(expected.map_or(Verdict::Unchecked, |e| e.check(image, &body)))
            }
            Ok((status, _)) => Outcome::Rejected(status.as_u16()),
            Err(error) => {
                let reason = recog_transport::chain(&error);
                if self.failed_once.swap(true, Ordering::Relaxed) {
                    tracing::debug!(image = %image.name, reason, "Request failed");
                } else {
                    tracing::warn!(image = %image.name, reason, "Request failed (more at RUST_LOG=debug)");
                }
                Outcome::Failed
            }
        }
    }

    /// One multipart/form-data request whose only part is the image, under its file name.
    async fn post(&self, image: &Image) -> reqwest::Result<(StatusCode, String)> {
        let part = Part::stream(image.bytes.clone()).file_name(image.name.clone());
        let form = Form::new().part(self.field.clone(), part);
        let response = self
            .http
            .post(self.url.clone())
            .multipart(form)
            .send()
            .await?;
        let status = response.status();
        Ok((status, response.text().await?))
    }
}
