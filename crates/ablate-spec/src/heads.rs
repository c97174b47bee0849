//! The heads as one table: each preset is one row (ruff's registry shape) holding its layer list
//! and what the spec, the shard planner and the report need to know of it. `ablate-heads` builds
//! any layer list as one sequential module; the switches that act on a layer find it by its place
//! ([`crate::LayerRole`]). A new preset is one row here.

use std::fmt;

use serde::{Deserialize, Deserializer, Serialize, Serializer};

use crate::layer::{Layer, Width};
use crate::train::TrainSpec;

/// A head: a handle on its row of [`HEADS`]. Ordered, hashed and compared by row, written as its
/// word.
#[derive(Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct HeadKind(u8);

impl HeadKind {
    /// The thread's model1.
    pub const MLP: HeadKind = HeadKind(0);
    /// The thread's model2.
    pub const LINEAR: HeadKind = HeadKind(1);

    /// Every head, in table order: the presets, then the heads declared in this process.
    pub fn all() -> impl Iterator<Item = HeadKind> {
        (0..HEADS.len() + crate::declared::count()).map(|i| HeadKind(i as u8))
    }

    /// The head of row `row` (a preset's place in [`HEADS`], or a declared head's after them).
    pub(crate) fn from_row(row: usize) -> HeadKind {
        HeadKind(row as u8)
    }

    /// Its row: of [`HEADS`], or a declared head's ([`crate::declared`]).
    pub fn info(self) -> &'static HeadInfo {
        let row = self.0 as usize;
        HEADS
            .get(row)
            .unwrap_or_else(|| crate::declared::row(row - HEADS.len()))
    }

    /// Its layers as the preset has them (before any switch).
    pub fn layers(self) -> &'static [Layer] {
        self.info().layers
    }

    /// Its word ([`HeadInfo::word`]).
    pub fn as_str(self) -> &'static str {
        self.info().word
    }

    pub fn from_word(word: &str) -> Option<Self> {
        Self::all().find(|h| h.as_str() == word)
    }

    /// Every head's word, for an error that lists them.
    pub fn words() -> String {
        Self::all()
            .map(|h| format!("`{}`", h.as_str()))
            .collect::<Vec<_>>()
            .join(", ")
    }
}

impl fmt::Display for HeadKind {
    fn fmt(&self, f: &mut fmt::Formatter) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

impl fmt::Debug for HeadKind {
    fn fmt(&self, f: &mut fmt::Formatter) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

impl Serialize for HeadKind {
    fn serialize<S: Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        serializer.serialize_str(self.as_str())
    }
}

impl<'de> Deserialize<'de> for HeadKind {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        let word = String::deserialize(deserializer)?;
        HeadKind::from_word(&word).ok_or_else(|| {
            serde::de::Error::custom(format!(
                "unknown head `{word}` (the heads are {})",
                HeadKind::words()
            ))
        })
    }
}

/// An sRGB colour (the report turns it into its plotting library's type).
pub type Rgb = (u8, u8, u8);

/// How the report draws a head.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Colours {
    /// Its lines wherever a figure draws one line per head.
    pub main: Rgb,
    /// A light shade, for the experiment's highlighted variants of the head.
    pub light: Rgb,
    /// Lines a legend must tell apart (one per size or tuned variant): neighbours differ in hue,
    /// not only lightness.
    pub shades: [Rgb; 4],
}

/// What the rest of the workspace knows of one head.
#[derive(Debug)]
pub struct HeadInfo {
    /// Its word in experiment files, variant names and tables (no `-`: names split on it).
    pub word: &'static str,
    /// Its short name in figures and sentences (the thread's `model1` for its two heads).
    pub label: &'static str,
    /// Its name in a plain sentence, for a reader who has not seen the thread.
    pub plain_name: &'static str,
    /// The report's line for it when the experiment's `[report] heads` says nothing (Markdown).
    pub describe: &'static str,
    /// The preset's layers; the grid's switches act on them by place.
    pub layers: &'static [Layer],
    /// How the report colours it.
    pub colours: Colours,
    /// Whether the report's per-variant figures tell its variants apart by colour family.
    pub drawn: Drawn,
}

/// How the report tells a head's variants apart in figures that show several heads.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Drawn {
    /// A colour family per (bias before BN, ReLU), lighter with more dropout.
    BySwitches,
    /// In its main colour: the head has few variants, told apart by dash where needed.
    Plain,
}

