//! Reading a features file: safetensors with `train_x [N,F]` f32, `train_y [N]` integer labels,
//! `val_x`, `val_y`, optionally `test_x`, `test_y`, and optionally a `class_names` JSON list in the
//! header metadata.

use std::path::{Path, PathBuf};

use safetensors::{Dtype, SafeTensors};
use sha2::{Digest, Sha256};

use crate::error::DataError;
use crate::sampling::stratified_subset;

/// The header metadata keys of a features file, shared by the writer (extraction) and the readers.
pub mod meta {
    /// JSON list of the class names, index = label (the one key a hand-made file may carry).
    pub const CLASS_NAMES: &str = "class_names";
    /// Backbone architecture (`efficientnet-lite0`).
    pub const ARCH: &str = "arch";
    /// The weights file the features came from, as the experiment named it.
    pub const WEIGHTS: &str = "weights";
    pub const WEIGHTS_SHA256: &str = "weights_sha256";
    /// sha256 over the dataset's files (names and bytes).
    pub const DATASET_SHA256: &str = "dataset_sha256";
    pub const IMAGE_SIZE: &str = "image_size";
    /// The extraction's cache key (names the cached file).
    pub const CACHE_KEY: &str = "cache_key";
    /// A cut cache's stage: its rows are the activations entering this stage (0-based).
    pub const CUT_STAGE: &str = "cut_stage";
    /// A cut cache's `[channels, h, w]` per row, as JSON.
    pub const CUT_SHAPE: &str = "cut_shape";
}

/// One split: row-major `[len, dim]` features and a label per row.
#[derive(Debug, Clone, PartialEq)]
pub struct Split {
    pub x: Vec<f32>,
    pub y: Vec<u32>,
    pub dim: usize,
}

impl Split {
    pub fn len(&self) -> usize {
        self.y.len()
    }

    pub fn is_empty(&self) -> bool {
        self.y.is_empty()
    }

    /// Rows `indices` copied into a contiguous `[indices.len(), dim]` block, with their labels.
    pub fn gather(&self, indices: &[usize]) -> (Vec<f32>, Vec<u32>) {
        let mut x = Vec::with_capacity(indices.len() * self.dim);
        let mut y = Vec::with_capacity(indices.len());
        for &i in indices {
            x.extend_from_slice(&self.x[i * self.dim..(i + 1) * self.dim]);
            y.push(self.y[i]);
        }
        (x, y)
    }
}

/// The splits of a features file.
#[derive(Debug, Clone, PartialEq)]
pub struct Splits {
    pub train: Split,
    pub val: Split,
    /// Held out from training and from every choice made on val; absent in older files.
    pub test: Option<Split>,
}

/// A validated features file: all splits share the feature width and the label range.
#[derive(Debug, Clone)]
pub struct FeatureSet {
    pub path: PathBuf,
    pub train: Split,
    pub val: Split,
    pub test: Option<Split>,
    pub num_classes: usize,
    pub class_names: Vec<String>,
    /// sha256 of the file's bytes (hex), recorded with every result row.
    pub sha256: String,
    /// The header metadata (for extracted features: backbone, weights and dataset hashes).
    pub metadata: std::collections::BTreeMap<String, String>,
}

impl FeatureSet {
    pub fn load(path: &Path) -> Result<Self, DataError> {
        let bytes = std::fs::read(path).map_err(|source| DataError::Read {
            path: path.to_owned(),
            source,
        })?;
        Self::from_bytes(&bytes, path)
    }

