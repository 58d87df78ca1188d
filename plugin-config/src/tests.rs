use std::collections::BTreeMap;

use serde_json::{json, Value};

use crate::stock::{predict_body, read_scores, render, SCORES_FIELD, SCORES_PATH};
use crate::*;

fn parse(path: &str, text: &str) -> Value {
    serde_json::from_str(text).unwrap_or_else(|e| panic!("{path} is not JSON: {e}"))
}

/// A valid configuration, as JSON, to break one property at a time.
fn good() -> Value {
    json!({
        "campaign_arn": "arn:aws:personalize:local:000000000000:campaign/demo",
        "item_id_field": "productId",
        "recipe": "aws-personalized-ranking",
        "weight": "0.3",
        "tag": "personalize-processor",
        "iam_role_arn": "arn:aws:iam::000000000000:role/personalize",
        "aws_region": "us-east-1",
        "ignore_failure": true
    })
}

fn with(changes: Value) -> Value {
    let mut v = good();
    for (k, val) in changes.as_object().unwrap() {
        if val.is_null() {
            v.as_object_mut().unwrap().remove(k);
        } else {
            v[k] = val.clone();
        }
    }
    v
}

/// Validates a configuration: the config, or the error message.
fn check(config: Value) -> Result<ProcessorConfig, String> {
    ProcessorConfig::from_json(&config).map_err(|e| e.to_string())
}

#[test]
fn every_shipped_json_file_parses_and_is_on_disk() {
    let root = std::path::Path::new(env!("CARGO_MANIFEST_DIR"));
    for (path, text) in files::ALL {
        assert!(parse(path, text).is_object(), "{path}");
        // The embedded copy is the file (include_str! keeps them equal; this catches a renamed
        // file left behind).
        assert_eq!(std::fs::read_to_string(root.join(path)).unwrap(), text);
    }
    // And no JSON file ships without being embedded and tested.
    for dir in ["pipelines", "recipes/stock-ml-inference"] {
        for e in std::fs::read_dir(root.join(dir)).unwrap() {
            let name = e.unwrap().file_name().to_string_lossy().into_owned();
            if name.ends_with(".json") {
                let rel = format!("{dir}/{name}");
                assert!(
                    files::ALL.iter().any(|(p, _)| *p == rel),
                    "{rel} is not in files::ALL"
                );
            }
        }
    }
}

#[test]
fn the_shipped_pipeline_validates() {
    let pipeline = parse("pipeline", files::PIPELINE);
    let configs = processors_in_pipeline(&pipeline).unwrap();
    assert_eq!(configs.len(), 1);
    let c = &configs[0];
    assert_eq!(
        c.campaign_arn,
        "arn:aws:personalize:local:000000000000:campaign/demo-ranking"
    );
    assert_eq!(c.item_id_field, ItemIdField::Source("item_id".into()));
    assert_eq!(c.recipe, Recipe::PersonalizedRanking);
    assert_eq!(c.weight, 0.3);
    assert_eq!(c.tag.as_deref(), Some("personalize-processor"));
    assert_eq!(c.aws_region.as_deref(), Some("local"));
    assert!(c.ignore_failure);
    assert!(!c.is_noop());

    // The search body's extension validates too.
    let search = parse("search", files::SEARCH_REQUEST);
    let params = RequestParameters::from_search_body(&search)
        .unwrap()
        .unwrap();
    assert_eq!(params.user_id, "u1");
    assert_eq!(params.context["DEVICE"], "mobile phone");

    // The index template maps the pipeline's item id field as a keyword.
    let template = parse("template", files::INDEX_TEMPLATE);
    let props = &template["template"]["mappings"]["properties"];
    assert_eq!(props[c.item_id_field.name()]["type"], "keyword");
    assert!(template["index_patterns"]
        .as_array()
        .is_some_and(|p| !p.is_empty()));
}

