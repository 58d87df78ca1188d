//! The runtime API over a real socket: GetPersonalizedRanking and GetRecommendations, their
//! answers checked against the same model run in-process, and every AWS error case.

use std::collections::BTreeMap;

use attune::api::{GetPersonalizedRankingRequest, GetRecommendationsRequest};
use attune::client::ErrorKind;
use serde_json::{json, Value};

use crate::server::{assert_client_error, assert_error, items, local_order, order, Fixture};

const NO_CAMPAIGN: &str = "arn:aws:personalize:us-east-1:000000000000:campaign/nope";

fn body(v: Value) -> Vec<u8> {
    serde_json::to_vec(&v).unwrap()
}

#[test]
fn ranking_reorders_the_input_like_the_model_and_appends_unknown_items() {
    let fx = Fixture::start();
    let model = fx.model(&fx.t.rank_v1);
    let user = "u7";
    assert!(
        model.users.index(user).is_some(),
        "{user} is a trained user"
    );
    let mut input = items(1, 40);
    input.insert(5, "not-an-item".into());
    let context = BTreeMap::from([("DEVICE".to_owned(), "mobile".to_owned())]);
    let resp = fx
        .client
        .get_personalized_ranking(&fx.campaigns.rank, user, &input, Some(&context))
        .unwrap();
    let ranked = &resp.personalized_ranking;
    assert_eq!(order(ranked), local_order(&model, user, &[], &input));
    let last = ranked.last().unwrap();
    assert_eq!((last.item_id.as_str(), last.score), ("not-an-item", None));
    let scores: Vec<f64> = ranked[..40].iter().map(|p| p.score.unwrap()).collect();
    assert!(scores.windows(2).all(|w| w[0] >= w[1]), "{scores:?}");
    assert!((scores.iter().sum::<f64>() - 1.0).abs() < 1e-6);
    assert!(resp.recommendation_id.starts_with("RID-") && resp.recommendation_id.len() <= 40);

    // An unknown user without events is ranked by popularity; 500 items are allowed.
    let all = items(1, 500);
    let resp = fx
        .client
        .get_personalized_ranking(&fx.campaigns.rank, "stranger", &all, None)
        .unwrap();
    assert_eq!(
        order(&resp.personalized_ranking),
        local_order(&model, "stranger", &[], &all)
    );

    // The raw exchange: 200, JSON, a request id.
    let raw = fx.post(
        "/personalize-ranking",
        &body(json!({"campaignArn": fx.campaigns.rank, "userId": user, "inputList": ["i1"]})),
    );
    assert_eq!(raw.status, 200);
    assert_eq!(raw.header("content-type"), Some("application/json"));
    assert!(raw
        .header("x-amzn-RequestId")
        .is_some_and(|v| !v.is_empty()));
}

