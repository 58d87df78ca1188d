//! Values of one schema field: the cell encoding of bulk CSV (`spec/data.md` 3.2) and the
//! value-level limits of section 2.6, shared by bulk import and individual records.
//!
//! A cell becomes an [`apache_avro::types::Value`] of the field's primitive type (or
//! `Value::Null`); [`to_avro_field`] wraps it in the field's union branch for writing.

use apache_avro::types::Value;

use crate::schema::{
    Field, FieldType, MAX_CATEGORICAL_CHARS, MAX_ID_CHARS, MAX_TEXTUAL_CHARS,
    MAX_TEXTUAL_CJK_CHARS,
};

/// Parses one (already unquoted and trimmed) cell for a field. An empty cell is null. The error
/// is a message without position; the caller adds row and column.
pub fn parse_cell(field: &Field, raw: &str) -> Result<Value, String> {
    if raw.is_empty() {
        return if field.nullable {
            Ok(Value::Null)
        } else {
            Err("empty value in a field that does not allow null".to_owned())
        };
    }
    match field.ty {
        FieldType::String => parse_string(field, raw).map(Value::String),
        FieldType::Int => raw
            .parse::<i32>()
            .map(Value::Int)
            .map_err(|_| format!("{raw:?} is not an int")),
        FieldType::Long => {
            let v = raw.parse::<i64>().map_err(|_| {
                if is_timestamp(field) {
                    format!("{raw:?} is not a Unix timestamp in whole seconds")
                } else {
                    format!("{raw:?} is not a long")
                }
            })?;
            check_long(field, v)?;
            Ok(Value::Long(v))
        }
        FieldType::Float => match raw.parse::<f32>() {
            Ok(v) if v.is_finite() => Ok(Value::Float(v)),
            _ => Err(format!("{raw:?} is not a finite float")),
        },
        FieldType::Double => match raw.parse::<f64>() {
            Ok(v) if v.is_finite() => Ok(Value::Double(v)),
            _ => Err(format!("{raw:?} is not a finite double")),
        },
        FieldType::Boolean => {
            if raw.eq_ignore_ascii_case("true") {
                Ok(Value::Boolean(true))
            } else if raw.eq_ignore_ascii_case("false") {
                Ok(Value::Boolean(false))
            } else {
                Err(format!("{raw:?} is not a boolean (true or false)"))
            }
        }
    }
}

fn is_timestamp(field: &Field) -> bool {
    field.name.ends_with("TIMESTAMP")
}

fn check_long(field: &Field, v: i64) -> Result<(), String> {
    match field.name.as_str() {
        "VALUE" if !(1..=10).contains(&v) => Err(format!("{v} is outside 1..10")),
        "REPEAT_FREQUENCY" if !(0..=30).contains(&v) => {
            Err(format!("{v} days is outside 0..30"))
        }
        _ if is_timestamp(field) && v < 0 => Err(format!(
            "{v} is not a Unix timestamp in seconds (it is negative)"
        )),
        _ => Ok(()),
    }
}

/// Checks and normalizes a string value: ids, categorical (and IMPRESSION) lists, textual.
pub fn parse_string(field: &Field, raw: &str) -> Result<String, String> {
    if field.is_id() {
        check_id(raw)?;
        return Ok(raw.to_owned());
    }
    if field.textual {
        return Ok(truncate_textual(raw));
    }
    if field.categorical || field.name == "IMPRESSION" {
        let joined = normalize_categories(raw);
        let chars = joined.chars().count();
        if chars > MAX_CATEGORICAL_CHARS {
            return Err(format!(
                "length cannot be more than {MAX_CATEGORICAL_CHARS} characters (found {chars})"
            ));
        }
        return Ok(joined);
    }
    Ok(raw.to_owned())
}

