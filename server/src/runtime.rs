//! The runtime API (`spec/api.md` 2.1, 2.1b; `spec/models.md` 4): GetPersonalizedRanking
//! (`POST /personalize-ranking`) and GetRecommendations (`POST /recommendations`).
//!
//! Handlers are synchronous and in-memory: the body is parsed borrowing from the request bytes,
//! every documented limit is checked, the live campaign is an `Arc` clone, the user's recent
//! events are copied out of the real-time cache under a shard lock, and the response JSON is
//! written straight into one buffer. No disk I/O, no await.
//!
//! What is accepted but not applied: `context` (validated, then ignored: no recipe here uses
//! context), `filterArn`/`filterValues` and `promotions` (validated, then refused with a clear
//! InvalidInputException, since filters are not implemented), `recommenderArn` (refused).

use std::borrow::Cow;
use std::collections::HashMap;
use std::fmt;
use std::sync::Arc;

use attune::api::{
    DEFAULT_NUM_RESULTS, MAX_FILTER_VALUES, MAX_INPUT_ITEMS, MAX_ITEMS_WITH_METADATA,
    MAX_METADATA_COLUMNS, MAX_NUM_RESULTS,
};
use attune::model::{Model, Recipe};
use serde::de::{IgnoredAny, SeqAccess, Visitor};
use serde::{Deserialize, Deserializer};
use smallvec::SmallVec;

use crate::catalog::Catalog;
use crate::http::{check_arn, check_chars, check_word, parse_json, push_f64, ApiError, Service};
use crate::metrics::Series;
use crate::ranking::{campaign_by_arn, check_context, recent_events, StrMap};
use crate::realtime::Recent;
use crate::state::{AppState, LiveCampaign};

/// A JSON string borrowed from the request body when it has no escapes (the usual case) and
/// owned otherwise. serde's own `Cow<str>` borrows only as a direct field: inside a list it
/// always copies, which cost one allocation per `inputList` item.
#[derive(Debug)]
struct Text<'a>(Cow<'a, str>);

impl Text<'_> {
    /// Whether the string was read without an escape, so it holds nothing JSON must escape:
    /// no quote or backslash (those need escapes) and no control character (JSON parsers
    /// refuse them unescaped).
    fn is_plain(&self) -> bool {
        matches!(self.0, Cow::Borrowed(_))
    }
}

impl AsRef<str> for Text<'_> {
    fn as_ref(&self) -> &str {
        &self.0
    }
}

impl<'de: 'a, 'a> Deserialize<'de> for Text<'a> {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Text<'a>, D::Error> {
        struct V<'a>(std::marker::PhantomData<&'a ()>);
        impl<'de: 'a, 'a> Visitor<'de> for V<'a> {
            type Value = Text<'a>;
            fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                f.write_str("a string")
            }
            fn visit_borrowed_str<E>(self, v: &'de str) -> Result<Text<'a>, E> {
                Ok(Text(Cow::Borrowed(v)))
            }
            fn visit_str<E>(self, v: &str) -> Result<Text<'a>, E> {
                Ok(Text(Cow::Owned(v.to_owned())))
            }
            fn visit_string<E>(self, v: String) -> Result<Text<'a>, E> {
                Ok(Text(Cow::Owned(v)))
            }
        }
        d.deserialize_str(V(std::marker::PhantomData))
    }
}

/// `inputList`: [`Text`]s in one allocation sized for the largest valid list.
#[derive(Debug)]
struct TextList<'a>(Vec<Text<'a>>);

impl<'de: 'a, 'a> Deserialize<'de> for TextList<'a> {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<TextList<'a>, D::Error> {
        struct V<'a>(std::marker::PhantomData<&'a ()>);
        impl<'de: 'a, 'a> Visitor<'de> for V<'a> {
            type Value = TextList<'a>;
            fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                f.write_str("a sequence")
            }
            fn visit_seq<A: SeqAccess<'de>>(self, mut seq: A) -> Result<TextList<'a>, A::Error> {
                let mut v = Vec::with_capacity(MAX_INPUT_ITEMS);
                while let Some(t) = seq.next_element()? {
                    v.push(t);
                }
                Ok(TextList(v))
            }
        }
        d.deserialize_seq(V(std::marker::PhantomData))
    }
}

