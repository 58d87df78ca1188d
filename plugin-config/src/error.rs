//! The one error type: a configuration error as OpenSearch reports it.

/// A bad processor configuration or request extension. The message is what OpenSearch shows:
/// `[property] reason` when a property is at fault (`[weight] required property is missing`),
/// else the reason alone.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{message}")]
pub struct ConfigError {
    /// The property at fault (`weight`, `campaign_arn`, ...), if any.
    pub property: Option<String>,
    /// The whole message.
    pub message: String,
}

impl ConfigError {
    /// An error about one property: `[property] reason`.
    pub fn property(property: &str, reason: impl std::fmt::Display) -> ConfigError {
        ConfigError {
            property: Some(property.to_owned()),
            message: format!("[{property}] {reason}"),
        }
    }

    /// An error not tied to one property.
    pub fn other(message: impl Into<String>) -> ConfigError {
        ConfigError {
            property: None,
            message: message.into(),
        }
    }
}
