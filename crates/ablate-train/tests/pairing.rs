//! The paired design, checked end to end on small synthetic features.

use ablate_data::{FeatureSet, SyntheticSpec, synthetic_features, write_features};
use ablate_record::CellOutcome;
use ablate_spec::{Cell, HeadVariant, Switch, TrainSpec};
use ablate_train::{FeatureSource, train_cell};
use burn::tensor::Device;

fn features() -> (tempfile::TempDir, FeatureSet) {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("f.safetensors");
    let splits = synthetic_features(&SyntheticSpec {
        test_per_class: 40,
        ..SyntheticSpec::new(4, 96, 120, 50)
    });
    let names: Vec<String> = (0..4).map(|c| c.to_string()).collect();
    write_features(&path, &splits, &names, &Default::default()).unwrap();
    let set = FeatureSet::load(&path).unwrap();
    (dir, set)
}

fn settings() -> TrainSpec {
    TrainSpec {
        epochs: 8,
        batch_size: 32,
        hidden: 48,
        ..TrainSpec::default()
    }
}

fn mlp(bias_before_bn: bool, relu: bool, dropout: f64) -> HeadVariant {
    mlp_with_input_dropout(bias_before_bn, relu, dropout, 0.0)
}

fn mlp_with_input_dropout(
    bias_before_bn: bool,
    relu: bool,
    dropout: f64,
    input_dropout: f64,
) -> HeadVariant {
    HeadVariant::mlp()
        .flag(Switch::BiasBeforeBn, bias_before_bn)
        .flag(Switch::Relu, relu)
        .number(Switch::Dropout, dropout)
        .number(Switch::InputDropout, input_dropout)
}

fn train(head: HeadVariant, seed: u64, data: &FeatureSet) -> CellOutcome {
    let cell = Cell {
        head,
        train_per_class: 100,
        seed,
    };
    let source = FeatureSource::new(data, cell.train_per_class, cell.seed).unwrap();
    train_cell(&cell, &settings(), &source, &Device::flex()).unwrap()
}

fn max_train_loss_gap(a: &CellOutcome, b: &CellOutcome) -> f64 {
    a.epochs
        .iter()
        .zip(&b.epochs)
        .map(|(x, y)| (x.train_loss - y.train_loss).abs())
        .fold(0.0, f64::max)
}

/// Claim A: with no ReLU between Linear and BatchNorm, BN's mean subtraction cancels the bias, so the
/// bias-on and bias-off variants train identically (to float rounding) and the bias gets no gradient.
/// Checked with and without dropout, and with the backbone's input dropout (the dropout draws and
/// input masks are shared by the twins, so pairing holds).
#[test]
fn claim_a_bias_before_bn_is_redundant_without_relu() {
    let (_dir, data) = features();
    for (dropout, input) in [(0.0, 0.0), (0.5, 0.0), (0.0, 0.2), (0.5, 0.2)] {
        for seed in [0, 1] {
            let on = train(
                mlp_with_input_dropout(true, false, dropout, input),
                seed,
                &data,
            );
            let off = train(
                mlp_with_input_dropout(false, false, dropout, input),
                seed,
                &data,
            );
            let gap = max_train_loss_gap(&on, &off);
            assert!(
                gap < 1e-5,
                "dropout {dropout} seed {seed}: train losses differ by {gap}"
            );
            let grad = on
                .epochs
                .iter()
                .map(|e| e.bias_grad_max.unwrap())
                .fold(0.0, f64::max);
            assert!(
                grad < 1e-6,
                "dropout {dropout} seed {seed}: bias gradient reached {grad}"
            );
            assert!(off.epochs.iter().all(|e| e.bias_grad_max.is_none()));
            assert!(
                (on.val_acc - off.val_acc).abs() <= 2.0 / data.val.len() as f64,
                "{} vs {}",
                on.val_acc,
                off.val_acc
            );
        }
    }
}

/// Input dropout is really applied in training (and only there): it changes the training losses.
#[test]
fn input_dropout_changes_training() {
    let (_dir, data) = features();
    let plain = train(mlp(true, true, 0.0), 0, &data);
    let dropped = train(mlp_with_input_dropout(true, true, 0.0, 0.2), 0, &data);
    assert!(max_train_loss_gap(&plain, &dropped) > 1e-3);
}

/// The grid's weight decay reaches the optimizer: a strong L2 changes training, `Some(0.0)` is the
/// same as no axis.
#[test]
fn weight_decay_axis_reaches_the_optimizer() {
    let (_dir, data) = features();
    let linear = |decay| HeadVariant::linear().number(Switch::WeightDecay, decay);
    let plain = train(HeadVariant::linear(), 0, &data);
    let zero = train(linear(0.0), 0, &data);
    let strong = train(linear(0.5), 0, &data);
    assert_eq!(max_train_loss_gap(&plain, &zero), 0.0);
    assert!(max_train_loss_gap(&plain, &strong) > 1e-3);
}