#[derive(Debug, Deserialize)]
#[serde(rename_all = "camelCase")]
struct RankingRequest<'a> {
    #[serde(borrow, default)]
    campaign_arn: Option<Cow<'a, str>>,
    #[serde(borrow, default)]
    user_id: Option<Cow<'a, str>>,
    #[serde(borrow, default)]
    input_list: Option<TextList<'a>>,
    #[serde(borrow, default)]
    context: Option<StrMap<'a>>,
    #[serde(borrow, default)]
    filter_arn: Option<Cow<'a, str>>,
    #[serde(borrow, default)]
    filter_values: Option<StrMap<'a>>,
    #[serde(borrow, default)]
    metadata_columns: Option<HashMap<Cow<'a, str>, Vec<Cow<'a, str>>>>,
}

#[derive(Debug, Deserialize)]
#[serde(rename_all = "camelCase")]
struct RecommendationsRequest<'a> {
    #[serde(borrow, default)]
    campaign_arn: Option<Cow<'a, str>>,
    #[serde(borrow, default)]
    recommender_arn: Option<Cow<'a, str>>,
    #[serde(borrow, default)]
    item_id: Option<Cow<'a, str>>,
    #[serde(borrow, default)]
    user_id: Option<Cow<'a, str>>,
    #[serde(default)]
    num_results: Option<i64>,
    #[serde(borrow, default)]
    context: Option<StrMap<'a>>,
    #[serde(borrow, default)]
    filter_arn: Option<Cow<'a, str>>,
    #[serde(borrow, default)]
    filter_values: Option<StrMap<'a>>,
    #[serde(default)]
    promotions: Option<Vec<IgnoredAny>>,
    #[serde(borrow, default)]
    metadata_columns: Option<HashMap<Cow<'a, str>, Vec<Cow<'a, str>>>>,
}

/// The usual GetPersonalizedRanking body read without serde: a third of the cost of the
/// general parser for 500 ids.
mod fast {
    use std::borrow::Cow;

    use super::{RankingRequest, Text, TextList, MAX_INPUT_ITEMS};