#[test]
fn ranking_rejects_bad_requests_with_aws_errors() {
    let fx = Fixture::start_with(&["--max-body-bytes", "100000"]);
    let rank = fx.campaigns.rank.as_str();
    let plain = fx.deploy("rank-plain", &fx.t.rank_v2, false);
    let post = |v: Value| fx.post("/personalize-ranking", &body(v));
    let ok = |list: Vec<String>| json!({"campaignArn": rank, "userId": "u1", "inputList": list});

    let r = post(json!({"campaignArn": NO_CAMPAIGN, "userId": "u1", "inputList": ["i1"]}));
    assert_error(&r, 404, "ResourceNotFoundException", NO_CAMPAIGN);
    assert_client_error(
        fx.client
            .get_personalized_ranking(NO_CAMPAIGN, "u1", &["i1"], None),
        ErrorKind::ResourceNotFound,
        "nope",
    );
    assert_error(
        &post(ok(items(1, 501))),
        400,
        "InvalidInputException",
        "inputList",
    );
    assert_eq!(post(ok(items(1, 500))).status, 200);
    assert_error(
        &post(ok(Vec::new())),
        400,
        "InvalidInputException",
        "inputList",
    );
    let long_id = "x".repeat(257);
    assert_error(
        &post(ok(vec!["i1".into(), long_id.clone()])),
        400,
        "InvalidInputException",
        "inputList[1]",
    );
    assert_error(
        &post(json!({"campaignArn": rank, "userId": long_id, "inputList": ["i1"]})),
        400,
        "InvalidInputException",
        "userId",
    );
    assert_error(
        &post(json!({"campaignArn": rank, "inputList": ["i1"]})),
        400,
        "InvalidInputException",
        "userId",
    );
    assert_error(
        &post(json!({"campaignArn": rank, "userId": "u1"})),
        400,
        "InvalidInputException",
        "inputList",
    );
    assert_error(
        &post(json!({"userId": "u1", "inputList": ["i1"]})),
        400,
        "InvalidInputException",
        "campaignArn",
    );
    assert_error(
        &post(json!({"campaignArn": rank, "userId": "u1", "inputList": "i1"})),
        400,
        "InvalidInputException",
        "inputList",
    );
    let too_much_context: BTreeMap<String, String> = (0..151)
        .map(|k| (format!("K{k}"), "v".to_owned()))
        .collect();
    assert_error(
        &post(
            json!({"campaignArn": rank, "userId": "u1", "inputList": ["i1"],
                     "context": too_much_context}),
        ),
        400,
        "InvalidInputException",
        "context",
    );
    for bad in [&b"{not json"[..], b"", b"[1, 2]"] {
        let r = fx.post("/personalize-ranking", bad);
        assert_eq!(r.status, 400, "{}", r.text());
        let kind = r.header("x-amzn-ErrorType").unwrap_or_default();
        assert!(
            kind == "InvalidInputException" || kind == "SerializationException",
            "{kind}"
        );
    }
    // Oversized bodies: over --max-body-bytes.
    let huge =
        body(json!({"campaignArn": rank, "userId": "u1", "inputList": ["i".repeat(200_000)]}));
    assert_error(
        &fx.post("/personalize-ranking", &huge),
        413,
        "RequestEntityTooLargeException",
        "100000",
    );
    // metadataColumns: at most 50 items, known columns, and only on campaigns that enable it.
    let with_metadata = |campaign: &str, list: Vec<String>, columns: Vec<&str>| {
        json!({"campaignArn": campaign, "userId": "u1", "inputList": list,
               "metadataColumns": {"ITEMS": columns}})
    };
    assert_error(
        &post(with_metadata(rank, items(1, 51), vec!["GENRES"])),
        400,
        "InvalidInputException",
        "inputList",
    );
    assert_error(
        &post(with_metadata(rank, items(1, 5), vec!["NO_SUCH_COLUMN"])),
        400,
        "InvalidInputException",
        "NO_SUCH_COLUMN",
    );
    assert_error(
        &post(with_metadata(rank, items(1, 5), vec!["C"; 11])),
        400,
        "InvalidInputException",
        "metadataColumns",
    );
    assert_error(
        &post(with_metadata(&plain, items(1, 5), vec!["GENRES"])),
        400,
        "InvalidInputException",
        "enableMetadataWithRecommendations",
    );
    // A Similar-Items campaign does not rank.
    assert_error(
        &post(json!({"campaignArn": fx.campaigns.sims, "userId": "u1", "inputList": ["i1"]})),
        400,
        "InvalidInputException",
        "GetRecommendations",
    );
    // None of these was the server's fault: nothing was logged as a failure.
    assert!(
        !fx.server
            .output()
            .iter()
            .any(|l| l.contains("request failed")),
        "4xx responses were logged"
    );
}

#[test]
fn metadata_columns_come_from_the_items_dataset() {
    let fx = Fixture::start();
    let genres = fx.t.item_genres();
    let resp = fx
        .client
        .personalized_ranking(&GetPersonalizedRankingRequest {
            campaign_arn: fx.campaigns.rank.clone(),
            user_id: "u3".into(),
            input_list: items(1, 50),
            metadata_columns: Some(BTreeMap::from([(
                "ITEMS".to_owned(),
                vec!["GENRES".to_owned(), "PRICE".to_owned()],
            )])),
            ..Default::default()
        })
        .unwrap();
    assert_eq!(resp.personalized_ranking.len(), 50);
    for p in &resp.personalized_ranking {
        let m = p.metadata.as_ref().expect("every item has metadata");
        assert_eq!(m.get("GENRES"), genres.get(&p.item_id), "{}", p.item_id);
        assert!(
            m.get("PRICE").is_some_and(|v| v.parse::<f64>().is_ok()),
            "{m:?}"
        );
    }
    let resp = fx
        .client
        .get_recommendations(&GetRecommendationsRequest {
            campaign_arn: Some(fx.campaigns.sims.clone()),
            item_id: Some("i10".into()),
            num_results: Some(50),
            metadata_columns: Some(BTreeMap::from([(
                "ITEMS".to_owned(),
                vec!["GENRES".to_owned()],
            )])),
            ..Default::default()
        })
        .unwrap();
    assert_eq!(resp.item_list.len(), 50);
    for p in &resp.item_list {
        let m = p.metadata.as_ref().unwrap();
        assert_eq!(m.get("GENRES"), genres.get(&p.item_id));
    }
}

