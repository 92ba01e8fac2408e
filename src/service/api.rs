//! The live API over HTTP: `/api/v1/agents` and `/api/v1/waiting` (pages in `live/page/`).
//! A request asks every partition worker for its live view between two batches, as a scrape
//! asks for snapshots, and every peer of `[http] peers` for its own (`/api/v1/local`, served
//! here too: this instance's partitions only, whole, never asking further); requests arriving
//! together share one gather, and a worker or a peer that does not answer refuses the request
//! (503) rather than showing the view without its partitions. The routes sit behind the same
//! TLS and basic auth as `/metrics` (the router's auth layer).

use std::sync::Arc;

use axum::extract::{RawQuery, State};
use axum::http::{header, HeaderValue, StatusCode};
use axum::response::{Html, IntoResponse, Response};
use axum::routing::get;
use axum::Router;
use tokio::sync::oneshot;

use crate::live::page::{agents_page, waiting_page, PageQuery};
use crate::live::LiveView;

use super::peers::{LocalView, PeerError, Peers, LOCAL_PATH};
use super::scrape::{Incomplete, SharedGather};
use super::state::{ServiceState, SCRAPE_WAIT};

/// The agents view of the wallboard (`/agents`), reading `/api/v1/agents`.
pub const AGENTS_PAGE: &str = include_str!("agents.html");

/// The live view of this instance's partitions (and its peers'), merged, and the partitions it
/// covers.
#[derive(Debug)]
pub struct LiveGathered {
    pub view: LiveView,
    /// `topic/partition`, in order.
    pub partitions: Vec<String>,
}

/// What the live routes share.
pub struct Api {
    state: Arc<ServiceState>,
    peers: Arc<Peers>,
    /// The whole view (this instance's and its peers').
    share: SharedGather<LiveGathered>,
    /// This instance's own, for its peers.
    local: SharedGather<LiveGathered>,
}

/// The live API's routes (merged into the service's router before its auth layer).
pub fn routes(state: Arc<ServiceState>) -> Result<Router, PeerError> {
    let peers = Arc::new(Peers::of(&state.config().http)?);
    let api = Arc::new(Api {
        state,
        peers,
        share: SharedGather::default(),
        local: SharedGather::default(),
    });
    Ok(Router::new()
        .route("/api/v1/agents", get(agents))
        .route("/api/v1/waiting", get(waiting))
        .route(LOCAL_PATH, get(local))
        .route("/agents", get(|| async { Html(AGENTS_PAGE) }))
        .with_state(api))
}

impl Api {
    /// The live view of every partition of this instance and of its peers, merged; shared by
    /// the requests that arrive while it is gathered.
    pub async fn gather(&self) -> Result<Arc<LiveGathered>, Incomplete> {
        if self.peers.is_empty() {
            return self.share.get(|| gather_now(&self.state)).await.0;
        }
        self.share
            .get(|| gather_with_peers(&self.state, &self.peers))
            .await
            .0
    }
}

/// This instance's view and every peer's, merged: refused when a partition here or a peer
/// does not answer (naming them all).
pub async fn gather_with_peers(
    state: &ServiceState,
    peers: &Arc<Peers>,
) -> Result<LiveGathered, Incomplete> {
    let (own, theirs) = tokio::join!(gather_now(state), peers.gather());
    match (own, theirs) {
        (Ok(own), Ok(theirs)) => Ok(merge_peers(own, theirs)),
        (own, theirs) => Err(Incomplete {
            missing: own.err().map(|e| e.missing).unwrap_or_default(),
            peers: theirs.err().unwrap_or_default(),
        }),
    }
}

/// This instance's view with its peers' (an agent in several instances is one row, as across
/// partitions); the partitions of all, each once, in order.
pub fn merge_peers(own: LiveGathered, peers: Vec<LocalView>) -> LiveGathered {
    let view = LiveView::merge(std::iter::once(&own.view).chain(peers.iter().map(|p| &p.view)));
    let mut partitions = own.partitions;
    partitions.extend(peers.into_iter().flat_map(|p| p.partitions));
    partitions.sort_by(|a, b| partition_order(a).cmp(&partition_order(b)));
    partitions.dedup();
    LiveGathered { view, partitions }
}

