//! The search proxy end to end: a real OpenSearch node without any plugin (2.19 and 3.x, one
//! test each), and
//! `attune serve --opensearch-url <node>` in front of it. Every proxied answer is compared with
//! the node's direct answer to the same search: hits re-ranked exactly as `attune::blend` over
//! the fixture's model ranks them (with the user's real-time events), everything else as
//! OpenSearch wrote it.
//!
//! One node for the whole test (it costs ~10 s and 512 MB to start); the checks run in sequence
//! with a message per step.

use attune::api::{Event, PutEventsRequest};
use attune::client::Response;
use attune::model::Model;
use opensearch::http::headers::{HeaderMap, HeaderName, HeaderValue};
use opensearch::http::Method;
use serde_json::{json, Value};
use tests::opensearch_node::{Line, Node, NodeOptions};

use crate::server::{assert_error, Fixture};

const INDEX: &str = "catalog";
/// The server's default weight in this test (`--proxy-weight`).
const WEIGHT: f64 = 0.6;
/// OpenSearch's limit on the request headers here: a longer `Authorization` header is refused.
const MAX_HEADER: usize = 2048;

fn step(what: &str) {
    eprintln!("opensearch proxy: {what}");
}

/// The catalog: the fixture's 500 items, 150 items the model does not know and 20 documents
/// without an item id, with scores (`boost`) that interleave them.
fn documents() -> Vec<Value> {
    let known = (1..=500).map(|k| {
        let genre = ["a", "b", "c"][k % 3];
        json!({"doc": format!("doc-i{k}"), "item_id": format!("i{k}"),
               "genre": genre, "boost": ((k * 7919) % 997 + 1) as f64})
    });
    let unknown = (0..150).map(|k| {
        json!({"doc": format!("doc-new-{k}"), "item_id": format!("new-{k}"),
               "genre": "new", "boost": ((k * 104_729) % 991 + 3) as f64 + 0.5})
    });
    let idless = (0..20).map(|k| {
        json!({"doc": format!("doc-none-{k}"), "genre": "none",
               "boost": (k * 50 + 7) as f64 + 0.25})
    });
    known.chain(unknown).chain(idless).collect()
}

/// A search: scores are the documents' `boost`, with aggregations and the exact total.
fn search(size: usize) -> Value {
    json!({
        "size": size,
        "track_total_hits": true,
        "query": {"function_score": {"query": {"match_all": {}},
                  "field_value_factor": {"field": "boost"}, "boost_mode": "replace"}},
        "aggs": {"genres": {"terms": {"field": "genre"}}, "top": {"max": {"field": "boost"}}},
    })
}

/// `body` with the personalization extension for `user`.
fn with_ext(body: &Value, user: &str) -> Value {
    let mut b = body.clone();
    b["ext"] = json!({"personalize_request_parameters": {"user_id": user}});
    b
}

fn hits(v: &Value) -> &Vec<Value> {
    v["hits"]["hits"].as_array().expect("hits.hits")
}

fn ids(v: &Value) -> Vec<String> {
    hits(v)
        .iter()
        .map(|h| h["_id"].as_str().unwrap().to_owned())
        .collect()
}

/// A raw request to the node: status, content type and body bytes.
fn node_raw(
    node: &Node,
    path: &str,
    headers: &[(&str, &str)],
    body: &[u8],
) -> (u16, String, Vec<u8>) {
    let client = node.client();
    let mut h = HeaderMap::new();
    for (k, v) in headers {
        h.insert(
            HeaderName::from_bytes(k.as_bytes()).unwrap(),
            HeaderValue::from_str(v).unwrap(),
        );
    }
    node.block_on(async {
        let r = client
            .send(
                Method::Post,
                path,
                h,
                None::<&()>,
                Some(body.to_vec()),
                None,
            )
            .await
            .unwrap();
        let status = r.status_code().as_u16();
        let ty = r
            .headers()
            .get("content-type")
            .and_then(|v| v.to_str().ok())
            .unwrap_or_default()
            .to_owned();
        (status, ty, r.bytes().await.unwrap().to_vec())
    })
}

