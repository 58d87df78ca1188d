//! `sdk/examples/rerank_service.rs` over real sockets: it ranks as the server and the model do,
//! refuses what it does not support, and follows a campaign update under load without a failed
//! request, every response ranked wholly by one version (requests in flight finish on the old
//! model).

use std::collections::HashMap;
use std::io::{BufRead, BufReader};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::{Arc, Mutex, OnceLock};
use std::time::Duration;

use attune::api::GetPersonalizedRankingResponse;
use attune::client::{Client, ErrorKind};
use serde_json::json;

use crate::server::{assert_client_error, items, local_order, order, Fixture};

/// The example's binary, built once per run.
fn example_bin() -> &'static Path {
    static BIN: OnceLock<PathBuf> = OnceLock::new();
    BIN.get_or_init(|| {
        let cargo = std::env::var_os("CARGO").unwrap_or_else(|| "cargo".into());
        let out = Command::new(cargo)
            .current_dir(tests::workspace_root())
            .args([
                "build",
                "-p",
                "attune",
                "--example",
                "rerank_service",
                "--message-format=json-render-diagnostics",
            ])
            .output()
            .expect("cannot run cargo");
        assert!(
            out.status.success(),
            "cargo build of the example failed:\n{}",
            String::from_utf8_lossy(&out.stderr)
        );
        String::from_utf8_lossy(&out.stdout)
            .lines()
            .filter_map(|line| serde_json::from_str::<serde_json::Value>(line).ok())
            .filter(|m| {
                m["reason"] == "compiler-artifact" && m["target"]["name"] == "rerank_service"
            })
            .find_map(|m| m["executable"].as_str().map(PathBuf::from))
            .expect("cargo reported no rerank_service executable")
    })
}

/// The running example; killed when dropped.
struct Service {
    child: Child,
    url: String,
}

