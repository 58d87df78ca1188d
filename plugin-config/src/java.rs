//! How the Java side sees a JSON value: its class name and its `toString()`, for messages that
//! read like OpenSearch's, and `Double.parseDouble`.

use serde_json::Value;

/// The Java class OpenSearch's XContent parser makes of a JSON value.
pub(crate) fn java_type(v: &Value) -> &'static str {
    match v {
        Value::Null => "null",
        Value::Bool(_) => "java.lang.Boolean",
        Value::Number(n) => match n.as_i64() {
            Some(i) if i32::try_from(i).is_ok() => "java.lang.Integer",
            Some(_) => "java.lang.Long",
            None if n.is_u64() => "java.math.BigInteger",
            None => "java.lang.Double",
        },
        Value::String(_) => "java.lang.String",
        Value::Array(_) => "java.util.ArrayList",
        Value::Object(_) => "java.util.HashMap",
    }
}

/// The XContent token a JSON value starts with (ObjectParser's messages name it).
pub(crate) fn token(v: &Value) -> &'static str {
    match v {
        Value::Null => "VALUE_NULL",
        Value::Bool(_) => "VALUE_BOOLEAN",
        Value::Number(_) => "VALUE_NUMBER",
        Value::String(_) => "VALUE_STRING",
        Value::Array(_) => "START_ARRAY",
        Value::Object(_) => "START_OBJECT",
    }
}

/// `value.toString()`: a string as is, anything else as JSON.
pub(crate) fn text(v: &Value) -> String {
    match v {
        Value::String(s) => s.clone(),
        other => other.to_string(),
    }
}

/// `Double.parseDouble` for decimal text: surrounding characters up to U+0020 are trimmed and
/// one `d`/`D`/`f`/`F` suffix is allowed. (Java's hexadecimal form is not accepted.)
pub(crate) fn parse_double(s: &str) -> Option<f64> {
    let s = s.trim_matches(|c: char| c <= ' ');
    let s = match s.strip_suffix(['d', 'D', 'f', 'F']) {
        Some(rest) if rest.ends_with(|c: char| c.is_ascii_digit() || c == '.') => rest,
        _ => s,
    };
    // Rust also reads `inf` and `nan`, which Java spells `Infinity` and `NaN`.
    let plain = s.trim_start_matches(['+', '-']);
    if plain.eq_ignore_ascii_case("inf") || plain.eq_ignore_ascii_case("nan") {
        if plain != "NaN" {
            return None;
        }
    } else if plain.eq_ignore_ascii_case("infinity") && plain != "Infinity" {
        return None;
    }
    s.parse::<f64>().ok()
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn java_view_of_values() {
        assert_eq!(java_type(&json!("x")), "java.lang.String");
        assert_eq!(java_type(&json!(5)), "java.lang.Integer");
        assert_eq!(java_type(&json!(5_000_000_000_i64)), "java.lang.Long");
        assert_eq!(java_type(&json!(0.5)), "java.lang.Double");
        assert_eq!(java_type(&json!(true)), "java.lang.Boolean");
        assert_eq!(java_type(&json!([1])), "java.util.ArrayList");
        assert_eq!(java_type(&json!({})), "java.util.HashMap");
        assert_eq!(token(&json!(1)), "VALUE_NUMBER");
        assert_eq!(text(&json!("a b")), "a b");
        assert_eq!(text(&json!([1, 2])), "[1,2]");
    }

    #[test]
    fn parse_double_like_java() {
        for (s, v) in [
            ("0.3", 0.3),
            (" 0.3 ", 0.3),
            ("1", 1.0),
            ("+.5", 0.5),
            ("5.", 5.0),
            ("1e-1", 0.1),
            ("0.25d", 0.25),
            ("1F", 1.0),
            ("-0", 0.0),
        ] {
            assert_eq!(parse_double(s), Some(v), "{s}");
        }
        assert!(parse_double("NaN").unwrap().is_nan());
        assert_eq!(parse_double("-Infinity"), Some(f64::NEG_INFINITY));
        for s in ["", "abc", "0.3x", "inf", "nan", "infinity", "1,5", "d"] {
            assert_eq!(parse_double(s), None, "{s}");
        }
    }
}
