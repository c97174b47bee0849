//! Splitting a grid into shards of about equal expected cost, from the config alone, so every task
//! of a job array computes the same split without talking to the others.

use crate::cell::Cell;
use crate::data::DataSpec;
use crate::experiment::Experiment;

/// Validation rows per class assumed when the config does not say (a ready features file).
const ASSUMED_VAL_PER_CLASS: usize = 100;

/// Expected cost of training `cell`, in arbitrary units proportional to its run time.
///
/// `epochs x width x (train_per_class + val_per_class / 4)`: the training pass (forward, backward,
/// optimizer) per sample costs about four evaluation passes, and every epoch evaluates the validation
/// split. On the forum grid this predicts 25 : 100 : 1000 per class as 1 : 1.5 : 7.5 for the mlp
/// head; measured 4.95 s : 8.15 s : 39.7 s.
pub fn cell_cost(experiment: &Experiment, cell: &Cell) -> f64 {
    let val = match &experiment.config.data {
        DataSpec::Idx(data) => data.val_per_class,
        _ => ASSUMED_VAL_PER_CLASS,
    };
    let width = cell.head.kind().info().cost_width(&experiment.config.train);
    let rows = cell.train_per_class as f64 + val as f64 / 4.0;
    if cell.head.converged() {
        // Full-batch L-BFGS: a few hundred cheap evaluations over the training rows.
        return LBFGS_EVALUATIONS * width * cell.train_per_class as f64;
    }
    let epochs = experiment.config.train.for_variant(&cell.head).epochs;
    if cell.head.finetuned() {
        // The backbone dominates: per training image ~3 forward passes of the network (forward,
        // backward), per val image one, each BACKBONE_WIDTH scaled by the image's area.
        let side = experiment
            .config
            .backbone
            .as_ref()
            .and_then(|b| b.image_size)
            .unwrap_or(224) as f64;
        let backbone = BACKBONE_WIDTH * (side / 224.0).powi(2);
        return epochs as f64 * backbone * (3.0 * cell.train_per_class as f64 + val as f64);
    }
    epochs as f64 * width * rows
}

/// A 224 px lite0 forward pass (~0.4 G multiply-adds) in the units of `width x rows` above, where
/// one mlp row (1280 x 1024 multiply-adds) costs 1024.
const BACKBONE_WIDTH: f64 = 3.0e5;

/// Typical loss-and-gradient evaluations of a converged fit (100-300 on the forum's features).
const LBFGS_EVALUATIONS: f64 = 200.0;

/// Assigns each of `cells` to one of `shards` shards. Cells that differ in their epoch count alone
/// train as one run ([`crate::epoch_prefix_groups`]) and such runs of one seed, size and layer list
/// as one stack ([`crate::stack_group_indices`]), so a stack goes to one shard whole, at the cost
/// of its runs' longest cells. Largest expected cost first, each to the shard with the least cost
/// so far (ties to the lowest index). Returns the shard index of every cell, in the order of
/// `cells`. The same cells in the same order always give the same assignment.
pub fn assign(experiment: &Experiment, cells: &[Cell], shards: usize) -> Vec<usize> {
    assert!(shards >= 1, "at least one shard");
    let stacks = crate::stack_group_indices(cells, &experiment.config.train);
    let costs: Vec<f64> = stacks
        .iter()
        .map(|s| stack_cost(experiment, cells, s))
        .collect();
    let mut order: Vec<usize> = (0..stacks.len()).collect();
    // Stable: equal costs keep the grid order.
    order.sort_by(|&a, &b| costs[b].total_cmp(&costs[a]));
    let mut load = vec![0.0f64; shards];
    let mut shard_of = vec![0usize; cells.len()];
    for s in order {
        let (lightest, _) = load
            .iter()
            .enumerate()
            .min_by(|a, b| a.1.total_cmp(b.1))
            .expect("shards >= 1");
        for &i in stacks[s].iter().flatten() {
            shard_of[i] = lightest;
        }
        load[lightest] += costs[s];
    }
    shard_of
}

