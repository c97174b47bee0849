//! Command-line arguments.

use std::path::PathBuf;

use clap::{Args, Parser, Subcommand, ValueEnum};

#[derive(Parser)]
#[command(
    name = "ablate",
    version,
    about = "Measure which classifier head to put on a pretrained backbone"
)]
pub struct Cli {
    #[command(subcommand)]
    pub command: Command,
}

#[derive(Subcommand)]
pub enum Command {
    /// Train every missing cell of an experiment's grid and write the results tables.
    Run(RunArgs),
    /// List the cells of an experiment's grid without running them.
    Grid { experiment: PathBuf },
    /// Measure training speed: one mlp cell (steps/s, GFLOP/s) and an 81-cell grid (wall time).
    Bench(BenchArgs),
    /// Write a synthetic features file (for demos and tests; real features come from a backbone).
    SynthFeatures(SynthArgs),
}

#[derive(Clone, Copy, Debug, PartialEq, Eq, ValueEnum)]
pub enum Backend {
    /// CPU, pure Rust (burn-flex).
    Flex,
    /// NVIDIA GPU (burn-cuda); needs a build with `--features cuda`.
    Cuda,
}

#[derive(Args)]
pub struct RunArgs {
    pub experiment: PathBuf,
    /// Results root; the experiment writes to `<out>/<name>/`.
    #[arg(long, default_value = "results")]
    pub out: PathBuf,
    /// Cells trained at once (default: one per core).
    #[arg(long)]
    pub jobs: Option<usize>,
    #[arg(long, value_enum, default_value = "flex")]
    pub backend: Backend,
    /// Discard the results folder's earlier cells (needed after changing the experiment).
    #[arg(long)]
    pub restart: bool,
}

#[derive(Args)]
pub struct BenchArgs {
    /// Epochs of the single-cell measurement.
    #[arg(long, default_value_t = 3)]
    pub cell_epochs: usize,
    /// Epochs of each grid cell (the forum's 20).
    #[arg(long, default_value_t = 20)]
    pub grid_epochs: usize,
    /// Skip the 81-cell grid (it takes minutes).
    #[arg(long)]
    pub no_grid: bool,
    /// Cells trained at once in the grid part (default: one per core).
    #[arg(long)]
    pub jobs: Option<usize>,
    #[arg(long, value_enum, default_value = "flex")]
    pub backend: Backend,
}

#[derive(Args)]
pub struct SynthArgs {
    pub out: PathBuf,
    #[arg(long, default_value_t = 4)]
    pub classes: usize,
    #[arg(long, default_value_t = 1280)]
    pub dim: usize,
    #[arg(long, default_value_t = 1000)]
    pub train_per_class: usize,
    #[arg(long, default_value_t = 500)]
    pub val_per_class: usize,
    #[arg(long, default_value_t = 0)]
    pub seed: u64,
}
