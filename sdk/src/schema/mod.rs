//! Personalize dataset schemas: Avro JSON documents checked against every rule of
//! `spec/data.md` section 2 (custom and domain dataset groups).
//!
//! [`Schema::parse`] is the only way in. It parses the document with `apache-avro` (so whatever
//! it accepts is real Avro) and applies Personalize's rules in the order of section 2.7; every
//! rejection is an [`Error::InvalidSchema`] naming the field and the rule broken.

mod rules;

use std::fmt;

use apache_avro::schema::Schema as AvroSchema;
use serde_json::Value as Json;

use crate::error::{Error, Result};

pub use rules::{field_class, FieldClass};

/// The longest schema document accepted, in characters.
pub const MAX_SCHEMA_CHARS: usize = 20_000;
/// The longest USER_ID, ITEM_ID or ACTION_ID value.
pub const MAX_ID_CHARS: usize = 256;
/// The longest categorical (or IMPRESSION) value of a field, in characters: the whole value,
/// `|` separators included (see [`crate::record::normalize_string`]).
pub const MAX_CATEGORICAL_CHARS: usize = 1_000;
/// Textual values are truncated to this many characters.
pub const MAX_TEXTUAL_CHARS: usize = 20_000;
/// Textual values that are mostly Chinese or Japanese are truncated to this many characters.
pub const MAX_TEXTUAL_CJK_CHARS: usize = 7_000;

/// The five dataset types of a dataset group.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum DatasetType {
    /// Item interactions (`Interactions`).
    Interactions,
    /// User metadata (`Users`).
    Users,
    /// Item metadata (`Items`).
    Items,
    /// Actions (next best action; stored only).
    Actions,
    /// Action interactions (next best action; stored only).
    ActionInteractions,
}

impl DatasetType {
    /// Every dataset type, in a fixed order.
    pub const ALL: [DatasetType; 5] = [
        DatasetType::Interactions,
        DatasetType::Users,
        DatasetType::Items,
        DatasetType::Actions,
        DatasetType::ActionInteractions,
    ];

    /// Parses a dataset type case-insensitively, ignoring `_` (so `ACTION_INTERACTIONS`,
    /// `Action_Interactions` and `ActionInteractions` are one type).
    pub fn parse(s: &str) -> Option<DatasetType> {
        let norm: String = s
            .chars()
            .filter(|c| *c != '_')
            .map(|c| c.to_ascii_lowercase())
            .collect();
        Some(match norm.as_str() {
            "interactions" => DatasetType::Interactions,
            "users" => DatasetType::Users,
            "items" => DatasetType::Items,
            "actions" => DatasetType::Actions,
            "actioninteractions" => DatasetType::ActionInteractions,
            _ => return None,
        })
    }

    /// The canonical name, as in CreateDataset and the Avro record name.
    pub fn as_str(self) -> &'static str {
        match self {
            DatasetType::Interactions => "Interactions",
            DatasetType::Users => "Users",
            DatasetType::Items => "Items",
            DatasetType::Actions => "Actions",
            DatasetType::ActionInteractions => "Action_Interactions",
        }
    }

    /// The upper-case form used in dataset ARNs (`.../dataset/GROUP/INTERACTIONS`).
    pub fn arn_suffix(self) -> &'static str {
        match self {
            DatasetType::Interactions => "INTERACTIONS",
            DatasetType::Users => "USERS",
            DatasetType::Items => "ITEMS",
            DatasetType::Actions => "ACTIONS",
            DatasetType::ActionInteractions => "ACTION_INTERACTIONS",
        }
    }

    /// The field that identifies a record of this type (`USER_ID`, `ITEM_ID`, `ACTION_ID`), for
    /// the metadata datasets; `None` for the interaction datasets, which have no identity.
    pub fn id_field(self) -> Option<&'static str> {
        match self {
            DatasetType::Users => Some("USER_ID"),
            DatasetType::Items => Some("ITEM_ID"),
            DatasetType::Actions => Some("ACTION_ID"),
            DatasetType::Interactions | DatasetType::ActionInteractions => None,
        }
    }
}

