//! Reading and writing switch values: each read is checked against its switch's kind, so a wrong
//! type or an unknown word is an error at the key (toml adds its line).

use std::fmt;

use serde::de::{self, DeserializeSeed, MapAccess, SeqAccess, Visitor};
use serde::{Deserializer, Serialize, Serializer};

use crate::axis::{HeadAxis, PerHead};
use crate::heads::HeadKind;
use crate::switch::{Kind, Switch, Value};

/// A value as its plain TOML/JSON scalar: a bool, a number, a string (`Unset` as null).
pub(crate) struct Plain(pub Value);

impl Serialize for Plain {
    fn serialize<S: Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        match self.0 {
            Value::Flag(b) => serializer.serialize_bool(b),
            Value::Number(x) => serializer.serialize_f64(x),
            Value::Word(w) => serializer.serialize_str(w),
            Value::Unset => serializer.serialize_none(),
        }
    }
}

impl Serialize for Value {
    fn serialize<S: Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        Plain(*self).serialize(serializer)
    }
}

/// Reads one value of `switch`.
#[derive(Clone, Copy)]
pub(crate) struct ValueSeed(pub Switch);

impl<'de> DeserializeSeed<'de> for ValueSeed {
    type Value = Value;

    fn deserialize<D: Deserializer<'de>>(self, deserializer: D) -> Result<Value, D::Error> {
        deserializer.deserialize_any(self)
    }
}

impl<'de> Visitor<'de> for ValueSeed {
    type Value = Value;

    fn expecting(&self, f: &mut fmt::Formatter) -> fmt::Result {
        write!(f, "{} for `{}`", self.0.spec().expecting(), self.0.key())
    }

    fn visit_bool<E: de::Error>(self, b: bool) -> Result<Value, E> {
        match self.0.spec().kind {
            Kind::Flag => Ok(Value::Flag(b)),
            _ => Err(de::Error::invalid_type(de::Unexpected::Bool(b), &self)),
        }
    }

    fn visit_f64<E: de::Error>(self, x: f64) -> Result<Value, E> {
        match self.0.spec().kind {
            Kind::Number(_) => Ok(Value::Number(x)),
            _ => Err(de::Error::invalid_type(de::Unexpected::Float(x), &self)),
        }
    }

    fn visit_i64<E: de::Error>(self, x: i64) -> Result<Value, E> {
        match self.0.spec().kind {
            Kind::Number(_) => Ok(Value::Number(x as f64)),
            _ => Err(de::Error::invalid_type(de::Unexpected::Signed(x), &self)),
        }
    }

    fn visit_u64<E: de::Error>(self, x: u64) -> Result<Value, E> {
        match self.0.spec().kind {
            Kind::Number(_) => Ok(Value::Number(x as f64)),
            _ => Err(de::Error::invalid_type(de::Unexpected::Unsigned(x), &self)),
        }
    }

    fn visit_str<E: de::Error>(self, text: &str) -> Result<Value, E> {
        let spec = self.0.spec();
        match spec.kind {
            Kind::Word(words) => spec
                .word(text)
                .map(|w| Value::Word(w.value))
                .ok_or_else(|| {
                    let expected: Vec<&str> = words.iter().map(|w| w.value).collect();
                    de::Error::custom(format!(
                        "unknown value `{text}` for `{}`, expected {}",
                        spec.key,
                        expected
                            .iter()
                            .map(|w| format!("`{w}`"))
                            .collect::<Vec<_>>()
                            .join(" or ")
                    ))
                }),
            _ => Err(de::Error::invalid_type(de::Unexpected::Str(text), &self)),
        }
    }

    fn visit_none<E: de::Error>(self) -> Result<Value, E> {
        match self.0.spec().fallback {
            Some(_) => Ok(Value::Unset),
            None => Err(de::Error::invalid_type(de::Unexpected::Option, &self)),
        }
    }

    fn visit_unit<E: de::Error>(self) -> Result<Value, E> {
        self.visit_none()
    }
}

/// Reads a list of values of one switch.
struct ListSeed(Switch);

impl<'de> DeserializeSeed<'de> for ListSeed {
    type Value = Vec<Value>;

    fn deserialize<D: Deserializer<'de>>(self, deserializer: D) -> Result<Vec<Value>, D::Error> {
        deserializer.deserialize_seq(self)
    }
}

impl<'de> Visitor<'de> for ListSeed {
    type Value = Vec<Value>;

    fn expecting(&self, f: &mut fmt::Formatter) -> fmt::Result {
        write!(f, "a list of {}", self.0.spec().expecting())
    }

    fn visit_seq<A: SeqAccess<'de>>(self, mut seq: A) -> Result<Vec<Value>, A::Error> {
        let mut values = Vec::new();
        while let Some(v) = seq.next_element_seed(ValueSeed(self.0))? {
            values.push(v);
        }
        Ok(values)
    }
}

/// Reads an axis: `[a, b]` for every head, or `{ mlp = [..], linear = [..] }`.
#[derive(Clone, Copy)]
pub(crate) struct AxisSeed(pub Switch);

impl<'de> DeserializeSeed<'de> for AxisSeed {
    type Value = HeadAxis;

    fn deserialize<D: Deserializer<'de>>(self, deserializer: D) -> Result<HeadAxis, D::Error> {
        deserializer.deserialize_any(self)
    }
}

impl<'de> Visitor<'de> for AxisSeed {
    type Value = HeadAxis;

    fn expecting(&self, f: &mut fmt::Formatter) -> fmt::Result {
        write!(
            f,
            "a list of {}, or a table of lists per head (`{{ mlp = [..], linear = [..] }}`)",
            self.0.spec().expecting()
        )
    }

    fn visit_seq<A: SeqAccess<'de>>(self, seq: A) -> Result<HeadAxis, A::Error> {
        ListSeed(self.0).visit_seq(seq).map(HeadAxis::Shared)
    }

    fn visit_map<A: MapAccess<'de>>(self, mut map: A) -> Result<HeadAxis, A::Error> {
        let spec = self.0.spec();
        let mut per_head = PerHead::default();
        while let Some(head) = map.next_key::<String>()? {
            let kind = HeadKind::from_word(&head).ok_or_else(|| {
                de::Error::custom(format!(
                    "unknown head `{head}` (a per-head axis takes {})",
                    HeadKind::words()
                ))
            })?;
            if !spec.has(kind) {
                return Err(de::Error::custom(spec.absent_from(kind)));
            }
            if per_head.0.contains_key(&kind) {
                return Err(de::Error::custom(format!("head `{head}` given twice")));
            }
            let values = map.next_value_seed(ListSeed(self.0))?;
            per_head.0.insert(kind, values);
        }
        Ok(HeadAxis::PerHead(per_head))
    }
}
