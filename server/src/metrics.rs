//! Prometheus metrics, kept in atomics (no lock on the request path once a series exists):
//! requests, errors and a latency histogram per route and campaign, records accepted per Put*
//! operation, model loads. [`Metrics::render`] writes the text exposition format; the state adds
//! its gauges (models loaded, real-time users) through [`Gauges`].

use std::collections::HashMap;
use std::fmt::Write;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex, PoisonError};
use std::time::Duration;

/// Histogram bucket bounds, in seconds.
pub const BUCKETS: [f64; 16] = [
    0.0001, 0.00025, 0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5,
    5.0, 10.0,
];

/// The routes metrics are kept for.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum Route {
    /// `POST /personalize-ranking`.
    Ranking,
    /// `POST /recommendations`.
    Recommendations,
    /// `POST /events`.
    Events,
    /// `POST /items`.
    Items,
    /// `POST /users`.
    Users,
    /// `POST /` with `X-Amz-Target`.
    Control,
    /// `GET /health`.
    Health,
    /// `GET /metrics`.
    Metrics,
    /// `POST /opensearch/rerank` and `/opensearch/scores`.
    OpenSearch,
    /// The search proxy: `GET`/`POST /{index}/_search`, `_msearch` and scroll continuations
    /// forwarded to OpenSearch.
    Proxy,
    /// Anything else (404, 405, rejected before routing).
    Other,
}

impl Route {
    /// The label value.
    pub fn label(self) -> &'static str {
        match self {
            Route::Ranking => "personalize-ranking",
            Route::Recommendations => "recommendations",
            Route::Events => "events",
            Route::Items => "items",
            Route::Users => "users",
            Route::Control => "control",
            Route::Health => "health",
            Route::Metrics => "metrics",
            Route::OpenSearch => "opensearch",
            Route::Proxy => "proxy",
            Route::Other => "other",
        }
    }
}

const ROUTES: [Route; 11] = [
    Route::Ranking,
    Route::Recommendations,
    Route::Events,
    Route::Items,
    Route::Users,
    Route::Control,
    Route::Health,
    Route::Metrics,
    Route::OpenSearch,
    Route::Proxy,
    Route::Other,
];

/// The counters of one (route, campaign) pair.
#[derive(Debug, Default)]
pub struct Series {
    requests: AtomicU64,
    client_errors: AtomicU64,
    server_errors: AtomicU64,
    buckets: [AtomicU64; BUCKETS.len() + 1],
    sum_nanos: AtomicU64,
}

impl Series {
    /// Records one finished request.
    pub fn observe(&self, elapsed: Duration, status: u16) {
        self.requests.fetch_add(1, Ordering::Relaxed);
        if (400..500).contains(&status) {
            self.client_errors.fetch_add(1, Ordering::Relaxed);
        } else if status >= 500 {
            self.server_errors.fetch_add(1, Ordering::Relaxed);
        }
        let secs = elapsed.as_secs_f64();
        let b = BUCKETS
            .iter()
            .position(|&le| secs <= le)
            .unwrap_or(BUCKETS.len());
        self.buckets[b].fetch_add(1, Ordering::Relaxed);
        self.sum_nanos
            .fetch_add(elapsed.as_nanos() as u64, Ordering::Relaxed);
    }

    /// Requests recorded.
    pub fn requests(&self) -> u64 {
        self.requests.load(Ordering::Relaxed)
    }
}

/// Put* operations whose accepted records are counted.
#[derive(Debug, Clone, Copy)]
pub enum PutOp {
    /// PutEvents.
    Events,
    /// PutItems.
    Items,
    /// PutUsers.
    Users,
}

/// Gauges the state reports at render time.
#[derive(Debug, Default)]
pub struct Gauges {
    /// (campaign name, concrete solution version ARN) of each live campaign.
    pub campaigns: Vec<(String, String)>,
    /// Distinct model versions in memory.
    pub models_loaded: usize,
    /// (dataset group, users with real-time state).
    pub realtime_users: Vec<(String, usize)>,
}

/// A series key: the route and the campaign name (`""` for none).
type SeriesKey = (Route, Box<str>);

/// All metrics of a server.
#[derive(Debug)]
pub struct Metrics {
    /// The campaign-less series of each route, by `Route as usize` (no lock, no allocation).
    by_route: Vec<Arc<Series>>,
    series: Mutex<HashMap<SeriesKey, Arc<Series>>>,
    accepted: [AtomicU64; 3],
    model_loads: AtomicU64,
    model_load_failures: AtomicU64,
    connections: AtomicU64,
}

