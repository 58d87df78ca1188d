//! Reading and validating control-plane requests (`spec/api.md` 1.3, 2.0, 3.1).
//!
//! botocore checks only required members, types and minimums on the client, so every maximum,
//! pattern and enum is checked here, with full-match semantics. Unknown members are ignored and
//! `null` reads as absent. Every error is an `InvalidInputException` whose message starts with
//! the member's path (`solutionConfig.algorithmHyperParameters`).

use serde_json::{Map, Value};

use crate::http::ApiError;

pub(crate) use attune::api::MAX_ARN_CHARS;
/// The most tags a request may carry.
pub(crate) const MAX_TAGS: usize = 200;
/// The most results one List* page holds, and the default page size.
pub(crate) const MAX_RESULTS: usize = 100;
/// The longest `nextToken`.
const MAX_TOKEN_CHARS: usize = 1500;
/// What every page token starts with.
const TOKEN_PREFIX: &str = "v1.";

pub(crate) type Out<T> = Result<T, ApiError>;

/// An InvalidInputException naming a member.
pub(crate) fn invalid(path: &str, problem: impl std::fmt::Display) -> ApiError {
    ApiError::invalid(format!("{path}: {problem}"))
}

/// An error of another modelled type (all control-plane errors are 400).
pub(crate) fn error(kind: &'static str, message: impl Into<String>) -> ApiError {
    ApiError {
        status: hyper::StatusCode::BAD_REQUEST,
        kind,
        message: message.into(),
    }
}

/// A JSON object of the request (the body, or a nested structure) and its path.
#[derive(Debug, Clone)]
pub(crate) struct Obj<'a> {
    path: String,
    map: &'a Map<String, Value>,
}

/// The request body, parsed.
#[derive(Debug)]
pub(crate) struct Body(Map<String, Value>);

impl Body {
    /// Parses a body: a JSON object, or nothing (read as `{}`).
    pub(crate) fn parse(bytes: &[u8]) -> Out<Body> {
        if bytes.iter().all(u8::is_ascii_whitespace) {
            return Ok(Body(Map::new()));
        }
        match serde_json::from_slice::<Value>(bytes) {
            Ok(Value::Object(map)) => Ok(Body(map)),
            Ok(_) => Err(ApiError::invalid("the request body must be a JSON object")),
            Err(e) => Err(ApiError::invalid(format!(
                "the request body is not valid JSON: {e}"
            ))),
        }
    }

    /// The top-level object.
    pub(crate) fn obj(&self) -> Obj<'_> {
        Obj {
            path: String::new(),
            map: &self.0,
        }
    }
}

fn type_name(v: &Value) -> &'static str {
    match v {
        Value::Null => "null",
        Value::Bool(_) => "a boolean",
        Value::Number(_) => "a number",
        Value::String(_) => "a string",
        Value::Array(_) => "a list",
        Value::Object(_) => "an object",
    }
}

impl<'a> Obj<'a> {
    /// An object found inside a list, with its path (`eventsConfig.eventParametersList[0]`).
    pub(crate) fn nested(path: String, map: &'a Map<String, Value>) -> Obj<'a> {
        Obj { path, map }
    }

    /// The path of a member of this object.
    pub(crate) fn path_of(&self, field: &str) -> String {
        if self.path.is_empty() {
            field.to_owned()
        } else {
            format!("{}.{field}", self.path)
        }
    }

    fn get(&self, field: &str) -> Option<&'a Value> {
        self.map.get(field).filter(|v| !v.is_null())
    }

    fn wrong_type(&self, field: &str, expected: &str, found: &Value) -> ApiError {
        invalid(
            &self.path_of(field),
            format!("must be {expected}, found {}", type_name(found)),
        )
    }

