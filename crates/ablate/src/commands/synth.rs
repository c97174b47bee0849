//! `ablate synth-features`.

use std::process::ExitCode;

use ablate_data::{SyntheticSpec, synthetic_features, write_features};
use anyhow::{Result, bail};

use crate::cli::SynthArgs;

pub fn synth(args: &SynthArgs) -> Result<ExitCode> {
    if args.classes < 2 || args.dim == 0 || args.train_per_class == 0 || args.val_per_class == 0 {
        bail!(
            "synth-features needs at least 2 classes and non-zero --dim, --train-per-class, --val-per-class"
        );
    }
    let spec = SyntheticSpec {
        seed: args.seed,
        ..SyntheticSpec::new(
            args.classes,
            args.dim,
            args.train_per_class,
            args.val_per_class,
        )
    };
    let spec = SyntheticSpec {
        test_per_class: args.test_per_class,
        ..spec
    };
    let splits = synthetic_features(&spec);
    let names: Vec<String> = (0..args.classes)
        .map(|c| format!("synthetic {c}"))
        .collect();
    write_features(&args.out, &splits, &names, &Default::default())?;
    eprintln!(
        "wrote {} ({} train + {} val + {} test rows of {} features)",
        args.out.display(),
        splits.train.len(),
        splits.val.len(),
        splits.test.as_ref().map_or(0, |t| t.len()),
        args.dim
    );
    Ok(ExitCode::SUCCESS)
}
