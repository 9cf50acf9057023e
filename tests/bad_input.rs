//! Bad input gets a specific status and a one-line reason, valid images in any common format
//! are classified, and the server stays up for everyone else. Inputs are built from the real
//! course images.

mod common;

use std::io::Cursor;
use std::path::Path;
use std::time::Duration;

use common::{ROOT, Server, images_dir, upload};
use image::{DynamicImage, ImageFormat, RgbImage};
use tokio::io::{AsyncReadExt, AsyncWriteExt};

/// The most confident of the course images for this model (flagpole, 0.98), so that a
/// conversion or a wrong rotation shows in its label.
const IMAGE: &str = "test_36.JPEG";
const LABEL: &str = "flagpole";

fn original() -> Vec<u8> {
    std::fs::read(images_dir().join(IMAGE)).unwrap()
}

fn encode(image: &DynamicImage, format: ImageFormat) -> Vec<u8> {
    let mut bytes = Vec::new();
    image
        .write_to(&mut Cursor::new(&mut bytes), format)
        .unwrap();
    bytes
}

/// Images PIL writes that the `image` crate cannot: a CMYK JPEG, and the image stored rotated
/// a quarter turn anticlockwise with EXIF orientation 6 (display rotated clockwise).
fn pil_made(dir: &Path) -> (Vec<u8>, Vec<u8>) {
    let script = r#"
import sys
from PIL import Image
source, out = sys.argv[1], sys.argv[2]
image = Image.open(source).convert("RGB")
image.convert("CMYK").save(out + "/cmyk.jpg", quality=95)
exif = Image.Exif()
exif[0x0112] = 6
image.transpose(Image.Transpose.ROTATE_90).save(out + "/rotated.jpg", quality=95, exif=exif)
"#;
    let status = std::process::Command::new(Path::new(ROOT).join(".venv/bin/python"))
        .args(["-c", script])
        .arg(images_dir().join(IMAGE))
        .arg(dir)
        .status()
        .expect("scripts/setup makes .venv with Pillow");
    assert!(status.success());
    (
        std::fs::read(dir.join("cmyk.jpg")).unwrap(),
        std::fs::read(dir.join("rotated.jpg")).unwrap(),
    )
}

/// A PNG whose header declares 50 000 × 50 000 pixels, with almost no data behind it.
fn png_bomb() -> Vec<u8> {
    let mut png = b"\x89PNG\r\n\x1a\n".to_vec();
    let mut ihdr = b"IHDR".to_vec();
    ihdr.extend(50_000u32.to_be_bytes());
    ihdr.extend(50_000u32.to_be_bytes());
    ihdr.extend([8, 2, 0, 0, 0]);
    png.extend(13u32.to_be_bytes());
    png.extend(&ihdr);
    png.extend(crc32(&ihdr).to_be_bytes());
    png
}

fn crc32(bytes: &[u8]) -> u32 {
    let mut crc = !0u32;
    for &byte in bytes {
        crc ^= byte as u32;
        for _ in 0..8 {
            crc = if crc & 1 == 1 {
                (crc >> 1) ^ 0xEDB8_8320
            } else {
                crc >> 1
            };
        }
    }
    !crc
}

async fn post(
    client: &reqwest::Client,
    server: &Server,
    name: &str,
    bytes: Vec<u8>,
) -> (u16, String) {
    upload(client, &server.url("/"), "myfile", name, bytes).await
}

async fn post_raw(
    client: &reqwest::Client,
    server: &Server,
    content_type: &str,
    body: Vec<u8>,
) -> (u16, String) {
    let response = client
        .post(server.url("/"))
        .header("content-type", content_type)
        .body(body)
        .send()
        .await
        .unwrap();
    (response.status().as_u16(), response.text().await.unwrap())
}

/// One form part: field name, file name if it is a file, content.
type FormPart<'a> = (&'a str, Option<&'a [u8]>, &'a [u8]);

