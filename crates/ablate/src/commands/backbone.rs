//! `ablate backbone run`, `top5`, `cost`, `bench` and `finetune-bench`: the backbone alone, on your
//! weights.

use std::collections::HashMap;
use std::io::Write;
use std::path::Path;
use std::process::ExitCode;
use std::time::Instant;

use ablate_backbone::{Arch, ForwardCost, Part, imagenet_class_name, load};
use ablate_images::{ImageSource, Preprocess};
use anyhow::{Context, Result, bail};
use burn::tensor::{Device, Distribution, Tensor, TensorData};
use safetensors::tensor::TensorView;
use safetensors::{Dtype, SafeTensors};

use crate::backend;
use crate::cli::BackboneCommand;

pub fn backbone(command: &BackboneCommand) -> Result<ExitCode> {
    match command {
        BackboneCommand::Run {
            arch,
            weights,
            input,
            out,
            backend,
        } => run(arch, weights, input, out, &backend::device(*backend)?),
        BackboneCommand::Top5 {
            arch,
            weights,
            images,
            backend,
        } => top5(arch, weights, images, &backend::device(*backend)?),
        BackboneCommand::Cost { arch, size, batch } => cost(arch, *size, *batch),
        BackboneCommand::Bench {
            arch,
            weights,
            batch,
            batches,
            backend,
        } => bench(arch, weights, *batch, *batches, &backend::device(*backend)?),
        BackboneCommand::FinetuneBench {
            arch,
            weights,
            batch,
            size,
            steps,
            backend,
        } => finetune_bench(
            arch,
            weights,
            *batch,
            *size,
            *steps,
            &backend::device(*backend)?,
        ),
    }
}

/// `ablate backbone cost`: the arithmetic docs/gpu.md's estimates start from.
fn cost(arch: &str, size: Option<usize>, batch: usize) -> Result<ExitCode> {
    let arch = Arch::from_name(arch)?;
    let size = size.unwrap_or(arch.resolution);
    let c = ForwardCost::of(&arch, size);
    let gb = |floats: u64| floats as f64 * 4.0 / 1e9;
    let mut out = std::io::stdout().lock();
    writeln!(out, "{} at {size} px, per image:", arch.name)?;
    writeln!(
        out,
        "  forward: {:.3} G multiply-adds = {:.2} GFLOP; a training step (forward + backward, about 3x): {:.1} GFLOP",
        c.macs as f64 / 1e9,
        2.0 * c.macs as f64 / 1e9,
        6.0 * c.macs as f64 / 1e9
    )?;
    writeln!(
        out,
        "  parameters: {:.2} M ({:.0} MB in f32; Adam keeps 4x that: weights, gradients, 2 moments)",
        c.params as f64 / 1e6,
        gb(c.params) * 1e3
    )?;
    writeln!(
        out,
        "  feature maps kept for backward: {:.1} M floats = {:.2} GB in f32",
        c.activations as f64 / 1e6,
        gb(c.activations)
    )?;
    writeln!(
        out,
        "  layers: {} (each one kernel launch or more, forward; about twice that backward)",
        c.layers
    )?;
    writeln!(
        out,
        "a training step of {batch} images: {:.2} TFLOP, about {:.1} GB of feature maps + {:.2} GB of weights and Adam state",
        6.0 * c.macs as f64 * batch as f64 / 1e12,
        gb(c.activations) * batch as f64,
        4.0 * gb(c.params)
    )?;
    // What fine-tuning from a cut still runs each step: the parts above it (the lower stages'
    // activations come from a cache).
    writeln!(
        out,
        "trained from a cut (the parts from the named one up; the rest frozen and cached):"
    )?;
    writeln!(
        out,
        "  from        multiply-adds  parameters  feature maps kept"
    )?;
    let share = |x: u64, of: u64| 100.0 * x as f64 / of.max(1) as f64;
    for (part, _) in ForwardCost::parts(&arch, size) {
        let top = ForwardCost::from_part(&arch, size, part);
        let name = match part {
            Part::Stem => "stem".to_string(),
            Part::Stage(s) => format!("stage {}", s + 1),
            Part::Head => "head conv".to_string(),
        };
        writeln!(
            out,
            "  {name:<10}  {:>12.1}%  {:>9.1}%  {:>16.1}%",
            share(top.macs, c.macs),
            share(top.params, c.params),
            share(top.activations, c.activations)
        )?;
    }
    Ok(ExitCode::SUCCESS)
}

