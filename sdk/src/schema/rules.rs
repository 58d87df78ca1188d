//! The per-dataset-type and per-domain field tables (`spec/data.md` 2.3-2.5) and the checks
//! that use them (steps 3-6 of section 2.7).

use std::collections::HashMap;

use super::{bad, DatasetType, Domain, Field, FieldType};
use crate::error::Result;

/// How a schema field is treated.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum FieldClass {
    /// A required field of the dataset type (USER_ID, ITEM_ID, TIMESTAMP, ...).
    Required,
    /// An optional reserved keyword with a fixed type (EVENT_TYPE, CREATION_TIMESTAMP, ...).
    Reserved,
    /// Any other field.
    Metadata,
}

/// Whether a reserved or required string field must, or must not, be categorical / textual.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Attr {
    Plain,
    Categorical,
    Textual,
}

/// One row of a field table: name, type, whether null is allowed, and the string attribute.
#[derive(Debug, Clone, Copy)]
struct Spec {
    name: &'static str,
    ty: FieldType,
    nullable: bool,
    attr: Attr,
}

const fn s(name: &'static str, ty: FieldType, nullable: bool, attr: Attr) -> Spec {
    Spec {
        name,
        ty,
        nullable,
        attr,
    }
}

use Attr::{Categorical as Cat, Plain, Textual as Txt};
use FieldType::{Float, Long, String as Str};

const USER_ID: Spec = s("USER_ID", Str, false, Plain);
const ITEM_ID: Spec = s("ITEM_ID", Str, false, Plain);
const ACTION_ID: Spec = s("ACTION_ID", Str, false, Plain);
const TIMESTAMP: Spec = s("TIMESTAMP", Long, false, Plain);
const EVENT_TYPE: Spec = s("EVENT_TYPE", Str, false, Plain);
const EVENT_VALUE: Spec = s("EVENT_VALUE", Float, true, Plain);
const IMPRESSION: Spec = s("IMPRESSION", Str, true, Plain);
const RECOMMENDATION_ID: Spec = s("RECOMMENDATION_ID", Str, true, Plain);
const EVENT_ATTRIBUTION_SOURCE: Spec = s("EVENT_ATTRIBUTION_SOURCE", Str, true, Plain);
const CREATION_TIMESTAMP: Spec = s("CREATION_TIMESTAMP", Long, false, Plain);

/// Required and reserved fields for a dataset type in a group of a domain.
fn tables(dt: DatasetType, domain: Option<Domain>) -> (&'static [Spec], &'static [Spec]) {
    use DatasetType as D;
    match (domain, dt) {
        (None, D::Interactions) => (
            const { &[USER_ID, ITEM_ID, TIMESTAMP] },
            const {
                &[
                    EVENT_TYPE,
                    EVENT_VALUE,
                    IMPRESSION,
                    RECOMMENDATION_ID,
                    EVENT_ATTRIBUTION_SOURCE,
                ]
            },
        ),
        (Some(_), D::Interactions) => (
            const { &[USER_ID, ITEM_ID, TIMESTAMP, EVENT_TYPE] },
            const {
                &[
                    EVENT_VALUE,
                    IMPRESSION,
                    RECOMMENDATION_ID,
                    EVENT_ATTRIBUTION_SOURCE,
                ]
            },
        ),
        (None, D::Users) | (Some(Domain::Ecommerce), D::Users) => {
            (const { &[USER_ID] }, const { &[] })
        }
        (Some(Domain::VideoOnDemand), D::Users) => (
            const { &[USER_ID] },
            const { &[s("SUBSCRIPTION_MODEL", Str, true, Cat)] },
        ),
        (None, D::Items) => (const { &[ITEM_ID] }, const { &[CREATION_TIMESTAMP] }),
        (Some(Domain::VideoOnDemand), D::Items) => (
            const { &[ITEM_ID, s("GENRES", Str, false, Cat), CREATION_TIMESTAMP] },
            const {
                &[
                    s("PRICE", Float, true, Plain),
                    s("DURATION", Float, true, Plain),
                    s("GENRE_L2", Str, true, Cat),
                    s("GENRE_L3", Str, true, Cat),
                    s("AVERAGE_RATING", Float, true, Plain),
                    s("PRODUCT_DESCRIPTION", Str, true, Txt),
                    s("CONTENT_OWNER", Str, true, Cat),
                    s("CONTENT_CLASSIFICATION", Str, true, Cat),
                ]
            },
        ),
        (Some(Domain::Ecommerce), D::Items) => (
            const {
                &[
                    ITEM_ID,
                    s("PRICE", Float, false, Plain),
                    s("CATEGORY_L1", Str, false, Cat),
                ]
            },
            const {
                &[
                    s("CATEGORY_L2", Str, true, Cat),
                    s("CATEGORY_L3", Str, true, Cat),
                    s("PRODUCT_DESCRIPTION", Str, true, Txt),
                    CREATION_TIMESTAMP,
                    s("AGE_GROUP", Str, true, Cat),
                    s("ADULT", Str, true, Cat),
                    s("GENDER", Str, true, Cat),
                ]
            },
        ),
        (_, D::Actions) => (
            const { &[ACTION_ID] },
            const {
                &[
                    CREATION_TIMESTAMP,
                    s("VALUE", Long, true, Plain),
                    s("ACTION_EXPIRATION_TIMESTAMP", Long, true, Plain),
                    s("REPEAT_FREQUENCY", Long, true, Plain),
                ]
            },
        ),
        (_, D::ActionInteractions) => (
            const { &[USER_ID, ACTION_ID, EVENT_TYPE, TIMESTAMP] },
            const { &[IMPRESSION, RECOMMENDATION_ID] },
        ),
    }
}

