//! The data behind each figure of the report, aggregated with polars, turned into plot values.

use ablate_results::columns::{epochs as ec, runs as rc};
use ablate_spec::{Drawn, HeadKind, HeadVariant, Switch};
use plotters::style::RGBColor;
use polars::prelude::*;

use crate::contrast::ClaimResult;
use crate::error::ReportError;
use crate::frame::{f64s, strings, u64s};
use crate::plots::{Curve, DotFigure, DotPanel, LineFigure, Look, Panel, look};
use crate::results::Results;
use crate::stats;
use crate::summary::VariantRow;

fn dropouts(variants: &[HeadVariant]) -> Vec<f64> {
    let mut rates: Vec<f64> = variants.iter().map(HeadVariant::dropout).collect();
    rates.sort_by(f64::total_cmp);
    rates.dedup();
    rates
}

/// Each variant's name and look, in grid order.
fn looks(variants: &[HeadVariant]) -> Vec<(HeadVariant, String, Look)> {
    let rates = dropouts(variants);
    variants
        .iter()
        .map(|v| (*v, v.name(), look(v, &rates)))
        .collect()
}

/// Per size, variant and epoch: mean and 95% half-width of `value` over seeds.
fn epoch_curves(
    results: &Results,
    value: &str,
    keep: impl Fn(&HeadVariant) -> bool,
    band: bool,
) -> Result<Vec<Panel>, ReportError> {
    let frame = results
        .epochs
        .clone()
        .lazy()
        .join(
            results.runs.clone().lazy().select([
                col(rc::CELL_ID),
                col(rc::VARIANT),
                col(rc::TRAIN_PER_CLASS),
            ]),
            [col(rc::CELL_ID)],
            [col(rc::CELL_ID)],
            JoinArgs::new(JoinType::Inner),
        )
        // Joins do not keep row order; a fixed order keeps the means' summation (and the figures)
        // bit-for-bit reproducible.
        .sort([ec::CELL_ID, ec::EPOCH], SortMultipleOptions::default())
        .group_by_stable([col(rc::TRAIN_PER_CLASS), col(rc::VARIANT), col(ec::EPOCH)])
        .agg([
            len().alias("n"),
            col(value).mean().alias("mean"),
            col(value).std(1).alias("sd"),
        ])
        .sort(
            [rc::TRAIN_PER_CLASS, ec::EPOCH],
            SortMultipleOptions::default().with_maintain_order(true),
        )
        .collect()
        .map_err(ReportError::table("aggregating the epoch curves"))?;
    let sizes = u64s(&frame, rc::TRAIN_PER_CLASS)?;
    let names = strings(&frame, rc::VARIANT)?;
    let epochs = f64s(&frame, ec::EPOCH)?;
    let ns = u64s(&frame, "n")?;
    let means = f64s(&frame, "mean")?;
    let sds = f64s(&frame, "sd")?;
    let styles = looks(&results.variants);
    let mut panels = Vec::new();
    for size in results.sizes()? {
        let mut curves = Vec::new();
        for (variant, name, l) in &styles {
            if !keep(variant) {
                continue;
            }
            let points: Vec<(f64, f64, f64)> = (0..frame.height())
                .filter(|&i| sizes[i] == size && names[i] == *name)
                .map(|i| {
                    let half = if band {
                        stats::half_width(ns[i] as usize, sds[i])
                    } else {
                        0.0
                    };
                    (
                        epochs[i],
                        means[i],
                        if half.is_finite() { half } else { 0.0 },
                    )
                })
                .collect();
            if !points.is_empty() {
                curves.push(Curve {
                    label: name.clone(),
                    look: *l,
                    points,
                });
            }
        }
        panels.push(Panel {
            title: format!("{size} training images per class"),
            curves,
        });
    }
    Ok(panels)
}

/// The featured variants' (the tuned heads and the highlighted ones) validation accuracy per epoch;
/// every variant when there are no more than [`MAX_CURVES`].
pub fn val_acc_by_epoch(results: &Results, featured: &[String]) -> Result<LineFigure, ReportError> {
    let every = results.variants.len() <= MAX_CURVES;
    let keep = |v: &HeadVariant| every || featured.contains(&v.name());
    let title = if every {
        "Validation accuracy during training (mean over seeds, 95% CI band)"
    } else {
        "Validation accuracy during training: the tuned and highlighted heads (mean over seeds, 95% CI band)"
    };
    let mut panels = epoch_curves(results, ec::VAL_ACC, keep, true)?;
    if !every {
        // A few featured variants, often of one dropout rate: one colour each (mlp solid, linear
        // dashed) so the legend tells them apart.
        for panel in &mut panels {
            for curve in &mut panel.curves {
                let k = featured.iter().position(|n| *n == curve.label).unwrap_or(0);
                let finetuned = results.variant(&curve.label).is_some_and(|v| v.finetuned());
                curve.look = Look {
                    color: PALETTE[k % PALETTE.len()],
                    dashed: curve.label.starts_with("linear") || finetuned,
                    width: 2,
                };
            }
        }
    }
    Ok(LineFigure {
        title: title.into(),
        x_label: "epoch".into(),
        y_label: "validation accuracy (%)".into(),
        panels,
        log_x: false,
        log_y: false,
        band: true,
        integer_x: true,
        percent_y: true,
        bounded_y: true,
    })
}