    pub fn from_bytes(bytes: &[u8], path: &Path) -> Result<Self, DataError> {
        let format = |message: String| DataError::Format {
            path: path.to_owned(),
            message,
        };
        let tensors = SafeTensors::deserialize(bytes).map_err(|e| format(e.to_string()))?;
        let (_, metadata) = SafeTensors::read_metadata(bytes).map_err(|e| format(e.to_string()))?;
        let reader = Reader {
            path,
            tensors: &tensors,
        };

        let train = reader.split("train_x", "train_y")?;
        let val = reader.split("val_x", "val_y")?;
        // The test split is optional, but half of one is a broken file.
        let names = tensors.names();
        let test = match ["test_x", "test_y"].map(|t| names.contains(&t)) {
            [false, false] => None,
            _ => Some(reader.split("test_x", "test_y")?),
        };
        for (tensor, split) in [("val_x", Some(&val)), ("test_x", test.as_ref())] {
            if let Some(split) = split
                && split.dim != train.dim
            {
                return Err(reader.problem(
                    tensor,
                    format!(
                        "has {} features per row, train_x has {}",
                        split.dim, train.dim
                    ),
                ));
            }
        }
        if train.is_empty() {
            return Err(reader.problem("train_x", "has no rows".into()));
        }

        let label_max = train
            .y
            .iter()
            .chain(&val.y)
            .chain(test.iter().flat_map(|t| &t.y))
            .copied()
            .max()
            .unwrap_or(0) as usize;
        let class_names: Vec<String> = match metadata
            .metadata()
            .as_ref()
            .and_then(|m| m.get(meta::CLASS_NAMES))
        {
            Some(json) => serde_json::from_str(json).map_err(|e| {
                format(format!(
                    "metadata `class_names` is not a JSON list of strings: {e}"
                ))
            })?,
            None => (0..=label_max).map(|c| format!("class {c}")).collect(),
        };
        let num_classes = class_names.len();
        if label_max >= num_classes {
            return Err(DataError::Tensor {
                path: path.to_owned(),
                tensor: if train.y.iter().any(|&y| y as usize >= num_classes) {
                    "train_y"
                } else if val.y.iter().any(|&y| y as usize >= num_classes) {
                    "val_y"
                } else {
                    "test_y"
                },
                problem: format!(
                    "holds label {label_max}, but the metadata names only {num_classes} classes"
                ),
            });
        }
        for (class, name) in class_names.iter().enumerate() {
            if !train.y.iter().any(|&y| y as usize == class) {
                return Err(reader.problem(
                    "train_y",
                    format!("has no sample of class {class} ({name})"),
                ));
            }
        }

        Ok(FeatureSet {
            path: path.to_owned(),
            train,
            val,
            test,
            num_classes,
            class_names,
            sha256: hex::encode(Sha256::digest(bytes)),
            metadata: metadata
                .metadata()
                .clone()
                .unwrap_or_default()
                .into_iter()
                .collect(),
        })
    }

    pub fn dim(&self) -> usize {
        self.train.dim
    }

    /// Training samples of the smallest class: the largest `train_per_class` this file allows.
    pub fn smallest_class(&self) -> (usize, usize) {
        (0..self.num_classes)
            .map(|c| (c, self.train.y.iter().filter(|&&y| y as usize == c).count()))
            .min_by_key(|&(_, n)| n)
            .expect("a FeatureSet has at least one class")
    }

    /// The training rows of the stratified subset of `per_class` samples per class for `seed`.
    pub fn train_subset(&self, per_class: usize, seed: u64) -> Result<Vec<usize>, DataError> {
        let (class, available) = self.smallest_class();
        if per_class > available {
            return Err(DataError::TooFewSamples {
                path: self.path.clone(),
                class,
                available,
                requested: per_class,
            });
        }
        Ok(stratified_subset(
            &self.train.y,
            self.num_classes,
            per_class,
            seed,
        ))
    }
}

struct Reader<'a> {
    path: &'a Path,
    tensors: &'a SafeTensors<'a>,
}

impl Reader<'_> {
    fn problem(&self, tensor: &'static str, problem: String) -> DataError {
        DataError::Tensor {
            path: self.path.to_owned(),
            tensor,
            problem,
        }
    }

    fn split(&self, x_name: &'static str, y_name: &'static str) -> Result<Split, DataError> {
        let missing = |tensor| DataError::MissingTensor {
            path: self.path.to_owned(),
            tensor,
        };
        let x = self.tensors.tensor(x_name).map_err(|_| missing(x_name))?;
        let y = self.tensors.tensor(y_name).map_err(|_| missing(y_name))?;
        let &[rows, dim] = x.shape() else {
            return Err(self.problem(
                x_name,
                format!("must be 2-D [N, F], has shape {:?}", x.shape()),
            ));
        };
        if dim == 0 {
            return Err(self.problem(x_name, "has zero features per row".into()));
        }
        if y.shape() != [rows] {
            return Err(self.problem(
                y_name,
                format!(
                    "must have shape [{rows}] to match {x_name}, has {:?}",
                    y.shape()
                ),
            ));
        }
        let x_values = floats(x.dtype(), x.data()).ok_or_else(|| {
            self.problem(
                x_name,
                format!("must be F32, F16, BF16 or F64, is {:?}", x.dtype()),
            )
        })?;
        if let Some(pos) = x_values.iter().position(|v| !v.is_finite()) {
            return Err(self.problem(
                x_name,
                format!(
                    "holds a non-finite value at row {}, column {}",
                    pos / dim,
                    pos % dim
                ),
            ));
        }
        let labels = integers(y.dtype(), y.data()).ok_or_else(|| {
            self.problem(y_name, format!("must hold integers, is {:?}", y.dtype()))
        })?;
        let y_values = labels
            .iter()
            .enumerate()
            .map(|(i, &v)| {
                u32::try_from(v).map_err(|_| {
                    self.problem(
                        y_name,
                        format!("holds label {v} at row {i}; labels are 0..C"),
                    )
                })
            })
            .collect::<Result<Vec<u32>, _>>()?;
        Ok(Split {
            x: x_values,
            y: y_values,
            dim,
        })
    }
}

