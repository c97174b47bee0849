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
            eprintln!("error: {}", error_line(&err));
            ExitCode::from(1)
        }
    }
}

/// The error and its causes on one line, each said once: several error types put their cause in
/// their own message already, and anyhow's `{:#}` would repeat it ("No such file or directory"
/// twice).
fn error_line(err: &anyhow::Error) -> String {
    let mut line = String::new();
    for cause in err.chain() {
        let text = cause.to_string();
        if line.contains(&text) {
            continue;
        }
        if !line.is_empty() {
            line.push_str(": ");
        }
        line.push_str(&text);
    }
    line
}

#[cfg(test)]
mod tests {
    use anyhow::Context;

    use super::error_line;

    #[test]
    fn a_cause_already_in_the_message_is_said_once() {
        let io = std::io::Error::new(std::io::ErrorKind::NotFound, "No such file or directory");
        let err = ablate_results::ResultsError::Io {
            path: "/x/manifest.json".into(),
            source: io,
        };
        let err = anyhow::Error::new(err);
        assert_eq!(
            error_line(&err),
            "/x/manifest.json: No such file or directory"
        );
        let wrapped = Err::<(), _>(err)
            .context("reading the results")
            .unwrap_err();
        assert_eq!(
            error_line(&wrapped),
            "reading the results: /x/manifest.json: No such file or directory"
        );
    }
}
