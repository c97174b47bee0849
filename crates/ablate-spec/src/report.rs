//! The `[report]` table: the prose a report shows that belongs to one experiment (its title, the
//! question it answers, what the heads are, notes). Everything is optional; the report has neutral
//! defaults, so another dataset does not get the forum's words. Like claims, it only shapes the
//! report: it is left out of the config hash.

use std::collections::BTreeMap;

use serde::{Deserialize, Serialize};

use crate::claim::{Claim, Compare, Metric, Selector};
use crate::error::SpecError;
use crate::heads::HeadKind;
use crate::validate::Invalid;
use crate::variant::HeadVariant;

#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ReportSpec {
    /// The report's first heading.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub title: Option<String>,
    /// The question the experiment answers (Markdown), shown first.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub question: Option<String>,
    /// How to read the heads, per head (Markdown, one line each).
    #[serde(default, skip_serializing_if = "HeadTexts::is_empty")]
    pub heads: HeadTexts,
    /// Anything else the reader should know (Markdown), shown after the setup.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub notes: Option<String>,
    /// The claim the answer spells out per training size: one that compares two heads, each tuned
    /// on val (`compare = "tuned"`, on test or val accuracy). Absent: the thread's `D` when the
    /// claims are the thread's defaults, else none (the answer lists the tuned heads per size).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub answer: Option<String>,
    /// Variants drawn beside the tuned heads in the accuracy-by-size figure (the asker's own heads,
    /// say); each selector must name exactly one variant of the grid.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub highlight: Vec<Highlight>,
}

impl ReportSpec {
    /// Every highlight names exactly one variant of the grid; `answer` names a claim that compares
    /// two tuned heads.
    pub(crate) fn validate(
        &self,
        variants: &[HeadVariant],
        claims: &[Claim],
        invalid: &Invalid,
    ) -> Result<(), SpecError> {
        if let Some(id) = &self.answer {
            let Some(claim) = claims.iter().find(|c| &c.id == id) else {
                return Err(invalid(
                    "report.answer",
                    format!("names claim `{id}`, which the experiment does not declare"),
                ));
            };
            let heads = (claim.a.head, claim.b.head);
            let two_heads = matches!(heads, (Some(a), Some(b)) if a != b);
            let on_accuracy = matches!(claim.metric, Metric::TestAcc | Metric::ValAcc);
            if claim.compare != Compare::Tuned || !two_heads || !on_accuracy {
                return Err(invalid(
                    "report.answer",
                    format!(
                        "claim `{id}` must compare two heads (`a.head` and `b.head`), each tuned \
                         (`compare = \"tuned\"`), on test or val accuracy"
                    ),
                ));
            }
        }
        for h in &self.highlight {
            let matched = variants.iter().filter(|v| h.variant.matches(v)).count();
            if matched != 1 {
                return Err(invalid(
                    "report.highlight",
                    format!(
                        "`{}` ({}) matches {matched} variants of the grid; it must name exactly one",
                        h.label,
                        h.variant.describe()
                    ),
                ));
            }
        }
        Ok(())
    }
}

/// A variant to draw by name in the report's main figure.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Highlight {
    pub label: String,
    pub variant: Selector,
}

/// `[report.heads]`: a line per head kind (`mlp = "..."`); an unknown head is refused by name.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[serde(transparent)]
pub struct HeadTexts(pub BTreeMap<HeadKind, String>);

impl HeadTexts {
    pub fn is_empty(&self) -> bool {
        self.0.is_empty()
    }

    /// The experiment's line for `head`, if it gives one.
    pub fn get(&self, head: HeadKind) -> Option<&str> {
        self.0.get(&head).map(String::as_str)
    }
}
