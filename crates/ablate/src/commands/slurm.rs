//! `ablate slurm`: the grid as a Slurm job array. A features job runs first (once), then an array
//! whose tasks each run one shard (`ablate run --shard auto`), then a merge job that runs whether
//! tasks failed or not (`afterany`) and lists what is missing. Submission returns at once.

use std::fmt::Write as _;
use std::io::Write as _;
use std::path::{Path, PathBuf};
use std::process::{Command, ExitCode};

use ablate_results::{Layout, ResultsStore, write_atomic};
use ablate_spec::Experiment;
use ablate_spec::shard;
use anyhow::{Context, Result, bail};
use serde::{Deserialize, Serialize};

use crate::backend;
use crate::cli::{Backend, SlurmArgs};

/// The last array written for a results folder (`slurm/plan.json`); `ablate status` groups by it.
#[derive(Debug, Serialize, Deserialize)]
pub struct Plan {
    pub tasks: usize,
    pub experiment: String,
    pub cells_file: Option<String>,
    pub job_ids: Vec<String>,
}

impl Plan {
    /// The folder's plan; `None` when no array was written for it. An unreadable or corrupt plan
    /// is an error naming the file, not "no plan" (which would group the cells as one shard).
    pub fn load(folder: &Path) -> anyhow::Result<Option<Self>> {
        let path = Layout::new(folder).slurm_plan();
        let bytes = match std::fs::read(&path) {
            Ok(bytes) => bytes,
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(None),
            Err(e) => anyhow::bail!("cannot read the Slurm plan {}: {e}", path.display()),
        };
        serde_json::from_slice(&bytes).map(Some).map_err(|e| {
            anyhow::anyhow!(
                "the Slurm plan {} is corrupt ({e}); delete it or rerun `ablate slurm`",
                path.display()
            )
        })
    }
}

struct Script {
    file: &'static str,
    text: String,
}

/// A path as one shell word: as it is when it has no character bash would split or expand, else in
/// single quotes.
fn quote(path: &Path) -> String {
    let s = path.display().to_string();
    if s.chars()
        .all(|c| c.is_ascii_alphanumeric() || "/._-+=:,@".contains(c))
    {
        s
    } else {
        format!("'{}'", s.replace('\'', "'\\''"))
    }
}

fn header(args: &SlurmArgs, name: &str, chdir: &Path, log: &Path, cpus: usize) -> String {
    let mut h = String::from("#!/bin/bash\n");
    let _ = writeln!(h, "#SBATCH --job-name={name}");
    // sbatch reads directives without a shell: paths go in as they are.
    let _ = writeln!(h, "#SBATCH --chdir={}", chdir.display());
    // Append, so a requeued task keeps the log of its first attempt.
    let _ = writeln!(h, "#SBATCH --output={}", log.display());
    let _ = writeln!(h, "#SBATCH --open-mode=append");
    let _ = writeln!(h, "#SBATCH --cpus-per-task={cpus}");
    if let Some(p) = &args.partition {
        let _ = writeln!(h, "#SBATCH --partition={p}");
    }
    if let Some(t) = &args.time {
        let _ = writeln!(h, "#SBATCH --time={t}");
    }
    if args.backend.is_device() {
        let _ = writeln!(h, "#SBATCH --gres=gpu:{}", args.gpus_per_task);
    }
    h
}