impl fmt::Display for DatasetType {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// The domain of a domain dataset group.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Domain {
    /// `ECOMMERCE`.
    Ecommerce,
    /// `VIDEO_ON_DEMAND`.
    VideoOnDemand,
}

impl Domain {
    /// Parses `ECOMMERCE` or `VIDEO_ON_DEMAND` (exact, as the API spells them).
    pub fn parse(s: &str) -> Option<Domain> {
        match s {
            "ECOMMERCE" => Some(Domain::Ecommerce),
            "VIDEO_ON_DEMAND" => Some(Domain::VideoOnDemand),
            _ => None,
        }
    }

    /// The API spelling.
    pub fn as_str(self) -> &'static str {
        match self {
            Domain::Ecommerce => "ECOMMERCE",
            Domain::VideoOnDemand => "VIDEO_ON_DEMAND",
        }
    }
}

impl fmt::Display for Domain {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// The primitive Avro types Personalize allows.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum FieldType {
    /// `string`
    String,
    /// `int` (i32)
    Int,
    /// `long` (i64)
    Long,
    /// `float` (f32)
    Float,
    /// `double` (f64)
    Double,
    /// `boolean`
    Boolean,
}

impl FieldType {
    fn parse(s: &str) -> Option<FieldType> {
        Some(match s {
            "string" => FieldType::String,
            "int" => FieldType::Int,
            "long" => FieldType::Long,
            "float" => FieldType::Float,
            "double" => FieldType::Double,
            "boolean" => FieldType::Boolean,
            _ => return None,
        })
    }

    /// The Avro name.
    pub fn as_str(self) -> &'static str {
        match self {
            FieldType::String => "string",
            FieldType::Int => "int",
            FieldType::Long => "long",
            FieldType::Float => "float",
            FieldType::Double => "double",
            FieldType::Boolean => "boolean",
        }
    }

    /// Whether the type is numeric.
    pub fn is_numeric(self) -> bool {
        matches!(
            self,
            FieldType::Int | FieldType::Long | FieldType::Float | FieldType::Double
        )
    }
}

impl fmt::Display for FieldType {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// One validated schema field.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Field {
    /// The field name, as in the schema and the CSV header.
    pub name: String,
    /// Its primitive type.
    pub ty: FieldType,
    /// Whether the type is a union with `null`.
    pub nullable: bool,
    /// Whether `null` comes first in the union (`["null","string"]`); decides the Avro union index.
    pub null_first: bool,
    /// `"categorical": true`: values hold one or more `|`-separated categories.
    pub categorical: bool,
    /// `"textual": true` (Items only): free text, truncated to the textual limit.
    pub textual: bool,
    /// Required, reserved or metadata.
    pub class: FieldClass,
}

impl Field {
    /// Whether values of this field are identifiers (USER_ID, ITEM_ID, ACTION_ID) with the ID
    /// limits: at most 256 characters and no quote, pipe or control characters.
    pub fn is_id(&self) -> bool {
        matches!(self.name.as_str(), "USER_ID" | "ITEM_ID" | "ACTION_ID")
    }

    /// The Avro union index of a non-null value (0 when the field is not a union).
    pub fn value_branch(&self) -> u32 {
        u32::from(self.nullable && self.null_first)
    }

    /// The Avro union index of null.
    pub fn null_branch(&self) -> u32 {
        u32::from(!self.null_first)
    }

    /// The camelCase property key for this field in PutEvents/PutItems/PutUsers `properties`
    /// (`CREATION_TIMESTAMP` -> `creationTimestamp`).
    pub fn property_key(&self) -> String {
        camel_case(&self.name)
    }
}

/// `NUMBER_OF_VIDEOS_WATCHED` -> `numberOfVideosWatched` (spec D-24).
pub fn camel_case(name: &str) -> String {
    let mut out = String::with_capacity(name.len());
    for (i, part) in name.split('_').filter(|p| !p.is_empty()).enumerate() {
        let lower = part.to_ascii_lowercase();
        if i == 0 {
            out.push_str(&lower);
        } else {
            let mut chars = lower.chars();
            if let Some(first) = chars.next() {
                out.push(first.to_ascii_uppercase());
                out.push_str(chars.as_str());
            }
        }
    }
    out
}