/// Claim B: with a ReLU in between, the bias shifts what the ReLU cuts, so it matters.
#[test]
fn with_relu_the_bias_changes_training() {
    let (_dir, data) = features();
    let on = train(mlp(true, true, 0.0), 0, &data);
    let off = train(mlp(false, true, 0.0), 0, &data);
    let gap = max_train_loss_gap(&on, &off);
    assert!(
        gap > 1e-4,
        "with ReLU the bias should matter, losses differ by only {gap}"
    );
    let grad = on
        .epochs
        .iter()
        .map(|e| e.bias_grad_max.unwrap())
        .fold(0.0, f64::max);
    assert!(
        grad > 1e-4,
        "with ReLU the bias gets a real gradient, max was {grad}"
    );
}

/// Same cell twice gives the same numbers; another seed gives other numbers.
#[test]
fn cells_are_deterministic_and_seeded() {
    let (_dir, data) = features();
    let a = train(mlp(true, true, 0.25), 3, &data);
    let b = train(mlp(true, true, 0.25), 3, &data);
    assert_eq!(a.epochs, b.epochs);
    assert_eq!(
        (a.train_acc, a.val_acc, a.train_loss, a.val_loss, a.test_acc),
        (b.train_acc, b.val_acc, b.train_loss, b.val_loss, b.test_acc)
    );
    let c = train(mlp(true, true, 0.25), 4, &data);
    assert_ne!(a.epochs, c.epochs);
}

/// The linear head learns the task, and the mlp fits its training subset at least as well.
#[test]
fn both_heads_learn() {
    let (_dir, data) = features();
    let linear = train(HeadVariant::linear(), 0, &data);
    let mlp = train(mlp(true, true, 0.0), 0, &data);
    assert!(linear.val_acc > 0.4, "linear val acc {}", linear.val_acc);
    // The test split (160 rows) is evaluated like val, on other rows: a value of its own.
    let (test_acc, test_loss) = (linear.test_acc.unwrap(), linear.test_loss.unwrap());
    assert!(
        test_acc > 0.4 && test_loss.is_finite(),
        "{test_acc} {test_loss}"
    );
    assert_eq!((test_acc * 160.0).round(), test_acc * 160.0);
    assert_ne!(test_loss, linear.val_loss);
    assert!(
        mlp.train_acc >= linear.train_acc,
        "{} < {}",
        mlp.train_acc,
        linear.train_acc
    );
    assert!(linear.epochs.iter().all(|e| e.bias_grad_max.is_none()));
    assert_eq!(linear.params, 96 * 4 + 4);
    assert_eq!(linear.steps, 8 * (400usize).div_ceil(32));
}

/// Cells that differ in their epoch count alone train as one run to the longest count and are
/// measured as they pass (the runner's epoch-prefix sharing): each must equal, number for number
/// and prediction for prediction, the cell trained alone. With both dropouts, so the draws matter.
#[test]
fn epoch_prefixes_of_one_run_equal_cells_trained_alone() {
    let (_dir, data) = features();
    for head in [
        mlp_with_input_dropout(true, true, 0.5, 0.2),
        HeadVariant::linear().number(Switch::InputDropout, 0.2),
    ] {
        let cells: Vec<Cell> = [2.0, 5.0, 8.0]
            .into_iter()
            .map(|epochs| Cell {
                head: head.number(Switch::Epochs, epochs),
                train_per_class: 100,
                seed: 3,
            })
            .collect();
        let groups = ablate_spec::epoch_prefix_groups(&cells, &settings());
        assert_eq!(groups, vec![cells.clone()], "one group of three");
        let source = FeatureSource::new(&data, 100, 3).unwrap();
        let mut shared = Vec::new();
        ablate_train::train_cells_sharing_epochs(
            &cells,
            &settings(),
            &source,
            &Device::flex(),
            |cell, outcome| shared.push((*cell, outcome)),
        )
        .unwrap();
        assert_eq!(shared.len(), 3);
        for ((cell, mut from_run), alone_cell) in shared.into_iter().zip(&cells) {
            assert_eq!(cell, *alone_cell, "finished in epoch order");
            let mut alone = train_cell(&cell, &settings(), &source, &Device::flex()).unwrap();
            // Wall time is the one thing that differs.
            from_run.seconds = 0.0;
            alone.seconds = 0.0;
            assert!(alone.test_predictions.is_some());
            assert_eq!(from_run, alone, "{}", cell.id());
        }
    }
}
