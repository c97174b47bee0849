//! A head as data: a list of layers, and the places in it that the grid's switches act on.
//!
//! A preset's list is one row of [`crate::HEADS`]; `ablate-heads` builds any list as one sequential
//! module. The switches that act on a layer ([`LayerRole`]) find it by its place in the list, so
//! that a switch means the same thing in every head that has the layer, and a head without it is
//! refused by name (its layers listed) instead of silently ignoring the axis.

use std::fmt;

/// How wide a Linear's output is.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Width {
    /// `[train] hidden` (the thread's 1024).
    Hidden,
    /// The task's number of classes (the output layer).
    Classes,
    /// A width of its own (fastai's 512).
    Fixed(usize),
}

impl Width {
    /// `H`, `C` or the number: as lists and experiment files write it.
    fn short(self) -> String {
        match self {
            Width::Hidden => "H".to_string(),
            Width::Classes => "C".to_string(),
            Width::Fixed(n) => n.to_string(),
        }
    }
}

/// What a Linear without a bias adds to its name.
fn bias_suffix(bias: bool) -> &'static str {
    if bias { "" } else { ", no bias" }
}

/// One layer of a head. Every layer acts on `[batch, features]`.
#[derive(Debug, Clone, Copy, PartialEq)]
pub enum Layer {
    Linear {
        out: Width,
        bias: bool,
    },
    Relu,
    /// PyTorch's `nn.GELU()` (the exact, erf form).
    Gelu,
    /// `BatchNorm1d` with PyTorch's semantics (unbiased running variance, momentum 0.1).
    BatchNorm,
    /// `LayerNorm` over the features (eps 1e-5, scale and shift).
    LayerNorm,
    /// Inverted dropout; its uniform draws come from a stream keyed by the layer's name.
    Dropout {
        p: f64,
    },
}

impl Layer {
    /// The layer's kind in names and lists (`fc`, `relu`, `bn`, ...).
    pub fn kind_word(&self) -> &'static str {
        match self {
            Layer::Linear { .. } => "fc",
            Layer::Relu => "relu",
            Layer::Gelu => "gelu",
            Layer::BatchNorm => "bn",
            Layer::LayerNorm => "ln",
            Layer::Dropout { .. } => "dropout",
        }
    }

    fn is_activation(&self) -> bool {
        matches!(self, Layer::Relu | Layer::Gelu)
    }
}

impl fmt::Display for Layer {
    fn fmt(&self, f: &mut fmt::Formatter) -> fmt::Result {
        match self {
            Layer::Linear { out, bias } => {
                let (out, bias) = (out.short(), bias_suffix(*bias));
                write!(f, "Linear(→{out}{bias})")
            }
            Layer::Relu => f.write_str("ReLU"),
            Layer::Gelu => f.write_str("GELU"),
            Layer::BatchNorm => f.write_str("BatchNorm1d"),
            Layer::LayerNorm => f.write_str("LayerNorm"),
            Layer::Dropout { p } => write!(f, "Dropout({p})"),
        }
    }
}

/// How a layer is written in an experiment file's `[heads.<word>]` (the forms [`Layer`]'s
/// `FromStr` takes, for the error that lists them).
pub const LAYER_FORMS: &str = "`linear(H)` (`[train] hidden` wide), `linear(C)` (the classes), `linear(512)`, each with an optional `, no bias`; `relu`, `gelu`, `batchnorm`, `layernorm`, `dropout(0.2)`";

impl Layer {
    /// The layer as an experiment file writes it (canonical: what the config hash covers).
    pub fn word(&self) -> String {
        match self {
            Layer::Linear { out, bias } => {
                let (out, bias) = (out.short(), bias_suffix(*bias));
                format!("linear({out}{bias})")
            }
            Layer::Relu => "relu".into(),
            Layer::Gelu => "gelu".into(),
            Layer::BatchNorm => "batchnorm".into(),
            Layer::LayerNorm => "layernorm".into(),
            Layer::Dropout { p } => format!("dropout({p})"),
        }
    }
}

impl std::str::FromStr for Layer {
    type Err = String;

