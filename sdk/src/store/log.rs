//! The PUT partition's append-only log (placeholder: being written).

use apache_avro::types::Value;

use super::Dataset;
use crate::error::Result;

/// Reads every record of the dataset's PUT log in append order.
pub(crate) fn scan(
    _dataset: &Dataset,
    _f: impl FnMut(u64, &[Value]) -> Result<()>,
) -> Result<()> {
    Ok(())
}