fn floats(dtype: Dtype, bytes: &[u8]) -> Option<Vec<f32>> {
    Some(match dtype {
        Dtype::F32 => bytes
            .chunks_exact(4)
            .map(|c| f32::from_le_bytes(c.try_into().unwrap()))
            .collect(),
        Dtype::F64 => bytes
            .chunks_exact(8)
            .map(|c| f64::from_le_bytes(c.try_into().unwrap()) as f32)
            .collect(),
        Dtype::F16 => bytes
            .chunks_exact(2)
            .map(|c| half_to_f32(u16::from_le_bytes([c[0], c[1]])))
            .collect(),
        Dtype::BF16 => bytes
            .chunks_exact(2)
            .map(|c| f32::from_bits(u32::from(u16::from_le_bytes([c[0], c[1]])) << 16))
            .collect(),
        _ => return None,
    })
}

fn half_to_f32(h: u16) -> f32 {
    let sign = if h & 0x8000 != 0 { -1.0 } else { 1.0 };
    let exp = i32::from((h >> 10) & 0x1f);
    let frac = f32::from(h & 0x3ff);
    match exp {
        0 => sign * frac * 2f32.powi(-24),
        31 if frac == 0.0 => sign * f32::INFINITY,
        31 => f32::NAN,
        _ => sign * (1.0 + frac / 1024.0) * 2f32.powi(exp - 15),
    }
}

fn integers(dtype: Dtype, bytes: &[u8]) -> Option<Vec<i64>> {
    macro_rules! read {
        ($t:ty, $n:expr) => {
            bytes
                .chunks_exact($n)
                .map(|c| <$t>::from_le_bytes(c.try_into().unwrap()) as i64)
                .collect()
        };
    }
    Some(match dtype {
        Dtype::U8 => bytes.iter().map(|&b| i64::from(b)).collect(),
        Dtype::I8 => bytes.iter().map(|&b| i64::from(b as i8)).collect(),
        Dtype::I16 => read!(i16, 2),
        Dtype::U16 => read!(u16, 2),
        Dtype::I32 => read!(i32, 4),
        Dtype::U32 => read!(u32, 4),
        Dtype::I64 => read!(i64, 8),
        Dtype::U64 => bytes
            .chunks_exact(8)
            .map(|c| i64::try_from(u64::from_le_bytes(c.try_into().unwrap())).unwrap_or(-1))
            .collect(),
        _ => return None,
    })
}