/// The node's direct answer to a search (without the extension).
fn direct(node: &Node, path: &str, body: &Value) -> Value {
    let (status, v) = node.send("POST", path, Some(body));
    assert_eq!(status, 200, "{v}");
    v
}

fn proxy_raw(
    fx: &Fixture,
    method: &str,
    path: &str,
    headers: &[(&str, &str)],
    body: &Value,
) -> Response {
    let mut h = vec![("Content-Type", "application/json")];
    h.extend_from_slice(headers);
    fx.client
        .request(method, path, &h, &serde_json::to_vec(body).unwrap())
        .unwrap()
}

/// A search through the proxy; must answer 200 with JSON.
fn proxied(fx: &Fixture, path: &str, body: &Value) -> Value {
    let r = proxy_raw(fx, "POST", path, &[], body);
    assert_eq!(r.status, 200, "{}", r.text());
    r.json().unwrap()
}

/// The blend of the direct answer's hits for `user` with the model (and `recent` events): the
/// expected `(_id, _score)` of each proxied hit.
fn expected(
    model: &Model,
    user: &str,
    recent: &[(&str, f32)],
    direct: &Value,
    weight: f64,
) -> Vec<(String, f64)> {
    expected_from(model, user, recent, direct, weight, 0)
}

/// [`expected`] for a page of results starting at hit `from`.
fn expected_from(
    model: &Model,
    user: &str,
    recent: &[(&str, f32)],
    direct: &Value,
    weight: f64,
    from: usize,
) -> Vec<(String, f64)> {
    let hits = hits(direct);
    let item_ids: Vec<Option<&str>> = hits
        .iter()
        .map(|h| h["_source"]["item_id"].as_str())
        .collect();
    attune::blend::rerank_from(&item_ids, weight, from, |d| model.rank(user, recent, d))
        .iter()
        .map(|b| (hits[b.hit]["_id"].as_str().unwrap().to_owned(), b.score))
        .collect()
}

/// Everything but `took`, `hits.hits` and `hits.max_score`.
fn rest(v: &Value) -> Value {
    let mut v = v.clone();
    let o = v.as_object_mut().unwrap();
    o.remove("took");
    let h = o["hits"].as_object_mut().unwrap();
    h.remove("hits");
    h.remove("max_score");
    v
}

/// Asserts a proxied answer is the direct one with its hits in the expected order and scores.
#[track_caller]
fn assert_blended(proxied: &Value, direct: &Value, expected: &[(String, f64)]) {
    assert_eq!(rest(proxied), rest(direct));
    let got = hits(proxied);
    assert_eq!(got.len(), expected.len());
    for (k, (hit, (id, score))) in got.iter().zip(expected).enumerate() {
        assert_eq!(hit["_id"], json!(id), "hit {k}");
        let s = hit["_score"].as_f64().unwrap();
        assert!((s - score).abs() < 1e-12, "hit {k}: score {s} vs {score}");
        // The hit itself is OpenSearch's, but for its score.
        let original = hits(direct).iter().find(|h| h["_id"] == json!(id)).unwrap();
        let (mut a, mut b) = (hit.clone(), original.clone());
        a.as_object_mut().unwrap().remove("_score");
        b.as_object_mut().unwrap().remove("_score");
        assert_eq!(a, b, "hit {k}");
    }
    if let Some((_, first)) = expected.first() {
        assert_eq!(proxied["hits"]["max_score"].as_f64(), Some(*first));
    }
}

/// `(_id, _score)` of each hit.
fn ids_scores(v: &Value) -> Vec<(String, f64)> {
    hits(v)
        .iter()
        .map(|h| {
            let id = h["_id"].as_str().unwrap().to_owned();
            (id, h["_score"].as_f64().unwrap())
        })
        .collect()
}

/// `body` without its extension.
fn plain(body: &Value) -> Value {
    let mut b = body.clone();
    b.as_object_mut().unwrap().remove("ext");
    b
}