/// The bias gradient of the main grid's variants with a bias before BN (claim A's evidence).
pub fn bias_grad_by_epoch(
    results: &Results,
    main: &[HeadVariant],
) -> Result<LineFigure, ReportError> {
    let with_bias = |v: &HeadVariant| v.is_on(Switch::BiasBeforeBn) && main.contains(v);
    let mut panels = epoch_curves(results, ec::BIAS_GRAD_MAX, with_bias, false)?;
    // Both regimes in one grid: the fine-tuned variants dashed, in their frozen twin's colour.
    let finetuned: Vec<String> = main
        .iter()
        .filter(|v| v.finetuned())
        .map(HeadVariant::name)
        .collect();
    for curve in panels.iter_mut().flat_map(|p| p.curves.iter_mut()) {
        curve.look.dashed = finetuned.contains(&curve.label);
    }
    Ok(LineFigure {
        title: format!(
            "Largest gradient of the bias right before BN, per epoch (log scale; green: no ReLU, blue: ReLU{})",
            if finetuned.is_empty() {
                ""
            } else {
                "; dashed: fine-tuned"
            }
        ),
        x_label: "epoch".into(),
        y_label: "max |d loss / d bias| (mean over seeds)".into(),
        panels,
        log_x: false,
        log_y: true,
        band: false,
        integer_x: true,
        percent_y: false,
        bounded_y: false,
    })
}

/// Accuracy (test, or val without a test split) with its 95% interval, per size.
fn accuracy_point(r: &VariantRow) -> (f64, f64, f64) {
    let acc = r.test.as_ref().unwrap_or(&r.val);
    let half = if acc.half.is_finite() { acc.half } else { 0.0 };
    (r.train_per_class as f64, acc.mean, half)
}

/// The question's figure: the two heads, each tuned on val at each size, and the variants the
/// experiment highlights (the asker's own heads), accuracy vs training-set size with 95% bands.
pub fn accuracy_by_size(
    rows: &[VariantRow],
    tuned: &[crate::choose::Tuned],
    highlights: &[(String, HeadVariant)],
    has_test: bool,
) -> LineFigure {
    let palette = [
        RGBColor(214, 96, 77),
        RGBColor(77, 146, 33),
        RGBColor(118, 42, 131),
        RGBColor(191, 129, 45),
    ];
    let mut curves = Vec::new();
    // Per head, and per regime where the grid has both (fine-tuned dashed).
    let heads = HeadKind::ALL.map(|head| {
        let info = head.info();
        let color = match info.drawn {
            Drawn::BySwitches => RGBColor(33, 102, 172),
            Drawn::Black => RGBColor(0, 0, 0),
        };
        let label = format!("{} ({}), tuned on val", info.thread_name, info.word);
        (head, label, color)
    });
    let regimes = [
        (None, ""),
        (Some(false), ", frozen backbone"),
        (Some(true), ", fine-tuned"),
    ];
    for ((head, label, color), (regime, regime_label)) in heads
        .iter()
        .flat_map(|h| regimes.iter().map(move |r| (h, *r)))
    {
        let points: Vec<(f64, f64, f64)> = tuned
            .iter()
            .filter(|t| t.head == *head && t.finetuned == regime)
            .map(|t| accuracy_point(&t.row))
            .collect();
        if !points.is_empty() {
            curves.push(Curve {
                label: format!("{label}{regime_label}"),
                look: Look {
                    color: *color,
                    dashed: regime == Some(true),
                    width: 3,
                },
                points,
            });
        }
    }
    for (k, (label, variant)) in highlights.iter().enumerate() {
        let name = variant.name();
        curves.push(Curve {
            label: label.clone(),
            look: Look {
                color: palette[k % palette.len()],
                dashed: true,
                width: 2,
            },
            points: rows
                .iter()
                .filter(|r| r.variant == name)
                .map(accuracy_point)
                .collect(),
        });
    }
    let split = if has_test { "test" } else { "validation" };
    LineFigure {
        title: format!(
            "Which head, at which data size? {split} accuracy (mean over seeds, 95% CI)"
        ),
        x_label: "training images per class (log scale)".into(),
        y_label: format!("{split} accuracy (%)"),
        panels: vec![Panel {
            title: if highlights.is_empty() {
                "tuned heads (chosen on val at each size)".into()
            } else {
                "tuned heads (chosen on val at each size) and highlighted variants".into()
            },
            curves,
        }],
        log_x: true,
        log_y: false,
        band: true,
        integer_x: true,
        percent_y: true,
        bounded_y: true,
    }
}

