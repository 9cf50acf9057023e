//! Reading the one image out of a multipart/form-data upload, as the course's workload
//! generators send it: field `myfile` or `inputFile`, with or without a Content-Type.

use std::convert::Infallible;

use bytes::Bytes;

use crate::error::EdgeError;

/// Form fields that carry the image.
const FILE_FIELDS: [&str; 2] = ["myfile", "inputFile"];

/// The image a client sent.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Upload {
    /// The client's file name, or `upload` when none was given.
    pub file: String,
    /// The part's declared Content-Type, or `application/octet-stream`.
    pub content_type: String,
    /// The file's bytes.
    pub bytes: Bytes,
}

fn is_multipart(content_type: &str) -> bool {
    let essence = content_type.split(';').next().unwrap_or_default();
    essence.trim().eq_ignore_ascii_case("multipart/form-data")
}

/// Parses `body` as multipart/form-data, given the request's Content-Type header.
pub async fn parse(content_type: Option<&str>, body: Bytes) -> Result<Upload, EdgeError> {
    let content_type = content_type.ok_or(EdgeError::NotMultipart)?;
    let boundary = match multer::parse_boundary(content_type) {
        Ok(boundary) => boundary,
        Err(_) if is_multipart(content_type) => {
            return Err(EdgeError::BadMultipart(
                "no boundary in the Content-Type header".into(),
            ));
        }
        Err(_) => return Err(EdgeError::NotMultipart),
    };
    let stream = futures_util::stream::once(async move { Ok::<_, Infallible>(body) });
    let mut multipart = multer::Multipart::new(stream, boundary);

    let mut uploads = Vec::new();
    while let Some(field) = multipart.next_field().await.map_err(malformed)? {
        let is_file =
            field.file_name().is_some() || field.name().is_some_and(|n| FILE_FIELDS.contains(&n));
        if !is_file {
            continue;
        }
        let file = field.file_name().unwrap_or("upload").to_owned();
        let content_type = field
            .content_type()
            .map_or("application/octet-stream".to_owned(), |mime| {
                mime.to_string()
            });
        let bytes = field.bytes().await.map_err(malformed)?;
        uploads.push(Upload {
            file,
            content_type,
            bytes,
        });
    }

    match uploads.len() {
        0 => Err(EdgeError::NoFile),
        1 if uploads[0].bytes.is_empty() => Err(EdgeError::EmptyFile),
        1 => Ok(uploads.remove(0)),
        n => Err(EdgeError::TooManyFiles(n)),
    }
}

// Limitation: a part header with a NUL byte (a file name with NUL in it) is refused as
// malformed by the multipart parser, where it could be accepted and the name escaped.
fn malformed(error: multer::Error) -> EdgeError {
    EdgeError::BadMultipart(error.to_string())
}

#[cfg(test)]
mod tests {
    use super::*;

    const TYPE: &str = "multipart/form-data; boundary=XYZ";

    fn part(name: &str, file: Option<&str>, body: &str) -> String {
        let file = file
            .map(|f| format!("; filename=\"{f}\""))
            .unwrap_or_default();
        format!("--XYZ\r\nContent-Disposition: form-data; name=\"{name}\"{file}\r\n\r\n{body}\r\n")
    }

    async fn parse_parts(parts: &[String]) -> Result<Upload, EdgeError> {
        let body = format!("{}--XYZ--\r\n", parts.concat());
        parse(Some(TYPE), Bytes::from(body)).await
    }

    #[tokio::test]
    async fn reads_either_field_name_without_a_content_type() {
        for field in FILE_FIELDS {
            let upload = parse_parts(&[part(field, Some("cat.jpg"), "JPEG")])
                .await
                .unwrap();
            assert_eq!(upload.file, "cat.jpg");
            assert_eq!(upload.content_type, "application/octet-stream");
            assert_eq!(upload.bytes, Bytes::from_static(b"JPEG"));
        }
    }

    #[tokio::test]
    async fn ignores_plain_fields_beside_the_file() {
        let parts = [part("note", None, "hello"), part("myfile", None, "JPEG")];
        let upload = parse_parts(&parts).await.unwrap();
        assert_eq!(upload.file, "upload");
    }

    #[tokio::test]
    async fn refuses_zero_two_or_empty_files() {
        let none = parse_parts(&[part("note", None, "hello")]).await;
        assert!(matches!(none, Err(EdgeError::NoFile)));
        let two = [
            part("myfile", Some("a"), "1"),
            part("inputFile", Some("b"), "2"),
        ];
        let two = parse_parts(&two).await;
        assert!(matches!(two, Err(EdgeError::TooManyFiles(2))));
        let empty = parse_parts(&[part("myfile", Some("a"), "")]).await;
        assert!(matches!(empty, Err(EdgeError::EmptyFile)));
    }

    #[tokio::test]
    async fn refuses_a_body_that_is_not_multipart() {
        let result = parse(Some("image/jpeg"), Bytes::from_static(b"JPEG")).await;
        assert!(matches!(result, Err(EdgeError::NotMultipart)));
        assert!(matches!(
            parse(None, Bytes::new()).await,
            Err(EdgeError::NotMultipart)
        ));
    }

    #[tokio::test]
    async fn multipart_without_a_boundary_is_malformed() {
        let result = parse(Some("Multipart/Form-Data"), Bytes::from_static(b"x")).await;
        let Err(EdgeError::BadMultipart(reason)) = result else {
            panic!("{result:?}");
        };
        assert_eq!(reason, "no boundary in the Content-Type header");
    }
}
