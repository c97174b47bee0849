//! Snapshots of the rendered Markdown on constructed results: a change of wording, a number, a
//! verdict or a heading shows up as a diff (`cargo insta review`, or `INSTA_UPDATE=always` and read
//! the diff before committing).

use ablate_results::DataSummary;
use ablate_spec::{HeadKind, HeadVariant, Switch};

use super::{Context, render, render_sections};
use crate::analysis::Analysis;
use crate::analysis::analyse;
use crate::results::Results;
use crate::testing::{self, Cell, wobble};

const F: u64 = 1280;
const H: u64 = 1024;

/// A plausible measurement: the linear head fits less and, with L2, generalises about as well; the
/// bias before BN changes nothing without a ReLU (exactly), a little with one; seeds move every
/// variant together (the paired design) plus a little on their own.
fn measure(v: &HeadVariant, size: u64, seed: u64, classes: u64) -> Cell {
    let base = if size >= 100 { 0.80 } else { 0.70 };
    let shared = 0.01 * wobble(seed, size, 1);
    let bias = v.is_on(Switch::BiasBeforeBn);
    let relu = v.is_on(Switch::Relu);
    // The bias only matters behind a ReLU: without one, both twins get the same draw.
    let own_key = (v.dropout() * 10.0) as u64 * 4 + u64::from(relu) * 2 + u64::from(bias && relu);
    let own = 0.004 * wobble(seed, size, 10 + own_key);
    match v.kind() {
        HeadKind::MLP => {
            let drop = v.dropout();
            let params = F * H + if bias { H } else { 0 } + 2 * H + H * classes + classes;
            let loss = [1.0, 0.5, 0.1 + 0.01 * drop + 0.001 * own_key as f64];
            Cell {
                train_acc: 1.0 - 0.02 * drop,
                val_acc: base + 0.01 * drop + shared + own,
                test_acc: base + 0.008 * drop + shared + own * 0.8,
                params,
                train_loss: loss,
                bias_grad: bias.then_some(if relu { 2e-3 } else { 3e-9 }),
            }
        }
        _ => {
            let wd = v.weight_decay().unwrap_or(0.0);
            let key = (wd * 100.0) as u64;
            let own = 0.003 * wobble(seed, size, 50 + key);
            Cell {
                train_acc: base + 0.12 - wd,
                val_acc: base + 0.006 + 0.4 * wd + shared + own,
                test_acc: base + 0.004 + 0.3 * wd + shared + own,
                params: F * classes + classes,
                train_loss: [1.2, 0.9, 0.7],
                bias_grad: None,
            }
        }
    }
}

/// One snapshot per section (a change shows up in the section it touches), and the report is
/// exactly its sections in order.
fn snapshot_sections(
    name: &str,
    results: &Results,
    analysis: &Analysis,
    context: &Context,
    whole: &str,
) {
    let sections = render_sections(results, analysis, context).unwrap();
    let joined: String = sections.iter().map(|(_, md)| md.as_str()).collect();
    assert_eq!(joined, whole);
    for (k, (section, md)) in sections.iter().enumerate() {
        insta::assert_snapshot!(format!("{name}-{k:02}-{section}"), md);
    }
}