/// A validated Personalize schema.
#[derive(Debug, Clone)]
pub struct Schema {
    dataset_type: DatasetType,
    domain: Option<Domain>,
    fields: Vec<Field>,
    json: String,
    avro: AvroSchema,
}

impl Schema {
    /// Parses and validates a schema document for a group of the given domain (`None` for a
    /// custom dataset group). The dataset type comes from the record's `name`.
    pub fn parse(json: &str, domain: Option<Domain>) -> Result<Schema> {
        let chars = json.chars().count();
        if chars > MAX_SCHEMA_CHARS {
            return Err(bad(format!(
                "the schema is {chars} characters long; the limit is {MAX_SCHEMA_CHARS}"
            )));
        }
        let doc: Json = serde_json::from_str(json).map_err(|e| {
            bad(format!(
                "not valid JSON at line {} column {}: {e}",
                e.line(),
                e.column()
            ))
        })?;
        let top = doc
            .as_object()
            .ok_or_else(|| bad("the schema must be a JSON object with \"type\": \"record\""))?;
        match top.get("type") {
            Some(Json::String(t)) if t == "record" => {}
            Some(other) => {
                return Err(bad(format!(
                    "top-level \"type\" must be \"record\", found {other}"
                )))
            }
            None => return Err(bad("top-level \"type\" is missing; it must be \"record\"")),
        }
        let name = match top.get("name") {
            Some(Json::String(n)) => n.as_str(),
            Some(other) => return Err(bad(format!("\"name\" must be a string, found {other}"))),
            None => return Err(bad("\"name\" is missing; it must name the dataset type")),
        };
        let dataset_type = DatasetType::parse(name).ok_or_else(|| {
            bad(format!(
                "\"name\" is {name:?}; it must be a dataset type: Interactions, Users, Items, \
                 Actions or Action_Interactions"
            ))
        })?;
        let raw_fields = match top.get("fields") {
            Some(Json::Array(f)) if !f.is_empty() => f,
            Some(Json::Array(_)) => return Err(bad("\"fields\" is empty")),
            Some(_) => return Err(bad("\"fields\" must be an array of field objects")),
            None => return Err(bad("\"fields\" is missing")),
        };
        if let Some(d) = top.get("domain") {
            // CreateSchema takes the domain as a parameter; a "domain" key in the document
            // must agree with it.
            let found = d.as_str().and_then(Domain::parse);
            if found != domain {
                return Err(bad(format!(
                    "the document's \"domain\" {d} does not match the schema's domain {}",
                    domain.map_or("(none: a custom dataset group)", Domain::as_str)
                )));
            }
        }

        let mut fields = Vec::with_capacity(raw_fields.len());
        for (position, raw) in raw_fields.iter().enumerate() {
            fields.push(parse_field(position, raw)?);
        }
        rules::check_unique_names(&fields)?;
        for f in &mut fields {
            f.class = field_class(dataset_type, domain, &f.name);
        }
        rules::check(dataset_type, domain, &fields)?;

        let avro = AvroSchema::parse_str(json)
            .map_err(|e| bad(format!("not a valid Avro schema: {e}")))?;
        let avro = writer_schema(&doc).unwrap_or(avro);
        Ok(Schema {
            dataset_type,
            domain,
            fields,
            json: json.to_owned(),
            avro,
        })
    }

    /// The dataset type the schema is for (its record name).
    pub fn dataset_type(&self) -> DatasetType {
        self.dataset_type
    }

    /// The domain it was validated against (`None` for custom).
    pub fn domain(&self) -> Option<Domain> {
        self.domain
    }

    /// The fields in schema order.
    pub fn fields(&self) -> &[Field] {
        &self.fields
    }

    /// The position of a field by exact name.
    pub fn index_of(&self, name: &str) -> Option<usize> {
        self.fields.iter().position(|f| f.name == name)
    }

    /// The field by exact name.
    pub fn field(&self, name: &str) -> Option<&Field> {
        self.fields.iter().find(|f| f.name == name)
    }

