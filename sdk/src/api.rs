//! Wire DTOs of the runtime and events APIs (`spec/api.md` 2.1-2.2): the JSON bodies of
//! `POST /personalize-ranking`, `POST /recommendations`, `/events`, `/items`, `/users` and the
//! AWS error body, in the AWS shapes (camelCase, absent members omitted, unknown members
//! ignored, `null` read as absent). The client (`client`, feature `client`) serializes requests
//! and deserializes responses with these types; the server reads requests with its own
//! borrowing parser and checks the limits defined here.
//!
//! The Put* request types are those of [`crate::events`], re-exported here. The `validate`
//! methods check the limits botocore leaves to the server (maximum lengths, counts and
//! patterns); messages name the member, e.g. `inputList[3]: ...`.

use std::collections::BTreeMap;

use serde::{Deserialize, Serialize};

use crate::error::{invalid, Result};
pub use crate::events::{
    Event, Item, MetricAttribution, PutEventsRequest, PutItemsRequest, PutUsersRequest, User,
};
use crate::record::check_chars;

/// The most items GetPersonalizedRanking's `inputList` may hold.
pub const MAX_INPUT_ITEMS: usize = crate::model::MAX_INPUT_ITEMS;
/// The most items (inputList, numResults) when `metadataColumns` is given.
pub const MAX_ITEMS_WITH_METADATA: usize = 50;
/// GetRecommendations' `numResults` when absent.
pub const DEFAULT_NUM_RESULTS: usize = 25;
/// The largest `numResults`.
pub const MAX_NUM_RESULTS: usize = 500;
/// The most columns `metadataColumns` may list.
pub const MAX_METADATA_COLUMNS: usize = 10;
/// The longest ARN.
pub const MAX_ARN_CHARS: usize = 256;
/// The longest user or item id.
pub const MAX_ID_CHARS: usize = 256;
/// The most `context` entries.
pub const MAX_CONTEXT_ENTRIES: usize = 150;
/// The most `filterValues` entries.
pub const MAX_FILTER_VALUES: usize = 25;

/// GetPersonalizedRanking (`POST /personalize-ranking`).
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct GetPersonalizedRankingRequest {
    /// The campaign (a PERSONALIZED_RANKING solution's).
    pub campaign_arn: String,
    /// The items to rank: at most [`MAX_INPUT_ITEMS`], or [`MAX_ITEMS_WITH_METADATA`] with
    /// `metadata_columns`.
    pub input_list: Vec<String>,
    /// The user (or, for anonymous users, the sessionId their events were recorded with).
    pub user_id: String,
    /// Contextual metadata (at most 150 entries); accepted and not used by Attune's recipes.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub context: Option<BTreeMap<String, String>>,
    /// A filter to apply.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub filter_arn: Option<String>,
    /// The filter's placeholder values (quoted strings, comma-separated).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub filter_values: Option<BTreeMap<String, String>>,
    /// Item metadata to return: `{"ITEMS": ["COLUMN", ...]}` (at most 10 columns).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub metadata_columns: Option<BTreeMap<String, Vec<String>>>,
}

/// GetRecommendations (`POST /recommendations`).
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct GetRecommendationsRequest {
    /// The campaign.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub campaign_arn: Option<String>,
    /// The item to find related items for (RELATED_ITEMS recipes).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub item_id: Option<String>,
    /// The user to recommend for (USER_PERSONALIZATION and POPULAR_ITEMS recipes).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub user_id: Option<String>,
    /// How many items (default [`DEFAULT_NUM_RESULTS`], at most [`MAX_NUM_RESULTS`], or
    /// [`MAX_ITEMS_WITH_METADATA`] with `metadata_columns`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub num_results: Option<u32>,
    /// Contextual metadata (at most 150 entries).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub context: Option<BTreeMap<String, String>>,
    /// A filter to apply.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub filter_arn: Option<String>,
    /// The filter's placeholder values.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub filter_values: Option<BTreeMap<String, String>>,
    /// A domain recommender (not supported by Attune).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub recommender_arn: Option<String>,
    /// Promotions (at most one).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub promotions: Option<Vec<Promotion>>,
    /// Item metadata to return: `{"ITEMS": ["COLUMN", ...]}`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub metadata_columns: Option<BTreeMap<String, Vec<String>>>,
}

/// A promotion of GetRecommendations.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct Promotion {
    /// Its name.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub name: Option<String>,
    /// The share of promoted items (1-100).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub percent_promoted_items: Option<u32>,
    /// The filter selecting promoted items.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub filter_arn: Option<String>,
    /// The filter's placeholder values.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub filter_values: Option<BTreeMap<String, String>>,
}

