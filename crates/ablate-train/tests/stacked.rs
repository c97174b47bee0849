//! A stack trains each of its cells as training it alone does: every field of every cell's outcome
//! (epochs, losses, claim A's gradient, accuracies, predictions, BatchNorm measurements) bit for
//! bit on flex, whatever else is in the stack.

use ablate_data::{FeatureSet, SyntheticSpec, synthetic_features, write_features};
use ablate_record::CellOutcome;
use ablate_spec::{Cell, HeadKind, HeadVariant, Switch, TrainSpec, epoch_prefix_groups};
use ablate_train::{FeatureSource, StackEvent, train_cells_sharing_epochs, train_stack};
use burn::tensor::Device;

/// Wider than 512 features and hidden units, so both Linears' products are cut into blocks.
fn features() -> (tempfile::TempDir, FeatureSet) {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("f.safetensors");
    let splits = synthetic_features(&SyntheticSpec {
        test_per_class: 30,
        ..SyntheticSpec::new(4, 640, 60, 40)
    });
    let names: Vec<String> = (0..4).map(|c| c.to_string()).collect();
    write_features(&path, &splits, &names, &Default::default()).unwrap();
    (dir, FeatureSet::load(&path).unwrap())
}

/// 25 per class and 4 classes: 100 rows in batches of 33 end with a batch of one (skipped).
fn settings() -> TrainSpec {
    TrainSpec {
        epochs: 3,
        batch_size: 33,
        hidden: 520,
        ..TrainSpec::default()
    }
}

fn cell(head: HeadVariant) -> Cell {
    Cell {
        head,
        train_per_class: 25,
        seed: 3,
    }
}

fn without_time(mut outcome: CellOutcome) -> CellOutcome {
    outcome.seconds = 0.0;
    outcome
}

/// Each cell trained on its own (its epoch-prefix group as one run, as the runner does).
fn alone(cells: &[Cell], source: &FeatureSource) -> Vec<(String, CellOutcome)> {
    let mut out = Vec::new();
    for group in epoch_prefix_groups(cells, &settings()) {
        train_cells_sharing_epochs(&group, &settings(), source, &Device::flex(), |c, o| {
            out.push((c.id(), without_time(o)))
        })
        .unwrap();
    }
    out.sort_by(|a, b| a.0.cmp(&b.0));
    out
}

fn stacked(cells: &[Cell], source: &FeatureSource) -> Vec<(String, CellOutcome)> {
    let rows = epoch_prefix_groups(cells, &settings());
    let mut out = Vec::new();
    train_stack(
        &rows,
        &settings(),
        source,
        &Device::flex(),
        |event| match event {
            StackEvent::Finished(c, o) => out.push((c.id(), without_time(o))),
            StackEvent::Failed { error, .. } => panic!("{error}"),
        },
    );
    out.sort_by(|a, b| a.0.cmp(&b.0));
    out
}

fn assert_same(alone: &[(String, CellOutcome)], stacked: &[(String, CellOutcome)]) {
    assert_eq!(alone.len(), stacked.len());
    for ((id, a), (sid, s)) in alone.iter().zip(stacked) {
        assert_eq!(id, sid);
        assert_eq!(a, s, "{id}: stacked differs from alone");
    }
}

/// model1 with every per-cell switch of a stack: bias before BN on and off, ReLU on and off,
/// dropout 0 and 0.5 (and before BN in its own stack), input dropout, learning rate, L2, the last
/// bias, and epoch counts that end inside the run (2 of 3).
#[test]
fn a_stack_of_model1_cells_trains_each_as_alone() {
    let (_dir, data) = features();
    let source = FeatureSource::new(&data, 25, 3).unwrap();
    let m = HeadVariant::mlp;
    let cells: Vec<Cell> = [
        m(),
        m().number(Switch::Epochs, 2.0),
        m().flag(Switch::BiasBeforeBn, false)
            .number(Switch::Dropout, 0.5),
        m().flag(Switch::Relu, false),
        m().flag(Switch::Relu, false)
            .flag(Switch::BiasBeforeBn, false)
            .number(Switch::InputDropout, 0.2),
        m().number(Switch::Dropout, 0.5)
            .number(Switch::InputDropout, 0.2)
            .number(Switch::Lr, 3e-3),
        m().number(Switch::WeightDecay, 1e-2)
            .flag(Switch::LastBias, false)
            .number(Switch::Dropout, 0.2),
        m().number(Switch::Lr, 1e-4).number(Switch::Epochs, 2.0),
    ]
    .into_iter()
    .map(cell)
    .collect();
    let alone = alone(&cells, &source);
    assert_same(&alone, &stacked(&cells, &source));
    // Another stack of some of them: a cell does not depend on what it is stacked with.
    let some = [cells[2], cells[5], cells[6]];
    let subset: Vec<_> = alone
        .iter()
        .filter(|(id, _)| some.iter().any(|c| &c.id() == id))
        .cloned()
        .collect();
    assert_same(&subset, &stacked(&some, &source));
    // Claim A's reading is there for the cells with the bias, and only for them.
    let with_bias =
        |id: &str| alone.iter().find(|(i, _)| i == id).unwrap().1.epochs[0].bias_grad_max;
    assert!(with_bias(&cells[0].id()).is_some());
    assert!(with_bias(&cells[2].id()).is_none());
}

/// model2 (one Linear: L2, input dropout, the last bias on and off, learning rates) and two heads
/// of other layer lists (fastai: BN first, two dropouts, no biases; mlp2: two pre-BN Linears).
#[test]
fn stacks_of_model2_fastai_and_mlp2_cells_train_each_as_alone() {
    let (_dir, data) = features();
    let source = FeatureSource::new(&data, 25, 3).unwrap();
    let l = HeadVariant::linear;
    let model2: Vec<Cell> = [
        l(),
        l().flag(Switch::LastBias, false),
        l().number(Switch::WeightDecay, 1e-2)
            .number(Switch::InputDropout, 0.2),
        l().number(Switch::Lr, 1e-2).number(Switch::Epochs, 2.0),
    ]
    .into_iter()
    .map(cell)
    .collect();
    assert_same(&alone(&model2, &source), &stacked(&model2, &source));

    let preset = |word: &str| HeadVariant::new(HeadKind::from_word(word).unwrap());
    let fastai: Vec<Cell> = [
        preset("fastai"),
        preset("fastai").number(Switch::Dropout, 0.0),
    ]
    .into_iter()
    .map(cell)
    .collect();
    assert_same(&alone(&fastai, &source), &stacked(&fastai, &source));

    let mlp2: Vec<Cell> = [
        preset("mlp2"),
        preset("mlp2")
            .flag(Switch::BiasBeforeBn, false)
            .flag(Switch::Relu, false),
    ]
    .into_iter()
    .map(cell)
    .collect();
    assert_same(&alone(&mlp2, &source), &stacked(&mlp2, &source));
}
