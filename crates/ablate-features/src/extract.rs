//! Batched inference over a dataset.

use std::collections::BTreeMap;
use std::path::Path;

use ablate_data::{Split, Splits, meta, write_features};
use ablate_images::LabeledImage;
use burn::tensor::{Device, Tensor, TensorData};
use rayon::prelude::*;

use crate::error::FeaturesError;
use crate::plan::Plan;

/// Runs the backbone over the plan's train, val and test images and writes the features file at `out`
/// (atomically). `progress` is told how many images are done after each batch.
pub fn extract(
    plan: &Plan,
    out: &Path,
    device: &Device,
    progress: &(dyn Fn(usize) + Sync),
) -> Result<(), FeaturesError> {
    let (model, _) = ablate_backbone::load(&plan.arch, &plan.backbone.weights, device)?;
    let size = plan.preprocess.size;
    let cut_shape = plan.cut.map(|stage| model.cut_shape(stage, size));
    let dim = cut_shape.map_or(plan.arch.feature_dim(), |s| s.iter().product());
    let mut done = 0;
    let mut run = |items: &[LabeledImage]| -> Result<Split, FeaturesError> {
        let mut x = Vec::with_capacity(items.len() * dim);
        for batch in items.chunks(plan.backbone.batch_size) {
            // Decoding and resizing are per image: spread them over the cores; the network runs batched.
            let inputs: Vec<Vec<f32>> = batch
                .par_iter()
                .map(|item| plan.preprocess.apply(&item.source))
                .collect::<Result<_, _>>()?;
            let flat: Vec<f32> = inputs.into_iter().flatten().collect();
            let images =
                Tensor::<4>::from_data(TensorData::new(flat, [batch.len(), 3, size, size]), device);
            let rows = match plan.cut {
                Some(stage) => model
                    .forward_cut_per_image(images, stage)
                    .flatten::<2>(1, 3)
                    .into_data(),
                None => model.forward_features_per_image(images).into_data(),
            };
            x.extend(rows.iter::<f32>());
            done += batch.len();
            progress(done);
        }
        Ok(Split {
            x,
            y: items.iter().map(|i| i.label).collect(),
            dim,
        })
    };
    let splits = Splits {
        train: run(&plan.dataset.train)?,
        val: run(&plan.dataset.val)?,
        test: if plan.dataset.test.is_empty() {
            None
        } else {
            Some(run(&plan.dataset.test)?)
        },
    };

    let mut metadata = BTreeMap::from([
        (meta::ARCH.to_string(), plan.arch.name.to_string()),
        (
            meta::WEIGHTS.to_string(),
            plan.backbone.weights.display().to_string(),
        ),
        (
            meta::WEIGHTS_SHA256.to_string(),
            plan.weights_sha256.clone(),
        ),
        (
            meta::DATASET_SHA256.to_string(),
            plan.dataset.content_sha256.clone(),
        ),
        (
            meta::IMAGE_SIZE.to_string(),
            plan.preprocess.size.to_string(),
        ),
        (meta::CACHE_KEY.to_string(), plan.key.clone()),
    ]);
    if let (Some(stage), Some(shape)) = (plan.cut, cut_shape) {
        metadata.insert(meta::CUT_STAGE.to_string(), stage.to_string());
        metadata.insert(
            meta::CUT_SHAPE.to_string(),
            serde_json::to_string(&shape).expect("numbers serialize"),
        );
    }
    if let Some(dir) = out.parent() {
        std::fs::create_dir_all(dir).map_err(|source| FeaturesError::Read {
            path: dir.to_owned(),
            source,
        })?;
    }
    write_features(out, &splits, &plan.dataset.class_names, &metadata)?;
    Ok(())
}