#[test]
fn the_guide_example_shape_validates() {
    let c = check(good()).unwrap();
    assert_eq!(c.item_id_field, ItemIdField::Source("productId".into()));
    assert_eq!(
        c.iam_role_arn.as_deref(),
        Some("arn:aws:iam::000000000000:role/personalize")
    );
    // Weight as a number, bounds included; v2 recipe; optional fields absent.
    for (w, expected) in [(json!(0), 0.0), (json!(1), 1.0), (json!(0.25), 0.25)] {
        assert_eq!(
            check(with(json!({ "weight": w }))).unwrap().weight,
            expected
        );
    }
    assert!(check(with(json!({"weight": "0"}))).unwrap().is_noop());
    let c = check(json!({
        "campaign_arn": "arn:aws:personalize:us-east-1:123456789012:campaign/c",
        "recipe": "aws-personalized-ranking-v2",
        "weight": " 1.0 "
    }))
    .unwrap();
    assert_eq!(c.recipe, Recipe::PersonalizedRankingV2);
    assert_eq!(c.item_id_field, ItemIdField::DocumentId);
    assert!(!c.ignore_failure);
    assert_eq!((c.tag, c.aws_region, c.iam_role_arn), (None, None, None));
    // Blank or `_id` item id fields mean the document id; null means absent.
    for f in [json!(""), json!("  "), json!("_id"), Value::Null] {
        let mut v = good();
        v["item_id_field"] = f.clone();
        assert_eq!(
            check(v).unwrap().item_id_field,
            ItemIdField::DocumentId,
            "{f}"
        );
    }
    // The raw form round-trips through serde.
    let raw: RawProcessorConfig = serde_json::from_value(good()).unwrap();
    assert_eq!(serde_json::to_value(&raw).unwrap(), good());
}

#[test]
fn bad_configurations_get_the_java_messages() {
    let cases: Vec<(Value, &str)> = vec![
        (
            with(json!({"campaign_arn": null})),
            "[campaign_arn] required property is missing",
        ),
        (
            with(json!({"recipe": null})),
            "[recipe] required property is missing",
        ),
        (
            with(json!({"weight": null})),
            "[weight] required property is missing",
        ),
        (
            with(json!({"campaign_arn": 5})),
            "[campaign_arn] property isn't a string, but of type [java.lang.Integer]",
        ),
        (
            with(json!({"item_id_field": ["a"]})),
            "[item_id_field] property isn't a string, but of type [java.util.ArrayList]",
        ),
        (
            with(json!({"tag": {"a": 1}})),
            "[tag] property isn't a string, but of type [java.util.HashMap]",
        ),
        (
            with(json!({"ignore_failure": "true"})),
            "[ignore_failure] property isn't a boolean, but of type [java.lang.String]",
        ),
        (
            with(json!({"aws_region": false})),
            "[aws_region] property isn't a string, but of type [java.lang.Boolean]",
        ),
        (
            with(json!({"weight": "abc"})),
            "[weight] property cannot be converted to a double [abc]",
        ),
        (
            with(json!({"weight": true})),
            "[weight] property cannot be converted to a double [true]",
        ),
        (
            with(json!({"weight": 1.5})),
            "[weight] invalid value for weight: must be between 0.0 and 1.0, found 1.5",
        ),
        (
            with(json!({"weight": "-0.1"})),
            "[weight] invalid value for weight: must be between 0.0 and 1.0, found -0.1",
        ),
        (
            with(json!({"weight": "NaN"})),
            "[weight] invalid value for weight: must be between 0.0 and 1.0, found NaN",
        ),
        (
            with(json!({"campaign_arn": "movies"})),
            "[campaign_arn] invalid format for Personalize campaign arn: \"movies\" is not \
             arn:<partition>:personalize:<region>:<account>:campaign/<name>",
        ),
        (
            with(json!({"campaign_arn": "arn:aws:s3:::bucket/campaign/x"})),
            "[campaign_arn] invalid format for Personalize campaign arn",
        ),
        (
            with(json!({"campaign_arn": "arn:aws:personalize:local:0:solution/s"})),
            "[campaign_arn] invalid format for Personalize campaign arn",
        ),
        (
            with(json!({"campaign_arn": "arn:aws:personalize:local:0:campaign/"})),
            "[campaign_arn] invalid format for Personalize campaign arn",
        ),
        (
            with(json!({"iam_role_arn": "arn:aws:personalize:::role/x"})),
            "[iam_role_arn] invalid format for Personalize iam role arn",
        ),
        (
            with(json!({"recipe": "aws-sims"})),
            "[recipe] not supported recipe provided: \"aws-sims\" (supported: \
             aws-personalized-ranking, aws-personalized-ranking-v2)",
        ),
        (
            with(json!({"endpoint": "http://x", "api_key": "k"})),
            "processor [personalized_search_ranking:personalize-processor] doesn't support one \
             or more provided configuration parameters: [api_key, endpoint]",
        ),
        (
            with(json!({"tag": null, "endpoint": "http://x"})),
            "processor [personalized_search_ranking] doesn't support one or more provided \
             configuration parameters: [endpoint]",
        ),
        (
            json!("campaign"),
            "processor [personalized_search_ranking] configuration isn't a map, but of type \
             [java.lang.String]",
        ),
    ];
    for (config, expected) in cases {
        let err = check(config.clone()).expect_err(&config.to_string());
        assert!(
            err.starts_with(expected),
            "{config}\n  got:      {err}\n  expected: {expected}"
        );
    }
    // Type errors come before value errors, as in Java: a bad weight type beats a bad ARN.
    let err = check(with(json!({"campaign_arn": "x", "weight": "w"}))).unwrap_err();
    assert!(err.starts_with("[weight] property cannot"), "{err}");
    // Value errors in Java's order: weight, campaign, role, recipe; unknown parameters last.
    let err = check(with(
        json!({"campaign_arn": "x", "weight": 2, "recipe": "r"}),
    ))
    .unwrap_err();
    assert!(err.starts_with("[weight] invalid value"), "{err}");
    let err = check(with(
        json!({"campaign_arn": "x", "recipe": "r", "extra": 1}),
    ))
    .unwrap_err();
    assert!(err.starts_with("[campaign_arn]"), "{err}");
    // The error names its property.
    let err = ProcessorConfig::from_json(&with(json!({"weight": 3}))).unwrap_err();
    assert_eq!(err.property.as_deref(), Some("weight"));
}