impl HeadInfo {
    /// Its share of a cell's cost per training row, relative to the others (shard balancing): the
    /// widths of its hidden Linears, and at least a constant. Measured on the forum grid (flex, 2
    /// cores): a linear cell takes 1/40 to 1/80 of an mlp cell of the same size, because fixed
    /// per-step work dominates a 5k-parameter head.
    pub fn cost_width(&self, train: &TrainSpec) -> f64 {
        let hidden: usize = self
            .layers
            .iter()
            .map(|l| match l {
                Layer::Linear {
                    out: Width::Hidden, ..
                } => train.hidden,
                Layer::Linear {
                    out: Width::Fixed(n),
                    ..
                } => *n,
                _ => 0,
            })
            .sum();
        (hidden as f64).max(16.0)
    }
}

const fn linear(out: Width, bias: bool) -> Layer {
    Layer::Linear { out, bias }
}

const HIDDEN: Layer = linear(Width::Hidden, true);
const OUTPUT: Layer = linear(Width::Classes, true);
const NO_DROPOUT: Layer = Layer::Dropout { p: 0.0 };

/// One row per head. Rows are never reordered (a row's place is its handle); a new preset is a
/// new row at the end.
pub const HEADS: &[HeadInfo] = &[
    HeadInfo {
        word: "mlp",
        label: "model1",
        plain_name: "MLP head (model1)",
        describe: "**model1** (`mlp`): `Linear(F→H, bias on/off) → ReLU (on/off) → BatchNorm1d → Dropout(p) → Linear(H→C)`",
        layers: &[HIDDEN, Layer::Relu, Layer::BatchNorm, NO_DROPOUT, OUTPUT],
        colours: Colours {
            main: (33, 102, 172),
            light: (116, 169, 207),
            shades: [(8, 48, 107), (0, 160, 190), (106, 81, 163), (35, 139, 69)],
        },
        drawn: Drawn::BySwitches,
    },
    HeadInfo {
        word: "linear",
        label: "model2",
        plain_name: "single Linear head (model2)",
        describe: "**model2** (`linear`): `Linear(F→C)`",
        layers: &[OUTPUT],
        colours: Colours {
            main: (0, 0, 0),
            light: (170, 170, 170),
            shades: [(0, 0, 0), (166, 97, 26), (120, 120, 120), (190, 30, 70)],
        },
        drawn: Drawn::Plain,
    },
    // fastai's `create_head(nf, n_out)` with its defaults (ps = 0.5, lin_ftrs = [512],
    // first_bn = True, bn_final = False, lin_first = False): `LinBnDrop` puts BN and dropout before
    // each Linear and drops the Linear's bias where a BN sits (bias = not bn). One difference:
    // fastai pools with `AdaptiveConcatPool2d` (average and max, 2F features); ablate's features
    // are the backbone's average pool (F), as the thread's heads see them.
    HeadInfo {
        word: "fastai",
        label: "fastai head",
        plain_name: "fastai's create_head",
        describe: "**fastai** (`fastai`): `BatchNorm1d(F) → Dropout(0.25) → Linear(F→512, no bias) → ReLU → BatchNorm1d → Dropout(p = 0.5) → Linear(512→C, no bias)`, fastai's `create_head` on average-pooled features (fastai concatenates average and max pooling)",
        layers: &[
            Layer::BatchNorm,
            Layer::Dropout { p: 0.25 },
            linear(Width::Fixed(512), false),
            Layer::Relu,
            Layer::BatchNorm,
            Layer::Dropout { p: 0.5 },
            linear(Width::Classes, false),
        ],
        colours: Colours {
            main: (214, 96, 77),
            light: (244, 165, 130),
            shades: [(178, 24, 43), (244, 109, 67), (153, 52, 4), (254, 178, 76)],
        },
        drawn: Drawn::Plain,
    },
    // timm's classifier: `drop_rate` dropout on the pooled features, then the Linear (timm's
    // EfficientNet-B0 and lite0 default to 0.2).
    HeadInfo {
        word: "timm",
        label: "timm head",
        plain_name: "timm's classifier (dropout, then a Linear)",
        describe: "**timm** (`timm`): `Dropout(p = 0.2) → Linear(F→C)`, timm's classifier with EfficientNet-B0's `drop_rate`",
        layers: &[Layer::Dropout { p: 0.2 }, OUTPUT],
        colours: Colours {
            main: (77, 146, 33),
            light: (161, 215, 106),
            shades: [(39, 100, 25), (127, 188, 65), (0, 109, 44), (184, 225, 134)],
        },
        drawn: Drawn::Plain,
    },
    // model1 with BatchNorm before the ReLU (the conv-BN-ReLU order): the bias is then right
    // before BN, where claim A says it is useless.
    HeadInfo {
        word: "mlp_bn_relu",
        label: "BN-before-ReLU MLP",
        plain_name: "MLP head with BatchNorm before the ReLU",
        describe: "**BN-before-ReLU MLP** (`mlp_bn_relu`): `Linear(F→H) → BatchNorm1d → ReLU → Dropout(p) → Linear(H→C)`",
        layers: &[HIDDEN, Layer::BatchNorm, Layer::Relu, NO_DROPOUT, OUTPUT],
        colours: Colours {
            main: (118, 42, 131),
            light: (194, 165, 207),
            shades: [(64, 0, 75), (153, 112, 171), (197, 27, 125), (90, 174, 97)],
        },
        drawn: Drawn::Plain,
    },
    // The transformer-style MLP: LayerNorm and GELU where model1 has BatchNorm and ReLU.
    HeadInfo {
        word: "mlp_ln_gelu",
        label: "LayerNorm-GELU MLP",
        plain_name: "MLP head with GELU and LayerNorm",
        describe: "**LayerNorm-GELU MLP** (`mlp_ln_gelu`): `Linear(F→H) → GELU → LayerNorm → Dropout(p) → Linear(H→C)`, model1 with the transformer's normalisation and activation",
        layers: &[HIDDEN, Layer::Gelu, Layer::LayerNorm, NO_DROPOUT, OUTPUT],
        colours: Colours {
            main: (206, 18, 86),
            light: (241, 182, 218),
            shades: [
                (206, 18, 86),
                (241, 105, 180),
                (103, 0, 31),
                (250, 159, 181),
            ],
        },
        drawn: Drawn::Plain,
    },
    // Two hidden layers: model1's block twice, the second half as wide; the dropout switch acts
    // on the one before the output Linear.
    HeadInfo {
        word: "mlp2",
        label: "two-hidden-layer MLP",
        plain_name: "MLP head with two hidden layers",
        describe: "**two-hidden-layer MLP** (`mlp2`): `Linear(F→H) → ReLU → BatchNorm1d → Linear(H→512) → ReLU → BatchNorm1d → Dropout(p) → Linear(512→C)`",
        layers: &[
            HIDDEN,
            Layer::Relu,
            Layer::BatchNorm,
            linear(Width::Fixed(512), true),
            Layer::Relu,
            Layer::BatchNorm,
            NO_DROPOUT,
            OUTPUT,
        ],
        colours: Colours {
            main: (128, 128, 0),
            light: (220, 220, 140),
            shades: [(110, 110, 0), (190, 190, 40), (70, 70, 70), (160, 140, 60)],
        },
        drawn: Drawn::Plain,
    },
];

