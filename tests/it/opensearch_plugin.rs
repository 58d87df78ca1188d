//! End to end through a real OpenSearch node of each line the plugin is built for (2.19 and
//! 3.x), with that line's plugin zip installed by `bin/opensearch-plugin install` (see
//! `tests::opensearch_node`): a trained campaign on a
//! real `attune serve`, a catalog indexed with the item id in `_source.item_id`, the pipeline
//! from the Personalize guide (`plugin-config/pipelines/`), searches with
//! `ext.personalize_request_parameters`.
//!
//! Every personalized order is checked against the blend computed here from Attune's own
//! GetPersonalizedRanking answer for the same hits, applied to the order the same search gives
//! without the pipeline.

use std::collections::HashMap;

use attune::api::{Event, PutEventsRequest};
use attune::blend::{self, BlendedHit};
use attune::model::Ranked;
use plugin_config::files;
use serde_json::{json, Value};
use tests::opensearch_node::{Line, Node, NodeOptions};

use crate::server::Fixture;

const INDEX: &str = "demo-catalog-e2e";
const PIPELINE: &str = "personalized-search-ranking";

/// The catalog: every item of the fixture (title, genres, a price that orders the search),
/// 120 items the model has never seen, and 30 documents without an item id.
fn catalog(fx: &Fixture) -> Vec<Value> {
    let mut genres: Vec<(String, String)> = fx.t.item_genres().into_iter().collect();
    genres.sort();
    let mut docs: Vec<Value> = genres
        .iter()
        .enumerate()
        .map(|(n, (id, g))| {
            json!({"item_id": id, "title": format!("Item {id}"),
                   "genres": g.split('|').collect::<Vec<_>>(),
                   "price": price(n)})
        })
        .collect();
    let base = docs.len();
    docs.extend((0..120).map(|k| {
        json!({"item_id": format!("new-{k}"), "title": format!("New {k}"), "price": price(base + k)})
    }));
    docs.extend(
        (0..30).map(|k| json!({"title": format!("Loose {k}"), "price": price(base + 120 + k)})),
    );
    docs
}

/// A spread of prices (few ties) so that the query below orders the hits.
fn price(n: usize) -> f64 {
    ((n * 7919) % 997) as f64 / 10.0 + 1.0
}

fn doc_id(doc: &Value) -> String {
    match doc["item_id"].as_str() {
        Some(id) => format!("doc-{id}"),
        None => format!("loose-{}", doc["title"].as_str().unwrap()),
    }
}

/// The search: every document, ordered by price through OpenSearch's scoring.
fn query(size: usize, user: Option<&str>) -> Value {
    let mut q = json!({
        "size": size,
        "query": {"function_score": {"query": {"match_all": {}},
                  "field_value_factor": {"field": "price", "missing": 1}}}
    });
    if let Some(user) = user {
        q["ext"] = json!({"personalize_request_parameters":
                          {"user_id": user, "context": {"DEVICE": "mobile phone"}}});
    }
    q
}

/// A search's hits: (document id, item id or None, score).
type Hits = Vec<(String, Option<String>, f64)>;

fn hits_of(resp: &Value) -> Hits {
    resp["hits"]["hits"]
        .as_array()
        .unwrap_or_else(|| panic!("no hits: {resp}"))
        .iter()
        .map(|h| {
            (
                h["_id"].as_str().unwrap().to_owned(),
                h["_source"]["item_id"].as_str().map(str::to_owned),
                h["_score"].as_f64().unwrap_or(f64::NAN),
            )
        })
        .collect()
}

fn search(node: &Node, path: &str, body: &Value) -> Value {
    let (status, resp) = node.send("POST", path, Some(body));
    assert_eq!(status, 200, "{path}: {resp}");
    resp
}

/// The blend of `plain` (OpenSearch's own order) for `user`, from the server's ranking.
fn expected_blend(
    fx: &Fixture,
    campaign: &str,
    user: &str,
    plain: &Hits,
    w: f64,
) -> Vec<BlendedHit> {
    server_blend(&fx.client, campaign, user, plain, w, 0)
}

