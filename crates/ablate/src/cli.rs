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
    /// Write the comparison report (tables, plots, verdicts, REPORT.md, report.html) of a results folder.
    Report(ReportArgs),
    /// Build the features and the results folder of an experiment, train nothing (a job array's first job).
    Prepare(PrepareArgs),
    /// Combine the cells of a results folder (and of other folders with --from) into its tables and report.
    Merge(MergeArgs),
    /// Cells done / missing / failed, per shard.
    Status(StatusArgs),
    /// Write (and with --submit, submit) a Slurm job array that runs the grid in shards.
    Slurm(SlurmArgs),
    /// List the cells of an experiment's grid without running them.
    Grid {
        /// The experiment file (TOML), e.g. `experiments/forum.toml`.
        experiment: PathBuf,
    },
    /// Extract (or find in the cache) the backbone features of an experiment's images.
    Features(FeaturesArgs),
    /// Run a backbone on your own weights and inputs.
    #[command(subcommand)]
    Backbone(BackboneCommand),
    /// Measure training speed: one mlp cell (steps/s, GFLOP/s) and an 81-cell grid (wall time).
    Bench(BenchArgs),
    /// Write a synthetic features file (for demos and tests; real features come from a backbone).
    SynthFeatures(SynthArgs),
}

#[derive(Clone, Copy, Debug, PartialEq, Eq, ValueEnum)]
pub enum Backend {
    /// CPU, pure Rust (burn-flex).
    Flex,
    /// Any GPU through Vulkan/Metal/DirectX 12, or Mesa's software Vulkan (burn-wgpu); needs a build
    /// with `--features wgpu`.
    Wgpu,
    /// NVIDIA GPU (burn-cuda); needs a build with `--features cuda`.
    Cuda,
}

impl Backend {
    /// A device backend (a GPU, or a software one): work is queued on a device, not run on the
    /// host's cores.
    pub fn is_device(self) -> bool {
        self != Backend::Flex
    }
}

#[derive(Args)]
pub struct RunArgs {
    /// The experiment file (TOML), e.g. `experiments/forum.toml`.
    pub experiment: PathBuf,
    /// Results root; the experiment writes to `<out>/<name>/`.
    #[arg(long, default_value = "results")]
    pub out: PathBuf,
    /// Cells trained at once (default: one per core).
    #[arg(long)]
    pub jobs: Option<usize>,
    /// The backend: `flex` (CPU, the default), `wgpu` or `cuda` (each needs a build with its feature).
    #[arg(long, value_enum, default_value = "flex")]
    pub backend: Backend,
    /// Discard the results folder's earlier cells (needed after changing the experiment).
    #[arg(long)]
    pub restart: bool,
    /// Where the report goes (default `report/<name>/`).
    #[arg(long)]
    pub report: Option<PathBuf>,
    /// Do not write the report after the grid.
    #[arg(long)]
    pub no_report: bool,
    /// Run only shard K of N (0-based, `K/N`), or `auto` to read it from a job array's environment
    /// (SLURM_ARRAY_TASK_ID/SLURM_ARRAY_TASK_COUNT, or JOB_COMPLETION_INDEX/ABLATE_SHARD_COUNT).
    /// Shards write only their own cells; `ablate merge` writes the tables.
    #[arg(long)]
    pub shard: Option<String>,
    /// Only the cells listed in this file (one id per line), e.g. the missing cells of a grid.
    #[arg(long)]
    pub cells: Option<PathBuf>,
    /// The most runs trained as one stacked model (cells of one seed, size and layer list; see
    /// README, "Stacked cells"); 1 trains every cell on its own; 0: as many as fit in about 2 GiB
    /// per worker. Default: 0 for the heads where stacking pays on the backend (on the CPU, linear
    /// probes; on a GPU, every head), 1 for the others. The numbers are the same either way.
    #[arg(long)]
    pub stack: Option<u64>,
}

#[derive(Args)]
pub struct PrepareArgs {
    /// The experiment file (TOML), e.g. `experiments/forum.toml`.
    pub experiment: PathBuf,
    /// Results root; the experiment writes to `<out>/<name>/`.
    #[arg(long, default_value = "results")]
    pub out: PathBuf,
    /// The backend: `flex` (CPU, the default), `wgpu` or `cuda` (each needs a build with its feature).
    #[arg(long, value_enum, default_value = "flex")]
    pub backend: Backend,
}

#[derive(Args)]
pub struct MergeArgs {
    /// The results folder (`results/<name>/`).
    pub results: PathBuf,
    /// Other results folders of the same config (e.g. shards run without a shared filesystem)
    /// whose cells are copied in first.
    #[arg(long)]
    pub from: Vec<PathBuf>,
    /// Where the report goes (default `report/<name>/`).
    #[arg(long)]
    pub report: Option<PathBuf>,
    /// Write the tables only, no report.
    #[arg(long)]
    pub no_report: bool,
}