impl Default for Metrics {
    fn default() -> Metrics {
        Metrics {
            by_route: (0..=Route::Other as usize)
                .map(|_| Arc::new(Series::default()))
                .collect(),
            series: Mutex::default(),
            accepted: Default::default(),
            model_loads: AtomicU64::default(),
            model_load_failures: AtomicU64::default(),
            connections: AtomicU64::default(),
        }
    }
}

impl Metrics {
    /// The series of a route without a campaign.
    pub fn route_series(&self, route: Route) -> &Series {
        &self.by_route[route as usize]
    }

    /// The series of a route and campaign (`""` for none), created on first use.
    pub fn series(&self, route: Route, campaign: &str) -> Arc<Series> {
        if campaign.is_empty() {
            return Arc::clone(&self.by_route[route as usize]);
        }
        let mut map = self.series.lock().unwrap_or_else(PoisonError::into_inner);
        if let Some(s) = map.get(&(route, Box::from(campaign))) {
            return Arc::clone(s);
        }
        let s = Arc::new(Series::default());
        map.insert((route, Box::from(campaign)), Arc::clone(&s));
        s
    }

    /// Counts records accepted by a Put* operation.
    pub fn accepted(&self, op: PutOp, records: usize) {
        self.accepted[op as usize].fetch_add(records as u64, Ordering::Relaxed);
    }

    /// Counts a model load (`ok` false for a failure).
    pub fn model_load(&self, ok: bool) {
        if ok {
            self.model_loads.fetch_add(1, Ordering::Relaxed);
        } else {
            self.model_load_failures.fetch_add(1, Ordering::Relaxed);
        }
    }

    /// Counts a connection opening (+1) or closing (-1).
    pub fn connection(&self, open: bool) {
        if open {
            self.connections.fetch_add(1, Ordering::Relaxed);
        } else {
            self.connections.fetch_sub(1, Ordering::Relaxed);
        }
    }

    /// The Prometheus text exposition.
    pub fn render(&self, gauges: &Gauges) -> String {
        let mut out = String::with_capacity(4096);
        let mut series: Vec<(SeriesKey, Arc<Series>)> = self
            .series
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .iter()
            .map(|(k, v)| (k.clone(), Arc::clone(v)))
            .collect();
        series.extend(
            ROUTES
                .iter()
                .map(|&r| ((r, Box::from("")), Arc::clone(&self.by_route[r as usize]))),
        );
        series.sort_by(|a, b| a.0.cmp(&b.0));
        let labels = |route: Route, campaign: &str| {
            if campaign.is_empty() {
                format!("route=\"{}\"", route.label())
            } else {
                format!(
                    "route=\"{}\",campaign=\"{}\"",
                    route.label(),
                    escape(campaign)
                )
            }
        };

        out.push_str("# HELP attune_http_requests_total HTTP requests served.\n");
        out.push_str("# TYPE attune_http_requests_total counter\n");
        for ((route, campaign), s) in &series {
            let _ = writeln!(
                out,
                "attune_http_requests_total{{{}}} {}",
                labels(*route, campaign),
                s.requests.load(Ordering::Relaxed)
            );
        }
        out.push_str("# HELP attune_http_errors_total HTTP requests answered with an error.\n");
        out.push_str("# TYPE attune_http_errors_total counter\n");
        for ((route, campaign), s) in &series {
            for (class, n) in [("4xx", &s.client_errors), ("5xx", &s.server_errors)] {
                let _ = writeln!(
                    out,
                    "attune_http_errors_total{{{},class=\"{class}\"}} {}",
                    labels(*route, campaign),
                    n.load(Ordering::Relaxed)
                );
            }
        }
        out.push_str(
            "# HELP attune_http_request_duration_seconds Time from the request to its response.\n",
        );
        out.push_str("# TYPE attune_http_request_duration_seconds histogram\n");
        for ((route, campaign), s) in &series {
            let l = labels(*route, campaign);
            let mut cumulative = 0;
            for (i, le) in BUCKETS.iter().enumerate() {
                cumulative += s.buckets[i].load(Ordering::Relaxed);
                let _ = writeln!(
                    out,
                    "attune_http_request_duration_seconds_bucket{{{l},le=\"{le}\"}} {cumulative}"
                );
            }
            cumulative += s.buckets[BUCKETS.len()].load(Ordering::Relaxed);
            let _ = writeln!(
                out,
                "attune_http_request_duration_seconds_bucket{{{l},le=\"+Inf\"}} {cumulative}"
            );
            let _ = writeln!(
                out,
                "attune_http_request_duration_seconds_sum{{{l}}} {}",
                s.sum_nanos.load(Ordering::Relaxed) as f64 / 1e9
            );
            let _ = writeln!(
                out,
                "attune_http_request_duration_seconds_count{{{l}}} {cumulative}"
            );
        }

        out.push_str(
            "# HELP attune_events_accepted_total Records accepted by PutEvents, PutItems and PutUsers.\n",
        );
        out.push_str("# TYPE attune_events_accepted_total counter\n");
        for (i, op) in ["PutEvents", "PutItems", "PutUsers"].iter().enumerate() {
            let _ = writeln!(
                out,
                "attune_events_accepted_total{{operation=\"{op}\"}} {}",
                self.accepted[i].load(Ordering::Relaxed)
            );
        }
        out.push_str("# HELP attune_model_loads_total Models loaded from the store.\n");
        out.push_str("# TYPE attune_model_loads_total counter\n");
        let _ = writeln!(
            out,
            "attune_model_loads_total {}",
            self.model_loads.load(Ordering::Relaxed)
        );
        out.push_str("# HELP attune_model_load_failures_total Models that failed to load.\n");
        out.push_str("# TYPE attune_model_load_failures_total counter\n");
        let _ = writeln!(
            out,
            "attune_model_load_failures_total {}",
            self.model_load_failures.load(Ordering::Relaxed)
        );
        out.push_str("# HELP attune_model_versions_loaded Distinct solution versions in memory.\n");
        out.push_str("# TYPE attune_model_versions_loaded gauge\n");
        let _ = writeln!(out, "attune_model_versions_loaded {}", gauges.models_loaded);
        out.push_str(
            "# HELP attune_campaign_model_info The solution version each live campaign serves.\n",
        );
        out.push_str("# TYPE attune_campaign_model_info gauge\n");
        for (campaign, version) in &gauges.campaigns {
            let _ = writeln!(
                out,
                "attune_campaign_model_info{{campaign=\"{}\",solution_version=\"{}\"}} 1",
                escape(campaign),
                escape(version)
            );
        }
        out.push_str(
            "# HELP attune_realtime_users Users and sessions with real-time events in memory.\n",
        );
        out.push_str("# TYPE attune_realtime_users gauge\n");
        for (group, n) in &gauges.realtime_users {
            let _ = writeln!(
                out,
                "attune_realtime_users{{dataset_group=\"{}\"}} {n}",
                escape(group)
            );
        }
        out.push_str("# HELP attune_http_connections Open HTTP connections.\n");
        out.push_str("# TYPE attune_http_connections gauge\n");
        let _ = writeln!(
            out,
            "attune_http_connections {}",
            self.connections.load(Ordering::Relaxed)
        );
        out
    }
}

