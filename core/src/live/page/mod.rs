//! The live API's pages, version 1: the query they take (`queue`, `order`, `limit`, `offset`)
//! and the JSON documents `/api/v1/agents` and `/api/v1/waiting` answer with, from a merged
//! [`LiveView`]. Pure: the HTTP shell gathers the view and writes the page out.
//!
//! Field names and meanings are stable like the metric names: a new field may be added, none
//! is renamed or removed within `version` 1.

use percent_encoding::percent_decode_str;
use serde::Serialize;

use crate::event::{AgentState, Channel};
use crate::settings::{LiveThresholds, Settings};
use crate::time::{format_rfc3339, Millis};

use super::{AgentRow, Conversation, LiveView};

/// The version the pages' `version` field names (also in their path).
pub const API_VERSION: u32 = 1;
/// Rows a page holds when `limit` is not given.
pub const DEFAULT_PAGE: usize = 500;
/// Rows a page holds at most, whatever `limit` asks (a page at 10,000 agents stays small).
pub const MAX_PAGE: usize = 1_000;

/// What a request asks for.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct PageQuery {
    /// Only this queue's agents (serving it, or on a conversation or wrap-up of it) or waiting
    /// contacts.
    pub queue: Option<String>,
    /// Agents by name (the default), or by state then longest in state first (`order=state`).
    pub by_state: bool,
    pub limit: usize,
    pub offset: usize,
    /// Waiting contacts: only the first this many of each queue (`per_queue=3`: the longest
    /// waiting of every queue on one page).
    pub per_queue: Option<usize>,
}

/// A query string the API does not understand.
#[derive(Debug, PartialEq, Eq, thiserror::Error)]
pub enum QueryError {
    #[error("unknown parameter {0:?}; one of queue, order, limit, offset, per_queue")]
    Parameter(String),
    #[error("{0} {1:?} is not a whole number")]
    Number(&'static str, String),
    #[error("order {0:?}: one of name, state")]
    Order(String),
}

impl PageQuery {
    /// Reads `queue=sales&order=state&limit=100&offset=200&per_queue=3` (percent-encoded, `+` for space).
    /// A `limit` above [`MAX_PAGE`] is held to it.
    pub fn parse(query: &str) -> Result<PageQuery, QueryError> {
        let mut q = PageQuery {
            queue: None,
            by_state: false,
            limit: DEFAULT_PAGE,
            offset: 0,
            per_queue: None,
        };
        for pair in query.split('&').filter(|p| !p.is_empty()) {
            let (key, value) = pair.split_once('=').unwrap_or((pair, ""));
            let value = percent_decode_str(&value.replace('+', " "))
                .decode_utf8_lossy()
                .into_owned();
            let number = |name| {
                value
                    .parse::<usize>()
                    .map_err(|_| QueryError::Number(name, value.clone()))
            };
            match key {
                "queue" => q.queue = Some(value.clone()),
                "order" => {
                    q.by_state = match value.as_str() {
                        "name" => false,
                        "state" => true,
                        _ => return Err(QueryError::Order(value)),
                    }
                }
                "limit" => q.limit = number("limit")?.min(MAX_PAGE),
                "offset" => q.offset = number("offset")?,
                "per_queue" => q.per_queue = Some(number("per_queue")?),
                _ => return Err(QueryError::Parameter(key.into())),
            }
        }
        Ok(q)
    }
}

/// `/api/v1/agents`.
#[derive(Debug, Serialize)]
pub struct AgentsPage<'a> {
    pub version: u32,
    /// The instant the view is read at (RFC 3339, and epoch ms).
    pub at: String,
    pub at_ms: Millis,
    pub queue: Option<&'a str>,
    /// The partitions (`topic/partition`) of this instance the view covers: with several
    /// instances in a group, each covers its own.
    pub partitions: &'a [String],
    /// Agents matching the query, over every page.
    pub total: usize,
    pub offset: usize,
    pub limit: usize,
    pub agents: Vec<AgentJson<'a>>,
    /// Per queue named on this page (and `default` for agents serving none): the thresholds
    /// behind each agent's `level`.
    pub thresholds: Vec<ThresholdsJson<'a>>,
}

#[derive(Debug, Serialize)]
pub struct AgentJson<'a> {
    pub agent: &'a str,
    /// `available`, `not_ready`, `busy`, `wrapup`, `logged_out`, or `unknown` (no
    /// `agent.state` event for it, only its contacts).
    pub state: &'static str,
    pub reason: Option<&'a str>,
    pub since_ms: Option<Millis>,
    pub seconds_in_state: Option<i64>,
    pub queues: &'a [String],
    pub conversation: Option<ConversationJson<'a>>,
    pub wrapup: Option<ConversationJson<'a>>,
    pub handled_today: Vec<HandledJson<'a>>,
    /// `ok`, `warn` or `alarm`: a not-ready, wrap-up or conversation longer than its queue's
    /// threshold.
    pub level: &'static str,
}

