//! The `personalized_search_ranking` processor's configuration.
//!
//! [`RawProcessorConfig`] mirrors the pipeline JSON: the fields of Amazon's processor
//! (`campaign_arn`, `item_id_field`, `recipe`, `weight`, `iam_role_arn`, `aws_region`), the ones
//! OpenSearch core reads for every processor (`tag`, `description`, `ignore_failure`), and
//! `external_account_iam_role_arn` (documented by the Personalize guide for Amazon OpenSearch
//! Service). Values stay raw JSON so [`ProcessorConfig::from_raw`] can check them in Java's order
//! with Java's messages:
//!
//! 1. types, property by property (`tag`, `ignore_failure`, `description`, then `campaign_arn`,
//!    `iam_role_arn`, `recipe`, `item_id_field`, `aws_region`, `weight`): `[campaign_arn]
//!    required property is missing`, `[recipe] property isn't a string, but of type
//!    [java.lang.Integer]`, `[weight] property cannot be converted to a double [abc]`;
//! 2. values: `[weight] invalid value for weight`, `[campaign_arn] invalid format for
//!    Personalize campaign arn`, `[iam_role_arn] invalid format for Personalize iam role arn`,
//!    `[recipe] not supported recipe provided` (each followed by what was found);
//! 3. any other property: `processor [personalized_search_ranking:<tag>] doesn't support one or
//!    more provided configuration parameters: [endpoint]`.
//!
//! Attune's rules differ from Amazon's in these places (`spec/opensearch.md` 2.6, `spec/models.md`
//! 7.7): `weight` must be a number in `0.0..=1.0` (NaN is refused; Amazon's check lets it
//! through); `campaign_arn` must name a campaign (`...:campaign/<name>`, at most 256
//! characters), not just any Personalize ARN; `aws_region` is optional (a self-hosted server
//! has no region; Amazon requires it); `item_id_field` `_id` means the document id, and a dotted
//! name reaches into nested objects ([`ItemIdField::extract`]).

use std::borrow::Cow;
use std::collections::BTreeMap;

use serde::{Deserialize, Serialize};
use serde_json::Value;

use crate::error::ConfigError;
use crate::java;
use crate::PROCESSOR_TYPE;

/// The processor's configuration as written in the pipeline JSON.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct RawProcessorConfig {
    /// The campaign to rank with (required): a Personalize campaign ARN.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub campaign_arn: Option<Value>,
    /// The `_source` field holding the item id (optional; `_id` when absent or blank).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub item_id_field: Option<Value>,
    /// The recipe (required): `aws-personalized-ranking` or `aws-personalized-ranking-v2`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub recipe: Option<Value>,
    /// The weight of personalization (required): a number in `0.0..=1.0`, or a string holding
    /// one (the guide writes `"0.3"`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub weight: Option<Value>,
    /// The processor's tag (optional).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub tag: Option<Value>,
    /// The processor's description (optional).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub description: Option<Value>,
    /// An IAM role ARN (optional; accepted for compatibility, unused by Attune).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub iam_role_arn: Option<Value>,
    /// A cross-account IAM role ARN (Amazon OpenSearch Service only; accepted, unused).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub external_account_iam_role_arn: Option<Value>,
    /// The AWS region (optional here; accepted, unused).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub aws_region: Option<Value>,
    /// Whether a failure leaves the response unpersonalized instead of failing the search
    /// (optional, default false; the guide recommends true in production).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub ignore_failure: Option<Value>,
    /// Any other property: refused by [`ProcessorConfig::from_raw`].
    #[serde(flatten)]
    pub other: BTreeMap<String, Value>,
}

/// The recipes the processor accepts.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Recipe {
    /// `aws-personalized-ranking`.
    PersonalizedRanking,
    /// `aws-personalized-ranking-v2`.
    PersonalizedRankingV2,
}

impl Recipe {
    /// Every accepted recipe.
    pub const ALL: [Recipe; 2] = [Recipe::PersonalizedRanking, Recipe::PersonalizedRankingV2];

