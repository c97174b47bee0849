//! Reading typed columns out of polars frames.

use polars::prelude::*;

use crate::error::ReportError;

pub(crate) fn strings(frame: &DataFrame, name: &str) -> Result<Vec<String>, ReportError> {
    let column = frame
        .column(name)
        .and_then(|c| c.cast(&DataType::String))
        .map_err(ReportError::table("reading a text column"))?;
    let ca = column
        .str()
        .map_err(ReportError::table("reading a text column"))?;
    Ok(ca
        .iter()
        .map(|v| v.unwrap_or_default().to_string())
        .collect())
}

pub(crate) fn f64s(frame: &DataFrame, name: &str) -> Result<Vec<f64>, ReportError> {
    let column = frame
        .column(name)
        .and_then(|c| c.cast(&DataType::Float64))
        .map_err(ReportError::table("reading a number column"))?;
    let ca = column
        .f64()
        .map_err(ReportError::table("reading a number column"))?;
    Ok(ca.iter().map(|v| v.unwrap_or(f64::NAN)).collect())
}

pub(crate) fn u64s(frame: &DataFrame, name: &str) -> Result<Vec<u64>, ReportError> {
    let column = frame
        .column(name)
        .and_then(|c| c.cast(&DataType::UInt64))
        .map_err(ReportError::table("reading a count column"))?;
    let ca = column
        .u64()
        .map_err(ReportError::table("reading a count column"))?;
    Ok(ca.iter().map(|v| v.unwrap_or(0)).collect())
}
