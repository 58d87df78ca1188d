//! The ground every handler stands on: errors in AWS's shape ([`error`]), a handler's
//! [`Failure`], and the request-body helpers (JSON parsing with the failing field named, length
//! and pattern checks, the API key comparison). It imports nothing from the rest of the server.

pub mod error;

use attune::api::MAX_ARN_CHARS;
use serde::Deserialize;

pub use error::{ApiError, Service};

/// A handler's failure: the error sent to the client, and for a server error the cause that is
/// logged (once, by the router) instead of being sent.
#[derive(Debug)]
pub struct Failure {
    /// What the client gets.
    pub api: ApiError,
    /// The logged cause of a 5xx.
    pub cause: Option<String>,
}

impl From<ApiError> for Failure {
    fn from(api: ApiError) -> Failure {
        Failure { api, cause: None }
    }
}

impl Failure {
    /// Maps an SDK error for a service; a server-side error keeps its cause for the log.
    pub fn sdk(service: Service, err: &attune::Error) -> Failure {
        let api = ApiError::from_sdk(service, err);
        let cause = api.is_server_error().then(|| err.to_string());
        Failure { api, cause }
    }

    /// A 500 with a logged cause.
    pub fn internal(cause: impl Into<String>) -> Failure {
        Failure {
            api: ApiError::internal(),
            cause: Some(cause.into()),
        }
    }
}

/// Parses a JSON request body. An error names the failing member (`inputList[2]: invalid
/// type ...`) and the position.
pub fn parse_json<'a, T: Deserialize<'a>>(body: &'a [u8]) -> Result<T, ApiError> {
    match serde_json::from_slice(body) {
        Ok(v) => Ok(v),
        Err(e) => {
            if body.iter().all(u8::is_ascii_whitespace) {
                return Err(ApiError::invalid(
                    "the request body is empty; expected a JSON object",
                ));
            }
            // Parse again, tracking the path, only on the error path.
            let mut de = serde_json::Deserializer::from_slice(body);
            let message = match serde_path_to_error::deserialize::<_, T>(&mut de) {
                Err(pe) => {
                    let path = pe.path().to_string();
                    if path == "." || path.is_empty() {
                        pe.inner().to_string()
                    } else {
                        format!("{path}: {}", pe.inner())
                    }
                }
                Ok(_) => e.to_string(),
            };
            Err(ApiError::invalid(format!(
                "invalid request body: {message}"
            )))
        }
    }
}

/// Whether `given` is the API key `key`, compared in constant time (no early exit on the first
/// differing byte).
pub(crate) fn key_matches(given: &[u8], key: &str) -> bool {
    given.len() == key.len()
        && given
            .iter()
            .zip(key.as_bytes())
            .fold(0u8, |acc, (a, b)| acc | (a ^ b))
            == 0
}

/// Appends a finite `f64` as serde_json writes it (zmij's shortest round-trip form, the
/// formatter serde_json itself calls), without going through a `Serializer`: the one float
/// writer of the response bodies.
pub fn push_f64(out: &mut Vec<u8>, x: f64) {
    out.extend_from_slice(zmij::Buffer::new().format_finite(x).as_bytes());
}

/// Checks a string's length in characters ([`attune::record::check_chars`], the SDK's rule).
pub fn check_chars(what: &str, s: &str, min: usize, max: usize) -> Result<(), ApiError> {
    attune::record::check_chars(what, s, min, max).map_err(|e| ApiError::invalid(e.to_string()))
}

/// Checks an ARN: at most 256 characters matching `arn:([a-z\d-]+):personalize:.*:.*:.+`.
pub fn check_arn(what: &str, arn: &str) -> Result<(), ApiError> {
    check_chars(what, arn, 1, MAX_ARN_CHARS)?;
    let ok = arn
        .strip_prefix("arn:")
        .and_then(|rest| rest.split_once(':'))
        .filter(|(partition, _)| {
            !partition.is_empty()
                && partition
                    .bytes()
                    .all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || b == b'-')
        })
        .and_then(|(_, rest)| rest.strip_prefix("personalize:"))
        .and_then(|rest| rest.split_once(':'))
        .and_then(|(_, rest)| rest.split_once(':'))
        .is_some_and(|(_, resource)| !resource.is_empty());
    if !ok {
        return Err(ApiError::invalid(format!(
            "{what}: {arn:?} is not a Personalize ARN (arn:aws:personalize:<region>:<account>:<resource>)"
        )));
    }
    Ok(())
}

/// Checks that every character is in `[A-Za-z0-9_]`.
pub fn check_word(what: &str, s: &str) -> Result<(), ApiError> {
    if s.bytes().all(|b| b.is_ascii_alphanumeric() || b == b'_') {
        Ok(())
    } else {
        Err(ApiError::invalid(format!(
            "{what}: {s:?} may contain only letters, digits and _"
        )))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[derive(Debug, Deserialize)]
    #[serde(rename_all = "camelCase")]
    #[allow(dead_code)]
    struct Req {
        input_list: Vec<String>,
    }

    #[test]
    fn json_errors_name_the_member_and_position() {
        let e = parse_json::<Req>(br#"{"inputList": ["a", 5]}"#).unwrap_err();
        assert_eq!(e.kind, "InvalidInputException");
        assert!(
            e.message.contains("inputList[1]: invalid type"),
            "{}",
            e.message
        );
        assert!(e.message.contains("column"), "{}", e.message);
        let e = parse_json::<Req>(br#"{"inputList": ["a""#).unwrap_err();
        assert!(e.message.contains("line 1 column"), "{}", e.message);
        let e = parse_json::<Req>(b"  ").unwrap_err();
        assert!(e.message.contains("empty"), "{}", e.message);
        let e = parse_json::<Req>(b"{}").unwrap_err();
        assert!(
            e.message.contains("missing field `inputList`"),
            "{}",
            e.message
        );
    }

    #[test]
    fn lengths_and_patterns() {
        assert!(check_chars("x", "abc", 1, 3).is_ok());
        assert!(check_chars("x", "", 1, 3).is_err());
        assert!(check_chars("x", "abcd", 1, 3).is_err());
        assert!(check_chars("x", "ééé", 1, 3).is_ok());
        assert!(check_arn("a", "arn:aws:personalize:local:000000000000:campaign/c").is_ok());
        assert!(check_arn("a", "arn:aws:personalize:::campaign/c").is_ok());
        for bad in [
            "campaign/c",
            "arn:aws:s3:::b",
            "arn:AWS:personalize:x:y:z",
            "arn:aws:personalize:x:y:",
        ] {
            assert!(check_arn("a", bad).is_err(), "{bad}");
        }
        assert!(check_word("k", "DEVICE_type1").is_ok());
        assert!(check_word("k", "bad-key").is_err());
    }
}