#[cfg(test)]
mod tests {
    use super::*;
    use crate::layer::layer_names;

    #[test]
    fn rows_have_unique_words_that_round_trip() {
        assert!(HeadKind::all().count() >= HEADS.len());
        for kind in HeadKind::all() {
            let word = kind.info().word;
            assert!(!word.contains('-'), "{word}: names split on `-`");
            assert_eq!(HeadKind::from_word(word), Some(kind));
            assert_eq!(
                serde_json::to_value(kind).unwrap(),
                serde_json::Value::String(word.into())
            );
            let back: HeadKind = serde_json::from_value(serde_json::json!(word)).unwrap();
            assert_eq!(back, kind);
            // Every head ends in a Linear to the classes.
            assert!(matches!(
                kind.layers().last(),
                Some(Layer::Linear {
                    out: Width::Classes,
                    ..
                })
            ));
            // Names are unique within a head (they key init and dropout streams).
            let names = layer_names(kind.layers());
            let mut unique = names.clone();
            unique.sort();
            unique.dedup();
            assert_eq!(names.len(), unique.len(), "{word}");
        }
        assert_eq!(HeadKind::MLP.as_str(), "mlp");
        assert_eq!(HeadKind::LINEAR.as_str(), "linear");
        let err = serde_json::from_value::<HeadKind>(serde_json::json!("resnet")).unwrap_err();
        assert!(err.to_string().contains("`fastai`"), "{err}");
    }

    #[test]
    fn cost_widths_keep_the_thread_heads_ratio() {
        let train = TrainSpec::default();
        assert_eq!(HeadKind::MLP.info().cost_width(&train), 1024.0);
        assert_eq!(HeadKind::LINEAR.info().cost_width(&train), 16.0);
    }
}