/// A multi-search body: a header line and a body line per search, each ended by a newline.
fn ndjson(searches: &[(Value, Value)]) -> String {
    searches
        .iter()
        .map(|(header, body)| format!("{header}\n{body}\n"))
        .collect()
}

const NDJSON: (&str, &str) = ("Content-Type", "application/x-ndjson");

/// A multi-search through the proxy: status and body.
fn proxied_msearch(fx: &Fixture, method: &str, path: &str, body: &str) -> (u16, Value) {
    let r = fx
        .client
        .request(method, path, &[NDJSON], body.as_bytes())
        .unwrap();
    let v = serde_json::from_slice(&r.body).unwrap_or(Value::Null);
    (r.status, v)
}

/// The node's direct answer to a multi-search.
fn direct_msearch(node: &Node, path: &str, body: &str) -> Value {
    let (status, _, bytes) = node_raw(node, path, &[NDJSON], body.as_bytes());
    assert_eq!(status, 200, "{}", String::from_utf8_lossy(&bytes));
    serde_json::from_slice(&bytes).unwrap()
}

fn without_took(v: &Value) -> Value {
    let mut v = v.clone();
    v.as_object_mut().unwrap().remove("took");
    v
}

fn msearch_checks(node: &Node, fx: &Fixture, model: &Model) {
    let path = format!("/{INDEX}/_search");
    let msearch = format!("/{INDEX}/_msearch");
    let s1 = with_ext(&search(50), "u1");
    let s2 = search(20);
    let mut s3 = with_ext(&search(30), "u2");
    s3["from"] = json!(10);
    let s4 = with_ext(&search(5), "u1");
    let searches = [
        (json!({}), s1.clone()),
        (json!({"index": INDEX}), s2.clone()),
        (json!({}), s3.clone()),
        (json!({"index": "missing-index"}), s4),
    ];
    let unext: Vec<(Value, Value)> = searches
        .iter()
        .map(|(h, b)| (h.clone(), plain(b)))
        .collect();
    let (status, got) = proxied_msearch(fx, "POST", &msearch, &ndjson(&searches));
    assert_eq!(status, 200, "{got}");
    let os = direct_msearch(node, &msearch, &ndjson(&unext));
    let keys: Vec<&String> = got.as_object().unwrap().keys().collect();
    assert_eq!(keys, ["responses", "took"]);
    let (answers, os_answers) = (
        got["responses"].as_array().unwrap(),
        os["responses"].as_array().unwrap(),
    );
    assert_eq!((answers.len(), os_answers.len()), (4, 4));
    for (k, body, user, from) in [(0, &s1, "u1", 0), (2, &s3, "u2", 10)] {
        let single = proxied(fx, &path, body);
        assert_eq!(ids_scores(&answers[k]), ids_scores(&single), "search {k}");
        let want = expected_from(model, user, &[], &os_answers[k], WEIGHT, from);
        assert_blended(&answers[k], &os_answers[k], &want);
        assert_ne!(
            ids(&answers[k]),
            ids(&os_answers[k]),
            "search {k} not re-ranked"
        );
    }
    assert_eq!(answers[1]["status"], 200);
    assert_eq!(without_took(&answers[1]), without_took(&os_answers[1]));
    assert_eq!(answers[3]["status"], 404);
    assert_eq!(answers[3], os_answers[3]);

    // GET /_msearch, the index in the header: the same blend.
    let (status, got) = proxied_msearch(
        fx,
        "GET",
        "/_msearch",
        &ndjson(&[(json!({"index": INDEX}), s1.clone())]),
    );
    assert_eq!(status, 200, "{got}");
    assert_eq!(ids_scores(&got["responses"][0]), ids_scores(&answers[0]));

    // Without the extension: OpenSearch's answer byte for byte.
    let query = format!("{msearch}?filter_path=-took,-responses.took");
    let body = ndjson(&unext);
    let (_, _, bytes) = node_raw(node, &query, &[NDJSON], body.as_bytes());
    let r = fx
        .client
        .request("POST", &query, &[NDJSON], body.as_bytes())
        .unwrap();
    assert_eq!(r.status, 200);
    assert_eq!(r.text(), String::from_utf8(bytes).unwrap());

    // A bad search is refused before anything is sent, named by its position.
    let bad = ndjson(&[(json!({}), s1), (json!({}), with_ext(&search(5), ""))]);
    let r = fx
        .client
        .request("POST", &msearch, &[NDJSON], bad.as_bytes())
        .unwrap();
    assert_error(
        &r,
        400,
        "InvalidInputException",
        "search 2: ext.personalize_request_parameters: [user_id] required",
    );
}

