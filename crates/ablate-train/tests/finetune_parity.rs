//! One fine-tuning step against PyTorch: lite0 with the real pretrained weights, `_fc` = model1, the
//! whole network in train mode, one SGD step with a backbone and a head learning rate. The fixture is
//! written by `scripts/finetune-oracle.sh` (PyTorch from PyPI; see `scripts/finetune_oracle.py` for
//! what it holds). Loss, logits, gradients, updated weights and BatchNorm running statistics are
//! compared with PyTorch's float64 step (see [`TOLERANCE`] and [`TORCH_F32_SLACK`]).
//!
//! The lite0 weights are installed by `scripts/assets.sh`, which the test script runs; a missing file
//! is a failure that says so, never a skip.

use std::collections::HashMap;
use std::path::PathBuf;

use ablate_backbone::{Arch, EfficientNet, load};
use ablate_heads::{BatchNorm1d, HeadConfig, HeadLayer, SequentialHead};
use ablate_matmul::BlockedLinear;
use ablate_spec::{HeadVariant, Switch};
use ablate_spec::{OptimizerKind, TrainSpec};
use ablate_train::{DrawSpec, FineTuneNet, PartLr, StepDraws, optimizer_step};
use burn::module::Param;
use burn::nn::Linear;
use burn::tensor::activation::log_softmax;
use burn::tensor::{Device, Int, Tensor, TensorData};
use safetensors::SafeTensors;

/// Within this of PyTorch's float64 step (relative to max(1, |value|))...
const TOLERANCE: f32 = 1e-4;
/// ... or no further from it than this many times PyTorch's own float32 step is. On this batch
/// PyTorch's float32 step is 9e-2 off on the stem's gradient (ablate 2e-2): we attribute it to ReLU6
/// inputs that rounding moves across the kink (PyTorch's float32 and float64 forwards differ in 2 of
/// lite0's 4 million), whose gradient the train-mode BatchNorms' backward spreads over every earlier
/// layer. The slack lets an early-layer gradient differ by up to 2x PyTorch's error (0.18 for the
/// stem) and the logits by 1.2e-4: it would not catch an error confined to the first layers and
/// smaller than that. Measured, ablate is within 1e-4 everywhere but the stem, first BN and block 1.
const TORCH_F32_SLACK: f32 = 2.0;

fn manifest_dir() -> PathBuf {
    std::env::var_os("CARGO_MANIFEST_DIR")
        .map(PathBuf::from)
        .unwrap_or_else(|| env!("CARGO_MANIFEST_DIR").into())
}

fn lite0_weights() -> PathBuf {
    let path = manifest_dir().join("../../assets/efficientnet-lite0-57934424.pth");
    assert!(
        path.is_file(),
        "{} is missing: run `bash scripts/assets.sh` (scripts/test.sh does)",
        path.display()
    );
    path
}

/// Every tensor of a fixture file as (shape, f32 values); integer tensors converted.
struct Fixture {
    tensors: HashMap<String, (Vec<usize>, Vec<f32>)>,
    metadata: HashMap<String, String>,
}

impl Fixture {
    fn load(name: &str) -> Self {
        let path = manifest_dir().join("tests/fixtures").join(name);
        let bytes = std::fs::read(&path).unwrap_or_else(|e| {
            panic!(
                "{}: {e} (scripts/finetune-oracle.sh writes it)",
                path.display()
            )
        });
        let (_, meta) = SafeTensors::read_metadata(&bytes).unwrap();
        let metadata = meta.metadata().clone().unwrap_or_default();
        let file = SafeTensors::deserialize(&bytes).unwrap();
        let tensors = file
            .tensors()
            .into_iter()
            .map(|(name, view)| {
                let values = match view.dtype() {
                    safetensors::Dtype::F32 => view
                        .data()
                        .chunks_exact(4)
                        .map(|c| f32::from_le_bytes(c.try_into().unwrap()))
                        .collect(),
                    safetensors::Dtype::I64 => view
                        .data()
                        .chunks_exact(8)
                        .map(|c| i64::from_le_bytes(c.try_into().unwrap()) as f32)
                        .collect(),
                    other => panic!("{name}: unexpected dtype {other:?}"),
                };
                (name, (view.shape().to_vec(), values))
            })
            .collect();
        Fixture { tensors, metadata }
    }

