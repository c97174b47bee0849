//! From an image to the backbone's input: RGB, resize the short side to `size` (bilinear), center
//! crop `size x size`, scale to [0, 1], normalize with the weights' mean and std, CHW.

use image::imageops::FilterType;
use image::{DynamicImage, GrayImage, RgbImage};

use crate::dataset::ImageSource;
use crate::error::ImagesError;

#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Preprocess {
    pub size: usize,
    pub mean: [f32; 3],
    pub std: [f32; 3],
}

impl Preprocess {
    /// The text the features cache key hashes for this preprocessing, written out field by field
    /// (not `Debug`, whose format may change between Rust releases and would silently move every
    /// key). It is the text the keys of cache version `features/v2` were made from.
    pub fn cache_key_text(&self) -> String {
        // `{:?}` per value: f32's Debug (`1.0`, `0.485`) is what the v2 keys were made with;
        // Display would write a whole number as `1`.
        let list = |v: &[f32; 3]| format!("[{:?}, {:?}, {:?}]", v[0], v[1], v[2]);
        format!(
            "Preprocess {{ size: {}, mean: {}, std: {} }}",
            self.size,
            list(&self.mean),
            list(&self.std)
        )
    }

    /// The ImageNet statistics lukemelas' and timm's EfficientNet weights were trained with.
    pub fn imagenet(size: usize) -> Self {
        Self {
            size,
            mean: [0.485, 0.456, 0.406],
            std: [0.229, 0.224, 0.225],
        }
    }

    /// `3 * size * size` floats, channel-major. Grayscale images are repeated into 3 channels.
    pub fn apply(&self, source: &ImageSource) -> Result<Vec<f32>, ImagesError> {
        let rgb = match source {
            ImageSource::Gray {
                width,
                height,
                pixels,
            } => {
                let gray = GrayImage::from_raw(*width as u32, *height as u32, pixels.to_vec())
                    .expect("IDX images hold width x height pixels");
                DynamicImage::ImageLuma8(gray).to_rgb8()
            }
            ImageSource::File(path) => image::open(path)
                .map_err(|e| ImagesError::Decode {
                    path: path.clone(),
                    message: e.to_string(),
                })?
                .to_rgb8(),
        };
        Ok(self.normalize(&self.resize_crop(&rgb)))
    }

    fn resize_crop(&self, rgb: &RgbImage) -> RgbImage {
        let (w, h) = (rgb.width() as f64, rgb.height() as f64);
        let size = self.size as u32;
        let scale = self.size as f64 / w.min(h);
        let (rw, rh) = (
            ((w * scale).round() as u32).max(size),
            ((h * scale).round() as u32).max(size),
        );
        let resized = if (rw, rh) == (rgb.width(), rgb.height()) {
            rgb.clone()
        } else {
            image::imageops::resize(rgb, rw, rh, FilterType::Triangle)
        };
        image::imageops::crop_imm(&resized, (rw - size) / 2, (rh - size) / 2, size, size).to_image()
    }

    fn normalize(&self, rgb: &RgbImage) -> Vec<f32> {
        let plane = self.size * self.size;
        let mut out = vec![0.0f32; 3 * plane];
        for (i, pixel) in rgb.pixels().enumerate() {
            for c in 0..3 {
                out[c * plane + i] = (f32::from(pixel[c]) / 255.0 - self.mean[c]) / self.std[c];
            }
        }
        out
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::sync::Arc;

    /// The cache key text is pinned: the committed results name features files by keys made from
    /// exactly this text.
    #[test]
    fn cache_key_text_is_the_v2_text() {
        assert_eq!(
            Preprocess::imagenet(224).cache_key_text(),
            "Preprocess { size: 224, mean: [0.485, 0.456, 0.406], std: [0.229, 0.224, 0.225] }"
        );
        assert_eq!(
            Preprocess::imagenet(64).cache_key_text(),
            "Preprocess { size: 64, mean: [0.485, 0.456, 0.406], std: [0.229, 0.224, 0.225] }"
        );
        let whole = Preprocess {
            size: 32,
            mean: [0.5, 0.5, 0.5],
            std: [1.0, 1.0, 1.0],
        };
        assert_eq!(
            whole.cache_key_text(),
            "Preprocess { size: 32, mean: [0.5, 0.5, 0.5], std: [1.0, 1.0, 1.0] }"
        );
    }

    #[test]
    fn gray_becomes_three_normalized_channels_of_the_right_size() {
        let p = Preprocess::imagenet(8);
        let source = ImageSource::Gray {
            width: 4,
            height: 4,
            pixels: Arc::from(vec![255u8; 16]),
        };
        let x = p.apply(&source).unwrap();
        assert_eq!(x.len(), 3 * 64);
        // A white image stays white after bilinear resizing: (1 - mean) / std per channel.
        for c in 0..3 {
            let want = (1.0 - p.mean[c]) / p.std[c];
            assert!(
                x[c * 64..(c + 1) * 64]
                    .iter()
                    .all(|v| (v - want).abs() < 1e-6),
                "channel {c}"
            );
        }
    }

    #[test]
    fn non_square_is_resized_by_the_short_side_and_center_cropped() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("wide.png");
        // 20x10: left half black, right half white; after resize to 8 high (16 wide) and crop 8x8 the
        // centre columns straddle the edge.
        let img = RgbImage::from_fn(20, 10, |x, _| {
            if x < 10 {
                image::Rgb([0, 0, 0])
            } else {
                image::Rgb([255, 255, 255])
            }
        });
        img.save(&path).unwrap();
        let x = Preprocess::imagenet(8)
            .apply(&ImageSource::File(path))
            .unwrap();
        let red = &x[..64];
        let (black, white) = ((0.0 - 0.485) / 0.229, (1.0 - 0.485) / 0.229);
        assert!((red[0] - black).abs() < 1e-5, "left edge black: {}", red[0]);
        assert!(
            (red[7] - white).abs() < 1e-5,
            "right edge white: {}",
            red[7]
        );
        let err = Preprocess::imagenet(8)
            .apply(&ImageSource::File(dir.path().join("missing.png")))
            .unwrap_err();
        assert!(err.to_string().contains("missing.png"));
    }
}
