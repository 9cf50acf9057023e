//! Decoding, resizing, cropping and normalising one image into a CHW `f32` tensor, the way
//! PIL and torchvision do it, so the model sees what it was trained on.

use std::io::Cursor;

use image::codecs::jpeg::JpegDecoder;
use image::metadata::Orientation;
use image::{DynamicImage, ImageDecoder, ImageFormat, ImageReader, Limits, RgbImage};
use turbojpeg::Colorspace;

use crate::Error;
use crate::manifest::{Preprocess, Resize};
use crate::resample;

/// Largest width or height accepted; larger images are refused before decoding.
pub const MAX_SIDE: u32 = 12_000;
/// Most memory a decoder may allocate for one image.
pub const MAX_DECODE_BYTES: u64 = 512 * 1024 * 1024;

/// Decodes, orients, resizes, crops and normalises an image into `3 × crop × crop` values.
pub fn tensor(bytes: &[u8], spec: &Preprocess) -> Result<Vec<f32>, Error> {
    let image = decode(bytes)?;
    let resized = resize(&image, spec);
    Ok(normalise(&resized, spec))
}

/// Decodes any supported format to 8-bit RGB, upright per its EXIF orientation.
pub fn decode(bytes: &[u8]) -> Result<RgbImage, Error> {
    if bytes.is_empty() {
        return Err(Error::Image("empty file".into()));
    }
    let format = image::guess_format(bytes)
        .map_err(|_| Error::Image("not a supported image format".into()))?;
    if format == ImageFormat::Jpeg
        && let Some(image) = decode_jpeg(bytes)?
    {
        return Ok(image);
    }

    let mut reader = ImageReader::with_format(Cursor::new(bytes), format);
    reader.limits(limits());
    let mut decoder = reader.into_decoder().map_err(invalid)?;
    let orientation = decoder.orientation().map_err(invalid)?;
    let mut image = DynamicImage::from_decoder(decoder).map_err(invalid)?;
    image.apply_orientation(orientation);
    Ok(image.into_rgb8())
}

/// Decodes a JPEG with libjpeg-turbo, the decoder PIL uses, so pixels match PIL's exactly.
/// Returns `None` for CMYK and YCCK JPEGs, which libjpeg-turbo cannot convert to RGB and the
/// `image` crate can.
fn decode_jpeg(bytes: &[u8]) -> Result<Option<RgbImage>, Error> {
    let mut decompressor = turbojpeg::Decompressor::new()
        .map_err(|e| Error::Image(format!("cannot start the JPEG decoder: {e}")))?;
    let header = decompressor
        .read_header(bytes)
        .map_err(|e| Error::Image(format!("cannot decode image: {e}")))?;
    check_size(header.width, header.height)?;
    if matches!(header.colorspace, Colorspace::CMYK | Colorspace::YCCK) {
        return Ok(None);
    }

    let (width, height) = (header.width, header.height);
    let mut pixels = vec![0; width * height * 3];
    let target = turbojpeg::Image {
        pixels: pixels.as_mut_slice(),
        width,
        pitch: width * 3,
        height,
        format: turbojpeg::PixelFormat::RGB,
    };
    decompressor
        .decompress(bytes, target)
        .map_err(|e| Error::Image(format!("cannot decode image: {e}")))?;

    let orientation = JpegDecoder::new(Cursor::new(bytes))
        .and_then(|mut decoder| decoder.orientation())
        .unwrap_or(Orientation::NoTransforms);
    let image = RgbImage::from_raw(width as u32, height as u32, pixels)
        .expect("the buffer is width × height RGB");
    let mut image = DynamicImage::ImageRgb8(image);
    image.apply_orientation(orientation);
    Ok(Some(image.into_rgb8()))
}

fn check_size(width: usize, height: usize) -> Result<(), Error> {
    let max = MAX_SIDE as usize;
    if width > max || height > max {
        return Err(too_large());
    }
    Ok(())
}

fn too_large() -> Error {
    Error::Image(format!(
        "image too large: the limit is {MAX_SIDE} pixels a side"
    ))
}