    fn get(&self, name: &str) -> &(Vec<usize>, Vec<f32>) {
        self.tensors
            .get(name)
            .unwrap_or_else(|| panic!("fixture has no tensor {name}"))
    }

    fn meta(&self, key: &str) -> f64 {
        self.metadata[key].parse().unwrap()
    }

    fn tensor<const D: usize>(&self, name: &str, device: &Device) -> Tensor<D> {
        let (shape, values) = self.get(name);
        Tensor::from_data(TensorData::new(values.clone(), shape.clone()), device)
    }
}

fn values<const D: usize>(t: Tensor<D>) -> Vec<f32> {
    t.into_data().convert::<f32>().try_to_vec::<f32>().unwrap()
}

fn transposed(t: Tensor<2>) -> Tensor<2> {
    t.transpose()
}

/// Largest |a - b|, relative to max(1, |b|): the gradients and weights span several magnitudes.
fn max_rel_diff(ours: &[f32], reference: &[f32]) -> f32 {
    assert_eq!(ours.len(), reference.len(), "sizes differ");
    ours.iter()
        .zip(reference)
        .map(|(a, b)| (a - b).abs() / b.abs().max(1.0))
        .fold(0.0f32, f32::max)
}

/// ablate's value of `name` against PyTorch's float64 step (`<kind>64.<name>`), beside PyTorch's own
/// float32 step (`<kind>.<name>`) against the same reference.
fn check(fixture: &Fixture, kind: &str, name: &str, ours: &[f32], failures: &mut Vec<String>) {
    let key = |k: &str| {
        if name.is_empty() {
            k.to_string()
        } else {
            format!("{k}.{name}")
        }
    };
    let reference = &fixture.get(&key(&format!("{kind}64"))).1;
    let torch32 = &fixture.get(&key(kind)).1;
    let ours_err = max_rel_diff(ours, reference);
    let torch_err = max_rel_diff(torch32, reference);
    let ours_vs_torch = max_rel_diff(ours, torch32);
    eprintln!(
        "{kind} {name}: ablate {ours_err:.2e}, pytorch f32 {torch_err:.2e} (vs f64); ablate vs pytorch f32 {ours_vs_torch:.2e}"
    );
    if ours_err > TOLERANCE.max(torch_err * TORCH_F32_SLACK) {
        failures.push(format!("{kind} {name}: {ours_err:.2e}"));
    }
}

/// model1 as the fixture's PyTorch `nn.Sequential` holds it (Linear weights are [out, in] there).
fn head_from(fixture: &Fixture, device: &Device) -> SequentialHead {
    let (w1_shape, _) = fixture.get("head.0.weight");
    let (hidden, features) = (w1_shape[0], w1_shape[1]);
    let classes = fixture.get("head.4.weight").0[0];
    let variant = HeadVariant::mlp()
        .flag(Switch::BiasBeforeBn, true)
        .flag(Switch::Relu, true)
        .number(Switch::Dropout, 0.0);
    let mut head = HeadConfig::of(&variant, features, hidden, classes).init(0, device);
    let linear = |w: &str, b: &str| Linear {
        weight: Param::from_tensor(transposed(fixture.tensor::<2>(w, device))),
        bias: Some(Param::from_tensor(fixture.tensor::<1>(b, device))),
    };
    // model1's layers: fc1, relu, bn, dropout, fc2.
    head.layers[0] = HeadLayer::Linear(BlockedLinear::from_linear(linear(
        "head.0.weight",
        "head.0.bias",
    )));
    head.layers[4] = HeadLayer::Linear(BlockedLinear::from_linear(linear(
        "head.4.weight",
        "head.4.bias",
    )));
    let HeadLayer::BatchNorm(bn) = &mut head.layers[2] else {
        unreachable!("model1's third layer is its BatchNorm")
    };
    bn.gamma = Param::from_tensor(fixture.tensor::<1>("head.2.weight", device));
    bn.beta = Param::from_tensor(fixture.tensor::<1>("head.2.bias", device));
    head
}

/// model1's parameterised layers, by their place in its list.
struct Model1<'a> {
    fc1: &'a BlockedLinear,
    bn: &'a BatchNorm1d,
    fc2: &'a BlockedLinear,
}

