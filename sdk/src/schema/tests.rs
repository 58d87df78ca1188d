use super::*;

const INTERACTIONS: &str = r#"{
  "type": "record",
  "name": "Interactions",
  "namespace": "com.amazonaws.personalize.schema",
  "fields": [
      { "name": "USER_ID",   "type": "string" },
      { "name": "ITEM_ID",   "type": "string" },
      { "name": "TIMESTAMP", "type": "long" }
  ],
  "version": "1.0"
}"#;

#[test]
fn minimal_interactions_schema_parses() {
    let s = Schema::parse(INTERACTIONS, None).unwrap();
    assert_eq!(s.dataset_type(), DatasetType::Interactions);
    assert_eq!(s.fields().len(), 3);
    assert_eq!(s.fields()[2].class, FieldClass::Required);
}

#[test]
fn camel_case_matches_the_guide() {
    assert_eq!(camel_case("CREATION_TIMESTAMP"), "creationTimestamp");
    assert_eq!(camel_case("NUMBER_OF_VIDEOS_WATCHED"), "numberOfVideosWatched");
    assert_eq!(camel_case("GENRES"), "genres");
}