#[derive(Debug, Serialize)]
pub struct ConversationJson<'a> {
    pub queue: &'a str,
    pub channel: &'static str,
    pub since_ms: Millis,
    pub seconds: i64,
    pub on_hold: bool,
}

#[derive(Debug, Serialize)]
pub struct HandledJson<'a> {
    pub queue: &'a str,
    pub count: u64,
    pub handle_seconds_sum: f64,
    pub mean_handle_seconds: f64,
}

#[derive(Debug, Serialize)]
pub struct ThresholdsJson<'a> {
    pub queue: &'a str,
    pub not_ready_warn_seconds: i64,
    pub not_ready_alarm_seconds: i64,
    pub wrapup_warn_seconds: i64,
    pub wrapup_alarm_seconds: i64,
    pub talk_warn_seconds: i64,
    pub talk_alarm_seconds: i64,
}

/// `/api/v1/waiting`.
#[derive(Debug, Serialize)]
pub struct WaitingPage<'a> {
    pub version: u32,
    pub at: String,
    pub at_ms: Millis,
    pub queue: Option<&'a str>,
    pub partitions: &'a [String],
    pub total: usize,
    pub offset: usize,
    pub limit: usize,
    pub waiting: Vec<WaitingJson<'a>>,
}

#[derive(Debug, Serialize)]
pub struct WaitingJson<'a> {
    pub queue: &'a str,
    /// 1 for the contact waiting longest in its queue.
    pub position: usize,
    pub since_ms: Millis,
    pub wait_seconds: i64,
    pub channel: &'static str,
    pub priority: Option<i64>,
    /// As the platform wrote it; left out when `[http] show_contact_ids = false`.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub contact_id: Option<&'a str>,
}

pub fn channel_name(c: Channel) -> &'static str {
    match c {
        Channel::Voice => "voice",
        Channel::Chat => "chat",
        Channel::Email => "email",
        Channel::Callback => "callback",
    }
}

/// Where a state sorts in `order=state`: what needs a look first.
fn state_rank(a: &AgentRow) -> u8 {
    match a.state.as_ref().map(|s| s.state) {
        Some(AgentState::NotReady) => 0,
        Some(AgentState::Wrapup) => 1,
        Some(AgentState::Busy) => 2,
        Some(AgentState::Available) => 3,
        None => 4,
        Some(AgentState::LoggedOut) => 5,
    }
}

fn seconds(at: Millis, since: Millis) -> i64 {
    (at - since).max(0) / 1000
}

/// Whether the agent belongs to `queue`'s page.
fn in_queue(a: &AgentRow, queue: &str) -> bool {
    a.queues.iter().any(|q| q == queue)
        || a.conversation.as_ref().is_some_and(|c| c.queue == queue)
        || a.wrapup.as_ref().is_some_and(|c| c.queue == queue)
}

/// The strictest thresholds of the agent's queues (the defaults when it serves none).
fn thresholds_of(config: &Settings, queues: &[String]) -> LiveThresholds {
    let mut t = match queues.first() {
        Some(q) => config.queue(q).live,
        None => config.defaults.live,
    };
    for q in queues.iter().skip(1) {
        let o = config.queue(q).live;
        t.not_ready_warn = t.not_ready_warn.min(o.not_ready_warn);
        t.not_ready_alarm = t.not_ready_alarm.min(o.not_ready_alarm);
        t.wrapup_warn = t.wrapup_warn.min(o.wrapup_warn);
        t.wrapup_alarm = t.wrapup_alarm.min(o.wrapup_alarm);
        t.talk_warn = t.talk_warn.min(o.talk_warn);
        t.talk_alarm = t.talk_alarm.min(o.talk_alarm);
    }
    t
}

/// `ok`, `warn` or `alarm` for an agent at `at`.
fn level(config: &Settings, a: &AgentRow, at: Millis) -> &'static str {
    let grade = |since: Millis, warn: Millis, alarm: Millis| {
        let held = at - since;
        if held >= alarm {
            2
        } else if held >= warn {
            1
        } else {
            0
        }
    };
    let mut worst = 0;
    if let Some(s) = &a.state {
        let t = thresholds_of(config, &a.queues);
        match s.state {
            AgentState::NotReady => {
                worst = grade(
                    s.since,
                    t.not_ready_warn.millis(),
                    t.not_ready_alarm.millis(),
                )
            }
            AgentState::Wrapup if a.wrapup.is_none() => {
                worst = grade(s.since, t.wrapup_warn.millis(), t.wrapup_alarm.millis())
            }
            _ => {}
        }
    }
    if let Some(c) = &a.conversation {
        let t = config.queue(&c.queue).live;
        worst = worst.max(grade(c.since, t.talk_warn.millis(), t.talk_alarm.millis()));
    }
    if let Some(w) = &a.wrapup {
        let t = config.queue(&w.queue).live;
        worst = worst.max(grade(
            w.since,
            t.wrapup_warn.millis(),
            t.wrapup_alarm.millis(),
        ));
    }
    ["ok", "warn", "alarm"][worst]
}