/// Colours for curves told apart by index (variants of one look, featured heads).
const PALETTE: [RGBColor; 8] = [
    RGBColor(0, 0, 0),
    RGBColor(230, 85, 13),
    RGBColor(49, 130, 189),
    RGBColor(49, 163, 84),
    RGBColor(117, 107, 177),
    RGBColor(166, 118, 29),
    RGBColor(222, 45, 38),
    RGBColor(99, 99, 99),
];

/// Lines one panel can hold and a reader still tell apart.
const MAX_CURVES: usize = 10;

/// Every variant (up to [`MAX_CURVES`] per family, the best on val), one small panel per head
/// family: validation accuracy vs training-set size.
pub fn val_acc_by_size(rows: &[VariantRow], order: &[HeadVariant]) -> LineFigure {
    let mut panels = Vec::new();
    let largest = rows.iter().map(|r| r.train_per_class).max().unwrap_or(0);
    for head in HeadKind::ALL {
        let mut family: Vec<HeadVariant> =
            order.iter().copied().filter(|v| v.kind() == head).collect();
        if family.is_empty() {
            continue;
        }
        let all = family.len();
        if all > MAX_CURVES {
            // More lines than anyone can tell apart: the best by val at the largest size (stable:
            // ties keep grid order), the rest in variants.csv.
            let val = |v: &HeadVariant| {
                rows.iter()
                    .find(|r| r.train_per_class == largest && r.variant == v.name())
                    .map_or(f64::NEG_INFINITY, |r| r.val.mean)
            };
            family.sort_by(|a, b| val(b).total_cmp(&val(a)));
            family.truncate(MAX_CURVES);
        }
        let title = if all > MAX_CURVES {
            format!("{head} head: the {MAX_CURVES} best of {all} variants (val at {largest}/class)")
        } else {
            format!("{head} head: every variant")
        };
        let curves = looks(&family)
            .into_iter()
            .enumerate()
            .map(|(k, (variant, name, l))| Curve {
                label: name.clone(),
                // The linear head's variants are all black in the other figures: here they
                // need telling apart (fine-tuned ones dashed, as everywhere).
                look: if head.info().drawn == Drawn::Black {
                    Look {
                        color: PALETTE[k % PALETTE.len()],
                        dashed: (k / PALETTE.len()) % 2 == 1 || variant.finetuned(),
                        width: 2,
                    }
                } else {
                    l
                },
                points: rows
                    .iter()
                    .filter(|r| r.variant == name)
                    .map(|r| (r.train_per_class as f64, r.val.mean, 0.0))
                    .collect(),
            })
            .collect();
        panels.push(Panel { title, curves });
    }
    LineFigure {
        title: "Variants per head family: mean validation accuracy vs training-set size".into(),
        x_label: "training images per class (log scale)".into(),
        y_label: "validation accuracy, % (mean over seeds)".into(),
        panels,
        log_x: true,
        log_y: false,
        band: false,
        integer_x: true,
        percent_y: true,
        bounded_y: true,
    }
}

pub fn final_accuracy(rows: &[VariantRow], order: &[HeadVariant], sizes: &[u64]) -> DotFigure {
    let order: Vec<String> = order.iter().map(HeadVariant::name).collect();
    let panels = sizes
        .iter()
        .map(|size| DotPanel {
            title: format!("{size} per class"),
            x_label: "accuracy (%)".into(),
            percent: true,
            reference: None,
            rows: order
                .iter()
                .map(|name| {
                    rows.iter()
                        .find(|r| r.train_per_class == *size && r.variant == *name)
                        .map(|r| (r.val.mean, r.val.half, Some(r.train.mean)))
                })
                .collect(),
        })
        .collect();
    DotFigure {
        title: "Final accuracy per head variant: validation (95% CI) and training".into(),
        labels: order,
        panels,
        keys: ("val (95% CI)".into(), "train".into()),
        columns: 0,
    }
}

