//! The data behind each figure of the report, aggregated with polars, turned into plot values.

use ablate_results::columns::{epochs as ec, runs as rc};
use ablate_spec::{Drawn, HeadKind, HeadVariant, Switch};
use plotters::style::RGBColor;
use polars::prelude::*;

use crate::contrast::ClaimResult;
use crate::error::ReportError;
use crate::frame::{f64s, strings, u64s};
use crate::plots::{Curve, DotFigure, DotPanel, LineFigure, Look, MAX_STYLES, OwnX, Panel};
use crate::results::Results;
use crate::stats;
use crate::summary::VariantRow;

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
    let mut panels = Vec::new();
    for size in results.sizes()? {
        let mut curves = Vec::new();
        for variant in &results.variants {
            if !keep(variant) {
                continue;
            }
            let name = variant.name();
            let points: Vec<(f64, f64, f64)> = (0..frame.height())
                .filter(|&i| sizes[i] == size && names[i] == name)
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
                // Labelled by the variant's name; each figure gives its curves their looks.
                curves.push(Curve {
                    label: name,
                    look: Look::OTHERS,
                    points,
                });
            }
        }
        panels.push(Panel::new(
            format!("{size} training images per class"),
            curves,
        ));
    }
    Ok(panels)
}

/// Validation accuracy per epoch, one panel per size: the heads tuned at that size and the
/// highlighted ones (the asker's), each in its own colour and the same in every panel; every
/// variant when there are no more than [`MAX_STYLES`]. The epoch axis is logarithmic, so a 20-epoch
/// run and a 200-epoch one are both readable.
pub fn val_acc_by_epoch(
    results: &Results,
    tuned: &[crate::choose::Tuned],
    highlights: &[(String, HeadVariant)],
) -> Result<LineFigure, ReportError> {
    let every = results.variants.len() <= MAX_STYLES;
    let sizes = results.sizes()?;
    // (variant name, label, the sizes it is shown at), in drawing order: tuned first, the
    // highlights last so they are on top.
    let mut featured: Vec<(String, String, Vec<u64>)> = Vec::new();
    if every {
        let labels = ablate_spec::plain_labels(&results.variants);
        for (v, label) in results.variants.iter().zip(labels) {
            featured.push((v.name(), label, sizes.clone()));
        }
    } else {
        for t in tuned {
            let name = t.row.variant.clone();
            match featured.iter_mut().find(|f| f.0 == name) {
                Some(f) => f.2.push(t.row.train_per_class),
                None => featured.push((name, String::new(), vec![t.row.train_per_class])),
            }
        }
        for f in &mut featured {
            let variant = results.variant(&f.0);
            let plain = variant.map_or(f.0.clone(), |v| v.plain_name());
            let (head, rest) = plain.split_once(": ").unwrap_or((&plain, ""));
            let at: Vec<String> = f.2.iter().map(u64::to_string).collect();
            f.1 = format!("{head} tuned at {}/class: {rest}", at.join(", "));
        }
        for (label, v) in highlights {
            featured.push((
                v.name(),
                format!("{label}: {}", v.phrases().join(", ")),
                sizes.clone(),
            ));
        }
    }
    let n_tuned = if every {
        featured.len()
    } else {
        featured.len() - highlights.len()
    };
    // Each line's look. Listing every variant: a colour each. Else the heads' colours as in the
    // other figures (model1 blues, model2 black and greys), a shade per tuned variant; the
    // highlights dashed in a light shade of their head's colour, drawn over a tuned line that
    // may run under them.
    let head_of = |name: &str| results.variant(name).map(|v| v.kind());
    let mut looks: Vec<Look> = Vec::new();
    for (k, (name, _, _)) in featured.iter().enumerate() {
        let look = if every {
            PALETTE.get(k).map_or(Look::OTHERS, |&color| Look {
                color,
                dashed: false,
                width: 2,
            })
        } else {
            // Every featured line is a variant of the results (tuned choices and highlights).
            let Some(head) = head_of(name) else {
                looks.push(Look::OTHERS);
                continue;
            };
            let same_before = featured[..k]
                .iter()
                .enumerate()
                .filter(|(j, f)| (*j < n_tuned) == (k < n_tuned) && head_of(&f.0) == Some(head))
                .count();
            let shades = head_shades(head);
            let light = rgb(head.info().colours.light);
            match (k < n_tuned, same_before) {
                (true, r) if r < shades.len() => Look {
                    color: shades[r],
                    dashed: false,
                    width: 3,
                },
                (false, 0) => Look {
                    color: light,
                    dashed: true,
                    width: 3,
                },
                (false, r) => Look {
                    color: PALETTE[r % PALETTE.len()],
                    dashed: true,
                    width: 2,
                },
                _ => Look::OTHERS,
            }
        };
        looks.push(look);
    }
    let names: Vec<String> = featured.iter().map(|f| f.0.clone()).collect();
    let mut panels = epoch_curves(results, ec::VAL_ACC, |v| names.contains(&v.name()), true)?;
    for (panel, size) in panels.iter_mut().zip(&sizes) {
        let mut curves = Vec::new();
        for ((name, label, at), look) in featured.iter().zip(&looks) {
            if !at.contains(size) {
                continue;
            }
            if let Some(c) = panel.curves.iter().find(|c| c.label == *name) {
                curves.push(Curve {
                    label: if look.is_others() {
                        "other variants (grey)".into()
                    } else {
                        label.clone()
                    },
                    look: *look,
                    points: c.points.clone(),
                });
            }
        }
        // The grey ones under the rest.
        curves.sort_by_key(|c| !c.look.is_others());
        panel.curves = curves;
        // Each size its own accuracy axis: shared, the 25/class runs' first epochs would flatten
        // every other panel's curves into a few points of height.
        panel.own_y = Some((
            "validation accuracy (%), mean over seeds, 95% band".into(),
            true,
        ));
    }
    Ok(LineFigure {
        title: if every {
            "Validation accuracy during training (mean over seeds, 95% CI band)".into()
        } else if highlights.is_empty() {
            "Validation accuracy during training: the heads tuned at each size".into()
        } else {
            "Validation accuracy during training: the heads tuned at each size, and the highlighted ones (dashed)".into()
        },
        x_label: "epoch (log scale)".into(),
        y_label: "validation accuracy (%), mean over seeds, 95% band".into(),
        panels,
        log_x: true,
        log_y: false,
        band: true,
        integer_x: true,
        percent_y: true,
        bounded_y: true,
    })
}