#[derive(Args)]
pub struct StatusArgs {
    /// The results folder (`results/<name>/`).
    pub results: PathBuf,
    /// Shard count to group by (default: the last `ablate slurm` plan of this folder, else 1).
    #[arg(long)]
    pub shards: Option<usize>,
}

#[derive(Args)]
pub struct SlurmArgs {
    /// The experiment file (TOML), e.g. `experiments/forum.toml`.
    pub experiment: PathBuf,
    /// Array tasks (shards).
    #[arg(long)]
    pub tasks: usize,
    /// Results root, as for `ablate run --out` (put it on a filesystem every node sees).
    #[arg(long, default_value = "results")]
    pub out: PathBuf,
    /// Slurm partition to submit to (`#SBATCH --partition`; default: the cluster's).
    #[arg(long)]
    pub partition: Option<String>,
    /// Time limit per task, in Slurm's format (e.g. `2:00:00`).
    #[arg(long)]
    pub time: Option<String>,
    /// CPUs per task; on `flex` the task trains that many cells at once.
    #[arg(long, default_value_t = 2)]
    pub cpus_per_task: usize,
    /// The backend the jobs run on: `flex` (CPU, the default), `wgpu` or `cuda` (each needs a build
    /// with its feature); `wgpu` and `cuda` ask Slurm for GPUs (`--gpus-per-task`) and train one cell
    /// at a time per task on its GPU.
    #[arg(long, value_enum, default_value = "flex")]
    pub backend: Backend,
    /// GPUs per task with `--backend wgpu` or `cuda` (`#SBATCH --gres=gpu:N`); ablate uses the first.
    #[arg(long, default_value_t = 1)]
    pub gpus_per_task: usize,
    /// Submit with sbatch and return at once, printing the job ids.
    #[arg(long)]
    pub submit: bool,
    /// Print the scripts (and the shards' expected costs) without writing or submitting anything.
    #[arg(long)]
    pub dry_run: bool,
    /// An array of only the cells still missing from the results folder (and no features job).
    #[arg(long)]
    pub missing: bool,
    /// Passed to every task's `ablate run --stack` (default: `ablate run`'s).
    #[arg(long)]
    pub stack: Option<u64>,
}

#[derive(Args)]
pub struct ReportArgs {
    /// A results folder (`results/<name>/`, with manifest.json and runs/epochs tables).
    pub results: PathBuf,
    /// Output folder (default `report/<name>/`).
    #[arg(long)]
    pub out: Option<PathBuf>,
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
    /// Stack size of the grid part, as `ablate run --stack` (default: `ablate run`'s; with `1`
    /// given the stacked single-thread timings are skipped).
    #[arg(long)]
    pub stack: Option<u64>,
    /// The backend: `flex` (CPU, the default), `wgpu` or `cuda` (each needs a build with its feature).
    #[arg(long, value_enum, default_value = "flex")]
    pub backend: Backend,
}

#[derive(Args)]
pub struct SynthArgs {
    /// The features file to write (safetensors).
    pub out: PathBuf,
    /// Number of classes.
    #[arg(long, default_value_t = 4)]
    pub classes: usize,
    /// Feature width (1280: EfficientNet-b0/lite0's pooled features).
    #[arg(long, default_value_t = 1280)]
    pub dim: usize,
    /// Training rows per class.
    #[arg(long, default_value_t = 1000)]
    pub train_per_class: usize,
    /// Validation rows per class.
    #[arg(long, default_value_t = 500)]
    pub val_per_class: usize,
    /// 0 for a file without a test split.
    #[arg(long, default_value_t = 500)]
    pub test_per_class: usize,
    /// Seed of the class means and the noise.
    #[arg(long, default_value_t = 0)]
    pub seed: u64,
}

#[derive(Args)]
pub struct FeaturesArgs {
    /// The experiment file (TOML), e.g. `experiments/forum.toml`.
    pub experiment: PathBuf,
    /// Write the features here instead of the cache (`assets/features/`).
    #[arg(long)]
    pub out: Option<PathBuf>,
    /// Extract again even when the cache has them.
    #[arg(long)]
    pub force: bool,
    /// The backend: `flex` (CPU, the default), `wgpu` or `cuda` (each needs a build with its feature).
    #[arg(long, value_enum, default_value = "flex")]
    pub backend: Backend,
}