fn source_checks(node: &Node, fx: &Fixture, model: &Model) {
    let path = format!("/{INDEX}/_search");
    let full = search(100);
    let os_full = direct(node, &path, &full);
    let want = expected(model, "u1", &[], &os_full, WEIGHT);
    let restricted = [
        json!(false),
        json!(["genre"]),
        json!("gen*"),
        json!({"excludes": ["item_id"]}),
        // (OpenSearch 3 refuses a pattern both included and excluded.)
        json!({"includes": ["genre", "do*"], "excludes": ["doc"]}),
        // Already fetched: nothing to add or remove.
        json!(["item_id", "genre"]),
    ];
    let mut with_source = Vec::new();
    for source in restricted {
        let mut body = full.clone();
        body["_source"] = source.clone();
        let os = direct(node, &path, &body);
        let got = proxied(fx, &path, &with_ext(&body, "u1"));
        // Each hit compared whole (but its score) with the node's for the same _source.
        assert_blended(&got, &os, &want);
        if source == json!(false) {
            assert!(hits(&got).iter().all(|h| h.get("_source").is_none()));
        }
        if source == json!(["genre"]) {
            assert!(hits(&got).iter().all(|h| h["_source"]
                .as_object()
                .unwrap()
                .keys()
                .eq(["genre"])));
        }
        with_source.push((json!({}), with_ext(&body, "u1")));
    }
    for query in [
        "_source=false",
        "_source_includes=genre",
        "_source=genre,doc",
        "_source_excludes=item_id,boost",
        "_source=false&_source_includes=item_id",
    ] {
        let p = format!("{path}?{query}");
        let os = direct(node, &p, &full);
        let got = proxied(fx, &p, &with_ext(&full, "u1"));
        assert_blended(&got, &os, &want);
    }
    // The same searches in one _msearch.
    let msearch = format!("/{INDEX}/_msearch");
    let (status, got) = proxied_msearch(fx, "POST", &msearch, &ndjson(&with_source));
    assert_eq!(status, 200, "{got}");
    let unext: Vec<(Value, Value)> = with_source
        .iter()
        .map(|(h, b)| (h.clone(), plain(b)))
        .collect();
    let os = direct_msearch(node, &msearch, &ndjson(&unext));
    for (k, answer) in got["responses"].as_array().unwrap().iter().enumerate() {
        assert_blended(answer, &os["responses"][k], &want);
    }
    // Stored fields disabled: nothing to widen (OpenSearch would refuse any _source filter);
    // the search succeeds, its hits without _id or _source.
    let mut body = full.clone();
    body["_source"] = json!(false);
    body["stored_fields"] = json!("_none_");
    let os = direct(node, &path, &body);
    let got = proxied(fx, &path, &with_ext(&body, "u1"));
    assert_eq!(rest(&got), rest(&os));
    assert_eq!(hits(&got).len(), hits(&os).len());
    assert!(hits(&got)
        .iter()
        .all(|h| h.get("_source").is_none() && h.get("_id").is_none()));
    // An exclude pattern that hides the item id among other fields: refused.
    let mut body = with_ext(&full, "u1");
    body["_source"] = json!({"excludes": ["item*"]});
    let r = proxy_raw(fx, "POST", &path, &[], &body);
    assert_error(
        &r,
        400,
        "InvalidInputException",
        "\"item*\" also covers the item id field",
    );
    // The item id field in both includes and excludes: passed through for the cluster to
    // judge. 3.x refuses it, and the proxy passes the refusal on; 2.19 applies the exclude, and
    // hits without an item id are answered as OpenSearch ranked them (no made-up scores).
    let mut body = full.clone();
    body["_source"] = json!({"includes": ["item_id", "genre"], "excludes": ["item_id"]});
    let (status, os) = node.send("POST", &path, Some(&body));
    let r = proxy_raw(fx, "POST", &path, &[], &with_ext(&body, "u1"));
    assert_eq!(r.status, status, "{}", r.text());
    if status == 200 {
        assert!(hits(&os)
            .iter()
            .all(|h| h["_source"].get("item_id").is_none()));
        assert_eq!(without_took(&r.json().unwrap()), without_took(&os));
    } else {
        assert_eq!(status, 400, "{os}");
        assert_eq!(r.json().unwrap()["error"]["type"], os["error"]["type"]);
    }
}

