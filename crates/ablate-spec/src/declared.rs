//! Heads an experiment file declares beside the presets (`[heads.<word>]`): a layer list of its
//! own, used in the grid by its word like a preset's.
//!
//! ```toml
//! [heads.timm_wide]
//! layers = ["dropout(0.5)", "linear(C)"]
//! label = "timm head, p = 0.5"    # optional: its name in figures and sentences
//! ```
//!
//! A declared head becomes a row after the presets for the life of the process (the handle
//! [`HeadKind`] is a row number and rows are `'static`, as the presets' are), so the spec, the
//! trainer and the report treat it as they treat a preset: the switches act on its layers by
//! place, the report takes its words and colours from its row. Declaring the same word again with
//! the same layers gives the same row; with other layers it is refused (one process, one meaning
//! per word). The declaration is part of the config (hashed; left out when there is none, so an
//! experiment without declared heads keeps its hash).

use std::collections::BTreeMap;
use std::sync::RwLock;

use serde::{Deserialize, Deserializer, Serialize};

use crate::heads::{Colours, Drawn, HEADS, HeadInfo, HeadKind};
use crate::layer::{Layer, Width, layers_line};

/// One declared head, as the file gives it.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct DeclaredHead {
    /// Its layers in order, each as its word (`linear(H)`, `linear(512, no bias)`, `relu`, `gelu`,
    /// `batchnorm`, `layernorm`, `dropout(0.2)`); the last one is `linear(C)`.
    pub layers: Vec<Layer>,
    /// Its name in figures and sentences; the word when absent.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub label: Option<String>,
}

/// The file's `[heads]` table, by word.
pub type DeclaredHeads = BTreeMap<String, DeclaredHead>;

/// The declared rows, after [`HEADS`]; leaked because a row lives as long as the process.
static DECLARED: RwLock<Vec<(&'static HeadInfo, DeclaredHead)>> = RwLock::new(Vec::new());

/// Colours for declared heads, in declaration order (cycled): hues no preset uses.
const PALETTE: [Colours; 4] = [
    Colours {
        main: (0, 128, 128),
        light: (128, 200, 200),
        shades: [(0, 90, 90), (0, 170, 170), (60, 60, 60), (100, 200, 160)],
    },
    Colours {
        main: (204, 140, 0),
        light: (240, 200, 120),
        shades: [(150, 100, 0), (230, 170, 40), (90, 60, 0), (250, 210, 90)],
    },
    Colours {
        main: (90, 100, 170),
        light: (170, 180, 220),
        shades: [
            (50, 60, 130),
            (130, 140, 210),
            (20, 20, 80),
            (160, 170, 240),
        ],
    },
    Colours {
        main: (140, 80, 40),
        light: (210, 170, 130),
        shades: [(100, 50, 20), (180, 110, 60), (60, 30, 10), (220, 150, 90)],
    },
];

/// The declared row `index` (0 is the first after the presets).
pub(crate) fn row(index: usize) -> &'static HeadInfo {
    DECLARED.read().expect("the declared heads' lock")[index].0
}

/// How many heads are declared in this process.
pub(crate) fn count() -> usize {
    DECLARED.read().expect("the declared heads' lock").len()
}

/// Makes `word` a head with `head`'s layers, or finds the row an identical declaration made.
/// The error says what is wrong with the declaration (the caller names the file and key).
pub fn declare(word: &str, head: &DeclaredHead) -> Result<HeadKind, String> {
    check(word, head)?;
    let mut rows = DECLARED.write().expect("the declared heads' lock");
    if let Some(at) = rows.iter().position(|(info, _)| info.word == word) {
        return if rows[at].1 == *head {
            Ok(HeadKind::from_row(HEADS.len() + at))
        } else {
            Err(format!(
                "head `{word}` is already declared with other layers in this run ({}); give this one another word",
                layers_line(rows[at].0.layers)
            ))
        };
    }
    let row = HEADS.len() + rows.len();
    if row > u8::MAX as usize {
        return Err("more than 255 heads in one run".into());
    }
    let word: &'static str = Box::leak(word.to_string().into_boxed_str());
    let label: &'static str = match &head.label {
        Some(label) => Box::leak(label.clone().into_boxed_str()),
        None => word,
    };
    let layers: &'static [Layer] = Box::leak(head.layers.clone().into_boxed_slice());
    let describe = format!(
        "**{label}** (`{word}`): `{}`, declared in the experiment file",
        layers_line(layers)
    );
    let info: &'static HeadInfo = Box::leak(Box::new(HeadInfo {
        word,
        label,
        plain_name: label,
        describe: Box::leak(describe.into_boxed_str()),
        layers,
        colours: PALETTE[rows.len() % PALETTE.len()],
        drawn: Drawn::Plain,
    }));
    rows.push((info, head.clone()));
    Ok(HeadKind::from_row(row))
}

