//! The proxied paths and query strings: which paths are searches (`_search`, `_msearch`,
//! scroll continuations), the proxy's own query parameters split from those forwarded, the
//! path sent to OpenSearch, and the query-string encoding both ways.

use crate::http::ApiError;

/// The query parameter naming the campaign.
pub const CAMPAIGN_PARAM: &str = "personalize_campaign";
/// The query parameter giving the weight.
pub const WEIGHT_PARAM: &str = "personalize_weight";
/// The query parameter naming the item id field.
pub const ITEM_ID_FIELD_PARAM: &str = "personalize_item_id_field";

/// The search APIs the proxy serves.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(super) enum Api {
    /// `_search`: one search, its body a JSON object.
    Search,
    /// `_msearch`: several searches, NDJSON (a header line and a body line each).
    MultiSearch,
    /// `_search/scroll` (the next page of a scroll, or clearing it): forwarded as it is, never
    /// re-ranked; the "index" slot holds a scroll id given in the path.
    Scroll,
}

impl Api {
    /// The path's last segment.
    pub(super) fn endpoint(self) -> &'static str {
        match self {
            Api::Search => "_search",
            Api::MultiSearch => "_msearch",
            Api::Scroll => "_search/scroll",
        }
    }
}

/// Whether a path is proxied: `/_search`, `/{index}/_search`, `/_msearch`,
/// `/{index}/_msearch`, `/_search/scroll` or `/_search/scroll/{scroll_id}`.
pub fn is_search_path(path: &str) -> bool {
    search_target(path).is_some()
}

/// Whether a path is a scroll continuation (which also takes `DELETE`, to clear the scroll).
pub fn is_scroll_path(path: &str) -> bool {
    matches!(search_target(path), Some((Api::Scroll, _)))
}

/// The API and index part of a proxied path: `(api, None)` for `/_search` or `/_msearch`,
/// `(api, Some(index))` for `/{index}/_search` or `/{index}/_msearch`, `(Scroll, id)` for
/// `/_search/scroll[/{id}]`, `None` for any other path.
pub(super) fn search_target(path: &str) -> Option<(Api, Option<&str>)> {
    let path = path.strip_prefix('/')?;
    if let Some(rest) = path.strip_prefix("_search/scroll") {
        return match rest {
            "" => Some((Api::Scroll, None)),
            _ => {
                let id = rest.strip_prefix('/')?;
                (!id.is_empty() && !id.contains('/')).then_some((Api::Scroll, Some(id)))
            }
        };
    }
    [Api::Search, Api::MultiSearch].into_iter().find_map(|api| {
        let rest = path.strip_suffix(api.endpoint())?;
        if rest.is_empty() {
            return Some((api, None));
        }
        let index = rest.strip_suffix('/')?;
        (!index.is_empty() && !index.contains('/')).then_some((api, Some(index)))
    })
}

/// Decodes a query-string component (`+` is a space, `%XX` a byte; bad escapes stay as they
/// are).
pub(super) fn decode(s: &str) -> String {
    let b = s.as_bytes();
    let mut out = Vec::with_capacity(b.len());
    let mut i = 0;
    while i < b.len() {
        match b[i] {
            b'+' => out.push(b' '),
            b'%' => {
                let hex = b
                    .get(i + 1..i + 3)
                    .and_then(|h| std::str::from_utf8(h).ok())
                    .and_then(|h| u8::from_str_radix(h, 16).ok());
                if let Some(byte) = hex {
                    out.push(byte);
                    i += 3;
                    continue;
                }
                out.push(b'%');
            }
            c => out.push(c),
        }
        i += 1;
    }
    String::from_utf8_lossy(&out).into_owned()
}

/// OpenSearch's response filtering parameter, refused on a personalized search.
pub(super) const FILTER_PATH: &str = "filter_path";

/// Whether a raw query string has the parameter `name` (with or without a value).
pub(super) fn has_param(query: &str, name: &str) -> bool {
    query
        .split('&')
        .filter(|p| !p.is_empty())
        .any(|p| decode(p.split_once('=').map_or(p, |(k, _)| k)) == name)
}

/// The proxy's own query parameters.
#[derive(Debug, Default, PartialEq, Eq)]
pub(super) struct Overrides {
    pub(super) campaign: Option<String>,
    pub(super) weight: Option<String>,
    pub(super) item_id_field: Option<String>,
}

/// Splits a raw query string into the proxy's parameters (decoded; the last one wins) and the
/// rest, forwarded as written. The flag says whether the rest has `scroll`.
pub(super) fn split_query(query: &str) -> (Overrides, String, bool) {
    let mut own = Overrides::default();
    let mut rest: Vec<&str> = Vec::new();
    let mut scroll = false;
    for piece in query.split('&').filter(|p| !p.is_empty()) {
        let (key, value) = piece.split_once('=').unwrap_or((piece, ""));
        let slot = match decode(key).as_str() {
            CAMPAIGN_PARAM => &mut own.campaign,
            WEIGHT_PARAM => &mut own.weight,
            ITEM_ID_FIELD_PARAM => &mut own.item_id_field,
            k => {
                scroll |= k == "scroll";
                rest.push(piece);
                continue;
            }
        };
        *slot = Some(decode(value));
    }
    (own, rest.join("&"), scroll)
}

/// The path sent to OpenSearch, relative to the cluster URL. `./` keeps an index like
/// `remote:index` (cross-cluster search) from reading as a URL scheme.
pub(super) fn forwarded_path(api: Api, index: Option<&str>, query: &str) -> String {
    let endpoint = api.endpoint();
    let mut path = match (api, index) {
        (Api::Scroll, Some(id)) => format!("./{endpoint}/{id}"),
        (_, Some(index)) => format!("./{index}/{endpoint}"),
        (_, None) => format!("./{endpoint}"),
    };
    if !query.is_empty() {
        path.push('?');
        path.push_str(query);
    }
    path
}

/// Checks an index (or scroll id) path segment: none that would leave the search path once
/// resolved.
pub(super) fn check_index(index: &str, api: Api) -> Result<(), ApiError> {
    let decoded = decode(index);
    if decoded == "." || decoded == ".." || index.contains('\\') || decoded.contains('/') {
        return Err(ApiError::invalid(if api == Api::Scroll {
            format!("scroll id: {decoded:?} is not a scroll id")
        } else {
            format!("index: {decoded:?} is not an index name, list or pattern")
        }));
    }
    Ok(())
}

/// Percent-encodes a query-string component (unreserved characters and `*` stay).
pub(super) fn encode(s: &str) -> String {
    let mut out = String::with_capacity(s.len());
    for b in s.bytes() {
        if b.is_ascii_alphanumeric() || b"-._~*".contains(&b) {
            out.push(char::from(b));
        } else {
            out.push_str(&format!("%{b:02X}"));
        }
    }
    out
}
