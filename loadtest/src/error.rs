//! Why a load test could not run, or did not pass. Each message names the flag at fault.

use std::path::PathBuf;

/// A load test's error.
#[derive(Debug, thiserror::Error)]
pub enum Error {
    /// The image folder could not be listed or read.
    #[error("cannot read --images {}", path.display())]
    Images {
        /// The folder.
        path: PathBuf,
        /// Why.
        #[source]
        source: std::io::Error,
    },

    /// The image folder holds no image files.
    #[error("--images {} holds no jpg, jpeg, png, gif, webp or bmp files", .0.display())]
    NoImages(PathBuf),

    /// The expected-labels file could not be read.
    #[error("cannot read --expected {}", path.display())]
    ReadExpected {
        /// The file.
        path: PathBuf,
        /// Why.
        #[source]
        source: std::io::Error,
    },

    /// A line of the expected-labels file is malformed.
    #[error("--expected {}, line {line}: {reason}", path.display())]
    ExpectedLine {
        /// The file.
        path: PathBuf,
        /// Its line number, from 1.
        line: usize,
        /// What is wrong with it.
        reason: &'static str,
    },

    /// An image to post has no expected label.
    #[error("--expected has no label for {0}")]
    Unlisted(String),

    /// The HTTP client could not be built.
    #[error("cannot set up the HTTP client")]
    Client(#[source] reqwest::Error),

    /// The JSON summary could not be written.
    #[error("cannot write --json {}", path.display())]
    Json {
        /// The file.
        path: PathBuf,
        /// Why.
        #[source]
        source: std::io::Error,
    },

    /// The plot could not be drawn or written.
    #[error("cannot draw --plot {}: {reason}", path.display())]
    Plot {
        /// The file.
        path: PathBuf,
        /// Why, as the plotting library put it.
        reason: String,
    },

    /// Checked against `--expected`, some answers were wrong or some requests failed; or,
    /// unchecked, every request failed.
    #[error("{wrong} wrong and {failed} failed of {requests} requests")]
    Failed {
        /// Requests sent.
        requests: usize,
        /// 200 answers with another label than expected.
        wrong: usize,
        /// Requests answered with another status, or not at all.
        failed: usize,
    },
}

impl Error {
    /// Whether the load test ran but did not pass its check.
    pub fn is_failed_check(&self) -> bool {
        matches!(self, Error::Failed { .. })
    }
}