    /// The name as written in the configuration.
    pub fn name(self) -> &'static str {
        match self {
            Recipe::PersonalizedRanking => "aws-personalized-ranking",
            Recipe::PersonalizedRankingV2 => "aws-personalized-ranking-v2",
        }
    }

    /// The recipe of a name, if accepted.
    pub fn parse(name: &str) -> Option<Recipe> {
        Recipe::ALL.into_iter().find(|r| r.name() == name)
    }
}

/// Where a hit's item id comes from.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub enum ItemIdField {
    /// The document `_id` (the default).
    DocumentId,
    /// A `_source` field; a dotted name also reaches into nested objects.
    Source(String),
}

impl ItemIdField {
    /// The field of an `item_id_field` value: absent, blank or `_id` mean the document id.
    pub fn parse(field: Option<&str>) -> ItemIdField {
        match field.map(str::trim) {
            None | Some("" | "_id") => ItemIdField::DocumentId,
            Some(_) => ItemIdField::Source(field.unwrap_or_default().to_owned()),
        }
    }

    /// The name as configured (`_id` for the document id).
    pub fn name(&self) -> &str {
        match self {
            ItemIdField::DocumentId => "_id",
            ItemIdField::Source(f) => f,
        }
    }

    /// The item id of a search hit (`{"_id": ..., "_source": {...}}`), or `None` when the hit
    /// has none, which ranks it with the items the model does not know. A `_source` field is
    /// looked up by its exact name first, then as a dotted path through nested objects; a string
    /// is the id as is, a number its JSON text; anything else, an empty string or a missing
    /// `_source` give no id.
    pub fn extract<'h>(&self, hit: &'h Value) -> Option<Cow<'h, str>> {
        let value = match self {
            ItemIdField::DocumentId => hit.get("_id")?,
            ItemIdField::Source(field) => {
                let source = hit.get("_source")?;
                match source.get(field.as_str()) {
                    Some(v) => v,
                    None => field.split('.').try_fold(source, |v, key| v.get(key))?,
                }
            }
        };
        match value {
            Value::String(s) if !s.is_empty() => Some(Cow::Borrowed(s)),
            Value::Number(n) => Some(Cow::Owned(n.to_string())),
            _ => None,
        }
    }
}

/// The validated configuration.
#[derive(Debug, Clone, PartialEq)]
pub struct ProcessorConfig {
    /// The campaign ARN (`arn:<partition>:personalize:<region>:<account>:campaign/<name>`).
    pub campaign_arn: String,
    /// Where hits' item ids come from.
    pub item_id_field: ItemIdField,
    /// The recipe.
    pub recipe: Recipe,
    /// The weight of personalization, in `0.0..=1.0`; 0 leaves hits untouched.
    pub weight: f64,
    /// The tag.
    pub tag: Option<String>,
    /// The description.
    pub description: Option<String>,
    /// The IAM role ARN, if given (unused by Attune).
    pub iam_role_arn: Option<String>,
    /// The cross-account IAM role ARN, if given (unused by Attune).
    pub external_account_iam_role_arn: Option<String>,
    /// The AWS region, if given (unused by Attune).
    pub aws_region: Option<String>,
    /// Whether failures leave the response unpersonalized.
    pub ignore_failure: bool,
}

/// A string property, if present (JSON `null` counts as absent, as in Java).
fn opt_string(name: &str, v: Option<Value>) -> Result<Option<String>, ConfigError> {
    match v {
        None | Some(Value::Null) => Ok(None),
        Some(Value::String(s)) => Ok(Some(s)),
        Some(other) => Err(ConfigError::property(
            name,
            format!(
                "property isn't a string, but of type [{}]",
                java::java_type(&other)
            ),
        )),
    }
}

fn required_string(name: &str, v: Option<Value>) -> Result<String, ConfigError> {
    opt_string(name, v)?.ok_or_else(|| ConfigError::property(name, "required property is missing"))
}