fn model1(head: &SequentialHead) -> Model1<'_> {
    let linear = |i: usize| match &head.layers[i] {
        HeadLayer::Linear(l) => l,
        other => panic!("layer {i} is {other:?}, not a Linear"),
    };
    let HeadLayer::BatchNorm(bn) = &head.layers[2] else {
        panic!("model1's third layer is its BatchNorm")
    };
    Model1 {
        fc1: linear(0),
        bn,
        fc2: linear(4),
    }
}

fn backbone(device: &Device) -> EfficientNet {
    let arch = Arch::from_name("efficientnet-lite0").unwrap();
    let (mut model, _) = load(&arch, &lite0_weights(), device).unwrap();
    model.fc = None;
    model
}

fn cross_entropy(logits: Tensor<2>, labels: &[f32], device: &Device) -> Tensor<1> {
    let classes = logits.dims()[1];
    let targets = Tensor::<1, Int>::from_data(
        TensorData::new(
            labels.iter().map(|&l| l as i64).collect::<Vec<_>>(),
            [labels.len()],
        ),
        device,
    )
    .one_hot(classes)
    .float();
    (log_softmax(logits, 1) * targets).sum_dim(1).mean().neg()
}

/// The watched parameters in lukemelas' names, as this port holds them.
fn watched(net: &FineTuneNet) -> Vec<(&'static str, Vec<f32>)> {
    let b = &net.backbone;
    let h = model1(&net.head);
    vec![
        ("_conv_stem.weight", values(b.conv_stem.weight.val())),
        ("_bn0.weight", values(b.bn0.gamma.val())),
        ("_bn0.bias", values(b.bn0.beta.val())),
        (
            "_blocks.1._depthwise_conv.weight",
            values(b.blocks[1].depthwise_conv.weight.val()),
        ),
        (
            "_blocks.15._depthwise_conv.weight",
            values(b.blocks[15].depthwise_conv.weight.val()),
        ),
        ("_bn1.weight", values(b.bn1.gamma.val())),
        ("_fc.0.weight", values(transposed(h.fc1.weight()))),
        ("_fc.0.bias", values(h.fc1.bias.as_ref().unwrap().val())),
        ("_fc.2.weight", values(h.bn.gamma.val())),
        ("_fc.2.bias", values(h.bn.beta.val())),
        ("_fc.4.weight", values(transposed(h.fc2.weight()))),
        ("_fc.4.bias", values(h.fc2.bias.as_ref().unwrap().val())),
    ]
}

fn running_stats(net: &FineTuneNet) -> Vec<(&'static str, Vec<f32>, Vec<f32>)> {
    let b = &net.backbone;
    let h = model1(&net.head);
    let bn = |n: &'static str, bn: &burn::nn::BatchNorm| {
        (
            n,
            values(bn.running_mean.value_sync()),
            values(bn.running_var.value_sync()),
        )
    };
    vec![
        bn("_bn0", &b.bn0),
        bn("_blocks.1._bn1", &b.blocks[1].bn1),
        bn("_blocks.15._bn2", &b.blocks[15].bn2),
        bn("_bn1", &b.bn1),
        (
            "_fc.2",
            values(h.bn.running_mean.value_sync()),
            values(h.bn.running_var.value_sync()),
        ),
    ]
}

