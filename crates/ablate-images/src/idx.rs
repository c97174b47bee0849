//! MNIST-format IDX files: `train-images-idx3-ubyte[.gz]`, `train-labels-idx1-ubyte[.gz]`, `t10k-...`.

use std::io::Read;
use std::path::{Path, PathBuf};
use std::sync::Arc;

use sha2::{Digest, Sha256};

use crate::dataset::{ImageDataset, ImageSource, LabeledImage};
use crate::error::{ImagesError, invalid, read_error};

/// Images per class to take from each file pair.
#[derive(Debug, Clone, Copy)]
pub struct Counts {
    /// From the train files.
    pub train_pool: usize,
    /// The first of each class in the t10k files.
    pub val: usize,
    /// The next of each class in the t10k files, after the val images; 0 for none.
    pub test: usize,
    /// More test images of each class from the train files, after the training pool; 0 for none.
    pub test_from_train: usize,
}

/// Keeps `classes` (renumbered 0..C in that order): the first `counts.train_pool` images of each
/// class from the train files; from the t10k files the first `counts.val` of each class for val and
/// the next `counts.test` for test, and `counts.test_from_train` more test images from the train
/// files after the pool (file order, which is already shuffled in MNIST-style datasets, and stable).
/// The test images from the t10k files come first.
pub fn open(
    dir: &Path,
    classes: &[u32],
    class_names: Option<&[String]>,
    counts: Counts,
) -> Result<ImageDataset, ImagesError> {
    let mut hasher = Sha256::new();
    let mut read = |stem: &str| -> Result<(PathBuf, Vec<u8>), ImagesError> {
        let (path, bytes) = read_maybe_gz(dir, stem)?;
        hasher.update(stem.as_bytes());
        hasher.update(&bytes);
        Ok((path, bytes))
    };
    let train_images = read("train-images-idx3-ubyte")?;
    let train_labels = read("train-labels-idx1-ubyte")?;
    let val_images = read("t10k-images-idx3-ubyte")?;
    let val_labels = read("t10k-labels-idx1-ubyte")?;
    let content_sha256 = hex::encode(hasher.finalize());

    // `skip` images of each class are passed over (taken by an earlier split); `key` names the
    // setting that asked for `per_class`.
    let pick = |images: &(PathBuf, Vec<u8>),
                labels: &(PathBuf, Vec<u8>),
                skip: usize,
                per_class: usize,
                key: &str| {
        let (rows, cols, pixels) = parse_images(&images.0, &images.1)?;
        let labels_parsed = parse_labels(&labels.0, &labels.1)?;
        if labels_parsed.len() != pixels.len() / (rows * cols) {
            return Err(invalid(
                &labels.0,
                format!(
                    "has {} labels for {} images in {}",
                    labels_parsed.len(),
                    pixels.len() / (rows * cols),
                    images.0.display()
                ),
            ));
        }
        let mut seen = vec![0usize; classes.len()];
        let mut taken = vec![0usize; classes.len()];
        let mut items = Vec::new();
        for (i, &label) in labels_parsed.iter().enumerate() {
            let Some(class) = classes.iter().position(|&c| u32::from(label) == c) else {
                continue;
            };
            seen[class] += 1;
            if seen[class] <= skip || taken[class] == per_class {
                continue;
            }
            taken[class] += 1;
            items.push(LabeledImage {
                source: ImageSource::Gray {
                    width: cols,
                    height: rows,
                    pixels: Arc::from(&pixels[i * rows * cols..(i + 1) * rows * cols]),
                },
                label: class as u32,
            });
        }
        if let Some(class) = taken.iter().position(|&n| n < per_class) {
            let left = if skip > 0 {
                let before = if key == "test_from_train_per_class" {
                    "train_pool_per_class"
                } else {
                    "val_per_class"
                };
                format!(" left after the {skip} taken by `data.{before}`")
            } else {
                String::new()
            };
            return Err(invalid(
                &labels.0,
                format!(
                    "has {} images of label {}{left}, fewer than the {per_class} `data.{key}` asks for",
                    taken[class], classes[class]
                ),
            ));
        }
        // Stratified order: class by class, file order within a class.
        items.sort_by_key(|item| item.label);
        Ok(items)
    };
    let train = pick(
        &train_images,
        &train_labels,
        0,
        counts.train_pool,
        "train_pool_per_class",
    )?;
    let val = pick(&val_images, &val_labels, 0, counts.val, "val_per_class")?;
    let mut test = if counts.test > 0 {
        pick(
            &val_images,
            &val_labels,
            counts.val,
            counts.test,
            "test_per_class",
        )?
    } else {
        Vec::new()
    };
    if counts.test_from_train > 0 {
        test.extend(pick(
            &train_images,
            &train_labels,
            counts.train_pool,
            counts.test_from_train,
            "test_from_train_per_class",
        )?);
    }
    let class_names = match class_names {
        Some(names) => names.to_vec(),
        None => classes.iter().map(|c| format!("label {c}")).collect(),
    };
    Ok(ImageDataset {
        class_names,
        train,
        val,
        test,
        content_sha256,
    })
}