#[test]
fn the_search_proxy_in_front_of_opensearch_2_19() {
    proxy_in_front_of(Line::V2);
}

#[test]
fn the_search_proxy_in_front_of_opensearch_3() {
    proxy_in_front_of(Line::V3);
}

fn proxy_in_front_of(line: Line) {
    let node = Node::start(NodeOptions {
        settings: vec![("http.max_header_size".into(), format!("{MAX_HEADER}b"))],
        ..NodeOptions::new(line)
    });
    let url = node.url();
    let weight = WEIGHT.to_string();
    let fx = Fixture::start_with(&[
        "--opensearch-url",
        &url,
        "--proxy-campaign",
        "rank",
        "--proxy-weight",
        &weight,
    ]);
    let model = fx.model(&fx.t.rank_v1);
    let path = format!("/{INDEX}/_search");

    step("catalog index");
    let (status, v) = node.send(
        "PUT",
        &format!("/{INDEX}"),
        Some(&json!({
            "settings": {"number_of_shards": 1, "number_of_replicas": 0},
            "mappings": {"properties": {"doc": {"type": "keyword"},
                "item_id": {"type": "keyword"}, "genre": {"type": "keyword"},
                "boost": {"type": "float"}}},
        })),
    );
    assert_eq!(status, 200, "{v}");
    let docs = documents();
    node.bulk_index(INDEX, &docs, |d| d["doc"].as_str().unwrap().to_owned());
    let all = direct(&node, &path, &search(0));
    assert_eq!(all["hits"]["total"]["value"], docs.len());

    step("two users, different histories: different orders, each the blend");
    let body = search(100);
    let os = direct(&node, &path, &body);
    let mut orders = Vec::new();
    for user in ["u1", "u2"] {
        assert!(model.users.index(user).is_some(), "{user} is trained");
        let got = proxied(&fx, &path, &with_ext(&body, user));
        let want = expected(&model, user, &[], &os, WEIGHT);
        assert_blended(&got, &os, &want);
        assert_ne!(ids(&got), ids(&os), "{user}: not re-ranked");
        orders.push(ids(&got));
    }
    assert_ne!(orders[0], orders[1]);

    step("page 2 (from 100): blended as the second page, every score below page 1's");
    let scores = |v: &Value| -> Vec<f64> {
        hits(v)
            .iter()
            .map(|h| h["_score"].as_f64().unwrap())
            .collect()
    };
    let page1 = proxied(&fx, &path, &with_ext(&body, "u1"));
    let mut body2 = search(100);
    body2["from"] = json!(100);
    let os2 = direct(&node, &path, &body2);
    assert_eq!(hits(&os2).len(), 100);
    let want2 = expected_from(&model, "u1", &[], &os2, WEIGHT, 100);
    let page2 = proxied(&fx, &path, &with_ext(&body2, "u1"));
    assert_blended(&page2, &os2, &want2);
    let page1_min = scores(&page1).into_iter().fold(f64::INFINITY, f64::min);
    let page2_max = scores(&page2).into_iter().fold(f64::NEG_INFINITY, f64::max);
    assert!(
        page2_max < page1_min,
        "page 2 max {page2_max} >= page 1 min {page1_min}"
    );
    // `from` as a query parameter: the same page, the same blend.
    let by_query = proxied(
        &fx,
        &format!("{path}?from=100"),
        &with_ext(&search(100), "u1"),
    );
    assert_blended(&by_query, &os2, &want2);

    step("query parameters override the weight and the campaign (an ARN); GET works too");
    let arn = &fx.campaigns.rank;
    let r = proxy_raw(
        &fx,
        "GET",
        &format!("{path}?personalize_weight=1&personalize_campaign={arn}"),
        &[],
        &with_ext(&body, "u1"),
    );
    assert_eq!(r.status, 200, "{}", r.text());
    assert_blended(
        &r.json().unwrap(),
        &os,
        &expected(&model, "u1", &[], &os, 1.0),
    );

    step("weight 0: OpenSearch's order and scores");
    let got = proxied(
        &fx,
        &format!("{path}?personalize_weight=0"),
        &with_ext(&body, "u1"),
    );
    let (mut a, mut b) = (got.clone(), os.clone());
    a.as_object_mut().unwrap().remove("took");
    b.as_object_mut().unwrap().remove("took");
    assert_eq!(a, b);

    step("unknown items and documents without an id rank after known items (weight 1)");
    let body = search(300);
    let os = direct(&node, &path, &body);
    let known = |h: &Value| {
        h["_source"]["item_id"]
            .as_str()
            .is_some_and(|i| model.items.index(i).is_some())
    };
    let n_unknown = hits(&os).iter().filter(|h| !known(h)).count();
    assert!(
        n_unknown >= 20,
        "only {n_unknown} unknown hits in the top 300"
    );
    let got = proxied(
        &fx,
        &format!("{path}?personalize_weight=1"),
        &with_ext(&body, "u4"),
    );
    assert_blended(&got, &os, &expected(&model, "u4", &[], &os, 1.0));
    let flags: Vec<bool> = hits(&got).iter().map(known).collect();
    let first_unknown = flags.iter().position(|k| !k).unwrap();
    assert!(
        flags[first_unknown..].iter().all(|k| !k),
        "a known item after an unknown one"
    );
    // Among themselves the unknown hits keep OpenSearch's order.
    let unknown_order = |v: &Value| -> Vec<String> {
        hits(v)
            .iter()
            .filter(|h| !known(h))
            .map(|h| h["_id"].as_str().unwrap().to_owned())
            .collect()
    };
    assert_eq!(unknown_order(&got), unknown_order(&os));

    step("an unknown user gets the popularity blend");
    let got = proxied(&fx, &path, &with_ext(&body, "stranger-1"));
    assert_blended(&got, &os, &expected(&model, "stranger-1", &[], &os, WEIGHT));
    assert_eq!(
        ids(&got),
        ids(&proxied(&fx, &path, &with_ext(&body, "stranger-2")))
    );

    step("600 hits: the first 500 blended, the rest in OpenSearch's order after them");
    let body = search(600);
    let os = direct(&node, &path, &body);
    let got = proxied(&fx, &path, &with_ext(&body, "u5"));
    assert_blended(&got, &os, &expected(&model, "u5", &[], &os, WEIGHT));
    let (g, o) = (ids(&got), ids(&os));
    assert_eq!(g[500..], o[500..]);
    let (mut g500, mut o500) = (g[..500].to_vec(), o[..500].to_vec());
    assert_ne!(g500, o500);
    g500.sort();
    o500.sort();
    assert_eq!(g500, o500);

    step("PutEvents changes the user's next proxied order");
    let body = search(100);
    let os = direct(&node, &path, &body);
    let user = "u3";
    let before = proxied(&fx, &path, &with_ext(&body, user));
    assert_blended(&before, &os, &expected(&model, user, &[], &os, WEIGHT));
    // The user buys the five known items the blend put last.
    let bought: Vec<String> = hits(&before)
        .iter()
        .rev()
        .filter(|h| known(h))
        .take(5)
        .map(|h| h["_source"]["item_id"].as_str().unwrap().to_owned())
        .collect();
    fx.client
        .put_events(&PutEventsRequest {
            tracking_id: fx.t.tracking_id.clone(),
            session_id: "s-proxy".into(),
            user_id: Some(user.into()),
            event_list: bought
                .iter()
                .map(|item| Event {
                    event_type: "purchase".into(),
                    sent_at: 1.8e9,
                    item_id: Some(item.clone()),
                    ..Event::default()
                })
                .collect(),
        })
        .unwrap();
    let after = proxied(&fx, &path, &with_ext(&body, user));
    let recent: Vec<(&str, f32)> = bought
        .iter()
        .map(|i| (i.as_str(), model.event_weight("purchase")))
        .collect();
    assert_blended(&after, &os, &expected(&model, user, &recent, &os, WEIGHT));
    assert_ne!(ids(&after), ids(&before), "the events changed nothing");

    step("filter_path on a personalized search: refused, naming the parameter");
    let r = proxy_raw(
        &fx,
        "POST",
        &format!("{path}?filter_path=-hits.hits._source"),
        &[],
        &with_ext(&body, "u1"),
    );
    assert_error(
        &r,
        400,
        "InvalidInputException",
        "filter_path: not supported on a personalized search",
    );

    step("sorted by a field: OpenSearch's answer, unchanged");
    let mut by_boost = search(50);
    by_boost["sort"] = json!([{"boost": "asc"}, {"doc": "desc"}]);
    let os = direct(&node, &path, &by_boost);
    let got = proxied(&fx, &path, &with_ext(&by_boost, "u1"));
    assert_eq!(without_took(&got), without_took(&os));
    let got = proxied(
        &fx,
        &format!("{path}?sort=doc:asc"),
        &with_ext(&search(20), "u1"),
    );
    let os = direct(&node, &format!("{path}?sort=doc:asc"), &search(20));
    assert_eq!(without_took(&got), without_took(&os));

    step("no extension: OpenSearch's answer byte for byte");
    let query = format!("{path}?filter_path=-took");
    let raw = serde_json::to_vec(&body).unwrap();
    let (status, ty, bytes) = node_raw(&node, &query, &[], &raw);
    assert_eq!(status, 200);
    let r = proxy_raw(&fx, "POST", &query, &[], &body);
    assert_eq!(
        (r.status, r.header("content-type")),
        (200, Some(ty.as_str()))
    );
    assert_eq!(r.text(), String::from_utf8(bytes).unwrap());
    // Also without an index.
    let r = proxy_raw(&fx, "POST", "/_search?filter_path=-took", &[], &body);
    let (_, _, bytes) = node_raw(&node, "/_search?filter_path=-took", &[], &raw);
    assert_eq!(r.body, bytes);

    step("_msearch: searches with the extension re-ranked as their _search, the rest as it was");
    msearch_checks(&node, &fx, &model);

    step("a restricted _source: re-ranked all the same, hits with the _source asked for");
    source_checks(&node, &fx, &model);

    step("a scroll: every page in OpenSearch's order, continued and cleared through the proxy");
    let scroll_search = format!("{path}?scroll=1m");
    let mut via_proxy = proxied(&fx, &scroll_search, &with_ext(&search(40), "u1"));
    let mut via_node = direct(&node, &scroll_search, &search(40));
    for page in 0..3 {
        assert_eq!(ids(&via_proxy), ids(&via_node), "scroll page {page}");
        assert_eq!(hits(&via_proxy).len(), 40, "scroll page {page}");
        let next = |id: &Value| json!({"scroll": "1m", "scroll_id": id});
        via_node = direct(&node, "/_search/scroll", &next(&via_node["_scroll_id"]));
        via_proxy = if page % 2 == 0 {
            proxied(&fx, "/_search/scroll", &next(&via_proxy["_scroll_id"]))
        } else {
            // The id in the path, as GET: the other form OpenSearch takes.
            let id = via_proxy["_scroll_id"].as_str().unwrap();
            let r = fx
                .client
                .request("GET", &format!("/_search/scroll/{id}?scroll=1m"), &[], b"")
                .unwrap();
            assert_eq!(r.status, 200, "{}", r.text());
            r.json().unwrap()
        };
    }
    let clear = json!({"scroll_id": [via_proxy["_scroll_id"], via_node["_scroll_id"]]});
    let r = proxy_raw(&fx, "DELETE", "/_search/scroll", &[], &clear);
    assert_eq!(r.status, 200, "{}", r.text());
    assert_eq!(r.json().unwrap()["succeeded"], true, "{}", r.text());
    let r = proxy_raw(&fx, "PUT", "/_search/scroll", &[], &clear);
    assert_eq!(r.status, 405, "{}", r.text());

    step("OpenSearch's errors pass through");
    let bad = with_ext(&json!({"query": {"no_such_query": {}}}), "u1");
    let r = proxy_raw(&fx, "POST", &path, &[], &bad);
    let mut plain = bad.clone();
    plain.as_object_mut().unwrap().remove("ext");
    let (status, v) = node.send("POST", &path, Some(&plain));
    assert_eq!((r.status, status), (400, 400), "{}", r.text());
    let got = r.json().unwrap();
    assert_eq!(got["error"]["type"], v["error"]["type"]);
    assert_eq!(
        got["error"]["root_cause"][0]["reason"],
        v["error"]["root_cause"][0]["reason"]
    );
    let r = proxy_raw(
        &fx,
        "POST",
        "/missing-index/_search",
        &[],
        &with_ext(&search(5), "u1"),
    );
    let (status, v) = node.send("POST", "/missing-index/_search", Some(&search(5)));
    assert_eq!((r.status, status), (404, 404));
    assert_eq!(r.json().unwrap(), v);

    step("the client's Authorization header and X-Opaque-Id reach OpenSearch");
    // Longer than the node accepts: refused by OpenSearch, so it was forwarded.
    let long = format!("Basic {}", "x".repeat(MAX_HEADER + 100));
    let refused = proxy_raw(
        &fx,
        "POST",
        &path,
        &[("Authorization", &long)],
        &with_ext(&body, "u1"),
    );
    assert_eq!(refused.status, 400, "{}", refused.text());
    assert!(
        refused.text().contains("too_long_http_header_exception"),
        "{}",
        refused.text()
    );
    // The node keeps that connection open but never answers on it again: the proxy drops it,
    // so the next search is answered at once.
    let r = proxy_raw(
        &fx,
        "POST",
        &path,
        &[
            ("Authorization", "Basic dXNlcjpwYXNz"),
            ("X-Opaque-Id", "trace-7"),
        ],
        &with_ext(&body, "u1"),
    );
    assert_eq!(r.status, 200, "{}", r.text());
    assert_eq!(r.header("x-opaque-id"), Some("trace-7"));

    step("Attune's errors come before anything is forwarded; metrics count the route");
    let r = proxy_raw(
        &fx,
        "POST",
        &format!("{path}?personalize_campaign=nope"),
        &[],
        &with_ext(&body, "u1"),
    );
    assert_error(
        &r,
        404,
        "ResourceNotFoundException",
        "campaign not found: nope",
    );
    let r = proxy_raw(&fx, "POST", &path, &[], &with_ext(&body, ""));
    assert_error(&r, 400, "InvalidInputException", "[user_id] required");
    let metrics = fx
        .client
        .request("GET", "/metrics", &[], b"")
        .unwrap()
        .text();
    assert!(
        metrics.contains("attune_http_requests_total{route=\"proxy\"}"),
        "{metrics}"
    );

    // Last, as it leaves the test's own connection to the node unusable: the node's direct
    // answer to the long header is the one the proxy passed on.
    let (status, _, bytes) = node_raw(&node, &path, &[("authorization", &long)], &raw);
    assert_eq!(status, 400);
    assert_eq!(refused.body, bytes);
}
