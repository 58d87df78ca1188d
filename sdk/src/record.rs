//! Values of one schema field: the cell encoding of bulk CSV (`spec/data.md` 3.2) and the
//! value-level limits of section 2.6, shared by bulk import and individual records.
//!
//! A cell becomes an [`apache_avro::types::Value`] of the field's primitive type (or
//! `Value::Null`); [`to_avro_field`] wraps it in the field's union branch for writing.

use apache_avro::types::Value;

use crate::schema::{
    Field, FieldClass, FieldType, MAX_CATEGORICAL_CHARS, MAX_ID_CHARS, MAX_TEXTUAL_CHARS,
    MAX_TEXTUAL_CJK_CHARS,
};

/// Checks a request string's length in characters (`{what}: must have {min}-{max} characters,
/// found {n}`): the one length rule of the runtime and events requests, the SDK's and the
/// server's.
pub fn check_chars(what: &str, s: &str, min: usize, max: usize) -> crate::Result<()> {
    // Characters never outnumber bytes: most strings pass without counting.
    if s.len() <= max && (min == 0 || (min == 1 && !s.is_empty())) {
        return Ok(());
    }
    let n = s.chars().count();
    if n < min || n > max {
        return Err(crate::Error::InvalidInput(format!(
            "{what}: must have {min}-{max} characters, found {n}"
        )));
    }
    Ok(())
}