/// One recommended or ranked item.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct PredictedItem {
    /// The item.
    pub item_id: String,
    /// Its score; absent for items the model does not know (ranked last).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub score: Option<f64>,
    /// The promotion that placed it, if any.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub promotion_name: Option<String>,
    /// The requested metadata columns (camelCase names as keys, values as strings).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub metadata: Option<BTreeMap<String, String>>,
    /// Why the item was recommended.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub reason: Option<Vec<String>>,
}

/// GetPersonalizedRanking's response.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct GetPersonalizedRankingResponse {
    /// The input items, best first; unknown items last without a score.
    #[serde(default)]
    pub personalized_ranking: Vec<PredictedItem>,
    /// Identifies this ranking (`RID-<uuid>`, at most 40 characters) for PutEvents.
    #[serde(default)]
    pub recommendation_id: String,
}

/// GetRecommendations' response.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct GetRecommendationsResponse {
    /// The recommended items, best first.
    #[serde(default)]
    pub item_list: Vec<PredictedItem>,
    /// Identifies these recommendations for PutEvents.
    #[serde(default)]
    pub recommendation_id: String,
}

/// The body of an error response: `{"__type": "InvalidInputException", "message": "..."}`.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct ErrorBody {
    /// The error's short name (a `namespace#` prefix may precede it).
    #[serde(rename = "__type", default)]
    pub error_type: String,
    /// What went wrong.
    #[serde(default, alias = "Message")]
    pub message: String,
}

impl GetPersonalizedRankingRequest {
    /// Checks the limits the model leaves to the server.
    pub fn validate(&self) -> Result<()> {
        check_chars("campaignArn", &self.campaign_arn, 1, MAX_ARN_CHARS)?;
        check_chars("userId", &self.user_id, 1, MAX_ID_CHARS)?;
        let max = if self.metadata_columns.is_some() {
            MAX_ITEMS_WITH_METADATA
        } else {
            MAX_INPUT_ITEMS
        };
        if self.input_list.is_empty() || self.input_list.len() > max {
            return Err(invalid!(
                "inputList: must have 1-{max} items{}, found {}",
                if self.metadata_columns.is_some() {
                    " with metadataColumns"
                } else {
                    ""
                },
                self.input_list.len()
            ));
        }
        for (k, id) in self.input_list.iter().enumerate() {
            check_chars(&format!("inputList[{k}]"), id, 1, MAX_ID_CHARS)?;
        }
        check_common(
            self.context.as_ref(),
            self.filter_arn.as_deref(),
            self.filter_values.as_ref(),
            self.metadata_columns.as_ref(),
        )
    }
}

impl GetRecommendationsRequest {
    /// Checks the limits the model leaves to the server (not which of itemId and userId the
    /// campaign's recipe needs).
    pub fn validate(&self) -> Result<()> {
        match (&self.campaign_arn, &self.recommender_arn) {
            (Some(arn), None) => check_chars("campaignArn", arn, 1, MAX_ARN_CHARS)?,
            (None, Some(arn)) => check_chars("recommenderArn", arn, 1, MAX_ARN_CHARS)?,
            (None, None) => return Err(invalid!("campaignArn: required")),
            (Some(_), Some(_)) => {
                return Err(invalid!(
                    "campaignArn, recommenderArn: give exactly one of them"
                ))
            }
        }
        if let Some(item) = &self.item_id {
            check_chars("itemId", item, 1, MAX_ID_CHARS)?;
        }
        if let Some(user) = &self.user_id {
            check_chars("userId", user, 1, MAX_ID_CHARS)?;
        }
        let max = if self.metadata_columns.is_some() {
            MAX_ITEMS_WITH_METADATA
        } else {
            MAX_NUM_RESULTS
        };
        if let Some(n) = self.num_results {
            if n as usize > max {
                return Err(invalid!(
                    "numResults: must be at most {max}{}, found {n}",
                    if self.metadata_columns.is_some() {
                        " with metadataColumns"
                    } else {
                        ""
                    }
                ));
            }
        }
        if let Some(p) = &self.promotions {
            if p.len() > 1 {
                return Err(invalid!(
                    "promotions: at most 1 promotion, found {}",
                    p.len()
                ));
            }
        }
        check_common(
            self.context.as_ref(),
            self.filter_arn.as_deref(),
            self.filter_values.as_ref(),
            self.metadata_columns.as_ref(),
        )
    }

    /// `numResults`, or its default.
    pub fn num_results(&self) -> usize {
        self.num_results.map_or(DEFAULT_NUM_RESULTS, |n| n as usize)
    }
}

fn check_name(what: &str, key: &str, max: usize) -> Result<()> {
    check_chars(what, key, 1, max)?;
    if !key.chars().all(|c| c.is_ascii_alphanumeric() || c == '_') {
        return Err(invalid!(
            "{what}: {key:?} may hold only letters, digits and '_'"
        ));
    }
    Ok(())
}

