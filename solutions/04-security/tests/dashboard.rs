//! The Grafana dashboard shipped with the lab (`labs/04-security/grafana/chat-dashboard.json`)
//! asks only for metrics the server exposes: every `socket_io_*` name in its queries is a family
//! of `/metrics` (a histogram's `_bucket` included), on a server in a cluster so the adapter's
//! families are there too. A renamed metric fails here, not silently on a dashboard.

use std::collections::BTreeSet;
use std::net::SocketAddr;
use std::path::Path;

use serde_json::Value;

const PAGE: &str = "book/src/04-security/monitoring.md";

fn dashboard() -> Value {
    let path = Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("../../labs/04-security/grafana/chat-dashboard.json");
    let text = std::fs::read_to_string(&path)
        .unwrap_or_else(|e| panic!("reading {}: {e}", path.display()));
    serde_json::from_str(&text).unwrap_or_else(|e| panic!("{} is not JSON: {e}", path.display()))
}

/// Every query of every panel.
pub fn queries(dashboard: &Value) -> Vec<String> {
    dashboard["panels"]
        .as_array()
        .expect("panels")
        .iter()
        .flat_map(|panel| panel["targets"].as_array().cloned().unwrap_or_default())
        .filter_map(|target| target["expr"].as_str().map(str::to_owned))
        .collect()
}

/// The `socket_io_*` names a query uses.
fn metric_names(query: &str) -> Vec<String> {
    let mut names = Vec::new();
    let mut rest = query;
    while let Some(start) = rest.find("socket_io_") {
        let tail = &rest[start..];
        let end = tail
            .find(|c: char| !(c.is_ascii_alphanumeric() || c == '_'))
            .unwrap_or(tail.len());
        names.push(tail[..end].to_owned());
        rest = &tail[end..];
    }
    names
}

#[tokio::test]
async fn every_metric_the_dashboard_queries_is_exposed() {
    let redis = kit::redis::start_redis()
        .await
        .unwrap_or_else(|e| panic!("the adapter's metrics need a real Redis: {e}"));
    let settings = security::Settings {
        redis: Some(redis.client()),
        key: format!("dash-{}", security::random_id()),
        ..security::Settings::default()
    };
    let server = security::start(settings).await.expect("the server starts");
    let router = server.router.clone();
    let http = kit::TestServer::start_with(|listener| async move {
        let app = router.into_make_service_with_connect_info::<SocketAddr>();
        axum::serve(listener, app).await.expect("serving");
    })
    .await;
    let page = kit::within(
        std::time::Duration::from_secs(5),
        reqwest::get(http.url("/metrics")),
        "/metrics",
    )
    .await
    .expect("an answer")
    .text()
    .await
    .expect("a body");
    let families: BTreeSet<&str> = page
        .lines()
        .filter_map(|line| line.strip_prefix("# TYPE "))
        .filter_map(|rest| rest.split_whitespace().next())
        .collect();
    let queries = queries(&dashboard());
    assert!(
        queries.len() >= 10,
        "the dashboard has its panels: {queries:?}"
    );
    for query in &queries {
        for name in metric_names(query) {
            let family = ["_bucket", "_sum", "_count"]
                .iter()
                .find_map(|suffix| name.strip_suffix(suffix))
                .filter(|base| families.contains(base))
                .unwrap_or(&name);
            assert!(
                families.contains(family),
                "the dashboard queries `{name}` ({query}), which /metrics does not expose; it \
                 has {families:?} (see {PAGE})"
            );
        }
    }
}