fn opt_bool(name: &str, v: Option<Value>) -> Result<bool, ConfigError> {
    match v {
        None | Some(Value::Null) => Ok(false),
        Some(Value::Bool(b)) => Ok(b),
        Some(other) => Err(ConfigError::property(
            name,
            format!(
                "property isn't a boolean, but of type [{}]",
                java::java_type(&other)
            ),
        )),
    }
}

/// Reads a `weight`: a JSON number or a string holding one (Java's `readDoubleProperty`), then
/// checks it is in `0.0..=1.0`. Messages: `[weight] required property is missing`, `[weight]
/// property cannot be converted to a double [abc]`, `[weight] invalid value for weight: must be
/// between 0.0 and 1.0, found 1.5`.
pub fn weight_from_value(v: Option<&Value>) -> Result<f64, ConfigError> {
    let w = parse_weight(v)?;
    check_weight(w)?;
    Ok(w)
}

fn parse_weight(v: Option<&Value>) -> Result<f64, ConfigError> {
    let v = match v {
        None | Some(Value::Null) => {
            return Err(ConfigError::property(
                "weight",
                "required property is missing",
            ))
        }
        Some(v) => v,
    };
    let parsed = match v {
        Value::Number(n) => n.as_f64(),
        Value::String(s) => java::parse_double(s),
        _ => None,
    };
    parsed.ok_or_else(|| {
        ConfigError::property(
            "weight",
            format!(
                "property cannot be converted to a double [{}]",
                java::text(v)
            ),
        )
    })
}

fn check_weight(w: f64) -> Result<(), ConfigError> {
    if (0.0..=1.0).contains(&w) {
        Ok(())
    } else {
        Err(ConfigError::property(
            "weight",
            format!("invalid value for weight: must be between 0.0 and 1.0, found {w}"),
        ))
    }
}

/// The service and resource of an ARN (`arn:<partition>:<service>:<region>:<account>:<resource>`
/// with a non-empty partition, service and resource), as the AWS SDK's `Arn.fromString` reads it.
fn arn_parts(arn: &str) -> Option<(&str, &str)> {
    let mut parts = arn.strip_prefix("arn:")?.splitn(5, ':');
    let partition = parts.next()?;
    let service = parts.next()?;
    let _region = parts.next()?;
    let _account = parts.next()?;
    let resource = parts.next()?;
    (!partition.is_empty() && !service.is_empty() && !resource.is_empty())
        .then_some((service, resource))
}

fn check_campaign_arn(arn: &str) -> Result<(), ConfigError> {
    let ok = arn.chars().count() <= 256
        && matches!(
            arn_parts(arn),
            Some(("personalize", resource))
                if resource.strip_prefix("campaign/").is_some_and(|n| !n.is_empty())
        );
    if ok {
        Ok(())
    } else {
        Err(ConfigError::property(
            "campaign_arn",
            format!(
                "invalid format for Personalize campaign arn: {arn:?} is not \
                 arn:<partition>:personalize:<region>:<account>:campaign/<name>"
            ),
        ))
    }
}

fn check_role_arn(name: &str, arn: Option<&str>) -> Result<(), ConfigError> {
    match arn {
        Some(arn) if !arn.trim().is_empty() => match arn_parts(arn) {
            Some(("iam", _)) => Ok(()),
            _ => Err(ConfigError::property(
                name,
                format!(
                    "invalid format for Personalize iam role arn: {arn:?} is not \
                     arn:<partition>:iam::<account>:role/<name>"
                ),
            )),
        },
        _ => Ok(()),
    }
}

