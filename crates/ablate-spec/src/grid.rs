//! The `[grid]` section: the heads, one axis per switch of the vocabulary, the training sizes and
//! the seeds; its expansion into head variants.

use std::collections::BTreeMap;
use std::fmt;
use std::sync::LazyLock;

use serde::de::{self, DeserializeSeed, MapAccess, Visitor};
use serde::ser::SerializeMap;
use serde::{Deserialize, Deserializer, Serialize, Serializer};

use crate::axis::HeadAxis;
use crate::error::SpecError;
use crate::heads::HeadKind;
use crate::switch::{SWITCHES, Switch, Value};
use crate::train::TrainSpec;
use crate::validate::{Invalid, check_axis};
use crate::value_serde::AxisSeed;
use crate::variant::HeadVariant;

/// The grid's axes; the cells are their product, except that axes a head does not have do not
/// multiply that head's cells. `also` adds the products of more blocks (`[[grid.also]]`), with the
/// same sizes and seeds: a sweep that only makes sense for some variants (model1's training budget,
/// model2's converged fit) stays small instead of multiplying the whole grid.
#[derive(Debug, Clone, PartialEq)]
pub struct GridSpec {
    pub head: Vec<HeadKind>,
    /// The axes the file sets; a switch without one takes its default.
    pub axes: BTreeMap<Switch, HeadAxis>,
    pub also: Vec<GridBlock>,
    pub train_per_class: Vec<usize>,
    pub seeds: Vec<u64>,
}

/// One `[[grid.also]]` block: heads and axes, with the grid's sizes and seeds. Axes it leaves out
/// take their defaults (not the main grid's values), so a block reads on its own.
#[derive(Debug, Clone, PartialEq)]
pub struct GridBlock {
    pub head: Vec<HeadKind>,
    pub axes: BTreeMap<Switch, HeadAxis>,
}

impl GridBlock {
    /// The values `head` is swept over for `switch` in this block: the axis' list for that head, or
    /// the default.
    pub fn values(&self, switch: Switch, head: HeadKind) -> Vec<Value> {
        self.axes
            .get(&switch)
            .and_then(|axis| axis.for_head(head))
            .map_or_else(|| vec![switch.spec().default_for(head)], <[Value]>::to_vec)
    }

    /// Whether the block sets an axis for `switch` other than its default alone. A head whose
    /// preset has another value (fastai's dropout 0.5) makes `[default]` a setting of its own.
    pub fn sweeps(&self, switch: Switch) -> bool {
        let spec = switch.spec();
        self.axes.get(&switch).is_some_and(|axis| {
            *axis != HeadAxis::Shared(vec![spec.default])
                || self
                    .head
                    .iter()
                    .any(|&h| spec.has(h) && spec.default_for(h) != spec.default)
        })
    }

    /// The block's head variants, heads in the order of `head`, each the nested product of its
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

    /// Canonical entries: `head`, then every axis in table order, left out when it is the default
    /// alone.
    fn serialize_entries<M: SerializeMap>(&self, map: &mut M) -> Result<(), M::Error> {
        map.serialize_entry("head", &self.head)?;
        for switch in Switch::all().filter(|s| self.sweeps(*s)) {
            if let Some(axis) = self.axes.get(&switch) {
                map.serialize_entry(switch.key(), axis)?;
            }
        }
        Ok(())
    }
}

impl Serialize for GridBlock {
    fn serialize<S: Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        let mut map = serializer.serialize_map(None)?;
        self.serialize_entries(&mut map)?;
        map.end()
    }
}

impl GridSpec {
    /// The main block (`head` and the axes of `[grid]` itself).
    pub fn main(&self) -> GridBlock {
        GridBlock {
            head: self.head.clone(),
            axes: self.axes.clone(),
        }
    }

    /// The main block, then the `also` blocks.
    pub fn blocks(&self) -> Vec<GridBlock> {
        std::iter::once(self.main())
            .chain(self.also.iter().cloned())
            .collect()
    }