/// `topic/partition` ordered by topic, then partition number.
fn partition_order(name: &str) -> (&str, i64) {
    match name.rsplit_once('/') {
        Some((topic, p)) => (topic, p.parse().unwrap_or(i64::MAX)),
        None => (name, i64::MAX),
    }
}

/// Asks each partition worker for its live view; [`Incomplete`] when one does not answer
/// within [`SCRAPE_WAIT`].
pub async fn gather_now(state: &ServiceState) -> Result<LiveGathered, Incomplete> {
    let now = state.now();
    let views = state.views();
    let mut replies = Vec::with_capacity(views.len());
    let mut missing = Vec::new();
    for (key, v) in &views {
        let Some(tx) = &v.live else { continue };
        let (reply, answer) = oneshot::channel();
        match tx.try_send(reply) {
            Ok(()) => replies.push((key, answer)),
            Err(_) => missing.push(key.clone()),
        }
    }
    let deadline = tokio::time::Instant::now() + SCRAPE_WAIT;
    let mut parts = Vec::with_capacity(replies.len());
    for (key, answer) in replies {
        match tokio::time::timeout_at(deadline, answer).await {
            Ok(Ok(view)) => parts.push((key, view)),
            _ => missing.push(key.clone()),
        }
    }
    if !missing.is_empty() {
        missing.sort();
        return Err(Incomplete {
            missing,
            ..Incomplete::default()
        });
    }
    // an instance with no partition assigned still answers at its clock's instant
    let empty = LiveView {
        at: now,
        ..LiveView::default()
    };
    let views = parts.iter().map(|(_, v)| &**v);
    Ok(LiveGathered {
        view: LiveView::merge(std::iter::once(&empty).chain(views)),
        partitions: parts.iter().map(|((t, p), _)| format!("{t}/{p}")).collect(),
    })
}

fn json(body: Result<Vec<u8>, serde_json::Error>) -> Response {
    match body {
        Ok(bytes) => {
            let ct = HeaderValue::from_static("application/json");
            ([(header::CONTENT_TYPE, ct)], bytes).into_response()
        }
        Err(e) => (StatusCode::INTERNAL_SERVER_ERROR, format!("{e}\n")).into_response(),
    }
}

/// The query and the gathered view, or the response refusing the request.
async fn prepare(
    api: &Api,
    query: Option<String>,
) -> Result<(PageQuery, Arc<LiveGathered>), Response> {
    let query = PageQuery::parse(query.as_deref().unwrap_or(""))
        .map_err(|e| (StatusCode::BAD_REQUEST, format!("{e}\n")).into_response())?;
    let view = api
        .gather()
        .await
        .map_err(|e| (StatusCode::SERVICE_UNAVAILABLE, format!("{e}\n")).into_response())?;
    Ok((query, view))
}

/// This instance's own partitions' view, whole, for a peer to merge (contact ids left empty
/// when `[http] show_contact_ids = false`: a peer shows no more than this instance would).
async fn local(State(api): State<Arc<Api>>) -> Response {
    let gathered = api.local.get(|| gather_now(&api.state)).await.0;
    match gathered {
        Ok(g) => {
            let mut view = g.view.clone();
            if !api.state.config().http.show_contact_ids {
                view.waiting.iter_mut().for_each(|w| w.contact_id.clear());
            }
            json(serde_json::to_vec(&LocalView {
                version: crate::live::page::API_VERSION,
                partitions: g.partitions.clone(),
                view,
            }))
        }
        Err(e) => (StatusCode::SERVICE_UNAVAILABLE, format!("{e}\n")).into_response(),
    }
}

async fn agents(State(api): State<Arc<Api>>, RawQuery(query): RawQuery) -> Response {
    match prepare(&api, query).await {
        Ok((query, g)) => {
            let config = api.state.config();
            let page = agents_page(&g.view, &g.partitions, &query, &config.center);
            json(serde_json::to_vec(&page))
        }
        Err(refused) => refused,
    }
}

async fn waiting(State(api): State<Arc<Api>>, RawQuery(query): RawQuery) -> Response {
    match prepare(&api, query).await {
        Ok((query, g)) => {
            let show = api.state.config().http.show_contact_ids;
            json(serde_json::to_vec(&waiting_page(
                &g.view,
                &g.partitions,
                &query,
                show,
            )))
        }
        Err(refused) => refused,
    }
}