    /// Reads `{"campaignArn": "...", "userId": "...", "inputList": ["...", ...]}` (any of the
    /// three members, each once, in any order, JSON whitespace anywhere) when every string is
    /// ASCII without an escape. Anything else — another member, a `null`, an escape, a
    /// duplicate, a syntax error — gives `None`, and the caller parses the body with serde,
    /// which reads what this accepts to the same values and reports errors.
    pub(super) fn ranking_request(body: &[u8]) -> Option<RankingRequest<'_>> {
        // One check of the whole body makes every slice below a valid &str.
        let text = std::str::from_utf8(body).ok()?;
        let mut p = Parser { text, at: 0 };
        let mut req = RankingRequest {
            campaign_arn: None,
            user_id: None,
            input_list: None,
            context: None,
            filter_arn: None,
            filter_values: None,
            metadata_columns: None,
        };
        p.byte(b'{')?;
        if !p.peek_is(b'}') {
            loop {
                let key = p.string()?;
                p.byte(b':')?;
                match key {
                    "campaignArn" if req.campaign_arn.is_none() => {
                        req.campaign_arn = Some(Cow::Borrowed(p.string()?));
                    }
                    "userId" if req.user_id.is_none() => {
                        req.user_id = Some(Cow::Borrowed(p.string()?));
                    }
                    "inputList" if req.input_list.is_none() => {
                        let mut list = Vec::with_capacity(MAX_INPUT_ITEMS);
                        p.byte(b'[')?;
                        if !p.peek_is(b']') {
                            p.strings(&mut list)?;
                        }
                        p.byte(b']')?;
                        req.input_list = Some(TextList(list));
                    }
                    _ => return None,
                }
                if !p.comma_or(b'}')? {
                    break;
                }
            }
        }
        p.byte(b'}')?;
        p.skip_ws();
        (p.at == body.len()).then_some(req)
    }

    struct Parser<'a> {
        text: &'a str,
        at: usize,
    }

    impl<'a> Parser<'a> {
        fn skip_ws(&mut self) {
            let b = self.text.as_bytes();
            while let Some(b' ' | b'\n' | b'\t' | b'\r') = b.get(self.at) {
                self.at += 1;
            }
        }

        /// Whether the next byte after whitespace is `c` (not consumed).
        fn peek_is(&mut self, c: u8) -> bool {
            self.skip_ws();
            self.text.as_bytes().get(self.at) == Some(&c)
        }

        /// Consumes `c` after whitespace.
        fn byte(&mut self, c: u8) -> Option<()> {
            if self.peek_is(c) {
                self.at += 1;
                Some(())
            } else {
                None
            }
        }

        /// After a member or element: `true` on a comma (consumed), `false` before `close`
        /// (not consumed).
        fn comma_or(&mut self, close: u8) -> Option<bool> {
            self.skip_ws();
            match self.text.as_bytes().get(self.at) {
                Some(b',') => {
                    self.at += 1;
                    Some(true)
                }
                Some(&c) if c == close => Some(false),
                _ => None,
            }
        }

        /// A string of ASCII without escapes or control characters, borrowed.
        fn string(&mut self) -> Option<&'a str> {
            self.byte(b'"')?;
            let (s, end) = string_at(self.text, self.at)?;
            self.at = end;
            Some(s)
        }

        /// The strings of a non-empty list, up to its `]` (not consumed).
        fn strings(&mut self, out: &mut Vec<Text<'a>>) -> Option<()> {
            let b = self.text.as_bytes();
            let mut at = self.at;
            loop {
                while WS[usize::from(*b.get(at)?)] {
                    at += 1;
                }
                if b[at] != b'"' {
                    return None;
                }
                let (s, end) = string_at(self.text, at + 1)?;
                out.push(Text(Cow::Borrowed(s)));
                at = end;
                while WS[usize::from(*b.get(at)?)] {
                    at += 1;
                }
                match b[at] {
                    b',' => at += 1,
                    b']' => break,
                    _ => return None,
                }
            }
            self.at = at;
            Some(())
        }
    }

    /// JSON whitespace.
    static WS: [bool; 256] = {
        let mut t = [false; 256];
        t[b' ' as usize] = true;
        t[b'\n' as usize] = true;
        t[b'\t' as usize] = true;
        t[b'\r' as usize] = true;
        t
    };

    /// Bytes that end the fast path's strings: the closing quote, and what it declines (a
    /// backslash, control characters, non-ASCII).
    static STOP: [bool; 256] = {
        let mut t = [false; 256];
        let mut c = 0;
        while c < 256 {
            t[c] = c < 0x20 || c >= 0x80 || c == b'"' as usize || c == b'\\' as usize;
            c += 1;
        }
        t
    };

    /// The string whose contents start at `start` (after its opening quote) and the position
    /// after its closing quote; `None` when a byte other than the quote stops it.
    fn string_at(text: &str, start: usize) -> Option<(&str, usize)> {
        let b = text.as_bytes();
        let mut at = start;
        while !STOP[usize::from(*b.get(at)?)] {
            at += 1;
        }
        if b[at] != b'"' {
            return None;
        }
        Some((text.get(start..at)?, at + 1))
    }
}

fn check_filter(arn: Option<&str>, values: Option<&StrMap<'_>>) -> Result<(), ApiError> {
    if let Some(values) = values {
        if values.len() > MAX_FILTER_VALUES {
            return Err(ApiError::invalid(format!(
                "filterValues: at most {MAX_FILTER_VALUES} entries, found {}",
                values.len()
            )));
        }
        for (k, v) in values {
            check_chars("filterValues key", k, 1, 50)?;
            check_word("filterValues key", k)?;
            check_chars(&format!("filterValues.{k}"), v, 0, 1000)?;
        }
    }
    if let Some(arn) = arn {
        check_arn("filterArn", arn)?;
        return Err(ApiError::invalid(format!(
            "filterArn: filters are not supported by this server yet ({arn})"
        )));
    }
    if values.is_some_and(|v| !v.is_empty()) {
        return Err(ApiError::invalid("filterValues: given without filterArn"));
    }
    Ok(())
}