fn limits() -> Limits {
    let mut limits = Limits::default();
    limits.max_image_width = Some(MAX_SIDE);
    limits.max_image_height = Some(MAX_SIDE);
    limits.max_alloc = Some(MAX_DECODE_BYTES);
    limits
}

fn invalid(error: image::ImageError) -> Error {
    match error {
        image::ImageError::Limits(_) => too_large(),
        other => Error::Image(format!("cannot decode image: {other}")),
    }
}

/// Resizes as the manifest says and takes the centre crop, resampling only the crop.
fn resize(image: &RgbImage, spec: &Preprocess) -> RgbImage {
    let (width, height) = resized_size(image.width(), image.height(), spec);
    let side = spec.crop.min(width).min(height);
    let crop = resample::Window {
        left: crop_offset(width, spec.crop),
        top: crop_offset(height, spec.crop),
        width: side,
        height: side,
    };
    resample::bilinear(image, width, height, crop)
}

/// The size before cropping, rounded as torchvision's `Resize(int)` rounds it.
fn resized_size(width: u32, height: u32, spec: &Preprocess) -> (u32, u32) {
    let target = spec.resize_to;
    match spec.resize {
        Resize::Exact => (target, target),
        Resize::ShortSide if width <= height => (
            target,
            ((target as u64 * height as u64) / width as u64).max(1) as u32,
        ),
        Resize::ShortSide => (
            ((target as u64 * width as u64) / height as u64).max(1) as u32,
            target,
        ),
    }
}

/// torchvision's `CenterCrop` offset: Python's `round`, which rounds halves to even.
fn crop_offset(side: u32, crop: u32) -> u32 {
    (side.saturating_sub(crop) as f64 / 2.0).round_ties_even() as u32
}

/// Planar RGB, each value `(pixel * scale - mean) / std`.
fn normalise(image: &RgbImage, spec: &Preprocess) -> Vec<f32> {
    let plane = (image.width() * image.height()) as usize;
    let mut tensor = vec![0.0; 3 * plane];
    for (i, pixel) in image.pixels().enumerate() {
        for c in 0..3 {
            tensor[c * plane + i] = (pixel[c] as f32 * spec.scale - spec.mean[c]) / spec.std[c];
        }
    }
    tensor
}

#[cfg(test)]
mod tests {
    use super::*;

    fn lite0() -> Preprocess {
        Preprocess {
            resize: Resize::ShortSide,
            resize_to: 256,
            crop: 224,
            scale: 1.0,
            mean: [127.0; 3],
            std: [128.0; 3],
        }
    }

    #[test]
    fn short_side_becomes_the_target_and_long_side_is_truncated() {
        assert_eq!(resized_size(500, 375, &lite0()), (341, 256));
        assert_eq!(resized_size(375, 500, &lite0()), (256, 341));
        assert_eq!(resized_size(256, 256, &lite0()), (256, 256));
    }

    #[test]
    fn crop_offset_rounds_halves_to_even() {
        assert_eq!(crop_offset(341, 224), 58);
        assert_eq!(crop_offset(343, 224), 60);
        assert_eq!(crop_offset(256, 224), 16);
    }

    #[test]
    fn output_has_three_planes_of_the_crop() {
        let image = RgbImage::from_pixel(300, 200, image::Rgb([255, 127, 0]));
        let mut png = Vec::new();
        image
            .write_to(&mut Cursor::new(&mut png), image::ImageFormat::Png)
            .unwrap();
        let tensor = tensor(&png, &lite0()).unwrap();
        assert_eq!(tensor.len(), 3 * 224 * 224);
        assert_eq!(tensor[0], 1.0);
        assert_eq!(tensor[224 * 224], 0.0);
        assert_eq!(tensor[2 * 224 * 224], -127.0 / 128.0);
    }

    #[test]
    fn empty_and_non_image_bytes_are_refused_with_a_reason() {
        let empty = tensor(b"", &lite0()).unwrap_err().to_string();
        assert_eq!(empty, "empty file");
        let text = tensor(b"hello, I am not a JPEG", &lite0())
            .unwrap_err()
            .to_string();
        assert_eq!(text, "not a supported image format");
    }
}
