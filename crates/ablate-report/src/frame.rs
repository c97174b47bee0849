//! Reading typed columns out of polars frames. A missing value (null) in a text or count column is
//! an error naming the column and row, never read as "" or 0: a count of 0 or an empty variant name
//! would give a wrong number, not a failed report. Numbers read a null as NaN, which every
//! statistic propagates and every table prints as missing; text where empty means "not recorded"
//! (a hash) is read with [`optional_strings`].

use polars::prelude::*;

use crate::error::ReportError;

fn column(frame: &DataFrame, name: &str, to: DataType) -> Result<Column, ReportError> {
    frame
        .column(name)
        .and_then(|c| c.cast(&to))
        .map_err(ReportError::table("reading a column"))
}

fn required<T>(values: impl Iterator<Item = Option<T>>, name: &str) -> Result<Vec<T>, ReportError> {
    values
        .enumerate()
        .map(|(row, v)| {
            v.ok_or_else(|| ReportError::Missing {
                column: name.to_string(),
                row,
            })
        })
        .collect()
}

pub(crate) fn optional_strings(
    frame: &DataFrame,
    name: &str,
) -> Result<Vec<Option<String>>, ReportError> {
    let column = column(frame, name, DataType::String)?;
    let ca = column
        .str()
        .map_err(ReportError::table("reading a text column"))?;
    Ok(ca.iter().map(|v| v.map(str::to_string)).collect())
}

pub(crate) fn strings(frame: &DataFrame, name: &str) -> Result<Vec<String>, ReportError> {
    required(optional_strings(frame, name)?.into_iter(), name)
}

pub(crate) fn f64s(frame: &DataFrame, name: &str) -> Result<Vec<f64>, ReportError> {
    let column = column(frame, name, DataType::Float64)?;
    let ca = column
        .f64()
        .map_err(ReportError::table("reading a number column"))?;
    Ok(ca.iter().map(|v| v.unwrap_or(f64::NAN)).collect())
}

pub(crate) fn u64s(frame: &DataFrame, name: &str) -> Result<Vec<u64>, ReportError> {
    let column = column(frame, name, DataType::UInt64)?;
    let ca = column
        .u64()
        .map_err(ReportError::table("reading a count column"))?;
    required(ca.iter(), name)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_missing_count_or_text_names_its_column_and_row() {
        let frame = df!(
            "n" => [Some(3u64), None],
            "variant" => [Some("linear-last1"), None],
            "acc" => [Some(0.5f64), None],
        )
        .unwrap();
        let err = u64s(&frame, "n").unwrap_err().to_string();
        assert!(err.contains("`n`") && err.contains("row 1"), "{err}");
        let err = strings(&frame, "variant").unwrap_err().to_string();
        assert!(err.contains("`variant`") && err.contains("row 1"), "{err}");
        assert_eq!(
            optional_strings(&frame, "variant").unwrap(),
            [Some("linear-last1".to_string()), None]
        );
        let acc = f64s(&frame, "acc").unwrap();
        assert_eq!(acc[0], 0.5);
        assert!(acc[1].is_nan());
    }
}