fn conversation(c: &Conversation, at: Millis) -> ConversationJson<'_> {
    ConversationJson {
        queue: &c.queue,
        channel: channel_name(c.channel),
        since_ms: c.since,
        seconds: seconds(at, c.since),
        on_hold: c.on_hold,
    }
}

fn thresholds_json<'a>(queue: &'a str, t: &LiveThresholds) -> ThresholdsJson<'a> {
    let s = |span: crate::time::Span| span.millis() / 1000;
    ThresholdsJson {
        queue,
        not_ready_warn_seconds: s(t.not_ready_warn),
        not_ready_alarm_seconds: s(t.not_ready_alarm),
        wrapup_warn_seconds: s(t.wrapup_warn),
        wrapup_alarm_seconds: s(t.wrapup_alarm),
        talk_warn_seconds: s(t.talk_warn),
        talk_alarm_seconds: s(t.talk_alarm),
    }
}

/// One page of agents. Cost: O(a log a) for the a agents matching (sorting by state), plus the
/// page's rows.
pub fn agents_page<'a>(
    view: &'a LiveView,
    partitions: &'a [String],
    query: &'a PageQuery,
    config: &Settings,
) -> AgentsPage<'a> {
    let at = view.at;
    let mut rows: Vec<&AgentRow> = (view.agents.iter())
        .filter(|a| query.queue.as_deref().is_none_or(|q| in_queue(a, q)))
        .collect();
    if query.by_state {
        rows.sort_by_key(|a| {
            (
                state_rank(a),
                a.state.as_ref().map_or(Millis::MAX, |s| s.since),
            )
        });
    }
    let total = rows.len();
    let page: Vec<&AgentRow> = rows
        .into_iter()
        .skip(query.offset)
        .take(query.limit)
        .collect();
    let mut queues: Vec<&str> = vec!["default"];
    for a in &page {
        for q in a
            .queues
            .iter()
            .chain(a.conversation.iter().map(|c| &c.queue))
        {
            if !queues.contains(&q.as_str()) {
                queues.push(q);
            }
        }
    }
    let thresholds = (queues.iter())
        .map(|&q| {
            let t = if q == "default" {
                &config.defaults.live
            } else {
                &config.queue(q).live
            };
            thresholds_json(q, t)
        })
        .collect();
    let agents = (page.into_iter())
        .map(|a| AgentJson {
            agent: &a.agent,
            state: a.state.as_ref().map_or("unknown", |s| s.state.as_str()),
            reason: a.state.as_ref().and_then(|s| s.reason.as_deref()),
            since_ms: a.state.as_ref().map(|s| s.since),
            seconds_in_state: a.state.as_ref().map(|s| seconds(at, s.since)),
            queues: &a.queues,
            conversation: a.conversation.as_ref().map(|c| conversation(c, at)),
            wrapup: a.wrapup.as_ref().map(|c| conversation(c, at)),
            handled_today: (a.handled_today.iter())
                .map(|h| HandledJson {
                    queue: &h.queue,
                    count: h.count,
                    handle_seconds_sum: h.handle_ms as f64 / 1000.0,
                    mean_handle_seconds: if h.count == 0 {
                        0.0
                    } else {
                        h.handle_ms as f64 / 1000.0 / h.count as f64
                    },
                })
                .collect(),
            level: level(config, a, at),
        })
        .collect();
    AgentsPage {
        version: API_VERSION,
        at: format_rfc3339(at),
        at_ms: at,
        queue: query.queue.as_deref(),
        partitions,
        total,
        offset: query.offset,
        limit: query.limit,
        agents,
        thresholds,
    }
}

/// One page of waiting contacts, oldest first per queue; contact ids only when `show_ids`.
pub fn waiting_page<'a>(
    view: &'a LiveView,
    partitions: &'a [String],
    query: &'a PageQuery,
    show_ids: bool,
) -> WaitingPage<'a> {
    let at = view.at;
    let mut position = 0;
    let mut last_queue: Option<&str> = None;
    let rows = (view.waiting.iter())
        .map(|w| {
            if last_queue != Some(w.queue.as_str()) {
                last_queue = Some(&w.queue);
                position = 0;
            }
            position += 1;
            (position, w)
        })
        .filter(|(position, _)| query.per_queue.is_none_or(|n| *position <= n))
        .filter(|(_, w)| query.queue.as_deref().is_none_or(|q| w.queue == q));
    let rows: Vec<(usize, &super::WaitingRow)> = rows.collect();
    let total = rows.len();
    let waiting = (rows.into_iter().skip(query.offset).take(query.limit))
        .map(|(position, w)| WaitingJson {
            queue: &w.queue,
            position,
            since_ms: w.since,
            wait_seconds: seconds(at, w.since),
            channel: channel_name(w.channel),
            priority: w.priority,
            contact_id: show_ids.then_some(w.contact_id.as_str()),
        })
        .collect();
    WaitingPage {
        version: API_VERSION,
        at: format_rfc3339(at),
        at_ms: at,
        queue: query.queue.as_deref(),
        partitions,
        total,
        offset: query.offset,
        limit: query.limit,
        waiting,
    }
}

#[cfg(test)]
mod tests;