    /// The heads of any block, in order of first appearance.
    pub fn heads(&self) -> Vec<HeadKind> {
        let mut heads: Vec<HeadKind> = Vec::new();
        for block in self.blocks() {
            for h in block.head {
                if !heads.contains(&h) {
                    heads.push(h);
                }
            }
        }
        heads
    }

    /// Every value `head` takes for `switch` in any block that has the head, in order of first
    /// appearance.
    pub fn values(&self, switch: Switch, head: HeadKind) -> Vec<Value> {
        let mut values: Vec<Value> = Vec::new();
        for block in self.blocks().iter().filter(|b| b.head.contains(&head)) {
            for v in block.values(switch, head) {
                if !values.contains(&v) {
                    values.push(v);
                }
            }
        }
        if values.is_empty() {
            values.push(switch.spec().default_for(head));
        }
        values
    }

    /// Whether any block sets an axis for `switch` other than its default alone.
    pub fn sweeps(&self, switch: Switch) -> bool {
        self.blocks().iter().any(|b| b.sweeps(switch))
    }

    /// The distinct head variants: the main block's, then each `also` block's that are new, each in
    /// its block's nested order.
    pub fn head_variants(&self) -> Vec<HeadVariant> {
        let mut variants: Vec<HeadVariant> = Vec::new();
        for block in self.blocks() {
            for v in block.head_variants() {
                if !variants.contains(&v) {
                    variants.push(v);
                }
            }
        }
        variants
    }
}

/// Canonical form (hashed): `head`, then every axis in table order, left out when it is the default
/// alone (so writing `relu = [true]` or leaving it out is the same experiment), then the sizes and
/// seeds.
impl Serialize for GridSpec {
    fn serialize<S: Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        let mut map = serializer.serialize_map(None)?;
        self.main().serialize_entries(&mut map)?;
        // Left out when empty, so a grid without blocks hashes as it did before blocks existed.
        if !self.also.is_empty() {
            map.serialize_entry("also", &self.also)?;
        }
        map.serialize_entry("train_per_class", &self.train_per_class)?;
        map.serialize_entry("seeds", &self.seeds)?;
        map.end()
    }
}

/// The keys of `[grid]`, for "expected one of" in errors.
static GRID_KEYS: LazyLock<Vec<&'static str>> = LazyLock::new(|| {
    ["head", "also", "train_per_class", "seeds"]
        .into_iter()
        .chain(SWITCHES.iter().map(|s| s.key))
        .collect()
});

enum GridKey {
    Head,
    Also,
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
            "also" => GridKey::Also,
            "train_per_class" => GridKey::TrainPerClass,
            "seeds" => GridKey::Seeds,
            other => GridKey::Axis(
                Switch::from_key(other)
                    .ok_or_else(|| de::Error::unknown_field(other, GRID_KEYS.as_slice()))?,
            ),
        })
    }
}

/// Reads the value of an axis key into `axes`; a key given twice is an error.
fn read_axis<'de, A: MapAccess<'de>>(
    map: &mut A,
    axes: &mut BTreeMap<Switch, HeadAxis>,
    switch: Switch,
) -> Result<(), A::Error> {
    let axis = map.next_value_seed(AxisSeed(switch))?;
    if axes.insert(switch, axis).is_some() {
        return Err(de::Error::duplicate_field(switch.key()));
    }
    Ok(())
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
                let mut also = Vec::new();
                let mut train_per_class = None;
                let mut seeds = None;
                let mut axes = BTreeMap::new();
                while let Some(key) = map.next_key_seed(GridKeySeed)? {
                    match key {
                        GridKey::Head => head = Some(map.next_value()?),
                        GridKey::Also => also = map.next_value()?,
                        GridKey::TrainPerClass => train_per_class = Some(map.next_value()?),
                        GridKey::Seeds => seeds = Some(map.next_value()?),
                        GridKey::Axis(switch) => read_axis(&mut map, &mut axes, switch)?,
                    }
                }
                Ok(GridSpec {
                    head: head.ok_or_else(|| de::Error::missing_field("head"))?,
                    axes,
                    also,
                    train_per_class: train_per_class
                        .ok_or_else(|| de::Error::missing_field("train_per_class"))?,
                    seeds: seeds.unwrap_or_else(|| vec![0]),
                })
            }
        }
        deserializer.deserialize_map(GridVisitor)
    }
}