    /// The document as it was given.
    pub fn json(&self) -> &str {
        &self.json
    }

    /// The Avro schema records of this dataset are written with: the document parsed by
    /// `apache-avro`, except that a one-element union such as `["string"]` (allowed by the
    /// guide's default domain schemas) is written as its only type. A value then needs a union
    /// wrapper exactly when the field is nullable (see [`crate::record::to_avro_field`]).
    pub fn avro(&self) -> &AvroSchema {
        &self.avro
    }
}

/// The document with every one-element union `[T]` replaced by `T`; `None` when it has none
/// (the parsed document is then the writer schema as it is).
fn writer_schema(doc: &Json) -> Option<AvroSchema> {
    let mut doc = doc.clone();
    let mut changed = false;
    for field in doc.get_mut("fields")?.as_array_mut()? {
        if let Some(ty) = field.get_mut("type") {
            if let Json::Array(branches) = ty {
                if let [only] = branches.as_slice() {
                    *ty = only.clone();
                    changed = true;
                }
            }
        }
    }
    if !changed {
        return None;
    }
    // The document already parsed with the union, so it parses without it.
    AvroSchema::parse(&doc).ok()
}

fn bad(msg: impl Into<String>) -> Error {
    Error::InvalidSchema(msg.into())
}

fn parse_field(position: usize, raw: &Json) -> Result<Field> {
    let obj = raw.as_object().ok_or_else(|| {
        bad(format!(
            "fields[{position}] must be an object with \"name\" and \"type\""
        ))
    })?;
    let name = match obj.get("name") {
        Some(Json::String(n)) => n.clone(),
        _ => return Err(bad(format!("fields[{position}] has no string \"name\""))),
    };
    let valid_name = name
        .chars()
        .next()
        .is_some_and(|c| c.is_ascii_alphabetic() || c == '_')
        && name.chars().all(|c| c.is_ascii_alphanumeric() || c == '_');
    if !valid_name {
        return Err(bad(format!(
            "field {name:?}: names must match [A-Za-z_][A-Za-z0-9_]*"
        )));
    }
    let ty = obj
        .get("type")
        .ok_or_else(|| bad(format!("field {name}: \"type\" is missing")))?;
    let (ty, nullable, null_first) = parse_type(&name, ty)?;
    let flag = |key: &str| -> Result<bool> {
        match obj.get(key) {
            None => Ok(false),
            Some(Json::Bool(b)) => Ok(*b),
            Some(other) => Err(bad(format!(
                "field {name}: \"{key}\" must be true or false, found {other}"
            ))),
        }
    };
    let categorical = flag("categorical")?;
    let textual = flag("textual")?;
    Ok(Field {
        name,
        ty,
        nullable,
        null_first,
        categorical,
        textual,
        class: FieldClass::Metadata,
    })
}