fn multipart(parts: &[FormPart<'_>]) -> Vec<u8> {
    let mut body = Vec::new();
    for (field, file, content) in parts {
        body.extend(
            format!("--XYZ\r\nContent-Disposition: form-data; name=\"{field}\"").as_bytes(),
        );
        if let Some(file) = file {
            body.extend(b"; filename=\"");
            body.extend(*file);
            body.extend(b"\"");
        }
        body.extend(b"\r\n\r\n");
        body.extend(*content);
        body.extend(b"\r\n");
    }
    body.extend(b"--XYZ--\r\n");
    body
}

const MULTIPART: &str = "multipart/form-data; boundary=XYZ";

#[tokio::test(flavor = "multi_thread")]
async fn malformed_uploads_get_4xx_with_a_reason() {
    let server = Server::start(&["--max-body", "1000000"]);
    let client = reqwest::Client::new();
    let image = original();

    let not_multipart = post_raw(&client, &server, "image/jpeg", image.clone()).await;
    assert_eq!(
        not_multipart,
        (
            415,
            "expected a multipart/form-data upload with the image in field `myfile`\n".into()
        )
    );
    let no_file = post_raw(
        &client,
        &server,
        MULTIPART,
        multipart(&[("note", None, b"hi")]),
    )
    .await;
    assert_eq!(
        no_file,
        (
            400,
            "no file part: send the image in form field `myfile` or `inputFile`\n".into()
        )
    );
    let two = multipart(&[
        ("myfile", Some(b"a.jpg"), &image),
        ("inputFile", Some(b"b.jpg"), &image),
    ]);
    let two = post_raw(&client, &server, MULTIPART, two).await;
    assert_eq!(
        two,
        (400, "one image per request, got 2 file parts\n".into())
    );
    let empty = post(&client, &server, "empty.jpg", Vec::new()).await;
    assert_eq!(empty, (400, "the uploaded file is empty\n".into()));
    let huge = post(&client, &server, "big.jpg", vec![0xFF; 1_500_000]).await;
    assert_eq!(
        huge,
        (413, "upload larger than the 1000000-byte limit\n".into())
    );
    let no_boundary = post_raw(&client, &server, "multipart/form-data", image.clone()).await;
    assert_eq!(
        no_boundary,
        (
            400,
            "malformed multipart body: no boundary in the Content-Type header\n".into()
        )
    );

    // A client that half-closes after its request still gets the answer.
    let addr = server.url("").trim_start_matches("http://").to_owned();
    let body = multipart(&[("myfile", Some(IMAGE.as_bytes()), &image)]);
    let mut half_closed = tokio::net::TcpStream::connect(&addr).await.unwrap();
    let head = format!(
        "POST / HTTP/1.1\r\nHost: recog\r\nContent-Type: {MULTIPART}\r\n\
         Content-Length: {}\r\nConnection: close\r\n\r\n",
        body.len()
    );
    half_closed.write_all(head.as_bytes()).await.unwrap();
    half_closed.write_all(&body).await.unwrap();
    half_closed.shutdown().await.unwrap();
    let mut reply = String::new();
    half_closed.read_to_string(&mut reply).await.unwrap();
    assert!(reply.starts_with("HTTP/1.1 200 "), "{reply}");
    assert!(reply.ends_with(&format!("\r\n\r\n{LABEL}")), "{reply}");
    assert_eq!(
        post(&client, &server, IMAGE, image).await,
        (200, LABEL.into())
    );
}

#[tokio::test(flavor = "multi_thread")]
async fn files_that_are_not_images_get_422_with_a_reason() {
    let server = Server::start(&[]);
    let client = reqwest::Client::new();
    let image = original();
    let noise: Vec<u8> = (1..=4096u32)
        .map(|i| (i.wrapping_mul(2_654_435_761) >> 24) as u8 | 1)
        .collect();

    let text = post(&client, &server, "notes.jpg", b"just some text".to_vec()).await;
    assert_eq!(text, (422, "not a supported image format\n".into()));
    let random = post(&client, &server, "noise.jpg", noise).await;
    assert_eq!(random, (422, "not a supported image format\n".into()));
    let (status, reason) = post(
        &client,
        &server,
        "half.jpg",
        image[..image.len() / 2].to_vec(),
    )
    .await;
    assert_eq!(status, 422, "{reason}");
    assert!(reason.starts_with("cannot decode image: "), "{reason}");
    let bomb = post(&client, &server, "bomb.png", png_bomb()).await;
    assert_eq!(
        bomb,
        (
            422,
            "image too large: the limit is 12000 pixels a side\n".into()
        )
    );
    assert_eq!(
        post(&client, &server, IMAGE, image).await,
        (200, LABEL.into())
    );
}

#[tokio::test(flavor = "multi_thread")]
async fn other_formats_and_layouts_are_converted_to_rgb_and_classified() {
    let server = Server::start(&[]);
    let client = reqwest::Client::new();
    let rgb = image::load_from_memory(&original()).unwrap().into_rgb8();
    let dir = tempfile::tempdir().unwrap();
    let (cmyk, rotated) = pil_made(dir.path());

    // Lossless re-encodings of the same pixels must give exactly the JPEG's answer.
    let lossless = [
        (
            "rgba.png",
            encode(
                &DynamicImage::ImageRgba8(DynamicImage::ImageRgb8(rgb.clone()).into_rgba8()),
                ImageFormat::Png,
            ),
        ),
        (
            "deep.png",
            encode(
                &DynamicImage::ImageRgb16(DynamicImage::ImageRgb8(rgb.clone()).into_rgb16()),
                ImageFormat::Png,
            ),
        ),
        (
            "image.bmp",
            encode(&DynamicImage::ImageRgb8(rgb.clone()), ImageFormat::Bmp),
        ),
        (
            "image.webp",
            encode(
                &DynamicImage::ImageRgba8(DynamicImage::ImageRgb8(rgb.clone()).into_rgba8()),
                ImageFormat::WebP,
            ),
        ),
        ("rotated.jpg", rotated),
    ];
    for (name, bytes) in lossless {
        assert_eq!(
            post(&client, &server, name, bytes).await,
            (200, LABEL.into()),
            "{name}"
        );
    }

    let lossy = [
        (
            "gray.jpg",
            encode(
                &DynamicImage::ImageLuma8(DynamicImage::ImageRgb8(rgb.clone()).into_luma8()),
                ImageFormat::Jpeg,
            ),
        ),
        (
            "palette.gif",
            encode(
                &DynamicImage::ImageRgba8(DynamicImage::ImageRgb8(rgb.clone()).into_rgba8()),
                ImageFormat::Gif,
            ),
        ),
        ("cmyk.jpg", cmyk),
        // Extreme aspect ratios: a short side of 256 makes these 3 072 000 pixels long.
        (
            "strip.png",
            encode(
                &DynamicImage::ImageRgb8(RgbImage::from_fn(12_000, 1, |x, _| {
                    *rgb.get_pixel(x % rgb.width(), 0)
                })),
                ImageFormat::Png,
            ),
        ),
        (
            "tower.png",
            encode(
                &DynamicImage::ImageRgb8(RgbImage::from_fn(1, 12_000, |_, y| {
                    *rgb.get_pixel(0, y % rgb.height())
                })),
                ImageFormat::Png,
            ),
        ),
    ];
    for (name, bytes) in lossy {
        let (status, label) = post(&client, &server, name, bytes).await;
        assert_eq!(status, 200, "{name}: {label}");
        assert!(
            !label.is_empty() && !label.contains('\n'),
            "{name}: {label:?}"
        );
    }
}

#[tokio::test(flavor = "multi_thread")]
async fn hostile_file_names_are_stored_by_id_and_echoed_safely() {
    let server = Server::start(&["--reply-format", "name-label"]);
    let client = reqwest::Client::new();
    let image = original();

    let escape = multipart(&[("myfile", Some(b"../../etc/passwd.jpg"), &image)]);
    assert_eq!(
        post_raw(&client, &server, MULTIPART, escape).await,
        (200, format!("passwd:{LABEL}"))
    );
    let latin1 = multipart(&[("myfile", Some(b"caf\xe9.jpg"), &image)]);
    let (status, body) = post_raw(&client, &server, MULTIPART, latin1).await;
    assert_eq!(status, 200);
    assert!(body.ends_with(&format!(":{LABEL}")), "{body}");

    let stored: Vec<String> = std::fs::read_dir(server.data_dir().join("input"))
        .unwrap()
        .map(|entry| entry.unwrap().file_name().to_string_lossy().into_owned())
        .filter(|name| !name.starts_with('.'))
        .collect();
    assert_eq!(stored.len(), 2);
    assert!(
        stored
            .iter()
            .all(|name| uuid::Uuid::parse_str(name).is_ok()),
        "{stored:?}"
    );
    assert!(!server.data_dir().join("etc").exists());
}

#[tokio::test(flavor = "multi_thread")]
async fn wrong_methods_unknown_paths_and_stalled_clients() {
    let server = Server::start(&[]);
    let client = reqwest::Client::new();
    assert_eq!(
        client.get(server.url("/")).send().await.unwrap().status(),
        405
    );
    assert_eq!(
        client
            .put(server.url("/classify"))
            .send()
            .await
            .unwrap()
            .status(),
        405
    );
    assert_eq!(
        client
            .get(server.url("/no/such/page"))
            .send()
            .await
            .unwrap()
            .status(),
        404
    );

    let addr = server.url("").trim_start_matches("http://").to_owned();
    let mut stalled = tokio::net::TcpStream::connect(addr).await.unwrap();
    stalled
        .write_all(b"POST / HTTP/1.1\r\nHost: recog\r\n")
        .await
        .unwrap();
    let mut reply = Vec::new();
    let closed =
        tokio::time::timeout(Duration::from_secs(60), stalled.read_to_end(&mut reply)).await;
    assert!(
        closed.is_ok(),
        "a client that stalls in its headers is disconnected"
    );

    // A fresh connection: the server also closes idle keep-alive connections after the header
    // timeout, so the pooled ones from above are gone by now.
    let fresh = reqwest::Client::new();
    assert_eq!(
        fresh
            .get(server.url("/healthz"))
            .send()
            .await
            .unwrap()
            .status(),
        200
    );
}
