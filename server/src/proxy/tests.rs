use http::header::AUTHORIZATION;
use opensearch::http::Url;

use super::msearch::answered;
use super::paths::{encode, has_param, FILTER_PATH};
use super::source::covers;
use super::*;
use crate::config::ProxyConfig;
use crate::upstream::forwarded_headers;

#[test]
fn search_paths() {
    use Api::{MultiSearch, Search};
    assert_eq!(search_target("/_search"), Some((Search, None)));
    assert_eq!(
        search_target("/catalog/_search"),
        Some((Search, Some("catalog")))
    );
    assert_eq!(search_target("/a,b*/_search"), Some((Search, Some("a,b*"))));
    assert_eq!(
        search_target("/remote:catalog/_search"),
        Some((Search, Some("remote:catalog")))
    );
    assert_eq!(search_target("/_msearch"), Some((MultiSearch, None)));
    assert_eq!(search_target("/_search/scroll"), Some((Api::Scroll, None)));
    assert_eq!(
        search_target("/_search/scroll/DXF1ZXJ5QW5kRmV0Y2g="),
        Some((Api::Scroll, Some("DXF1ZXJ5QW5kRmV0Y2g=")))
    );
    assert!(is_scroll_path("/_search/scroll") && !is_scroll_path("/_search"));
    assert_eq!(
        search_target("/c-*/_msearch"),
        Some((MultiSearch, Some("c-*")))
    );
    for other in [
        "/",
        "/catalog",
        "/catalog/_searchx",
        "/catalog/x_search",
        "/a/b/_search",
        "//_search",
        "/_search/scroll/a/b",
        "/_search/scrollx",
        "/catalog/_search/scroll",
        "/catalog/_search/template",
        "/opensearch/rerank",
        "/catalog/x_msearch",
        "/catalog/_msearch/template",
        "/a/b/_msearch",
        "/_msearchx",
    ] {
        assert_eq!(search_target(other), None, "{other}");
    }
    assert!(is_search_path("/c/_search") && !is_search_path("/c/_count"));
    assert!(is_search_path("/c/_msearch") && is_search_path("/_msearch"));
    assert!(check_index("catalog-*", Api::Search).is_ok());
    for bad in ["..", ".", "%2e%2E", "a%2Fb", "a\\b"] {
        assert!(check_index(bad, Api::Search).is_err(), "{bad}");
    }
}

#[test]
fn undecodable_requests_are_recognized() {
    let body =
        br#"{"error":{"root_cause":[{"type":"too_long_http_header_exception"}]},"status":400}"#;
    assert!(undecodable(StatusCode::BAD_REQUEST, body));
    assert!(!undecodable(StatusCode::OK, body));
    assert!(!undecodable(
        StatusCode::BAD_REQUEST,
        br#"{"error":{"type":"parsing_exception"},"status":400}"#
    ));
}

#[test]
fn forwarded_paths_stay_on_the_cluster() {
    let base = Url::parse("http://127.0.0.1:9200/prefix/").unwrap();
    // What the transport does: the path without leading slashes, joined to the base.
    let join = |p: &str| base.join(p.trim_start_matches('/')).unwrap().to_string();
    assert_eq!(
        join(&forwarded_path(
            Api::Search,
            Some("catalog"),
            "size=5&q=a%20b"
        )),
        "http://127.0.0.1:9200/prefix/catalog/_search?size=5&q=a%20b"
    );
    assert_eq!(
        join(&forwarded_path(Api::Search, None, "")),
        "http://127.0.0.1:9200/prefix/_search"
    );
    assert_eq!(
        join(&forwarded_path(Api::MultiSearch, Some("c"), "typed_keys")),
        "http://127.0.0.1:9200/prefix/c/_msearch?typed_keys"
    );
    for index in ["https:evil.example", "remote:catalog", "http:x"] {
        let url = join(&forwarded_path(Api::MultiSearch, Some(index), ""));
        assert!(
            url.starts_with("http://127.0.0.1:9200/prefix/"),
            "{index}: {url}"
        );
    }
}

#[test]
fn query_parameters_split() {
    let (own, rest, scroll) = split_query(
        "size=600&personalize_campaign=arn%3Aaws%3Apersonalize%3Alocal%3A0%3Acampaign%2Frank\
         &q=title:a+b&personalize_weight=0.5&search_pipeline=p&personalize_item_id_field=_id\
         &personalize_weight=0.7&&flag",
    );
    assert_eq!(
        own,
        Overrides {
            campaign: Some("arn:aws:personalize:local:0:campaign/rank".into()),
            weight: Some("0.7".into()),
            item_id_field: Some("_id".into()),
        }
    );
    assert_eq!(rest, "size=600&q=title:a+b&search_pipeline=p&flag");
    assert!(!scroll);
    let (own, rest, scroll) = split_query("scroll=1m&personalize%5Fweight=0");
    assert_eq!(own.weight.as_deref(), Some("0"));
    assert_eq!(rest, "scroll=1m");
    assert!(scroll);
    assert_eq!(
        split_query(""),
        (Overrides::default(), String::new(), false)
    );
    assert_eq!(decode("a%zz%4"), "a%zz%4");
    assert_eq!(decode("%C3%A9+x"), "é x");
}

