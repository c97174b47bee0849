//! Grid axes that both heads have (`last_bias`, `input_dropout`, `weight_decay`): one list for both,
//! or a list per head, so that a sweep can be wide where it is cheap (the linear head trains in a
//! fraction of a second) and narrow where it is not.

use std::fmt;
use std::marker::PhantomData;

use serde::de::{self, MapAccess, SeqAccess, Visitor};
use serde::{Deserialize, Deserializer, Serialize};

use crate::experiment::HeadKind;

/// `[a, b]` for every head, or `{ mlp = [..], linear = [..] }`. A list serializes as it did before
/// per-head values existed, so older grids keep their config hash.
#[derive(Debug, Clone, PartialEq, Serialize)]
#[serde(untagged)]
pub enum HeadAxis<T> {
    Shared(Vec<T>),
    PerHead(PerHead<T>),
}

/// Values per head; a head left out gets the axis' default.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct PerHead<T> {
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub mlp: Option<Vec<T>>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub linear: Option<Vec<T>>,
}

impl<T> HeadAxis<T> {
    /// The values `head` is swept over; `None` when the axis leaves that head out.
    pub fn for_head(&self, head: HeadKind) -> Option<&[T]> {
        match self {
            HeadAxis::Shared(values) => Some(values),
            HeadAxis::PerHead(per_head) => match head {
                HeadKind::Mlp => per_head.mlp.as_deref(),
                HeadKind::Linear => per_head.linear.as_deref(),
            },
        }
    }

    /// Every list the axis holds, for validation.
    pub fn lists(&self) -> Vec<&[T]> {
        match self {
            HeadAxis::Shared(values) => vec![values],
            HeadAxis::PerHead(per_head) => [&per_head.mlp, &per_head.linear]
                .into_iter()
                .flatten()
                .map(Vec::as_slice)
                .collect(),
        }
    }

    /// Every value of every list.
    pub fn values(&self) -> impl Iterator<Item = &T> {
        self.lists().into_iter().flatten()
    }
}

/// By hand rather than `untagged`, whose error ("did not match any variant") says nothing useful.
impl<'de, T: Deserialize<'de>> Deserialize<'de> for HeadAxis<T> {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        struct AxisVisitor<T>(PhantomData<T>);
        impl<'de, T: Deserialize<'de>> Visitor<'de> for AxisVisitor<T> {
            type Value = HeadAxis<T>;

            fn expecting(&self, f: &mut fmt::Formatter) -> fmt::Result {
                f.write_str("a list of values, or a table of lists per head (`{ mlp = [..], linear = [..] }`)")
            }

            fn visit_seq<A: SeqAccess<'de>>(self, seq: A) -> Result<Self::Value, A::Error> {
                Vec::deserialize(de::value::SeqAccessDeserializer::new(seq)).map(HeadAxis::Shared)
            }

            fn visit_map<A: MapAccess<'de>>(self, mut map: A) -> Result<Self::Value, A::Error> {
                let mut per_head = PerHead {
                    mlp: None,
                    linear: None,
                };
                while let Some(head) = map.next_key::<String>()? {
                    let slot = match head.as_str() {
                        "mlp" => &mut per_head.mlp,
                        "linear" => &mut per_head.linear,
                        other => {
                            return Err(de::Error::custom(format!(
                                "unknown head `{other}` (a per-head axis takes `mlp` and `linear`)"
                            )));
                        }
                    };
                    if slot.is_some() {
                        return Err(de::Error::custom(format!("head `{head}` given twice")));
                    }
                    *slot = Some(map.next_value()?);
                }
                Ok(HeadAxis::PerHead(per_head))
            }
        }
        deserializer.deserialize_any(AxisVisitor(PhantomData))
    }
}