#[test]
fn weight_alone() {
    assert_eq!(weight_from_value(Some(&json!("0.5"))), Ok(0.5));
    assert_eq!(weight_from_value(Some(&json!(1))), Ok(1.0));
    let err = weight_from_value(None).unwrap_err();
    assert_eq!(err.to_string(), "[weight] required property is missing");
    let err = weight_from_value(Some(&json!("Infinity"))).unwrap_err();
    assert!(err.to_string().contains("found inf"), "{err}");
}

#[test]
fn pipelines_are_read_processor_by_processor() {
    let two = json!({
        "response_processors": [
            {"truncate_hits": {}},
            {"personalized_search_ranking": good()},
            {"personalized_search_ranking": with(json!({"weight": 0}))}
        ]
    });
    let configs = processors_in_pipeline(&two).unwrap();
    assert_eq!(
        configs.iter().map(|c| c.weight).collect::<Vec<_>>(),
        [0.3, 0.0]
    );
    assert!(processors_in_pipeline(&json!({"description": "none"}))
        .unwrap()
        .is_empty());
    let cases = [
        (
            json!({"request_processors": [{"personalized_search_ranking": good()}]}),
            "Invalid processor type personalized_search_ranking",
        ),
        (
            json!({"response_processors": {"personalized_search_ranking": good()}}),
            "[response_processors] property isn't a list, but of type [java.util.HashMap]",
        ),
        (
            json!({"response_processors": [{"personalized_search_ranking": with(json!({"weight": 9}))}]}),
            "[weight] invalid value for weight",
        ),
        (json!([]), "a search pipeline is a JSON object"),
    ];
    for (pipeline, expected) in cases {
        let err = processors_in_pipeline(&pipeline).unwrap_err().to_string();
        assert!(err.starts_with(expected), "{pipeline}: {err}");
    }
}

#[test]
fn request_extension_rules() {
    let body = |ext: Value| json!({"query": {"match_all": {}}, "ext": {REQUEST_EXT: ext}});
    let ok = RequestParameters::from_search_body(&body(json!({"user_id": "u-42"})))
        .unwrap()
        .unwrap();
    assert_eq!(ok.user_id, "u-42");
    assert!(ok.context.is_empty());
    assert_eq!(
        RequestParameters::from_search_body(&json!({"query": {}})),
        Ok(None)
    );
    let cases = [
        (
            json!({}),
            "[user_id] required Personalize request parameter is missing",
        ),
        (
            json!({"user_id": "  "}),
            "[user_id] required Personalize request parameter is missing",
        ),
        (
            json!({"user_id": 42}),
            "[personalize_request_parameters] user_id doesn't support values of type: \
             VALUE_NUMBER",
        ),
        (
            json!({"user_id": "u", "context": "mobile"}),
            "[personalize_request_parameters] context doesn't support values of type: \
             VALUE_STRING",
        ),
        (
            json!({"user_id": "u", "context": {"DEVICE": 5}}),
            "[context] Personalize context value is not of type String. Invalid context value: 5",
        ),
        (
            json!({"user_id": "u", "session": "s"}),
            "[personalize_request_parameters] unknown field [session]",
        ),
        (
            json!("u-42"),
            "[personalize_request_parameters] Expected START_OBJECT but was: VALUE_STRING",
        ),
    ];
    for (ext, expected) in cases {
        let err = RequestParameters::from_search_body(&body(ext.clone()))
            .expect_err(&ext.to_string())
            .to_string();
        assert_eq!(err, expected, "{ext}");
    }
}