#[test]
fn query_parameters_are_found_by_decoded_name() {
    assert!(has_param("filter_path=-took", FILTER_PATH));
    assert!(has_param("size=3&filter%5Fpath=hits&x=1", FILTER_PATH));
    assert!(has_param("filter_path", FILTER_PATH));
    assert!(!has_param("filter_paths=x&path=filter_path", FILTER_PATH));
    assert!(!has_param("", FILTER_PATH));
}

#[test]
fn sorts_by_a_field_are_recognized_as_opensearch_reads_them() {
    let by_field: [(&str, &[u8]); 9] = [
        ("", br#"{"sort": "price"}"#),
        ("", br#"{"sort": ["price", "_score"]}"#),
        ("", br#"{"sort": [{"price": "desc"}]}"#),
        ("", br#"{"sort": {"price": {"order": "asc"}}}"#),
        ("", br#"{"sort": [{"_score": "asc"}]}"#),
        ("", br#"{"sort": [{"_score": {"order": "ASC"}}]}"#),
        ("", br#"{"sort": ["_doc"]}"#),
        ("sort=price:asc,_score", b"{}"),
        // The body's sorts come first; the parameter's are added after them.
        ("sort=_score", br#"{"sort": ["price"]}"#),
    ];
    for (query, body) in by_field {
        assert!(
            sorted_by_field(query, body),
            "{query} {}",
            String::from_utf8_lossy(body)
        );
    }
    let by_score: [(&str, &[u8]); 8] = [
        ("", b"{}"),
        ("", br#"{"sort": []}"#),
        ("", br#"{"sort": "_score"}"#),
        ("", br#"{"sort": ["_score", {"price": "asc"}]}"#),
        ("", br#"{"sort": [{"_score": "desc"}]}"#),
        ("", br#"{"sort": {"_score": {"order": "desc"}}}"#),
        ("sort=_score:desc,price", b"{}"),
        ("sort=_score", br#"{"sort": []}"#),
    ];
    for (query, body) in by_score {
        assert!(
            !sorted_by_field(query, body),
            "{query} {}",
            String::from_utf8_lossy(body)
        );
    }
}

#[test]
fn the_search_from_is_the_query_parameter_else_the_body_member() {
    assert_eq!(search_from("", b""), 0);
    assert_eq!(search_from("size=10", br#"{"size": 10}"#), 0);
    assert_eq!(search_from("", br#"{"from": 100, "size": 100}"#), 100);
    assert_eq!(search_from("", br#"{"from": "30"}"#), 30);
    assert_eq!(search_from("", br#"{"query": {"from": 5}}"#), 0);
    // The query parameter wins over the body; the last one counts.
    assert_eq!(search_from("from=20&size=5", br#"{"from": 100}"#), 20);
    assert_eq!(search_from("from=20&%66rom=40", b""), 40);
    assert_eq!(search_from("from=0", br#"{"from": 100}"#), 0);
    // Not a non-negative integer: 0 (OpenSearch rejects the search anyway).
    assert_eq!(search_from("from=-3", b""), 0);
    assert_eq!(search_from("", br#"{"from": -3}"#), 0);
    assert_eq!(search_from("", br#"{"from": 1.5}"#), 0);
    assert_eq!(search_from("", b"not json"), 0);
}

#[test]
fn the_extension_is_removed_and_the_rest_kept_byte_for_byte() {
    let body = br#"{"query": {"match": {"title": "a"}}, "size": 3,
        "ext": {"personalize_request_parameters": {"user_id": "u1", "context": {"D": "m"}}},
        "aggs": {"z": {"terms": {"field": "g"}}, "a": {"max": {"field": "p"}}}}"#;
    let (out, params) = strip_ext(body).unwrap();
    assert_eq!(
        std::str::from_utf8(&out).unwrap(),
        r#"{"query":{"match": {"title": "a"}},"size":3,"aggs":{"z": {"terms": {"field": "g"}}, "a": {"max": {"field": "p"}}}}"#
    );
    assert_eq!(params.get(), r#"{"user_id": "u1", "context": {"D": "m"}}"#);
    // Other ext members stay.
    let body =
        br#"{"ext": {"other": {"x": 1}, "personalize_request_parameters": {"user_id": "u"}}}"#;
    let (out, _) = strip_ext(body).unwrap();
    assert_eq!(out, br#"{"ext":{"other":{"x": 1}}}"#);
    // No extension, or not a JSON object: forwarded as it is.
    for body in [
        &br#"{"query": {"match_all": {}}}"#[..],
        br#"{"ext": {"other": 1}}"#,
        br#"{"ext": 5}"#,
        b"",
        b"{",
        b"[1]",
    ] {
        assert!(
            strip_ext(body).is_none(),
            "{}",
            String::from_utf8_lossy(body)
        );
    }
}

fn hit(id: &str, item: Option<&str>, score: f64) -> Value {
    let source = match item {
        Some(i) => json!({"item_id": i, "title": format!("t {id}")}),
        None => json!({"title": format!("t {id}")}),
    };
    json!({"_index": "c", "_id": id, "_score": score, "_source": source})
}

#[test]
fn hits_without_any_item_id_are_not_rescored() {
    // A filter_path or _source that left the field out, or documents without it: OpenSearch's
    // answer stays as it is, rather than a blend of OpenSearch's order alone.
    let hits = vec![hit("d0", None, 3.0), hit("d1", None, 2.0)];
    let body = format!(
        r#"{{"hits":{{"max_score":3.0,"hits":{}}}}}"#,
        serde_json::to_string(&hits).unwrap()
    );
    let field = ItemIdField::parse(Some("item_id"));
    let out = rerank_response(body.as_bytes(), &field, &SourceFix::Keep, |_| {
        panic!("blended without any item id")
    });
    assert!(out.is_none());
}

#[test]
fn hits_are_reordered_and_rescored_and_the_rest_kept() {
    let hits = vec![
        hit("d0", Some("i2"), 3.0),
        hit("d1", None, 2.0),
        hit("d2", Some("i0"), 1.5),
        hit("d3", Some("i1"), 1.0),
    ];
    let aggs = r#"{"g":{"buckets":[{"key":"x","doc_count":1.0E10}]}}"#;
    let body = format!(
        r#"{{"took":3,"timed_out":false,"_shards":{{"total":1}},"hits":{{"total":{{"value":4,"relation":"eq"}},"max_score":3.0,"hits":{}}},"aggregations":{aggs}}}"#,
        serde_json::to_string(&hits).unwrap()
    );
    let field = ItemIdField::parse(Some("item_id"));
    let out = rerank_response(body.as_bytes(), &field, &SourceFix::Keep, |ids| {
        assert_eq!(ids, [Some("i2"), None, Some("i0"), Some("i1")]);
        // The model's order: i0, i1, i2; the hit without an id after them.
        attune::blend::blend(&[3, 4, 1, 2], 4, 1.0)
    })
    .unwrap();
    let text = String::from_utf8(out).unwrap();
    // Everything but hits.hits and max_score as OpenSearch wrote it, in its order.
    assert!(
        text.starts_with(r#"{"took":3,"timed_out":false,"_shards":{"total":1},"hits":{"total":{"value":4,"relation":"eq"},"max_score":1.0,"hits":["#),
        "{text}"
    );
    assert!(
        text.ends_with(&format!(r#"]}},"aggregations":{aggs}}}"#)),
        "{text}"
    );
    let v: Value = serde_json::from_str(&text).unwrap();
    let got: Vec<&str> = v["hits"]["hits"]
        .as_array()
        .unwrap()
        .iter()
        .map(|h| h["_id"].as_str().unwrap())
        .collect();
    assert_eq!(got, ["d2", "d3", "d0", "d1"]);
    let scores: Vec<f64> = v["hits"]["hits"]
        .as_array()
        .unwrap()
        .iter()
        .map(|h| h["_score"].as_f64().unwrap())
        .collect();
    let expected = [1.0, 1.0 / 3f64.log2(), 0.5, 1.0 / 5f64.log2()];
    for (g, e) in scores.iter().zip(expected) {
        assert!((g - e).abs() < 1e-12, "{scores:?}");
    }
    assert_eq!(v["hits"]["hits"][0]["_source"], hits[2]["_source"]);
    // The document id as the field.
    let out = rerank_response(
        body.as_bytes(),
        &ItemIdField::parse(Some("_id")),
        &SourceFix::Keep,
        |ids| {
            assert_eq!(ids, [Some("d0"), Some("d1"), Some("d2"), Some("d3")]);
            attune::blend::identity(4)
        },
    );
    assert!(out.is_some());
    // No hits, or no hits.hits: nothing to do.
    for body in [
        r#"{"hits":{"total":{"value":0},"max_score":null,"hits":[]}}"#,
        r#"{"took":1}"#,
        r#"{"hits":{"hits":5}}"#,
        "not json",
    ] {
        assert!(
            rerank_response(body.as_bytes(), &field, &SourceFix::Keep, |_| panic!(
                "nothing to rank"
            ))
            .is_none(),
            "{body}"
        );
    }
}

#[test]
fn only_the_first_500_hits_carry_ids() {
    let hits: Vec<Value> = (0..600)
        .map(|k| hit(&format!("d{k}"), Some(&format!("i{k}")), 1.0))
        .collect();
    let body = json!({"hits": {"max_score": 1.0, "hits": hits}}).to_string();
    let field = ItemIdField::parse(Some("item_id"));
    let out = rerank_response(body.as_bytes(), &field, &SourceFix::Keep, |ids| {
        assert_eq!(ids.len(), 600);
        assert!(ids[..500].iter().all(Option::is_some));
        assert!(ids[500..].iter().all(Option::is_none));
        attune::blend::identity(600)
    });
    assert!(out.is_some());
}

/// A state whose proxy points at a closed port: every forwarded request fails with 502,
/// so a 502 means "validated and forwarded".
fn proxied(f: &crate::tests::Fixture, api_key: Option<&str>) -> Arc<AppState> {
    let mut config = f.config();
    config.api_key = api_key.map(str::to_owned);
    config.proxy = Some(ProxyConfig {
        opensearch_url: "http://127.0.0.1:1".into(),
        campaign: Some("rank".into()),
        weight: 0.5,
        item_id_field: "item_id".into(),
    });
    f.state_with(config)
}

async fn send(
    s: &Arc<AppState>,
    method: &str,
    path: &str,
    headers: &[(&str, &str)],
    body: Value,
) -> crate::tests::Reply {
    let mut req = http::Request::builder().method(method).uri(path);
    for (k, v) in headers {
        req = req.header(*k, *v);
    }
    let req = req.body(Full::new(Bytes::from(body.to_string()))).unwrap();
    crate::tests::call(s, req).await
}

#[tokio::test]
async fn requests_are_checked_before_forwarding() {
    let f = crate::tests::fixture();
    let ext = |user: Value| {
        json!({"query": {"match_all": {}},
        "ext": {"personalize_request_parameters": {"user_id": user}}})
    };
    // Without opensearch_url there is no such route.
    send(&f.state(), "POST", "/c/_search", &[], ext(json!("a")))
        .await
        .assert_error(404, "UnknownOperationException", "/c/_search");
    let s = proxied(&f, None);
    send(&s, "PUT", "/c/_search", &[], json!({}))
        .await
        .assert_error(405, "UnknownOperationException", "GET or POST");
    send(&s, "POST", "/../_search", &[], json!({}))
        .await
        .assert_error(400, "InvalidInputException", "index");
    let cases = [
        (
            "/c/_search",
            ext(Value::Null),
            400,
            "InvalidInputException",
            "ext.personalize_request_parameters: [user_id] required",
        ),
        (
            "/c/_search",
            ext(json!(5)),
            400,
            "InvalidInputException",
            "user_id doesn't support values of type: VALUE_NUMBER",
        ),
        (
            "/c/_search",
            json!({"ext": {"personalize_request_parameters": {"user_id": "a",
            "context": {"bad-key": "v"}}}}),
            400,
            "InvalidInputException",
            "context key",
        ),
        (
            "/c/_search?personalize_weight=2",
            json!({}),
            400,
            "InvalidInputException",
            "personalize_weight: [weight] invalid value for weight",
        ),
        (
            "/c/_search?personalize_item_id_field=%20",
            json!({}),
            400,
            "InvalidInputException",
            "personalize_item_id_field",
        ),
        (
            "/c/_search?personalize_campaign=none",
            ext(json!("a")),
            404,
            "ResourceNotFoundException",
            "campaign not found: none",
        ),
        (
            "/c/_search?personalize_campaign=arn:aws:personalize:local:000000000000:campaign/x",
            ext(json!("a")),
            404,
            "ResourceNotFoundException",
            "campaign/x",
        ),
        (
            "/c/_search?personalize_campaign=sim",
            ext(json!("a")),
            400,
            "InvalidInputException",
            "RELATED_ITEMS",
        ),
        // Valid: forwarded, and the closed port answers nothing.
        (
            "/c/_search",
            ext(json!("a")),
            502,
            "BadGatewayException",
            "OpenSearch",
        ),
        (
            "/_search?personalize_campaign=arn:aws:personalize:local:000000000000:campaign/rank",
            ext(json!("a")),
            502,
            "BadGatewayException",
            "OpenSearch",
        ),
        (
            "/c/_search",
            json!({"query": {"match_all": {}}}),
            502,
            "BadGatewayException",
            "OpenSearch",
        ),
        // Weight 0: the extension is removed, not read.
        (
            "/c/_search?personalize_weight=0&personalize_campaign=none",
            ext(Value::Null),
            502,
            "BadGatewayException",
            "OpenSearch",
        ),
        // filter_path on a personalized search: refused before anything is sent, with or
        // without a value, in any spelling of the key.
        (
            "/c/_search?filter_path=-hits.hits._source",
            ext(json!("a")),
            400,
            "InvalidInputException",
            "filter_path: not supported on a personalized search",
        ),
        (
            "/c/_search?size=5&filter%5Fpath",
            ext(json!("a")),
            400,
            "InvalidInputException",
            "filter_path: not supported on a personalized search",
        ),
        // ... but taken on a search that is not re-ranked: without the extension, at weight 0,
        // sorted by a field.
        (
            "/c/_search?filter_path=hits.hits._id",
            json!({"query": {"match_all": {}}}),
            502,
            "BadGatewayException",
            "OpenSearch",
        ),
        (
            "/c/_search?filter_path=took&personalize_weight=0",
            ext(json!("a")),
            502,
            "BadGatewayException",
            "OpenSearch",
        ),
        // Sorted by a field: the extension is removed, not read (even a bad one).
        (
            "/c/_search?filter_path=took",
            json!({"sort": [{"price": "asc"}],
                   "ext": {"personalize_request_parameters": {"user_id": 5}}}),
            502,
            "BadGatewayException",
            "OpenSearch",
        ),
        (
            "/c/_search?sort=price:desc",
            ext(Value::Null),
            502,
            "BadGatewayException",
            "OpenSearch",
        ),
        // Sorted by _score first: read as any personalized search.
        (
            "/c/_search",
            json!({"sort": ["_score", {"price": "asc"}],
                   "ext": {"personalize_request_parameters": {"user_id": null}}}),
            400,
            "InvalidInputException",
            "[user_id] required",
        ),
    ];
    for (path, body, status, kind, needle) in cases {
        send(&s, "POST", path, &[], body)
            .await
            .assert_error(status, kind, needle);
    }
    send(&s, "GET", "/a,b*/_search", &[], json!({}))
        .await
        .assert_error(502, "BadGatewayException", "OpenSearch");
    // Every request past routing counts under the proxy route (the 405 does not).
    assert!(s
        .render_metrics()
        .contains(r#"attune_http_requests_total{route="proxy"} 21"#));
    // With an API key, proxy routes take it only as x-api-key.
    let s = proxied(&f, Some("k"));
    let auth = ("authorization", "Bearer k");
    send(&s, "POST", "/c/_search", &[auth], json!({}))
        .await
        .assert_error(403, "AccessDeniedException", "x-api-key");
    send(
        &s,
        "POST",
        "/c/_search",
        &[auth, ("x-api-key", "k")],
        json!({}),
    )
    .await
    .assert_error(502, "BadGatewayException", "OpenSearch");
}

#[test]
fn forwarded_headers_are_authorization_content_type_and_opaque_id() {
    let mut h = http::HeaderMap::new();
    h.insert(
        AUTHORIZATION,
        HeaderValue::from_static("Basic YWRtaW46YWRtaW4="),
    );
    h.insert(CONTENT_TYPE, HeaderValue::from_static("application/json"));
    h.insert("x-opaque-id", HeaderValue::from_static("trace-1"));
    h.insert("x-api-key", HeaderValue::from_static("attune-secret"));
    h.insert("cookie", HeaderValue::from_static("c=1"));
    let out = forwarded_headers(&h);
    assert_eq!(
        out.get(AUTHORIZATION).map(|v| v.to_str().unwrap()),
        Some("Basic YWRtaW46YWRtaW4=")
    );
    assert_eq!(out.len(), 3);
    assert!(!out.contains_key("x-api-key") && !out.contains_key("cookie"));
}

#[test]
fn msearch_bodies_split_as_opensearch_splits_them() {
    fn bodies(data: &str) -> Vec<&str> {
        msearch_bodies(data.as_bytes())
            .into_iter()
            .map(|r| &data[r])
            .collect()
    }
    assert_eq!(
        bodies("{}\n{\"size\":1}\n{\"index\":\"x\"}\n{}\n"),
        ["{\"size\":1}", "{}"]
    );
    // An empty header line; one newline before the first header is skipped.
    assert_eq!(bodies("\n{}\n{\"a\":1}\n"), ["{\"a\":1}"]);
    assert_eq!(bodies("\n\n{\"a\":1}\n"), ["{\"a\":1}"]);
    // An empty body line is a search (OpenSearch rejects it).
    assert_eq!(bodies("{}\n\n"), [""]);
    // CRLF: the \r stays on the line (JSON whitespace to OpenSearch).
    assert_eq!(bodies("{}\r\n{}\r\n"), ["{}\r"]);
    // No trailing newline: the unterminated line is no search.
    assert_eq!(bodies("{}\n{\"a\":1}"), Vec::<&str>::new());
    assert_eq!(bodies("{}\n{\"a\":1}\n{}\n{\"b\""), ["{\"a\":1}"]);
    assert_eq!(bodies("{}\n"), Vec::<&str>::new());
    assert_eq!(bodies(""), Vec::<&str>::new());
    assert_eq!(
        splice(
            b"0123456789",
            vec![(1..3, b"ab".to_vec()), (5..5, b"X".to_vec())]
        ),
        b"0ab34X56789"
    );
}

/// The rank campaign's settings: weight 0.5, item id field `item_id`.
fn default_settings(s: &AppState) -> Settings<'_> {
    let upstream = s.upstream().unwrap();
    Settings {
        campaign: upstream.config().campaign.as_deref(),
        weight: upstream.config().weight,
        field: upstream.item_id_field().clone(),
    }
}

#[test]
fn msearch_lines_are_stripped_and_the_rest_kept_byte_for_byte() {
    let f = crate::tests::fixture();
    let s = proxied(&f, None);
    let settings = default_settings(&s);
    let body = concat!(
        "{\"index\": \"a\"}\n",
        "{\"query\": {\"match_all\": {}}, \"ext\": {\"personalize_request_parameters\": {\"user_id\": \"u1\"}}, \"from\": 5}\n",
        "{}\r\n",
        "{\"query\":  {\"term\": {\"g\": \"x\"}} ,\"size\": 2}\r\n",
        "\n",
        "{\"_source\": false, \"ext\": {\"other\": 1, \"personalize_request_parameters\": {\"user_id\": \"u2\"}}}\n",
        "{}\n",
        "not json at all\n",
    );
    let Prepared { body: out, reranks } =
        prepare_msearch(&s, &settings, false, body.as_bytes()).unwrap();
    let out = String::from_utf8(out.unwrap()).unwrap();
    assert_eq!(
        out,
        concat!(
            "{\"index\": \"a\"}\n",
            "{\"query\":{\"match_all\": {}},\"from\":5}\n",
            "{}\r\n",
            "{\"query\":  {\"term\": {\"g\": \"x\"}} ,\"size\": 2}\r\n",
            "\n",
            "{\"_source\":{\"excludes\":[],\"includes\":[\"item_id\"]},\"ext\":{\"other\":1}}\n",
            "{}\n",
            "not json at all\n",
        )
    );
    let summary: Vec<Option<(&str, usize, &SourceFix)>> = reranks
        .iter()
        .map(|r| r.as_ref().map(|r| (r.plan.user.as_str(), r.from, &r.fix)))
        .collect();
    assert_eq!(
        summary,
        [
            Some(("u1", 5, &SourceFix::Keep)),
            None,
            Some(("u2", 0, &SourceFix::DropSource)),
            None,
        ]
    );
    // Nothing to strip: nothing rewritten.
    let plain = "{}\n{\"size\":1}\n{\"index\":\"b\"}\n{}\n";
    let Prepared { body: out, reranks } =
        prepare_msearch(&s, &settings, false, plain.as_bytes()).unwrap();
    assert!(out.is_none());
    assert_eq!(reranks.len(), 2);
    assert!(reranks.iter().all(Option::is_none));
    // Weight 0 or a scroll: the extension removed, not read.
    let zero = Settings {
        weight: 0.0,
        ..default_settings(&s)
    };
    let ext = "{}\n{\"ext\":{\"personalize_request_parameters\":{\"user_id\":5}}}\n";
    for (settings, scroll) in [(&zero, false), (&settings, true)] {
        let Prepared { body: out, reranks } =
            prepare_msearch(&s, settings, scroll, ext.as_bytes()).unwrap();
        assert_eq!(out.unwrap(), b"{}\n{}\n");
        assert!(reranks[0].is_none());
    }
}

#[test]
fn a_bad_search_in_an_msearch_is_named_by_its_position() {
    let f = crate::tests::fixture();
    let s = proxied(&f, None);
    let settings = default_settings(&s);
    let ok = r#"{"ext":{"personalize_request_parameters":{"user_id":"u1"}}}"#;
    let cases = [
        (
            r#"{"ext":{"personalize_request_parameters":{"user_id":""}}}"#,
            "search 2: ext.personalize_request_parameters: [user_id] required",
        ),
        (
            r#"{"ext":{"personalize_request_parameters":{"user_id":"u","context":{"bad-key":"v"}}}}"#,
            "search 2: ext.personalize_request_parameters: ",
        ),
        (
            r#"{"_source":{"excludes":["item*"]},"ext":{"personalize_request_parameters":{"user_id":"u"}}}"#,
            "search 2: _source: the exclude pattern \"item*\" also covers the item id field \"item_id\"",
        ),
    ];
    for (bad, message) in cases {
        let body = format!("{{}}\n{ok}\n{{}}\n{bad}\n{{}}\n{ok}\n");
        let e = prepare_msearch(&s, &settings, false, body.as_bytes())
            .err()
            .unwrap_or_else(|| panic!("{bad} accepted"));
        assert_eq!(e.status, StatusCode::BAD_REQUEST);
        assert!(e.message.starts_with(message), "{}", e.message);
    }
}

fn source(text: &str) -> Option<SourceFilter> {
    SourceFilter::from_body(serde_json::from_str::<&RawValue>(text).unwrap())
}

fn filter(fetch: bool, includes: &[&str], excludes: &[&str]) -> SourceFilter {
    let list = |l: &[&str]| l.iter().map(|s| (*s).to_owned()).collect();
    SourceFilter {
        fetch,
        includes: list(includes),
        excludes: list(excludes),
    }
}

#[test]
fn source_filters_are_read_as_opensearch_reads_them() {
    assert_eq!(source("false"), Some(filter(false, &[], &[])));
    assert_eq!(source("true"), Some(filter(true, &[], &[])));
    assert_eq!(source(r#""tit*""#), Some(filter(true, &["tit*"], &[])));
    assert_eq!(
        source(r#"["a", "b.c", 1]"#),
        Some(filter(true, &["a", "b.c", "1"], &[]))
    );
    assert_eq!(
        source(r#"{"includes": "a", "exclude": ["b"]}"#),
        Some(filter(true, &["a"], &["b"]))
    );
    assert_eq!(
        source(r#"{"include": [], "excludes": "x"}"#),
        Some(filter(true, &[], &["x"]))
    );
    for other in [
        "null",
        "5",
        r#"{"includes": ["a"], "other": 1}"#,
        r#"[{"a": 1}]"#,
    ] {
        assert_eq!(source(other), None, "{other}");
    }
    let q = SourceFilter::from_query;
    assert_eq!(q("size=5&q=x"), None);
    assert_eq!(q("_source=false"), Some(filter(false, &[], &[])));
    assert_eq!(q("_source=true"), Some(filter(true, &[], &[])));
    assert_eq!(q("_source=TRUE"), Some(filter(true, &["TRUE"], &[])));
    assert_eq!(q("_source="), Some(filter(true, &[], &[])));
    assert_eq!(q("_source=a,b%2Ec"), Some(filter(true, &["a", "b.c"], &[])));
    // _source_includes wins over _source's list; the last of each counts.
    assert_eq!(
        q("_source=a&_source_includes=b&_source_excludes=c&_source_excludes=d"),
        Some(filter(true, &["b"], &["d"]))
    );
    assert_eq!(
        q("_source=false&_source_includes=b"),
        Some(filter(false, &["b"], &[]))
    );
}

#[test]
fn patterns_cover_fields_as_in_opensearch() {
    for (pattern, path) in [
        ("item_id", "item_id"),
        ("item*", "item_id"),
        ("*", "item_id"),
        ("*_id", "item_id"),
        ("i*m*d", "item_id"),
        ("a", "a.b"),
        ("a.*", "a.b"),
        ("a*", "a.b.c"),
        ("a.b", "a.b.c"),
    ] {
        assert!(covers(pattern, path), "{pattern} {path}");
    }
    for (pattern, path) in [
        ("item", "item_id"),
        ("item_id.x", "item_id"),
        ("a.b.c", "a.b"),
        ("b", "a.b"),
        ("a.b", "a.bc"),
        ("*x", "item_id"),
        ("", "item_id"),
    ] {
        assert!(!covers(pattern, path), "{pattern} {path}");
    }
}

#[test]
fn restricted_sources_are_widened_to_fetch_the_item_id() {
    let widen = |f: SourceFilter, field: &str| f.widen(field).unwrap();
    let drop = |f: &str| SourceFix::DropField(f.into());
    // Already fetched: nothing to do.
    for f in [
        filter(true, &[], &[]),
        filter(true, &["title", "item_*"], &[]),
        filter(true, &[], &["title", "item_id.x", "item"]),
        filter(true, &["a"], &["a.c"]),
    ] {
        let field = if f.includes == ["a"] {
            "a.b"
        } else {
            "item_id"
        };
        assert_eq!(f.widen(field).unwrap(), None, "{f:?}");
    }
    // false: only the field, and _source dropped from the hits (any field, nested too).
    for field in ["item_id", "a.b"] {
        assert_eq!(
            widen(filter(false, &["x"], &["y"]), field),
            Some((filter(true, &[field], &[]), SourceFix::DropSource))
        );
    }
    assert_eq!(
        widen(filter(true, &["title"], &["t.x"]), "item_id"),
        Some((
            filter(true, &["title", "item_id"], &["t.x"]),
            drop("item_id")
        ))
    );
    assert_eq!(
        widen(
            filter(true, &[], &["title", "item_id", "item_id"]),
            "item_id"
        ),
        Some((filter(true, &[], &["title"]), drop("item_id")))
    );
    assert_eq!(
        widen(filter(true, &["t*"], &["item_id"]), "item_id"),
        Some((filter(true, &["t*", "item_id"], &[]), drop("item_id")))
    );
    // Named in both the includes and the excludes: left for the cluster to judge (3.x
    // refuses the conflict).
    assert_eq!(
        widen(filter(true, &["item_id"], &["item_id"]), "item_id"),
        None
    );
    assert_eq!(
        widen(
            filter(true, &["t", "item_id"], &["x", "item_id"]),
            "item_id"
        ),
        None
    );
    // Errors name the field.
    let err = |f: SourceFilter, field: &str| f.widen(field).unwrap_err();
    assert!(err(filter(true, &[], &["item*"]), "item_id")
        .contains(r#""item*" also covers the item id field "item_id""#));
    assert!(err(filter(true, &[], &["a"]), "a.b").contains(r#""a" also covers"#));
    for field in ["a.b", "a*", "a,b"] {
        let e = err(filter(true, &["title"], &[]), field);
        assert!(
            e.contains(&format!("the item id field {field:?} is not fetched")),
            "{e}"
        );
    }
    let e = err(filter(true, &[], &["a.b"]), "a.b");
    assert!(e.contains("include \"a.b\" in _source"), "{e}");
}

#[test]
fn stored_fields_none_is_recognized() {
    assert!(!stored_fields_none("", b"{}"));
    assert!(stored_fields_none("", br#"{"stored_fields": "_none_"}"#));
    assert!(stored_fields_none("", br#"{"stored_fields": ["_none_"]}"#));
    assert!(!stored_fields_none("", br#"{"stored_fields": ["a"]}"#));
    assert!(stored_fields_none("stored_fields=_none_", b"{}"));
    // The query parameter replaces the body member.
    assert!(!stored_fields_none(
        "stored_fields=a",
        br#"{"stored_fields": "_none_"}"#
    ));
}

#[test]
fn widened_filters_are_written_back() {
    assert_eq!(
        filter(true, &["t", "item_id"], &["x"]).to_body(),
        br#"{"excludes":["x"],"includes":["t","item_id"]}"#
    );
    assert_eq!(
        filter(true, &["t*", "a b"], &["x"])
            .to_query("size=5&_source=t*&q=a%20b&_source_excludes=x,item_id&_source"),
        "size=5&q=a%20b&_source_includes=t*,a%20b&_source_excludes=x"
    );
    assert_eq!(
        filter(true, &[], &[]).to_query("_source_excludes=item_id"),
        "_source=true"
    );
    assert_eq!(
        filter(true, &["item_id"], &[]).to_query("%5Fsource=false&from=3"),
        "from=3&_source_includes=item_id"
    );
    assert_eq!(encode("a,b/é*"), "a%2Cb%2F%C3%A9*");
}

#[test]
fn the_added_field_is_removed_from_each_hit() {
    let hits = vec![
        json!({"_id": "d0", "_score": 2.0, "_source": {"title": "t0", "item_id": "i1", "g": 1}}),
        json!({"_id": "d1", "_score": 1.0, "_source": {"item_id": "i0"}}),
        json!({"_id": "d2", "_score": 0.5, "_source": {}}),
    ];
    let body = json!({"took": 1, "hits": {"max_score": 2.0, "hits": hits}}).to_string();
    let field = ItemIdField::parse(Some("item_id"));
    let order = |fix: SourceFix| -> Value {
        let out = rerank_response(body.as_bytes(), &field, &fix, |ids| {
            assert_eq!(ids, [Some("i1"), Some("i0"), None]);
            attune::blend::blend(&[2, 1, 3], 3, 1.0)
        })
        .unwrap();
        serde_json::from_slice(&out).unwrap()
    };
    let v = order(SourceFix::DropField("item_id".into()));
    let got = &v["hits"]["hits"];
    assert_eq!(got[0]["_id"], "d1");
    assert_eq!(got[0]["_source"], json!({}));
    assert_eq!(got[1]["_source"], json!({"title": "t0", "g": 1}));
    assert_eq!(got[2]["_source"], json!({}));
    let v = order(SourceFix::DropSource);
    for hit in v["hits"]["hits"].as_array().unwrap() {
        assert!(
            hit.get("_source").is_none() && hit.get("_score").is_some(),
            "{hit}"
        );
    }
    let v = order(SourceFix::Keep);
    assert_eq!(v["hits"]["hits"][0]["_source"], json!({"item_id": "i0"}));
}

#[test]
fn msearch_answers_are_reranked_and_errors_pass_through() {
    let body = concat!(
        r#"{"took":9,"responses":["#,
        r#"{"took":1,"hits":{"hits":[{"_id":"a"}]},"status":200},"#,
        r#"{"error":{"type":"index_not_found_exception"},"status":404},"#,
        r#"{"took":2, "hits": {"hits": []}, "status": 200},"#,
        r#"{"took":3,"hits":{"hits":[{"_id":"b"}]}}"#,
        r#"],"extra":{"x": 1}}"#
    );
    let mut seen = Vec::new();
    let out = rerank_msearch(body.as_bytes(), 4, |k, item| {
        assert!(item.starts_with(b"{\"took\""));
        seen.push(k);
        (k != 2).then(|| format!("\"reranked {k}\"").into_bytes())
    })
    .unwrap();
    assert_eq!(seen, [0, 2, 3]);
    assert_eq!(
        String::from_utf8(out).unwrap(),
        concat!(
            r#"{"took":9,"responses":["reranked 0","#,
            r#"{"error":{"type":"index_not_found_exception"},"status":404},"#,
            r#"{"took":2, "hits": {"hits": []}, "status": 200},"#,
            r#""reranked 3"],"extra":{"x": 1}}"#
        )
    );
    // Nothing re-ranked, or not one answer per search, or not a multi-search answer:
    // passed through.
    assert!(rerank_msearch(body.as_bytes(), 4, |_, _| None).is_none());
    assert!(rerank_msearch(body.as_bytes(), 3, |_, _| panic!("misaligned")).is_none());
    assert!(rerank_msearch(b"{\"took\":1}", 1, |_, _| panic!("no items")).is_none());
    assert!(answered(br#"{"status":200}"#) && answered(b"{}"));
    assert!(!answered(br#"{"status":500}"#) && !answered(br#"{"error":{}}"#));
}

async fn send_raw(s: &Arc<AppState>, method: &str, path: &str, body: &str) -> crate::tests::Reply {
    let req = http::Request::builder()
        .method(method)
        .uri(path)
        .header("content-type", "application/x-ndjson")
        .body(Full::new(Bytes::from(body.to_owned())))
        .unwrap();
    crate::tests::call(s, req).await
}

#[tokio::test]
async fn msearch_and_source_requests_are_checked_before_forwarding() {
    let f = crate::tests::fixture();
    let s = proxied(&f, None);
    let ext = r#"{"ext":{"personalize_request_parameters":{"user_id":"a"}}}"#;
    let ok = format!("{{}}\n{ext}\n{{\"index\":\"x\"}}\n{{}}\n");
    let cases = [
        (
            "/c/_msearch",
            ok.clone(),
            502,
            "BadGatewayException",
            "OpenSearch".to_owned(),
        ),
        (
            "/_msearch",
            ok.clone(),
            502,
            "BadGatewayException",
            "OpenSearch".into(),
        ),
        (
            "/_msearch?personalize_campaign=none",
            ok.clone(),
            404,
            "ResourceNotFoundException",
            "search 1: campaign not found: none".into(),
        ),
        (
            "/_msearch?personalize_campaign=none",
            "{}\n{}\n".into(),
            502,
            "BadGatewayException",
            "OpenSearch".into(),
        ),
        (
            "/_msearch?personalize_weight=x",
            ok.clone(),
            400,
            "InvalidInputException",
            "personalize_weight".into(),
        ),
        (
            "/c/_msearch",
            format!(
                "{{}}\n{ext}\n{{}}\n{}\n",
                r#"{"ext":{"personalize_request_parameters":{}}}"#
            ),
            400,
            "InvalidInputException",
            "search 2: ext.personalize_request_parameters: [user_id] required".into(),
        ),
        (
            "/c/_search?_source_excludes=item*",
            ext.into(),
            400,
            "InvalidInputException",
            "_source: the exclude pattern \"item*\" also covers the item id field \"item_id\""
                .into(),
        ),
        (
            "/c/_search?personalize_item_id_field=a.b",
            format!(r#"{{"_source":["t"],{}"#, &ext[1..]),
            400,
            "InvalidInputException",
            "_source: the item id field \"a.b\" is not fetched".into(),
        ),
        // Weight 0 or the document id: no _source rewrite, no error.
        (
            "/c/_search?_source_excludes=item*&personalize_weight=0",
            ext.into(),
            502,
            "BadGatewayException",
            "OpenSearch".into(),
        ),
        (
            "/c/_search?_source_excludes=item*&personalize_item_id_field=_id",
            ext.into(),
            502,
            "BadGatewayException",
            "OpenSearch".into(),
        ),
    ];
    let n = cases.len();
    for (path, body, status, kind, needle) in cases {
        send_raw(&s, "POST", path, &body)
            .await
            .assert_error(status, kind, &needle);
    }
    send_raw(&s, "PUT", "/c/_msearch", &ok).await.assert_error(
        405,
        "UnknownOperationException",
        "GET or POST",
    );
    send_raw(&s, "GET", "/c/_msearch", &ok).await.assert_error(
        502,
        "BadGatewayException",
        "OpenSearch",
    );
    // Every request past routing counts under the proxy route.
    assert!(s.render_metrics().contains(&format!(
        r#"attune_http_requests_total{{route="proxy"}} {}"#,
        n + 1
    )));
}