    fn from_str(text: &str) -> Result<Self, String> {
        let bad = || format!("`{text}` is not a layer; a layer is {LAYER_FORMS}");
        let compact: String = text.split_whitespace().collect::<Vec<_>>().join(" ");
        let lower = compact.to_ascii_lowercase();
        let (name, args) = match lower.split_once('(') {
            Some((name, rest)) => (
                name.trim(),
                Some(rest.strip_suffix(')').ok_or_else(bad)?.trim()),
            ),
            None => (lower.trim(), None),
        };
        match (name, args) {
            ("relu", None) => Ok(Layer::Relu),
            ("gelu", None) => Ok(Layer::Gelu),
            ("batchnorm" | "batchnorm1d", None) => Ok(Layer::BatchNorm),
            ("layernorm", None) => Ok(Layer::LayerNorm),
            ("dropout", Some(p)) => {
                let p: f64 = p.parse().map_err(|_| bad())?;
                if !(0.0..1.0).contains(&p) {
                    return Err(format!("`{text}`: a dropout rate is in [0, 1)"));
                }
                Ok(Layer::Dropout { p })
            }
            ("linear", Some(args)) => {
                let (out, bias) = match args.split_once(',') {
                    Some((out, "no bias")) => (out.trim(), false),
                    Some((out, rest)) if rest.trim() == "no bias" => (out.trim(), false),
                    Some(_) => return Err(bad()),
                    None => (args, true),
                };
                let out = match out {
                    "h" => Width::Hidden,
                    "c" => Width::Classes,
                    n => match n.parse::<usize>() {
                        Ok(n) if n > 0 => Width::Fixed(n),
                        _ => return Err(bad()),
                    },
                };
                Ok(Layer::Linear { out, bias })
            }
            _ => Err(bad()),
        }
    }
}

impl serde::Serialize for Layer {
    fn serialize<S: serde::Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        serializer.serialize_str(&self.word())
    }
}

impl<'de> serde::Deserialize<'de> for Layer {
    fn deserialize<D: serde::Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        let text = String::deserialize(deserializer)?;
        text.parse().map_err(serde::de::Error::custom)
    }
}

/// A head's layers as one line (`Linear(→H) → ReLU → BatchNorm1d → Dropout(0) → Linear(→C)`), the
/// list a refused switch names.
pub fn layers_line(layers: &[Layer]) -> String {
    layers
        .iter()
        .map(Layer::to_string)
        .collect::<Vec<_>>()
        .join(" → ")
}

/// The names that key each layer's initial weights and dropout draws: per kind, in list order,
/// `fc1, fc2, ...` (`fc` when the head has one Linear), `bn, bn2, ...`, `dropout, dropout2, ...`.
/// The thread's model1 is `fc1, relu, bn, dropout, fc2` and model2 `fc`: their keys since issue 9,
/// so their numbers did not move when heads became data.
pub fn layer_names(layers: &[Layer]) -> Vec<String> {
    let linears = layers
        .iter()
        .filter(|l| matches!(l, Layer::Linear { .. }))
        .count();
    let mut seen: Vec<&'static str> = Vec::new();
    layers
        .iter()
        .map(|layer| {
            let word = layer.kind_word();
            seen.push(word);
            let k = seen.iter().filter(|w| **w == word).count();
            match (layer, linears) {
                (Layer::Linear { .. }, 1) => "fc".to_string(),
                (Layer::Linear { .. }, _) => format!("fc{k}"),
                (_, _) if k == 1 => word.to_string(),
                _ => format!("{word}{k}"),
            }
        })
        .collect()
}

/// A place in a head's list that a switch acts on.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum LayerRole {
    /// Every Linear whose output reaches a BatchNorm through activations only: the bias claim A
    /// calls useless (with no activation in between) and B (with a ReLU).
    LinearBeforeBn,
    /// The head's ReLU layers (on, or left out).
    Relu,
    /// The Dropout right before the output Linear.
    LastDropout,
    /// That Dropout where it directly follows a BatchNorm: it can move in front of the BN.
    DropoutAfterBn,
    /// The output Linear.
    LastLinear,
    /// A head that is one Linear (a convex fit can be run to convergence).
    OnlyLinear,
}