#[cfg(test)]
mod tests {
    use tokio::sync::mpsc;

    use super::*;
    use crate::config::Config;
    use crate::live::AgentRow;
    use crate::service::state::{LiveRequest, PartView};

    fn state() -> Arc<ServiceState> {
        ServiceState::new(Arc::new(Config::parse("").unwrap()))
    }

    /// A partition whose worker answers every ask with a view of one agent.
    fn answering(state: &ServiceState, partition: i32, agent: &str) {
        let (tx, mut rx) = mpsc::channel::<LiveRequest>(4);
        let view = LiveView {
            at: 1_000,
            agents: vec![AgentRow {
                agent: agent.into(),
                state: None,
                queues: vec![],
                conversation: None,
                wrapup: None,
                handled_today: vec![crate::live::HandledToday {
                    queue: "sales".into(),
                    count: 1,
                    handle_ms: 1,
                }],
            }],
            waiting: vec![],
        };
        tokio::spawn(async move {
            while let Some(reply) = rx.recv().await {
                let _ = reply.send(Arc::new(view.clone()));
            }
        });
        let part = PartView {
            live: Some(tx),
            ..PartView::default()
        };
        state.publish(("events".into(), partition), part);
    }

    #[tokio::test(start_paused = true)]
    async fn the_view_gathers_every_partition() {
        let state = state();
        answering(&state, 0, "ann");
        answering(&state, 1, "bob");
        let g = gather_now(&state).await.unwrap();
        let names: Vec<&str> = g.view.agents.iter().map(|a| a.agent.as_str()).collect();
        assert_eq!(names, ["ann", "bob"]);
        assert_eq!(g.partitions, ["events/0", "events/1"]);
    }

    #[tokio::test(start_paused = true)]
    async fn a_partition_that_does_not_answer_refuses_the_view_rather_than_leaving_it_out() {
        let state = state();
        answering(&state, 0, "ann");
        let (tx, _never_answered) = mpsc::channel::<LiveRequest>(4);
        let part = PartView {
            live: Some(tx),
            ..PartView::default()
        };
        state.publish(("events".into(), 1), part);
        let refused = gather_now(&state).await.unwrap_err();
        assert_eq!(refused.missing, vec![("events".to_string(), 1)]);
    }

    fn local(partition: &str, agent: &str, count: u64) -> LocalView {
        LocalView {
            version: 1,
            partitions: vec![partition.into()],
            view: LiveView {
                at: 2_000,
                agents: vec![AgentRow {
                    agent: agent.into(),
                    state: None,
                    queues: vec![],
                    conversation: None,
                    wrapup: None,
                    handled_today: vec![crate::live::HandledToday {
                        queue: "sales".into(),
                        count,
                        handle_ms: 1,
                    }],
                }],
                waiting: vec![],
            },
        }
    }

    #[test]
    fn peers_views_merge_like_partitions_and_name_every_partition_once() {
        let own = LocalView {
            partitions: vec!["events/2".into(), "events/10".into()],
            ..local("", "ann", 1)
        };
        let own = LiveGathered {
            view: own.view,
            partitions: own.partitions,
        };
        let g = merge_peers(
            own,
            vec![local("events/1", "ann", 2), local("events/3", "bob", 1)],
        );
        assert_eq!(
            g.partitions,
            ["events/1", "events/2", "events/3", "events/10"]
        );
        let rows: Vec<(&str, u64)> = g
            .view
            .agents
            .iter()
            .map(|a| (a.agent.as_str(), a.handled_today[0].count))
            .collect();
        assert_eq!(rows, [("ann", 3), ("bob", 1)]);
    }

    #[tokio::test]
    async fn a_peer_that_does_not_answer_refuses_the_whole_view() {
        let state = state();
        answering(&state, 0, "ann");
        let silent = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        let url = format!("http://{}", silent.local_addr().unwrap());
        let http = crate::config::HttpConfig {
            peers: vec![url.clone()],
            peer_timeout: crate::time::Span::from_millis(200),
            ..Default::default()
        };
        let peers = Arc::new(Peers::of(&http).unwrap());
        let refused = gather_with_peers(&state, &peers).await.unwrap_err();
        drop(silent);
        assert_eq!(refused.peers, [url]);
        assert!(refused.missing.is_empty());
        assert!(refused.to_string().contains("did not hand over their view"));
    }
}
