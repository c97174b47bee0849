//! One cell of the grid: a head variant trained on one training-set size with one seed.

use serde::{Deserialize, Serialize};

use crate::switch::{Switch, Value};
use crate::train::TrainSpec;
use crate::variant::HeadVariant;

#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize)]
pub struct Cell {
    pub head: HeadVariant,
    pub train_per_class: usize,
    pub seed: u64,
}

impl Cell {
    /// Unique within an experiment and safe as a file name: `<variant>-n<size>-s<seed>`.
    pub fn id(&self) -> String {
        format!(
            "{}-n{}-s{}",
            self.head.name(),
            self.train_per_class,
            self.seed
        )
    }
}

/// The seed whose draw a part held fixed across seeds takes (`held_fixed`).
pub const HELD_SEED: u64 = 0;

impl Cell {
    /// The seed of the training subset: the cell's, or [`HELD_SEED`] where `held_fixed = "subset"`.
    pub fn subset_seed(&self) -> u64 {
        match self.head.get(Switch::HeldFixed) {
            Some(Value::Word("subset")) => HELD_SEED,
            _ => self.seed,
        }
    }

    /// The seed of everything else a cell draws (initialisation, batch order, dropout masks): the
    /// cell's, or [`HELD_SEED`] where `held_fixed = "init_order"`.
    pub fn draw_seed(&self) -> u64 {
        match self.head.get(Switch::HeldFixed) {
            Some(Value::Word("init_order")) => HELD_SEED,
            _ => self.seed,
        }
    }
}

impl Cell {
    /// What a cell shares with the cells that differ from it in the epoch count alone; `None` for a
    /// cell that shares with none: fitted to convergence (no epochs). Fine-tuned cells share too
    /// (from a cut cache their run is shared; on images the runner trains each on its own).
    fn epoch_prefix_key(&self) -> Option<String> {
        if self.head.converged() {
            return None;
        }
        let mut key = format!(
            "{}/n{}/s{}",
            self.head.kind(),
            self.train_per_class,
            self.seed
        );
        for (spec, value) in self.head.switches() {
            if spec.switch != Switch::Epochs {
                key.push_str(&format!("/{}={value:?}", spec.key));
            }
        }
        Some(key)
    }
}

/// `cells` in groups that one training run serves: cells that differ only in their epoch count
/// are, draw for draw, the first epochs of the longest of them (batch order and dropout draws are
/// keyed by seed, size, epoch and step, never by the epoch count; nothing else depends on it), so
/// one run to the longest count measures each at its own. Each group is in increasing epoch
/// order; groups come in the order of their first cell in `cells`.
pub fn epoch_prefix_groups(cells: &[Cell], train: &TrainSpec) -> Vec<Vec<Cell>> {
    epoch_prefix_group_indices(cells, train)
        .into_iter()
        .map(|group| group.into_iter().map(|i| cells[i]).collect())
        .collect()
}

/// [`epoch_prefix_groups`] as indices into `cells` (what the shard planner assigns: a group goes
/// to one shard whole, or its shared epochs would be trained twice).
pub fn epoch_prefix_group_indices(cells: &[Cell], train: &TrainSpec) -> Vec<Vec<usize>> {
    let mut groups: Vec<(Option<String>, Vec<usize>)> = Vec::new();
    for (i, cell) in cells.iter().enumerate() {
        let key = cell.epoch_prefix_key();
        match groups.iter_mut().find(|(k, _)| key.is_some() && *k == key) {
            Some((_, group)) => group.push(i),
            None => groups.push((key, vec![i])),
        }
    }
    groups
        .into_iter()
        .map(|(_, mut group)| {
            group.sort_by_key(|&i| train.for_variant(&cells[i].head).epochs);
            group
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn train() -> TrainSpec {
        TrainSpec::default()
    }

    #[test]
    fn cells_that_differ_in_epochs_alone_share_a_run() {
        let mlp = |epochs: f64, seed: u64| Cell {
            head: HeadVariant::mlp().number(Switch::Epochs, epochs),
            train_per_class: 25,
            seed,
        };
        let linear = |epochs: f64| Cell {
            head: HeadVariant::linear().number(Switch::Epochs, epochs),
            train_per_class: 25,
            seed: 0,
        };
        let converged = Cell {
            head: HeadVariant::linear().with(Switch::Fit, Value::Word("lbfgs")),
            train_per_class: 25,
            seed: 0,
        };
        let cells = [
            mlp(40.0, 0),
            linear(20.0),
            mlp(10.0, 0),
            converged,
            mlp(20.0, 1),
            mlp(20.0, 0),
            converged,
            linear(100.0),
        ];
        let groups = epoch_prefix_groups(&cells, &train());
        assert_eq!(
            groups,
            vec![
                vec![mlp(10.0, 0), mlp(20.0, 0), mlp(40.0, 0)],
                vec![linear(20.0), linear(100.0)],
                vec![converged],
                vec![mlp(20.0, 1)],
                vec![converged],
            ]
        );
    }

    #[test]
    fn a_held_part_takes_seed_0s_draw_and_the_rest_the_cells_seed() {
        let cell = |held: &'static str| Cell {
            head: HeadVariant::linear().with(Switch::HeldFixed, Value::Word(held)),
            train_per_class: 25,
            seed: 3,
        };
        assert_eq!(
            (cell("nothing").subset_seed(), cell("nothing").draw_seed()),
            (3, 3)
        );
        assert_eq!(
            (cell("subset").subset_seed(), cell("subset").draw_seed()),
            (0, 3)
        );
        assert_eq!(
            (
                cell("init_order").subset_seed(),
                cell("init_order").draw_seed()
            ),
            (3, 0)
        );
        assert_eq!(cell("subset").id(), "linear-last1-fixsubset-n25-s3");
        assert_eq!(cell("nothing").id(), "linear-last1-n25-s3");
    }

    #[test]
    fn ids_are_the_variant_size_and_seed() {
        let cell = Cell {
            head: HeadVariant::mlp()
                .flag(Switch::Relu, false)
                .number(Switch::Dropout, 0.25),
            train_per_class: 100,
            seed: 3,
        };
        assert_eq!(cell.id(), "mlp-bias1-relu0-drop0.25-last1-n100-s3");
    }
}
