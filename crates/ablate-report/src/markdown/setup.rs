//! The setup table: data (for every data kind), backbone, training, the grid (from the vocabulary
//! table), cells, hardware; then the experiment's own notes.

use std::fmt::Write as _;

use ablate_results::DataSummary;
use ablate_results::columns::runs as rc;
use ablate_spec::{
    CsvLabels, DataSpec, EvalBnStats, Experiment, FinetuneSpec, GridBlock, Switch, TrainSetting,
    Value,
};

use super::Context;
use crate::error::ReportError;
use crate::frame::f64s;
use crate::regimes::Regimes;
use crate::results::Results;

pub fn write(w: &mut String, results: &Results, context: &Context) -> Result<(), ReportError> {
    let e = &results.experiment;
    let runs = &results.runs;
    let _ = writeln!(w, "## Setup\n");
    let _ = writeln!(w, "| | |\n|---|---|");
    let _ = writeln!(
        w,
        "| data | {} |",
        data_text(e, results.manifest.data.as_ref())
    );
    let backbone = match &e.config.backbone {
        Some(b) => format!(
            "{} (`{}`), {}, {}",
            b.arch,
            b.weights.display(),
            b.image_size.map_or(
                "the architecture's own resolution".to_string(),
                |s| format!("{s} px")
            ),
            regime_text(e)
        ),
        None => "none here: the features file was made elsewhere".into(),
    };
    let _ = writeln!(w, "| backbone | {backbone} |");
    let t = &e.config.train;
    let optimizer = serde_json::to_value(t.optimizer)
        .ok()
        .and_then(|v| v.as_str().map(str::to_string))
        .unwrap_or_default();
    let _ = writeln!(
        w,
        "| training | {optimizer} lr {}, {} epochs, batch {}, hidden width {}, weight decay {} |",
        t.lr, t.epochs, t.batch_size, t.hidden, t.weight_decay,
    );
    let _ = writeln!(w, "| grid | {} |", grid_text(e));
    let seconds: f64 = f64s(runs, rc::SECONDS)?.iter().sum();
    let mut backends = crate::frame::strings(runs, rc::BACKEND)?;
    backends.sort();
    backends.dedup();
    let _ = writeln!(
        w,
        "| cells | {} trained cells, {:.1} min of cell time summed over cells (a cell measured on the way to a longer one of the same run counts the shared epochs again; the wall time is below) (backend {}) |",
        runs.height(),
        seconds / 60.0,
        backends.join(", ")
    );
    let _ = writeln!(
        w,
        "| hardware | {} |\n",
        context.machines.as_deref().unwrap_or(
            "not recorded (the results folder has no `run-info/`; `ablate run` writes one file per run there)"
        )
    );
    if let Some(notes) = &e.report.notes {
        let _ = writeln!(w, "{}\n", notes.trim_end());
    }
    Ok(())
}

/// How the backbone is used: frozen (features), fine-tuned (its `[finetune]` settings), or both.
fn regime_text(e: &Experiment) -> String {
    const FROZEN: &str = "features = global-average-pooled last stage";
    let finetune = |f: &FinetuneSpec| {
        let trains = match f.freeze_stages {
            0 => "the whole network trained with the head".to_string(),
            n => format!(
                "{} and the head conv trained with the head (the stem and the first {n} stages \
                 frozen, run as at inference{})",
                crate::regimes::stages_from(n),
                if f.cut_cache {
                    ": their output for every image computed once and cached, the same training \
                     as running them at every step"
                } else {
                    ""
                }
            ),
        };
        format!(
            "{trains}: backbone lr {} (where the grid has no `backbone_lr` axis), drop-connect {}, \
             BatchNorms on batch statistics while training (unless `backbone_bn` says running) \
             and, for every evaluation, {}",
            f.backbone_lr,
            f.drop_connect,
            match f.eval_bn_stats {
                EvalBnStats::Recomputed => {
                    "statistics recomputed on the cell's training images after each epoch"
                }
                EvalBnStats::Running => "the running averages (momentum 0.01)",
            }
        )
    };
    let f = e.config.finetune.clone().unwrap_or_default();
    match Regimes::of(e) {
        Regimes::Frozen => format!("frozen; {FROZEN}"),
        Regimes::Finetuned => format!("fine-tuned: {}", finetune(&f)),
        Regimes::Both => format!(
            "two regimes (the `backbone` switch): frozen ({FROZEN}), and fine-tuned ({})",
            finetune(&f)
        ),
    }
}

fn list<T: std::fmt::Display>(values: &[T]) -> String {
    let items: Vec<String> = values.iter().map(ToString::to_string).collect();
    format!("[{}]", items.join(", "))
}

