//! What an engine holds in memory, structure by structure: every one is bounded (by a horizon
//! in event time, a window, or a configured capacity); the service exports the counts so a long
//! run can show they stay flat.

use super::Engine;

/// Entries held by each bounded structure of one engine.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct Held {
    /// Contacts in memory (open, or finished but not yet final).
    pub open_contacts: usize,
    /// Entries in the expiry queue (bounded by the contacts in memory).
    pub expiry_entries: usize,
    /// KPI facts and agent-count changes held by the windows and the not-yet-final.
    pub facts: usize,
    /// Agents known (logged in, or logged out but not yet forgotten).
    pub agents: usize,
    /// Customer histories (customer × queue).
    pub customers: usize,
    /// Event ids remembered for de-duplication (`dedup_horizon`, `dedup_capacity`).
    pub dedup_ids: usize,
    /// Finished contacts remembered for their late events and surveys (`survey_horizon`).
    pub finished_contacts: usize,
}

impl Engine {
    /// What this engine holds, structure by structure.
    pub fn held(&self) -> Held {
        Held {
            open_contacts: self.open_contacts,
            expiry_entries: self.expiry.len(),
            facts: self.facts_held(),
            agents: self.agents.len(),
            customers: self.customers.len(),
            dedup_ids: self.dedup.len(),
            finished_contacts: self.finished.len(),
        }
    }
}