#[test]
fn item_ids_come_from_the_configured_field() {
    let hit = json!({
        "_id": "doc-1",
        "_source": {
            "item_id": "i7", "num": 42, "float": 1.5, "empty": "", "flag": true,
            "product": {"id": "p9"}, "a.b": "literal"
        }
    });
    let id = |field: Option<&str>| {
        ItemIdField::parse(field)
            .extract(&hit)
            .map(|c| c.into_owned())
    };
    assert_eq!(id(None).as_deref(), Some("doc-1"));
    assert_eq!(id(Some("_id")).as_deref(), Some("doc-1"));
    assert_eq!(id(Some("item_id")).as_deref(), Some("i7"));
    assert_eq!(id(Some("num")).as_deref(), Some("42"));
    assert_eq!(id(Some("float")).as_deref(), Some("1.5"));
    assert_eq!(id(Some("product.id")).as_deref(), Some("p9"));
    assert_eq!(id(Some("a.b")).as_deref(), Some("literal"));
    for missing in ["empty", "flag", "product", "nope", "product.nope"] {
        assert_eq!(id(Some(missing)), None, "{missing}");
    }
    assert_eq!(
        ItemIdField::parse(Some("item_id")).extract(&json!({"_id": "d"})),
        None
    );
    assert_eq!(
        ItemIdField::DocumentId.extract(&json!({"_source": {}})),
        None
    );
    assert_eq!(ItemIdField::parse(Some("x")).name(), "x");
}

#[test]
fn stock_route_files_fit_together() {
    let connector = parse("connector", files::STOCK_CONNECTOR);
    let pipeline = parse("pipeline", files::STOCK_PIPELINE);
    let settings = parse("settings", files::STOCK_CLUSTER_SETTINGS);
    let model = parse("model", files::STOCK_MODEL);
    let search = parse("search", files::STOCK_SEARCH_REQUEST);

    // The connector calls the scores endpoint; the trusted-endpoint regex admits its URL.
    let action = &connector["actions"][0];
    assert_eq!(action["action_type"], "predict");
    let url = action["url"].as_str().unwrap();
    assert!(url.ends_with(SCORES_PATH), "{url}");
    let regex = settings["persistent"]["plugins.ml_commons.trusted_connector_endpoints_regex"][0]
        .as_str()
        .unwrap();
    assert_eq!(regex, r"^http://127\.0\.0\.1:8080/.*$");
    assert!(url.starts_with("http://127.0.0.1:8080/"));
    // ML Commons 2.x refuses a connector without a credential.
    assert!(connector["credential"]
        .as_object()
        .is_some_and(|c| !c.is_empty()));
    assert_eq!(model["function_name"], "remote");

    // ml_inference (many-to-one) feeds item_id and the user of ext.ml_inference, and writes
    // the response's scores into the field rerank by_field sorts on.
    let processors = pipeline["response_processors"].as_array().unwrap();
    let ml = &processors[0]["ml_inference"];
    assert_eq!(ml["one_to_one"], false);
    assert_eq!(ml["function_name"], "remote");
    let input = &ml["input_map"][0];
    assert_eq!(input["item_ids"], "item_id");
    assert_eq!(input["user_id"], "$._request.ext.ml_inference.user_id");
    assert!(search["ext"]["ml_inference"]["user_id"].is_string());
    let output = ml["output_map"][0].as_object().unwrap();
    let (target, source) = output.iter().next().unwrap();
    assert_eq!(source, SCORES_FIELD);
    let by_field = &processors[1]["rerank"]["by_field"];
    assert_eq!(by_field["target_field"], target.as_str());
    // The demo index template maps that item_id field.
    let template = parse("template", files::INDEX_TEMPLATE);
    assert_eq!(
        template["template"]["mappings"]["properties"]["item_id"]["type"],
        "keyword"
    );

    // What ML Commons posts for a search with three hits.
    let body = predict_body(&connector, "u-42", &[json!("i7"), json!("i3"), json!(9)]).unwrap();
    assert_eq!(
        body,
        r#"{ "campaign": "arn:aws:personalize:local:000000000000:campaign/demo-ranking", "user_id": "u-42", "item_ids": ["i7","i3",9], "weight": 0.3 }"#
    );
    // A user id that breaks the JSON fails in ML Commons (and so, before reaching Attune).
    let err = predict_body(&connector, "a\"b", &[json!("i1")]).unwrap_err();
    assert!(err.to_string().starts_with("Invalid payload: "), "{err}");
}

