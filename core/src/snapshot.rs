//! What a scrape sees: every queue's windows, counters and live gauges at one instant (and,
//! when the per-agent export is on, every agent's live row), mergeable across the partitions
//! one instance owns.

use std::sync::Arc;

use crate::event::AgentState;
use crate::kpi::forecast::{forecast, Forecast};
use crate::kpi::{AgentTime, Cumulative, WindowAgg};
use crate::live::{merge_agents, AgentRow};
use crate::settings::QueueSettings;
use crate::time::{Millis, Span};

#[derive(Clone, Debug, Default)]
pub struct Snapshot {
    /// The evaluation instant `now`.
    pub at: Millis,
    /// Labels of the windows, in the order every queue's `windows` lists them.
    pub window_labels: Vec<String>,
    /// Sorted by queue name; shared, so a merge of partitions that each hold their own queues
    /// copies no queue.
    pub queues: Vec<Arc<QueueSnapshot>>,
    /// The forecast window (`engine.forecast_window`): where it stands in `window_labels` and
    /// its length; `None`: no forecast.
    pub forecast_window: Option<(usize, Span)>,
    /// The agents of the live view, by name, for the per-agent export (`[export] agents`);
    /// empty when it is off. Merged as the live view merges them: shown at `at` only.
    pub agents: Vec<AgentRow>,
}

#[derive(Clone, Debug)]
pub struct QueueSnapshot {
    pub name: String,
    pub settings: QueueSettings,
    pub windows: Vec<WindowAgg>,
    /// Everything final so far, for the cumulative counters and histograms.
    pub cumulative: Cumulative,
    pub waiting: i64,
    pub oldest_wait_ms: Millis,
    /// By `AgentState::EXPORTED`.
    pub agents: [i64; 4],
    /// Agent time by state, per window (same order as `windows`).
    pub agent_time: Vec<AgentTime>,
}

impl QueueSnapshot {
    /// Agents serving the queue now in `available`, `busy` or `wrapup`: the forecast's `n`.
    pub fn agents_serving(&self) -> i64 {
        AgentState::EXPORTED
            .iter()
            .zip(self.agents)
            .filter(|(s, _)| **s != AgentState::NotReady)
            .map(|(_, n)| n)
            .sum()
    }

    /// The forecast KPIs at `now` (docs/metrics.md) from the forecast window `window` (see
    /// [`Snapshot::forecast_window`]); `None` without one, or while it holds no offered or no
    /// completed leg. Computed from merged snapshots only: Erlang C does not add up.
    pub fn forecast(&self, window: Option<(usize, Span)>) -> Option<Forecast> {
        let (i, span) = window?;
        forecast(
            self.windows.get(i)?,
            span,
            self.agents_serving(),
            &self.settings,
        )
    }

    /// Whether the partition behind this snapshot holds anything of the queue: a count or
    /// duration in a window or final, a contact waiting, an agent serving it or agent time.
    /// Every partition exports the configured queues, most of them with nothing in them.
    pub fn has_data(&self) -> bool {
        self.waiting != 0
            || self.agents.iter().any(|&n| n != 0)
            || !self.cumulative.is_empty()
            || self.windows.iter().any(|w| !w.is_empty())
            || self.agent_time.iter().any(|t| *t != AgentTime::default())
    }

    fn merge(&mut self, other: &QueueSnapshot) {
        for (w, o) in self.windows.iter_mut().zip(&other.windows) {
            w.merge(o);
        }
        self.cumulative.merge(&other.cumulative);
        self.waiting += other.waiting;
        self.oldest_wait_ms = self.oldest_wait_ms.max(other.oldest_wait_ms);
        for (a, o) in self.agents.iter_mut().zip(other.agents) {
            *a += o;
        }
        for (t, o) in self.agent_time.iter_mut().zip(&other.agent_time) {
            t.merge(o);
        }
    }
}

impl Snapshot {
    /// Where the window labelled `label` ("5m", "interval", "today", ...) stands in every
    /// queue's `windows`.
    pub fn window_index(&self, label: &str) -> Option<usize> {
        self.window_labels.iter().position(|l| l == label)
    }

    /// Merges the snapshots of several partitions: a queue seen in more than one is summed
    /// (its oldest wait is the oldest of all); an agent seen in more than one is one row, as in
    /// [`crate::live::LiveView::merge`].
    pub fn merge<'a>(parts: impl IntoIterator<Item = &'a Snapshot>) -> Snapshot {
        let mut at = Millis::MIN;
        let mut labels = Vec::new();
        let mut forecast_window = None;
        let mut all: Vec<&Arc<QueueSnapshot>> = Vec::new();
        let mut agents = Vec::new();
        for part in parts {
            agents.push(part.agents.as_slice());
            at = at.max(part.at);
            if labels.is_empty() {
                labels.clone_from(&part.window_labels);
                forecast_window = part.forecast_window;
            }
            all.extend(&part.queues);
        }
        // stable: a queue's parts are summed in the order of the partitions
        all.sort_by(|a, b| a.name.cmp(&b.name));
        let mut queues: Vec<Arc<QueueSnapshot>> = Vec::with_capacity(all.len());
        for q in all {
            match queues.last_mut() {
                Some(last) if last.name == q.name => Arc::make_mut(last).merge(q),
                _ => queues.push(Arc::clone(q)),
            }
        }
        let agents = if agents.iter().all(|a| a.is_empty()) {
            Vec::new()
        } else {
            merge_agents(agents, at)
        };
        Snapshot {
            at,
            window_labels: labels,
            queues,
            forecast_window,
            agents,
        }
    }
}