/// The requested metadata columns, as catalog column indices with the names asked for.
type Columns<'r> = SmallVec<[(usize, &'r str); MAX_METADATA_COLUMNS]>;

fn check_metadata_names<'r>(
    columns: Option<&'r HashMap<Cow<'_, str>, Vec<Cow<'_, str>>>>,
) -> Result<Option<&'r [Cow<'r, str>]>, ApiError> {
    let Some(map) = columns else {
        return Ok(None);
    };
    if map.len() > 1 {
        return Err(ApiError::invalid(format!(
            "metadataColumns: at most 1 entry (ITEMS), found {}",
            map.len()
        )));
    }
    let Some((key, names)) = map.iter().next() else {
        return Ok(None);
    };
    if key != "ITEMS" {
        return Err(ApiError::invalid(format!(
            "metadataColumns: the key {key:?} is not supported; use ITEMS"
        )));
    }
    if names.len() > MAX_METADATA_COLUMNS {
        return Err(ApiError::invalid(format!(
            "metadataColumns.ITEMS: at most {MAX_METADATA_COLUMNS} columns, found {}",
            names.len()
        )));
    }
    for (i, n) in names.iter().enumerate() {
        check_chars(&format!("metadataColumns.ITEMS[{i}]"), n, 1, 150)?;
    }
    Ok((!names.is_empty()).then_some(names.as_slice()))
}

fn resolve_columns<'r>(
    campaign: &LiveCampaign,
    catalog: Option<&Catalog>,
    names: &'r [Cow<'r, str>],
) -> Result<Columns<'r>, ApiError> {
    if !campaign
        .info
        .campaign_config
        .enable_metadata_with_recommendations
    {
        return Err(ApiError::invalid(format!(
            "metadataColumns: campaign {} was not created with \
             campaignConfig.enableMetadataWithRecommendations=true",
            campaign.info.campaign_arn
        )));
    }
    let Some(catalog) = catalog else {
        return Err(ApiError::invalid(format!(
            "metadataColumns: dataset group {} has no Items dataset",
            campaign.group.name
        )));
    };
    names
        .iter()
        .enumerate()
        .map(|(i, n)| match catalog.column(n) {
            Some(c) => Ok((c, n.as_ref())),
            None => Err(ApiError::invalid(format!(
                "metadataColumns.ITEMS[{i}]: {n:?} is not a column of the Items schema \
                 (columns: {})",
                catalog.column_names().join(", ")
            ))),
        })
        .collect()
}

/// Appends `s` as a JSON string, byte for byte what serde_json writes: ids rarely need an
/// escape, so they are copied as they are unless one does.
fn push_str(out: &mut Vec<u8>, s: &str) {
    if s.bytes().any(|b| b < 0x20 || b == b'"' || b == b'\\') {
        // Writing into a Vec cannot fail.
        let _ = serde_json::to_writer(&mut *out, s);
        return;
    }
    out.reserve(s.len() + 2);
    out.push(b'"');
    out.extend_from_slice(s.as_bytes());
    out.push(b'"');
}

/// Appends a random `recommendationId` as a JSON string: `RID-` and a version-4 UUID (40
/// characters), the UUID as `router::uuid` formats it.
fn push_recommendation_id(out: &mut Vec<u8>) {
    const HEX: &[u8; 16] = b"0123456789abcdef";
    let bits: u128 = rand::random();
    let bits = (bits & !(0xf << 76) | (0x4 << 76)) & !(0x3 << 62) | (0x2 << 62);
    out.extend_from_slice(b"\"RID-");
    for k in 0..32 {
        if matches!(k, 8 | 12 | 16 | 20) {
            out.push(b'-');
        }
        out.push(HEX[(bits >> (124 - 4 * k)) as usize & 0xf]);
    }
    out.push(b'"');
}