/// Writes a features file in the layout [`FeatureSet::load`] reads (labels as I64, names in metadata),
/// with `extra` metadata beside the class names.
pub fn write_features(
    path: &Path,
    splits: &Splits,
    class_names: &[String],
    extra: &std::collections::BTreeMap<String, String>,
) -> Result<(), DataError> {
    use safetensors::tensor::TensorView;
    let io = |source| DataError::Write {
        path: path.to_owned(),
        source,
    };
    let f32_bytes = |v: &[f32]| v.iter().flat_map(|x| x.to_le_bytes()).collect::<Vec<u8>>();
    let i64_bytes = |v: &[u32]| {
        v.iter()
            .flat_map(|&x| i64::from(x).to_le_bytes())
            .collect::<Vec<u8>>()
    };
    let named = [
        ("train_x", "train_y", Some(&splits.train)),
        ("val_x", "val_y", Some(&splits.val)),
        ("test_x", "test_y", splits.test.as_ref()),
    ];
    let buffers: Vec<(&str, Dtype, Vec<usize>, Vec<u8>)> = named
        .into_iter()
        .filter_map(|(x, y, split)| split.map(|s| (x, y, s)))
        .flat_map(|(x, y, split)| {
            [
                (
                    x,
                    Dtype::F32,
                    vec![split.len(), split.dim],
                    f32_bytes(&split.x),
                ),
                (y, Dtype::I64, vec![split.len()], i64_bytes(&split.y)),
            ]
        })
        .collect();
    let views = buffers
        .iter()
        .map(|(name, dtype, shape, bytes)| {
            TensorView::new(*dtype, shape.clone(), bytes)
                .map(|view| (name.to_string(), view))
                .map_err(|e| DataError::Format {
                    path: path.to_owned(),
                    message: e.to_string(),
                })
        })
        .collect::<Result<Vec<_>, _>>()?;
    let mut metadata: std::collections::HashMap<String, String> =
        extra.clone().into_iter().collect();
    metadata.insert(
        meta::CLASS_NAMES.to_string(),
        serde_json::to_string(class_names).expect("strings serialize"),
    );
    let bytes = safetensors::serialize(views, Some(metadata)).map_err(|e| DataError::Format {
        path: path.to_owned(),
        message: e.to_string(),
    })?;
    let bytes = canonical_header(bytes).map_err(|message| DataError::Format {
        path: path.to_owned(),
        message,
    })?;
    // Atomic, under a temporary name of its own: a reader never sees half a file, and two
    // extractions of the same file never write into one temporary file.
    if let Some(dir) = path.parent().filter(|d| !d.as_os_str().is_empty()) {
        std::fs::create_dir_all(dir).map_err(io)?;
    }
    ablate_record::write_atomic(path, &bytes).map_err(io)
}

