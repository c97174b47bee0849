//! One module per subcommand.

mod backbone;
mod bench;
mod features;
mod grid;
mod merge;
mod prepare;
mod report;
mod run;
mod slurm;
mod status;
mod synth;

use std::process::ExitCode;

use anyhow::Result;

use crate::cli::{Cli, Command};

pub use features::{cached_features, resolve_cut_cache, resolve_features};

pub fn dispatch(cli: Cli) -> Result<ExitCode> {
    match cli.command {
        Command::Run(args) => run::run(&args),
        Command::Report(args) => report::report(&args),
        Command::Prepare(args) => prepare::prepare(&args),
        Command::Merge(args) => merge::merge(&args),
        Command::Status(args) => status::status(&args),
        Command::Slurm(args) => slurm::slurm(&args),
        Command::Grid { experiment } => grid::grid(&experiment),
        Command::Features(args) => features::features(&args),
        Command::Backbone(command) => backbone::backbone(&command),
        Command::Bench(args) => bench::bench(&args),
        Command::SynthFeatures(args) => synth::synth(&args),
    }
}

/// Default worker count: on flex one cell per core (on 2 cores, two single-threaded cells beat one
/// two-threaded); on a device backend one, whose cells would otherwise share one device's queue and
/// memory.
fn default_jobs(backend: crate::cli::Backend) -> usize {
    if backend.is_device() {
        1
    } else {
        std::thread::available_parallelism().map_or(1, |n| n.get())
    }
}
