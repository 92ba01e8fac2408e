//! The workforce KPIs of docs/metrics.md: agent time by state in a window
//! (`callcenter_agent_seconds`) and occupancy (`callcenter_occupancy_ratio`).
//!
//! Agent time is integer milliseconds, so partitions sum exactly and no result depends on the
//! order events arrived in; seconds and the ratio are derived only when exported.

use crate::event::AgentState;

/// Agent-milliseconds one window of one queue holds, by state in `AgentState::EXPORTED` order
/// (logged-out time counts nowhere).
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
pub struct AgentTime(pub [i64; 4]);

impl AgentTime {
    /// Agent-milliseconds in `state` (0 for `logged_out`).
    pub fn millis(&self, state: AgentState) -> i64 {
        AgentState::EXPORTED
            .iter()
            .position(|s| *s == state)
            .map_or(0, |i| self.0[i])
    }

    /// Agent-seconds in `state`.
    pub fn seconds(&self, state: AgentState) -> f64 {
        self.millis(state) as f64 / 1000.0
    }

    /// (busy + wrapup) / (available + busy + wrapup); `None` when no agent was available,
    /// busy or in wrap-up in the window (`not_ready` counts on neither side).
    pub fn occupancy(&self) -> Option<f64> {
        let occupied = self.millis(AgentState::Busy) + self.millis(AgentState::Wrapup);
        let staffed = occupied + self.millis(AgentState::Available);
        (staffed > 0).then(|| occupied as f64 / staffed as f64)
    }

    /// Adds another partition's agent time of the same queue and window.
    pub fn merge(&mut self, other: &AgentTime) {
        for (a, o) in self.0.iter_mut().zip(other.0) {
            *a += o;
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn occupancy_leaves_out_not_ready_and_hides_an_empty_denominator() {
        // available, not_ready, busy, wrapup
        let t = AgentTime([30_000, 500_000, 60_000, 10_000]);
        assert_eq!(t.occupancy(), Some(0.7));
        assert_eq!(t.seconds(AgentState::NotReady), 500.0);
        assert_eq!(t.millis(AgentState::LoggedOut), 0);
        assert_eq!(AgentTime([0, 900_000, 0, 0]).occupancy(), None);
        assert_eq!(AgentTime::default().occupancy(), None);
        let mut m = t;
        m.merge(&AgentTime([1, 2, 3, 4]));
        assert_eq!(m, AgentTime([30_001, 500_002, 60_003, 10_004]));
    }
}
