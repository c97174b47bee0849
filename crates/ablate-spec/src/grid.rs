//! The `[grid]` section: the heads, one axis per switch of the vocabulary, the training sizes and
//! the seeds; its expansion into head variants.

use std::collections::BTreeMap;
use std::fmt;
use std::sync::LazyLock;

use serde::de::{self, DeserializeSeed, MapAccess, Visitor};
use serde::ser::SerializeMap;
use serde::{Deserialize, Deserializer, Serialize, Serializer};

use crate::axis::HeadAxis;
use crate::switch::{HeadKind, SWITCHES, Switch, Value};
use crate::value_serde::AxisSeed;
use crate::variant::HeadVariant;

/// The grid's axes; the cells are their product, except that axes a head does not have do not
/// multiply that head's cells.
#[derive(Debug, Clone, PartialEq)]
pub struct GridSpec {
    pub head: Vec<HeadKind>,
    /// The axes the file sets; a switch without one takes its default.
    pub axes: BTreeMap<Switch, HeadAxis>,
    pub train_per_class: Vec<usize>,
    pub seeds: Vec<u64>,
}

impl GridSpec {
    /// The values `head` is swept over for `switch`: the axis' list for that head, or the default.
    pub fn values(&self, switch: Switch, head: HeadKind) -> Vec<Value> {
        self.axes
            .get(&switch)
            .and_then(|axis| axis.for_head(head))
            .map_or_else(|| vec![switch.spec().default], <[Value]>::to_vec)
    }

    /// Whether the file sets an axis for `switch` other than its default alone.
    pub fn sweeps(&self, switch: Switch) -> bool {
        self.axes
            .get(&switch)
            .is_some_and(|axis| *axis != HeadAxis::Shared(vec![switch.spec().default]))
    }

    /// The distinct head variants, heads in the order of `head`, each the nested product of its
    /// switches' values in table order (earlier switches vary slowest). A switch that only matters
    /// with another (dropout's position) does not multiply the variants where that one is off.
    pub fn head_variants(&self) -> Vec<HeadVariant> {
        let mut variants = Vec::new();
        for &head in &self.head {
            let mut partial = vec![HeadVariant::new(head)];
            for switch in Switch::of(head) {
                let values = self.values(switch, head);
                let only_with = switch.spec().only_with;
                partial = partial
                    .into_iter()
                    .flat_map(|v| {
                        if only_with.is_some_and(|other| !v.is_active(other)) {
                            vec![v]
                        } else {
                            values.iter().map(|&x| v.with(switch, x)).collect()
                        }
                    })
                    .collect();
            }
            variants.extend(partial);
        }
        variants
    }
}

/// Canonical form (hashed): `head`, then every axis in table order, left out when it is the default
/// alone (so writing `relu = [true]` or leaving it out is the same experiment), then the sizes and
/// seeds.
impl Serialize for GridSpec {
    fn serialize<S: Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        let axes: Vec<(Switch, &HeadAxis)> = Switch::all()
            .filter(|s| self.sweeps(*s))
            .filter_map(|s| self.axes.get(&s).map(|a| (s, a)))
            .collect();
        let mut map = serializer.serialize_map(Some(3 + axes.len()))?;
        map.serialize_entry("head", &self.head)?;
        for (switch, axis) in axes {
            map.serialize_entry(switch.key(), axis)?;
        }
        map.serialize_entry("train_per_class", &self.train_per_class)?;
        map.serialize_entry("seeds", &self.seeds)?;
        map.end()
    }
}

/// The keys of `[grid]`, for "expected one of" in errors.
static GRID_KEYS: LazyLock<Vec<&'static str>> = LazyLock::new(|| {
    ["head", "train_per_class", "seeds"]
        .into_iter()
        .chain(SWITCHES.iter().map(|s| s.key))
        .collect()
});

enum GridKey {
    Head,
    TrainPerClass,
    Seeds,
    Axis(Switch),
}

/// Reads a key of `[grid]`; an unknown one is an error at the key (so toml names its line).
struct GridKeySeed;

impl<'de> DeserializeSeed<'de> for GridKeySeed {
    type Value = GridKey;

    fn deserialize<D: Deserializer<'de>>(self, deserializer: D) -> Result<GridKey, D::Error> {
        deserializer.deserialize_identifier(self)
    }
}

impl<'de> Visitor<'de> for GridKeySeed {
    type Value = GridKey;

    fn expecting(&self, f: &mut fmt::Formatter) -> fmt::Result {
        f.write_str("a grid key")
    }

    fn visit_str<E: de::Error>(self, key: &str) -> Result<GridKey, E> {
        Ok(match key {
            "head" => GridKey::Head,
            "train_per_class" => GridKey::TrainPerClass,
            "seeds" => GridKey::Seeds,
            other => GridKey::Axis(
                Switch::from_key(other)
                    .ok_or_else(|| de::Error::unknown_field(other, GRID_KEYS.as_slice()))?,
            ),
        })
    }
}

impl<'de> Deserialize<'de> for GridSpec {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        struct GridVisitor;
        impl<'de> Visitor<'de> for GridVisitor {
            type Value = GridSpec;

            fn expecting(&self, f: &mut fmt::Formatter) -> fmt::Result {
                f.write_str("the [grid] table")
            }

            fn visit_map<A: MapAccess<'de>>(self, mut map: A) -> Result<GridSpec, A::Error> {
                let mut head = None;
                let mut train_per_class = None;
                let mut seeds = None;
                let mut axes = BTreeMap::new();
                while let Some(key) = map.next_key_seed(GridKeySeed)? {
                    match key {
                        GridKey::Head => head = Some(map.next_value()?),
                        GridKey::TrainPerClass => train_per_class = Some(map.next_value()?),
                        GridKey::Seeds => seeds = Some(map.next_value()?),
                        GridKey::Axis(switch) => {
                            let axis = map.next_value_seed(AxisSeed(switch))?;
                            if axes.insert(switch, axis).is_some() {
                                return Err(de::Error::duplicate_field(switch.key()));
                            }
                        }
                    }
                }
                Ok(GridSpec {
                    head: head.ok_or_else(|| de::Error::missing_field("head"))?,
                    axes,
                    train_per_class: train_per_class
                        .ok_or_else(|| de::Error::missing_field("train_per_class"))?,
                    seeds: seeds.unwrap_or_else(|| vec![0]),
                })
            }
        }
        deserializer.deserialize_map(GridVisitor)
    }
}