    /// An optional string member.
    pub(crate) fn string(&self, field: &str) -> Out<Option<&'a str>> {
        match self.get(field) {
            None => Ok(None),
            Some(Value::String(s)) => Ok(Some(s)),
            Some(other) => Err(self.wrong_type(field, "a string", other)),
        }
    }

    /// A required string member.
    pub(crate) fn required_string(&self, field: &str) -> Out<&'a str> {
        self.string(field)?
            .ok_or_else(|| invalid(&self.path_of(field), "required"))
    }

    /// An optional string of `min..=max` characters.
    pub(crate) fn string_len(&self, field: &str, min: usize, max: usize) -> Out<Option<&'a str>> {
        let Some(s) = self.string(field)? else {
            return Ok(None);
        };
        check_len(&self.path_of(field), s, min, max)?;
        Ok(Some(s))
    }

    /// A required resource name: 1-63 characters, `[a-zA-Z0-9][a-zA-Z0-9\-_]*`.
    pub(crate) fn name(&self, field: &str) -> Out<&'a str> {
        let s = self.required_string(field)?;
        check_name(&self.path_of(field), s)?;
        Ok(s)
    }

    /// An optional resource name.
    pub(crate) fn opt_name(&self, field: &str) -> Out<Option<&'a str>> {
        let Some(s) = self.string(field)? else {
            return Ok(None);
        };
        check_name(&self.path_of(field), s)?;
        Ok(Some(s))
    }

    /// A required ARN (`arn:([a-z\d-]+):personalize:.*:.*:.+`, at most 256 characters).
    pub(crate) fn arn(&self, field: &str) -> Out<&'a str> {
        let s = self.required_string(field)?;
        check_arn(&self.path_of(field), s)?;
        Ok(s)
    }

    /// An optional ARN.
    pub(crate) fn opt_arn(&self, field: &str) -> Out<Option<&'a str>> {
        let Some(s) = self.string(field)? else {
            return Ok(None);
        };
        check_arn(&self.path_of(field), s)?;
        Ok(Some(s))
    }

    /// An optional IAM role ARN (`arn:([a-z\d-]+):iam::\d{12}:role/?[a-zA-Z_0-9+=,.@\-_/]+`).
    pub(crate) fn role_arn(&self, field: &str) -> Out<Option<&'a str>> {
        let Some(s) = self.string(field)? else {
            return Ok(None);
        };
        let path = self.path_of(field);
        check_len(&path, s, 0, MAX_ARN_CHARS)?;
        let ok = (|| {
            let rest = s.strip_prefix("arn:")?;
            let (partition, rest) = rest.split_once(':')?;
            let rest = rest.strip_prefix("iam::")?;
            let (account, rest) = rest.split_once(':')?;
            let role = rest.strip_prefix("role")?;
            let role = role.strip_prefix('/').unwrap_or(role);
            let good = is_partition(partition)
                && account.len() == 12
                && account.bytes().all(|b| b.is_ascii_digit())
                && !role.is_empty()
                && role
                    .chars()
                    .all(|c| c.is_ascii_alphanumeric() || "_+=,.@-/".contains(c));
            good.then_some(())
        })()
        .is_some();
        if !ok {
            return Err(invalid(
                &path,
                format!(
                    "{s:?} is not an IAM role ARN (arn:aws:iam::<12-digit account>:role/<name>)"
                ),
            ));
        }
        Ok(Some(s))
    }

    /// An optional KMS key ARN (`arn:aws.*:kms:.*:[0-9]{12}:key/.*`, at most 2048 characters).
    pub(crate) fn kms_key_arn(&self, field: &str) -> Out<Option<&'a str>> {
        let Some(s) = self.string(field)? else {
            return Ok(None);
        };
        let path = self.path_of(field);
        check_len(&path, s, 0, 2048)?;
        // Byte-wise (the pattern's anchors are ASCII), so no slice splits a character.
        let b = s.as_bytes();
        let kms_before = |end: usize| b[..end].windows(5).any(|w| w == b":kms:");
        let ok = s.starts_with("arn:aws")
            && s.match_indices(":key/").any(|(i, _)| {
                i >= 13
                    && b[i - 13] == b':'
                    && b[i - 12..i].iter().all(u8::is_ascii_digit)
                    && kms_before(i - 13)
            });
        if !ok || s.contains('\n') {
            return Err(invalid(
                &path,
                format!("{s:?} is not a KMS key ARN (arn:aws:kms:<region>:<account>:key/<id>)"),
            ));
        }
        Ok(Some(s))
    }

    /// An optional boolean member.
    pub(crate) fn boolean(&self, field: &str) -> Out<Option<bool>> {
        match self.get(field) {
            None => Ok(None),
            Some(Value::Bool(b)) => Ok(Some(*b)),
            Some(other) => Err(self.wrong_type(field, "a boolean", other)),
        }
    }

    /// An optional integer member within `min..=max`.
    pub(crate) fn integer(&self, field: &str, min: i64, max: i64) -> Out<Option<i64>> {
        let Some(v) = self.get(field) else {
            return Ok(None);
        };
        let path = self.path_of(field);
        let n = match v {
            Value::Number(n) => n
                .as_i64()
                .or_else(|| {
                    n.as_f64()
                        .filter(|f| f.fract() == 0.0 && f.abs() < 9e15)
                        .map(|f| f as i64)
                })
                .ok_or_else(|| invalid(&path, format!("must be an integer, found {n}")))?,
            other => return Err(self.wrong_type(field, "an integer", other)),
        };
        if n < min || n > max {
            return Err(invalid(&path, format!("must be {min}..{max}, found {n}")));
        }
        Ok(Some(n))
    }

    /// An optional number member within `min..=max`.
    pub(crate) fn number(&self, field: &str, min: f64, max: f64) -> Out<Option<f64>> {
        let Some(v) = self.get(field) else {
            return Ok(None);
        };
        let path = self.path_of(field);
        let n = match v {
            Value::Number(n) => n.as_f64().unwrap_or(f64::NAN),
            other => return Err(self.wrong_type(field, "a number", other)),
        };
        if !(min..=max).contains(&n) {
            return Err(invalid(&path, format!("must be {min}..{max}, found {n}")));
        }
        Ok(Some(n))
    }

    /// An optional member that must be one of `allowed` (exact spelling).
    pub(crate) fn one_of(
        &self,
        field: &str,
        allowed: &[&'static str],
    ) -> Out<Option<&'static str>> {
        let Some(s) = self.string(field)? else {
            return Ok(None);
        };
        allowed
            .iter()
            .find(|a| **a == s)
            .copied()
            .map(Some)
            .ok_or_else(|| {
                invalid(
                    &self.path_of(field),
                    format!("{s:?} is not one of {}", allowed.join(", ")),
                )
            })
    }

    /// An optional nested structure.
    pub(crate) fn object(&self, field: &str) -> Out<Option<Obj<'a>>> {
        match self.get(field) {
            None => Ok(None),
            Some(Value::Object(map)) => Ok(Some(Obj {
                path: self.path_of(field),
                map,
            })),
            Some(other) => Err(self.wrong_type(field, "an object", other)),
        }
    }

    /// An optional list member.
    pub(crate) fn list(&self, field: &str, max: usize) -> Out<Option<&'a [Value]>> {
        match self.get(field) {
            None => Ok(None),
            Some(Value::Array(items)) => {
                if items.len() > max {
                    return Err(invalid(
                        &self.path_of(field),
                        format!("at most {max} entries, found {}", items.len()),
                    ));
                }
                Ok(Some(items))
            }
            Some(other) => Err(self.wrong_type(field, "a list", other)),
        }
    }

    /// An optional string-to-string map (`ParamMap`: at most `max_entries`, keys 0..256 and
    /// values 0..1000 characters).
    pub(crate) fn string_map(
        &self,
        field: &str,
        max_entries: usize,
        max_key: usize,
        max_value: usize,
    ) -> Out<Option<std::collections::BTreeMap<String, String>>> {
        let map = match self.get(field) {
            None => return Ok(None),
            Some(Value::Object(map)) => map,
            Some(other) => return Err(self.wrong_type(field, "an object", other)),
        };
        let path = self.path_of(field);
        if map.len() > max_entries {
            return Err(invalid(
                &path,
                format!("at most {max_entries} entries, found {}", map.len()),
            ));
        }
        let mut out = std::collections::BTreeMap::new();
        for (k, v) in map {
            check_len(&format!("{path} key {k:?}"), k, 0, max_key)?;
            let Value::String(s) = v else {
                return Err(invalid(
                    &format!("{path}.{k}"),
                    format!("must be a string, found {}", type_name(v)),
                ));
            };
            check_len(&format!("{path}.{k}"), s, 0, max_value)?;
            out.insert(k.clone(), s.clone());
        }
        Ok(Some(out))
    }

    /// The members of this object.
    pub(crate) fn entries(&self) -> impl Iterator<Item = (&'a String, &'a Value)> {
        self.map.iter()
    }

    /// `tags`: at most [`MAX_TAGS`] `{tagKey, tagValue}` (TooManyTagsException beyond). Tags
    /// are accepted and not stored.
    pub(crate) fn tags(&self) -> Out<()> {
        let Some(v) = self.get("tags") else {
            return Ok(());
        };
        let Value::Array(tags) = v else {
            return Err(self.wrong_type("tags", "a list", v));
        };
        if tags.len() > MAX_TAGS {
            return Err(error(
                "TooManyTagsException",
                format!("tags: at most {MAX_TAGS} tags, found {}", tags.len()),
            ));
        }
        for (i, tag) in tags.iter().enumerate() {
            let path = format!("tags[{i}]");
            let Value::Object(map) = tag else {
                return Err(invalid(
                    &path,
                    format!("must be an object, found {}", type_name(tag)),
                ));
            };
            for (member, min, max) in [("tagKey", 1, 128), ("tagValue", 0, 256)] {
                let p = format!("{path}.{member}");
                let s = match map.get(member) {
                    Some(Value::String(s)) => s,
                    None | Some(Value::Null) => return Err(invalid(&p, "required")),
                    Some(other) => {
                        return Err(invalid(
                            &p,
                            format!("must be a string, found {}", type_name(other)),
                        ))
                    }
                };
                check_len(&p, s, min, max)?;
                let ok = s.chars().all(|c| {
                    c.is_alphabetic()
                        || c.is_numeric()
                        || (c.is_whitespace() && !c.is_control())
                        || "_.:/=+-@".contains(c)
                });
                if !ok {
                    return Err(invalid(
                        &p,
                        format!(
                            "{s:?} has a character outside letters, digits, spaces and _.:/=+-@"
                        ),
                    ));
                }
            }
        }
        Ok(())
    }

    /// `nextToken` and `maxResults`.
    pub(crate) fn page(&self) -> Out<Page> {
        let max = self
            .integer("maxResults", 1, MAX_RESULTS as i64)?
            .map_or(MAX_RESULTS, |n| n as usize);
        let after = match self.string("nextToken")? {
            None | Some("") => None,
            Some(token) => Some(decode_token(token).ok_or_else(|| {
                error(
                    "InvalidNextTokenException",
                    format!("nextToken: {token:?} is not a token this server issued"),
                )
            })?),
        };
        Ok(Page { max, after })
    }
}

