//! The expected labels, read from a CSV, and the check of each answer against them.

use std::collections::HashMap;
use std::path::Path;

use serde::Serialize;

use crate::Error;
use crate::images::Image;

/// The expected label of each image, by file name.
#[derive(Debug, Clone, Default)]
pub struct Expected {
    labels: HashMap<String, String>,
}

/// How one answer compares with the expected label.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Verdict {
    /// The label expected.
    Correct,
    /// Another label.
    Wrong(Mismatch),
    /// No expected labels were given.
    Unchecked,
}

/// A wrong answer.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Mismatch {
    /// The image's file name.
    pub image: String,
    /// The label expected.
    pub expected: String,
    /// The label answered.
    pub got: String,
}

impl Expected {
    /// Reads the CSV at `path`: a header line, then `image,label` with any further columns
    /// ignored.
    pub fn read(path: &Path) -> Result<Expected, Error> {
        let text = std::fs::read_to_string(path).map_err(|source| Error::ReadExpected {
            path: path.to_owned(),
            source,
        })?;
        Expected::parse(path, &text)
    }

    /// Parses the CSV `text`, naming `path` in errors.
    // Limitation: no quoted fields; ImageNet labels hold no commas, so none are needed.
    pub fn parse(path: &Path, text: &str) -> Result<Expected, Error> {
        let mut labels = HashMap::new();
        for (index, line) in text.lines().enumerate().skip(1) {
            let bad = |reason| Error::ExpectedLine {
                path: path.to_owned(),
                line: index + 1,
                reason,
            };
            if line.trim().is_empty() {
                continue;
            }
            let (image, label) = split(line).ok_or_else(|| bad("expected `image,label`"))?;
            if labels.insert(image.to_owned(), label.to_owned()).is_some() {
                return Err(bad("the image is listed twice"));
            }
        }
        Ok(Expected { labels })
    }

    /// Fails on the first image that has no expected label, so that every answer is checked.
    pub fn covers(&self, images: &[Image]) -> Result<(), Error> {
        match images.iter().find(|i| !self.labels.contains_key(&i.name)) {
            Some(image) => Err(Error::Unlisted(image.name.clone())),
            None => Ok(()),
        }
    }

    /// Checks the body of a 200 answer for `image`.
    pub fn check(&self, image: &Image, body: &str) -> Verdict {
        let Some(expected) = self.labels.get(&image.name) else {
            return Verdict::Unchecked;
        };
        let got = reply_label(image.stem(), body);
        if got == expected {
            return Verdict::Correct;
        }
        Verdict::Wrong(Mismatch {
            image: image.name.clone(),
            expected: expected.clone(),
            got: got.to_owned(),
        })
    }
}

/// The first two fields of a CSV line, both non-empty.
fn split(line: &str) -> Option<(&str, &str)> {
    let mut fields = line.split(',').map(str::trim);
    let image = fields.next().filter(|field| !field.is_empty())?;
    let label = fields.next().filter(|field| !field.is_empty())?;
    Some((image, label))
}

/// The label in a plain-text reply, which is either `label` or `stem:label`.
///
/// The part before the first `:` is dropped only when it is the image's stem: no ImageNet
/// label contains a `:`, but a label alone is never mistaken for a name this way either.
pub fn reply_label<'a>(stem: &str, body: &'a str) -> &'a str {
    let body = body.trim();
    match body.split_once(':') {
        Some((name, label)) if name == stem => label.trim(),
        _ => body,
    }
}

#[cfg(test)]
mod tests {
    use bytes::Bytes;

    use super::*;

    const CSV: &str = "image,label,index,score\n\
                       test_0.JPEG,lotion,631,0.240774\n\
                       test_1.JPEG,spaghetti squash,940,0.392788\n";

    fn image(name: &str) -> Image {
        Image {
            name: name.into(),
            bytes: Bytes::new(),
        }
    }

    fn expected() -> Expected {
        Expected::parse(Path::new("e.csv"), CSV).unwrap()
    }

    #[test]
    fn skips_the_header_and_ignores_extra_columns() {
        let labels = expected().labels;
        assert_eq!(labels.len(), 2);
        assert_eq!(labels["test_0.JPEG"], "lotion");
        assert_eq!(labels["test_1.JPEG"], "spaghetti squash");
    }

    #[test]
    fn reads_two_column_files_with_crlf_and_blank_lines() {
        let text = "image,label\r\na.jpg,goldfish\r\n\r\nb.jpg,tench\r\n";
        let labels = Expected::parse(Path::new("e.csv"), text).unwrap().labels;
        assert_eq!(labels["a.jpg"], "goldfish");
        assert_eq!(labels["b.jpg"], "tench");
    }

    #[test]
    fn a_line_without_a_label_names_its_number() {
        let error =
            Expected::parse(Path::new("e.csv"), "image,label\na.jpg,x\nb.jpg\n").unwrap_err();
        assert_eq!(
            error.to_string(),
            "--expected e.csv, line 3: expected `image,label`"
        );
    }

    #[test]
    fn an_image_listed_twice_is_an_error() {
        let error =
            Expected::parse(Path::new("e.csv"), "image,label\na.jpg,x\na.jpg,y\n").unwrap_err();
        assert_eq!(
            error.to_string(),
            "--expected e.csv, line 3: the image is listed twice"
        );
    }

    #[test]
    fn reply_label_drops_only_the_images_own_stem() {
        assert_eq!(reply_label("test_0", "test_0:goldfish"), "goldfish");
        assert_eq!(reply_label("test_0", "goldfish\n"), "goldfish");
        assert_eq!(
            reply_label("test_0", "  test_0:spaghetti squash \n"),
            "spaghetti squash"
        );
        assert_eq!(reply_label("test_0", "test_1:goldfish"), "test_1:goldfish");
        assert_eq!(reply_label("test_0", "test_0:a:b"), "a:b");
    }

    #[test]
    fn no_imagenet_label_contains_a_colon() {
        let classes = Path::new(env!("CARGO_MANIFEST_DIR")).join("../models/imagenet_classes.txt");
        let classes = std::fs::read_to_string(classes).unwrap();
        assert_eq!(classes.lines().count(), 1000);
        assert_eq!(classes.lines().find(|label| label.contains(':')), None);
    }

    #[test]
    fn checks_either_reply_format() {
        let expected = expected();
        assert_eq!(
            expected.check(&image("test_0.JPEG"), "test_0:lotion"),
            Verdict::Correct
        );
        assert_eq!(
            expected.check(&image("test_1.JPEG"), "spaghetti squash"),
            Verdict::Correct
        );
        assert_eq!(
            expected.check(&image("test_1.JPEG"), "test_1:lotion"),
            Verdict::Wrong(Mismatch {
                image: "test_1.JPEG".into(),
                expected: "spaghetti squash".into(),
                got: "lotion".into(),
            })
        );
    }

    #[test]
    fn covers_fails_on_an_image_without_a_label() {
        let expected = expected();
        assert!(
            expected
                .covers(&[image("test_1.JPEG"), image("test_0.JPEG")])
                .is_ok()
        );
        let error = expected
            .covers(&[image("test_0.JPEG"), image("test_9.JPEG")])
            .unwrap_err();
        assert_eq!(error.to_string(), "--expected has no label for test_9.JPEG");
    }
}