/// Appends one item. `plain`: the id needs no JSON escape (it was read from the request
/// without one), so it is copied without looking.
fn push_item(
    out: &mut Vec<u8>,
    item: &str,
    plain: bool,
    score: Option<f64>,
    metadata: Option<(&Catalog, &Columns<'_>)>,
) {
    out.extend_from_slice(b"{\"itemId\":");
    if plain {
        out.push(b'"');
        out.extend_from_slice(item.as_bytes());
        out.push(b'"');
    } else {
        push_str(out, item);
    }
    if let Some(score) = score.filter(|s| s.is_finite()) {
        out.extend_from_slice(b",\"score\":");
        push_f64(out, score);
    }
    if let Some((catalog, columns)) = metadata {
        out.extend_from_slice(b",\"metadata\":{");
        let mut first = true;
        for &(c, name) in columns.iter() {
            if let Some(v) = catalog.value(item, c) {
                if !first {
                    out.push(b',');
                }
                first = false;
                push_str(out, name);
                out.push(b':');
                push_str(out, v);
            }
        }
        out.push(b'}');
    }
    out.push(b'}');
}

/// GetPersonalizedRanking. Returns the response body; sets `series` once the campaign is known.
pub fn personalized_ranking(
    state: &AppState,
    body: &[u8],
    series: &mut Option<Arc<Series>>,
) -> Result<Vec<u8>, ApiError> {
    let req: RankingRequest<'_> = match fast::ranking_request(body) {
        Some(req) => req,
        None => parse_json(body)?,
    };
    let campaign = campaign_by_arn(state, req.campaign_arn.as_deref(), Service::Runtime)?;
    *series = Some(Arc::clone(&campaign.ranking_metrics));
    let user = req
        .user_id
        .as_deref()
        .ok_or_else(|| ApiError::invalid("userId: required"))?;
    check_chars("userId", user, 1, 256)?;
    let input: &[Text<'_>] = &req
        .input_list
        .as_ref()
        .ok_or_else(|| ApiError::invalid("inputList: required"))?
        .0;
    let metadata_names = check_metadata_names(req.metadata_columns.as_ref())?;
    let max = if metadata_names.is_some() {
        MAX_ITEMS_WITH_METADATA
    } else {
        MAX_INPUT_ITEMS
    };
    if input.is_empty() || input.len() > max {
        return Err(ApiError::invalid(format!(
            "inputList: must have 1-{max} items{}, found {}",
            if metadata_names.is_some() {
                " with metadataColumns"
            } else {
                ""
            },
            input.len()
        )));
    }
    for (i, item) in input.iter().enumerate() {
        if item.0.is_empty() || item.0.len() > 256 {
            check_chars(&format!("inputList[{i}]"), &item.0, 1, 256)?;
        }
    }
    check_context(req.context.as_ref())?;
    check_filter(req.filter_arn.as_deref(), req.filter_values.as_ref())?;
    let recipe = campaign.model.recipe();
    if recipe != Recipe::PersonalizedRanking {
        return Err(ApiError::invalid(format!(
            "campaign {} serves a {} recipe; GetPersonalizedRanking needs a \
             PERSONALIZED_RANKING campaign (use GetRecommendations)",
            campaign.info.campaign_arn,
            recipe.recipe_type()
        )));
    }
    let catalog_guard = metadata_names.map(|_| campaign.group.catalog());
    let columns = match (metadata_names, &catalog_guard) {
        (Some(names), Some(guard)) => Some(resolve_columns(&campaign, guard.as_ref(), names)?),
        _ => None,
    };

    let mut buf = Recent::new();
    let recent = recent_events(&campaign, user, &mut buf);
    let ranked = campaign.model.rank(user, &recent, input);

    // `{"itemId":"<id>","score":<at most 24 characters>},` per item: sized once.
    let ids_len: usize = input.iter().map(|t| t.0.len()).sum();
    let mut out = Vec::with_capacity(96 + ids_len + ranked.len() * 48);
    out.extend_from_slice(b"{\"personalizedRanking\":[");
    let metadata = match (&catalog_guard, &columns) {
        (Some(guard), Some(cols)) => guard.as_ref().map(|c| (c, cols)),
        _ => None,
    };
    for (k, r) in ranked.iter().enumerate() {
        let item = &input[r.input_index];
        if metadata.is_none() && item.is_plain() {
            // The usual item in three copies: `,{"itemId":"`, the id, `","score":` + score + `}`.
            out.extend_from_slice(if k > 0 {
                b",{\"itemId\":\""
            } else {
                b"{\"itemId\":\""
            });
            out.extend_from_slice(item.0.as_bytes());
            match r.score.filter(|s| s.is_finite()) {
                Some(score) => {
                    out.extend_from_slice(b"\",\"score\":");
                    push_f64(&mut out, score);
                    out.push(b'}');
                }
                None => out.extend_from_slice(b"\"}"),
            }
            continue;
        }
        if k > 0 {
            out.push(b',');
        }
        push_item(&mut out, &item.0, item.is_plain(), r.score, metadata);
    }
    out.extend_from_slice(b"],\"recommendationId\":");
    push_recommendation_id(&mut out);
    out.push(b'}');
    Ok(out)
}

/// GetRecommendations. Returns the response body; sets `series` once the campaign is known.
pub fn recommendations(
    state: &AppState,
    body: &[u8],
    series: &mut Option<Arc<Series>>,
) -> Result<Vec<u8>, ApiError> {
    let req: RecommendationsRequest<'_> = parse_json(body)?;
    if let Some(r) = req.recommender_arn.as_deref() {
        check_arn("recommenderArn", r)?;
        if req.campaign_arn.is_some() {
            return Err(ApiError::invalid(
                "give either campaignArn or recommenderArn, not both",
            ));
        }
        return Err(ApiError::invalid(format!(
            "recommenderArn: recommenders are not supported by this server; use a campaignArn \
             ({r})"
        )));
    }
    let campaign = campaign_by_arn(state, req.campaign_arn.as_deref(), Service::Runtime)?;
    *series = Some(Arc::clone(&campaign.recommendations_metrics));
    if let Some(user) = req.user_id.as_deref() {
        check_chars("userId", user, 1, 256)?;
    }
    if let Some(item) = req.item_id.as_deref() {
        check_chars("itemId", item, 1, 256)?;
    }
    let metadata_names = check_metadata_names(req.metadata_columns.as_ref())?;
    let max = if metadata_names.is_some() {
        MAX_ITEMS_WITH_METADATA
    } else {
        MAX_NUM_RESULTS
    };
    let n = match req.num_results {
        None => DEFAULT_NUM_RESULTS.min(max),
        Some(n) if n < 0 || n as usize > max => {
            return Err(ApiError::invalid(format!(
                "numResults: must be 0-{max}{}, found {n}",
                if metadata_names.is_some() {
                    " with metadataColumns"
                } else {
                    ""
                }
            )))
        }
        Some(n) => n as usize,
    };
    check_context(req.context.as_ref())?;
    check_filter(req.filter_arn.as_deref(), req.filter_values.as_ref())?;
    if let Some(p) = &req.promotions {
        if p.len() > 1 {
            return Err(ApiError::invalid(format!(
                "promotions: at most 1 promotion, found {}",
                p.len()
            )));
        }
        if !p.is_empty() {
            return Err(ApiError::invalid(
                "promotions: promotions need filters, which this server does not support yet",
            ));
        }
    }
    let model: &Model = &campaign.model;
    let items: Vec<u32> = match model.recipe() {
        Recipe::PersonalizedRanking => {
            return Err(ApiError::invalid(format!(
                "campaign {} serves a PERSONALIZED_RANKING recipe: use GetPersonalizedRanking \
                 (POST /personalize-ranking)",
                campaign.info.campaign_arn
            )))
        }
        Recipe::SimilarItems => {
            let item = req.item_id.as_deref().ok_or_else(|| {
                ApiError::invalid(format!(
                    "itemId: required for campaign {}, which serves a RELATED_ITEMS recipe",
                    campaign.info.campaign_arn
                ))
            })?;
            similar_items(&campaign, item, n)
        }
        Recipe::PopularityCount => model.popular(n).to_vec(),
    };

    let catalog_guard = metadata_names.map(|_| campaign.group.catalog());
    let columns = match (metadata_names, &catalog_guard) {
        (Some(names), Some(guard)) => Some(resolve_columns(&campaign, guard.as_ref(), names)?),
        _ => None,
    };
    let metadata = match (&catalog_guard, &columns) {
        (Some(guard), Some(cols)) => guard.as_ref().map(|c| (c, cols)),
        _ => None,
    };
    let mut out = Vec::with_capacity(96 + items.len() * 40);
    out.extend_from_slice(b"{\"itemList\":[");
    for (k, &i) in items.iter().enumerate() {
        if k > 0 {
            out.push(b',');
        }
        // Similar-Items and Popularity-Count are not scored recipes (spec 4.3): no score.
        push_item(&mut out, model.item_id(i), false, None, metadata);
    }
    out.extend_from_slice(b"],\"recommendationId\":");
    push_recommendation_id(&mut out);
    out.push(b'}');
    Ok(out)
}

/// Similar items of `item`: the model's neighbours; for an item the model has not seen, the
/// metadata neighbours computed when PutItems added it; then popular items to fill up.
fn similar_items(campaign: &LiveCampaign, item: &str, n: usize) -> Vec<u32> {
    let model: &Model = &campaign.model;
    if n == 0 {
        return Vec::new();
    }
    if model.items.index(item).is_some() {
        return model.similar(item, n);
    }
    let mut out: Vec<u32> = Vec::with_capacity(n);
    if let Some(catalog) = campaign.group.catalog().as_ref() {
        for id in catalog.neighbours(item) {
            if out.len() == n {
                break;
            }
            if let Some(i) = model.items.index(id) {
                if !out.contains(&i) {
                    out.push(i);
                }
            }
        }
    }
    if out.len() < n {
        for i in model.similar(item, n) {
            if out.len() == n {
                break;
            }
            if !out.contains(&i) {
                out.push(i);
            }
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    fn serde_parse(body: &[u8]) -> Option<String> {
        parse_json::<RankingRequest<'_>>(body)
            .ok()
            .map(|r| format!("{r:?}"))
    }

    #[test]
    fn the_fast_parser_reads_what_serde_reads_or_declines() {
        let ids: Vec<String> = (0..500).map(|k| format!("\"i{}\"", 4 * k + 1)).collect();
        let list = ids.join(",");
        let accepted = [
            format!(
                r#"{{"campaignArn":"arn:aws:personalize:local:0:campaign/c","userId":"u1","inputList":[{list}]}}"#
            ),
            " { \"inputList\" : [ \"a\" , \"b~\u{7f}\" ] , \"userId\" : \"u 2\" } ".to_owned(),
            "{\n\t\"userId\":\r\"x\"\n}\n".to_owned(),
            r#"{"inputList":[]}"#.to_owned(),
            "{}".to_owned(),
        ];
        for body in &accepted {
            let fast = fast::ranking_request(body.as_bytes()).map(|r| format!("{r:?}"));
            assert!(fast.is_some(), "declined {body}");
            assert_eq!(fast, serde_parse(body.as_bytes()), "{body}");
        }
        let declined = [
            r#"{"userId":"a\"b"}"#,
            r#"{"userId":"\u0061"}"#,
            r#"{"userId":"é"}"#,
            r#"{"userId":null}"#,
            r#"{"userId":"a","userId":"b"}"#,
            r#"{"inputList":["a"],"inputList":["b"]}"#,
            r#"{"context":{"k":"v"},"userId":"a"}"#,
            r#"{"filterArn":"arn:aws:personalize:::filter/f"}"#,
            r#"{"inputList":["a",5]}"#,
            r#"{"inputList":["a",]}"#,
            r#"{"inputList":"a"}"#,
            r#"{"userId":"a",}"#,
            r#"{"userId":"a"} x"#,
            r#"{"userId":"a"}{}"#,
            "{\"userId\":\"a\u{1}\"}",
            "",
            "[]",
        ];
        for body in declined {
            assert!(fast::ranking_request(body.as_bytes()).is_none(), "{body}");
        }
        assert!(fast::ranking_request(b"{\"userId\":\"\xff\"}").is_none());
        // Every proper prefix of an accepted body is invalid JSON: declined.
        for body in &accepted[..2] {
            for end in 0..body.len() {
                let prefix = &body.as_bytes()[..end];
                if fast::ranking_request(prefix).is_some() {
                    assert_eq!(
                        fast::ranking_request(prefix).map(|r| format!("{r:?}")),
                        serde_parse(prefix),
                        "{}",
                        String::from_utf8_lossy(prefix)
                    );
                }
            }
        }
    }

    #[test]
    fn borrowed_list_items_and_escaped_ones_parse_as_serde_does() {
        let body = br#"{"inputList":["plain","esc\"aped","\u00e9","tab\t"]}"#;
        let req: RankingRequest<'_> = parse_json(body).unwrap();
        let list = req.input_list.unwrap().0;
        let got: Vec<(&str, bool)> = list.iter().map(|t| (t.as_ref(), t.is_plain())).collect();
        assert_eq!(
            got,
            [
                ("plain", true),
                ("esc\"aped", false),
                ("é", false),
                ("tab\t", false)
            ]
        );
        let e = parse_json::<RankingRequest<'_>>(br#"{"inputList":["a",5]}"#).unwrap_err();
        assert!(
            e.message
                .contains("inputList[1]: invalid type: integer `5`, expected a string"),
            "{}",
            e.message
        );
    }

    #[test]
    fn scores_and_ids_are_written_as_serde_json_writes_them() {
        let mut values = vec![
            0.0,
            -0.0,
            1.0,
            0.1,
            1.0 / 3.0,
            1e-7,
            1.5e-5,
            123456789.0,
            1e15,
            1e16,
            1e17,
            1e21,
            1e22,
            1e300,
            f64::MAX,
            f64::MIN_POSITIVE,
            5e-324,
            f64::from_bits(0x000f_ffff_ffff_ffff),
            -2.5,
            0.002,
        ];
        // Softmax-like scores and arbitrary bit patterns (finite ones only).
        let mut state = 0x853c_49e6_748f_ea9bu64;
        for k in 0..400 {
            state ^= state << 13;
            state ^= state >> 7;
            state ^= state << 17;
            let x = if k % 2 == 0 {
                (state >> 11) as f64 / (1u64 << 53) as f64 / 500.0
            } else {
                f64::from_bits(state)
            };
            if x.is_finite() {
                values.push(x);
            }
        }
        for x in values {
            let mut out = Vec::new();
            push_f64(&mut out, x);
            assert_eq!(
                String::from_utf8(out).unwrap(),
                serde_json::to_string(&x).unwrap(),
                "{x:e}"
            );
        }
        for s in [
            "",
            "i1",
            "a\"b",
            "back\\slash",
            "\u{1}\n\t",
            "é€😀",
            "\u{7f}",
        ] {
            let mut out = Vec::new();
            push_str(&mut out, s);
            assert_eq!(
                String::from_utf8(out).unwrap(),
                serde_json::to_string(s).unwrap()
            );
        }
    }

    #[test]
    fn recommendation_ids_are_rid_and_a_version_4_uuid() {
        let mut out = Vec::new();
        push_recommendation_id(&mut out);
        let text: String = serde_json::from_slice(&out).unwrap();
        assert_eq!(text.len(), 40, "{text}");
        let uuid = text.strip_prefix("RID-").unwrap();
        let groups: Vec<&str> = uuid.split('-').collect();
        assert_eq!(
            groups.iter().map(|g| g.len()).collect::<Vec<_>>(),
            [8, 4, 4, 4, 12]
        );
        assert!(uuid
            .bytes()
            .all(|b| b == b'-' || b.is_ascii_digit() || (b'a'..=b'f').contains(&b)));
        assert!(groups[2].starts_with('4'), "{uuid}");
        assert!(
            matches!(groups[3].as_bytes()[0], b'8' | b'9' | b'a' | b'b'),
            "{uuid}"
        );
    }
}