/// Reads a field type: a primitive name, a one-element union `[T]`, or a union of `null` and
/// one primitive in either order.
fn parse_type(name: &str, ty: &Json) -> Result<(FieldType, bool, bool)> {
    let primitive = |t: &Json| -> Result<Option<FieldType>> {
        match t {
            Json::String(s) if s == "null" => Ok(None),
            Json::String(s) => FieldType::parse(s).map(Some).ok_or_else(|| {
                if matches!(
                    s.as_str(),
                    "record" | "enum" | "array" | "map" | "fixed" | "bytes"
                ) {
                    bad(format!(
                        "field {name}: type {s:?} is not supported; schemas are flat and allow \
                         only float, double, int, long, string, boolean and null"
                    ))
                } else {
                    bad(format!(
                        "field {name}: unknown type {s:?}; allowed are float, double, int, long, \
                         string, boolean and null"
                    ))
                }
            }),
            Json::Object(o) => {
                let inner = o.get("type").and_then(Json::as_str).unwrap_or("?");
                if let Some(logical) = o.get("logicalType") {
                    Err(bad(format!(
                        "field {name}: logical type {logical} is not supported; use a plain \
                         {inner:?} (timestamps are long Unix seconds)"
                    )))
                } else if inner == "null" || FieldType::parse(inner).is_some() {
                    Err(bad(format!(
                        "field {name}: write the type as the plain name {inner:?}, not as an \
                         object"
                    )))
                } else {
                    Err(bad(format!(
                        "field {name}: complex type {inner:?} is not supported; schemas must be \
                         flat (no records, enums, arrays, maps or fixed)"
                    )))
                }
            }
            Json::Array(_) => Err(bad(format!("field {name}: nested unions are not allowed"))),
            other => Err(bad(format!("field {name}: invalid type {other}"))),
        }
    };
    match ty {
        Json::Array(branches) => {
            let parsed: Vec<Option<FieldType>> =
                branches.iter().map(primitive).collect::<Result<_>>()?;
            match parsed.as_slice() {
                [Some(t)] => Ok((*t, false, false)),
                [None, Some(t)] => Ok((*t, true, true)),
                [Some(t), None] => Ok((*t, true, false)),
                [None] | [None, None] => {
                    Err(bad(format!("field {name}: a field cannot be only null")))
                }
                [] => Err(bad(format!("field {name}: the union is empty"))),
                _ => Err(bad(format!(
                    "field {name}: a union must be one type, or one type and \"null\"; found {ty}"
                ))),
            }
        }
        other => match primitive(other)? {
            Some(t) => Ok((t, false, false)),
            None => Err(bad(format!("field {name}: a field cannot be only null"))),
        },
    }
}

/// The guide's example schemas (`spec/data.md` 2.1, 2.4, 2.5, 3.3), for tests here and in the
/// import module.
#[cfg(test)]
pub(crate) mod fixtures {
    /// The minimal Interactions schema of 2.1.
    pub const INTERACTIONS_MINIMAL: &str = include_str!("fixtures/interactions_minimal.avsc");
    /// Custom Interactions with EVENT_TYPE, EVENT_VALUE, LOCATION, DEVICE and IMPRESSION.
    pub const INTERACTIONS_CUSTOM: &str = include_str!("fixtures/interactions_custom.avsc");
    /// The Interactions schema of the 3.3 data example (EVENT_VALUE float, not null).
    pub const INTERACTIONS_EVENT_VALUE: &str =
        include_str!("fixtures/interactions_event_value.avsc");
    /// Custom Users: AGE (int), GENDER (categorical).
    pub const USERS_CUSTOM: &str = include_str!("fixtures/users_custom.avsc");
    /// Custom Items: GENRES (categorical), CREATION_TIMESTAMP, DESCRIPTION (textual).
    pub const ITEMS_CUSTOM: &str = include_str!("fixtures/items_custom.avsc");
    /// Custom Actions: VALUE, MEMBERSHIP_LEVEL, CREATION_TIMESTAMP, REPEAT_FREQUENCY.
    pub const ACTIONS_CUSTOM: &str = include_str!("fixtures/actions_custom.avsc");
    /// Custom Action_Interactions with the required fields.
    pub const ACTION_INTERACTIONS_CUSTOM: &str =
        include_str!("fixtures/action_interactions_custom.avsc");
    /// VIDEO_ON_DEMAND default Interactions.
    pub const VOD_INTERACTIONS: &str = include_str!("fixtures/vod_interactions.avsc");
    /// VIDEO_ON_DEMAND default Users.
    pub const VOD_USERS: &str = include_str!("fixtures/vod_users.avsc");
    /// VIDEO_ON_DEMAND default Items (GENRES is the one-element union `["string"]`).
    pub const VOD_ITEMS: &str = include_str!("fixtures/vod_items.avsc");
    /// ECOMMERCE default Interactions (no "version").
    pub const ECOMMERCE_INTERACTIONS: &str = include_str!("fixtures/ecommerce_interactions.avsc");
    /// ECOMMERCE default Users.
    pub const ECOMMERCE_USERS: &str = include_str!("fixtures/ecommerce_users.avsc");
    /// ECOMMERCE default Items (CATEGORY_L1 is `["string"]`).
    pub const ECOMMERCE_ITEMS: &str = include_str!("fixtures/ecommerce_items.avsc");
}

#[cfg(test)]
mod tests;