/// A stack's cost: its groups' longest cells' (the others are measured on the way).
fn stack_cost(experiment: &Experiment, cells: &[Cell], stack: &[Vec<usize>]) -> f64 {
    stack
        .iter()
        .map(|group| {
            group
                .iter()
                .map(|&i| cell_cost(experiment, &cells[i]))
                .fold(0.0, f64::max)
        })
        .sum()
}

/// The expected cost of each shard under [`assign`] (a group of epoch prefixes counted once).
pub fn shard_costs(experiment: &Experiment, cells: &[Cell], shards: usize) -> Vec<f64> {
    let shard_of = assign(experiment, cells, shards);
    let mut load = vec![0.0; shards];
    for stack in crate::stack_group_indices(cells, &experiment.config.train) {
        load[shard_of[stack[0][0]]] += stack_cost(experiment, cells, &stack);
    }
    load
}

/// Why a shard could not be named; the message quotes what was given.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{0}")]
pub struct ShardError(String);

/// A shard of a job array: `index` of `count`, 0-based.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Shard {
    pub index: usize,
    pub count: usize,
}

impl Shard {
    /// Parses `K/N`.
    pub fn parse(text: &str) -> Result<Self, ShardError> {
        let fail = |problem: String| ShardError(format!("--shard {text:?}: {problem}"));
        let (k, n) = text
            .split_once('/')
            .ok_or_else(|| fail("expected K/N (0-based, e.g. 0/8) or auto".into()))?;
        let index: usize = k
            .trim()
            .parse()
            .map_err(|_| fail(format!("{k:?} is not a shard index")))?;
        let count: usize = n
            .trim()
            .parse()
            .map_err(|_| fail(format!("{n:?} is not a shard count")))?;
        Self::new(index, count).map_err(|e| fail(e.0))
    }

    pub fn new(index: usize, count: usize) -> Result<Self, ShardError> {
        if count == 0 {
            return Err(ShardError("the shard count must be at least 1".into()));
        }
        if index >= count {
            return Err(ShardError(format!(
                "shard index {index} is out of range for {count} shards (0..={})",
                count - 1
            )));
        }
        Ok(Self { index, count })
    }