/// Checks a length in characters.
pub(crate) fn check_len(path: &str, s: &str, min: usize, max: usize) -> Out<()> {
    let n = s.chars().count();
    if n < min || n > max {
        let bounds = if min == 0 {
            format!("at most {max}")
        } else {
            format!("{min}-{max}")
        };
        return Err(invalid(
            path,
            format!("must have {bounds} characters, found {n}"),
        ));
    }
    Ok(())
}

/// Checks a resource name: 1-63 characters, `[a-zA-Z0-9][a-zA-Z0-9\-_]*`.
pub(crate) fn check_name(path: &str, s: &str) -> Out<()> {
    let ok = (1..=63).contains(&s.len())
        && s.starts_with(|c: char| c.is_ascii_alphanumeric())
        && s.chars()
            .all(|c| c.is_ascii_alphanumeric() || c == '-' || c == '_');
    if ok {
        Ok(())
    } else {
        Err(invalid(
            path,
            format!(
                "{s:?} is not a valid name: names have 1-63 characters, start with a letter or \
                 digit and use only a-z, A-Z, 0-9, _ and -"
            ),
        ))
    }
}

fn is_partition(s: &str) -> bool {
    !s.is_empty()
        && s.bytes()
            .all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || b == b'-')
}

/// Checks an ARN: at most 256 characters and `arn:([a-z\d-]+):personalize:.*:.*:.+` (region and
/// account may be anything, so ARNs of any account and region are accepted).
pub(crate) fn check_arn(path: &str, s: &str) -> Out<()> {
    check_len(path, s, 0, MAX_ARN_CHARS)?;
    let ok = (|| {
        let rest = s.strip_prefix("arn:")?;
        let (partition, rest) = rest.split_once(':')?;
        let rest = rest.strip_prefix("personalize:")?;
        // `.*:.*:.+`: a second colon with at least one character after it.
        let first = rest.find(':')?;
        let second = first + 1 + rest[first + 1..].find(':')?;
        let good = is_partition(partition) && second + 1 < rest.len() && !s.contains('\n');
        good.then_some(())
    })()
    .is_some();
    if ok {
        Ok(())
    } else {
        Err(invalid(
            path,
            format!("{s:?} is not an Amazon Personalize ARN (arn:aws:personalize:<region>:<account>:<resource>)"),
        ))
    }
}

