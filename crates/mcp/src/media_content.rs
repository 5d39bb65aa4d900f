//! Attachments as content a model can look at: a photo or sticker as an image no larger than a
//! model reads (the long side at most [`MAX_SIDE`] pixels, at most about [`MAX_BYTES`]), and a
//! video as its first frame (with ffmpeg, when it is installed). The saved file stays as it was.

use std::io::{Cursor, Write};

use image::codecs::jpeg::JpegEncoder;
use image::imageops::FilterType;
use image::{DynamicImage, GenericImageView, ImageFormat};

/// The longest side Claude reads at full detail; larger images are scaled down by the model anyway.
pub const MAX_SIDE: u32 = 1568;
/// The most bytes an image handed to the model takes (before base64).
pub const MAX_BYTES: usize = 1_000_000;
/// The largest file decoded: anything bigger is no photo a phone sends.
pub const MAX_SOURCE_BYTES: usize = 64 * 1024 * 1024;

/// An image ready to hand to a model.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Picture {
    pub data: Vec<u8>,
    pub mime_type: &'static str,
    pub width: u32,
    pub height: u32,
    /// The size of the original, when it was scaled down.
    pub scaled_from: Option<(u32, u32)>,
}

/// `bytes` (JPEG, PNG, WebP, GIF's first frame) as a [`Picture`]: scaled so its long side is at
/// most [`MAX_SIDE`], PNG when it has transparency and fits, else JPEG, smaller until it fits
/// [`MAX_BYTES`].
pub fn picture(bytes: &[u8]) -> Result<Picture, String> {
    if bytes.len() > MAX_SOURCE_BYTES {
        return Err(format!("the file is {} MB, too large to look at", bytes.len() >> 20));
    }
    let format = image::guess_format(bytes).map_err(|_| "not an image wamcp can read (JPEG, PNG or WebP)")?;
    let image = image::load_from_memory_with_format(bytes, format).map_err(|e| format!("the image is damaged: {e}"))?;
    let original = image.dimensions();
    let mut side = MAX_SIDE.min(original.0.max(original.1));
    loop {
        let scaled = if original.0.max(original.1) > side {
            image.resize(side, side, FilterType::Triangle)
        } else {
            image.clone()
        };
        let (width, height) = scaled.dimensions();
        let scaled_from = (original != (width, height)).then_some(original);
        if scaled.color().has_alpha() {
            let png = encode_png(&scaled)?;
            if png.len() <= MAX_BYTES {
                return Ok(Picture { data: png, mime_type: "image/png", width, height, scaled_from });
            }
        }
        let flat = DynamicImage::ImageRgb8(scaled.to_rgb8());
        for quality in [85, 70, 55] {
            let jpeg = encode_jpeg(&flat, quality)?;
            if jpeg.len() <= MAX_BYTES {
                return Ok(Picture { data: jpeg, mime_type: "image/jpeg", width, height, scaled_from });
            }
        }
        if side <= 256 {
            return Err("the image does not fit in 1 MB even when small".into());
        }
        side = side * 3 / 4;
    }
}

fn encode_png(image: &DynamicImage) -> Result<Vec<u8>, String> {
    let mut out = Cursor::new(Vec::new());
    image.write_to(&mut out, ImageFormat::Png).map_err(|e| e.to_string())?;
    Ok(out.into_inner())
}

fn encode_jpeg(image: &DynamicImage, quality: u8) -> Result<Vec<u8>, String> {
    let mut out = Vec::new();
    JpegEncoder::new_with_quality(&mut out, quality).encode_image(image).map_err(|e| e.to_string())?;
    Ok(out)
}

/// The first frame of a video, as PNG bytes, by ffmpeg. The video is written to a private
/// temporary file (MP4 keeps its index anywhere in the file, so ffmpeg must be able to seek),
/// removed when this returns.
pub fn first_frame(video: &[u8]) -> Result<Vec<u8>, String> {
    let mut file = tempfile::Builder::new().prefix("wamcp-video-").tempfile().map_err(|e| e.to_string())?;
    file.write_all(video).map_err(|e| e.to_string())?;
    let output = std::process::Command::new("ffmpeg")
        .args(["-v", "error", "-nostdin", "-i"])
        .arg(file.path())
        .args(["-frames:v", "1", "-f", "image2pipe", "-c:v", "png", "pipe:1"])
        .stdin(std::process::Stdio::null())
        .output()
        .map_err(|e| match e.kind() {
            std::io::ErrorKind::NotFound => "ffmpeg is not installed, so no frame can be shown".to_string(),
            _ => format!("cannot run ffmpeg: {e}"),
        })?;
    if !output.status.success() || output.stdout.is_empty() {
        let why = String::from_utf8_lossy(&output.stderr);
        return Err(format!("ffmpeg found no frame: {}", why.lines().last().unwrap_or("no video stream").trim()));
    }
    Ok(output.stdout)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn jpeg(width: u32, height: u32) -> Vec<u8> {
        let image = DynamicImage::ImageRgb8(image::RgbImage::from_fn(width, height, |x, y| {
            image::Rgb([(x % 256) as u8, (y % 256) as u8, ((x * y) % 256) as u8])
        }));
        encode_jpeg(&image, 95).unwrap()
    }

    #[test]
    fn a_large_photo_is_scaled_to_the_long_side_a_model_reads() {
        let picture = picture(&jpeg(3000, 2000)).unwrap();
        assert_eq!((picture.width, picture.height), (1568, 1045));
        assert_eq!(picture.scaled_from, Some((3000, 2000)));
        assert_eq!(picture.mime_type, "image/jpeg");
        assert!(picture.data.len() <= MAX_BYTES && picture.data.starts_with(&[0xff, 0xd8]));
    }

    #[test]
    fn a_small_transparent_sticker_stays_png_at_its_size() {
        let sticker = DynamicImage::ImageRgba8(image::RgbaImage::from_pixel(512, 512, image::Rgba([0, 0, 0, 0])));
        let picture = picture(&encode_png(&sticker).unwrap()).unwrap();
        assert_eq!(
            (picture.mime_type, picture.width, picture.height, picture.scaled_from),
            ("image/png", 512, 512, None)
        );
    }

    #[test]
    fn what_is_not_an_image_says_so() {
        assert!(picture(b"%PDF-1.4 not a photo").unwrap_err().contains("not an image"));
        assert!(picture(&[0xff, 0xd8, 0xff, 0xe0, 0, 0]).unwrap_err().contains("damaged"));
    }
}