    /// The shard of this task from the environment of a job array: Slurm's
    /// `SLURM_ARRAY_TASK_ID` / `SLURM_ARRAY_TASK_COUNT`, or the generic (Kubernetes indexed job)
    /// `JOB_COMPLETION_INDEX` with `ABLATE_SHARD_COUNT`.
    pub fn from_env(get: impl Fn(&str) -> Option<String>) -> Result<Self, ShardError> {
        let pairs = [
            ("SLURM_ARRAY_TASK_ID", "SLURM_ARRAY_TASK_COUNT"),
            ("JOB_COMPLETION_INDEX", "ABLATE_SHARD_COUNT"),
        ];
        for (index_var, count_var) in pairs {
            let Some(index) = get(index_var) else {
                continue;
            };
            let count = get(count_var).ok_or_else(|| {
                ShardError(format!(
                    "--shard auto: {index_var} is set but {count_var} is not"
                ))
            })?;
            let parse = |var: &str, value: &str| {
                value.trim().parse::<usize>().map_err(|_| {
                    ShardError(format!("--shard auto: {var}={value:?} is not a number"))
                })
            };
            return Self::new(parse(index_var, &index)?, parse(count_var, &count)?).map_err(|e| {
                ShardError(format!("--shard auto ({index_var}, {count_var}): {}", e.0))
            });
        }
        Err(ShardError(
            "--shard auto: neither SLURM_ARRAY_TASK_ID nor JOB_COMPLETION_INDEX is set; give --shard K/N".into(),
        ))
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::path::Path;

    /// The package folder: the runtime `CARGO_MANIFEST_DIR` that `cargo test` sets, falling back to the
    /// compile-time one. The compile-time value alone goes stale when two checkouts share a target dir
    /// (cargo does not rebuild a test because its workspace moved).
    fn manifest_dir() -> std::path::PathBuf {
        std::env::var_os("CARGO_MANIFEST_DIR")
            .map(std::path::PathBuf::from)
            .unwrap_or_else(|| env!("CARGO_MANIFEST_DIR").into())
    }

    fn shipped(name: &str) -> Experiment {
        let path = manifest_dir().join("../../experiments").join(name);
        let text = std::fs::read_to_string(&path).unwrap();
        Experiment::from_toml_str(&text, Path::new(name)).unwrap()
    }

    fn forum() -> Experiment {
        shipped("forum.toml")
    }

    /// The shipped experiments load with their claims, and the sweep reads the forum's features.
    #[test]
    fn shipped_experiments_load_and_the_sweep_shares_the_features() {
        let (forum, sweep) = (forum(), shipped("forum-sweep.toml"));
        // The main grid's 32 variants (8 mlp, 24 linear); claim A's 2 without a ReLU; model1's
        // learning rates (8), epochs (6) and L2 (4); the seed split's held blocks (2 heads x 2
        // parts); model2's budget (40 new) and converged fit (9); at 3 sizes and 8 seeds.
        assert_eq!(
            forum.cells().len(),
            (32 + 2 + 8 + 6 + 4 + 4 + 40 + 9) * 3 * 8
        );
        // 16 mlp and 16 linear variants, model2's budget (40 new) and converged fit (9), at 2
        // sizes and 8 seeds.
        assert_eq!(sweep.cells().len(), (16 + 16 + 40 + 9) * 2 * 8);
        assert_eq!(forum.config.data, sweep.config.data);
        assert_eq!(forum.config.backbone, sweep.config.backbone);
        assert_eq!(forum.config.grid.seeds, sweep.config.grid.seeds);
        assert_eq!(forum.claims.len(), 12);
        assert!(!shipped("synthetic.toml").cells().is_empty());
        // The README's template for a user's images reads, and answers with the tuned heads.
        let mine = shipped("my-images.toml");
        assert!(!mine.claims.declared && mine.answer_claim().is_some());
        // The fine-tuning experiment: 12 fine-tuned variants (the asker's heads over the recipe's
        // 2 x 2 axes, claims A, B and BN) and 23 frozen ones (the baseline's budget), at 2 sizes
        // and 8 seeds; a fine-tuning cell costs more than any frozen one, so the scheduler starts
        // them first.
        let ft = shipped("forum-finetune.toml");
        let cells = ft.cells();
        let (tuned, frozen): (Vec<&Cell>, Vec<&Cell>) =
            cells.iter().partition(|c| c.head.finetuned());
        assert_eq!((tuned.len(), frozen.len()), (12 * 16, 23 * 16));
        let cheapest_tuned = tuned
            .iter()
            .map(|c| cell_cost(&ft, c))
            .fold(f64::MAX, f64::min);
        let dearest_frozen = frozen.iter().map(|c| cell_cost(&ft, c)).fold(0.0, f64::max);
        assert!(cheapest_tuned > 10.0 * dearest_frozen);
        assert_eq!(ft.claims.len(), 8);

        // Its full-size version for GPUs: b5 at 456 px, the same axes at the asker's scale.
        let b5 = shipped("forum-finetune-b5.toml");
        let (tuned, frozen): (Vec<Cell>, Vec<Cell>) =
            b5.cells().into_iter().partition(|c| c.head.finetuned());
        assert_eq!((tuned.len(), frozen.len()), (50, 50));
        assert_eq!(b5.config.backbone.as_ref().unwrap().image_size, Some(456));
        let a = b5.claims.iter().find(|c| c.id == "A-finetune").unwrap();
        assert_eq!(
            a.loss_epochs,
            Some(0),
            "rounding is amplified: the gradient judges"
        );
    }

    /// The committed results were made by the shipped experiment files: same canonical form, same hash.
    #[test]
    fn shipped_experiments_hash_as_their_committed_results() {
        for name in ["forum", "forum-sweep", "forum-finetune"] {
            let manifest = manifest_dir().join(format!("../../results/{name}/manifest.json"));
            let manifest: serde_json::Value =
                serde_json::from_slice(&std::fs::read(&manifest).unwrap()).unwrap();
            assert_eq!(
                shipped(&format!("{name}.toml")).config_hash(),
                manifest["config_hash"].as_str().unwrap(),
                "experiments/{name}.toml no longer describes results/{name}/"
            );
        }
    }

    #[test]
    fn forum_grid_in_8_shards_is_balanced_and_complete() {
        let e = forum();
        let cells = e.cells();
        let shards = assign(&e, &cells, 8);
        assert_eq!(shards.len(), cells.len());
        let costs = shard_costs(&e, &cells, 8);
        let mean = costs.iter().sum::<f64>() / 8.0;
        let max = costs.iter().cloned().fold(0.0, f64::max);
        assert!(max <= 1.25 * mean, "largest shard {max} vs mean {mean}");
        // Every cell in exactly one shard, and the split does not depend on the call.
        assert_eq!(assign(&e, &cells, 8), shards);
        // Cells that share a run (epoch prefixes of one another) share a shard.
        for group in crate::epoch_prefix_groups(&cells, &e.config.train) {
            let at = |c: &Cell| shards[cells.iter().position(|x| x == c).unwrap()];
            assert!(group.iter().all(|c| at(c) == at(&group[0])), "{group:?}");
        }
        assert!(
            crate::epoch_prefix_groups(&cells, &e.config.train)
                .iter()
                .any(|g| g.len() > 1)
        );
        assert!(shards.iter().all(|s| *s < 8));
        assert!((0..8).all(|k| shards.contains(&k)), "no empty shard");
    }

    #[test]
    fn costs_follow_size_and_head() {
        let e = forum();
        let cells = e.cells();
        let cost = |id: &str| cell_cost(&e, cells.iter().find(|c| c.id() == id).unwrap());
        let big = cost("mlp-bias1-relu1-drop0-last1-wd0-lr0.001-ep20-n1000-s0");
        let small = cost("mlp-bias1-relu1-drop0-last1-wd0-lr0.001-ep20-n25-s0");
        assert!(big / small > 5.0 && big / small < 10.0, "{}", big / small);
        assert!(cost("linear-last1-wd0-lr0.001-ep20-n1000-s0") < big / 30.0);
        // A variant's own epochs count.
        let longer = cost("mlp-bias1-relu1-drop0.5-last1-wd0-lr0.001-ep40-n1000-s0");
        let shorter = cost("mlp-bias1-relu1-drop0.5-last1-wd0-lr0.001-ep20-n1000-s0");
        assert!((longer / shorter - 2.0).abs() < 1e-9);
        assert!(cost("linear-last1-wd0-lbfgs-n1000-s0") < big / 5.0);
    }

    #[test]
    fn shard_arguments_parse_or_name_the_problem() {
        assert_eq!(Shard::parse("3/8"), Ok(Shard { index: 3, count: 8 }));
        let cases = [
            ("4/4", "out of range"),
            ("x", "expected K/N"),
            ("a/4", "not a shard index"),
            ("1/0", "at least 1"),
        ];
        for (text, needle) in cases {
            let err = Shard::parse(text).unwrap_err().to_string();
            assert!(err.contains(needle) && err.contains(text), "{text}: {err}");
        }
        let env = |vars: &'static [(&'static str, &'static str)]| {
            move |k: &str| {
                vars.iter()
                    .find(|(name, _)| *name == k)
                    .map(|(_, v)| v.to_string())
            }
        };
        assert_eq!(
            Shard::from_env(env(&[
                ("SLURM_ARRAY_TASK_ID", "2"),
                ("SLURM_ARRAY_TASK_COUNT", "4")
            ])),
            Ok(Shard { index: 2, count: 4 })
        );
        assert_eq!(
            Shard::from_env(env(&[
                ("JOB_COMPLETION_INDEX", "0"),
                ("ABLATE_SHARD_COUNT", "3")
            ])),
            Ok(Shard { index: 0, count: 3 })
        );
        assert!(
            Shard::from_env(env(&[("SLURM_ARRAY_TASK_ID", "2")]))
                .unwrap_err()
                .to_string()
                .contains("SLURM_ARRAY_TASK_COUNT")
        );
        assert!(
            Shard::from_env(env(&[]))
                .unwrap_err()
                .to_string()
                .contains("--shard K/N")
        );
    }
}
