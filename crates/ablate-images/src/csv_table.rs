//! Kaggle-style CSV datasets: `image_id,label` or `image_id,<one-hot columns...>` plus an image folder.

use ablate_spec::{CsvData, CsvLabels};
use sha2::{Digest, Sha256};

use crate::dataset::{ImageDataset, ImageSource, split_by_fraction};
use crate::error::{ImagesError, invalid, read_error};

pub fn open(spec: &CsvData) -> Result<ImageDataset, ImagesError> {
    let path = spec.csv.as_path();
    let text = std::fs::read(path).map_err(read_error(path))?;
    let mut reader = csv::Reader::from_reader(text.as_slice());
    let headers = reader
        .headers()
        .map_err(|e| invalid(path, e.to_string()))?
        .clone();
    let column = |name: &str| {
        headers.iter().position(|h| h == name).ok_or_else(|| {
            invalid(
                path,
                format!(
                    "has no column `{name}` (columns: {})",
                    headers.iter().collect::<Vec<_>>().join(", ")
                ),
            )
        })
    };
    let id_at = column(&spec.id_column)?;
    let mut rows: Vec<(String, String)> = Vec::new(); // (image id, class name)
    let class_names: Vec<String> = match spec.labels() {
        Some(CsvLabels::Column(label)) => {
            let label_at = column(label)?;
            for (i, record) in reader.records().enumerate() {
                let record = record.map_err(|e| invalid(path, e.to_string()))?;
                rows.push((
                    record[id_at].to_string(),
                    record.get(label_at).unwrap_or("").to_string(),
                ));
                if rows[i].1.is_empty() {
                    return Err(invalid(path, format!("row {}: empty `{label}`", i + 2)));
                }
            }
            let mut names: Vec<String> = rows.iter().map(|r| r.1.clone()).collect();
            names.sort();
            names.dedup();
            names
        }
        Some(CsvLabels::OneHot(one_hot)) => {
            let at: Vec<usize> = one_hot
                .iter()
                .map(|c| column(c))
                .collect::<Result<_, _>>()?;
            for (i, record) in reader.records().enumerate() {
                let record = record.map_err(|e| invalid(path, e.to_string()))?;
                let hot: Vec<usize> = (0..at.len())
                    .filter(|&k| record.get(at[k]).is_some_and(|v| v.trim() == "1"))
                    .collect();
                let [k] = hot[..] else {
                    return Err(invalid(
                        path,
                        format!(
                            "row {}: needs exactly one of {} set to 1, has {}",
                            i + 2,
                            one_hot.join(", "),
                            hot.len()
                        ),
                    ));
                };
                rows.push((record[id_at].to_string(), one_hot[k].clone()));
            }
            one_hot.to_vec()
        }
        None => {
            return Err(invalid(
                path,
                "needs exactly one of `label_column` and `one_hot_columns`",
            ));
        }
    };
    if rows.is_empty() {
        return Err(invalid(path, "has no rows"));
    }

    let mut hasher = Sha256::new();
    let mut per_class: Vec<Vec<ImageSource>> = vec![Vec::new(); class_names.len()];
    let mut sorted = rows;
    sorted.sort();
    for (id, class) in sorted {
        let image = spec.images.join(format!("{id}.{}", spec.extension));
        let bytes = std::fs::read(&image).map_err(read_error(&image))?;
        hasher.update(id.as_bytes());
        hasher.update(&bytes);
        let label = class_names
            .iter()
            .position(|c| *c == class)
            .expect("class names come from the rows");
        per_class[label].push(ImageSource::File(image));
    }
    if let Some(empty) = per_class.iter().position(Vec::is_empty) {
        return Err(invalid(
            path,
            format!("class `{}` has no rows", class_names[empty]),
        ));
    }
    let splits = split_by_fraction(
        per_class,
        spec.val_fraction,
        spec.test_fraction.unwrap_or(0.0),
    );
    Ok(ImageDataset::from_splits(class_names, splits, hasher))
}