/// Where a List* page starts and how long it is.
#[derive(Debug, Clone, PartialEq)]
pub(crate) struct Page {
    /// Results per page (1-100, default 100).
    pub max: usize,
    /// The sort key of the last item of the previous page.
    pub after: Option<(f64, String)>,
}

/// The sort key of a listed resource: newest first, then by ARN.
pub(crate) trait Listed {
    /// Creation time (Unix seconds).
    fn created(&self) -> f64;
    /// The ARN (unique).
    fn arn(&self) -> &str;
}

fn before(a: (f64, &str), b: (f64, &str)) -> std::cmp::Ordering {
    // Newest first; ties by ARN ascending.
    b.0.total_cmp(&a.0).then_with(|| a.1.cmp(b.1))
}

/// Sorts `items` newest first and cuts one page; returns it and the next token (`None` on the
/// last page). Tokens carry the last item's key, so pages stay stable under inserts.
pub(crate) fn paginate<T: Listed>(mut items: Vec<T>, page: &Page) -> (Vec<T>, Option<String>) {
    items.sort_by(|a, b| before((a.created(), a.arn()), (b.created(), b.arn())));
    if let Some((t, arn)) = &page.after {
        items.retain(|x| before((x.created(), x.arn()), (*t, arn)) == std::cmp::Ordering::Greater);
    }
    let more = items.len() > page.max;
    items.truncate(page.max);
    let token = if more {
        items.last().map(|x| encode_token(x.created(), x.arn()))
    } else {
        None
    };
    (items, token)
}