fn run(arch: &str, weights: &Path, input: &Path, out: &Path, device: &Device) -> Result<ExitCode> {
    let arch = Arch::from_name(arch)?;
    let (model, report) = load(&arch, weights, device)?;
    let bytes = std::fs::read(input).with_context(|| format!("reading {}", input.display()))?;
    let tensors = SafeTensors::deserialize(&bytes)
        .with_context(|| format!("{} is not a safetensors file", input.display()))?;
    let view = tensors
        .tensor("input")
        .with_context(|| format!("{}: tensor `input` is missing", input.display()))?;
    let &[n, 3, h, w] = view.shape() else {
        bail!(
            "{}: tensor `input` must be [N, 3, H, W], is {:?}",
            input.display(),
            view.shape()
        );
    };
    if view.dtype() != Dtype::F32 {
        bail!(
            "{}: tensor `input` must be F32, is {:?}",
            input.display(),
            view.dtype()
        );
    }
    let values: Vec<f32> = view
        .data()
        .chunks_exact(4)
        .map(|c| f32::from_le_bytes(c.try_into().expect("4 bytes")))
        .collect();
    let x = Tensor::<4>::from_data(TensorData::new(values, [n, 3, h, w]), device);
    let features = model.forward_features(x);
    let logits = model.forward_head(features.clone());

    let to_bytes = |t: Tensor<2>| -> (Vec<usize>, Vec<u8>) {
        let dims = t.dims().to_vec();
        (
            dims,
            t.into_data()
                .iter::<f32>()
                .flat_map(f32::to_le_bytes)
                .collect(),
        )
    };
    let mut outputs = vec![("features", to_bytes(features))];
    if let Some(logits) = logits {
        outputs.push(("logits", to_bytes(logits)));
    }
    let views: Vec<(&str, TensorView)> = outputs
        .iter()
        .map(|(name, (shape, data))| Ok((*name, TensorView::new(Dtype::F32, shape.clone(), data)?)))
        .collect::<Result<_, safetensors::SafeTensorError>>()?;
    let metadata = HashMap::from([("arch".to_string(), arch.name.to_string())]);
    let serialized = safetensors::serialize(views, Some(metadata))?;
    std::fs::write(out, serialized).with_context(|| format!("writing {}", out.display()))?;
    eprintln!(
        "{}: {} tensors loaded from {}; wrote features{} for {n} images to {}",
        arch.name,
        report.applied,
        weights.display(),
        if report.has_classifier {
            " and logits"
        } else {
            ""
        },
        out.display()
    );
    Ok(ExitCode::SUCCESS)
}

fn top5(
    arch: &str,
    weights: &Path,
    images: &[std::path::PathBuf],
    device: &Device,
) -> Result<ExitCode> {
    let arch = Arch::from_name(arch)?;
    let (model, _) = load(&arch, weights, device)?;
    let preprocess = Preprocess::imagenet(arch.resolution);
    let mut out = std::io::stdout().lock();
    for path in images {
        let input = preprocess.apply(&ImageSource::File(path.clone()))?;
        let size = preprocess.size;
        let x = Tensor::<4>::from_data(TensorData::new(input, [1, 3, size, size]), device);
        let Some(logits) = model.forward_head(model.forward_features(x)) else {
            bail!(
                "{} has no ImageNet classifier (`_fc`), so there is nothing to rank",
                weights.display()
            );
        };
        let probs: Vec<f32> = burn::tensor::activation::softmax(logits, 1)
            .into_data()
            .iter::<f32>()
            .collect();
        let mut ranked: Vec<usize> = (0..probs.len()).collect();
        ranked.sort_by(|&a, &b| probs[b].total_cmp(&probs[a]));
        writeln!(out, "{}:", path.display())?;
        for &class in &ranked[..5] {
            let name = imagenet_class_name(class).unwrap_or("?");
            writeln!(out, "  {class:>4}  {:6.2}%  {name}", 100.0 * probs[class])?;
        }
    }
    Ok(ExitCode::SUCCESS)
}

