//! Every rule of `spec/data.md` 2.1-2.7, and the rejections of section 13 item 1.

use super::fixtures::*;
use super::*;
use apache_avro::schema::Schema as Avro;

const VOD: Option<Domain> = Some(Domain::VideoOnDemand);
const ECOMMERCE: Option<Domain> = Some(Domain::Ecommerce);
const CUSTOM: Option<Domain> = None;

/// Parses `json` for `domain`. With an empty `expect` the schema must be accepted; otherwise it
/// must be rejected with an [`Error::InvalidSchema`] whose message contains every string of
/// `expect` (the field and the rule). Returns the schema when accepted.
#[track_caller]
fn check(json: &str, domain: Option<Domain>, expect: &[&str]) -> Option<Schema> {
    match (Schema::parse(json, domain), expect) {
        (Ok(s), []) => Some(s),
        (Ok(_), _) => panic!("accepted, expected an error with {expect:?}:\n{json}"),
        (Err(Error::InvalidSchema(msg)), []) => panic!("rejected: {msg}\n{json}"),
        (Err(Error::InvalidSchema(msg)), _) => {
            for part in expect {
                assert!(
                    msg.contains(part),
                    "the message {msg:?} does not contain {part:?}"
                );
            }
            assert!(!msg.ends_with('.'), "trailing period in {msg:?}");
            None
        }
        (Err(other), _) => panic!("expected InvalidSchema, got {other:?}"),
    }
}

#[track_caller]
fn accept(json: &str, domain: Option<Domain>) -> Schema {
    check(json, domain, &[]).expect("accepted")
}

/// A schema document with the given record name and field objects.
fn doc(name: &str, fields: &[String]) -> String {
    format!(
        r#"{{"type": "record", "name": "{name}", "namespace": "com.amazonaws.personalize.schema",
  "fields": [{}], "version": "1.0"}}"#,
        fields.join(",\n    ")
    )
}