/// The class of a field name for a dataset type in a group of a domain.
pub fn field_class(dt: DatasetType, domain: Option<Domain>, name: &str) -> FieldClass {
    let (required, reserved) = tables(dt, domain);
    if required.iter().any(|s| s.name == name) {
        FieldClass::Required
    } else if reserved.iter().any(|s| s.name == name) {
        FieldClass::Reserved
    } else {
        FieldClass::Metadata
    }
}

/// Names must be unique once lower-cased with `_` removed (spec D-4).
pub(super) fn check_unique_names(fields: &[Field]) -> Result<()> {
    let mut seen: HashMap<String, &str> = HashMap::new();
    for f in fields {
        let norm: String = f
            .name
            .chars()
            .filter(|c| *c != '_')
            .map(|c| c.to_ascii_lowercase())
            .collect();
        if let Some(prev) = seen.insert(norm, &f.name) {
            return Err(bad(format!(
                "fields {prev} and {} have the same alphanumeric name; field names must be \
                 unique ignoring case and underscores",
                f.name
            )));
        }
    }
    Ok(())
}

/// "a Users schema", "an Items schema".
fn article(dt: DatasetType) -> &'static str {
    if dt == DatasetType::Users {
        "a"
    } else {
        "an"
    }
}

fn type_label(ty: FieldType, nullable: bool) -> String {
    if nullable {
        format!("{ty} or null")
    } else {
        ty.to_string()
    }
}

/// The reserved keywords with a meaning of their own (event data, timestamps, action
/// settings). Unlike the domains' reserved descriptive fields (SUBSCRIPTION_MODEL, GENRE_L2,
/// PRICE, ...), they are "non-metadata fields" and never satisfy the "at least one metadata
/// field" rule.
const KEYWORDS: [&str; 9] = [
    "EVENT_TYPE",
    "EVENT_VALUE",
    "IMPRESSION",
    "RECOMMENDATION_ID",
    "EVENT_ATTRIBUTION_SOURCE",
    "CREATION_TIMESTAMP",
    "VALUE",
    "ACTION_EXPIRATION_TIMESTAMP",
    "REPEAT_FREQUENCY",
];

fn check_spec(f: &Field, spec: &Spec, what: &str) -> Result<()> {
    if f.ty != spec.ty {
        return Err(bad(format!(
            "{what} field {} must be of type {}, found {}",
            f.name,
            type_label(spec.ty, spec.nullable),
            type_label(f.ty, f.nullable)
        )));
    }
    if f.nullable && !spec.nullable {
        return Err(bad(format!(
            "{what} field {} must be of type {} and cannot be null, found {}",
            f.name,
            spec.ty,
            type_label(f.ty, f.nullable)
        )));
    }
    match spec.attr {
        Attr::Categorical if !f.categorical => Err(bad(format!(
            "{what} field {} must have \"categorical\": true",
            f.name
        ))),
        Attr::Textual if !f.textual => Err(bad(format!(
            "{what} field {} must have \"textual\": true",
            f.name
        ))),
        Attr::Categorical if f.textual => Err(bad(format!(
            "{what} field {} is categorical and cannot be textual",
            f.name
        ))),
        Attr::Textual if f.categorical => Err(bad(format!(
            "{what} field {} is textual and cannot be categorical",
            f.name
        ))),
        Attr::Plain if f.categorical => Err(bad(format!(
            "{what} field {} cannot be categorical",
            f.name
        ))),
        Attr::Plain if f.textual => Err(bad(format!("{what} field {} cannot be textual", f.name))),
        _ => Ok(()),
    }
}