/// The identifier rules (spec D-16): 1-256 characters, no `"`, `|` or control characters.
pub fn check_id(raw: &str) -> Result<(), String> {
    let chars = raw.chars().count();
    if chars == 0 {
        return Err("the id is empty".to_owned());
    }
    if chars > MAX_ID_CHARS {
        return Err(format!(
            "length cannot be more than {MAX_ID_CHARS} characters (found {chars})"
        ));
    }
    if let Some(c) = raw.chars().find(|c| *c == '"' || *c == '|' || c.is_control()) {
        return Err(format!("ids cannot contain {c:?}"));
    }
    Ok(())
}

/// Trims each `|`-separated value and drops empty ones (spec 3.2, D-17).
fn normalize_categories(raw: &str) -> String {
    if !raw.contains('|') {
        return raw.trim().to_owned();
    }
    let mut out = String::with_capacity(raw.len());
    for part in raw.split('|').map(str::trim).filter(|p| !p.is_empty()) {
        if !out.is_empty() {
            out.push('|');
        }
        out.push_str(part);
    }
    out
}

/// Truncates a textual value to 20,000 characters, or 7,000 when most letters are Han or Kana
/// (spec 2.6, D-11). Not an error.
pub fn truncate_textual(raw: &str) -> String {
    let limit = textual_limit(raw);
    match raw.char_indices().nth(limit) {
        Some((cut, _)) => raw[..cut].to_owned(),
        None => raw.to_owned(),
    }
}

fn textual_limit(raw: &str) -> usize {
    // Only texts longer than the CJK limit can be cut by it.
    if raw.len() <= MAX_TEXTUAL_CJK_CHARS {
        return MAX_TEXTUAL_CHARS;
    }
    let (mut letters, mut cjk) = (0usize, 0usize);
    for c in raw.chars().filter(|c| c.is_alphabetic()) {
        letters += 1;
        if is_han_or_kana(c) {
            cjk += 1;
        }
    }
    if letters > 0 && cjk * 2 > letters {
        MAX_TEXTUAL_CJK_CHARS
    } else {
        MAX_TEXTUAL_CHARS
    }
}

fn is_han_or_kana(c: char) -> bool {
    matches!(c as u32,
        0x3040..=0x30FF      // Hiragana, Katakana
        | 0x31F0..=0x31FF    // Katakana phonetic extensions
        | 0x3400..=0x4DBF    // CJK extension A
        | 0x4E00..=0x9FFF    // CJK unified ideographs
        | 0xF900..=0xFAFF    // CJK compatibility ideographs
        | 0xFF66..=0xFF9F    // half-width Katakana
        | 0x20000..=0x2FA1F) // CJK extensions B and later
}

/// Wraps a plain value in the field's Avro union branch, for writing.
pub fn to_avro_field(field: &Field, value: Value) -> Value {
    if !field.nullable {
        return value;
    }
    match value {
        Value::Null => Value::Union(field.null_branch(), Box::new(Value::Null)),
        v => Value::Union(field.value_branch(), Box::new(v)),
    }
}

/// Unwraps a union read back from Avro to the plain value.
pub fn from_avro_field(value: Value) -> Value {
    match value {
        Value::Union(_, inner) => *inner,
        v => v,
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::schema::FieldClass;

    fn field(name: &str, ty: FieldType, nullable: bool) -> Field {
        Field {
            name: name.to_owned(),
            ty,
            nullable,
            null_first: false,
            categorical: false,
            textual: false,
            class: FieldClass::Metadata,
        }
    }

    #[test]
    fn empty_cell_is_null_only_when_nullable() {
        let f = field("EVENT_VALUE", FieldType::Float, true);
        assert_eq!(parse_cell(&f, ""), Ok(Value::Null));
        let f = field("TIMESTAMP", FieldType::Long, false);
        assert!(parse_cell(&f, "").is_err());
    }

    #[test]
    fn categorical_values_are_trimmed_and_empty_ones_dropped() {
        let mut f = field("GENRES", FieldType::String, true);
        f.categorical = true;
        assert_eq!(
            parse_cell(&f, "Action| Crime ||Biopic"),
            Ok(Value::String("Action|Crime|Biopic".into()))
        );
    }
}
