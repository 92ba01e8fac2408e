//! The opt-in per-agent families (`[export] agents`): each agent's current state and time in
//! it, and per agent and queue the contacts handled today and their handle time, for a Grafana
//! table. At most `max_agents_exported` agents, the first by name; the agents left out are
//! counted, so a capped table is never taken for the whole team.
//!
//! Series: per agent 1 state series and 1 time-in-state series (none while its state is
//! unknown), per agent and queue handled today 2, and 1 for the count left out.

use super::exposition::{close, Block, Piece, Value};
use super::{escape_label, Exposition};
use crate::live::{AgentRow, HandledToday};
use crate::settings::ExportConfig;
use crate::snapshot::Snapshot;
use crate::time::Millis;

/// The state label of an agent whose `agent.state` is not known here (only its contacts are).
const UNKNOWN: &str = "unknown";

type PerAgent = fn(&AgentRow, Millis) -> Option<Value>;
type PerQueue = fn(&HandledToday) -> Value;

/// Per-agent families: name, help, value (`None`: no sample). The state family also carries
/// the labels `state` and `reason`.
const PER_AGENT: [(&str, &str, PerAgent); 2] = [
    (
        "callpulse_agent_state",
        "1 for the agent's current state (from its latest agent.state event; \"unknown\" when only its contacts are known) with its not-ready reason (\"\" when none). Per-agent export, [export] agents.",
        |_, _| Some(Value::Int(1)),
    ),
    (
        "callpulse_agent_time_in_state_seconds",
        "Event time since the agent entered its current state (and reason). Per-agent export, [export] agents.",
        |a, at| {
            let since = a.state.as_ref()?.since;
            Some(Value::Decimal(at.saturating_sub(since).max(0), 3))
        },
    ),
];

/// Per agent and queue families (of the queues it handled a contact in today).
const PER_QUEUE: [(&str, &str, PerQueue); 2] = [
    (
        "callpulse_agent_handled_today",
        "Contacts the agent completed in the queue today, in the queue's time zone: a gauge, back to 0 at the queue's day start (absent until its first). Per-agent export, [export] agents.",
        |h| Value::Int(i64::try_from(h.count).unwrap_or(i64::MAX)),
    ),
    (
        "callpulse_agent_handle_time_today_seconds",
        "Sum of the handle times (talk + hold + wrap-up) of the contacts the agent completed in the queue today: a gauge, back to 0 at the queue's day start; divided by callpulse_agent_handled_today it is the agent's AHT today. Per-agent export, [export] agents.",
        |h| Value::Decimal(h.handle_ms, 3),
    ),
];

const LEFT_OUT: &str = "callpulse_agent_export_left_out";

/// Writes the per-agent families of `snap` when the profile asks for them; nothing otherwise.
pub fn render(snap: &Snapshot, profile: &ExportConfig, out: &mut Exposition) {
    if !profile.agents {
        return;
    }
    let shown = snap.agents.len().min(profile.max_agents_exported);
    let (agents, left_out) = snap.agents.split_at(shown);
    let blocks: Vec<Block> = (agents.iter())
        .map(|a| {
            let mut s = String::from("agent=\"");
            escape_label(&mut s, &a.agent);
            s.push('"');
            Block::new(&s)
        })
        .collect();
    let none = Piece::new("");
    for (k, (name, help, value)) in PER_AGENT.iter().enumerate() {
        out.family(name, "gauge", help);
        let head = Piece::new(name);
        for (a, b) in agents.iter().zip(&blocks) {
            let Some(v) = value(a, snap.at) else { continue };
            if k == 0 {
                out.line(&head, b, &state_labels(a), v);
            } else {
                out.line(&head, b, &none, v);
            }
        }
    }
    let queue_labels: Vec<Vec<Piece>> = (agents.iter())
        .map(|a| {
            (a.handled_today.iter())
                .map(|h| {
                    let mut s = String::from("queue=\"");
                    escape_label(&mut s, &h.queue);
                    s.push('"');
                    close(&s)
                })
                .collect()
        })
        .collect();
    for (name, help, value) in PER_QUEUE {
        out.family(name, "gauge", help);
        let head = Piece::new(name);
        for ((a, b), queues) in agents.iter().zip(&blocks).zip(&queue_labels) {
            for (h, q) in a.handled_today.iter().zip(queues) {
                out.line(&head, b, q, value(h));
            }
        }
    }
    out.family(
        LEFT_OUT,
        "gauge",
        "Agents the live view shows that the per-agent export leaves out: beyond [export] max_agents_exported, by agent name (0: the callpulse_agent_* series are every agent of this scrape).",
    );
    out.sample_int(LEFT_OUT, "", "", "", left_out.len() as i64);
}

