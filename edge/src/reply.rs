//! What a client gets back for a classified image.

use std::path::Path;

use recog_transport::message::Classification;
use serde_json::{Value, json};
use uuid::Uuid;

/// The plain-text reply's shape.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub enum ReplyFormat {
    /// Just the label: `goldfish`.
    #[default]
    Label,
    /// The file's stem and the label: `test_0:goldfish`, as the course's grader expects.
    NameLabel,
}

/// The text/plain body.
pub fn text(format: ReplyFormat, file: &str, classification: &Classification) -> String {
    match format {
        ReplyFormat::Label => classification.label().to_owned(),
        ReplyFormat::NameLabel => format!("{}:{}", stem(file), classification.label()),
    }
}

/// The application/json body.
pub fn json(id: Uuid, file: &str, classification: &Classification) -> Value {
    json!({
        "id": id,
        "file": printable(file),
        "label": classification.label(),
        "top5": classification.top5,
        "timings": classification.timings,
    })
}

/// The file name without directories or extension, printable characters only.
fn stem(file: &str) -> String {
    let stem = Path::new(file)
        .file_stem()
        .map(|s| s.to_string_lossy().into_owned());
    printable(&stem.unwrap_or_default())
}

/// The file name with control characters replaced, safe to echo in a one-line reply.
fn printable(file: &str) -> String {
    file.chars()
        .map(|c| if c.is_control() { '\u{fffd}' } else { c })
        .collect()
}

#[cfg(test)]
mod tests {
    use recog_transport::message::{Score, Timings};

    use super::*;

    fn goldfish() -> Classification {
        let top5 = vec![Score {
            label: "goldfish".into(),
            score: 0.9,
        }];
        Classification {
            top5,
            timings: Timings::default(),
        }
    }

    #[test]
    fn name_label_uses_the_file_stem() {
        assert_eq!(
            text(ReplyFormat::NameLabel, "test_0.JPEG", &goldfish()),
            "test_0:goldfish"
        );
        assert_eq!(
            text(ReplyFormat::Label, "test_0.JPEG", &goldfish()),
            "goldfish"
        );
    }

    #[test]
    fn hostile_file_names_are_echoed_on_one_line() {
        let reply = text(ReplyFormat::NameLabel, "../../x\n\0y.jpg", &goldfish());
        assert_eq!(reply, "x\u{fffd}\u{fffd}y:goldfish");
    }

    #[test]
    fn json_carries_top5_and_timings() {
        let id = Uuid::nil();
        let body = json(id, "a.jpg", &goldfish());
        assert_eq!(body["label"], "goldfish");
        assert_eq!(body["top5"][0]["label"], "goldfish");
        assert_eq!(body["timings"]["batch_size"], 0);
    }
}
