//! One cell of the grid: a head variant trained on one training-set size with one seed.

use serde::{Deserialize, Serialize};

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

#[cfg(test)]
mod tests {
    use super::*;
    use crate::switch::Switch;

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