#[derive(Subcommand)]
pub enum BackboneCommand {
    /// Read `input` [N,3,H,W] f32 from a safetensors file, write `features` and `logits`.
    Run {
        /// Architecture: `efficientnet-b0` ... `b7`, `efficientnet-lite0` ... `lite4`.
        #[arg(long)]
        arch: String,
        /// PyTorch weights (`.pth`, lukemelas' parameter names).
        #[arg(long)]
        weights: PathBuf,
        /// Safetensors file with `input` `[N, 3, H, W]` f32 (already preprocessed).
        #[arg(long)]
        input: PathBuf,
        /// Safetensors file to write `features` and `logits` to.
        #[arg(long)]
        out: PathBuf,
        /// The backend: `flex` (CPU, the default), `wgpu` or `cuda` (each needs a build with its feature).
        #[arg(long, value_enum, default_value = "flex")]
        backend: Backend,
    },
    /// Print the 5 most likely ImageNet classes of each image (checks that weights loaded right).
    Top5 {
        /// Architecture: `efficientnet-b0` ... `b7`, `efficientnet-lite0` ... `lite4`.
        #[arg(long)]
        arch: String,
        /// PyTorch weights (`.pth`, lukemelas' parameter names).
        #[arg(long)]
        weights: PathBuf,
        /// Image files (jpg, png).
        #[arg(required = true)]
        images: Vec<PathBuf>,
        /// The backend: `flex` (CPU, the default), `wgpu` or `cuda` (each needs a build with its feature).
        #[arg(long, value_enum, default_value = "flex")]
        backend: Backend,
    },
    /// Images per second of one fine-tuning step: forward in train mode, backward, Adam step of the
    /// backbone and the forum's model1 (lite0 at 64 px, batch 32 by default; random images).
    FinetuneBench {
        /// Architecture: `efficientnet-b0` ... `b7`, `efficientnet-lite0` ... `lite4`.
        #[arg(long, default_value = "efficientnet-lite0")]
        arch: String,
        /// PyTorch weights (`.pth`, lukemelas' parameter names).
        #[arg(long, default_value = "assets/efficientnet-lite0-57934424.pth")]
        weights: PathBuf,
        /// Images per step.
        #[arg(long, default_value_t = 32)]
        batch: usize,
        /// Image side in pixels.
        #[arg(long, default_value_t = 64)]
        size: usize,
        /// Timed steps (after one warm-up step).
        #[arg(long, default_value_t = 5)]
        steps: usize,
        /// The backend: `flex` (CPU, the default), `wgpu` or `cuda` (each needs a build with its feature).
        #[arg(long, value_enum, default_value = "flex")]
        backend: Backend,
    },
    /// What one image costs the backbone, counted from its architecture: multiply-adds, parameters,
    /// the feature maps a training step keeps for backward, layers (kernel launches on a device).
    Cost {
        /// Architecture: `efficientnet-b0` ... `b7`, `efficientnet-lite0` ... `lite4`.
        #[arg(long, default_value = "efficientnet-b5")]
        arch: String,
        /// Image side in pixels (default: the architecture's native resolution).
        #[arg(long)]
        size: Option<usize>,
        /// Images per training step, for the memory of one step.
        #[arg(long, default_value_t = 32)]
        batch: usize,
    },
    /// Images per second of feature extraction (lite0 at 224 px, batch 64 by default).
    Bench {
        /// Architecture: `efficientnet-b0` ... `b7`, `efficientnet-lite0` ... `lite4`.
        #[arg(long, default_value = "efficientnet-lite0")]
        arch: String,
        /// PyTorch weights (`.pth`, lukemelas' parameter names).
        #[arg(long, default_value = "assets/efficientnet-lite0-57934424.pth")]
        weights: PathBuf,
        /// Images per forward pass.
        #[arg(long, default_value_t = 64)]
        batch: usize,
        /// Timed batches (after one warm-up batch).
        #[arg(long, default_value_t = 3)]
        batches: usize,
        /// The backend: `flex` (CPU, the default), `wgpu` or `cuda` (each needs a build with its feature).
        #[arg(long, value_enum, default_value = "flex")]
        backend: Backend,
    },
}

#[cfg(test)]
mod tests {
    use clap::CommandFactory;

    use super::Cli;

    /// Every subcommand, argument and option says what it is in `--help`.
    #[test]
    fn every_argument_has_help() {
        fn walk(cmd: &clap::Command, path: &str, missing: &mut Vec<String>) {
            for arg in cmd.get_arguments() {
                let id = arg.get_id().as_str();
                if matches!(id, "help" | "version") {
                    continue;
                }
                if arg.get_help().is_none() && arg.get_long_help().is_none() {
                    missing.push(format!("{path} {id}"));
                }
            }
            for sub in cmd.get_subcommands() {
                if sub.get_about().is_none() {
                    missing.push(format!("{path} {} (about)", sub.get_name()));
                }
                walk(sub, &format!("{path} {}", sub.get_name()), missing);
            }
        }
        let mut missing = Vec::new();
        walk(&Cli::command(), "ablate", &mut missing);
        assert!(missing.is_empty(), "no help: {missing:#?}");
    }
}