/// The same safetensors bytes with the header's JSON keys in sorted order. safetensors writes the
/// metadata from a `HashMap`, whose order changes from run to run; the file's sha256 is recorded with
/// every result, so two extractions of the same features must give the same bytes.
fn canonical_header(bytes: Vec<u8>) -> Result<Vec<u8>, String> {
    let len_bytes: [u8; 8] = bytes
        .get(..8)
        .and_then(|b| b.try_into().ok())
        .ok_or("serialized file has no header")?;
    let len = u64::from_le_bytes(len_bytes) as usize;
    let header = bytes
        .get(8..8 + len)
        .ok_or("serialized header is cut short")?;
    // serde_json's map is a BTreeMap (no `preserve_order`): it writes keys sorted.
    let value: serde_json::Value =
        serde_json::from_slice(header).map_err(|e| format!("serialized header: {e}"))?;
    let mut canonical = serde_json::to_vec(&value).expect("a JSON value serializes");
    // The format aligns the data to 8 bytes, padding the header with spaces.
    canonical.resize(canonical.len().next_multiple_of(8), b' ');
    let mut out = Vec::with_capacity(8 + canonical.len() + bytes.len() - 8 - len);
    out.extend_from_slice(&(canonical.len() as u64).to_le_bytes());
    out.extend_from_slice(&canonical);
    out.extend_from_slice(&bytes[8 + len..]);
    Ok(out)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn split(rows: usize, dim: usize, labels: &[u32]) -> Split {
        Split {
            x: (0..rows * dim).map(|i| i as f32).collect(),
            y: labels.to_vec(),
            dim,
        }
    }

    fn names(n: usize) -> Vec<String> {
        (0..n).map(|c| format!("c{c}")).collect()
    }

    #[test]
    fn round_trip_keeps_values_names_and_hash() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("f.safetensors");
        let splits = Splits {
            train: split(4, 3, &[0, 1, 1, 0]),
            val: split(2, 3, &[1, 0]),
            test: None,
        };
        write_features(&path, &splits, &names(2), &Default::default()).unwrap();
        let set = FeatureSet::load(&path).unwrap();
        assert_eq!(
            (set.train.clone(), set.val.clone()),
            (splits.train.clone(), splits.val.clone())
        );
        assert_eq!(set.test, None);
        assert_eq!(set.class_names, names(2));
        assert_eq!(
            set.sha256,
            hex::encode(Sha256::digest(std::fs::read(&path).unwrap()))
        );
        assert_eq!(set.smallest_class(), (0, 2));
        assert!(matches!(
            set.train_subset(3, 0),
            Err(DataError::TooFewSamples {
                requested: 3,
                available: 2,
                ..
            })
        ));
        let with_test = Splits {
            test: Some(split(3, 3, &[0, 0, 1])),
            ..splits.clone()
        };
        write_features(&path, &with_test, &names(2), &Default::default()).unwrap();
        let reloaded = FeatureSet::load(&path).unwrap();
        assert_eq!(reloaded.test, with_test.test);
        assert_ne!(reloaded.sha256, set.sha256);
    }

    /// The header is written in one order, whatever order the metadata map iterates in: identical
    /// features give identical bytes, and so the same `features_sha256` in every result row.
    #[test]
    fn identical_features_give_identical_bytes() {
        let dir = tempfile::tempdir().unwrap();
        let splits = Splits {
            train: split(4, 3, &[0, 1, 1, 0]),
            val: split(2, 3, &[1, 0]),
            test: Some(split(2, 3, &[0, 1])),
        };
        let extra: std::collections::BTreeMap<String, String> = (0..12)
            .map(|i| (format!("key{i}"), format!("value {i}")))
            .collect();
        let files: Vec<Vec<u8>> = (0..8)
            .map(|i| {
                let path = dir.path().join(format!("f{i}.safetensors"));
                write_features(&path, &splits, &names(2), &extra).unwrap();
                std::fs::read(&path).unwrap()
            })
            .collect();
        assert!(files.windows(2).all(|w| w[0] == w[1]));
        let set = FeatureSet::load(&dir.path().join("f0.safetensors")).unwrap();
        assert_eq!(set.metadata["key7"], "value 7");
        assert_eq!(set.test, splits.test);
    }

    /// Each broken file and the words its error must contain.
    #[test]
    fn broken_files_name_the_tensor() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("bad.safetensors");
        let cases: Vec<(Split, Split, Vec<String>, &[&str])> = vec![
            (
                split(2, 3, &[0, 1]),
                split(1, 4, &[0]),
                names(2),
                &["val_x", "4 features", "3"],
            ),
            (
                split(2, 3, &[0, 5]),
                split(1, 3, &[0]),
                names(2),
                &["train_y", "label 5"],
            ),
            (
                split(2, 3, &[0, 0]),
                split(1, 3, &[1]),
                names(2),
                &["train_y", "no sample of class 1", "c1"],
            ),
            (
                split(0, 3, &[]),
                split(1, 3, &[0]),
                names(1),
                &["train_x", "no rows"],
            ),
        ];
        for (train, val, class_names, needles) in cases {
            let splits = Splits {
                train,
                val,
                test: None,
            };
            write_features(&path, &splits, &class_names, &Default::default()).unwrap();
            let err = FeatureSet::load(&path).unwrap_err().to_string();
            assert!(err.contains("bad.safetensors"), "{err}");
            for needle in needles {
                assert!(err.contains(needle), "{err:?} lacks {needle:?}");
            }
        }
        let mut nan = split(2, 3, &[0, 1]);
        nan.x[4] = f32::NAN;
        let splits = Splits {
            train: nan,
            val: split(1, 3, &[0]),
            test: None,
        };
        write_features(&path, &splits, &names(2), &Default::default()).unwrap();
        let err = FeatureSet::load(&path).unwrap_err().to_string();
        assert!(
            err.contains("train_x") && err.contains("row 1, column 1"),
            "{err}"
        );
        // A broken test split is named like the others.
        let splits = Splits {
            train: split(2, 3, &[0, 1]),
            val: split(1, 3, &[0]),
            test: Some(split(1, 2, &[0])),
        };
        write_features(&path, &splits, &names(2), &Default::default()).unwrap();
        let err = FeatureSet::load(&path).unwrap_err().to_string();
        assert!(
            err.contains("test_x") && err.contains("2 features"),
            "{err}"
        );
        let splits = Splits {
            test: Some(split(1, 3, &[7])),
            ..splits
        };
        write_features(&path, &splits, &names(2), &Default::default()).unwrap();
        let err = FeatureSet::load(&path).unwrap_err().to_string();
        assert!(err.contains("test_y") && err.contains("label 7"), "{err}");
    }

    #[test]
    fn missing_tensor_is_named() {
        let views = vec![(
            "train_x".to_string(),
            safetensors::tensor::TensorView::new(Dtype::F32, vec![1, 1], &[0u8; 4]).unwrap(),
        )];
        let bytes = safetensors::serialize(views, None).unwrap();
        let err = FeatureSet::from_bytes(&bytes, Path::new("m.safetensors"))
            .unwrap_err()
            .to_string();
        assert!(
            err.contains("m.safetensors") && err.contains("`train_y` is missing"),
            "{err}"
        );
    }
}
