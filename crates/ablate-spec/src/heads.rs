//! The head kinds as one table: what the spec, the shard planner and the report need to know of a
//! head, in one row per kind (ruff's registry shape). The model behind each kind lives in
//! `ablate-heads`, one module per head, and `ablate-train`'s `head_config` builds it: a new head
//! kind is its model module, a row here, its build arm there, and the switches it takes in
//! [`crate::SWITCHES`].

use crate::switch::HeadKind;
use crate::train::TrainSpec;

/// What the rest of the workspace knows of one head kind.
#[derive(Debug)]
pub struct HeadInfo {
    pub kind: HeadKind,
    /// Its word in experiment files, variant names and tables.
    pub word: &'static str,
    /// The forum thread's name for it (`model1`), which the report's figures and answer use.
    pub thread_name: &'static str,
    /// Its name in a plain sentence, for a reader who has not seen the thread.
    pub plain_name: &'static str,
    /// The report's line for it when the experiment's `[report] heads` says nothing (Markdown).
    pub describe: &'static str,
    /// Its share of a cell's cost per training row, relative to the others (shard balancing):
    /// about the hidden width for the mlp, a small constant for the linear head.
    pub cost_width: fn(&TrainSpec) -> f64,
    /// How the report colours its variants.
    pub drawn: Drawn,
}

/// How the report tells a head's variants apart in figures that show several heads.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Drawn {
    /// A colour family per (bias before BN, ReLU), lighter with more dropout.
    BySwitches,
    /// All in black: the head has few variants, told apart by dash where needed.
    Black,
}

/// One row per [`HeadKind`], in its order.
pub const HEADS: [HeadInfo; 2] = [
    HeadInfo {
        kind: HeadKind::Mlp,
        word: "mlp",
        thread_name: "model1",
        plain_name: "MLP head (model1)",
        describe: "**model1** (`mlp`): `Linear(F→H, bias on/off) → ReLU (on/off) → BatchNorm1d → Dropout(p) → Linear(H→C)`",
        cost_width: |train| train.hidden as f64,
        drawn: Drawn::BySwitches,
    },
    HeadInfo {
        kind: HeadKind::Linear,
        word: "linear",
        thread_name: "model2",
        plain_name: "single Linear head (model2)",
        describe: "**model2** (`linear`): `Linear(F→C)`",
        // In units where the mlp costs `hidden`. Measured on the forum grid (flex, 2 cores): a
        // linear cell takes 1/40 to 1/80 of an mlp cell of the same size, because fixed per-step
        // work dominates a 5k-parameter head.
        cost_width: |_| 16.0,
        drawn: Drawn::Black,
    },
];

impl HeadKind {
    /// Its row of [`HEADS`].
    pub fn info(self) -> &'static HeadInfo {
        &HEADS[self as usize]
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn one_row_per_kind_in_order_with_unique_words() {
        assert_eq!(HEADS.len(), HeadKind::ALL.len());
        for (i, kind) in HeadKind::ALL.into_iter().enumerate() {
            assert_eq!(HEADS[i].kind, kind);
            assert_eq!(kind.info().word, kind.as_str());
            assert_eq!(HeadKind::from_word(kind.info().word), Some(kind));
            // The word is what serde reads and writes.
            assert_eq!(
                serde_json::to_value(kind).unwrap(),
                serde_json::Value::String(kind.info().word.into())
            );
        }
    }
}