/// Escapes a label value.
fn escape(v: &str) -> String {
    v.replace('\\', "\\\\")
        .replace('"', "\\\"")
        .replace('\n', "\\n")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn renders_counters_and_cumulative_histograms() {
        let m = Metrics::default();
        let s = m.series(Route::Ranking, "c1");
        s.observe(Duration::from_micros(300), 200);
        s.observe(Duration::from_millis(3), 400);
        m.series(Route::Events, "")
            .observe(Duration::from_secs(20), 500);
        assert!(Arc::ptr_eq(&s, &m.series(Route::Ranking, "c1")));
        m.accepted(PutOp::Events, 3);
        let text = m.render(&Gauges {
            campaigns: vec![("c1".into(), "arn:v\"1".into())],
            models_loaded: 1,
            realtime_users: vec![("g".into(), 2)],
        });
        for line in [
            "attune_http_requests_total{route=\"personalize-ranking\",campaign=\"c1\"} 2",
            "attune_http_errors_total{route=\"personalize-ranking\",campaign=\"c1\",class=\"4xx\"} 1",
            "attune_http_errors_total{route=\"events\",class=\"5xx\"} 1",
            "attune_http_request_duration_seconds_bucket{route=\"personalize-ranking\",campaign=\"c1\",le=\"0.0005\"} 1",
            "attune_http_request_duration_seconds_bucket{route=\"personalize-ranking\",campaign=\"c1\",le=\"0.005\"} 2",
            "attune_http_request_duration_seconds_bucket{route=\"events\",le=\"10\"} 0",
            "attune_http_request_duration_seconds_bucket{route=\"events\",le=\"+Inf\"} 1",
            "attune_events_accepted_total{operation=\"PutEvents\"} 3",
            "attune_model_versions_loaded 1",
            "attune_campaign_model_info{campaign=\"c1\",solution_version=\"arn:v\\\"1\"} 1",
            "attune_realtime_users{dataset_group=\"g\"} 2",
        ] {
            assert!(text.lines().any(|l| l == line), "missing {line}\n{text}");
        }
    }
}
