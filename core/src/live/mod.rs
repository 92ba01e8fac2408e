//! The supervisor's live view: every agent's state, conversation and handled-today counts, and
//! every waiting contact, at one instant of event time — as one partition engine reads it out
//! ([`crate::engine::Engine::live_view`]) and as the views of several partitions merge into one.
//!
//! A view serializes as JSON so that an instance can hand its own to a peer instance, which
//! merges it with its own (a scaled-out group's whole view).
//!
//! It carries no personal data: agents by the name their platform gives them, contacts by the id
//! the platform wrote (a call id); never a customer id or caller number.

use std::collections::BTreeMap;

use serde::{Deserialize, Serialize};

use crate::event::{AgentState, Channel};
use crate::time::Millis;

pub mod page;

/// Logged-out agents stay in the view this long after logging out.
pub const LOGGED_OUT_SHOWN: Millis = 3_600_000;

/// The live view of one partition, or of several merged.
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
pub struct LiveView {
    /// The event-time instant the view is read at.
    pub at: Millis,
    /// By agent name.
    pub agents: Vec<AgentRow>,
    /// By queue name, then oldest first.
    pub waiting: Vec<WaitingRow>,
}

/// One agent as the view shows it.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct AgentRow {
    pub agent: String,
    /// From the agent's latest `agent.state` event (`None`: only its contacts are known here).
    pub state: Option<StateRow>,
    /// The queues the agent serves (from its latest queue list).
    pub queues: Vec<String>,
    /// The conversation it is on, if any.
    pub conversation: Option<Conversation>,
    /// A conversation ended whose wrap-up has not ended yet.
    pub wrapup: Option<Conversation>,
    /// Per queue, the contacts it completed today (in that queue's time zone).
    pub handled_today: Vec<HandledToday>,
}

/// An agent's state and since when (event time).
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct StateRow {
    pub state: AgentState,
    /// The not-ready reason code, as the platform wrote it.
    pub reason: Option<String>,
    /// When the agent entered this state (with this reason).
    pub since: Millis,
    /// The time of the latest `agent.state` event (decides between partitions).
    pub at: Millis,
}

/// A conversation (or its wrap-up) of an agent.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct Conversation {
    pub queue: String,
    pub channel: Channel,
    /// When it was answered (a conversation) or ended (a wrap-up).
    pub since: Millis,
    pub on_hold: bool,
}

/// Contacts an agent completed today in one queue.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct HandledToday {
    pub queue: String,
    pub count: u64,
    /// Sum of their handle times (talk + hold + wrap-up), ms.
    pub handle_ms: i64,
}

/// A contact waiting in a queue.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct WaitingRow {
    pub queue: String,
    /// When it started waiting in this queue.
    pub since: Millis,
    pub channel: Channel,
    pub priority: Option<i64>,
    /// As the platform wrote it.
    pub contact_id: String,
}

impl AgentRow {
    /// Whether the view shows it at `at`: logged in, logged out within [`LOGGED_OUT_SHOWN`], or
    /// (its state unknown: no `agent.state` event for it) on a conversation, in its wrap-up or
    /// with contacts handled today.
    pub fn shown_at(&self, at: Millis) -> bool {
        match &self.state {
            Some(s) if s.state == AgentState::LoggedOut => s.since >= at - LOGGED_OUT_SHOWN,
            Some(_) => true,
            None => {
                self.conversation.is_some()
                    || self.wrapup.is_some()
                    || !self.handled_today.is_empty()
            }
        }
    }
}

impl LiveView {
    /// One view of several partitions' views: an agent whose events sit in several partitions
    /// takes its state from the latest `agent.state`, its conversation and wrap-up from the
    /// latest begun, and the sum of its handled counts; waiting contacts are put together in
    /// queue order, oldest first. Agents the view does not show at the latest `at` are left out.
    pub fn merge<'a>(views: impl IntoIterator<Item = &'a LiveView>) -> LiveView {
        let mut at = Millis::MIN;
        let mut parts = Vec::new();
        let mut waiting = Vec::new();
        for v in views {
            at = at.max(v.at);
            waiting.extend(v.waiting.iter().cloned());
            parts.push(v.agents.as_slice());
        }
        if at == Millis::MIN {
            at = 0;
        }
        waiting.sort_by(|a, b| (&a.queue, a.since).cmp(&(&b.queue, b.since)));
        LiveView {
            at,
            agents: merge_agents(parts, at),
            waiting,
        }
    }
}