/// Parses one (already unquoted and trimmed) cell for a field. An empty cell is null, and so is
/// a categorical (or IMPRESSION) cell with no value left once empty values are dropped (`|`);
/// both are errors in a field that does not allow null. The error is a message without
/// position; the caller adds row and column.
pub fn parse_cell(field: &Field, raw: &str) -> Result<Value, String> {
    if raw.is_empty() {
        return null_or_error(field);
    }
    match field.ty {
        FieldType::String => match normalize_string(field, raw)? {
            Some(s) => Ok(Value::String(s)),
            None => null_or_error(field),
        },
        FieldType::Int => raw
            .parse::<i32>()
            .map(Value::Int)
            .map_err(|_| format!("{raw:?} is not an int (a whole number of 32 bits)")),
        FieldType::Long => {
            let v = raw.parse::<i64>().map_err(|_| {
                if is_timestamp(field) {
                    format!("{raw:?} is not a Unix timestamp in whole seconds")
                } else {
                    format!("{raw:?} is not a long (a whole number of 64 bits)")
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

fn null_or_error(field: &Field) -> Result<Value, String> {
    if field.nullable {
        Ok(Value::Null)
    } else {
        Err(format!(
            "empty value, but the field's type is {} and does not allow null",
            field.ty
        ))
    }
}

/// Whether values of a long field are Unix timestamps in seconds (`TIMESTAMP`,
/// `CREATION_TIMESTAMP`, `*_TIMESTAMP`).
fn is_timestamp(field: &Field) -> bool {
    field.name.ends_with("TIMESTAMP")
}

/// Whether a field holds a `|`-separated list: categorical fields and the reserved IMPRESSION.
fn is_list(field: &Field) -> bool {
    field.categorical || (field.name == "IMPRESSION" && field.class == FieldClass::Reserved)
}

/// The value-level limits of a long field (spec 2.6, D-10): an Actions VALUE is 1..10, a
/// REPEAT_FREQUENCY 0..30 days, and a timestamp is not negative. [`parse_cell`] applies them;
/// callers with typed values (Avro files) call this directly.
pub fn check_long(field: &Field, v: i64) -> Result<(), String> {
    // VALUE and REPEAT_FREQUENCY are reserved in Actions schemas only; elsewhere they are
    // ordinary metadata.
    let reserved = field.class == FieldClass::Reserved;
    match field.name.as_str() {
        "VALUE" if reserved && !(1..=10).contains(&v) => Err(format!(
            "{v} is outside 1..10; an action's VALUE is 1 to 10 (10 is the most valuable)"
        )),
        "REPEAT_FREQUENCY" if reserved && !(0..=30).contains(&v) => Err(format!(
            "{v} is outside 0..30; REPEAT_FREQUENCY is a number of days, at most 30"
        )),
        _ if is_timestamp(field) && v < 0 => Err(format!(
            "{v} is not a Unix timestamp in seconds (it is negative)"
        )),
        _ => Ok(()),
    }
}

/// Checks and normalizes a non-empty string value: ids, categorical (and IMPRESSION) lists,
/// textual. A list with no value left once empty values are dropped is an error here; use
/// [`normalize_string`] to treat it as null.
pub fn parse_string(field: &Field, raw: &str) -> Result<String, String> {
    normalize_string(field, raw)?.ok_or_else(|| {
        format!("{raw:?} holds no value once empty values between the '|' separators are dropped")
    })
}

/// Checks and normalizes a string value: an id is checked (spec D-16), a textual value is
/// truncated (2.6), a categorical or IMPRESSION value has each `|`-separated value trimmed and
/// empty ones dropped, and must then be at most 1,000 characters in all, separators included.
/// Returns `None` when a list holds no value (the value is then null).
///
/// The 1,000-character limit applies to the whole value of the field: the guide speaks of "an
/// item with a categorical value with more than 1000 characters" (guide line 4158), counts the
/// vertical bars of impressions (lines 4063, 4095), and its quota table gives both one limit
/// "for categorical data and impression values" (line 19688).
pub fn normalize_string(field: &Field, raw: &str) -> Result<Option<String>, String> {
    if field.is_id() {
        check_id(raw)?;
        return Ok(Some(raw.to_owned()));
    }
    if field.textual {
        return Ok(Some(truncate_textual(raw)));
    }
    if is_list(field) {
        let joined = normalize_categories(raw);
        if joined.is_empty() {
            return Ok(None);
        }
        let chars = joined.chars().count();
        if chars > MAX_CATEGORICAL_CHARS {
            let what = if field.categorical {
                "a categorical value"
            } else {
                "an impression list"
            };
            return Err(format!(
                "{what} can have at most {MAX_CATEGORICAL_CHARS} characters, '|' separators \
                 included; found {chars}"
            ));
        }
        return Ok(Some(joined));
    }
    Ok(Some(raw.to_owned()))
}

/// The identifier rules (spec D-16): 1-256 characters, no `"`, `|` or control characters
/// (CR and LF included).
pub fn check_id(raw: &str) -> Result<(), String> {
    let chars = raw.chars().count();
    if chars == 0 {
        return Err("the id is empty".to_owned());
    }
    if chars > MAX_ID_CHARS {
        return Err(format!(
            "an id can have at most {MAX_ID_CHARS} characters, found {chars}"
        ));
    }
    if let Some(c) = raw
        .chars()
        .find(|c| *c == '"' || *c == '|' || c.is_control())
    {
        let what = match c {
            '"' => "a double quote".to_owned(),
            '|' => "a '|'".to_owned(),
            '\r' | '\n' => "a line break".to_owned(),
            c => format!("the control character {c:?}"),
        };
        return Err(format!(
            "an id cannot contain {what}; ids must not hold double quotes, '|' or control \
             characters"
        ));
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
    use crate::schema::fixtures::*;
    use crate::schema::{Domain, Schema};

    /// A field of one of the guide's schemas (so its class is the real one).
    fn field(schema: &str, name: &str) -> Field {
        field_in(schema, None, name)
    }

    fn field_in(schema: &str, domain: Option<Domain>, name: &str) -> Field {
        Schema::parse(schema, domain)
            .expect("fixture schema")
            .field(name)
            .unwrap_or_else(|| panic!("no field {name}"))
            .clone()
    }

    /// A metadata field of a custom Users schema with the given type JSON and attributes.
    fn users_field(ty: &str, extra: &str) -> Field {
        let json = format!(
            r#"{{"type": "record", "name": "Users", "fields": [
                {{"name": "USER_ID", "type": "string"}},
                {{"name": "AGE", "type": "int"}},
                {{"name": "F", "type": {ty}{extra}}}]}}"#
        );
        field(&json, "F")
    }

    /// Parses `raw` for `field`: `Ok(value)` must match exactly, `Err(part)` must be an error
    /// whose message contains `part`.
    #[track_caller]
    fn check(field: &Field, raw: &str, expect: Result<Value, &str>) {
        match (parse_cell(field, raw), expect) {
            (Ok(got), Ok(want)) => assert_eq!(got, want, "{} {raw:?}", field.name),
            (Err(msg), Err(part)) => {
                assert!(msg.contains(part), "{}: {msg:?} lacks {part:?}", field.name);
                assert!(!msg.ends_with('.'), "trailing period in {msg:?}");
            }
            (got, want) => panic!("{} {raw:?}: got {got:?}, expected {want:?}", field.name),
        }
    }

    fn s(v: &str) -> Result<Value, &'static str> {
        Ok(Value::String(v.to_owned()))
    }

    // ---- spec 3.2, row by row ----

    #[test]
    fn id_cells_are_raw_text() {
        let user = field(INTERACTIONS_CUSTOM, "USER_ID");
        check(&user, "35", s("35"));
        check(&user, "user_123", s("user_123"));
        check(&user, "ユーザー", s("ユーザー"));
        check(&field(ITEMS_CUSTOM, "ITEM_ID"), "item_123", s("item_123"));
        check(&field(ACTIONS_CUSTOM, "ACTION_ID"), "1", s("1"));
    }

    #[test]
    fn categorical_cells_are_pipe_separated_lists() {
        let genres = field(ITEMS_CUSTOM, "GENRES");
        check(&genres, "horror|comedy", s("horror|comedy"));
        check(&genres, "Action |Crime|Biopic", s("Action|Crime|Biopic"));
        check(
            &genres,
            "Adventure|Animation|Children|Comedy|Fantasy",
            s("Adventure|Animation|Children|Comedy|Fantasy"),
        );
        check(
            &genres,
            "Electronics | Productivity | Mouse",
            s("Electronics|Productivity|Mouse"),
        );
        check(&genres, "Drama", s("Drama"));
    }

    #[test]
    fn textual_cells_are_kept_as_text() {
        let d = field(ITEMS_CUSTOM, "DESCRIPTION");
        let text = "This is an animated movie that features action, comedy, and fantasy. \
                    Audience is children. This movie was released in 2004.";
        check(&d, text, s(text));
        check(&d, r#"She said "hi" \o/"#, s(r#"She said "hi" \o/"#));
    }

    #[test]
    fn impression_cells_are_pipe_separated_item_ids() {
        let imp = field(INTERACTIONS_CUSTOM, "IMPRESSION");
        check(&imp, "73|70|17|95|96", s("73|70|17|95|96"));
        check(&imp, "73 | 70 | 17 |95| 96", s("73|70|17|95|96"));
    }

    #[test]
    fn numbers_are_decimal_literals() {
        let age = field(USERS_CUSTOM, "AGE");
        check(&age, "34", Ok(Value::Int(34)));
        check(&age, "-5", Ok(Value::Int(-5)));
        check(&age, "2147483647", Ok(Value::Int(i32::MAX)));
        check(&age, "2147483648", Err("\"2147483648\" is not an int"));
        check(&age, "34.0", Err("\"34.0\" is not an int"));
        check(&age, "thirty", Err("is not an int"));

        let long = users_field(r#""long""#, "");
        check(&long, "9223372036854775807", Ok(Value::Long(i64::MAX)));
        check(&long, "-1", Ok(Value::Long(-1)));
        check(&long, "1e3", Err("\"1e3\" is not a long"));

        let ev = field(INTERACTIONS_CUSTOM, "EVENT_VALUE");
        check(&ev, "0.75", Ok(Value::Float(0.75)));
        check(&ev, "15", Ok(Value::Float(15.0)));
        check(&ev, "-2.5e1", Ok(Value::Float(-25.0)));
        check(&ev, "NaN", Err("\"NaN\" is not a finite float"));
        check(&ev, "inf", Err("is not a finite float"));
        check(&ev, "1e39", Err("is not a finite float"));
        check(&ev, "0. 75", Err("is not a finite float"));

        let double = users_field(r#"["null", "double"]"#, "");
        check(
            &double,
            "3.141592653589793",
            Ok(Value::Double(std::f64::consts::PI)),
        );
        check(&double, "1e39", Ok(Value::Double(1e39)));
        check(&double, "-inf", Err("is not a finite double"));
        check(&double, "x", Err("\"x\" is not a finite double"));
    }

    #[test]
    fn timestamps_are_integer_unix_seconds() {
        let ts = field(INTERACTIONS_CUSTOM, "TIMESTAMP");
        check(&ts, "1586731606", Ok(Value::Long(1_586_731_606)));
        check(&ts, "1596238243", Ok(Value::Long(1_596_238_243)));
        check(&ts, "0", Ok(Value::Long(0)));
        check(
            &ts,
            "2020-01-01",
            Err("\"2020-01-01\" is not a Unix timestamp in whole seconds"),
        );
        check(
            &ts,
            "1.5",
            Err("\"1.5\" is not a Unix timestamp in whole seconds"),
        );
        check(
            &ts,
            "",
            Err("empty value, but the field's type is long and does not allow null"),
        );
        check(
            &ts,
            "-1",
            Err("-1 is not a Unix timestamp in seconds (it is negative)"),
        );
        let created = field(ITEMS_CUSTOM, "CREATION_TIMESTAMP");
        check(&created, "1570003267", Ok(Value::Long(1_570_003_267)));
        check(
            &created,
            "2019-10-02T08:01:07Z",
            Err("is not a Unix timestamp in whole seconds"),
        );
        check(&created, "", Err("does not allow null"));
    }

    #[test]
    fn booleans_are_true_or_false() {
        let b = users_field(r#""boolean""#, "");
        check(&b, "true", Ok(Value::Boolean(true)));
        check(&b, "False", Ok(Value::Boolean(false)));
        check(&b, "TRUE", Ok(Value::Boolean(true)));
        check(&b, "1", Err("\"1\" is not a boolean (true or false)"));
        check(&b, "yes", Err("is not a boolean"));
        check(&b, "", Err("does not allow null"));
    }

    #[test]
    fn empty_cell_is_null_only_when_nullable() {
        // `click,,Ohio`: an empty EVENT_VALUE is null.
        check(
            &field(INTERACTIONS_CUSTOM, "EVENT_VALUE"),
            "",
            Ok(Value::Null),
        );
        check(&field(INTERACTIONS_CUSTOM, "DEVICE"), "", Ok(Value::Null));
        check(&field(ITEMS_CUSTOM, "GENRES"), "", Ok(Value::Null));
        check(&field(ITEMS_CUSTOM, "DESCRIPTION"), "", Ok(Value::Null));
        check(&field(ACTIONS_CUSTOM, "VALUE"), "", Ok(Value::Null));
        check(
            &users_field(r#"["null", "boolean"]"#, ""),
            "",
            Ok(Value::Null),
        );
        for (schema, name, ty) in [
            (INTERACTIONS_CUSTOM, "USER_ID", "string"),
            (INTERACTIONS_CUSTOM, "EVENT_TYPE", "string"),
            (INTERACTIONS_CUSTOM, "LOCATION", "string"),
            (INTERACTIONS_CUSTOM, "IMPRESSION", "string"),
            (INTERACTIONS_EVENT_VALUE, "EVENT_VALUE", "float"),
            (USERS_CUSTOM, "AGE", "int"),
        ] {
            check(
                &field(schema, name),
                "",
                Err(&format!("the field's type is {ty} and does not allow null")),
            );
        }
    }

    // ---- D-16: identifiers ----

    #[test]
    fn ids_reject_quotes_pipes_line_breaks_and_control_characters() {
        let item = field(INTERACTIONS_CUSTOM, "ITEM_ID");
        check(&item, "a\"b", Err("an id cannot contain a double quote"));
        check(&item, "a|b", Err("an id cannot contain a '|'"));
        check(&item, "a\nb", Err("an id cannot contain a line break"));
        check(&item, "a\rb", Err("an id cannot contain a line break"));
        check(
            &item,
            "a\tb",
            Err("an id cannot contain the control character '\\t'"),
        );
        check(&item, "a\u{1}b", Err("the control character '\\u{1}'"));
        check(&item, "a\u{7f}b", Err("the control character"));
        for name in ["USER_ID", "ITEM_ID"] {
            let f = field(INTERACTIONS_CUSTOM, name);
            check(&f, &"x".repeat(256), s(&"x".repeat(256)));
            check(
                &f,
                &"x".repeat(257),
                Err("an id can have at most 256 characters, found 257"),
            );
        }
        // Characters, not bytes.
        check(&item, &"é".repeat(256), s(&"é".repeat(256)));
        let action = field(ACTIONS_CUSTOM, "ACTION_ID");
        check(&action, &"a".repeat(257), Err("at most 256 characters"));
        assert_eq!(check_id(""), Err("the id is empty".to_owned()));
        assert_eq!(check_id("it's fine, with spaces & commas"), Ok(()));
    }

    // ---- categorical and impression lists ----

    #[test]
    fn categorical_values_are_trimmed_and_empty_ones_dropped() {
        let genres = field(ITEMS_CUSTOM, "GENRES");
        check(&genres, "Action| Crime ||Biopic", s("Action|Crime|Biopic"));
        check(&genres, "|Action|", s("Action"));
        check(&genres, " Sci Fi | Film Noir ", s("Sci Fi|Film Noir"));
        // Nothing left: null where null is allowed, an error where it is not.
        check(&genres, "|", Ok(Value::Null));
        check(&genres, " | | ", Ok(Value::Null));
        let location = field(INTERACTIONS_CUSTOM, "LOCATION");
        check(&location, "||", Err("does not allow null"));
        assert!(parse_string(&location, "||")
            .unwrap_err()
            .contains("holds no value"));
        assert_eq!(normalize_string(&genres, "|"), Ok(None));
        // Plain (non-categorical) strings are not lists.
        let event_type = field(INTERACTIONS_CUSTOM, "EVENT_TYPE");
        check(&event_type, "add | remove", s("add | remove"));
        check(&event_type, "Not taken", s("Not taken"));
    }

    #[test]
    fn categorical_values_are_limited_to_1000_characters() {
        let genres = field(ITEMS_CUSTOM, "GENRES");
        check(&genres, &"a".repeat(1000), s(&"a".repeat(1000)));
        check(
            &genres,
            &"a".repeat(1001),
            Err("a categorical value can have at most 1000 characters, '|' separators included; found 1001"),
        );
        // The limit counts the whole value with its separators, after trimming.
        let two = format!("{}|{}", "a".repeat(500), "b".repeat(500));
        check(&genres, &two, Err("found 1001"));
        let padded = format!("{} | {}", "a".repeat(499), "b".repeat(500));
        check(
            &genres,
            &padded,
            s(&format!("{}|{}", "a".repeat(499), "b".repeat(500))),
        );
        // Characters, not bytes.
        check(&genres, &"é".repeat(1000), s(&"é".repeat(1000)));
        let membership = field(ACTIONS_CUSTOM, "MEMBERSHIP_LEVEL");
        check(
            &membership,
            &"x".repeat(1001),
            Err("at most 1000 characters"),
        );
        let gender = field(USERS_CUSTOM, "GENDER");
        check(&gender, &"x".repeat(1001), Err("at most 1000 characters"));
    }

    #[test]
    fn impressions_are_limited_to_1000_characters() {
        let imp = field(INTERACTIONS_CUSTOM, "IMPRESSION");
        // 200 ids of 4 characters plus 199 bars: 999.
        let ids: Vec<String> = (1000..1200).map(|i| i.to_string()).collect();
        let ok = ids.join("|");
        assert_eq!(ok.len(), 999);
        check(&imp, &ok, s(&ok));
        let over = format!("{ok}|1");
        check(
            &imp,
            &over,
            Err("an impression list can have at most 1000 characters, '|' separators included; found 1001"),
        );
        // IMPRESSION is a list only where it is the reserved keyword.
        let plain = users_field(r#""string""#, "");
        assert_eq!(plain.class, FieldClass::Metadata);
        check(&plain, &"x".repeat(1001), s(&"x".repeat(1001)));
    }

    // ---- textual values ----

    #[test]
    fn textual_values_are_truncated_not_rejected() {
        let d = field(ITEMS_CUSTOM, "DESCRIPTION");
        let exact = "w".repeat(MAX_TEXTUAL_CHARS);
        check(&d, &exact, s(&exact));
        check(&d, &"w".repeat(20_001), s(&exact));
        check(&d, &"é".repeat(25_000), s(&"é".repeat(20_000)));
    }

    #[test]
    fn mostly_japanese_text_is_truncated_to_7000_characters() {
        let d = field(ITEMS_CUSTOM, "DESCRIPTION");
        // Hiragana, Katakana and Kanji with some ASCII: most letters are Kana or Han.
        let sentence = "これは子供向けのアニメ映画です。Pixar 2004。";
        let long: String = sentence.chars().cycle().take(9_000).collect();
        let want: String = long.chars().take(MAX_TEXTUAL_CJK_CHARS).collect();
        check(&d, &long, s(&want));
        let exact: String = sentence.chars().cycle().take(7_000).collect();
        check(&d, &exact, s(&exact));
        // Chinese too.
        let chinese: String = "这是一部动画电影".chars().cycle().take(8_000).collect();
        assert_eq!(truncate_textual(&chinese).chars().count(), 7_000);
        // English with some Japanese words keeps the 20,000 limit.
        let mixed: String = "An animated movie (アニメ) for children. "
            .chars()
            .cycle()
            .take(9_000)
            .collect();
        check(&d, &mixed, s(&mixed));
    }

    // ---- Actions: VALUE and REPEAT_FREQUENCY ----

    #[test]
    fn action_value_is_1_to_10() {
        let value = field(ACTIONS_CUSTOM, "VALUE");
        check(&value, "1", Ok(Value::Long(1)));
        check(&value, "10", Ok(Value::Long(10)));
        check(&value, "0", Err("0 is outside 1..10"));
        check(&value, "11", Err("11 is outside 1..10"));
        check(&value, "5.5", Err("is not a long"));
        // VALUE in a Users schema is ordinary metadata.
        let json = r#"{"type": "record", "name": "Users", "fields": [
            {"name": "USER_ID", "type": "string"}, {"name": "VALUE", "type": "long"}]}"#;
        check(&field(json, "VALUE"), "99", Ok(Value::Long(99)));
    }

    #[test]
    fn repeat_frequency_is_at_most_30_days() {
        let rf = field(ACTIONS_CUSTOM, "REPEAT_FREQUENCY");
        check(&rf, "7", Ok(Value::Long(7)));
        check(&rf, "30", Ok(Value::Long(30)));
        check(&rf, "0", Ok(Value::Long(0)));
        check(&rf, "", Ok(Value::Null));
        check(&rf, "31", Err("31 is outside 0..30"));
        check(&rf, "-1", Err("-1 is outside 0..30"));
    }

    #[test]
    fn the_actions_fixture_row_parses() {
        // ACTION_ID,VALUE,MEMBERSHIP_LEVEL,CREATION_TIMESTAMP,REPEAT_FREQUENCY
        let schema = Schema::parse(ACTIONS_CUSTOM, None).unwrap();
        let cells = ["1", "10", "Deluxe|Premium", "1510003267", "7"];
        let values: Vec<Value> = schema
            .fields()
            .iter()
            .zip(cells)
            .map(|(f, c)| parse_cell(f, c).unwrap())
            .collect();
        assert_eq!(
            values,
            [
                Value::String("1".into()),
                Value::Long(10),
                Value::String("Deluxe|Premium".into()),
                Value::Long(1_510_003_267),
                Value::Long(7),
            ]
        );
    }

    // ---- Avro unions ----

    #[test]
    fn values_are_wrapped_in_the_declared_union_branch() {
        // ["float", "null"]: the value is branch 0, null branch 1.
        let ev = field(INTERACTIONS_CUSTOM, "EVENT_VALUE");
        assert_eq!(
            to_avro_field(&ev, Value::Float(0.5)),
            Value::Union(0, Box::new(Value::Float(0.5)))
        );
        assert_eq!(
            to_avro_field(&ev, Value::Null),
            Value::Union(1, Box::new(Value::Null))
        );
        // ["null", "string"]: the other way round.
        let genres = field(ITEMS_CUSTOM, "GENRES");
        assert_eq!(
            to_avro_field(&genres, Value::String("a".into())),
            Value::Union(1, Box::new(Value::String("a".into())))
        );
        assert_eq!(
            to_avro_field(&genres, Value::Null),
            Value::Union(0, Box::new(Value::Null))
        );
        // Not nullable (including the one-element union ["string"]): plain.
        let vod_genres = field_in(VOD_ITEMS, Some(Domain::VideoOnDemand), "GENRES");
        assert_eq!(
            to_avro_field(&vod_genres, Value::String("a".into())),
            Value::String("a".into())
        );
        let ts = field(INTERACTIONS_CUSTOM, "TIMESTAMP");
        assert_eq!(to_avro_field(&ts, Value::Long(1)), Value::Long(1));
        // And back.
        assert_eq!(
            from_avro_field(Value::Union(1, Box::new(Value::Long(3)))),
            Value::Long(3)
        );
        assert_eq!(from_avro_field(Value::Long(3)), Value::Long(3));
    }

    #[test]
    fn wrapped_values_encode_with_the_schema() {
        // Every fixture's fields, written through apache-avro and read back.
        for (json, domain, cells) in [
            (
                ITEMS_CUSTOM,
                None,
                vec!["1", "Comedy|Romance", "1560515629", ""],
            ),
            (
                VOD_ITEMS,
                Some(Domain::VideoOnDemand),
                vec!["2", "Drama", "1560515629"],
            ),
            (
                ECOMMERCE_ITEMS,
                Some(Domain::Ecommerce),
                vec!["3", "9.99", "Shoes|Boots"],
            ),
            (
                INTERACTIONS_CUSTOM,
                None,
                vec![
                    "35",
                    "73",
                    "click",
                    "",
                    "Ohio",
                    "Tablet",
                    "1586731606",
                    "73|70",
                ],
            ),
            (ACTIONS_CUSTOM, None, vec!["1", "", "", "1510003267", "7"]),
        ] {
            let schema = Schema::parse(json, domain).unwrap();
            let record = Value::Record(
                schema
                    .fields()
                    .iter()
                    .zip(&cells)
                    .map(|(f, c)| (f.name.clone(), to_avro_field(f, parse_cell(f, c).unwrap())))
                    .collect(),
            );
            let mut w = apache_avro::Writer::new(schema.avro(), Vec::new());
            w.append(record).unwrap();
            let bytes = w.into_inner().unwrap();
            let read: Vec<Value> = apache_avro::Reader::new(&bytes[..])
                .unwrap()
                .map(|r| r.unwrap())
                .collect();
            let Value::Record(fields) = &read[0] else {
                panic!("not a record")
            };
            for ((f, c), (_, v)) in schema.fields().iter().zip(&cells).zip(fields) {
                assert_eq!(
                    from_avro_field(v.clone()),
                    parse_cell(f, c).unwrap(),
                    "{}",
                    f.name
                );
            }
        }
    }
}