#[test]
fn rendering_and_reading_like_ml_commons() {
    let params = BTreeMap::from([
        ("a".to_owned(), "1".to_owned()),
        ("list".to_owned(), r#"["x","y"]"#.to_owned()),
    ]);
    assert_eq!(
        render(
            r#"{"a": ${parameters.a}, "l": ${parameters.list}, "u": "${parameters.unknown}"}"#,
            &params
        ),
        r#"{"a": 1, "l": ["x","y"], "u": "${parameters.unknown}"}"#
    );
    assert_eq!(render("${parameters.a", &params), "${parameters.a");
    assert_eq!(render("$${parameters.a}}", &params), "${parameters.a}}");

    assert_eq!(
        read_scores(br#"{"scores": [0.5, 1.0, 0]}"#, 3),
        Ok(vec![0.5, 1.0, 0.0])
    );
    for (body, hits, needle) in [
        (&br#"[0.5]"#[..], 1, "not a JSON object"),
        (br#"{"score": [0.5]}"#, 1, "no \"scores\" list"),
        (br#"{"scores": [0.5]}"#, 2, "1 values for 2 hits"),
        (br#"{"scores": ["0.5"]}"#, 1, "scores[0]"),
        (b"nope", 1, "not JSON"),
    ] {
        let err = read_scores(body, hits).unwrap_err();
        assert!(err.contains(needle), "{err}");
    }
}

/// The shared test vectors `vectors/processor-configs.json`: every rule of
/// [`ProcessorConfig::from_raw`] with its exact message, or the normalized configuration when
/// valid. The Java plugin (`opensearch-plugin/`) checks the same file against its factory, run
/// through OpenSearch core's pipeline parsing, so both sides show the user the same text.
#[test]
fn shared_processor_config_vectors() {
    let path =
        std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("vectors/processor-configs.json");
    let text = std::fs::read_to_string(&path).unwrap_or_else(|e| panic!("{}: {e}", path.display()));
    let vectors: Vec<Value> = serde_json::from_str(&text).expect("the vectors are a JSON list");
    assert!(vectors.len() >= 50, "only {} vectors", vectors.len());
    let mut names = std::collections::HashSet::new();
    let (mut valid, mut invalid) = (0, 0);
    for v in &vectors {
        let name = v["name"].as_str().expect("every vector has a name");
        assert!(names.insert(name), "duplicate vector name: {name}");
        let config = &v["config"];
        assert!(config.is_object(), "{name}: config is an object");
        let raw: RawProcessorConfig = serde_json::from_value(config.clone())
            .unwrap_or_else(|e| panic!("{name}: not a raw configuration: {e}"));
        let got = ProcessorConfig::from_raw(raw);
        match (&v["error"], got) {
            (Value::String(expected), Err(e)) => {
                assert_eq!(&e.message, expected, "{name}");
                invalid += 1;
            }
            (Value::String(expected), Ok(c)) => {
                panic!("{name}: expected the error {expected:?}, got {c:?}")
            }
            (Value::Null, Err(e)) => panic!("{name}: expected valid, got {:?}", e.message),
            (Value::Null, Ok(c)) => {
                let expected = &v["normalized"];
                let got = json!({
                    "campaign_arn": c.campaign_arn,
                    "item_id_field": c.item_id_field.name(),
                    "recipe": c.recipe.name(),
                    "weight": c.weight,
                    "tag": c.tag,
                    "description": c.description,
                    "iam_role_arn": c.iam_role_arn,
                    "external_account_iam_role_arn": c.external_account_iam_role_arn,
                    "aws_region": c.aws_region,
                    "ignore_failure": c.ignore_failure,
                });
                assert_eq!(&got, expected, "{name}");
                valid += 1;
            }
            (other, _) => panic!("{name}: error must be a string or null, found {other}"),
        }
    }
    assert!(
        valid >= 10 && invalid >= 40,
        "{valid} valid, {invalid} invalid"
    );
}