/// The blend of `plain` (a page of OpenSearch's order starting at hit `from`) for `user`,
/// computed here from the server's GetPersonalizedRanking answer for the page's items.
fn server_blend(
    client: &attune::client::Client,
    campaign: &str,
    user: &str,
    plain: &Hits,
    w: f64,
    from: usize,
) -> Vec<BlendedHit> {
    let ids: Vec<Option<&str>> = plain.iter().map(|h| h.1.as_deref()).collect();
    blend::rerank_from(&ids, w, from, |distinct| {
        let answer = client
            .get_personalized_ranking(campaign, user, distinct, None)
            .unwrap();
        let pos: HashMap<&str, usize> = distinct
            .iter()
            .enumerate()
            .map(|(k, id)| (*id, k))
            .collect();
        answer
            .personalized_ranking
            .iter()
            .map(|p| Ranked {
                input_index: pos[p.item_id.as_str()],
                score: p.score,
            })
            .collect()
    })
}

/// Asserts that `got` is `plain` re-ordered by `expected`, with its scores (OpenSearch keeps
/// `_score` as a float).
#[track_caller]
fn assert_blended(got: &Value, plain: &Hits, expected: &[BlendedHit], what: &str) {
    let hits = hits_of(got);
    let want: Vec<&str> = expected.iter().map(|b| plain[b.hit].0.as_str()).collect();
    let have: Vec<&str> = hits.iter().map(|h| h.0.as_str()).collect();
    assert_eq!(have, want, "{what}: order");
    for (k, (h, b)) in hits.iter().zip(expected).enumerate() {
        assert!(
            (h.2 - b.score).abs() <= 1e-6 * b.score.abs().max(1.0),
            "{what}: score of hit {k}: {} vs {}",
            h.2,
            b.score
        );
    }
    let max = got["hits"]["max_score"].as_f64().unwrap();
    assert!(
        (max - expected[0].score).abs() <= 1e-6,
        "{what}: max_score {max}"
    );
}

fn put_pipeline(node: &Node, name: &str, campaign: &str, weight: Value, ignore_failure: bool) {
    let mut p: Value = serde_json::from_str(files::PIPELINE).unwrap();
    let proc = &mut p["response_processors"][0]["personalized_search_ranking"];
    proc["campaign_arn"] = json!(campaign);
    proc["weight"] = weight;
    proc["ignore_failure"] = json!(ignore_failure);
    let (status, resp) = node.send("PUT", &format!("/_search/pipeline/{name}"), Some(&p));
    assert_eq!(status, 200, "PUT pipeline {name}: {resp}");
}

/// `attune serve --api-key` on a given address (where the node's endpoint points), killed on
/// drop.
struct KeyedAttune(std::process::Child);

impl KeyedAttune {
    fn start(data_dir: &std::path::Path, addr: &str, key: &str) -> KeyedAttune {
        let child = tests::attune()
            .arg("serve")
            .arg("--data-dir")
            .arg(data_dir)
            .args(["--listen", addr, "--api-key", key])
            .stdout(std::process::Stdio::null())
            .stderr(std::process::Stdio::null())
            .spawn()
            .expect("start attune serve");
        let server = KeyedAttune(child);
        tests::wait_until(
            std::time::Duration::from_secs(120),
            "attune serve --api-key to listen",
            || std::net::TcpStream::connect(addr).is_ok(),
        );
        server
    }
}