fn bench(
    arch: &str,
    weights: &Path,
    batch: usize,
    batches: usize,
    device: &Device,
) -> Result<ExitCode> {
    let arch = Arch::from_name(arch)?;
    let (model, _) = load(&arch, weights, device)?;
    let size = arch.resolution;
    let x = Tensor::<4>::random(
        [batch, 3, size, size],
        Distribution::Normal(0.0, 1.0),
        device,
    );
    // One warm-up batch, then the timed ones.
    let _ = model.forward_features_per_image(x.clone()).into_data();
    let started = Instant::now();
    for _ in 0..batches {
        let _ = model.forward_features_per_image(x.clone()).into_data();
    }
    let seconds = started.elapsed().as_secs_f64();
    writeln!(
        std::io::stdout().lock(),
        "{} at {size} px, batch {batch}, {} threads: {:.1} images/s ({batches} batches in {seconds:.2} s, network only)",
        arch.name,
        rayon::current_num_threads(),
        (batch * batches) as f64 / seconds
    )?;
    Ok(ExitCode::SUCCESS)
}

/// The same step as `scripts/finetune_oracle.py --bench` times in PyTorch: model1 (1024 hidden, bias,
/// ReLU, BN, dropout 0.5) on the backbone, drop-connect 0.2, the backbone's dropout 0.2, Adam with a
/// backbone and a head learning rate, mean cross-entropy.
fn finetune_bench(
    arch: &str,
    weights: &Path,
    batch: usize,
    size: usize,
    steps: usize,
    device: &Device,
) -> Result<ExitCode> {
    use ablate_heads::HeadConfig;
    use ablate_train::{DrawSpec, FineTuneNet, PartLr, StepDraws, build_optimizer, optimizer_step};
    use burn::tensor::Int;

    const CLASSES: usize = 4;
    let arch = Arch::from_name(arch)?;
    let train_device = device.clone().autodiff();
    let (mut backbone, _) = load(&arch, weights, &train_device)?;
    backbone.fc = None;
    let features = arch.feature_dim();
    let asker = ablate_spec::HeadVariant::mlp().number(ablate_spec::Switch::Dropout, 0.5);
    let head = HeadConfig::of(&asker, features, 1024, CLASSES).init(0, &train_device);
    let head_dropouts = head.dropout_draws();
    let mut net = FineTuneNet { backbone, head };
    let mut optim = build_optimizer(&ablate_spec::TrainSpec::default());
    let lr = PartLr {
        backbone: 1e-4,
        head: 1e-3,
    };
    let rates = net.backbone.drop_connect_rates(0.2);
    let images = Tensor::<4>::random(
        [batch, 3, size, size],
        Distribution::Normal(0.0, 1.0),
        &train_device,
    );
    let labels: Vec<i64> = (0..batch).map(|i| (i % CLASSES) as i64).collect();
    let targets = Tensor::<1, Int>::from_data(TensorData::new(labels, [batch]), &train_device)
        .one_hot(CLASSES)
        .float();
    let mut step = |net: FineTuneNet, i: usize| {
        let key = format!("bench/step{i}");
        let draws = StepDraws::draw(
            &DrawSpec {
                seed: 0,
                step_key: &key,
                batch,
                drop_connect_rates: &rates,
                input_dropout: 0.2,
                features,
                head_dropouts: &head_dropouts,
            },
            &train_device,
        );
        let logits = net.forward_train(images.clone(), &draws);
        let loss = ablate_train::cross_entropy(logits, targets.clone());
        let _ = loss.clone().into_scalar::<f32>();
        let grads = loss.backward();
        optimizer_step(&mut optim, net, grads, lr)
    };
    // One warm-up step, then the timed ones.
    net = step(net, 0);
    let started = Instant::now();
    for i in 0..steps {
        net = step(net, i + 1);
    }
    let seconds = started.elapsed().as_secs_f64();
    writeln!(
        std::io::stdout().lock(),
        "{} + model1, fine-tuning at {size} px, batch {batch}: {:.1} images/s ({steps} steps in {seconds:.2} s: train-mode forward, backward, Adam)",
        arch.name,
        (batch * steps) as f64 / seconds
    )?;
    Ok(ExitCode::SUCCESS)
}