/// Reads `dir/stem` or `dir/stem.gz`.
fn read_maybe_gz(dir: &Path, stem: &str) -> Result<(PathBuf, Vec<u8>), ImagesError> {
    let plain = dir.join(stem);
    if plain.is_file() {
        let bytes = std::fs::read(&plain).map_err(read_error(&plain))?;
        return Ok((plain, bytes));
    }
    let gz = dir.join(format!("{stem}.gz"));
    let file = std::fs::File::open(&gz).map_err(|_| {
        invalid(dir, format!("has neither {stem} nor {stem}.gz (an IDX dataset folder has train-* and t10k-* files)"))
    })?;
    let mut bytes = Vec::new();
    flate2::read::GzDecoder::new(file)
        .read_to_end(&mut bytes)
        .map_err(read_error(&gz))?;
    Ok((gz, bytes))
}

fn be_u32(bytes: &[u8], at: usize) -> u32 {
    u32::from_be_bytes(bytes[at..at + 4].try_into().expect("4 bytes"))
}

/// `(rows, cols, pixels)` of an idx3 u8 file (magic 0x00000803).
fn parse_images(path: &Path, bytes: &[u8]) -> Result<(usize, usize, Vec<u8>), ImagesError> {
    if bytes.len() < 16 || be_u32(bytes, 0) != 0x0803 {
        return Err(invalid(path, "is not an IDX image file (magic 0x00000803)"));
    }
    let (n, rows, cols) = (
        be_u32(bytes, 4) as usize,
        be_u32(bytes, 8) as usize,
        be_u32(bytes, 12) as usize,
    );
    let expected = n
        .checked_mul(rows)
        .and_then(|v| v.checked_mul(cols))
        .unwrap_or(usize::MAX);
    if rows == 0 || cols == 0 || bytes.len() - 16 != expected {
        return Err(invalid(
            path,
            format!(
                "says {n} images of {rows}x{cols} but holds {} pixel bytes",
                bytes.len() - 16
            ),
        ));
    }
    Ok((rows, cols, bytes[16..].to_vec()))
}