pub fn slurm(args: &SlurmArgs) -> Result<ExitCode> {
    if args.tasks == 0 {
        bail!("--tasks must be at least 1");
    }
    if args.cpus_per_task == 0 {
        bail!("--cpus-per-task must be at least 1");
    }
    if args.backend.is_device() && args.gpus_per_task == 0 {
        bail!(
            "--gpus-per-task must be at least 1 with --backend {}",
            backend::name(args.backend)
        );
    }
    if !args.dry_run {
        // The jobs run this very binary: one that cannot use the backend would fail in the queue.
        backend::check(args.backend)?;
    }
    let experiment = Experiment::load(&args.experiment)?;
    let exe = std::env::current_exe().context("finding the ablate binary")?;
    let cwd = std::env::current_dir().context("reading the working directory")?;
    let experiment_path = std::path::absolute(&args.experiment)?;
    let root = std::path::absolute(&args.out)?;
    let layout = Layout::under(&root, &experiment.config.name);
    let folder = layout.folder().to_owned();
    let slurm_dir = layout.slurm_dir();
    let logs = slurm_dir.join("logs");

    let mut cells = experiment.cells();
    let mut cells_file: Option<PathBuf> = None;
    if args.missing {
        let (store, manifest, _) = ResultsStore::at(&folder).with_context(|| {
            format!(
                "--missing needs the results folder {} of an earlier run",
                folder.display()
            )
        })?;
        if manifest.config_hash != experiment.config_hash() {
            bail!(
                "{}: made by config {}, but {} is config {}; --missing only resubmits cells of the same config",
                folder.display(),
                manifest.config_hash,
                args.experiment.display(),
                experiment.config_hash()
            );
        }
        let records = store.records()?;
        cells.retain(|c| !records.contains_key(&c.id()));
        if cells.is_empty() {
            eprintln!(
                "{}: no cell is missing; run `ablate merge {}`",
                experiment.config.name,
                folder.display()
            );
            return Ok(ExitCode::SUCCESS);
        }
        let stamp = std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .map_or(0, |d| d.as_secs());
        cells_file = Some(slurm_dir.join(format!("missing-{stamp}.cells")));
    }
    let tasks = args.tasks.min(cells.len());
    if tasks < args.tasks {
        eprintln!(
            "note: {} cells, so {tasks} tasks instead of {}",
            cells.len(),
            args.tasks
        );
    }

    let costs = shard::shard_costs(&experiment, &cells, tasks);
    let of = shard::assign(&experiment, &cells, tasks);
    let mean = costs.iter().sum::<f64>() / tasks as f64;
    let max = costs.iter().cloned().fold(0.0, f64::max);
    eprintln!("shard  cells  expected cost (x mean)");
    for (k, cost) in costs.iter().enumerate() {
        eprintln!(
            "{k:>5}  {:>5}  {:.3}",
            of.iter().filter(|s| **s == k).count(),
            cost / mean
        );
    }
    eprintln!(
        "{}: {} cells in {tasks} shards; largest shard {:.3} x the mean",
        experiment.config.name,
        cells.len(),
        max / mean
    );

    let backend_arg = match args.backend {
        Backend::Flex => String::new(),
        device => format!(" --backend {}", backend::name(device)),
    };
    // On a GPU, cells at once would share one device and its memory: one at a time.
    let jobs = match args.backend {
        Backend::Flex => args.cpus_per_task,
        _ => 1,
    };
    let name = format!("ablate-{}", experiment.config.name);
    let ablate = quote(&exe);
    let exp = quote(&experiment_path);
    let mut scripts = Vec::new();
    if !args.missing {
        let mut text = header(
            args,
            &format!("{name}-prepare"),
            &cwd,
            &logs.join("%x-%j.log"),
            args.cpus_per_task,
        );
        let _ = writeln!(
            text,
            "set -euo pipefail\n# Features and the results folder, once, before any shard starts.\nexec {ablate} prepare {exp} --out {}{backend_arg}",
            quote(&root)
        );
        scripts.push(Script {
            file: "prepare.sbatch",
            text,
        });
    }
    let mut text = header(
        args,
        &name,
        &cwd,
        &logs.join("%x-%A_%a.log"),
        args.cpus_per_task,
    );
    let _ = writeln!(text, "#SBATCH --array=0-{}", tasks - 1);
    let _ = writeln!(text, "#SBATCH --requeue");
    let cells_arg = cells_file
        .as_ref()
        .map(|f| format!(" --cells {}", quote(f)))
        .unwrap_or_default();
    let stack_arg = args
        .stack
        .map(|n| format!(" --stack {n}"))
        .unwrap_or_default();
    let _ = writeln!(
        text,
        "set -euo pipefail\n# Shard SLURM_ARRAY_TASK_ID of SLURM_ARRAY_TASK_COUNT; done cells are skipped on a requeue.\n\
         exec {ablate} run {exp} --out {} --shard auto --jobs {jobs}{backend_arg}{stack_arg}{cells_arg}",
        quote(&root),
    );
    let array_file = if args.missing {
        "array-missing.sbatch"
    } else {
        "array.sbatch"
    };
    scripts.push(Script {
        file: array_file,
        text,
    });
    let mut text = header(
        args,
        &format!("{name}-merge"),
        &cwd,
        &logs.join("%x-%j.log"),
        1,
    );
    let _ = writeln!(
        text,
        "set -euo pipefail\n# Runs after every task ended, failed or not: tables, report, and the list of missing cells.\n\
         exec {ablate} merge {}",
        quote(&folder)
    );
    scripts.push(Script {
        file: "merge.sbatch",
        text,
    });

    if args.dry_run {
        let mut out = std::io::stdout().lock();
        for s in &scripts {
            writeln!(
                out,
                "# ---- {} ----\n{}",
                slurm_dir.join(s.file).display(),
                s.text
            )?;
        }
        return Ok(ExitCode::SUCCESS);
    }

    std::fs::create_dir_all(&logs).with_context(|| format!("creating {}", logs.display()))?;
    if let Some(file) = &cells_file {
        let ids: String = cells.iter().map(|c| c.id() + "\n").collect();
        write_atomic(file, ids.as_bytes())?;
    }
    for s in &scripts {
        write_atomic(&slurm_dir.join(s.file), s.text.as_bytes())?;
    }
    let mut plan = Plan {
        tasks,
        experiment: experiment_path.display().to_string(),
        cells_file: cells_file.as_ref().map(|f| f.display().to_string()),
        job_ids: Vec::new(),
    };
    let save = |plan: &Plan| {
        write_atomic(
            &layout.slurm_plan(),
            &serde_json::to_vec_pretty(plan).expect("a Plan serializes"),
        )
    };
    save(&plan)?;
    eprintln!("scripts in {}", slurm_dir.display());

    if !args.submit {
        let mut out = std::io::stdout().lock();
        let dir = quote(&slurm_dir);
        if args.missing {
            writeln!(
                out,
                "a=$(sbatch --parsable {dir}/{array_file}) && sbatch --dependency=afterany:${{a%%;*}} {dir}/merge.sbatch"
            )?;
        } else {
            writeln!(
                out,
                "p=$(sbatch --parsable {dir}/prepare.sbatch) && \
                 a=$(sbatch --parsable --kill-on-invalid-dep=yes --dependency=afterok:${{p%%;*}} {dir}/array.sbatch) && \
                 sbatch --dependency=afterany:${{a%%;*}} {dir}/merge.sbatch"
            )?;
        }
        return Ok(ExitCode::SUCCESS);
    }

    let mut previous: Option<String> = None;
    let mut out = std::io::stdout().lock();
    for s in &scripts {
        let mut cmd = Command::new("sbatch");
        cmd.arg("--parsable");
        if let Some(id) = &previous {
            if s.file == "merge.sbatch" {
                cmd.arg(format!("--dependency=afterany:{id}"));
            } else {
                // afterok on the features job; without the kill switch a failed dependency would
                // leave the array pending forever.
                cmd.arg(format!("--dependency=afterok:{id}"));
                cmd.arg("--kill-on-invalid-dep=yes");
            }
        }
        cmd.arg(slurm_dir.join(s.file));
        let output = cmd.output().map_err(|e| {
            anyhow::anyhow!(
                "cannot run sbatch ({e}); is this a Slurm login node? --dry-run prints the scripts"
            )
        })?;
        if !output.status.success() {
            bail!(
                "sbatch {} failed: {}",
                s.file,
                String::from_utf8_lossy(&output.stderr).trim()
            );
        }
        let stdout = String::from_utf8_lossy(&output.stdout);
        let id = stdout
            .trim()
            .split(';')
            .next()
            .unwrap_or_default()
            .to_string();
        writeln!(out, "{} {id}", s.file.trim_end_matches(".sbatch"))?;
        plan.job_ids.push(id.clone());
        previous = Some(id);
    }
    save(&plan)?;
    Ok(ExitCode::SUCCESS)
}
