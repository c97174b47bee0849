//! The column names of the `runs` and `epochs` tables, shared by the writer (here) and every reader
//! (the report). Metric columns are named by [`Metric::column`](ablate_spec::Metric::column) and the
//! head switches' columns by their vocabulary key ([`SWITCHES`](ablate_spec::SWITCHES)); the rest
//! are these.

/// `runs`: one row per cell.
pub mod runs {
    pub const CELL_ID: &str = "cell_id";
    pub const HEAD: &str = "head";
    pub const VARIANT: &str = "variant";
    pub const TRAIN_PER_CLASS: &str = "train_per_class";
    pub const SEED: &str = "seed";
    pub const STEPS: &str = "steps";
    /// `fit = "lbfgs"` cells: loss and gradient evaluations, and the largest |gradient| at the end.
    pub const FIT_EVALUATIONS: &str = "fit_evaluations";
    pub const FIT_GRAD_MAX: &str = "fit_grad_max";
    pub const SECONDS: &str = "seconds";
    pub const CONFIG_HASH: &str = "config_hash";
    pub const FEATURES_SHA256: &str = "features_sha256";
    pub const BACKBONE_SHA256: &str = "backbone_sha256";
    pub const DATASET_SHA256: &str = "dataset_sha256";
    pub const BACKEND: &str = "backend";
    pub const ABLATE_VERSION: &str = "ablate_version";
}

/// `epochs`: one row per cell and epoch.
pub mod epochs {
    pub const CELL_ID: &str = super::runs::CELL_ID;
    pub const EPOCH: &str = "epoch";
    pub const TRAIN_LOSS: &str = "train_loss";
    pub const VAL_LOSS: &str = "val_loss";
    pub const VAL_ACC: &str = "val_acc";
    pub const BIAS_GRAD_MAX: &str = "bias_grad_max";
}

/// `predictions`: one row per cell that has a test split.
pub mod predictions {
    pub const CELL_ID: &str = super::runs::CELL_ID;
    /// The predicted class of every test row, in the split's order (a list).
    pub const TEST_PREDICTED: &str = "test_predicted";
}