impl Drop for KeyedAttune {
    fn drop(&mut self) {
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}

/// Attune's request count of a route on the campaign `rank`, from its `/metrics` text.
fn requests_of(metrics: &str, route: &str) -> u64 {
    let prefix = format!("attune_http_requests_total{{route=\"{route}\",campaign=\"rank\"}} ");
    metrics
        .lines()
        .find_map(|l| l.strip_prefix(&prefix)?.parse().ok())
        .unwrap_or(0)
}

/// Amazon's plugin's keystore settings, which the plugin registers and ignores.
const AMAZON_KEYSTORE: [&str; 3] = [
    "personalized_search_ranking.aws.access_key",
    "personalized_search_ranking.aws.secret_key",
    "personalized_search_ranking.aws.session_token",
];

/// Failed executions of the pipeline's processors, from the node's search-pipeline stats.
fn processor_failures(node: &Node, pipeline: &str) -> u64 {
    let (_, stats) = node.send("GET", "/_nodes/stats/search_pipeline", None);
    let nodes = stats["nodes"].as_object().unwrap();
    nodes
        .values()
        .map(|n| {
            n["search_pipeline"]["pipelines"][pipeline]["response_processors"]
                .as_array()
                .map(|ps| {
                    ps.iter()
                        .filter_map(|p| p.as_object()?.values().next()?["stats"]["failed"].as_u64())
                        .sum::<u64>()
                })
                .unwrap_or(0)
        })
        .sum()
}

#[test]
fn the_plugin_reranks_searches_on_opensearch_2_19() {
    reranks_searches(Line::V2);
}

#[test]
fn the_plugin_reranks_searches_on_opensearch_3() {
    reranks_searches(Line::V3);
}

fn reranks_searches(line: Line) {
    let mut fx = Fixture::start();
    let campaign = fx.campaigns.rank.clone();
    // A node migrated from Amazon's plugin: its AWS credentials are still in the keystore.
    let mut opts = NodeOptions::with_plugin(line, &fx.server.base_url());
    opts.keystore = AMAZON_KEYSTORE
        .iter()
        .map(|k| (k.to_string(), format!("amazon-{k}")))
        .collect();
    let node = Node::start(opts);
    let log = node.log();
    let ignoring = format!(
        "ignoring Amazon's keystore settings [{}]",
        AMAZON_KEYSTORE.join(", ")
    );
    assert_eq!(log.matches(&ignoring).count(), 1, "{log}");
    assert!(
        !log.contains("amazon-personalized_search_ranking"),
        "a value was logged"
    );

    // The processor is registered; the demo index template and the catalog go in.
    let (_, info) = node.send("GET", "/_nodes/search_pipelines", None);
    assert!(
        info.to_string().contains("personalized_search_ranking"),
        "processor not registered: {info}"
    );
    let template: Value = serde_json::from_str(files::INDEX_TEMPLATE).unwrap();
    let (status, resp) = node.send("PUT", "/_index_template/demo-catalog", Some(&template));
    assert_eq!(status, 200, "{resp}");
    let docs = catalog(&fx);
    node.bulk_index(INDEX, &docs, doc_id);
    put_pipeline(&node, PIPELINE, &campaign, json!("0.3"), true);
    let with_pipeline = format!("/{INDEX}/_search?search_pipeline={PIPELINE}");
    let plain_path = format!("/{INDEX}/_search");

    // Two users with different histories: different orders, each the blend of Attune's
    // ranking with OpenSearch's order.
    let plain = hits_of(&search(&node, &plain_path, &query(100, None)));
    assert_eq!(plain.len(), 100);
    let mut orders = Vec::new();
    for user in ["u1", "u2"] {
        let got = search(&node, &with_pipeline, &query(100, Some(user)));
        let expected = expected_blend(&fx, &campaign, user, &plain, 0.3);
        assert_blended(&got, &plain, &expected, user);
        assert_eq!(
            got["hits"]["total"],
            search(&node, &plain_path, &query(100, None))["hits"]["total"]
        );
        orders.push(hits_of(&got).into_iter().map(|h| h.0).collect::<Vec<_>>());
    }
    assert_ne!(orders[0], orders[1], "two users, one order");

    // Page 2 (`from` 100) is blended at its global positions: it equals the blend shifted by
    // 100, and every score sits below page 1's (Amazon's plugin restarts each page at the top).
    let mut page2 = query(100, None);
    page2["from"] = json!(100);
    let plain2 = hits_of(&search(&node, &plain_path, &page2));
    page2["ext"] = query(100, Some("u2"))["ext"].clone();
    let got = search(&node, &with_pipeline, &page2);
    assert_blended(
        &got,
        &plain2,
        &server_blend(&fx.client, &campaign, "u2", &plain2, 0.3, 100),
        "page 2",
    );
    let page1 = search(&node, &with_pipeline, &query(100, Some("u2")));
    let page1_min = hits_of(&page1)
        .iter()
        .map(|h| h.2)
        .fold(f64::INFINITY, f64::min);
    assert!(got["hits"]["max_score"].as_f64().unwrap() < page1_min);

    // A PutEvents for u1 changes u1's next order (no retraining).
    let before = orders[0].clone();
    let events: Vec<Event> = plain
        .iter()
        .filter_map(|h| h.1.clone())
        .filter(|id| !id.starts_with("new-"))
        .skip(60)
        .take(8)
        .enumerate()
        .map(|(k, id)| Event {
            event_type: "click".into(),
            sent_at: 1.8e9 + k as f64,
            item_id: Some(id),
            ..Event::default()
        })
        .collect();
    fx.client
        .put_events(&PutEventsRequest {
            tracking_id: fx.t.tracking_id.clone(),
            session_id: "e2e-1".into(),
            user_id: Some("u1".into()),
            event_list: events,
        })
        .unwrap();
    let got = search(&node, &with_pipeline, &query(100, Some("u1")));
    let after: Vec<String> = hits_of(&got).into_iter().map(|h| h.0).collect();
    assert_ne!(after, before, "the events did not change u1's order");
    assert_blended(
        &got,
        &plain,
        &expected_blend(&fx, &campaign, "u1", &plain, 0.3),
        "u1 after events",
    );

    // More than 500 hits: the first 500 blended, the rest in OpenSearch's order after them;
    // items the model does not know and documents without an item id rank after known items.
    let plain_all = hits_of(&search(&node, &plain_path, &query(650, None)));
    assert_eq!(plain_all.len(), 650);
    let got = search(&node, &with_pipeline, &query(650, Some("u2")));
    let expected = expected_blend(&fx, &campaign, "u2", &plain_all, 0.3);
    assert_blended(&got, &plain_all, &expected, "650 hits");
    let hits = hits_of(&got);
    assert_eq!(
        hits[500..].iter().map(|h| &h.0).collect::<Vec<_>>(),
        plain_all[500..].iter().map(|h| &h.0).collect::<Vec<_>>()
    );
    assert!(hits.iter().all(|h| h.2.is_finite()));
    // With weight 1 the personal rank alone orders the block: the known items first, then
    // the unknown ones and the hits without an id, in OpenSearch's order.
    put_pipeline(&node, "personal-only", &campaign, json!(1.0), false);
    let got = search(
        &node,
        &format!("/{INDEX}/_search?search_pipeline=personal-only"),
        &query(650, Some("u2")),
    );
    let expected = expected_blend(&fx, &campaign, "u2", &plain_all, 1.0);
    assert_blended(&got, &plain_all, &expected, "weight 1");
    let hits = hits_of(&got);
    // Known: the items Attune scores (the catalog's `new-*` items, and the few generated
    // items nobody interacted with, it does not).
    let block: Vec<&str> = plain_all[..500]
        .iter()
        .filter_map(|h| h.1.as_deref())
        .collect();
    let answer = fx
        .client
        .get_personalized_ranking(&campaign, "u2", &block, None)
        .unwrap();
    let known: std::collections::HashSet<&str> = answer
        .personalized_ranking
        .iter()
        .filter(|p| p.score.is_some())
        .map(|p| p.item_id.as_str())
        .collect();
    assert!(!known.iter().any(|id| id.starts_with("new-")));
    let is_known =
        |h: &(String, Option<String>, f64)| h.1.as_deref().is_some_and(|id| known.contains(id));
    let first_unknown = hits[..500].iter().position(|h| !is_known(h)).unwrap();
    assert!(
        hits[first_unknown..500].iter().all(|h| !is_known(h)),
        "an unknown item or a hit without an id ranks above a known item"
    );
    let unknown_os_order: Vec<&String> = plain_all[..500]
        .iter()
        .filter(|h| !is_known(h))
        .map(|h| &h.0)
        .collect();
    assert_eq!(
        hits[first_unknown..500]
            .iter()
            .map(|h| &h.0)
            .collect::<Vec<_>>(),
        unknown_os_order
    );

    // An unknown user: ranked by popularity, blended all the same.
    let got = search(&node, &with_pipeline, &query(100, Some("nobody-e2e")));
    assert_blended(
        &got,
        &plain,
        &expected_blend(&fx, &campaign, "nobody-e2e", &plain, 0.3),
        "unknown user",
    );

    // weight 0 (as a number): OpenSearch's order and scores, untouched, even without a user.
    put_pipeline(&node, "zero", &campaign, json!(0), false);
    for body in [query(100, Some("u1")), query(100, None)] {
        let got = hits_of(&search(
            &node,
            &format!("/{INDEX}/_search?search_pipeline=zero"),
            &body,
        ));
        assert_eq!(got, plain, "weight 0");
    }

    // index.search.default_pipeline applies the pipeline to every search of the index.
    let (status, resp) = node.send(
        "PUT",
        &format!("/{INDEX}/_settings"),
        Some(&json!({"index.search.default_pipeline": PIPELINE})),
    );
    assert_eq!(status, 200, "{resp}");
    let got = search(&node, &plain_path, &query(100, Some("u2")));
    assert_blended(
        &got,
        &plain,
        &expected_blend(&fx, &campaign, "u2", &plain, 0.3),
        "default pipeline",
    );
    let (status, resp) = node.send(
        "PUT",
        &format!("/{INDEX}/_settings"),
        Some(&json!({"index.search.default_pipeline": null})),
    );
    assert_eq!(status, 200, "{resp}");

    // A search sorted by a field: OpenSearch's answer, unchanged (no blend, sort values kept).
    let mut by_price = query(50, Some("u2"));
    by_price["sort"] = json!([{"price": "asc"}, {"_id": "asc"}]);
    let got = search(&node, &with_pipeline, &by_price);
    let mut plain_by_price = by_price.clone();
    plain_by_price.as_object_mut().unwrap().remove("ext");
    let want = search(&node, &plain_path, &plain_by_price);
    assert_eq!(got["hits"], want["hits"], "sorted by price");
    // Sorted by _score first: re-ranked as any search.
    let mut by_score = query(100, Some("u2"));
    by_score["sort"] = json!(["_score"]);
    let got = search(&node, &with_pipeline, &by_score);
    let expected = expected_blend(&fx, &campaign, "u2", &plain, 0.3);
    let want: Vec<&str> = expected.iter().map(|b| plain[b.hit].0.as_str()).collect();
    let have: Vec<String> = hits_of(&got).into_iter().map(|h| h.0).collect();
    assert_eq!(have, want, "sorted by _score");

    // An item_id_field no hit carries (misspelled): the processor fails naming the field;
    // ignore_failure decides between OpenSearch's order (the failure counted) and an error.
    for ignore in [true, false] {
        let name = format!("misspelled-{ignore}");
        let mut p: Value = serde_json::from_str(files::PIPELINE).unwrap();
        let proc = &mut p["response_processors"][0]["personalized_search_ranking"];
        proc["campaign_arn"] = json!(campaign);
        proc["item_id_field"] = json!("itme_id");
        proc["ignore_failure"] = json!(ignore);
        let (status, resp) = node.send("PUT", &format!("/_search/pipeline/{name}"), Some(&p));
        assert_eq!(status, 200, "{resp}");
        let path = format!("/{INDEX}/_search?search_pipeline={name}");
        let before = processor_failures(&node, &name);
        let (status, resp) = node.send("POST", &path, Some(&query(100, Some("u1"))));
        assert_eq!(processor_failures(&node, &name), before + 1, "{name}");
        if ignore {
            assert_eq!(status, 200, "{resp}");
            assert_eq!(hits_of(&resp), plain, "{name}");
        } else {
            assert_eq!(status, 500, "{resp}");
            assert!(
                resp.to_string().contains(
                    "[item_id_field] none of the 100 hits has an item id in the field [itme_id]"
                ),
                "{resp}"
            );
        }
    }

    // Attune counts the plugin's calls as OpenSearch re-ranking, not as GetPersonalizedRanking.
    let before = fx.client.metrics().unwrap();
    let got = search(&node, &with_pipeline, &query(10, Some("u1")));
    assert_eq!(hits_of(&got).len(), 10);
    let after = fx.client.metrics().unwrap();
    assert_eq!(
        requests_of(&after, "opensearch"),
        requests_of(&before, "opensearch") + 1,
        "{after}"
    );
    assert_eq!(
        requests_of(&after, "personalize-ranking"),
        requests_of(&before, "personalize-ranking"),
        "{after}"
    );

    // A bad configuration is refused with the processor's message.
    let mut bad: Value = serde_json::from_str(files::PIPELINE).unwrap();
    bad["response_processors"][0]["personalized_search_ranking"]["weight"] = json!(1.5);
    let (status, resp) = node.send("PUT", "/_search/pipeline/bad", Some(&bad));
    assert_eq!(status, 400, "{resp}");
    assert!(resp.to_string().contains("weight"), "{resp}");

    // A user id is required when the weight is above 0 (ignore_failure false: an error).
    put_pipeline(&node, "strict", &campaign, json!(0.3), false);
    let strict = format!("/{INDEX}/_search?search_pipeline=strict");
    let mut no_user = query(10, None);
    no_user["ext"] = json!({"personalize_request_parameters": {"context": {"DEVICE": "tv"}}});
    let (status, resp) = node.send("POST", &strict, Some(&no_user));
    assert_eq!(status, 400, "{resp}");
    assert!(resp.to_string().contains("user_id"), "{resp}");

    // Attune restarted with an API key the node does not have: a processor failure (not a
    // client error) whose message names the keystore setting.
    let addr = fx.server.addr().to_string();
    fx.server.kill();
    let keyed = KeyedAttune::start(fx.server.data_dir(), &addr, "the-key-of-attune");
    let failures_before = processor_failures(&node, PIPELINE);
    let got = hits_of(&search(&node, &with_pipeline, &query(100, Some("u1"))));
    assert_eq!(got, plain, "ignore_failure true with the key refused");
    assert_eq!(processor_failures(&node, PIPELINE), failures_before + 1);
    let (status, resp) = node.send("POST", &strict, Some(&query(10, Some("u1"))));
    assert_eq!(status, 500, "{resp}");
    let text = resp.to_string();
    assert!(
        text.contains("refused the node's API key (the node has none)")
            && text.contains("keystore as personalized_search_ranking.service.api_key"),
        "{resp}"
    );
    drop(keyed);

    // Attune stopped: ignore_failure true gives OpenSearch's results and counts a failure;
    // false fails the search.
    let failures_before = processor_failures(&node, PIPELINE);
    let got = hits_of(&search(&node, &with_pipeline, &query(100, Some("u1"))));
    assert_eq!(got, plain, "ignore_failure true with Attune down");
    assert_eq!(processor_failures(&node, PIPELINE), failures_before + 1);
    let (status, resp) = node.send("POST", &strict, Some(&query(10, Some("u1"))));
    assert!(
        status >= 500,
        "ignore_failure false with Attune down: {status} {resp}"
    );
}

/// The same pipeline on MovieLens (`../shared/data/ml-latest-small`): movies indexed with
/// their title and genres, a Personalized-Ranking campaign trained on the ratings, and a
/// search for "Comedy" re-ranked for two users.
#[test]
fn movielens_searches_are_personalized_through_the_plugin() {
    let Some(src) =
        tests::movielens_or_skip("movielens_searches_are_personalized_through_the_plugin")
    else {
        return;
    };
    let tmp = tempfile::tempdir().unwrap();
    let files = tests::movielens_to_personalize(&src, &tmp.path().join("csv")).unwrap();
    let data = tmp.path().join("data");
    let data_arg = data.to_str().unwrap();
    for (ty, schema, csv) in [
        (
            "Interactions",
            &files.interactions_schema,
            &files.interactions_csv,
        ),
        ("Items", &files.items_schema, &files.items_csv),
    ] {
        tests::attune_ok([
            "import",
            "--data-dir",
            data_arg,
            "--dataset-group",
            "movielens",
            "--dataset-type",
            ty,
            "--schema",
            schema.to_str().unwrap(),
            "--file",
            csv.to_str().unwrap(),
        ]);
    }
    tests::attune_ok([
        "train",
        "--data-dir",
        data_arg,
        "--dataset-group",
        "movielens",
        "--solution",
        "movies",
        "--hp",
        "algorithm=ials",
        "--no-evaluate",
    ]);
    tests::attune_ok([
        "deploy",
        "--data-dir",
        data_arg,
        "--campaign",
        "movies",
        "--solution",
        "movies",
    ]);
    let server = tests::start_server(&data);
    let client = attune::client::Client::new(&server.base_url()).unwrap();
    let campaign = "arn:aws:personalize:local:000000000000:campaign/movies";
    let node = Node::start(NodeOptions::with_plugin(Line::V2, &server.base_url()));

    let mapping = json!({"mappings": {"properties": {
        "item_id": {"type": "keyword"}, "title": {"type": "text"}, "genres": {"type": "text"}}}});
    let (status, resp) = node.send("PUT", "/movies", Some(&mapping));
    assert_eq!(status, 200, "{resp}");
    let mut rdr = csv::Reader::from_path(&files.items_csv).unwrap();
    let movies: Vec<Value> = rdr
        .records()
        .map(|r| {
            let r = r.unwrap();
            json!({"item_id": &r[0], "title": &r[1], "genres": r[2].replace('|', " ")})
        })
        .collect();
    assert_eq!(movies.len() as u64, tests::ML_ITEMS);
    node.bulk_index("movies", &movies, |d| {
        d["item_id"].as_str().unwrap().to_owned()
    });
    let titles: HashMap<String, String> = movies
        .iter()
        .map(|m| {
            (
                m["item_id"].as_str().unwrap().to_owned(),
                m["title"].as_str().unwrap().to_owned(),
            )
        })
        .collect();
    put_pipeline(&node, "movies", campaign, json!("0.5"), false);

    let search_body = |user: Option<&str>| {
        let mut q = json!({"size": 100,
            "query": {"multi_match": {"query": "Comedy", "fields": ["title", "genres"]}}});
        if let Some(u) = user {
            q["ext"] = json!({"personalize_request_parameters": {"user_id": u}});
        }
        q
    };
    let plain = hits_of(&search(&node, "/movies/_search", &search_body(None)));
    assert_eq!(plain.len(), 100);
    let blend_for = |user: &str| server_blend(&client, campaign, user, &plain, 0.5, 0);
    let mut tops = Vec::new();
    for user in ["1", "414"] {
        let got = search(
            &node,
            "/movies/_search?search_pipeline=movies",
            &search_body(Some(user)),
        );
        assert_blended(
            &got,
            &plain,
            &blend_for(user),
            &format!("MovieLens user {user}"),
        );
        let top: Vec<String> = hits_of(&got)
            .iter()
            .take(5)
            .map(|h| titles[h.1.as_deref().unwrap()].clone())
            .collect();
        eprintln!("MovieLens \"Comedy\" for user {user}: {top:?}");
        tops.push(hits_of(&got).into_iter().map(|h| h.0).collect::<Vec<_>>());
    }
    eprintln!(
        "MovieLens \"Comedy\" without personalization: {:?}",
        plain
            .iter()
            .take(5)
            .map(|h| titles[h.1.as_deref().unwrap()].clone())
            .collect::<Vec<_>>()
    );
    assert_ne!(tops[0], tops[1], "two MovieLens users, one order");
}
