//! The stock-OpenSearch route (`spec/opensearch.md` 1.3; OpenSearch >= 2.19 with ML Commons and
//! neural-search): no plugin of ours in the cluster. The `ml_inference` search response
//! processor (many-to-one) calls a remote model whose HTTP connector posts the hits' item ids to
//! Attune's `POST /opensearch/scores`; Attune answers one blended score per hit, in hit order;
//! `rerank` with `by_field` sorts the hits by it. The JSON is in `recipes/stock-ml-inference/`
//! ([`crate::files`]).
//!
//! This module pins down the contract both ways, as ML Commons implements it:
//! [`predict_body`] renders the connector's `request_body` exactly as ML Commons does, and
//! [`read_scores`] checks a response the way `ml_inference` and `by_field` consume it.

use std::collections::BTreeMap;

use serde_json::Value;

use crate::error::ConfigError;

/// The server path the connector calls.
pub const SCORES_PATH: &str = "/opensearch/scores";

/// The response member holding the scores (the pipeline's `output_map` reads it).
pub const SCORES_FIELD: &str = "scores";

/// Replaces every `${parameters.NAME}` of `template` whose NAME is in `parameters` by the value,
/// as text, unescaped (Apache Commons `StringSubstitutor`, as ML Commons uses it); unknown
/// names stay as they are, and `$${parameters.NAME}` is the literal `${parameters.NAME}`.
pub fn render(template: &str, parameters: &BTreeMap<String, String>) -> String {
    const OPEN: &str = "${parameters.";
    let mut out = String::with_capacity(template.len());
    let mut rest = template;
    while let Some(start) = rest.find(OPEN) {
        let after = &rest[start + OPEN.len()..];
        if rest[..start].ends_with('$') {
            // `$${parameters.x}` is an escaped, literal `${parameters.x}`.
            out.push_str(&rest[..start - 1]);
            out.push_str(OPEN);
            rest = after;
            continue;
        }
        match after.find('}') {
            Some(end) if parameters.contains_key(&after[..end]) => {
                out.push_str(&rest[..start]);
                out.push_str(&parameters[&after[..end]]);
                rest = &after[end + 1..];
            }
            _ => {
                out.push_str(&rest[..start + OPEN.len()]);
                rest = after;
            }
        }
    }
    out.push_str(rest);
    out
}

/// The body ML Commons posts for one search with the `connector` JSON (the body of
/// `POST /_plugins/_ml/connectors/_create`): the connector's `parameters` (values as text),
/// overridden by the `ml_inference` processor's model inputs: `user_id` (a string, substituted
/// as is) and `item_ids` (the hits' `item_id` values in hit order, substituted as a JSON list),
/// rendered into the `predict` action's `request_body`. Fails like ML Commons when the result
/// is not JSON (`Invalid payload: ...`).
pub fn predict_body(
    connector: &Value,
    user_id: &str,
    item_ids: &[Value],
) -> Result<String, ConfigError> {
    let action = connector
        .get("actions")
        .and_then(Value::as_array)
        .and_then(|a| {
            a.iter()
                .find(|x| x.get("action_type").and_then(Value::as_str) == Some("predict"))
        })
        .ok_or_else(|| ConfigError::property("actions", "no predict action"))?;
    let template = action
        .get("request_body")
        .and_then(Value::as_str)
        .ok_or_else(|| ConfigError::property("request_body", "required property is missing"))?;
    let mut parameters: BTreeMap<String, String> = connector
        .get("parameters")
        .and_then(Value::as_object)
        .map(|m| {
            m.iter()
                .map(|(k, v)| (k.clone(), crate::java::text(v)))
                .collect()
        })
        .unwrap_or_default();
    parameters.insert("user_id".into(), user_id.to_owned());
    parameters.insert(
        "item_ids".into(),
        Value::Array(item_ids.to_vec()).to_string(),
    );
    let body = render(template, &parameters);
    if serde_json::from_str::<Value>(&body).is_err() {
        return Err(ConfigError::other(format!("Invalid payload: {body}")));
    }
    Ok(body)
}

/// Reads a response to [`predict_body`]'s request as the stock pipeline consumes it: a JSON
/// object (ML Commons' `dataAsMap`) whose `scores` is a list of finite numbers, one per hit in
/// hit order (`ml_inference` assigns element `i` to hit `i` only when the lengths match, and
/// `by_field` needs a number). Returns the scores, or what is wrong.
pub fn read_scores(body: &[u8], hits: usize) -> Result<Vec<f64>, String> {
    let v: Value =
        serde_json::from_slice(body).map_err(|e| format!("the response is not JSON: {e}"))?;
    let map = v
        .as_object()
        .ok_or_else(|| format!("the response is not a JSON object: {v}"))?;
    let scores = map
        .get(SCORES_FIELD)
        .and_then(Value::as_array)
        .ok_or_else(|| format!("the response has no {SCORES_FIELD:?} list: {v}"))?;
    if scores.len() != hits {
        return Err(format!(
            "{SCORES_FIELD}: {} values for {hits} hits",
            scores.len()
        ));
    }
    scores
        .iter()
        .enumerate()
        .map(|(i, s)| {
            s.as_f64()
                .filter(|f| f.is_finite())
                .ok_or_else(|| format!("{SCORES_FIELD}[{i}]: {s} is not a finite number"))
        })
        .collect()
}