#[test]
fn one_finetuning_step_matches_pytorch() {
    let fixture = Fixture::load("lite0-step.safetensors");
    let device = Device::flex().autodiff();
    let net = FineTuneNet {
        backbone: backbone(&device),
        head: head_from(&fixture, &device),
    };
    let images = fixture.tensor::<4>("input", &device);
    let labels = fixture.get("labels").1.clone();

    let mut failures = Vec::new();
    let logits = net.forward_train(images, &StepDraws::default());
    check(
        &fixture,
        "logits",
        "",
        &values(logits.clone()),
        &mut failures,
    );
    let loss = cross_entropy(logits, &labels, &device);
    check(&fixture, "loss", "", &values(loss.clone()), &mut failures);

    let grads = loss.backward();
    // Gradients, in the names of the fixture.
    let grad_of = |name: &str| -> Vec<f32> {
        let b = &net.backbone;
        let h = model1(&net.head);
        match name {
            "_conv_stem.weight" => values(b.conv_stem.weight.grad(&grads).unwrap()),
            "_bn0.weight" => values(b.bn0.gamma.grad(&grads).unwrap()),
            "_bn0.bias" => values(b.bn0.beta.grad(&grads).unwrap()),
            "_blocks.1._depthwise_conv.weight" => {
                values(b.blocks[1].depthwise_conv.weight.grad(&grads).unwrap())
            }
            "_blocks.15._depthwise_conv.weight" => {
                values(b.blocks[15].depthwise_conv.weight.grad(&grads).unwrap())
            }
            "_bn1.weight" => values(b.bn1.gamma.grad(&grads).unwrap()),
            "_fc.0.weight" => values(transposed(h.fc1.weight_grad(&grads).unwrap())),
            "_fc.0.bias" => values(h.fc1.bias.as_ref().unwrap().grad(&grads).unwrap()),
            "_fc.2.weight" => values(h.bn.gamma.grad(&grads).unwrap()),
            "_fc.2.bias" => values(h.bn.beta.grad(&grads).unwrap()),
            "_fc.4.weight" => values(transposed(h.fc2.weight_grad(&grads).unwrap())),
            "_fc.4.bias" => values(h.fc2.bias.as_ref().unwrap().grad(&grads).unwrap()),
            other => panic!("no gradient mapping for {other}"),
        }
    };
    for (name, _) in watched(&net) {
        check(&fixture, "grad", name, &grad_of(name), &mut failures);
    }

    let sgd = TrainSpec {
        optimizer: OptimizerKind::Sgd,
        momentum: 0.0,
        ..TrainSpec::default()
    };
    let mut optim = ablate_train::build_optimizer(&sgd);
    let lr = PartLr {
        backbone: fixture.meta("backbone_lr"),
        head: fixture.meta("head_lr"),
    };
    let net = optimizer_step(&mut optim, net, grads, lr);
    for (name, ours) in watched(&net) {
        check(&fixture, "after", name, &ours, &mut failures);
    }
    for (name, mean, var) in running_stats(&net) {
        check(
            &fixture,
            "after",
            &format!("{name}.running_mean"),
            &mean,
            &mut failures,
        );
        check(
            &fixture,
            "after",
            &format!("{name}.running_var"),
            &var,
            &mut failures,
        );
    }
    assert!(failures.is_empty(), "beyond tolerance: {failures:?}");
}

/// With drop-connect and the backbone's dropout on (lukemelas' 0.2 and lite0's 0.2), PyTorch's
/// draws cannot be reproduced: the fixture checks shapes, and ablate's own draws must be
/// deterministic per seed and step, and differ between seeds.
#[test]
fn drop_connect_steps_are_deterministic_and_shaped_like_pytorch() {
    let fixture = Fixture::load("lite0-step-dropconnect.safetensors");
    let rate = fixture.meta("drop_connect_rate");
    assert!(rate > 0.0);
    let device = Device::flex().autodiff();
    let images = fixture.tensor::<4>("input", &device);
    let labels = fixture.get("labels").1.clone();
    let batch = labels.len();
    let loss_and_stem_grad = |seed: u64| {
        let net = FineTuneNet {
            backbone: backbone(&device),
            head: head_from(&fixture, &device),
        };
        let rates = net.backbone.drop_connect_rates(rate);
        let spec = DrawSpec {
            seed,
            step_key: "n2/epoch0/step0",
            batch,
            drop_connect_rates: &rates,
            input_dropout: fixture.meta("dropout_rate"),
            features: 1280,
            head_dropouts: &[],
        };
        let draws = StepDraws::draw(&spec, &device.clone().inner());
        let draws = StepDraws {
            drop_connect: draws
                .drop_connect
                .into_iter()
                .map(|d| d.map(|t| Tensor::from_data(t.into_data(), &device)))
                .collect(),
            input_mask: draws
                .input_mask
                .map(|t| Tensor::from_data(t.into_data(), &device)),
            head_dropout: Vec::new(),
        };
        let logits = net.forward_train(images.clone(), &draws);
        assert_eq!(logits.dims().to_vec(), fixture.get("logits").0);
        let loss = cross_entropy(logits, &labels, &device);
        let grads = loss.backward();
        let stem = net.backbone.conv_stem.weight.grad(&grads).unwrap();
        assert_eq!(
            stem.dims().to_vec(),
            fixture.get("grad._conv_stem.weight").0
        );
        (values(loss)[0], values(stem))
    };
    let (loss_a, grad_a) = loss_and_stem_grad(7);
    let (loss_b, grad_b) = loss_and_stem_grad(7);
    let (loss_c, _) = loss_and_stem_grad(8);
    assert_eq!(loss_a.to_bits(), loss_b.to_bits(), "same seed, same loss");
    assert_eq!(grad_a, grad_b, "same seed, same gradients");
    assert_ne!(loss_a, loss_c, "another seed draws other masks");
    // Drop-connect at these rates must not make the loss absurd: PyTorch's own draw is a reference.
    let theirs = fixture.get("loss").1[0];
    assert!(
        loss_a.is_finite() && (loss_a - theirs).abs() < 2.0,
        "{loss_a} vs {theirs}"
    );
}