/// Declares every head of `heads` (see [`declare`]); the error names the head's key.
fn declare_all(heads: &DeclaredHeads) -> Result<(), (String, String)> {
    for (word, head) in heads {
        declare(word, head).map_err(|problem| (format!("heads.{word}"), problem))?;
    }
    Ok(())
}

/// serde's `deserialize_with` for a config's `heads`: read and declared at once, so that the grid
/// and claims read after it (a manifest writes `heads` first) know the words.
pub(crate) fn deserialize_declared<'de, D: Deserializer<'de>>(
    deserializer: D,
) -> Result<DeclaredHeads, D::Error> {
    let heads = DeclaredHeads::deserialize(deserializer)?;
    declare_all(&heads)
        .map_err(|(key, problem)| serde::de::Error::custom(format!("`{key}`: {problem}")))?;
    Ok(heads)
}

fn check(word: &str, head: &DeclaredHead) -> Result<(), String> {
    let word_ok = !word.is_empty()
        && word
            .chars()
            .all(|c| c.is_ascii_lowercase() || c.is_ascii_digit() || c == '_');
    if !word_ok {
        return Err(format!(
            "`{word}`: a head's word is lowercase letters, digits and `_` (it is part of variant names, which split on `-`)"
        ));
    }
    if HEADS.iter().any(|h| h.word == word) {
        return Err(format!(
            "`{word}` is a preset; a declared head needs a word of its own"
        ));
    }
    let Some((last, body)) = head.layers.split_last() else {
        return Err("`layers` is empty; a head ends in `linear(C)`".into());
    };
    if !matches!(
        last,
        Layer::Linear {
            out: Width::Classes,
            ..
        }
    ) {
        return Err(format!(
            "the last layer is `{last}`; a head ends in `linear(C)` (the classes)"
        ));
    }
    if body.iter().any(|l| {
        matches!(
            l,
            Layer::Linear {
                out: Width::Classes,
                ..
            }
        )
    }) {
        return Err("only the last layer may be `linear(C)`".into());
    }
    if let Some(label) = &head.label
        && label.trim().is_empty()
    {
        return Err("`label` is empty".into());
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn head(layers: &[&str]) -> DeclaredHead {
        DeclaredHead {
            layers: layers.iter().map(|l| l.parse().unwrap()).collect(),
            label: None,
        }
    }

    #[test]
    fn a_declared_head_is_a_row_like_a_preset() {
        let kind = declare("test_wide_timm", &head(&["dropout(0.5)", "linear(C)"])).unwrap();
        assert_eq!(kind.as_str(), "test_wide_timm");
        assert_eq!(HeadKind::from_word("test_wide_timm"), Some(kind));
        assert_eq!(
            kind.layers(),
            &[
                Layer::Dropout { p: 0.5 },
                Layer::Linear {
                    out: Width::Classes,
                    bias: true
                }
            ]
        );
        assert!(HeadKind::all().any(|k| k == kind));
        let back: HeadKind = serde_json::from_value(serde_json::json!("test_wide_timm")).unwrap();
        assert_eq!(back, kind);
        // The same declaration again: the same row.
        assert_eq!(
            declare("test_wide_timm", &head(&["dropout(0.5)", "linear(C)"])).unwrap(),
            kind
        );
    }

    #[test]
    fn bad_declarations_say_what_is_wrong() {
        let cases: [(&str, DeclaredHead, &str); 6] = [
            ("mlp", head(&["linear(C)"]), "is a preset"),
            ("My-Head", head(&["linear(C)"]), "lowercase"),
            (
                "test_no_output",
                head(&["linear(H)", "relu"]),
                "ends in `linear(C)`",
            ),
            (
                "test_two_outputs",
                head(&["linear(C)", "linear(C)"]),
                "only the last",
            ),
            (
                "test_empty",
                DeclaredHead {
                    layers: vec![],
                    label: None,
                },
                "empty",
            ),
            (
                "test_blank",
                DeclaredHead {
                    layers: head(&["linear(C)"]).layers,
                    label: Some(" ".into()),
                },
                "`label`",
            ),
        ];
        for (word, declared, expected) in cases {
            let err = declare(word, &declared).unwrap_err();
            assert!(err.contains(expected), "{word}: {err}");
        }
        declare("test_twice", &head(&["linear(C)"])).unwrap();
        let err = declare("test_twice", &head(&["relu", "linear(C)"])).unwrap_err();
        assert!(err.contains("already declared"), "{err}");
    }
}