impl ProcessorConfig {
    /// Validates a raw configuration (rules and messages: the module documentation).
    pub fn from_raw(raw: RawProcessorConfig) -> Result<ProcessorConfig, ConfigError> {
        let RawProcessorConfig {
            campaign_arn,
            item_id_field,
            recipe,
            weight,
            tag,
            description,
            iam_role_arn,
            external_account_iam_role_arn,
            aws_region,
            ignore_failure,
            other,
        } = raw;
        // What OpenSearch core reads for every processor.
        let tag = opt_string("tag", tag)?;
        let ignore_failure = opt_bool("ignore_failure", ignore_failure)?;
        let description = opt_string("description", description)?;
        // The factory's reads, in its order.
        let campaign_arn = required_string("campaign_arn", campaign_arn)?;
        let iam_role_arn = opt_string("iam_role_arn", iam_role_arn)?;
        let external_account_iam_role_arn = opt_string(
            "external_account_iam_role_arn",
            external_account_iam_role_arn,
        )?;
        let recipe_name = required_string("recipe", recipe)?;
        let item_id_field = opt_string("item_id_field", item_id_field)?;
        let aws_region = opt_string("aws_region", aws_region)?;
        let weight = parse_weight(weight.as_ref())?;
        // The values.
        check_weight(weight)?;
        check_campaign_arn(&campaign_arn)?;
        check_role_arn("iam_role_arn", iam_role_arn.as_deref())?;
        check_role_arn(
            "external_account_iam_role_arn",
            external_account_iam_role_arn.as_deref(),
        )?;
        let recipe = Recipe::parse(&recipe_name).ok_or_else(|| {
            ConfigError::property(
                "recipe",
                format!(
                    "not supported recipe provided: {recipe_name:?} (supported: {})",
                    Recipe::ALL.map(Recipe::name).join(", ")
                ),
            )
        })?;
        if !other.is_empty() {
            let name = match &tag {
                Some(t) => format!("{PROCESSOR_TYPE}:{t}"),
                None => PROCESSOR_TYPE.to_owned(),
            };
            let keys: Vec<&str> = other.keys().map(String::as_str).collect();
            return Err(ConfigError::other(format!(
                "processor [{name}] doesn't support one or more provided configuration \
                 parameters: [{}]",
                keys.join(", ")
            )));
        }
        Ok(ProcessorConfig {
            campaign_arn,
            item_id_field: ItemIdField::parse(item_id_field.as_deref()),
            recipe,
            weight,
            tag,
            description,
            iam_role_arn,
            external_account_iam_role_arn,
            aws_region,
            ignore_failure,
        })
    }

    /// Validates the processor's JSON object (the value under `personalized_search_ranking`).
    pub fn from_json(config: &Value) -> Result<ProcessorConfig, ConfigError> {
        if !config.is_object() {
            return Err(ConfigError::other(format!(
                "processor [{PROCESSOR_TYPE}] configuration isn't a map, but of type [{}]",
                java::java_type(config)
            )));
        }
        let raw: RawProcessorConfig = serde_json::from_value(config.clone())
            .map_err(|e| ConfigError::other(format!("processor [{PROCESSOR_TYPE}]: {e}")))?;
        ProcessorConfig::from_raw(raw)
    }

    /// Whether the processor leaves hits untouched without calling the server (weight 0).
    pub fn is_noop(&self) -> bool {
        self.weight == 0.0
    }
}

/// Every `personalized_search_ranking` processor of a search pipeline body
/// (`PUT /_search/pipeline/<name>`), validated, in order. The processor is a response processor:
/// in `request_processors` it is refused as OpenSearch does (`Invalid processor type ...`).
pub fn processors_in_pipeline(pipeline: &Value) -> Result<Vec<ProcessorConfig>, ConfigError> {
    let Some(body) = pipeline.as_object() else {
        return Err(ConfigError::other(format!(
            "a search pipeline is a JSON object, found [{}]",
            java::java_type(pipeline)
        )));
    };
    let list = |key: &str| -> Result<&[Value], ConfigError> {
        match body.get(key) {
            None | Some(Value::Null) => Ok(&[]),
            Some(Value::Array(a)) => Ok(a),
            Some(other) => Err(ConfigError::property(
                key,
                format!(
                    "property isn't a list, but of type [{}]",
                    java::java_type(other)
                ),
            )),
        }
    };
    if list("request_processors")?
        .iter()
        .any(|p| p.get(PROCESSOR_TYPE).is_some())
    {
        return Err(ConfigError::other(format!(
            "Invalid processor type {PROCESSOR_TYPE}"
        )));
    }
    list("response_processors")?
        .iter()
        .filter_map(|p| p.get(PROCESSOR_TYPE))
        .map(ProcessorConfig::from_json)
        .collect()
}
