//! A grid axis: one list of values for every head that has the switch, or a list per head, so that a
//! sweep can be wide where it is cheap (the linear head trains in a fraction of a second) and narrow
//! where it is not.

use serde::Serialize;

use crate::switch::{HeadKind, Value};

/// `[a, b]` for every head, or `{ mlp = [..], linear = [..] }`. A list serializes as a list, so a
/// grid written either way hashes as it reads.
#[derive(Debug, Clone, PartialEq, Serialize)]
#[serde(untagged)]
pub enum HeadAxis {
    Shared(Vec<Value>),
    PerHead(PerHead),
}

/// Values per head; a head left out gets the switch's default.
#[derive(Debug, Clone, Default, PartialEq, Serialize)]
pub struct PerHead {
    #[serde(skip_serializing_if = "Option::is_none")]
    pub mlp: Option<Vec<Value>>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub linear: Option<Vec<Value>>,
}

impl PerHead {
    pub(crate) fn slot(&mut self, head: HeadKind) -> &mut Option<Vec<Value>> {
        match head {
            HeadKind::Mlp => &mut self.mlp,
            HeadKind::Linear => &mut self.linear,
        }
    }
}

impl HeadAxis {
    /// The values `head` is swept over; `None` when the axis leaves that head out.
    pub fn for_head(&self, head: HeadKind) -> Option<&[Value]> {
        match self {
            HeadAxis::Shared(values) => Some(values),
            HeadAxis::PerHead(per_head) => match head {
                HeadKind::Mlp => per_head.mlp.as_deref(),
                HeadKind::Linear => per_head.linear.as_deref(),
            },
        }
    }

    /// Every list the axis holds, for validation.
    pub fn lists(&self) -> Vec<&[Value]> {
        match self {
            HeadAxis::Shared(values) => vec![values],
            HeadAxis::PerHead(per_head) => [&per_head.mlp, &per_head.linear]
                .into_iter()
                .flatten()
                .map(Vec::as_slice)
                .collect(),
        }
    }
}