/// BN's variance ratio per mlp variant and size, beside the same variants' accuracy (test with its
/// CI and val beside it; val alone without a test split). `None` when no cell has the ratio.
pub fn variance_shift(
    rows: &[VariantRow],
    order: &[HeadVariant],
    sizes: &[u64],
    has_test: bool,
) -> Option<DotFigure> {
    let labels: Vec<String> = order
        .iter()
        .map(HeadVariant::name)
        .filter(|name| {
            rows.iter()
                .any(|r| r.variant == *name && r.bn_var_ratio.is_some())
        })
        .collect();
    if labels.is_empty() {
        return None;
    }
    let find = |size: u64, name: &str| {
        rows.iter()
            .find(|r| r.train_per_class == size && r.variant == name)
    };
    let mut panels = Vec::new();
    for &size in sizes {
        panels.push(DotPanel {
            title: format!("BN variance ratio, {size}/class"),
            x_label: "running var / eval input var".into(),
            percent: false,
            reference: Some(1.0),
            rows: labels
                .iter()
                .map(|name| {
                    let ratio = find(size, name)?.bn_var_ratio.as_ref()?;
                    Some((ratio.mean, ratio.half, None))
                })
                .collect(),
        });
        panels.push(DotPanel {
            title: format!("accuracy, {size}/class"),
            x_label: "accuracy (%)".into(),
            percent: true,
            reference: None,
            rows: labels
                .iter()
                .map(|name| {
                    let r = find(size, name)?;
                    Some(match (&r.test, has_test) {
                        (Some(t), true) => (t.mean, t.half, Some(r.val.mean)),
                        _ => (r.val.mean, r.val.half, None),
                    })
                })
                .collect(),
        });
    }
    Some(DotFigure {
        title: "Variance shift: BN's running variance over its eval-time input variance (1: no shift), and accuracy".into(),
        labels,
        panels,
        // One row per size: the ratio beside the accuracy of the same variants.
        columns: 2,
        keys: if has_test {
            ("mean (95% CI); test acc".into(), "val acc".into())
        } else {
            ("mean (95% CI); val acc".into(), "—".into())
        },
    })
}

/// The answer claim's question as a difference: `a − b` per training size with the interval its
/// verdict read (simultaneous 95%, leave-one-seed-out for `tuned`, over seeds and test images), a
/// zero line and the claim's margin. `None` without an answer claim.
pub fn head_difference(results: &Results, claims: &[ClaimResult]) -> Option<LineFigure> {
    let claim = results.experiment.answer_claim()?;
    let judged = claims.iter().find(|c| c.claim.id == claim.id)?;
    let name = |h: Option<ablate_spec::HeadKind>, side: &str| {
        h.map_or(side.to_string(), |h| h.info().thread_name.to_string())
    };
    let (a, b) = (name(claim.a.head, "a"), name(claim.b.head, "b"));
    let points: Vec<(f64, f64, f64)> = judged
        .rows
        .iter()
        .filter(|r| r.adjusted.half.is_finite())
        .map(|r| (r.train_per_class as f64, r.adjusted.mean, r.adjusted.half))
        .collect();
    if points.is_empty() {
        return None;
    }
    let xs: Vec<f64> = points.iter().map(|p| p.0).collect();
    let flat = |y: f64| xs.iter().map(|&x| (x, y, 0.0)).collect::<Vec<_>>();
    let grey = |shade: u8, dashed: bool| Look {
        color: RGBColor(shade, shade, shade),
        dashed,
        width: 1,
    };
    let rope = judged.claim.rope;
    let mut curves = vec![
        Curve {
            label: format!("±{} pp margin", rope * 100.0),
            look: grey(150, true),
            points: flat(rope),
        },
        Curve {
            label: format!("±{} pp margin", rope * 100.0),
            look: grey(150, true),
            points: flat(-rope),
        },
        Curve {
            label: "0: no difference".into(),
            look: grey(0, false),
            points: flat(0.0),
        },
    ];
    let tuned = judged.claim.compare == ablate_spec::Compare::Tuned;
    curves.push(Curve {
        label: format!(
            "{a} − {b}{}, simultaneous 95% CI",
            if tuned { " (each tuned on val)" } else { "" }
        ),
        look: Look {
            color: RGBColor(8, 69, 148),
            dashed: false,
            width: 3,
        },
        points,
    });
    let on = if results.has_test() { "test" } else { "val" };
    Some(LineFigure {
        title: format!("{a} − {b}: {on} accuracy difference per training size"),
        x_label: "training images per class".into(),
        y_label: format!("{a} − {b}, {on} accuracy (pp; above 0: {a} better)"),
        panels: vec![Panel {
            title: if tuned {
                "each head tuned on validation".into()
            } else {
                format!("claim {}", judged.claim.id)
            },
            curves,
        }],
        log_x: xs.len() > 1,
        log_y: false,
        band: true,
        integer_x: true,
        percent_y: true,
        bounded_y: false,
    })
}