/// Steps 3-6 of `spec/data.md` 2.7.
pub(super) fn check(dt: DatasetType, domain: Option<Domain>, fields: &[Field]) -> Result<()> {
    let domain_label = domain.map_or_else(|| "custom".to_owned(), |d| d.to_string());
    if domain.is_some() && matches!(dt, DatasetType::Actions | DatasetType::ActionInteractions) {
        return Err(bad(format!(
            "{dt} datasets are not allowed in a domain dataset group ({domain_label}); they \
             exist only in custom dataset groups"
        )));
    }
    let (required, reserved) = tables(dt, domain);
    // 3. required fields
    for spec in required {
        match fields.iter().find(|f| f.name == spec.name) {
            None => {
                return Err(bad(format!(
                    "required field {} ({}) is missing from the {dt} schema ({domain_label} \
                     dataset group)",
                    spec.name,
                    type_label(spec.ty, spec.nullable)
                )))
            }
            Some(f) => check_spec(f, spec, "required")?,
        }
    }
    // 4. reserved keywords
    for spec in reserved {
        if let Some(f) = fields.iter().find(|f| f.name == spec.name) {
            check_spec(f, spec, "reserved")?;
        }
    }
    // 5. attributes
    let mut textual: Option<&str> = None;
    for f in fields {
        if f.categorical && f.textual {
            return Err(bad(format!(
                "field {} cannot be both categorical and textual",
                f.name
            )));
        }
        for (set, attr) in [(f.categorical, "categorical"), (f.textual, "textual")] {
            if set && f.ty != FieldType::String {
                return Err(bad(format!(
                    "field {}: \"{attr}\" is only allowed on string fields, not {}",
                    f.name, f.ty
                )));
            }
        }
        if f.textual {
            if dt != DatasetType::Items {
                return Err(bad(format!(
                    "field {}: textual fields are only allowed in an Items schema, not {dt}",
                    f.name
                )));
            }
            if let Some(first) = textual {
                return Err(bad(format!(
                    "fields {first} and {} are both textual; an Items schema can have at most 1 \
                     textual field",
                    f.name
                )));
            }
            textual = Some(&f.name);
        }
    }
    // 6. metadata counts
    let metadata: Vec<&Field> = fields
        .iter()
        .filter(|f| f.class == FieldClass::Metadata)
        .collect();
    let (limit, what) = match dt {
        DatasetType::Users => (25, "metadata fields"),
        DatasetType::Items => (100, "metadata fields"),
        DatasetType::Actions => (10, "metadata fields"),
        DatasetType::Interactions | DatasetType::ActionInteractions => {
            (5, "metadata fields besides the required and reserved ones")
        }
    };
    if let Some(id) = dt.id_field() {
        // D-8: numeric, categorical or (Items) textual. A domain's descriptive fields (VOD
        // GENRES and SUBSCRIPTION_MODEL, ECOMMERCE PRICE and CATEGORY_L1, ...) count; the
        // identifier and the reserved keywords proper do not.
        let qualifies = |f: &Field| {
            let counted = f.class == FieldClass::Metadata
                || (f.name != id && !KEYWORDS.contains(&f.name.as_str()));
            counted && (f.ty.is_numeric() || f.categorical || f.textual)
        };
        if !fields.iter().any(qualifies) {
            return Err(bad(format!(
                "{} {dt} schema needs at least one metadata field besides {id}{} that is numeric \
                 (int, long, float, double) or a categorical string{}; found none",
                article(dt),
                if dt == DatasetType::Users {
                    ""
                } else {
                    " and the reserved keywords"
                },
                if dt == DatasetType::Items {
                    ", or a textual string"
                } else {
                    ""
                }
            )));
        }
    }
    if metadata.len() > limit {
        return Err(bad(format!(
            "{} {dt} schema can have at most {limit} {what}, found {} (the first beyond the \
             limit is {})",
            article(dt),
            metadata.len(),
            metadata[limit].name
        )));
    }
    Ok(())
}