/// A field object; `ty` is raw JSON (`"\"string\""`, `"[\"null\", \"long\"]"`), `extra` is
/// appended raw (`, "categorical": true`).
fn f(name: &str, ty: &str, extra: &str) -> String {
    format!(r#"{{"name": "{name}", "type": {ty}{extra}}}"#)
}

fn string(name: &str) -> String {
    f(name, r#""string""#, "")
}

fn long(name: &str) -> String {
    f(name, r#""long""#, "")
}

fn categorical(name: &str) -> String {
    f(name, r#""string""#, r#", "categorical": true"#)
}

fn textual(name: &str) -> String {
    f(name, r#"["null", "string"]"#, r#", "textual": true"#)
}

fn int(name: &str) -> String {
    f(name, r#""int""#, "")
}

/// The custom Interactions required fields plus `more`.
fn interactions(more: &[String]) -> String {
    let mut fields = vec![string("USER_ID"), string("ITEM_ID"), long("TIMESTAMP")];
    fields.extend_from_slice(more);
    doc("Interactions", &fields)
}

fn users(more: &[String]) -> String {
    let mut fields = vec![string("USER_ID")];
    fields.extend_from_slice(more);
    doc("Users", &fields)
}

fn items(more: &[String]) -> String {
    let mut fields = vec![string("ITEM_ID")];
    fields.extend_from_slice(more);
    doc("Items", &fields)
}

fn numbered(prefix: &str, n: usize, make: fn(&str) -> String) -> Vec<String> {
    (1..=n).map(|i| make(&format!("{prefix}_{i}"))).collect()
}

// ---- accepted: every example schema of the spec ----

#[test]
fn minimal_interactions_schema() {
    let s = accept(INTERACTIONS_MINIMAL, CUSTOM);
    assert_eq!(s.dataset_type(), DatasetType::Interactions);
    assert_eq!(s.domain(), None);
    let names: Vec<_> = s.fields().iter().map(|f| f.name.as_str()).collect();
    assert_eq!(names, ["USER_ID", "ITEM_ID", "TIMESTAMP"]);
    assert!(s.fields().iter().all(|f| f.class == FieldClass::Required));
    assert_eq!(s.json(), INTERACTIONS_MINIMAL);
}

#[test]
fn custom_interactions_with_reserved_and_contextual_fields() {
    let s = accept(INTERACTIONS_CUSTOM, CUSTOM);
    let field = |n: &str| s.field(n).unwrap();
    assert_eq!(field("EVENT_TYPE").class, FieldClass::Reserved);
    assert!(!field("EVENT_TYPE").nullable);
    let ev = field("EVENT_VALUE");
    assert_eq!(
        (ev.ty, ev.nullable, ev.null_first),
        (FieldType::Float, true, false)
    );
    assert_eq!((ev.value_branch(), ev.null_branch()), (0, 1));
    assert_eq!(ev.class, FieldClass::Reserved);
    assert!(field("LOCATION").categorical);
    assert_eq!(field("LOCATION").class, FieldClass::Metadata);
    let device = field("DEVICE");
    assert!(device.categorical && device.nullable);
    // IMPRESSION may be declared without null.
    assert_eq!(field("IMPRESSION").class, FieldClass::Reserved);
    assert!(!field("IMPRESSION").nullable);
    assert_eq!(s.index_of("TIMESTAMP"), Some(6));
}

#[test]
fn interactions_data_example_schema() {
    let s = accept(INTERACTIONS_EVENT_VALUE, CUSTOM);
    assert!(!s.field("EVENT_VALUE").unwrap().nullable);
}

#[test]
fn custom_users_items_actions_and_action_interactions() {
    let u = accept(USERS_CUSTOM, CUSTOM);
    assert_eq!(u.dataset_type(), DatasetType::Users);
    assert_eq!(u.field("AGE").unwrap().ty, FieldType::Int);
    assert!(u.field("GENDER").unwrap().categorical);

    let i = accept(ITEMS_CUSTOM, CUSTOM);
    let genres = i.field("GENRES").unwrap();
    assert!(genres.categorical && genres.nullable && genres.null_first);
    assert_eq!((genres.value_branch(), genres.null_branch()), (1, 0));
    assert_eq!(
        i.field("CREATION_TIMESTAMP").unwrap().class,
        FieldClass::Reserved
    );
    assert!(i.field("DESCRIPTION").unwrap().textual);

    let a = accept(ACTIONS_CUSTOM, CUSTOM);
    assert_eq!(a.dataset_type(), DatasetType::Actions);
    for n in ["VALUE", "CREATION_TIMESTAMP", "REPEAT_FREQUENCY"] {
        assert_eq!(a.field(n).unwrap().class, FieldClass::Reserved, "{n}");
    }
    assert_eq!(
        a.field("MEMBERSHIP_LEVEL").unwrap().class,
        FieldClass::Metadata
    );

    let ai = accept(ACTION_INTERACTIONS_CUSTOM, CUSTOM);
    assert_eq!(ai.dataset_type(), DatasetType::ActionInteractions);
    assert!(ai.fields().iter().all(|f| f.class == FieldClass::Required));
}

#[test]
fn domain_default_schemas() {
    for (json, domain, dt) in [
        (VOD_INTERACTIONS, VOD, DatasetType::Interactions),
        (VOD_USERS, VOD, DatasetType::Users),
        (VOD_ITEMS, VOD, DatasetType::Items),
        (ECOMMERCE_INTERACTIONS, ECOMMERCE, DatasetType::Interactions),
        (ECOMMERCE_USERS, ECOMMERCE, DatasetType::Users),
        (ECOMMERCE_ITEMS, ECOMMERCE, DatasetType::Items),
    ] {
        let s = accept(json, domain);
        assert_eq!((s.dataset_type(), s.domain()), (dt, domain));
    }
    let vod = accept(VOD_INTERACTIONS, VOD);
    assert_eq!(vod.field("EVENT_TYPE").unwrap().class, FieldClass::Required);
    let users = accept(VOD_USERS, VOD);
    assert_eq!(
        users.field("SUBSCRIPTION_MODEL").unwrap().class,
        FieldClass::Reserved
    );
    // The ECOMMERCE default Users field is plain metadata.
    let users = accept(ECOMMERCE_USERS, ECOMMERCE);
    assert_eq!(
        users.field("MEMBERSHIP_STATUS").unwrap().class,
        FieldClass::Metadata
    );
}

#[test]
fn a_one_element_union_is_one_type_and_written_without_a_union() {
    let s = accept(VOD_ITEMS, VOD);
    let genres = s.field("GENRES").unwrap();
    assert!(genres.categorical && !genres.nullable);
    assert_eq!(genres.value_branch(), 0);
    let Avro::Record(record) = s.avro() else {
        panic!("not a record")
    };
    assert_eq!(record.fields[1].name, "GENRES");
    assert_eq!(record.fields[1].schema, Avro::String);
    // The stored document stays as given.
    assert!(s.json().contains(r#""type": ["string"]"#));

    let s = accept(ECOMMERCE_ITEMS, ECOMMERCE);
    let Avro::Record(record) = s.avro() else {
        panic!("not a record")
    };
    assert_eq!(record.fields[2].schema, Avro::String);
    // Nullable unions stay unions.
    let s = accept(ITEMS_CUSTOM, CUSTOM);
    let Avro::Record(record) = s.avro() else {
        panic!("not a record")
    };
    assert!(matches!(record.fields[1].schema, Avro::Union(_)));
}

#[test]
fn domain_items_with_every_reserved_keyword() {
    let vod = items(&[
        categorical("GENRES"),
        long("CREATION_TIMESTAMP"),
        f("PRICE", r#"["float", "null"]"#, ""),
        f("DURATION", r#""float""#, ""),
        f(
            "GENRE_L2",
            r#"["null", "string"]"#,
            r#", "categorical": true"#,
        ),
        f(
            "GENRE_L3",
            r#"["null", "string"]"#,
            r#", "categorical": true"#,
        ),
        f("AVERAGE_RATING", r#"["null", "float"]"#, ""),
        textual("PRODUCT_DESCRIPTION"),
        f(
            "CONTENT_OWNER",
            r#"["null", "string"]"#,
            r#", "categorical": true"#,
        ),
        categorical("CONTENT_CLASSIFICATION"),
        int("YEAR"),
    ]);
    let s = accept(&vod, VOD);
    assert_eq!(s.field("GENRE_L2").unwrap().class, FieldClass::Reserved);
    assert_eq!(s.field("YEAR").unwrap().class, FieldClass::Metadata);
    let ecommerce = items(&[
        f("PRICE", r#""float""#, ""),
        categorical("CATEGORY_L1"),
        categorical("CATEGORY_L2"),
        f(
            "CATEGORY_L3",
            r#"["null", "string"]"#,
            r#", "categorical": true"#,
        ),
        textual("PRODUCT_DESCRIPTION"),
        long("CREATION_TIMESTAMP"),
        categorical("AGE_GROUP"),
        categorical("ADULT"),
        categorical("GENDER"),
    ]);
    accept(&ecommerce, ECOMMERCE);
}

#[test]
fn domain_interactions_with_reserved_and_extra_fields() {
    let s = interactions(&[
        string("EVENT_TYPE"),
        f("EVENT_VALUE", r#"["null", "float"]"#, ""),
        f("IMPRESSION", r#"["null", "string"]"#, ""),
        f("RECOMMENDATION_ID", r#"["null", "string"]"#, ""),
        f("EVENT_ATTRIBUTION_SOURCE", r#"["null", "string"]"#, ""),
        categorical("DEVICE"),
    ]);
    accept(&s, VOD);
    accept(&s, ECOMMERCE);
    accept(&s, CUSTOM);
}

#[test]
fn action_interactions_reserved_fields_and_name_spellings() {
    let fields = [
        string("USER_ID"),
        string("ACTION_ID"),
        string("EVENT_TYPE"),
        long("TIMESTAMP"),
        f("IMPRESSION", r#"["null", "string"]"#, ""),
        f("RECOMMENDATION_ID", r#"["string", "null"]"#, ""),
    ];
    for name in [
        "Action_Interactions",
        "ActionInteractions",
        "ACTION_INTERACTIONS",
    ] {
        let s = accept(&doc(name, &fields), CUSTOM);
        assert_eq!(s.dataset_type(), DatasetType::ActionInteractions);
    }
}

#[test]
fn limits_are_inclusive() {
    accept(&users(&numbered("M", 25, int)), CUSTOM);
    accept(&items(&numbered("M", 100, categorical)), CUSTOM);
    let mut actions = vec![string("ACTION_ID"), long("VALUE")];
    actions.extend(numbered("M", 10, int));
    accept(&doc("Actions", &actions), CUSTOM);
    // Reserved fields do not count towards the 5.
    let mut more = numbered("M", 5, categorical);
    more.extend([string("EVENT_TYPE"), f("EVENT_VALUE", r#""float""#, "")]);
    more.push(f("IMPRESSION", r#"["null", "string"]"#, ""));
    accept(&interactions(&more), CUSTOM);
    // The document may be exactly 20,000 characters.
    let base = users(&[int("AGE")]);
    let padded = format!(
        "{base}{}",
        " ".repeat(MAX_SCHEMA_CHARS - base.chars().count())
    );
    assert_eq!(padded.chars().count(), MAX_SCHEMA_CHARS);
    accept(&padded, CUSTOM);
}

#[test]
fn qualifying_metadata_may_be_nullable_numeric_or_categorical_or_textual() {
    accept(&users(&[f("AGE", r#"["null", "int"]"#, "")]), CUSTOM);
    accept(&users(&[f("SCORE", r#""double""#, "")]), CUSTOM);
    accept(&users(&[categorical("TIER")]), CUSTOM);
    accept(&items(&[textual("DESCRIPTION")]), CUSTOM);
    accept(
        &items(&[long("CREATION_TIMESTAMP"), f("PRICE", r#""float""#, "")]),
        CUSTOM,
    );
    // A plain string field is stored (for filters and metadata) as long as one field qualifies.
    accept(&users(&[string("NAME"), int("AGE")]), CUSTOM);
}

#[test]
fn other_avro_attributes_are_accepted_and_ignored() {
    let s = users(&[f(
        "AGE",
        r#"["null", "int"]"#,
        r#", "default": null, "doc": "age in years", "aliases": ["YEARS"]"#,
    )]);
    accept(&s, CUSTOM);
    // The document's own "domain" key must agree with the requested one.
    let with_domain = VOD_USERS.replacen('{', r#"{"domain": "VIDEO_ON_DEMAND","#, 1);
    accept(&with_domain, VOD);
    check(&with_domain, ECOMMERCE, &["\"domain\"", "ECOMMERCE"]);
}

// ---- rejected: section 13 item 1 ----

#[test]
fn rejects_a_nested_record() {
    let nested = f(
        "ADDRESS",
        r#"{"type": "record", "name": "Address", "fields": [{"name": "CITY", "type": "string"}]}"#,
        "",
    );
    check(
        &users(&[int("AGE"), nested]),
        CUSTOM,
        &["field ADDRESS", "\"record\"", "flat"],
    );
    check(
        &users(&[int("AGE"), f("ADDRESS", r#""record""#, "")]),
        CUSTOM,
        &["field ADDRESS", "\"record\"", "not supported"],
    );
}

#[test]
fn rejects_arrays_maps_and_other_complex_types() {
    for ty in [
        r#"{"type": "array", "items": "string"}"#,
        r#"{"type": "map", "values": "long"}"#,
        r#"{"type": "enum", "name": "E", "symbols": ["A"]}"#,
        r#"{"type": "fixed", "name": "F", "size": 4}"#,
        r#""array""#,
        r#""map""#,
        r#""bytes""#,
        r#"["null", {"type": "array", "items": "string"}]"#,
    ] {
        check(
            &users(&[int("AGE"), f("TAGS", ty, "")]),
            CUSTOM,
            &["field TAGS", "not supported"],
        );
    }
    check(
        &users(&[f("AGE", r#""integer""#, "")]),
        CUSTOM,
        &["field AGE", "unknown type"],
    );
    check(
        &users(&[f("AGE", r#"{"type": "int"}"#, "")]),
        CUSTOM,
        &["field AGE", "plain name \"int\""],
    );
    check(
        &interactions(&[f(
            "SEEN",
            r#"{"type": "long", "logicalType": "timestamp-millis"}"#,
            "",
        )]),
        CUSTOM,
        &["field SEEN", "logical type"],
    );
}

#[test]
fn rejects_unions_other_than_t_or_null_and_t() {
    check(
        &users(&[f("AGE", r#"["string", "int"]"#, "")]),
        CUSTOM,
        &[
            "field AGE",
            "a union must be one type, or one type and \"null\"",
        ],
    );
    check(
        &users(&[f("AGE", r#"["null", "int", "string"]"#, "")]),
        CUSTOM,
        &["field AGE", "a union"],
    );
    check(
        &users(&[f("AGE", r#"["null"]"#, "")]),
        CUSTOM,
        &["field AGE", "only null"],
    );
    check(
        &users(&[f("AGE", r#""null""#, "")]),
        CUSTOM,
        &["field AGE", "only null"],
    );
    check(
        &users(&[f("AGE", "[]", "")]),
        CUSTOM,
        &["field AGE", "empty"],
    );
    check(
        &users(&[f("AGE", r#"[["int"]]"#, "")]),
        CUSTOM,
        &["field AGE", "nested unions"],
    );
}

#[test]
fn rejects_duplicate_normalized_names() {
    check(
        &items(&[categorical("GENRES_FIELD_1"), categorical("GENRESFIELD1")]),
        CUSTOM,
        &[
            "GENRES_FIELD_1",
            "GENRESFIELD1",
            "unique ignoring case and underscores",
        ],
    );
    check(
        &users(&[int("AGE"), int("age")]),
        CUSTOM,
        &["AGE", "age", "unique"],
    );
}

#[test]
fn rejects_categorical_event_type() {
    let s = interactions(&[categorical("EVENT_TYPE")]);
    check(
        &s,
        CUSTOM,
        &["reserved field EVENT_TYPE", "cannot be categorical"],
    );
    let s = doc(
        "Interactions",
        &[
            string("USER_ID"),
            string("ITEM_ID"),
            long("TIMESTAMP"),
            categorical("EVENT_TYPE"),
        ],
    );
    check(
        &s,
        VOD,
        &["required field EVENT_TYPE", "cannot be categorical"],
    );
}

#[test]
fn rejects_textual_outside_items() {
    check(
        &users(&[int("AGE"), textual("BIO")]),
        CUSTOM,
        &[
            "field BIO",
            "textual fields are only allowed in an Items schema, not Users",
        ],
    );
    check(
        &interactions(&[textual("REVIEW")]),
        CUSTOM,
        &["field REVIEW", "only allowed in an Items schema"],
    );
}

#[test]
fn rejects_two_textual_fields() {
    check(
        &items(&[textual("DESCRIPTION"), textual("SYNOPSIS")]),
        CUSTOM,
        &["DESCRIPTION", "SYNOPSIS", "at most 1 textual field"],
    );
}

#[test]
fn rejects_a_users_schema_with_only_user_id() {
    check(
        &users(&[]),
        CUSTOM,
        &["Users", "USER_ID", "at least one metadata field"],
    );
    check(&users(&[]), ECOMMERCE, &["at least one metadata field"]);
    // Neither a plain string nor a boolean qualifies (D-8).
    check(
        &users(&[string("NAME")]),
        CUSTOM,
        &["at least one metadata field"],
    );
    check(
        &users(&[f("VIP", r#""boolean""#, "")]),
        CUSTOM,
        &["at least one metadata field"],
    );
}

#[test]
fn reserved_keywords_are_not_metadata() {
    check(
        &items(&[long("CREATION_TIMESTAMP")]),
        CUSTOM,
        &["Items", "ITEM_ID", "at least one metadata field", "textual"],
    );
    let actions = doc(
        "Actions",
        &[
            string("ACTION_ID"),
            f("VALUE", r#"["null", "long"]"#, ""),
            f("REPEAT_FREQUENCY", r#"["long", "null"]"#, ""),
            long("CREATION_TIMESTAMP"),
        ],
    );
    check(
        &actions,
        CUSTOM,
        &["Actions", "ACTION_ID", "at least one metadata field"],
    );
}

#[test]
fn rejects_26_users_metadata_fields() {
    check(
        &users(&numbered("M", 26, int)),
        CUSTOM,
        &["at most 25 metadata fields, found 26", "M_26"],
    );
    // A domain's reserved SUBSCRIPTION_MODEL is not metadata.
    let mut fields = numbered("M", 25, int);
    fields.push(categorical("SUBSCRIPTION_MODEL"));
    accept(&users(&fields), VOD);
    check(&users(&fields), CUSTOM, &["at most 25", "found 26"]);
}

#[test]
fn rejects_101_items_metadata_fields() {
    check(
        &items(&numbered("M", 101, categorical)),
        CUSTOM,
        &["Items", "at most 100 metadata fields, found 101", "M_101"],
    );
}

#[test]
fn rejects_11_actions_metadata_fields() {
    let mut fields = vec![string("ACTION_ID")];
    fields.extend(numbered("M", 11, int));
    check(
        &doc("Actions", &fields),
        CUSTOM,
        &["Actions", "at most 10 metadata fields, found 11", "M_11"],
    );
}

#[test]
fn rejects_6_custom_interactions_metadata_fields() {
    let mut more = numbered("M", 6, categorical);
    more.push(string("EVENT_TYPE"));
    check(
        &interactions(&more),
        CUSTOM,
        &[
            "Interactions",
            "at most 5 metadata fields",
            "found 6",
            "M_6",
        ],
    );
    check(
        &interactions(&more),
        VOD,
        &["an Interactions schema", "at most 5", "found 6"],
    );
    let domain = doc("Interactions", &{
        let mut v = vec![
            string("USER_ID"),
            string("ITEM_ID"),
            long("TIMESTAMP"),
            string("EVENT_TYPE"),
        ];
        v.extend(numbered("M", 6, int));
        v
    });
    check(
        &domain,
        ECOMMERCE,
        &["at most 5 metadata fields", "found 6"],
    );
    // Action interactions: 5 metadata columns (D-20).
    let mut fields = vec![
        string("USER_ID"),
        string("ACTION_ID"),
        string("EVENT_TYPE"),
        long("TIMESTAMP"),
    ];
    fields.extend(numbered("M", 6, int));
    check(
        &doc("Action_Interactions", &fields),
        CUSTOM,
        &["Action_Interactions", "at most 5", "found 6"],
    );
}

#[test]
fn rejects_a_schema_over_20000_characters() {
    let base = users(&[int("AGE")]);
    let padded = format!(
        "{base}{}",
        " ".repeat(MAX_SCHEMA_CHARS + 1 - base.chars().count())
    );
    check(&padded, CUSTOM, &["20001 characters", "the limit is 20000"]);
    // Characters, not bytes: 20,000 two-byte characters are within the limit.
    let doc_chars = users(&[f(
        "AGE",
        r#""int""#,
        &format!(r#", "doc": "{}""#, "é".repeat(100)),
    )]);
    let fill = MAX_SCHEMA_CHARS - doc_chars.chars().count();
    let wide = format!("{doc_chars}{}", " ".repeat(fill));
    assert!(wide.len() > MAX_SCHEMA_CHARS);
    accept(&wide, CUSTOM);
}

// ---- rejected: required fields and reserved keywords (steps 3 and 4) ----

#[test]
fn rejects_a_missing_required_field() {
    let s = doc("Interactions", &[string("USER_ID"), string("ITEM_ID")]);
    check(
        &s,
        CUSTOM,
        &[
            "required field TIMESTAMP (long)",
            "missing",
            "Interactions",
            "custom",
        ],
    );
    check(
        INTERACTIONS_MINIMAL,
        VOD,
        &[
            "required field EVENT_TYPE (string)",
            "missing",
            "VIDEO_ON_DEMAND",
        ],
    );
    check(
        INTERACTIONS_MINIMAL,
        ECOMMERCE,
        &["required field EVENT_TYPE", "ECOMMERCE"],
    );
    check(
        &items(&[long("CREATION_TIMESTAMP")]),
        VOD,
        &["required field GENRES"],
    );
    check(
        &items(&[categorical("GENRES")]),
        VOD,
        &["required field CREATION_TIMESTAMP (long)", "missing"],
    );
    check(
        &items(&[categorical("CATEGORY_L1")]),
        ECOMMERCE,
        &["required field PRICE (float)"],
    );
    check(
        &items(&[f("PRICE", r#""float""#, "")]),
        ECOMMERCE,
        &["required field CATEGORY_L1"],
    );
    check(
        &doc("Users", &[int("AGE")]),
        CUSTOM,
        &["required field USER_ID"],
    );
    check(
        &doc("Actions", &[int("AGE")]),
        CUSTOM,
        &["required field ACTION_ID"],
    );
    let ai = doc(
        "Action_Interactions",
        &[string("USER_ID"), string("ACTION_ID"), long("TIMESTAMP")],
    );
    check(&ai, CUSTOM, &["required field EVENT_TYPE"]);
    // Names are exact: user_id is not USER_ID.
    let lower = doc(
        "Interactions",
        &[string("user_id"), string("ITEM_ID"), long("TIMESTAMP")],
    );
    check(&lower, CUSTOM, &["required field USER_ID", "missing"]);
}

#[test]
fn rejects_a_required_field_of_the_wrong_type() {
    let s = doc(
        "Interactions",
        &[string("USER_ID"), string("ITEM_ID"), string("TIMESTAMP")],
    );
    check(
        &s,
        CUSTOM,
        &["required field TIMESTAMP must be of type long, found string"],
    );
    let s = doc(
        "Interactions",
        &[int("USER_ID"), string("ITEM_ID"), long("TIMESTAMP")],
    );
    check(
        &s,
        CUSTOM,
        &["required field USER_ID must be of type string, found int"],
    );
    check(
        &items(&[f("PRICE", r#""double""#, ""), categorical("CATEGORY_L1")]),
        ECOMMERCE,
        &["required field PRICE must be of type float, found double"],
    );
    check(
        &items(&[string("GENRES"), long("CREATION_TIMESTAMP")]),
        VOD,
        &["required field GENRES", "\"categorical\": true"],
    );
    let s = doc(
        "Interactions",
        &[categorical("USER_ID"), string("ITEM_ID"), long("TIMESTAMP")],
    );
    check(
        &s,
        CUSTOM,
        &["required field USER_ID cannot be categorical"],
    );
}

#[test]
fn rejects_a_nullable_required_field() {
    let s = doc(
        "Interactions",
        &[
            string("USER_ID"),
            f("ITEM_ID", r#"["null", "string"]"#, ""),
            long("TIMESTAMP"),
        ],
    );
    check(
        &s,
        CUSTOM,
        &[
            "required field ITEM_ID",
            "cannot be null",
            "found string or null",
        ],
    );
    let s = doc(
        "Interactions",
        &[
            string("USER_ID"),
            string("ITEM_ID"),
            f("TIMESTAMP", r#"["long", "null"]"#, ""),
        ],
    );
    check(&s, CUSTOM, &["required field TIMESTAMP", "cannot be null"]);
    check(
        &items(&[
            f("PRICE", r#"["null", "float"]"#, ""),
            categorical("CATEGORY_L1"),
        ]),
        ECOMMERCE,
        &["required field PRICE", "cannot be null"],
    );
}

#[test]
fn event_type_and_creation_timestamp_are_not_nullable() {
    // The guide lists EVENT_TYPE (string) and CREATION_TIMESTAMP (long) without null [L4794-4835].
    check(
        &interactions(&[f("EVENT_TYPE", r#"["null", "string"]"#, "")]),
        CUSTOM,
        &["reserved field EVENT_TYPE", "cannot be null"],
    );
    check(
        &items(&[
            int("YEAR"),
            f("CREATION_TIMESTAMP", r#"["null", "long"]"#, ""),
        ]),
        CUSTOM,
        &["reserved field CREATION_TIMESTAMP", "cannot be null"],
    );
    check(
        &items(&[
            categorical("GENRES"),
            f("CREATION_TIMESTAMP", r#"["long", "null"]"#, ""),
        ]),
        VOD,
        &["required field CREATION_TIMESTAMP", "cannot be null"],
    );
}

#[test]
fn rejects_a_reserved_keyword_of_the_wrong_type() {
    check(
        &interactions(&[string("EVENT_VALUE")]),
        CUSTOM,
        &["reserved field EVENT_VALUE must be of type float or null, found string"],
    );
    check(
        &interactions(&[int("EVENT_TYPE")]),
        CUSTOM,
        &["reserved field EVENT_TYPE must be of type string, found int"],
    );
    check(
        &interactions(&[f(
            "IMPRESSION",
            r#"["null", "string"]"#,
            r#", "categorical": true"#,
        )]),
        CUSTOM,
        &["reserved field IMPRESSION cannot be categorical"],
    );
    check(
        &interactions(&[f(
            "RECOMMENDATION_ID",
            r#""string""#,
            r#", "categorical": true"#,
        )]),
        CUSTOM,
        &["reserved field RECOMMENDATION_ID cannot be categorical"],
    );
    check(
        &interactions(&[categorical("EVENT_ATTRIBUTION_SOURCE")]),
        CUSTOM,
        &["reserved field EVENT_ATTRIBUTION_SOURCE cannot be categorical"],
    );
    check(
        &items(&[int("YEAR"), int("CREATION_TIMESTAMP")]),
        CUSTOM,
        &["reserved field CREATION_TIMESTAMP must be of type long, found int"],
    );
    let actions = |field: String| doc("Actions", &[string("ACTION_ID"), int("M"), field]);
    check(
        &actions(f("VALUE", r#"["null", "int"]"#, "")),
        CUSTOM,
        &["reserved field VALUE must be of type long or null, found int or null"],
    );
    check(
        &actions(f("REPEAT_FREQUENCY", r#""double""#, "")),
        CUSTOM,
        &["reserved field REPEAT_FREQUENCY"],
    );
    check(
        &actions(string("ACTION_EXPIRATION_TIMESTAMP")),
        CUSTOM,
        &["reserved field ACTION_EXPIRATION_TIMESTAMP"],
    );
    check(
        &users(&[string("SUBSCRIPTION_MODEL")]),
        VOD,
        &["reserved field SUBSCRIPTION_MODEL must have \"categorical\": true"],
    );
    check(
        &items(&[
            categorical("GENRES"),
            long("CREATION_TIMESTAMP"),
            string("PRODUCT_DESCRIPTION"),
        ]),
        VOD,
        &["reserved field PRODUCT_DESCRIPTION must have \"textual\": true"],
    );
    check(
        &items(&[
            categorical("GENRES"),
            long("CREATION_TIMESTAMP"),
            int("AVERAGE_RATING"),
        ]),
        VOD,
        &["reserved field AVERAGE_RATING must be of type float or null, found int"],
    );
    // In a custom group these names are ordinary metadata.
    accept(
        &users(&[string("SUBSCRIPTION_MODEL"), int("AVERAGE_RATING")]),
        CUSTOM,
    );
}

// ---- rejected: attributes (step 5) ----

#[test]
fn rejects_categorical_on_a_non_string() {
    check(
        &users(&[f("AGE", r#""int""#, r#", "categorical": true"#)]),
        CUSTOM,
        &[
            "field AGE",
            "\"categorical\" is only allowed on string fields, not int",
        ],
    );
    check(
        &items(&[f("SCORE", r#"["null", "double"]"#, r#", "textual": true"#)]),
        CUSTOM,
        &[
            "field SCORE",
            "\"textual\" is only allowed on string fields, not double",
        ],
    );
}

#[test]
fn rejects_attributes_that_are_not_booleans() {
    check(
        &users(&[f("GENDER", r#""string""#, r#", "categorical": "true""#)]),
        CUSTOM,
        &["field GENDER", "\"categorical\" must be true or false"],
    );
    check(
        &items(&[f("DESCRIPTION", r#""string""#, r#", "textual": 1"#)]),
        CUSTOM,
        &["field DESCRIPTION", "\"textual\" must be true or false"],
    );
    // false is as good as absent.
    accept(
        &users(&[
            int("AGE"),
            f("NAME", r#""string""#, r#", "categorical": false"#),
        ]),
        CUSTOM,
    );
}

#[test]
fn rejects_both_categorical_and_textual() {
    check(
        &items(&[f(
            "DESCRIPTION",
            r#""string""#,
            r#", "categorical": true, "textual": true"#,
        )]),
        CUSTOM,
        &["field DESCRIPTION cannot be both categorical and textual"],
    );
}

// ---- rejected: the document (steps 1 and 2) and the dataset type ----

#[test]
fn rejects_actions_in_a_domain_group() {
    check(
        ACTIONS_CUSTOM,
        VOD,
        &[
            "Actions",
            "not allowed in a domain dataset group",
            "VIDEO_ON_DEMAND",
        ],
    );
    check(
        ACTION_INTERACTIONS_CUSTOM,
        ECOMMERCE,
        &[
            "Action_Interactions",
            "not allowed in a domain dataset group",
            "ECOMMERCE",
        ],
    );
}

#[test]
fn rejects_a_record_name_that_is_not_a_dataset_type() {
    check(
        &doc("Movies", &[string("ITEM_ID"), int("YEAR")]),
        CUSTOM,
        &["\"Movies\"", "dataset type"],
    );
    check(
        r#"{"type": "record", "fields": [{"name": "USER_ID", "type": "string"}]}"#,
        CUSTOM,
        &["\"name\" is missing"],
    );
    check(
        r#"{"type": "record", "name": 5, "fields": [{"name": "USER_ID", "type": "string"}]}"#,
        CUSTOM,
        &["\"name\" must be a string"],
    );
}

#[test]
fn rejects_a_top_level_type_other_than_record() {
    let s = INTERACTIONS_MINIMAL.replacen(r#""type": "record""#, r#""type": "enum""#, 1);
    check(
        &s,
        CUSTOM,
        &["top-level \"type\" must be \"record\"", "enum"],
    );
    check(
        r#"{"name": "Users", "fields": []}"#,
        CUSTOM,
        &["\"type\" is missing"],
    );
    check(r#"["record"]"#, CUSTOM, &["JSON object"]);
}

#[test]
fn rejects_empty_or_missing_fields() {
    check(&doc("Users", &[]), CUSTOM, &["\"fields\" is empty"]);
    check(
        r#"{"type": "record", "name": "Users"}"#,
        CUSTOM,
        &["\"fields\" is missing"],
    );
    check(
        r#"{"type": "record", "name": "Users", "fields": {"USER_ID": "string"}}"#,
        CUSTOM,
        &["\"fields\" must be an array"],
    );
    check(
        r#"{"type": "record", "name": "Users", "fields": ["USER_ID"]}"#,
        CUSTOM,
        &["fields[0] must be an object"],
    );
    check(
        r#"{"type": "record", "name": "Users", "fields": [{"type": "string"}]}"#,
        CUSTOM,
        &["fields[0] has no string \"name\""],
    );
    check(
        r#"{"type": "record", "name": "Users", "fields": [{"name": "USER_ID"}]}"#,
        CUSTOM,
        &["field USER_ID", "\"type\" is missing"],
    );
}

#[test]
fn rejects_bad_field_names() {
    for name in ["USER-ID", "1ABC", "", "GENRE S", "GÉNRES"] {
        check(
            &users(&[int("AGE"), int(name)]),
            CUSTOM,
            &[&format!("field {name:?}"), "[A-Za-z_][A-Za-z0-9_]*"],
        );
    }
    accept(&users(&[int("_AGE"), int("Age2")]), CUSTOM);
}

#[test]
fn rejects_text_that_is_not_json() {
    check("", CUSTOM, &["not valid JSON", "line 1"]);
    check(
        "{\"type\": \"record\",\n \"name\": }",
        CUSTOM,
        &["not valid JSON at line 2"],
    );
}

#[test]
fn rejections_follow_the_order_of_section_2_7() {
    // 1 before 2: over-long documents are not even parsed.
    let nested = users(&[f("A", r#"{"type": "array", "items": "int"}"#, "")]);
    let long_doc = format!("{nested}{}", " ".repeat(MAX_SCHEMA_CHARS));
    check(&long_doc, CUSTOM, &["the limit is 20000"]);
    // 2 before 3: a complex type is reported before a missing required field.
    check(
        &doc(
            "Interactions",
            &[f("A", r#"{"type": "map", "values": "int"}"#, "")],
        ),
        CUSTOM,
        &["field A", "not supported"],
    );
    // 2 before 3: duplicate names before a missing required field.
    check(
        &doc("Users", &[int("A_B"), int("AB")]),
        CUSTOM,
        &["A_B", "AB", "unique"],
    );
    // 3 before 4: a missing required field before a wrongly typed reserved one.
    check(
        &doc(
            "Interactions",
            &[string("USER_ID"), string("ITEM_ID"), int("EVENT_VALUE")],
        ),
        CUSTOM,
        &["required field TIMESTAMP"],
    );
    // 4 before 5: a wrongly typed reserved field before a misplaced textual one.
    check(
        &interactions(&[int("EVENT_TYPE"), textual("REVIEW")]),
        CUSTOM,
        &["reserved field EVENT_TYPE"],
    );
    // 5 before 6: two textual fields before too many metadata fields.
    let mut fields = numbered("M", 101, int);
    fields.extend([textual("T1"), textual("T2")]);
    check(
        &items(&fields),
        CUSTOM,
        &["T1", "T2", "at most 1 textual field"],
    );
    // 5 before 6: textual in Users before "no metadata".
    check(
        &users(&[textual("BIO")]),
        CUSTOM,
        &["field BIO", "only allowed in an Items schema"],
    );
}

// ---- names ----

#[test]
fn dataset_type_names() {
    for (s, dt) in [
        ("Interactions", DatasetType::Interactions),
        ("INTERACTIONS", DatasetType::Interactions),
        ("users", DatasetType::Users),
        ("Items", DatasetType::Items),
        ("Actions", DatasetType::Actions),
        ("Action_Interactions", DatasetType::ActionInteractions),
        ("action_interactions", DatasetType::ActionInteractions),
    ] {
        assert_eq!(DatasetType::parse(s), Some(dt), "{s}");
    }
    assert_eq!(DatasetType::parse("Event-Interactions"), None);
    assert_eq!(DatasetType::parse("Movies"), None);
    for dt in DatasetType::ALL {
        assert_eq!(DatasetType::parse(dt.as_str()), Some(dt));
        assert_eq!(DatasetType::parse(dt.arn_suffix()), Some(dt));
    }
    assert_eq!(Domain::parse("VIDEO_ON_DEMAND"), VOD);
    assert_eq!(Domain::parse("ECOMMERCE"), ECOMMERCE);
    assert_eq!(Domain::parse("ecommerce"), None);
}

#[test]
fn camel_case_matches_the_guide() {
    assert_eq!(camel_case("CREATION_TIMESTAMP"), "creationTimestamp");
    assert_eq!(
        camel_case("NUMBER_OF_VIDEOS_WATCHED"),
        "numberOfVideosWatched"
    );
    assert_eq!(camel_case("GENRES"), "genres");
    assert_eq!(camel_case("EVENT_VALUE"), "eventValue");
    let s = accept(ITEMS_CUSTOM, CUSTOM);
    assert_eq!(
        s.field("CREATION_TIMESTAMP").unwrap().property_key(),
        "creationTimestamp"
    );
}