fn check_common(
    context: Option<&BTreeMap<String, String>>,
    filter_arn: Option<&str>,
    filter_values: Option<&BTreeMap<String, String>>,
    metadata_columns: Option<&BTreeMap<String, Vec<String>>>,
) -> Result<()> {
    if let Some(context) = context {
        if context.len() > MAX_CONTEXT_ENTRIES {
            return Err(invalid!(
                "context: at most {MAX_CONTEXT_ENTRIES} entries, found {}",
                context.len()
            ));
        }
        for (k, v) in context {
            check_name("context key", k, 150)?;
            check_chars(&format!("context.{k}"), v, 0, 1000)?;
        }
    }
    if let Some(arn) = filter_arn {
        check_chars("filterArn", arn, 1, MAX_ARN_CHARS)?;
    }
    if let Some(values) = filter_values {
        if values.len() > MAX_FILTER_VALUES {
            return Err(invalid!(
                "filterValues: at most {MAX_FILTER_VALUES} entries, found {}",
                values.len()
            ));
        }
        for (k, v) in values {
            check_name("filterValues key", k, 50)?;
            check_chars(&format!("filterValues.{k}"), v, 0, 1000)?;
        }
    }
    if let Some(columns) = metadata_columns {
        if columns.len() > 1 {
            return Err(invalid!(
                "metadataColumns: at most 1 entry (ITEMS), found {}",
                columns.len()
            ));
        }
        for (dataset, cols) in columns {
            if dataset != "ITEMS" {
                return Err(invalid!(
                    "metadataColumns: the key must be ITEMS, found {dataset:?}"
                ));
            }
            if cols.len() > MAX_METADATA_COLUMNS {
                return Err(invalid!(
                    "metadataColumns.ITEMS: at most {MAX_METADATA_COLUMNS} columns, found {}",
                    cols.len()
                ));
            }
            for (k, c) in cols.iter().enumerate() {
                check_chars(&format!("metadataColumns.ITEMS[{k}]"), c, 1, 150)?;
            }
        }
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn requests_read_the_aws_json_and_ignore_unknown_members() {
        let req: GetPersonalizedRankingRequest = serde_json::from_str(
            r#"{"campaignArn": "arn:aws:personalize:us-west-2:1:campaign/c", "userId": "u",
                "inputList": ["a", "b"], "context": {"DEVICE": "mobile"}, "filterArn": null,
                "rankingInfluence": {"FRESHNESS": 1.0}}"#,
        )
        .unwrap();
        assert_eq!(req.input_list, ["a", "b"]);
        assert_eq!(req.filter_arn, None);
        req.validate().unwrap();
        let err = serde_json::from_str::<GetPersonalizedRankingRequest>(r#"{"userId": "u"}"#)
            .unwrap_err();
        assert!(err.to_string().contains("campaignArn"), "{err}");
    }

    #[test]
    fn responses_omit_absent_members() {
        let resp = GetPersonalizedRankingResponse {
            personalized_ranking: vec![
                PredictedItem {
                    item_id: "a".into(),
                    score: Some(0.75),
                    ..PredictedItem::default()
                },
                PredictedItem {
                    item_id: "z".into(),
                    ..PredictedItem::default()
                },
            ],
            recommendation_id: "RID-1".into(),
        };
        assert_eq!(
            serde_json::to_string(&resp).unwrap(),
            r#"{"personalizedRanking":[{"itemId":"a","score":0.75},{"itemId":"z"}],"recommendationId":"RID-1"}"#
        );
        let err: ErrorBody =
            serde_json::from_str(r#"{"__type": "InvalidInputException", "Message": "m"}"#).unwrap();
        assert_eq!(err.message, "m");
    }

    #[test]
    fn limits_name_the_member() {
        let mut req = GetPersonalizedRankingRequest {
            campaign_arn: "arn:aws:personalize:::campaign/c".into(),
            user_id: "u".into(),
            input_list: (0..501).map(|i| i.to_string()).collect(),
            ..Default::default()
        };
        let msg = |r: &GetPersonalizedRankingRequest| r.validate().unwrap_err().to_string();
        assert_eq!(msg(&req), "inputList: must have 1-500 items, found 501");
        req.input_list.truncate(51);
        req.metadata_columns = Some([("ITEMS".into(), vec!["GENRES".into()])].into());
        assert_eq!(
            msg(&req),
            "inputList: must have 1-50 items with metadataColumns, found 51"
        );
        req.input_list = vec!["a".into(), "x".repeat(257)];
        assert_eq!(
            msg(&req),
            "inputList[1]: must have 1-256 characters, found 257"
        );
        let rec = GetRecommendationsRequest {
            campaign_arn: Some("arn:aws:personalize:::campaign/c".into()),
            num_results: Some(501),
            ..Default::default()
        };
        assert_eq!(
            rec.validate().unwrap_err().to_string(),
            "numResults: must be at most 500, found 501"
        );
        assert_eq!(rec.num_results(), 501);
        assert_eq!(GetRecommendationsRequest::default().num_results(), 25);
    }
}