/// Where the data came from, and what the run found in it.
fn data_text(e: &Experiment, found: Option<&DataSummary>) -> String {
    let source = match &e.config.data {
        DataSpec::Idx(d) => format!(
            "idx `{}`, classes {} ({}), training pool {} per class (train files), validation {} per class (t10k files), {}",
            d.path.display(),
            list(&d.classes),
            d.class_names
                .as_ref()
                .map_or("unnamed".into(), |n| n.join(", ")),
            d.train_pool_per_class,
            d.val_per_class,
            match (d.test_per_class, d.test_from_train_per_class) {
                (None, None) => "no test split".into(),
                (t10k, train) => format!(
                    "test {} per class ({}; disjoint from the pool and from validation)",
                    t10k.unwrap_or(0) + train.unwrap_or(0),
                    [
                        t10k.map(|n| format!("{n} from the t10k files")),
                        train.map(|n| format!("{n} from the train files after the pool")),
                    ]
                    .into_iter()
                    .flatten()
                    .collect::<Vec<_>>()
                    .join(", ")
                ),
            },
        ),
        DataSpec::ImageFolder {
            root,
            val_fraction,
            test_fraction,
        } => format!(
            "image folder `{}`, {}",
            root.display(),
            match val_fraction {
                None => "split by its `train/`, `val/` (and `test/`) subfolders".to_string(),
                Some(v) => held_out(*v, *test_fraction),
            }
        ),
        DataSpec::Csv(data) => format!(
            "CSV `{}` (images `{}/<{}>.{}`; labels from {}), {}",
            data.csv.display(),
            data.images.display(),
            data.id_column,
            data.extension,
            match data.labels() {
                Some(CsvLabels::Column(c)) => format!("column `{c}`"),
                Some(CsvLabels::OneHot(cols)) => format!("one-hot columns {}", cols.join(", ")),
                None => "—".into(),
            },
            held_out(data.val_fraction, data.test_fraction)
        ),
        DataSpec::Features { path } => format!("features file `{}`", path.display()),
    };
    match found {
        Some(d) => format!(
            "{source}; found {} classes ({}), {} train / {} val / {} test rows of {} features (smallest class: {} training rows)",
            d.class_names.len(),
            d.class_names.join(", "),
            d.train_rows,
            d.val_rows,
            d.test_rows,
            d.dim,
            d.smallest_class_rows
        ),
        None => source,
    }
}

fn held_out(val: f64, test: Option<f64>) -> String {
    match test {
        Some(t) => format!("{val} of each class held out for validation and {t} for test"),
        None => format!("{val} of each class held out for validation, no test split"),
    }
}

/// Every switch the grid's heads have, with the values each head is swept over; then each
/// `[[grid.also]]` block with the axes it sets.
fn grid_text(e: &Experiment) -> String {
    let g = &e.config.grid;
    let mut parts = vec![format!("heads {}", list(&g.head))];
    let finetuned = e.head_variants().iter().any(|v| v.finetuned());
    parts.extend(block_axes(&g.main(), false, finetuned));
    parts.push(format!(
        "training sizes {} per class",
        list(&g.train_per_class)
    ));
    parts.push(format!("seeds {}", list(&g.seeds)));
    let mut text = parts.join("; ");
    for block in &g.also {
        let axes = block_axes(block, true, finetuned);
        let _ = write!(
            text,
            "; **plus** {}{}",
            list(&block.head),
            if axes.is_empty() {
                String::new()
            } else {
                format!(" with {}", axes.join(", "))
            }
        );
    }
    text
}

/// `label values` per switch of the block's heads (only the switches the block sets, when
/// `set_only`), per head where the heads differ; the fine-tuning recipe's switches only where the
/// experiment has `finetuned` cells.
fn block_axes(block: &GridBlock, set_only: bool, finetuned: bool) -> Vec<String> {
    let mut parts = Vec::new();
    for switch in Switch::all() {
        let spec = switch.spec();
        let heads: Vec<_> = block
            .head
            .iter()
            .copied()
            .filter(|h| spec.has(*h))
            .collect();
        let recipe = spec.only_with == Some(Switch::Backbone);
        if heads.is_empty() || (set_only && !block.sweeps(switch)) || (recipe && !finetuned) {
            continue;
        }
        let shown = |values: Vec<Value>| match (values.as_slice(), spec.fallback) {
            ([Value::Unset], Some(TrainSetting::BackboneLr)) => {
                "as `[finetune] backbone_lr`".to_string()
            }
            ([Value::Unset], Some(key)) => format!("as `[train] {key}`"),
            _ => list(&values),
        };
        let per_head: Vec<(String, String)> = heads
            .iter()
            .map(|h| (h.to_string(), shown(block.values(switch, *h))))
            .collect();
        let text = if per_head.iter().all(|(_, v)| *v == per_head[0].1) {
            let only = if heads.len() < block.head.len() {
                format!(" ({})", per_head[0].0)
            } else {
                String::new()
            };
            format!("{}{only}", per_head[0].1)
        } else {
            per_head
                .iter()
                .map(|(h, v)| format!("{h} {v}"))
                .collect::<Vec<_>>()
                .join(", ")
        };
        parts.push(format!("{} {text}", spec.label));
    }
    parts
}
