//! The error every settings check returns: a value out of range, unreadable text.

/// A settings value that is out of range, or settings text that cannot be read.
#[derive(Clone, Debug, PartialEq, thiserror::Error)]
pub enum SettingsError {
    /// `field` holds `value`, which is not in `range`.
    #[error("{field} = {value}: must be {range}")]
    OutOfRange { field: &'static str, value: String, range: String },
    /// RON text that does not describe valid settings.
    #[error("planner settings could not be read: {0}")]
    Parse(String),
}

pub(crate) fn out_of_range(field: &'static str, value: impl ToString, range: impl ToString) -> SettingsError {
    SettingsError::OutOfRange { field, value: value.to_string(), range: range.to_string() }
}