/// Someone's own image folder, no `[[claims]]`: the thread's claims by default, neutral prose.
#[test]
fn report_of_an_image_folder_with_default_claims() {
    let experiment = testing::experiment(
        r#"
name = "flowers"
[data]
kind = "image-folder"
root = "data/flowers"
val_fraction = 0.2
test_fraction = 0.2
[backbone]
arch = "efficientnet-b0"
weights = "b0.pth"
[grid]
head = ["mlp", "linear"]
bias_before_bn = [true, false]
relu = [true, false]
dropout = [0.0, 0.5]
weight_decay = { linear = [0.0, 0.01] }
train_per_class = [25, 100]
seeds = [0, 1, 2, 3, 4]
"#,
    );
    let data = DataSummary {
        features: "assets/features/efficientnet-b0-0123456789abcdef.safetensors".into(),
        class_names: ["daisy", "dandelion", "roses", "sunflowers", "tulips"]
            .map(String::from)
            .to_vec(),
        dim: F as usize,
        train_rows: 2202,
        val_rows: 734,
        test_rows: 734,
        smallest_class_rows: 380,
        test_labels: Vec::new(),
    };
    let results = testing::results(experiment, Some(data), |v, size, seed| {
        measure(v, size, seed, 5)
    });
    let analysis = analyse(&results).unwrap();
    let context = Context {
        machines: Some("Constructed CPU (2 cores, 2 cells at once) in 1 run(s) of `ablate run`, 0.5 min wall in total".into()),
        figures: Vec::new(),
    };
    let md = render(&results, &analysis, &context).unwrap();
    assert!(
        !md.contains("forum thread asks"),
        "no forum prose by default"
    );
    snapshot_sections(
        "image_folder_default_claims",
        &results,
        &analysis,
        &context,
        &md,
    );
}

/// The forum's shape: declared claims, `[report]` prose, an idx dataset, a grid that cannot measure
/// everything it claims is refused at load, so here every claim has its pairs.
#[test]
fn report_with_declared_claims_and_its_own_prose() {
    let experiment = testing::experiment(
        r#"
name = "thread"
[data]
kind = "idx"
path = "/usr/share/datasets/fashion-mnist"
classes = [0, 2, 4, 6]
class_names = ["T-shirt/top", "Pullover", "Coat", "Shirt"]
train_pool_per_class = 1000
val_per_class = 500
test_per_class = 500
[backbone]
arch = "efficientnet-lite0"
weights = "assets/efficientnet-lite0-57934424.pth"
image_size = 224
[grid]
head = ["mlp", "linear"]
bias_before_bn = [true, false]
relu = [false, true]
train_per_class = [25, 100]
seeds = [0, 1, 2, 3, 4]

[report]
title = "The thread's heads, measured"
question = "A thread asks which head to put on an EfficientNet with 4 classes."
heads = { mlp = "**model1**: the thread's MLP head", linear = "**model2**: one Linear" }
notes = "Constructed numbers, for the snapshot test."
answer = "D"

[[claims]]
id = "A"
says = "A bias right before BN is useless."
a = { head = "mlp", bias_before_bn = true, relu = false }
b = { head = "mlp", bias_before_bn = false, relu = false }
expect = "identical"
notes = "The bias gradient stays at float rounding."

[[claims]]
id = "D"
says = "model2 can win on test."
metric = "test_acc"
a = { head = "linear" }
b = { head = "mlp" }
expect = "higher"
compare = "tuned"
"#,
    );
    let results = testing::results(experiment, None, |v, size, seed| measure(v, size, seed, 4));
    let analysis = analyse(&results).unwrap();
    let context = Context::default();
    let md = render(&results, &analysis, &context).unwrap();
    assert!(md.starts_with("# The thread's heads, measured\n"));
    snapshot_sections(
        "declared_claims_own_prose",
        &results,
        &analysis,
        &context,
        &md,
    );
}

/// An interval inside the margin that still excludes 0 reads "equivalent" with its direction and size.
#[test]
fn equivalent_says_its_direction_when_the_interval_excludes_zero() {
    use crate::contrast::tests::{diffs, relu_claim};
    use ablate_spec::Expect;
    let judged = relu_claim(diffs(0.0056, 0.0004), Expect::Lower);
    let row = judged
        .rows
        .iter()
        .find(|r| r.train_per_class == 30)
        .unwrap();
    assert_eq!(row.verdict, crate::Verdict::Equivalent);
    assert_eq!(
        super::format::verdict_words(&judged.claim, row),
        "**equivalent within ±1 pp, though the opposite way by 0.56 pp (its interval excludes 0)**"
    );
    let small = judged
        .rows
        .iter()
        .find(|r| r.train_per_class == 10)
        .unwrap();
    assert_eq!(
        super::format::verdict_words(&judged.claim, small),
        "**equivalent** within ±1 pp"
    );
}
