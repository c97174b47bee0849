//! Which cells can train as one stacked model (`ablate_train::train_stack`): cells of one seed and
//! training size share the training subset, the batch order and every uniform draw; when their
//! heads also share a layer list up to what the stacked trainer sets per cell, they train as one
//! model with a leading cell axis, each cell still its own numbers.
//!
//! Per cell in a stack: the learning rate, the L2 weight decay, the epoch count, each dropout's
//! rate, the input dropout's rate, each Linear's bias (on, or a zero that never moves) and each
//! ReLU (on or off). Everything else is shared, so it is in the key: the seeds, the size, every
//! other `[train]` setting, the layers' names, kinds, widths and order. Not stacked (a key of
//! their own): fits to convergence (L-BFGS's line search takes each fit its own way), fine-tuned
//! cells (their backbones differ), heads with a LayerNorm (burn's fused `layer_norm` takes one
//! scale for the batch), and SGD (the stacked step is Adam's).

use crate::cell::{Cell, epoch_prefix_group_indices};
use crate::layer::Layer;
use crate::train::{OptimizerKind, TrainSpec};

/// The key a cell stacks under; `None` for a cell that trains alone.
pub fn stack_key(cell: &Cell, train: &TrainSpec) -> Option<String> {
    let head = &cell.head;
    if head.converged() || head.finetuned() {
        return None;
    }
    let mut settings = train.for_variant(head);
    if settings.optimizer != OptimizerKind::Adam {
        return None;
    }
    // Set per cell.
    settings.lr = 0.0;
    settings.weight_decay = 0.0;
    settings.epochs = 0;
    let mut key = format!(
        "n{}/subset{}/draw{}/{settings:?}",
        cell.train_per_class,
        cell.subset_seed(),
        cell.draw_seed()
    );
    let mut after_core = false;
    for (name, layer) in head.layers() {
        let word = match layer {
            Layer::LayerNorm => return None,
            // A ReLU is per cell; it must follow a layer the stack shares.
            Layer::Relu if after_core => continue,
            Layer::Relu => return None,
            Layer::Linear { out, .. } => Layer::Linear { out, bias: true }.word(),
            Layer::Dropout { .. } => "dropout".to_string(),
            other => other.word(),
        };
        after_core = true;
        key.push_str(&format!("/{name}:{word}"));
    }
    Some(key)
}

/// `cells` as stacks of [`epoch_prefix_group_indices`] groups (indices into `cells`): the groups
/// whose cells share a [`stack_key`] form one stack, in the order of their first cell; a group
/// that stacks with none is a stack of its own. A stack is what a shard keeps whole; the runner
/// may cut one into pieces of a bounded number of groups.
pub fn stack_group_indices(cells: &[Cell], train: &TrainSpec) -> Vec<Vec<Vec<usize>>> {
    let mut stacks: Vec<(Option<String>, Vec<Vec<usize>>)> = Vec::new();
    for group in epoch_prefix_group_indices(cells, train) {
        let key = stack_key(&cells[group[0]], train);
        match stacks.iter_mut().find(|(k, _)| key.is_some() && *k == key) {
            Some((_, stack)) => stack.push(group),
            None => stacks.push((key, vec![group])),
        }
    }
    stacks.into_iter().map(|(_, stack)| stack).collect()
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::{HeadVariant, Switch};

    fn cell(head: HeadVariant, n: usize, seed: u64) -> Cell {
        Cell {
            head,
            train_per_class: n,
            seed,
        }
    }

    #[test]
    fn cells_of_one_seed_size_and_layer_list_stack_whatever_their_per_cell_switches() {
        let train = TrainSpec::default();
        let base = HeadVariant::mlp();
        let key = |head: HeadVariant| stack_key(&cell(head, 25, 0), &train);
        let mlp = key(base).unwrap();
        for other in [
            base.flag(Switch::BiasBeforeBn, false),
            base.flag(Switch::Relu, false),
            base.number(Switch::Dropout, 0.5),
            base.number(Switch::InputDropout, 0.2),
            base.number(Switch::Lr, 1e-4),
            base.number(Switch::WeightDecay, 1e-3),
            base.number(Switch::Epochs, 80.0),
            base.flag(Switch::LastBias, false),
        ] {
            assert_eq!(key(other).as_deref(), Some(mlp.as_str()), "{other}");
        }
        assert_ne!(key(HeadVariant::linear()), Some(mlp.clone()));
        assert_ne!(stack_key(&cell(base, 100, 0), &train), Some(mlp.clone()));
        assert_ne!(stack_key(&cell(base, 25, 1), &train), Some(mlp.clone()));
        assert_ne!(
            key(base.with(Switch::DropoutPosition, crate::Value::Word("before_bn"))),
            Some(mlp),
            "the dropout moves: another layer order"
        );
        assert_eq!(
            key(HeadVariant::linear().with(Switch::Fit, crate::Value::Word("lbfgs"))),
            None
        );
        let sgd = TrainSpec {
            optimizer: OptimizerKind::Sgd,
            ..TrainSpec::default()
        };
        assert_eq!(stack_key(&cell(base, 25, 0), &sgd), None);
    }

    #[test]
    fn stacks_are_made_of_whole_epoch_prefix_groups() {
        let train = TrainSpec::default();
        let mlp = HeadVariant::mlp();
        let cells = [
            cell(mlp.number(Switch::Epochs, 10.0), 25, 0),
            cell(HeadVariant::linear(), 25, 0),
            cell(mlp.number(Switch::Epochs, 20.0), 25, 0),
            cell(mlp.number(Switch::Dropout, 0.5), 25, 0),
            cell(mlp, 25, 1),
        ];
        let stacks = stack_group_indices(&cells, &train);
        assert_eq!(
            stacks,
            vec![vec![vec![0, 2], vec![3]], vec![vec![1]], vec![vec![4]]]
        );
    }
}