fn encode_token(created: f64, arn: &str) -> String {
    let mut out = format!("{TOKEN_PREFIX}{:016x}.", created.to_bits());
    for b in arn.bytes() {
        out.push_str(&format!("{b:02x}"));
    }
    out
}

fn decode_token(token: &str) -> Option<(f64, String)> {
    if token.len() > MAX_TOKEN_CHARS {
        return None;
    }
    let rest = token.strip_prefix(TOKEN_PREFIX)?;
    let (bits, hex) = rest.split_once('.')?;
    if bits.len() != 16 || hex.len() % 2 != 0 {
        return None;
    }
    let created = f64::from_bits(u64::from_str_radix(bits, 16).ok()?);
    if !created.is_finite() {
        return None;
    }
    let bytes = (0..hex.len())
        .step_by(2)
        .map(|i| u8::from_str_radix(hex.get(i..i + 2)?, 16).ok())
        .collect::<Option<Vec<u8>>>()?;
    Some((created, String::from_utf8(bytes).ok()?))
}

/// A List* response: `{"<key>": [...], "nextToken"?}`.
pub(crate) fn list_response<T: Listed>(
    key: &str,
    items: Vec<T>,
    page: &Page,
    summary: impl Fn(&T) -> Value,
) -> Value {
    let (items, token) = paginate(items, page);
    let mut out = Map::new();
    out.insert(
        key.into(),
        Value::Array(items.iter().map(summary).collect()),
    );
    if let Some(token) = token {
        out.insert("nextToken".into(), Value::String(token));
    }
    Value::Object(out)
}