impl<'de> Deserialize<'de> for GridBlock {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        struct BlockVisitor;
        impl<'de> Visitor<'de> for BlockVisitor {
            type Value = GridBlock;

            fn expecting(&self, f: &mut fmt::Formatter) -> fmt::Result {
                f.write_str("a [[grid.also]] block")
            }

            fn visit_map<A: MapAccess<'de>>(self, mut map: A) -> Result<GridBlock, A::Error> {
                let mut head = None;
                let mut axes = BTreeMap::new();
                while let Some(key) = map.next_key_seed(GridKeySeed)? {
                    match key {
                        GridKey::Head => head = Some(map.next_value()?),
                        GridKey::Axis(switch) => read_axis(&mut map, &mut axes, switch)?,
                        GridKey::Also | GridKey::TrainPerClass | GridKey::Seeds => {
                            return Err(de::Error::custom(
                                "a [[grid.also]] block takes `head` and axes; it shares the \
                                 grid's `train_per_class` and `seeds` (the paired design needs them \
                                 equal)",
                            ));
                        }
                    }
                }
                Ok(GridBlock {
                    head: head.ok_or_else(|| de::Error::missing_field("head"))?,
                    axes,
                })
            }
        }
        deserializer.deserialize_map(BlockVisitor)
    }
}

impl GridSpec {
    /// Every block's axes (non-empty, no repeats, values in range, not also set in `[train]`) and
    /// the sizes and seeds.
    pub(crate) fn validate(&self, train: &TrainSpec, invalid: &Invalid) -> Result<(), SpecError> {
        let g = self;
        for (i, block) in g.blocks().iter().enumerate() {
            let prefix = if i == 0 {
                "grid".to_string()
            } else {
                format!("grid.also[{}]", i - 1)
            };
            block.validate(&prefix, train, invalid)?;
        }
        check_axis(&g.train_per_class, "grid.train_per_class", invalid)?;
        check_axis(&g.seeds, "grid.seeds", invalid)?;
        if g.train_per_class.contains(&0) {
            return Err(invalid(
                "grid.train_per_class",
                "values must be at least 1".into(),
            ));
        }
        Ok(())
    }
}

impl GridBlock {
    fn validate(
        &self,
        prefix: &str,
        train: &TrainSpec,
        invalid: &Invalid,
    ) -> Result<(), SpecError> {
        let block = self;
        check_axis(&block.head, &format!("{prefix}.head"), invalid)?;
        for (&switch, axis) in &block.axes {
            let spec = switch.spec();
            let key = format!("{prefix}.{}", spec.key);
            for values in axis.lists() {
                check_axis(values, &key, invalid)?;
                for &value in values {
                    if value == Value::Unset {
                        return Err(invalid(&key, "values must be set".into()));
                    }
                    spec.check(value).map_err(|e| invalid(&key, e.0))?;
                }
            }
            // An axis no head of the block has would act on nothing: refused, with the layers of
            // each head, rather than ignored.
            if !block.head.iter().any(|&h| spec.has(h)) {
                let why: Vec<String> = block.head.iter().map(|&h| spec.absent_from(h)).collect();
                return Err(invalid(&key, why.join("; ")));
            }
            if let Some(fallback) = spec.fallback
                && train.is_set(fallback)
            {
                return Err(invalid(
                    &key,
                    format!("and `train.{fallback}` are both set; keep one"),
                ));
            }
        }
        // The converged fit is full-batch and deterministic: a step budget or a per-step dropout
        // mask would be silently ignored.
        for variant in block.head_variants().iter().filter(|v| v.converged()) {
            for switch in [Switch::Lr, Switch::Epochs, Switch::InputDropout] {
                if variant.is_active(switch) {
                    return Err(invalid(
                        &format!("{prefix}.{}", switch.key()),
                        format!(
                            "means nothing with `fit = \"lbfgs\"` (full-batch L-BFGS to \
                             convergence): sweep it in another block ({})",
                            variant.name()
                        ),
                    ));
                }
            }
        }
        Ok(())
    }
}