/// `state="...",reason="..."` of an agent, closed.
fn state_labels(a: &AgentRow) -> Piece {
    let (state, reason) = match &a.state {
        Some(s) => (s.state.as_str(), s.reason.as_deref().unwrap_or("")),
        None => (UNKNOWN, ""),
    };
    let mut s = format!("state=\"{state}\",reason=\"");
    escape_label(&mut s, reason);
    s.push('"');
    close(&s)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::event::AgentState;
    use crate::live::StateRow;

    fn agent(name: &str, state: Option<(AgentState, Option<&str>, Millis)>) -> AgentRow {
        AgentRow {
            agent: name.into(),
            state: state.map(|(state, reason, since)| StateRow {
                state,
                reason: reason.map(Into::into),
                since,
                at: since,
            }),
            queues: vec!["sales".into()],
            conversation: None,
            wrapup: None,
            handled_today: Vec::new(),
        }
    }

    fn handled(queue: &str, count: u64, handle_ms: i64) -> HandledToday {
        HandledToday {
            queue: queue.into(),
            count,
            handle_ms,
        }
    }

    fn text(snap: &Snapshot, profile: &ExportConfig) -> String {
        let mut out = Exposition::new();
        render(snap, profile, &mut out);
        out.finish()
    }

    fn on(max: usize) -> ExportConfig {
        ExportConfig {
            agents: true,
            max_agents_exported: max,
            ..ExportConfig::default()
        }
    }

    fn samples(text: &str) -> Vec<&str> {
        text.lines().filter(|l| !l.starts_with('#')).collect()
    }

    fn snapshot() -> Snapshot {
        let mut ann = agent("ann", Some((AgentState::NotReady, Some("lunch"), 1_000)));
        ann.handled_today = vec![handled("sales", 3, 450_500), handled("support", 1, 60_000)];
        let mut bob = agent("bob", None);
        bob.handled_today = vec![handled("sales", 1, 90_000)];
        let cy = agent("cy\"x", Some((AgentState::Available, None, 96_000)));
        Snapshot {
            at: 100_000,
            agents: vec![ann, bob, cy],
            ..Snapshot::default()
        }
    }

    #[test]
    fn every_agent_has_its_state_time_in_state_and_handled_counts_per_queue() {
        let text = text(&snapshot(), &on(10));
        assert_eq!(
            samples(&text),
            [
                "callpulse_agent_state{agent=\"ann\",state=\"not_ready\",reason=\"lunch\"} 1",
                "callpulse_agent_state{agent=\"bob\",state=\"unknown\",reason=\"\"} 1",
                "callpulse_agent_state{agent=\"cy\\\"x\",state=\"available\",reason=\"\"} 1",
                "callpulse_agent_time_in_state_seconds{agent=\"ann\"} 99",
                "callpulse_agent_time_in_state_seconds{agent=\"cy\\\"x\"} 4",
                "callpulse_agent_handled_today{agent=\"ann\",queue=\"sales\"} 3",
                "callpulse_agent_handled_today{agent=\"ann\",queue=\"support\"} 1",
                "callpulse_agent_handled_today{agent=\"bob\",queue=\"sales\"} 1",
                "callpulse_agent_handle_time_today_seconds{agent=\"ann\",queue=\"sales\"} 450.5",
                "callpulse_agent_handle_time_today_seconds{agent=\"ann\",queue=\"support\"} 60",
                "callpulse_agent_handle_time_today_seconds{agent=\"bob\",queue=\"sales\"} 90",
                "callpulse_agent_export_left_out 0",
            ]
        );
        assert!(text.contains("# TYPE callpulse_agent_handled_today gauge\n"));
    }

    #[test]
    fn the_cap_keeps_the_first_agents_by_name_and_counts_the_rest() {
        let text = text(&snapshot(), &on(1));
        let s = samples(&text);
        assert!(s
            .iter()
            .all(|l| l.contains("agent=\"ann\"") || l.starts_with(LEFT_OUT)));
        assert_eq!(s.last(), Some(&"callpulse_agent_export_left_out 2"));
        assert_eq!(s.len(), 2 + 4 + 1);
    }

    #[test]
    fn off_by_default_nothing_is_written() {
        assert_eq!(text(&snapshot(), &ExportConfig::default()), "");
        // on, with no agent: the families and the count left out, no agent series
        let empty = text(&Snapshot::default(), &on(5));
        assert_eq!(samples(&empty), ["callpulse_agent_export_left_out 0"]);
    }
}