/// Claim A when the whole network trains: a bias right before BatchNorm is cancelled by BN's mean
/// subtraction, so bias on/off twins (no ReLU between) compute the same forward, and the bias's
/// gradient is zero, at every step, backbone training included. Adam, drop-connect and the
/// backbone's dropout on, as fine-tuning runs; same seed, so the twins see the same draws.
///
/// What "the same" can mean here was measured: the twins' first losses are bit-identical and the
/// second agree to ~4e-7, but from then on float rounding alone separates any two runs. Fine-tuning
/// lite0 on a batch of 8 is chaotic: the same bias-free net with its inputs scaled by (1 + 1e-7)
/// (a rounding-sized change) ends its second step 5e-2 away in loss (SGD, lr 1e-3); a few of its 4
/// million ReLU6 inputs cross a kink, and train-mode BatchNorm on small batches amplifies it. So the
/// trajectory is compared where it is defined by the claim, not by rounding: steps 1 and 2.
#[test]
fn claim_a_is_exact_when_finetuning() {
    const STEPS: usize = 3;
    let fixture = Fixture::load("lite0-step.safetensors");
    let device = Device::flex().autodiff();
    let images = fixture.tensor::<4>("input", &device);
    let labels = fixture.get("labels").1.clone();
    let batch = labels.len();
    let adam = TrainSpec::default();
    assert_eq!(adam.optimizer, OptimizerKind::Adam);
    let lr = PartLr {
        backbone: 1e-4,
        head: 1e-3,
    };
    let run = |bias: bool| {
        let variant = HeadVariant::mlp()
            .flag(Switch::BiasBeforeBn, bias)
            .flag(Switch::Relu, false);
        let head = HeadConfig::of(&variant, 1280, 64, 4).init(0, &device);
        let mut net = FineTuneNet {
            backbone: backbone(&device),
            head,
        };
        let mut optim = ablate_train::build_optimizer(&adam);
        let rates = net.backbone.drop_connect_rates(0.2);
        let mut losses = Vec::new();
        let mut bias_grad_max = 0.0f32;
        for step in 0..STEPS {
            let key = format!("n2/epoch0/step{step}");
            let spec = DrawSpec {
                seed: 0,
                step_key: &key,
                batch,
                drop_connect_rates: &rates,
                input_dropout: 0.2,
                features: 1280,
                head_dropouts: &[],
            };
            let draws = StepDraws::draw(&spec, &device);
            let loss = cross_entropy(net.forward_train(images.clone(), &draws), &labels, &device);
            losses.push(values(loss.clone())[0]);
            let grads = loss.backward();
            if let Some(b) = net.head.biases_before_bn().first() {
                let g = values(b.grad(&grads).unwrap());
                bias_grad_max = g.iter().fold(bias_grad_max, |m, v| m.max(v.abs()));
            }
            net = optimizer_step(&mut optim, net, grads, lr);
        }
        (losses, bias_grad_max)
    };
    let (with_bias, bias_grad_max) = run(true);
    let (without_bias, _) = run(false);
    eprintln!(
        "losses with bias {with_bias:?}, without {without_bias:?}; pre-BN bias gradient {bias_grad_max:e}"
    );
    assert_eq!(
        with_bias[0].to_bits(),
        without_bias[0].to_bits(),
        "first step: the same forward"
    );
    let second = (with_bias[1] - without_bias[1]).abs();
    assert!(second < 1e-5, "second step's losses differ by {second:e}");
    assert!(
        bias_grad_max < 1e-6,
        "pre-BN bias gradient {bias_grad_max:e}"
    );
    // The steps did train: the loss moved.
    assert!(with_bias[0] - with_bias[STEPS - 1] > 1e-2, "{with_bias:?}");
}
