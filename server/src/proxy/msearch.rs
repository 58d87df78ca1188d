//! `_msearch` bodies and answers: the NDJSON body split into its searches as OpenSearch splits
//! it, lines replaced in place, and the answer's items re-ranked one by one.

use std::ops::Range;

use serde_json::value::RawValue;
use tracing::warn;

use super::members::Members;

/// The byte ranges of the body lines of a multi-search request, split as OpenSearch splits
/// it: each search is a header line then a body line, each ended by `\n`; one `\n` at the very
/// start is skipped; a last line without its `\n` is no search (OpenSearch rejects the request
/// as a whole).
pub(super) fn msearch_bodies(data: &[u8]) -> Vec<Range<usize>> {
    let next = |from: usize| {
        data.get(from..)?
            .iter()
            .position(|&b| b == b'\n')
            .map(|k| from + k)
    };
    let mut bodies = Vec::new();
    let mut from = 0;
    while let Some(header_end) = next(from) {
        if header_end == 0 {
            from = 1;
            continue;
        }
        let Some(body_end) = next(header_end + 1) else {
            break;
        };
        bodies.push(header_end + 1..body_end);
        from = body_end + 1;
    }
    bodies
}

/// `data` with some of its ranges (in order, not overlapping) replaced.
pub(super) fn splice(data: &[u8], replacements: Vec<(Range<usize>, Vec<u8>)>) -> Vec<u8> {
    let mut out = Vec::with_capacity(data.len() + 64);
    let mut at = 0;
    for (range, text) in replacements {
        out.extend_from_slice(&data[at..range.start]);
        out.extend_from_slice(&text);
        at = range.end;
    }
    out.extend_from_slice(&data[at..]);
    out
}

/// Whether a multi-search response item is a search's answer (no `error` member, `status`
/// 200 or absent), not its failure.
pub(super) fn answered(item: &[u8]) -> bool {
    Members::parse(item).is_some_and(|m| {
        m.get("error").is_none() && m.get("status").is_none_or(|s| s.get().trim() == "200")
    })
}

/// Re-ranks the answers of a multi-search response: `rerank` gets each answered item's
/// position and text and returns its new text (`None`: kept as it is). Error items pass
/// through; so does everything else in the response, byte for byte. Returns `None` when
/// nothing changed, or the response does not have one item per search.
pub(super) fn rerank_msearch(
    body: &[u8],
    searches: usize,
    mut rerank: impl FnMut(usize, &[u8]) -> Option<Vec<u8>>,
) -> Option<Vec<u8>> {
    let top = Members::parse(body)?;
    let items: Vec<&RawValue> = serde_json::from_str(top.get("responses")?.get()).ok()?;
    if items.len() != searches {
        warn!(
            searches,
            answers = items.len(),
            "OpenSearch's multi-search answer does not have one item per search; passed \
             through as it is"
        );
        return None;
    }
    let mut changed = false;
    let mut list = Vec::with_capacity(body.len() + 64);
    list.push(b'[');
    for (k, item) in items.iter().enumerate() {
        if k > 0 {
            list.push(b',');
        }
        let text = item.get().as_bytes();
        match answered(text).then(|| rerank(k, text)).flatten() {
            Some(new) => {
                changed = true;
                list.extend_from_slice(&new);
            }
            None => list.extend_from_slice(text),
        }
    }
    list.push(b']');
    if !changed {
        return None;
    }
    let mut out = Vec::with_capacity(list.len() + 64);
    top.write(&mut out, &[("responses", &list)]);
    Some(out)
}