impl LayerRole {
    /// What the role names, for a refusal.
    pub fn describe(self) -> &'static str {
        match self {
            LayerRole::LinearBeforeBn => {
                "a Linear followed (through activations only) by BatchNorm"
            }
            LayerRole::Relu => "a ReLU",
            LayerRole::LastDropout => "a Dropout right before the output Linear",
            LayerRole::DropoutAfterBn => {
                "a Dropout right after a BatchNorm, before the output Linear"
            }
            LayerRole::LastLinear => "an output Linear",
            LayerRole::OnlyLinear => "a single Linear and nothing else",
        }
    }

    /// The indices in `layers` the role names (empty: the head does not have it).
    pub fn find(self, layers: &[Layer]) -> Vec<usize> {
        let last_linear = layers
            .iter()
            .rposition(|l| matches!(l, Layer::Linear { .. }));
        let last_dropout = last_linear
            .filter(|&i| i > 0 && matches!(layers[i - 1], Layer::Dropout { .. }))
            .map(|i| i - 1);
        match self {
            LayerRole::LinearBeforeBn => (0..layers.len())
                .filter(|&i| matches!(layers[i], Layer::Linear { .. }))
                .filter(|&i| {
                    layers[i + 1..]
                        .iter()
                        .find(|l| !l.is_activation())
                        .is_some_and(|l| *l == Layer::BatchNorm)
                })
                .collect(),
            LayerRole::Relu => (0..layers.len())
                .filter(|&i| layers[i] == Layer::Relu)
                .collect(),
            LayerRole::LastDropout => last_dropout.into_iter().collect(),
            LayerRole::DropoutAfterBn => last_dropout
                .filter(|&i| i > 0 && layers[i - 1] == Layer::BatchNorm)
                .into_iter()
                .collect(),
            LayerRole::LastLinear => last_linear.into_iter().collect(),
            LayerRole::OnlyLinear => match layers {
                [Layer::Linear { .. }] => vec![0],
                _ => Vec::new(),
            },
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const MODEL1: &[Layer] = &[
        Layer::Linear {
            out: Width::Hidden,
            bias: true,
        },
        Layer::Relu,
        Layer::BatchNorm,
        Layer::Dropout { p: 0.0 },
        Layer::Linear {
            out: Width::Classes,
            bias: true,
        },
    ];

    #[test]
    fn layer_words_round_trip_and_bad_ones_list_the_forms() {
        let layers = [
            Layer::Linear {
                out: Width::Hidden,
                bias: true,
            },
            Layer::Linear {
                out: Width::Fixed(512),
                bias: false,
            },
            Layer::Linear {
                out: Width::Classes,
                bias: true,
            },
            Layer::Relu,
            Layer::Gelu,
            Layer::BatchNorm,
            Layer::LayerNorm,
            Layer::Dropout { p: 0.25 },
        ];
        for layer in layers {
            assert_eq!(layer.word().parse::<Layer>(), Ok(layer), "{}", layer.word());
        }
        assert_eq!("Linear( 512 , no bias )".parse(), Ok(layers[1]));
        assert_eq!("BatchNorm1d".parse(), Ok(Layer::BatchNorm));
        for bad in [
            "conv(3)",
            "linear(0)",
            "linear(H, bias)",
            "dropout",
            "dropout(1.0)",
            "relu(2)",
        ] {
            let err = bad.parse::<Layer>().unwrap_err();
            assert!(err.contains(bad), "{err}");
        }
        assert!("conv".parse::<Layer>().unwrap_err().contains("`layernorm`"));
    }

    #[test]
    fn names_keep_the_thread_heads_keys() {
        assert_eq!(layer_names(MODEL1), ["fc1", "relu", "bn", "dropout", "fc2"]);
        let model2 = [Layer::Linear {
            out: Width::Classes,
            bias: true,
        }];
        assert_eq!(layer_names(&model2), ["fc"]);
        let two_dropouts = [
            Layer::BatchNorm,
            Layer::Dropout { p: 0.25 },
            MODEL1[0],
            Layer::BatchNorm,
            Layer::Dropout { p: 0.5 },
            MODEL1[4],
        ];
        assert_eq!(
            layer_names(&two_dropouts),
            ["bn", "dropout", "fc1", "bn2", "dropout2", "fc2"]
        );
    }

    #[test]
    fn roles_find_their_layers_by_place() {
        assert_eq!(LayerRole::LinearBeforeBn.find(MODEL1), [0]);
        assert_eq!(LayerRole::Relu.find(MODEL1), [1]);
        assert_eq!(LayerRole::LastDropout.find(MODEL1), [3]);
        assert_eq!(LayerRole::DropoutAfterBn.find(MODEL1), [3]);
        assert_eq!(LayerRole::LastLinear.find(MODEL1), [4]);
        assert!(LayerRole::OnlyLinear.find(MODEL1).is_empty());
        // BN before the ReLU: the Linear still reaches BN directly; the dropout follows the ReLU.
        let bn_relu = [
            MODEL1[0],
            Layer::BatchNorm,
            Layer::Relu,
            MODEL1[3],
            MODEL1[4],
        ];
        assert_eq!(LayerRole::LinearBeforeBn.find(&bn_relu), [0]);
        assert!(LayerRole::DropoutAfterBn.find(&bn_relu).is_empty());
        // LayerNorm is not BatchNorm: nothing for claim A's switch to act on.
        let ln = [
            MODEL1[0],
            Layer::Gelu,
            Layer::LayerNorm,
            MODEL1[3],
            MODEL1[4],
        ];
        assert!(LayerRole::LinearBeforeBn.find(&ln).is_empty());
        assert!(LayerRole::Relu.find(&ln).is_empty());
        assert_eq!(
            layers_line(&ln),
            "Linear(→H) → GELU → LayerNorm → Dropout(0) → Linear(→C)"
        );
    }
}
