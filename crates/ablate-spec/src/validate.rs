//! What every section's validator shares: the error constructor that names the file and key, and
//! the checks more than one section makes.

use crate::error::SpecError;

/// Makes the error for `key` (e.g. `train.lr`) with `problem`, naming the experiment file.
pub(crate) type Invalid<'a> = dyn Fn(&str, String) -> SpecError + 'a;

/// An axis or list: non-empty and without repeats.
pub(crate) fn check_axis<T: PartialEq + std::fmt::Display>(
    values: &[T],
    key: &str,
    invalid: &Invalid,
) -> Result<(), SpecError> {
    if values.is_empty() {
        return Err(invalid(key, "must list at least one value".into()));
    }
    for (i, v) in values.iter().enumerate() {
        if values[..i].contains(v) {
            return Err(invalid(key, format!("lists {v} twice")));
        }
    }
    Ok(())
}

/// The held-out fractions of a split made here: each in (0, 1), and together leaving a training set.
pub(crate) fn check_fractions(
    val: Option<f64>,
    test: Option<f64>,
    invalid: &Invalid,
) -> Result<(), SpecError> {
    for (key, f) in [("data.val_fraction", val), ("data.test_fraction", test)] {
        if let Some(f) = f
            && !(f > 0.0 && f < 1.0)
        {
            return Err(invalid(key, format!("must be in (0, 1), got {f}")));
        }
    }
    if let (Some(v), Some(t)) = (val, test)
        && v + t >= 1.0
    {
        return Err(invalid(
            "data.test_fraction",
            format!("{t} with `data.val_fraction` = {v} leaves no training images"),
        ));
    }
    Ok(())
}