/// Gives each curve, by variant name in first-drawn order, its own colour from [`PALETTE`] and a
/// person's label (from `labels`); past [`MAX_STYLES`] names the curves go grey as one "others"
/// entry, drawn under the rest. Dashes (fine-tuned) are kept.
fn one_colour_each(panels: &mut [Panel], labels: &[(String, String)], others: &str) {
    let mut order: Vec<String> = Vec::new();
    for c in panels.iter().flat_map(|p| &p.curves) {
        if !order.contains(&c.label) {
            order.push(c.label.clone());
        }
    }
    for panel in panels.iter_mut() {
        for curve in &mut panel.curves {
            let k = order.iter().position(|n| *n == curve.label).unwrap_or(0);
            if k < MAX_STYLES {
                curve.look = Look {
                    color: PALETTE[k],
                    dashed: curve.look.dashed,
                    width: 2,
                };
                if let Some((_, label)) = labels.iter().find(|(n, _)| *n == curve.label) {
                    curve.label = label.clone();
                }
            } else {
                curve.look = Look::OTHERS;
                curve.label = others.to_string();
            }
        }
        panel.curves.sort_by_key(|c| !c.look.is_others());
    }
}

/// The bias gradient of the main grid's variants with a bias before BN (claim A's evidence).
pub fn bias_grad_by_epoch(
    results: &Results,
    main: &[HeadVariant],
) -> Result<LineFigure, ReportError> {
    // The main grid's variants with the bias, and every one without a ReLU wherever the grid has
    // it: those are claim A's.
    let with_bias = |v: &HeadVariant| {
        v.is_on(Switch::BiasBeforeBn) && (main.contains(v) || !v.is_on(Switch::Relu))
    };
    let mut panels = epoch_curves(results, ec::BIAS_GRAD_MAX, with_bias, false)?;
    let drawn: Vec<HeadVariant> = results.variants.iter().copied().filter(with_bias).collect();
    // Without a ReLU first: those are the claim's (a gradient at rounding level), the rest beside.
    for panel in &mut panels {
        panel.curves.sort_by_key(|c| {
            results
                .variant(&c.label)
                .is_some_and(|v| v.is_on(Switch::Relu))
        });
        for curve in &mut panel.curves {
            curve.look.dashed = results.variant(&curve.label).is_some_and(|v| v.finetuned());
        }
    }
    let labels: Vec<(String, String)> = drawn.iter().map(|v| (v.name(), v.plain_name())).collect();
    one_colour_each(&mut panels, &labels, "other variants with a bias before BN");
    Ok(LineFigure {
        title: "Largest gradient of the bias right before BN, per epoch (log scale)".into(),
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

/// A head's colour wherever a figure draws one line per head (its row's: model1 blue, model2
/// black).
fn head_colour(head: HeadKind) -> RGBColor {
    rgb(head.info().colours.main)
}

fn rgb((r, g, b): ablate_spec::Rgb) -> RGBColor {
    RGBColor(r, g, b)
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
    let heads: Vec<_> = HeadKind::all()
        .map(|head| {
            let info = head.info();
            let color = head_colour(head);
            let label = format!("{} ({}), chosen on every seed's val", info.label, info.word);
            (head, label, color)
        })
        .collect();
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
        // In its head's colour, dashed (as in the answer's figure); a second highlight of the
        // same head takes a colour of its own.
        let same_head = highlights[..k]
            .iter()
            .filter(|(_, v)| v.kind() == variant.kind())
            .count();
        // With both regimes the fine-tuned tuned heads are already dashed in their head's
        // colour: a highlight takes its head's light shade, so the two never look alike.
        let both_regimes = tuned.iter().any(|t| t.finetuned == Some(true));
        let color = if same_head == 0 && both_regimes {
            rgb(variant.kind().info().colours.light)
        } else if same_head == 0 {
            head_colour(variant.kind())
        } else {
            palette[(k + same_head) % palette.len()]
        };
        curves.push(Curve {
            label: label.clone(),
            look: Look {
                color,
                dashed: true,
                width: if both_regimes { 3 } else { 2 },
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
        panels: vec![Panel::new(
            if highlights.is_empty() {
                "tuned heads (chosen on val at each size)"
            } else {
                "tuned heads (chosen on val at each size) and highlighted variants"
            },
            curves,
        )],
        log_x: true,
        log_y: false,
        band: true,
        integer_x: true,
        percent_y: true,
        bounded_y: true,
    }
}

/// Colours for curves told apart by index (variants of one look, featured heads): eight a reader
/// tells apart, also in grey print (dark to light alternate).
// No black: black is model2's colour wherever a figure draws the two heads, so a variant of
// another head drawn black would read as model2.
const PALETTE: [RGBColor; MAX_STYLES] = [
    RGBColor(178, 24, 43),
    RGBColor(230, 85, 13),
    RGBColor(49, 130, 189),
    RGBColor(49, 163, 84),
    RGBColor(117, 107, 177),
    RGBColor(166, 118, 29),
    RGBColor(231, 41, 138),
    RGBColor(0, 170, 170),
];

/// Variants each head family's panel names in colour; the rest are grey.
const BEST_PER_FAMILY: usize = MAX_STYLES / 2;

/// Every variant, one panel per head family: validation accuracy vs training-set size. The best
/// few of each family by val at the largest size in colour (the first family solid, the second
/// dashed, so no colour means two things), the rest as faint grey lines.
pub fn val_acc_by_size(rows: &[VariantRow], order: &[HeadVariant], tuned: &[String]) -> LineFigure {
    let mut panels = Vec::new();
    let largest = rows.iter().map(|r| r.train_per_class).max().unwrap_or(0);
    let val = |v: &HeadVariant| {
        rows.iter()
            .find(|r| r.train_per_class == largest && r.variant == v.name())
            .map_or(f64::NEG_INFINITY, |r| r.val.mean)
    };
    let points = |v: &HeadVariant| -> Vec<(f64, f64, f64)> {
        rows.iter()
            .filter(|r| r.variant == v.name())
            .map(|r| (r.train_per_class as f64, r.val.mean, 0.0))
            .collect()
    };
    // Colours to share: every variant gets one when they fit, else each family its best few and
    // what is left to the families with more.
    let sizes: Vec<usize> = HeadKind::all()
        .map(|h| order.iter().filter(|v| v.kind() == h).count())
        .collect();
    let mut budget: Vec<usize> = sizes.iter().map(|&n| n.min(BEST_PER_FAMILY)).collect();
    let mut left = MAX_STYLES.saturating_sub(budget.iter().sum());
    for (b, &n) in budget.iter_mut().zip(&sizes) {
        let more = (n - *b).min(left);
        *b += more;
        left -= more;
    }
    let mut colour = 0;
    for (head, budget) in HeadKind::all().zip(budget) {
        let mut family: Vec<HeadVariant> =
            order.iter().copied().filter(|v| v.kind() == head).collect();
        if family.is_empty() {
            continue;
        }
        let all = family.len();
        // The tuned choices (at any size) first, so none of them is grey, then the best at the
        // largest size (stable: ties keep grid order).
        let is_tuned = |v: &HeadVariant| tuned.contains(&v.name());
        family.sort_by(|a, b| {
            is_tuned(b)
                .cmp(&is_tuned(a))
                .then(val(b).total_cmp(&val(a)))
        });
        let named = budget;
        let tuned_named = family[..named].iter().filter(|v| is_tuned(v)).count();
        let labels: Vec<String> = family[..named]
            .iter()
            .map(HeadVariant::plain_name)
            .collect();
        let mut curves: Vec<Curve> = family[named..]
            .iter()
            .map(|v| Curve {
                label: "other variants (grey; every one in variants.csv)".into(),
                look: Look::OTHERS,
                points: points(v),
            })
            .collect();
        for (v, label) in family[..named].iter().zip(labels) {
            curves.push(Curve {
                label,
                look: Look {
                    color: PALETTE[colour % MAX_STYLES],
                    dashed: panels.len() % 2 == 1 || v.finetuned(),
                    width: 2,
                },
                points: points(v),
            });
            colour += 1;
        }
        // Lines that coincide because the data do: say so, so no reader looks for a missing one.
        let shown: Vec<f64> = family[..named].iter().map(val).collect();
        let spread = shown.iter().copied().fold(f64::NEG_INFINITY, f64::max)
            - shown.iter().copied().fold(f64::INFINITY, f64::min);
        let overlap = if named > 1 && spread.is_finite() && spread < 0.005 {
            format!(", within {:.2} pp", spread * 100.0)
        } else {
            String::new()
        };
        let title = if named < all && tuned_named > 0 {
            format!("{head}: tuned + best at {largest}/class ({named} of {all}){overlap}")
        } else if named < all {
            format!("{head}: best {named} of {all} by val at {largest}/class{overlap}")
        } else {
            format!("{head} head: every variant{overlap}")
        };
        panels.push(Panel::new(title, curves));
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

/// Per shown variant and size: the judged accuracy (test, or val without a test split) with its
/// 95% interval, and the training accuracy beside it.
pub fn final_accuracy(
    rows: &[VariantRow],
    order: &[HeadVariant],
    sizes: &[u64],
    all: usize,
    has_test: bool,
) -> DotFigure {
    let names: Vec<String> = order.iter().map(HeadVariant::name).collect();
    let panels = sizes
        .iter()
        .map(|size| DotPanel {
            title: format!("{size} per class"),
            x_label: "accuracy (%)".into(),
            percent: true,
            reference: None,
            rows: names
                .iter()
                .map(|name| {
                    let r = rows
                        .iter()
                        .find(|r| r.train_per_class == *size && r.variant == *name)?;
                    let judged = r.test.as_ref().filter(|_| has_test).unwrap_or(&r.val);
                    Some((judged.mean, judged.half, Some(r.train.mean)))
                })
                .collect(),
        })
        .collect();
    let split = if has_test { "test" } else { "validation" };
    let which = if order.len() < all {
        format!(
            "the main grid's and the tuned variants ({} of {all}; every one in variants.csv)",
            order.len()
        )
    } else {
        "every variant".into()
    };
    DotFigure {
        title: format!("Final accuracy: {split} (95% CI) and training, {which}"),
        labels: ablate_spec::plain_labels(order),
        panels,
        keys: (format!("{split} (95% CI)"), "train".into()),
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
    let with_ratio: Vec<HeadVariant> = order
        .iter()
        .copied()
        .filter(|v| {
            rows.iter()
                .any(|r| r.variant == v.name() && r.bn_var_ratio.is_some())
        })
        .collect();
    if with_ratio.is_empty() {
        return None;
    }
    let labels: Vec<String> = with_ratio.iter().map(HeadVariant::name).collect();
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
        labels: ablate_spec::plain_labels(&with_ratio),
        panels,
        // One row per size: the ratio beside the accuracy of the same variants.
        columns: 2,
        keys: if has_test {
            (
                "left: BN variance ratio; right: test accuracy (each 95% CI)".into(),
                "val accuracy (right panels)".into(),
            )
        } else {
            (
                "left: BN variance ratio; right: val accuracy (each 95% CI)".into(),
                "—".into(),
            )
        },
    })
}

/// The answer claim's question as a difference: `a − b` per training size with the interval its
/// verdict read (simultaneous 95%, leave-one-seed-out for `tuned`, over seeds and test images), a
/// zero line and the claim's margin; beside it, where the experiment has one, the same difference
/// for the fixed variants a claim on the same heads and metric names (the asker's heads as
/// trained), dashed. A small panel beside shows the two sides' accuracies those differences are
/// made of (the numbers of the answer's table). `None` without an answer claim.
pub fn head_difference(results: &Results, claims: &[ClaimResult]) -> Option<LineFigure> {
    let claim = results.experiment.answer_claim()?;
    let judged = claims.iter().find(|c| c.claim.id == claim.id)?;
    let name = |h: Option<ablate_spec::HeadKind>, side: &str| {
        h.map_or(side.to_string(), |h| h.info().label.to_string())
    };
    let (a, b) = (name(claim.a.head, "a"), name(claim.b.head, "b"));
    fn measured(c: &ClaimResult) -> Vec<&crate::contrast::ClaimRow> {
        c.rows
            .iter()
            .filter(|r| r.adjusted.half.is_finite())
            .collect()
    }
    let rows = measured(judged);
    if rows.is_empty() {
        return None;
    }
    let tuned = judged.claim.compare == ablate_spec::Compare::Tuned;
    // The untuned twin: the same heads on the same metric, fixed variants on both sides.
    let twin = claims.iter().find(|c| {
        c.claim.id != claim.id
            && tuned
            && c.claim.compare == ablate_spec::Compare::All
            && c.claim.metric == claim.metric
            && c.claim.a.head == claim.a.head
            && c.claim.b.head == claim.b.head
            && !measured(c).is_empty()
    });
    let xs: Vec<f64> = rows.iter().map(|r| r.train_per_class as f64).collect();
    let flat = |y: f64| xs.iter().map(|&x| (x, y, 0.0)).collect::<Vec<_>>();
    let grey = |shade: u8, dashed: bool| Look {
        color: RGBColor(shade, shade, shade),
        dashed,
        width: 1,
    };
    let rope = judged.claim.rope;
    let margin = format!("±{} pp margin", rope * 100.0);
    let mut curves = vec![
        Curve {
            label: margin.clone(),
            look: grey(150, true),
            points: flat(rope),
        },
        Curve {
            label: margin,
            look: grey(150, true),
            points: flat(-rope),
        },
        // Grey, not black: black is model2's colour in every figure that draws the heads.
        Curve {
            label: "0: no difference".into(),
            look: grey(110, false),
            points: flat(0.0),
        },
    ];
    // The difference purple (tuned) and orange (the fixed variants); the sides in their heads'
    // colours, as in the other figures; the fixed variants dashed.
    let (purple, orange) = (RGBColor(117, 107, 177), RGBColor(230, 85, 13));
    let colour = |h: Option<HeadKind>| h.map_or(RGBColor(99, 99, 99), head_colour);
    let (side_a, side_b) = (colour(claim.a.head), colour(claim.b.head));
    let how = if tuned {
        "each tuned on val (leave-one-seed-out)"
    } else {
        "as the claim names them"
    };
    curves.push(Curve {
        label: format!("{a} − {b}, {how} (simultaneous 95% CI)"),
        look: Look {
            color: purple,
            dashed: false,
            width: 3,
        },
        points: rows
            .iter()
            .map(|r| (r.train_per_class as f64, r.adjusted.mean, r.adjusted.half))
            .collect(),
    });
    // The two sides of a claim's rows as two curves, each in its head's colour.
    let sides_of = |rows: &[&crate::contrast::ClaimRow], what: &str, dashed: bool| {
        [(&a, side_a, 0), (&b, side_b, 1)].map(|(head, color, k)| Curve {
            label: format!("{head}, {what}"),
            look: Look {
                color,
                dashed,
                width: 2,
            },
            points: rows
                .iter()
                .map(|r| {
                    let side = if k == 0 { r.sides.0 } else { r.sides.1 };
                    (r.train_per_class as f64, side, 0.0)
                })
                .collect(),
        })
    };
    // The right panel shows only the answer's own numbers (the table's): the fixed variants'
    // accuracies piled four lines onto one spot, and their difference is on the left already.
    let sides = sides_of(&rows, how, false).to_vec();
    if let Some(twin) = twin {
        let twin_rows = measured(twin);
        let id = &twin.claim.id;
        curves.push(Curve {
            label: format!("{a} − {b}, the fixed variants of claim {id} (simultaneous 95% CI)"),
            look: Look {
                color: orange,
                dashed: true,
                width: 2,
            },
            points: twin_rows
                .iter()
                .map(|r| (r.train_per_class as f64, r.adjusted.mean, r.adjusted.half))
                .collect(),
        });
    }
    let on = if results.has_test() { "test" } else { "val" };
    let log_x = xs.len() > 1;
    let accuracy = matches!(
        claim.metric,
        ablate_spec::Metric::TestAcc | ablate_spec::Metric::ValAcc | ablate_spec::Metric::TrainAcc
    );
    let mut panels = vec![Panel::new(
        format!("{a} − {b} (above 0: {a} better)"),
        curves,
    )];
    if accuracy {
        panels.push(Panel {
            title: "the two tuned heads' accuracies (the answer's table)".into(),
            curves: sides,
            own_y: Some((format!("{on} accuracy (%), mean over seeds"), true)),
            own_x: None,
        });
    }
    Some(LineFigure {
        title: if accuracy {
            format!(
                "{a} − {b} per training size (left), and the two tuned heads' {on} accuracies (right)"
            )
        } else {
            format!("{a} − {b}: {on} difference per training size")
        },
        x_label: if log_x {
            "training images per class (log scale)".into()
        } else {
            "training images per class".into()
        },
        y_label: format!("{a} − {b}, {on} accuracy (pp)"),
        panels,
        log_x,
        log_y: false,
        band: true,
        integer_x: true,
        percent_y: true,
        bounded_y: false,
    })
}

/// A head's three shades for lines a legend must tell apart (one per training size or per tuned
/// variant): neighbouring shades differ in hue, not only lightness (navy next to mid-blue, or black
/// next to dark grey, read as one).
fn head_shades(head: HeadKind) -> [RGBColor; 4] {
    // Four: a grid with both regimes at two sizes tunes four variants of a head.
    head.info().colours.shades.map(rgb)
}

/// The tuned heads, one per (head, size), frozen regime or the only one, in size order.
fn tuned_heads(tuned: &[crate::choose::Tuned]) -> Vec<&crate::choose::Tuned> {
    let mut rows: Vec<&crate::choose::Tuned> =
        tuned.iter().filter(|t| t.finetuned != Some(true)).collect();
    rows.sort_by_key(|t| (t.row.train_per_class, t.head));
    rows
}

/// Train (dashed) and validation (solid) loss per epoch of the heads tuned at each size, one panel
/// per size with its own loss axis: where a chosen head overfits (val loss turning up while train
/// loss falls), and whether its epoch count stopped before that.
pub fn loss_by_epoch(
    results: &Results,
    tuned: &[crate::choose::Tuned],
) -> Result<Option<LineFigure>, ReportError> {
    // Every tuned head, of both regimes where the grid has both.
    let mut chosen: Vec<&crate::choose::Tuned> = tuned.iter().collect();
    chosen.sort_by_key(|t| (t.row.train_per_class, t.head, t.finetuned));
    if chosen.is_empty() {
        return Ok(None);
    }
    let keep = |v: &HeadVariant| chosen.iter().any(|t| t.row.variant == v.name());
    let train = epoch_curves(results, ec::TRAIN_LOSS, keep, false)?;
    let val = epoch_curves(results, ec::VAL_LOSS, keep, false)?;
    let sizes = results.sizes()?;
    let mut panels = Vec::new();
    for ((size, train), val) in sizes.iter().zip(train).zip(val) {
        let mut curves = Vec::new();
        for t in chosen.iter().filter(|t| t.row.train_per_class == *size) {
            // The heads' own colours (blue and black), which a reader tells apart dashed too; a
            // fine-tuned head in its head's second shade.
            let color = if t.finetuned == Some(true) {
                head_shades(t.head)[1]
            } else {
                head_colour(t.head)
            };
            let name = match t.finetuned {
                Some(true) => format!("{}, fine-tuned,", t.head.info().label),
                Some(false) => format!("{}, frozen,", t.head.info().label),
                None => t.head.info().label.to_string(),
            };
            for (panel, dashed, what) in [(&val, false, "val"), (&train, true, "train")] {
                if let Some(c) = panel.curves.iter().find(|c| c.label == t.row.variant) {
                    curves.push(Curve {
                        label: format!("{name} tuned: {what} loss"),
                        look: Look {
                            color,
                            dashed,
                            width: 2,
                        },
                        points: c.points.clone(),
                    });
                }
            }
        }
        if !curves.is_empty() {
            panels.push(Panel {
                own_y: Some(("cross-entropy".into(), false)),
                ..Panel::new(format!("{size}/class"), curves)
            });
        }
    }
    Ok((!panels.is_empty()).then(|| LineFigure {
        title: "Training (dashed) and validation (solid) loss of the heads tuned at each size"
            .into(),
        x_label: "epoch (log scale)".into(),
        y_label: "cross-entropy, mean over seeds (each panel its own axis)".into(),
        panels,
        log_x: true,
        log_y: false,
        band: false,
        integer_x: true,
        percent_y: false,
        bounded_y: false,
    }))
}

/// The training settings a tuned head was chosen over, one panel each.
const TUNED_AXES: [Switch; 3] = [Switch::Lr, Switch::Epochs, Switch::WeightDecay];

/// Validation accuracy against each tuned setting, the others held at the tuned choice's values:
/// one panel per setting, a line per tuned head and size, in pp below the choice (0 is the choice),
/// so that a choice at the end of a line is visibly at the grid's edge. An L2 of 0 is drawn one
/// decade below the smallest L2 tried (a log axis has no 0), its tick reading 0. A head whose
/// choice the grid does not vary in a setting has no line in that panel.
pub fn accuracy_by_axis(
    results: &Results,
    rows: &[VariantRow],
    tuned: &[crate::choose::Tuned],
) -> Option<LineFigure> {
    let chosen = tuned_heads(tuned);
    let train = &results.experiment.config.train;
    let setting = |v: &HeadVariant, s: Switch| -> Option<f64> {
        let t = train.for_variant(v);
        match s {
            Switch::Lr => Some(t.lr),
            Switch::Epochs => Some(t.epochs as f64),
            Switch::WeightDecay => Some(t.weight_decay),
            _ => None,
        }
    };
    let mut panels = Vec::new();
    let mut zero_drawn_at = None;
    for axis in TUNED_AXES {
        let smallest_positive = results
            .variants
            .iter()
            .filter_map(|v| setting(v, axis))
            .filter(|x| *x > 0.0)
            .fold(f64::INFINITY, f64::min);
        let mut curves = Vec::new();
        for t in &chosen {
            let Some(best) = results.variant(&t.row.variant) else {
                continue;
            };
            // The variants that differ from the choice in this setting alone.
            let line: Vec<&HeadVariant> = results
                .variants
                .iter()
                .filter(|v| {
                    v.kind() == best.kind()
                        && Switch::all()
                            .filter(|s| *s != axis)
                            .all(|s| v.get(s) == best.get(s))
                })
                .collect();
            if line.len() < 2 {
                continue;
            }
            let mut points: Vec<(f64, f64, f64)> = line
                .iter()
                .filter_map(|v| {
                    let r = rows.iter().find(|r| {
                        r.variant == v.name() && r.train_per_class == t.row.train_per_class
                    })?;
                    let mut x = setting(v, axis)?;
                    if x == 0.0 {
                        x = smallest_positive / 10.0;
                        zero_drawn_at = Some(x);
                    }
                    Some((x, r.val.mean - t.row.val.mean, 0.0))
                })
                .collect();
            points.sort_by(|a, b| a.0.total_cmp(&b.0));
            let sizes_before = chosen
                .iter()
                .filter(|o| o.head == t.head && o.row.train_per_class < t.row.train_per_class)
                .count();
            // With both regimes only the frozen heads are drawn here: say so.
            let regime = if t.finetuned.is_some() {
                ", frozen backbone"
            } else {
                ""
            };
            curves.push(Curve {
                label: format!(
                    "{} tuned at {}/class{regime}",
                    t.head.info().label,
                    t.row.train_per_class
                ),
                look: Look {
                    color: head_shades(t.head)[sizes_before.min(2)],
                    dashed: t.head.info().drawn == Drawn::Plain,
                    width: 2,
                },
                points,
            });
        }
        if !curves.is_empty() {
            panels.push(Panel {
                own_x: Some(match zero_drawn_at.take() {
                    Some(z) => OwnX {
                        label: format!("{} (log scale; 0 drawn at the left)", axis.spec().label),
                        zero_at: Some(z),
                    },
                    None => OwnX {
                        label: format!("{} (log scale)", axis.spec().label),
                        zero_at: None,
                    },
                }),
                ..Panel::new(axis.spec().label, curves)
            });
        }
    }
    if panels.is_empty() {
        return None;
    }
    Some(LineFigure {
        title: "Validation accuracy against each tuned setting, the others at the tuned choice"
            .into(),
        x_label: "setting (log scale)".into(),
        y_label: "val accuracy − the choice's (pp)".into(),
        panels,
        log_x: true,
        log_y: false,
        band: false,
        integer_x: false,
        percent_y: true,
        bounded_y: false,
    })
}

/// The tuned heads' confusion matrices (frozen regime or the only one), a row per head and a
/// column per size; `None` without recorded predictions.
pub fn confusion(
    confusions: &[crate::per_class::Confusion],
    class_names: &[String],
) -> Option<crate::heatmap::HeatFigure> {
    let mut shown: Vec<&crate::per_class::Confusion> = confusions.iter().collect();
    shown.sort_by_key(|c| (c.head.clone(), c.train_per_class));
    shown.dedup_by_key(|c| (c.head.clone(), c.train_per_class));
    let classes = shown.first()?.counts.len();
    let names: Vec<String> = (0..classes)
        .map(|c| {
            class_names
                .get(c)
                .cloned()
                .unwrap_or_else(|| format!("class {c}"))
        })
        .collect();
    let sizes: std::collections::BTreeSet<u64> = shown.iter().map(|c| c.train_per_class).collect();
    let matrices = shown
        .iter()
        .map(|c| {
            // "mlp" or, where the grid has both regimes, "mlp, fine-tuned" (`Tuned::label`).
            let (word, regime) = c.head.split_once(", ").unwrap_or((c.head.as_str(), ""));
            let head = HeadKind::from_word(word).map_or(word, |h| h.info().label);
            let regime = if regime.is_empty() {
                String::new()
            } else {
                format!(" {regime}")
            };
            crate::heatmap::Matrix {
                title: format!(
                    "{head}{regime}, {}/class ({} seeds)",
                    c.train_per_class, c.seeds
                ),
                shares: c
                    .counts
                    .iter()
                    .map(|row| {
                        let total = row.iter().sum::<u64>().max(1) as f64;
                        row.iter().map(|&n| n as f64 / total).collect()
                    })
                    .collect(),
            }
        })
        .collect();
    Some(crate::heatmap::HeatFigure {
        title: "The tuned heads' test confusion: rows true class, columns predicted (% of row)"
            .into(),
        class_names: names,
        matrices,
        columns: sizes.len(),
    })
}
