//! The search request extension `ext.personalize_request_parameters = {"user_id": string,
//! "context": {string: string}}`, with the Java side's rules and messages:
//!
//! - unknown member: `[personalize_request_parameters] unknown field [x]`;
//! - a member of the wrong JSON type: `[personalize_request_parameters] user_id doesn't support
//!   values of type: VALUE_NUMBER`;
//! - `user_id` absent or blank: `[user_id] required Personalize request parameter is missing`;
//! - a context value that is not a string: `[context] Personalize context value is not of type
//!   String. Invalid context value: 5`.
//!
//! A processor with weight 0 does not read the extension at all, so anonymous searches need no
//! user id there (Amazon's processor demands one even then).

use std::collections::BTreeMap;

use serde::{Deserialize, Serialize};
use serde_json::Value;

use crate::error::ConfigError;
use crate::java;
use crate::REQUEST_EXT;

/// The extension as written in the search body.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct RawRequestParameters {
    /// The user (required): a string.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub user_id: Option<Value>,
    /// Contextual metadata (optional): an object of strings.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub context: Option<Value>,
    /// Any other member: refused.
    #[serde(flatten)]
    pub other: BTreeMap<String, Value>,
}

/// The validated extension.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct RequestParameters {
    /// The user id (not blank).
    pub user_id: String,
    /// The context (empty when absent).
    pub context: BTreeMap<String, String>,
}

fn wrong_type(member: &str, v: &Value) -> ConfigError {
    ConfigError::other(format!(
        "[{REQUEST_EXT}] {member} doesn't support values of type: {}",
        java::token(v)
    ))
}

impl RequestParameters {
    /// Validates the extension.
    pub fn from_raw(raw: RawRequestParameters) -> Result<RequestParameters, ConfigError> {
        if let Some(k) = raw.other.keys().next() {
            return Err(ConfigError::other(format!(
                "[{REQUEST_EXT}] unknown field [{k}]"
            )));
        }
        let user_id = match raw.user_id {
            None | Some(Value::Null) => None,
            Some(Value::String(s)) => Some(s),
            Some(other) => return Err(wrong_type("user_id", &other)),
        };
        let context = match raw.context {
            None | Some(Value::Null) => serde_json::Map::new(),
            Some(Value::Object(m)) => m,
            Some(other) => return Err(wrong_type("context", &other)),
        };
        let user_id = user_id.filter(|u| !u.trim().is_empty()).ok_or_else(|| {
            ConfigError::property(
                "user_id",
                "required Personalize request parameter is missing",
            )
        })?;
        let context = context
            .into_iter()
            .map(|(k, v)| match v {
                Value::String(s) => Ok((k, s)),
                other => Err(ConfigError::property(
                    "context",
                    format!(
                        "Personalize context value is not of type String. Invalid context \
                         value: {}",
                        java::text(&other)
                    ),
                )),
            })
            .collect::<Result<_, _>>()?;
        Ok(RequestParameters { user_id, context })
    }

    /// The extension of a search body (`ext.personalize_request_parameters`), validated; `None`
    /// when the body has none.
    pub fn from_search_body(body: &Value) -> Result<Option<RequestParameters>, ConfigError> {
        let Some(ext) = body.get("ext").and_then(|e| e.get(REQUEST_EXT)) else {
            return Ok(None);
        };
        if !ext.is_object() {
            return Err(ConfigError::other(format!(
                "[{REQUEST_EXT}] Expected START_OBJECT but was: {}",
                java::token(ext)
            )));
        }
        let raw: RawRequestParameters = serde_json::from_value(ext.clone())
            .map_err(|e| ConfigError::other(format!("[{REQUEST_EXT}] {e}")))?;
        RequestParameters::from_raw(raw).map(Some)
    }
}
