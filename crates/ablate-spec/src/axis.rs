//! A grid axis: one list of values for every head that has the switch, or a list per head, so that a
//! sweep can be wide where it is cheap (the linear head trains in a fraction of a second) and narrow
//! where it is not.

use std::collections::BTreeMap;

use serde::Serialize;

use crate::heads::HeadKind;
use crate::switch::Value;

/// `[a, b]` for every head, or `{ mlp = [..], linear = [..] }`. A list serializes as a list, so a
/// grid written either way hashes as it reads.
#[derive(Debug, Clone, PartialEq, Serialize)]
#[serde(untagged)]
pub enum HeadAxis {
    Shared(Vec<Value>),
    PerHead(PerHead),
}

/// Values per head; a head left out gets the switch's default. Serialized as a map in head order
/// (`{"mlp": [..], "linear": [..]}`), the canonical form the config hash is taken of.
#[derive(Debug, Clone, Default, PartialEq, Serialize)]
#[serde(transparent)]
pub struct PerHead(pub BTreeMap<HeadKind, Vec<Value>>);

impl HeadAxis {
    /// The values `head` is swept over; `None` when the axis leaves that head out.
    pub fn for_head(&self, head: HeadKind) -> Option<&[Value]> {
        match self {
            HeadAxis::Shared(values) => Some(values),
            HeadAxis::PerHead(per_head) => per_head.0.get(&head).map(Vec::as_slice),
        }
    }

    /// Every list the axis holds, for validation.
    pub fn lists(&self) -> Vec<&[Value]> {
        match self {
            HeadAxis::Shared(values) => vec![values],
            HeadAxis::PerHead(per_head) => per_head.0.values().map(Vec::as_slice).collect(),
        }
    }
}