impl Drop for Service {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

fn start_service(data_dir: &Path, campaign: &str) -> Service {
    let mut child = Command::new(example_bin())
        .args(["--data-dir"])
        .arg(data_dir)
        .args(["--campaign", campaign, "--listen", "127.0.0.1:0"])
        .args(["--poll-ms", "50", "--threads", "2"])
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .expect("cannot start the example");
    let stderr = child.stderr.take().unwrap();
    std::thread::spawn(move || {
        for line in BufReader::new(stderr).lines().map_while(Result::ok) {
            eprintln!("[rerank_service] {line}");
        }
    });
    let mut stdout = BufReader::new(child.stdout.take().unwrap());
    let mut line = String::new();
    stdout.read_line(&mut line).unwrap();
    let url = line
        .trim()
        .strip_prefix("listening on ")
        .unwrap_or_else(|| panic!("unexpected first line {line:?}"))
        .to_owned();
    Service { child, url }
}

/// The version `GET /health` says the service serves.
fn serving(client: &Client) -> String {
    let resp = client.request("GET", "/health", &[], b"").unwrap();
    resp.json().unwrap()["solutionVersionArn"]
        .as_str()
        .unwrap()
        .to_owned()
}

#[test]
fn the_example_service_ranks_like_the_server_and_follows_a_campaign_update_under_load() {
    let fx = Fixture::start();
    let t = fx.t;
    let store = fx.store();
    let svc = start_service(store.root(), "rank");
    let client = Client::new(&svc.url).unwrap();
    let campaign = fx.campaigns.rank.clone();
    let input = items(1, 60);
    let users: Vec<String> = (1..=8).map(|u| format!("u{u}")).collect();

    // What each version ranks for each user, from the models themselves.
    let mut expected: HashMap<(String, String), Vec<String>> = HashMap::new();
    for version in [&t.rank_v1, &t.rank_v2] {
        let model = fx.model(version);
        for user in &users {
            expected.insert(
                (version.clone(), user.clone()),
                local_order(&model, user, &[], &input),
            );
        }
    }
    assert!(
        users
            .iter()
            .any(|u| expected[&(t.rank_v1.clone(), u.clone())]
                != expected[&(t.rank_v2.clone(), u.clone())]),
        "the two versions should rank differently"
    );

    // Before the update: the same answers as the server.
    assert_eq!(serving(&client), t.rank_v1);
    for user in &users {
        let ours = client
            .get_personalized_ranking(&campaign, user, &input, None)
            .unwrap();
        let server = fx
            .client
            .get_personalized_ranking(&campaign, user, &input, None)
            .unwrap();
        assert_eq!(
            order(&ours.personalized_ranking),
            order(&server.personalized_ranking)
        );
        assert_eq!(
            order(&ours.personalized_ranking),
            expected[&(t.rank_v1.clone(), user.clone())]
        );
    }

    // What it does not support is refused with the member's name; other campaigns are not
    // found.
    let mut filtered = attune::api::GetPersonalizedRankingRequest {
        campaign_arn: campaign.clone(),
        user_id: "u1".into(),
        input_list: input.clone(),
        ..Default::default()
    };
    filtered.filter_arn = Some("arn:aws:personalize:us-east-1:000000000000:filter/f".into());
    assert_client_error(
        client.personalized_ranking(&filtered),
        ErrorKind::InvalidInput,
        "filterArn",
    );
    assert_client_error(
        client.get_personalized_ranking(&fx.campaigns.sims, "u1", &input, None),
        ErrorKind::ResourceNotFound,
        "not served here",
    );
    assert_client_error(
        client.get_personalized_ranking(&campaign, "u1", &[] as &[&str], None),
        ErrorKind::InvalidInput,
        "inputList",
    );

    // Under load from 4 threads, the campaign moves to version 2.
    let stop = Arc::new(AtomicBool::new(false));
    // Answers from the new version, across the threads: the update is made under load and the
    // load stops only once the new version has answered a good many requests.
    let (total, on_v2) = (Arc::new(AtomicU64::new(0)), Arc::new(AtomicU64::new(0)));
    let failures = Arc::new(Mutex::new(Vec::<String>::new()));
    let expected = Arc::new(expected);
    let load: Vec<_> = (0..4)
        .map(|k| {
            let (stop, failures, expected) = (stop.clone(), failures.clone(), expected.clone());
            let (total, on_v2) = (total.clone(), on_v2.clone());
            let (url, campaign, input, users) = (
                svc.url.clone(),
                campaign.clone(),
                input.clone(),
                users.clone(),
            );
            let v2 = t.rank_v2.clone();
            std::thread::spawn(move || {
                let client = Client::new(&url).unwrap();
                let (mut answered, mut seen_v2, mut n) = (HashMap::<String, u64>::new(), false, k);
                while !stop.load(Ordering::Relaxed) {
                    n += 1;
                    let user = &users[n % users.len()];
                    let body = json!({"campaignArn": campaign, "userId": user, "inputList": input});
                    let resp = match client.request(
                        "POST",
                        "/personalize-ranking",
                        &[("Content-Type", "application/json")],
                        body.to_string().as_bytes(),
                    ) {
                        Ok(r) => r,
                        Err(e) => {
                            failures.lock().unwrap().push(format!("transport: {e}"));
                            continue;
                        }
                    };
                    if resp.status != 200 {
                        failures
                            .lock()
                            .unwrap()
                            .push(format!("{} {}", resp.status, resp.text()));
                        continue;
                    }
                    let version = resp
                        .header("x-attune-solution-version")
                        .unwrap_or_default()
                        .to_owned();
                    let got: GetPersonalizedRankingResponse =
                        serde_json::from_slice(&resp.body).unwrap();
                    match expected.get(&(version.clone(), user.clone())) {
                        Some(want) if *want == order(&got.personalized_ranking) => {}
                        _ => failures.lock().unwrap().push(format!(
                            "{user} on {version:?}: a ranking no single version gives"
                        )),
                    }
                    total.fetch_add(1, Ordering::Relaxed);
                    if version == v2 {
                        on_v2.fetch_add(1, Ordering::Relaxed);
                        seen_v2 = true;
                    } else if seen_v2 {
                        failures
                            .lock()
                            .unwrap()
                            .push("version 1 answered after version 2 had".into());
                    }
                    *answered.entry(version).or_default() += 1;
                }
                answered
            })
        })
        .collect();
    tests::wait_until(
        Duration::from_secs(30),
        "200 answers before the update",
        || total.load(Ordering::Relaxed) >= 200,
    );
    fx.client
        .control(
            "UpdateCampaign",
            &json!({"campaignArn": campaign, "solutionVersionArn": t.rank_v2}),
        )
        .unwrap();
    tests::wait_until(
        Duration::from_secs(30),
        "the service to serve version 2",
        || serving(&client) == t.rank_v2,
    );
    tests::wait_until(
        Duration::from_secs(30),
        "200 answers from version 2",
        || on_v2.load(Ordering::Relaxed) >= 200,
    );
    stop.store(true, Ordering::Relaxed);
    let mut answered: HashMap<String, u64> = HashMap::new();
    for handle in load {
        for (version, n) in handle.join().unwrap() {
            *answered.entry(version).or_default() += n;
        }
    }
    let failures = failures.lock().unwrap();
    assert!(failures.is_empty(), "failed requests: {failures:?}");
    assert!(
        answered.get(&t.rank_v1).copied().unwrap_or(0) > 0
            && answered.get(&t.rank_v2).copied().unwrap_or(0) > 0,
        "both versions should have answered under load: {answered:?}"
    );

    // After the update, the server agrees again.
    tests::wait_until(
        Duration::from_secs(30),
        "the server to serve version 2",
        || {
            let server = fx
                .client
                .get_personalized_ranking(&campaign, "u1", &input, None)
                .unwrap();
            order(&server.personalized_ranking) == expected[&(t.rank_v2.clone(), "u1".into())]
        },
    );
}
