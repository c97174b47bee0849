//! ImageFolder trees: `root/<class>/<image>`, or `root/train/<class>/...` + `root/val/<class>/...`
//! (+ `root/test/<class>/...`).

use std::path::{Path, PathBuf};

use sha2::{Digest, Sha256};

use crate::dataset::{ImageDataset, ImageSource, LabeledImage, Splits, split_by_fraction};
use crate::error::{ImagesError, invalid, read_error};

const EXTENSIONS: [&str; 3] = ["jpg", "jpeg", "png"];

pub fn open(
    root: &Path,
    val_fraction: Option<f64>,
    test_fraction: Option<f64>,
) -> Result<ImageDataset, ImagesError> {
    let (train_root, val_root, test_root) =
        (root.join("train"), root.join("val"), root.join("test"));
    let given_split = train_root.is_dir() && val_root.is_dir();
    let class_root = if given_split { &train_root } else { root };
    let class_names = subdirectories(class_root)?;
    if class_names.is_empty() {
        return Err(invalid(
            class_root,
            "has no class folders (expected <root>/<class>/<image>)",
        ));
    }
    let mut hasher = Sha256::new();
    let mut files_of = |base: &Path| -> Result<Vec<Vec<ImageSource>>, ImagesError> {
        class_names
            .iter()
            .map(|class| {
                let files = image_files(&base.join(class))?;
                for f in &files {
                    hasher.update(
                        f.strip_prefix(root)
                            .unwrap_or(f)
                            .to_string_lossy()
                            .as_bytes(),
                    );
                    hasher.update(std::fs::read(f).map_err(read_error(f))?);
                }
                Ok(files.into_iter().map(ImageSource::File).collect())
            })
            .collect()
    };
    let splits = if given_split {
        if test_fraction.is_some() {
            return Err(invalid(
                root,
                "has train/ and val/ subfolders, so its split is given: `data.test_fraction` does not apply (put the test images in test/)",
            ));
        }
        let label = |per_class: Vec<Vec<ImageSource>>| -> Vec<LabeledImage> {
            per_class
                .into_iter()
                .enumerate()
                .flat_map(|(label, items)| {
                    items.into_iter().map(move |source| LabeledImage {
                        source,
                        label: label as u32,
                    })
                })
                .collect()
        };
        let train = label(files_of(&train_root)?);
        let val = label(files_of(&val_root)?);
        let test = if test_root.is_dir() {
            label(files_of(&test_root)?)
        } else {
            Vec::new()
        };
        Splits { train, val, test }
    } else {
        let fraction = val_fraction.ok_or_else(|| {
            invalid(
                root,
                "has no train/ and val/ subfolders, so `data.val_fraction` is needed",
            )
        })?;
        split_by_fraction(files_of(root)?, fraction, test_fraction.unwrap_or(0.0))
    };
    Ok(ImageDataset::from_splits(class_names, splits, hasher))
}

fn subdirectories(dir: &Path) -> Result<Vec<String>, ImagesError> {
    // An entry that cannot be read is an error naming the folder, not a class silently missing.
    let entries = std::fs::read_dir(dir)
        .map_err(read_error(dir))?
        .collect::<Result<Vec<_>, _>>()
        .map_err(read_error(dir))?;
    let mut names: Vec<String> = entries
        .into_iter()
        .filter(|e| e.path().is_dir())
        .map(|e| e.file_name().to_string_lossy().into_owned())
        .filter(|n| !n.starts_with('.'))
        .collect();
    names.sort();
    Ok(names)
}

/// The class folder's images, sorted by name; an empty class is an error naming the folder.
fn image_files(dir: &Path) -> Result<Vec<PathBuf>, ImagesError> {
    let entries = std::fs::read_dir(dir)
        .map_err(read_error(dir))?
        .collect::<Result<Vec<_>, _>>()
        .map_err(read_error(dir))?;
    let mut files: Vec<PathBuf> = entries
        .into_iter()
        .map(|e| e.path())
        .filter(|p| {
            p.extension()
                .and_then(|e| e.to_str())
                .is_some_and(|e| EXTENSIONS.contains(&e.to_ascii_lowercase().as_str()))
        })
        .collect();
    files.sort();
    if files.is_empty() {
        return Err(invalid(
            dir,
            "has no images (jpg, jpeg, png): every class needs at least one",
        ));
    }
    Ok(files)
}
