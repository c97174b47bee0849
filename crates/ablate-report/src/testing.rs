//! Constructed results for the report's tests: an experiment (TOML) and runs/epochs tables whose
//! numbers come from a formula per cell, so that expected values can be worked out by hand.

use ablate_results::columns::{epochs as ec, runs as rc};
use ablate_results::{DataSummary, Manifest};
use ablate_spec::{Experiment, HeadVariant, Metric};
use polars::prelude::*;

use crate::results::Results;

/// What one cell measured.
#[derive(Debug, Clone, Copy)]
pub struct Cell {
    pub train_acc: f64,
    pub val_acc: f64,
    pub test_acc: f64,
    pub params: u64,
    /// Per-epoch train loss and the bias gradient of the epochs table (3 epochs).
    pub train_loss: [f64; 3],
    pub bias_grad: Option<f64>,
}

impl Cell {
    pub fn acc(train: f64, val: f64, test: f64) -> Self {
        Self {
            train_acc: train,
            val_acc: val,
            test_acc: test,
            params: 10,
            train_loss: [1.0, 0.8, 0.6],
            bias_grad: None,
        }
    }
}

pub fn experiment(toml: &str) -> Experiment {
    Experiment::from_toml_str(toml, "constructed.toml".as_ref()).expect("a valid experiment")
}

/// Results of every cell of `experiment`'s grid, each measured by `measure`.
pub fn results(
    experiment: Experiment,
    data: Option<DataSummary>,
    measure: impl Fn(&HeadVariant, u64, u64) -> Cell,
) -> Results {
    let cells = experiment.cells();
    let measured: Vec<(String, &HeadVariant, u64, u64, Cell)> = cells
        .iter()
        .map(|c| {
            let (size, seed) = (c.train_per_class as u64, c.seed);
            (c.id(), &c.head, size, seed, measure(&c.head, size, seed))
        })
        .collect();
    let col = |f: &dyn Fn(&Cell) -> f64| measured.iter().map(|m| f(&m.4)).collect::<Vec<_>>();
    let text = |s: &str| vec![s.to_string(); measured.len()];
    let runs = df!(
        rc::CELL_ID => measured.iter().map(|m| m.0.clone()).collect::<Vec<_>>(),
        rc::HEAD => measured.iter().map(|m| m.1.kind().to_string()).collect::<Vec<_>>(),
        rc::VARIANT => measured.iter().map(|m| m.1.name()).collect::<Vec<_>>(),
        rc::TRAIN_PER_CLASS => measured.iter().map(|m| m.2).collect::<Vec<_>>(),
        rc::SEED => measured.iter().map(|m| m.3).collect::<Vec<_>>(),
        Metric::TrainAcc.column() => col(&|c| c.train_acc),
        Metric::ValAcc.column() => col(&|c| c.val_acc),
        Metric::TestAcc.column() => col(&|c| c.test_acc),
        Metric::TrainLoss.column() => col(&|c| c.train_loss[2]),
        Metric::ValLoss.column() => col(&|c| 1.0 - c.val_acc),
        Metric::Params.column() => measured.iter().map(|m| m.4.params).collect::<Vec<_>>(),
        rc::SECONDS => col(&|_| 1.5),
        rc::ABLATE_VERSION => text("0.1.0"),
        rc::BACKEND => text("flex"),
        rc::FEATURES_SHA256 => text("f00d"),
        rc::BACKBONE_SHA256 => text(""),
        rc::DATASET_SHA256 => text(""),
    )
    .expect("a runs table");
    let epoch_rows: Vec<(&str, u64, f64, Option<f64>, f64)> = measured
        .iter()
        .flat_map(|m| {
            (0..3).map(move |e| {
                (
                    m.0.as_str(),
                    e as u64 + 1,
                    m.4.train_loss[e],
                    m.4.bias_grad,
                    m.4.val_acc - 0.01 * (2 - e) as f64,
                )
            })
        })
        .collect();
    let epochs = df!(
        ec::CELL_ID => epoch_rows.iter().map(|r| r.0.to_string()).collect::<Vec<_>>(),
        ec::EPOCH => epoch_rows.iter().map(|r| r.1).collect::<Vec<_>>(),
        ec::TRAIN_LOSS => epoch_rows.iter().map(|r| r.2).collect::<Vec<_>>(),
        ec::VAL_LOSS => epoch_rows.iter().map(|r| 1.0 - r.4).collect::<Vec<_>>(),
        ec::VAL_ACC => epoch_rows.iter().map(|r| r.4).collect::<Vec<_>>(),
        ec::BIAS_GRAD_MAX => epoch_rows.iter().map(|r| r.3).collect::<Vec<_>>(),
    )
    .expect("an epochs table");
    let manifest = Manifest {
        name: experiment.config.name.clone(),
        config_hash: experiment.config_hash(),
        ablate_version: "0.1.0".into(),
        experiment: experiment.config.clone(),
        claims: experiment.claims.to_vec(),
        claims_declared: experiment.claims.declared,
        report: experiment.report.clone(),
        data,
        source: None,
    };
    Results::new(manifest, experiment, runs, epochs).expect("constructed results are consistent")
}

/// A number in [-1, 1) that looks random but is a fixed function of its inputs.
pub fn wobble(a: u64, b: u64, salt: u64) -> f64 {
    let mut x = a
        .wrapping_mul(0x9E37_79B9_7F4A_7C15)
        .wrapping_add(b.wrapping_mul(0xBF58_476D_1CE4_E5B9))
        .wrapping_add(salt.wrapping_mul(0x94D0_49BB_1331_11EB));
    x ^= x >> 31;
    x = x.wrapping_mul(0xD6E8_FEB8_6659_FD93);
    x ^= x >> 29;
    (x % 2000) as f64 / 1000.0 - 1.0
}