/// The agent rows of several partitions as one, by agent name (as [`LiveView::merge`] puts
/// them together), without the agents the view does not show at `at`.
pub fn merge_agents<'a>(
    parts: impl IntoIterator<Item = &'a [AgentRow]>,
    at: Millis,
) -> Vec<AgentRow> {
    let mut agents: BTreeMap<&str, AgentRow> = BTreeMap::new();
    for row in parts.into_iter().flatten() {
        match agents.get_mut(row.agent.as_str()) {
            Some(m) => merge_agent(m, row),
            None => {
                agents.insert(&row.agent, row.clone());
            }
        }
    }
    agents.into_values().filter(|a| a.shown_at(at)).collect()
}

fn merge_agent(m: &mut AgentRow, row: &AgentRow) {
    let later = |a: &Option<StateRow>| a.as_ref().map(|s| s.at);
    if later(&row.state) > later(&m.state) {
        m.state = row.state.clone();
        m.queues = row.queues.clone();
    }
    let since = |c: &Option<Conversation>| c.as_ref().map(|c| c.since);
    if since(&row.conversation) > since(&m.conversation) {
        m.conversation = row.conversation.clone();
    }
    if since(&row.wrapup) > since(&m.wrapup) {
        m.wrapup = row.wrapup.clone();
    }
    for h in &row.handled_today {
        match m.handled_today.iter_mut().find(|x| x.queue == h.queue) {
            Some(x) => {
                x.count += h.count;
                x.handle_ms += h.handle_ms;
            }
            None => m.handled_today.push(h.clone()),
        }
    }
    m.handled_today.sort_by(|a, b| a.queue.cmp(&b.queue));
}

#[cfg(test)]
mod tests {
    use super::*;

    fn row(agent: &str, state: Option<(AgentState, Millis)>) -> AgentRow {
        AgentRow {
            agent: agent.into(),
            state: state.map(|(state, at)| StateRow {
                state,
                reason: None,
                since: at,
                at,
            }),
            queues: vec!["sales".into()],
            conversation: None,
            wrapup: None,
            handled_today: vec![HandledToday {
                queue: "sales".into(),
                count: 1,
                handle_ms: 60_000,
            }],
        }
    }

    #[test]
    fn an_agent_in_two_partitions_is_one_row_with_the_latest_state_and_summed_counts() {
        let mut b = row("ann", None);
        b.conversation = Some(Conversation {
            queue: "sales".into(),
            channel: Channel::Voice,
            since: 500,
            on_hold: false,
        });
        let a = LiveView {
            at: 1_000,
            agents: vec![row("ann", Some((AgentState::Busy, 400)))],
            waiting: vec![],
        };
        let b = LiveView {
            at: 1_200,
            agents: vec![b],
            waiting: vec![],
        };
        let m = LiveView::merge([&a, &b]);
        assert_eq!(m.at, 1_200);
        assert_eq!(m.agents.len(), 1);
        let ann = &m.agents[0];
        assert_eq!(ann.state.as_ref().map(|s| s.state), Some(AgentState::Busy));
        assert_eq!(ann.conversation.as_ref().map(|c| c.since), Some(500));
        assert_eq!(ann.handled_today[0].count, 2);
        assert_eq!(ann.handled_today[0].handle_ms, 120_000);
    }

    #[test]
    fn waiting_contacts_of_several_partitions_are_oldest_first_per_queue() {
        let w = |queue: &str, since: Millis, id: &str| WaitingRow {
            queue: queue.into(),
            since,
            channel: Channel::Voice,
            priority: None,
            contact_id: id.into(),
        };
        let a = LiveView {
            at: 100,
            agents: vec![],
            waiting: vec![w("sales", 30, "c3"), w("support", 5, "c9")],
        };
        let b = LiveView {
            at: 100,
            agents: vec![],
            waiting: vec![w("sales", 10, "c1"), w("sales", 20, "c2")],
        };
        let ids: Vec<String> = LiveView::merge([&a, &b])
            .waiting
            .into_iter()
            .map(|w| w.contact_id)
            .collect();
        assert_eq!(ids, ["c1", "c2", "c3", "c9"]);
    }

    #[test]
    fn agents_logged_out_over_an_hour_ago_are_left_out() {
        let at = 10 * LOGGED_OUT_SHOWN;
        let v = LiveView {
            at,
            agents: vec![
                row(
                    "gone",
                    Some((AgentState::LoggedOut, at - LOGGED_OUT_SHOWN - 1)),
                ),
                row("left", Some((AgentState::LoggedOut, at - LOGGED_OUT_SHOWN))),
                row("idle", Some((AgentState::Available, 0))),
                AgentRow {
                    handled_today: vec![],
                    ..row("unknown", None)
                },
                row("worked", None),
            ],
            waiting: vec![],
        };
        let names: Vec<String> = LiveView::merge([&v])
            .agents
            .into_iter()
            .map(|a| a.agent)
            .collect();
        assert_eq!(names, ["idle", "left", "worked"]);
    }
}