/// Keeps only the named members of a serialized object (a Describe shape cut to its Summary).
pub(crate) fn pick(value: &Value, members: &[&str]) -> Value {
    let mut out = Map::new();
    if let Value::Object(map) = value {
        for m in members {
            if let Some(v) = map.get(*m).filter(|v| !v.is_null()) {
                out.insert((*m).to_owned(), v.clone());
            }
        }
    }
    Value::Object(out)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn arns_follow_the_model_pattern() {
        for ok in [
            "arn:aws:personalize:us-east-1:123456789012:dataset-group/g",
            "arn:aws:personalize:local:000000000000:solution/s/$LATEST",
            "arn:aws:personalize:::recipe/aws-sims",
            "arn:aws-cn:personalize:cn-north-1:1:campaign/c",
        ] {
            assert!(check_arn("x", ok).is_ok(), "{ok}");
        }
        for bad in [
            "",
            "dataset-group/g",
            "arn:aws:s3:::bucket",
            "arn:AWS:personalize:r:a:x/y",
            "arn:aws:personalize:r:a:",
            "arn:aws:personalize:r",
        ] {
            let err = check_arn("datasetGroupArn", bad).unwrap_err();
            assert_eq!(err.kind, "InvalidInputException");
            assert!(
                err.message.starts_with("datasetGroupArn: "),
                "{}",
                err.message
            );
        }
        let long = format!("arn:aws:personalize:r:a:schema/{}", "a".repeat(240));
        assert!(check_arn("schemaArn", &long)
            .unwrap_err()
            .message
            .contains("at most 256"));
    }

    #[test]
    fn names_are_full_matched() {
        assert!(check_name("name", "a-b_C9").is_ok());
        for bad in ["", "-a", "ab c", "a.b", &"a".repeat(64)] {
            assert!(check_name("name", bad).is_err(), "{bad:?}");
        }
    }

    #[test]
    fn tokens_round_trip_and_reject_garbage() {
        let t = encode_token(1714564800.123, "arn:aws:personalize:local:0:schema/s");
        assert_eq!(
            decode_token(&t),
            Some((
                1714564800.123,
                "arn:aws:personalize:local:0:schema/s".into()
            ))
        );
        for bad in ["x", "v1.", "v1.00.zz", "v1.7ff0000000000000.61"] {
            assert_eq!(decode_token(bad), None, "{bad}");
        }
    }

    #[test]
    fn role_and_kms_arns() {
        let body = Body::parse(
            br#"{"roleArn": "arn:aws:iam::123456789012:role/personalize", "kmsKeyArn": "arn:aws:kms:us-east-1:123456789012:key/abc", "bad": "arn:aws:iam::12:role/x"}"#,
        )
        .unwrap();
        let o = body.obj();
        assert!(o.role_arn("roleArn").unwrap().is_some());
        assert!(o.kms_key_arn("kmsKeyArn").unwrap().is_some());
        assert!(o.role_arn("bad").is_err());
        assert!(o.kms_key_arn("roleArn").is_err());
        let body = Body::parse(
            r#"{"k": "arn:aws:kms:é:12345678901é:key/x", "k2": "arn:aws:kms::123456789012:key/"}"#
                .as_bytes(),
        )
        .unwrap();
        assert!(body.obj().kms_key_arn("k").is_err());
        assert!(body.obj().kms_key_arn("k2").unwrap().is_some());
    }
}
