//! `ablate`: which classifier head should sit on a pretrained backbone? A thin command line over the
//! crates that do the work (spec -> data -> heads -> train -> results).
//!
//! Exit codes: 0 when everything asked for was done; 1 when the command could not run (bad input,
//! unreadable file: the message names it); 2 when a grid ran but some cells failed (their errors are in
//! `cells/<id>.failed.json`; a rerun retries them).

mod backend;
mod cli;
mod commands;
mod progress;
mod runner;

use std::process::ExitCode;

use clap::Parser;

fn main() -> ExitCode {
    let cli = cli::Cli::parse();
    match commands::dispatch(cli) {
        Ok(outcome) => outcome,
        Err(err) => {
            eprintln!("error: {err:#}");
            ExitCode::from(1)
        }
    }
}