/// Labels of an idx1 u8 file (magic 0x00000801).
fn parse_labels(path: &Path, bytes: &[u8]) -> Result<Vec<u8>, ImagesError> {
    if bytes.len() < 8 || be_u32(bytes, 0) != 0x0801 {
        return Err(invalid(path, "is not an IDX label file (magic 0x00000801)"));
    }
    let n = be_u32(bytes, 4) as usize;
    if bytes.len() - 8 != n {
        return Err(invalid(
            path,
            format!("says {n} labels but holds {}", bytes.len() - 8),
        ));
    }
    Ok(bytes[8..].to_vec())
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Writes a tiny IDX dataset: `n` 2x3 images whose pixels are their index, labels `i % 3`.
    fn write_idx(dir: &Path, prefix: &str, n: usize, gz: bool) {
        let mut images = vec![0, 0, 8, 3];
        for v in [n as u32, 2, 3] {
            images.extend_from_slice(&v.to_be_bytes());
        }
        for i in 0..n {
            images.extend(std::iter::repeat_n(i as u8, 6));
        }
        let mut labels = vec![0, 0, 8, 1];
        labels.extend_from_slice(&(n as u32).to_be_bytes());
        labels.extend((0..n).map(|i| (i % 3) as u8));
        for (stem, bytes) in [
            (format!("{prefix}-images-idx3-ubyte"), images),
            (format!("{prefix}-labels-idx1-ubyte"), labels),
        ] {
            if gz {
                let f = std::fs::File::create(dir.join(format!("{stem}.gz"))).unwrap();
                let mut enc = flate2::write::GzEncoder::new(f, flate2::Compression::fast());
                std::io::Write::write_all(&mut enc, &bytes).unwrap();
                enc.finish().unwrap();
            } else {
                std::fs::write(dir.join(stem), bytes).unwrap();
            }
        }
    }

    fn counts(train_pool: usize, val: usize, test: usize) -> Counts {
        Counts {
            train_pool,
            val,
            test,
            test_from_train: 0,
        }
    }

    fn first_pixel(item: &LabeledImage) -> u8 {
        match &item.source {
            ImageSource::Gray { pixels, .. } => pixels[0],
            ImageSource::File(_) => unreachable!(),
        }
    }

    #[test]
    fn picks_classes_in_order_with_counts_gz_or_not() {
        for gz in [false, true] {
            let dir = tempfile::tempdir().unwrap();
            write_idx(dir.path(), "train", 30, gz);
            write_idx(dir.path(), "t10k", 12, gz);
            let set = open(dir.path(), &[2, 0], None, counts(4, 2, 1)).unwrap();
            assert_eq!(set.train.len(), 8);
            assert_eq!(set.val.len(), 4);
            // t10k label 2: images 2, 5 for val, 8 for test; label 0: 0, 3 for val, 6 for test.
            assert_eq!(
                set.val.iter().map(first_pixel).collect::<Vec<_>>(),
                [2, 5, 0, 3]
            );
            assert_eq!(set.test.iter().map(first_pixel).collect::<Vec<_>>(), [8, 6]);
            // Label 2 becomes class 0; its first images in the train file are 2, 5, 8, 11.
            let firsts: Vec<u8> = set.train[..4].iter().map(first_pixel).collect();
            assert_eq!(firsts, vec![2, 5, 8, 11]);
            assert!(
                set.train[..4].iter().all(|i| i.label == 0)
                    && set.train[4..].iter().all(|i| i.label == 1)
            );
            assert_eq!(set.class_names, vec!["label 2", "label 0"]);
        }
    }

    #[test]
    fn test_images_from_the_train_files_come_after_the_pool() {
        let dir = tempfile::tempdir().unwrap();
        write_idx(dir.path(), "train", 30, false);
        write_idx(dir.path(), "t10k", 12, false);
        let set = open(
            dir.path(),
            &[2, 0],
            None,
            Counts {
                test_from_train: 3,
                ..counts(4, 2, 1)
            },
        )
        .unwrap();
        // t10k's test images first (8, 6), then per class the train file's images after the pool:
        // label 2's pool is 2, 5, 8, 11, so 14, 17, 20; label 0's is 0, 3, 6, 9, so 12, 15, 18.
        assert_eq!(
            set.test.iter().map(first_pixel).collect::<Vec<_>>(),
            [8, 6, 14, 17, 20, 12, 15, 18]
        );
        let pool: Vec<u8> = set.train.iter().map(first_pixel).collect();
        assert!(
            set.test[2..]
                .iter()
                .all(|t| !pool.contains(&first_pixel(t)))
        );
        let err = open(
            dir.path(),
            &[2, 0],
            None,
            Counts {
                test_from_train: 7,
                ..counts(4, 2, 1)
            },
        )
        .unwrap_err()
        .to_string();
        assert!(
            err.contains("train-labels-idx1-ubyte")
                && err.contains("left after the 4 taken by `data.train_pool_per_class`")
                && err.contains("fewer than the 7 `data.test_from_train_per_class`"),
            "{err}"
        );
    }

    #[test]
    fn errors_name_the_file() {
        let dir = tempfile::tempdir().unwrap();
        write_idx(dir.path(), "train", 30, false);
        write_idx(dir.path(), "t10k", 12, false);
        let err = open(dir.path(), &[0, 1], None, counts(11, 2, 0))
            .unwrap_err()
            .to_string();
        assert!(
            err.contains("train-labels-idx1-ubyte")
                && err.contains("fewer than the 11 `data.train_pool_per_class`"),
            "{err}"
        );
        // t10k has 4 images of each label: 3 for val leave 1, not the 2 asked for.
        let err = open(dir.path(), &[0, 1], None, counts(2, 3, 2))
            .unwrap_err()
            .to_string();
        assert!(
            err.contains("t10k-labels-idx1-ubyte")
                && err
                    .contains("1 images of label 0 left after the 3 taken by `data.val_per_class`")
                && err.contains("fewer than the 2 `data.test_per_class`"),
            "{err}"
        );
        std::fs::write(dir.path().join("t10k-images-idx3-ubyte"), b"garbage").unwrap();
        let err = open(dir.path(), &[0, 1], None, counts(2, 2, 0))
            .unwrap_err()
            .to_string();
        assert!(
            err.contains("t10k-images-idx3-ubyte") && err.contains("not an IDX image file"),
            "{err}"
        );
        let err = open(&dir.path().join("nowhere"), &[0], None, counts(1, 1, 0))
            .unwrap_err()
            .to_string();
        assert!(
            err.contains("nowhere") && err.contains("train-images-idx3-ubyte"),
            "{err}"
        );
    }
}