#[test]
fn recommendations_for_similar_items_and_popularity() {
    let fx = Fixture::start();
    let sims = fx.model(&fx.t.sims_v1);
    let pop = fx.model(&fx.t.pop_v1);
    let request = |campaign: &str| GetRecommendationsRequest {
        campaign_arn: Some(campaign.to_owned()),
        ..Default::default()
    };
    let ids = |list: &[attune::api::PredictedItem]| order(list);

    let resp = fx
        .client
        .get_recommendations(&GetRecommendationsRequest {
            item_id: Some("i10".into()),
            ..request(&fx.campaigns.sims)
        })
        .unwrap();
    let expected: Vec<String> = sims
        .similar("i10", 25)
        .into_iter()
        .map(|i| sims.item_id(i).to_owned())
        .collect();
    assert_eq!(ids(&resp.item_list), expected, "25 by default");
    assert!(!expected.contains(&"i10".to_owned()));
    assert!(resp.recommendation_id.starts_with("RID-"));
    for n in [0, 5, 500] {
        let resp = fx
            .client
            .get_recommendations(&GetRecommendationsRequest {
                item_id: Some("i10".into()),
                num_results: Some(n),
                ..request(&fx.campaigns.sims)
            })
            .unwrap();
        assert_eq!(
            resp.item_list.len(),
            (n as usize).min(499),
            "numResults {n}"
        );
    }
    let resp = fx
        .client
        .get_recommendations(&GetRecommendationsRequest {
            user_id: Some("u1".into()),
            num_results: Some(10),
            ..request(&fx.campaigns.pop)
        })
        .unwrap();
    let popular: Vec<String> = pop
        .popular(10)
        .iter()
        .map(|&i| pop.item_id(i).to_owned())
        .collect();
    assert_eq!(ids(&resp.item_list), popular);

    // Errors.
    let post = |v: Value| fx.post("/recommendations", &body(v));
    let sims_arn = fx.campaigns.sims.as_str();
    assert_error(
        &post(json!({"campaignArn": NO_CAMPAIGN, "itemId": "i1"})),
        404,
        "ResourceNotFoundException",
        NO_CAMPAIGN,
    );
    assert_error(
        &post(json!({"campaignArn": sims_arn, "itemId": "i1", "numResults": 501})),
        400,
        "InvalidInputException",
        "numResults",
    );
    assert_error(
        &post(
            json!({"campaignArn": sims_arn, "itemId": "i1", "numResults": 51,
                     "metadataColumns": {"ITEMS": ["GENRES"]}}),
        ),
        400,
        "InvalidInputException",
        "numResults",
    );
    assert_error(
        &post(json!({"campaignArn": sims_arn, "itemId": "i1", "numResults": -1})),
        400,
        "InvalidInputException",
        "numResults",
    );
    assert_error(
        &post(json!({"campaignArn": sims_arn})),
        400,
        "InvalidInputException",
        "itemId",
    );
    assert_error(
        &post(json!({"campaignArn": sims_arn, "itemId": "x".repeat(257)})),
        400,
        "InvalidInputException",
        "itemId",
    );
    assert_error(
        &post(json!({"campaignArn": fx.campaigns.pop, "userId": "u".repeat(257)})),
        400,
        "InvalidInputException",
        "userId",
    );
    assert_error(
        &post(json!({"campaignArn": fx.campaigns.rank, "userId": "u1"})),
        400,
        "InvalidInputException",
        "GetPersonalizedRanking",
    );
    assert_error(
        &post(json!({"itemId": "i1"})),
        400,
        "InvalidInputException",
        "campaignArn",
    );
    assert_error(
        &post(json!({"campaignArn": fx.campaigns.pop, "userId": "u1",
                     "metadataColumns": {"ITEMS": ["GENRES"]}})),
        400,
        "InvalidInputException",
        "enableMetadataWithRecommendations",
    );
}
