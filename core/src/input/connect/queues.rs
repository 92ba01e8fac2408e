//! Amazon Connect queue labels: the configured name (`queue_names`, keyed by queue id or by the
//! full queue ARN), else the name the records give (CTR `Queue.Name`, agent stream
//! `InboundQueues[].Name`), else the queue id — and once a queue has a label it keeps it while
//! the stream runs, so a name learned after a queue's first event never splits its series.
//!
//! What a stream learned is per partition, bounded, and kept in the checkpoint.

use std::collections::BTreeMap;
use std::fmt;

use super::json::{arn_id, is_agent_queue};
use crate::settings::{InputConfig, InputFormat};

/// Queues given a label at most per stream; past it a new queue is called by its id (stable
/// too: the id never changes) and not remembered.
const MAX_QUEUES: usize = 10_000;
/// The longest name taken from a record (an docs/events.md string); a longer one is not learned.
const MAX_NAME_CHARS: usize = 128;

/// A `queue_names` key that can match no Amazon Connect queue.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct UnmatchedMapping {
    pub key: String,
    pub why: &'static str,
}

impl fmt::Display for UnmatchedMapping {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(
            f,
            "queue_names key {:?} matches no queue: {}",
            self.key, self.why
        )
    }
}

/// The configured names by queue id, from keys that are queue ids or queue ARNs, and the keys
/// that can match no queue (an ARN of another resource or of an agent's own queue, a key that is
/// no queue id, a second key for a queue already named).
pub fn configured(
    names: &BTreeMap<String, String>,
) -> (BTreeMap<String, String>, Vec<UnmatchedMapping>) {
    let mut by_id: BTreeMap<String, String> = BTreeMap::new();
    let mut unmatched = Vec::new();
    let mut report = |key: &str, why: &'static str| {
        unmatched.push(UnmatchedMapping {
            key: key.to_owned(),
            why,
        })
    };
    for (key, name) in names {
        let k = key.trim();
        let id = if k.starts_with("arn:") {
            if is_agent_queue(k) {
                report(key, "an agent's own queue, which is no queue of the center");
                continue;
            }
            if !k.contains("/queue/") {
                report(key, "an ARN of something other than a queue");
                continue;
            }
            arn_id(k)
        } else {
            if !is_queue_id(k) {
                // still used: a center may have queues named by such ids in its test records
                report(
                    key,
                    "neither a queue id (a UUID, the end of the queue ARN) nor a queue ARN; \
                     a queue's own name needs no mapping",
                );
            }
            k
        };
        match by_id.get(id) {
            Some(other) if other != name => {
                report(key, "names a queue another key already names differently");
            }
            Some(_) => {}
            None => {
                by_id.insert(id.to_owned(), name.clone());
            }
        }
    }
    (by_id, unmatched)
}

/// The `queue_names` keys of the Amazon Connect inputs that can match no queue, one line each
/// (for `check-config` and the service's start).
pub fn unmatched(inputs: &[InputConfig]) -> Vec<String> {
    inputs
        .iter()
        .filter(|i| i.format == InputFormat::Connect)
        .flat_map(|i| {
            configured(&i.queue_names)
                .1
                .into_iter()
                .map(move |u| match i.topic.as_str() {
                    "" => u.to_string(),
                    topic => format!("input {topic:?}: {u}"),
                })
        })
        .collect()
}

/// Whether `s` is spelled like an Amazon Connect resource id: a UUID.
fn is_queue_id(s: &str) -> bool {
    let parts: Vec<&str> = s.split('-').collect();
    parts.len() == 5
        && parts
            .iter()
            .zip([8, 4, 4, 4, 12])
            .all(|(p, n)| p.len() == n && p.bytes().all(|b| b.is_ascii_hexdigit()))
}

/// What a queue ARN is called.
#[derive(Debug, PartialEq, Eq)]
pub enum Label {
    /// Its label.
    Is(String),
    /// An agent's own queue: no queue of the center.
    AgentQueue,
    /// Not named yet, and the stream waits for a name (a history read from a file).
    Unnamed(String),
}

/// One stream's queue labels.
#[derive(Debug, Default)]
pub struct Labels {
    /// Configured names by queue id.
    configured: BTreeMap<String, String>,
    /// Labels given to queues not configured, by queue id: a learned name or the id.
    given: BTreeMap<String, String>,
    /// A queue without a name waits for one instead of being called by its id.
    wait_for_names: bool,
}

impl Labels {
    pub fn new(names: &BTreeMap<String, String>, wait_for_names: bool) -> Self {
        Labels {
            configured: configured(names).0,
            given: BTreeMap::new(),
            wait_for_names,
        }
    }

    /// Takes the name a record gives a queue, unless the queue already has a label; returns
    /// whether the queue got its label from it.
    pub fn learn(&mut self, arn: &str, name: Option<&str>) -> bool {
        let Some(name) = name.filter(|n| n.chars().count() <= MAX_NAME_CHARS) else {
            return false;
        };
        if is_agent_queue(arn) {
            return false;
        }
        let id = arn_id(arn);
        if self.configured.contains_key(id)
            || self.given.contains_key(id)
            || self.given.len() >= MAX_QUEUES
        {
            return false;
        }
        self.given.insert(id.to_owned(), name.to_owned());
        true
    }

    /// The label of a queue ARN; a queue with no name yet is called by its id from now on,
    /// unless the stream waits for names.
    pub fn label(&mut self, arn: &str) -> Label {
        if is_agent_queue(arn) {
            return Label::AgentQueue;
        }
        let id = arn_id(arn);
        if let Some(name) = self.configured.get(id).or_else(|| self.given.get(id)) {
            return Label::Is(name.clone());
        }
        if self.wait_for_names {
            return Label::Unnamed(id.to_owned());
        }
        self.call_by_id(id);
        Label::Is(id.to_owned())
    }

    /// From now on the queue `id` is called by its id (no record named it).
    pub fn call_by_id(&mut self, id: &str) {
        if self.configured.contains_key(id) || self.given.contains_key(id) {
            return;
        }
        tracing::warn!(
            queue = id,
            "no Amazon Connect record named this queue before its first event: it keeps its id \
             as its label (a label never changes while running); name it in queue_names"
        );
        if self.given.len() < MAX_QUEUES {
            self.given.insert(id.to_owned(), id.to_owned());
        }
    }

    /// The labels given so far, for a checkpoint.
    pub fn given(&self) -> &BTreeMap<String, String> {
        &self.given
    }

    /// Takes back the labels of a checkpoint.
    pub fn restore(&mut self, given: BTreeMap<String, String>) {
        self.given = given;
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const ARN: &str =
        "arn:aws:connect:us-east-1:111122223333:instance/9b1f0c2e-1111-4222-8333-444455556666";
    const Q1: &str = "078ccbaa-ae69-4b3e-9f6e-0123456789ab";

    fn names(pairs: &[(&str, &str)]) -> BTreeMap<String, String> {
        pairs
            .iter()
            .map(|(k, v)| ((*k).to_owned(), (*v).to_owned()))
            .collect()
    }

    #[test]
    fn a_mapping_may_be_keyed_by_queue_id_or_by_full_arn() {
        let by_arn = format!("{ARN}/queue/{Q1}");
        for key in [Q1, by_arn.as_str()] {
            let (ids, unmatched) = configured(&names(&[(key, "Sales")]));
            assert_eq!(ids.get(Q1).map(String::as_str), Some("Sales"), "{key}");
            assert!(unmatched.is_empty(), "{unmatched:?}");
            let mut labels = Labels::new(&names(&[(key, "Sales")]), false);
            assert_eq!(labels.label(&by_arn), Label::Is("Sales".into()));
        }
    }

    #[test]
    fn mapping_keys_that_match_no_queue_are_reported() {
        let (_, unmatched) = configured(&names(&[
            (&format!("{ARN}/routing-profile/{Q1}"), "a"),
            (&format!("{ARN}/queue/agent/{Q1}"), "b"),
            ("BasicQueue", "c"),
            (Q1, "d"),
            (&format!("{ARN}/queue/{Q1}"), "e"),
        ]));
        let keys: Vec<&str> = unmatched.iter().map(|u| u.key.as_str()).collect();
        assert_eq!(unmatched.len(), 4, "{unmatched:?}");
        assert!(keys.contains(&"BasicQueue"));
        assert!(unmatched
            .iter()
            .any(|u| u.why.contains("other than a queue")));
        assert!(unmatched.iter().any(|u| u.why.contains("agent's own")));
        assert!(unmatched.iter().any(|u| u.why.contains("already names")));
    }

    #[test]
    fn a_queue_keeps_its_first_label_while_the_stream_runs() {
        let arn = format!("{ARN}/queue/{Q1}");
        let mut labels = Labels::new(&BTreeMap::new(), false);
        assert!(labels.learn(&arn, Some("Sales")));
        assert_eq!(labels.label(&arn), Label::Is("Sales".into()));
        // renamed in Connect while running: the label stays
        assert!(!labels.learn(&arn, Some("Sales EMEA")));
        assert_eq!(labels.label(&arn), Label::Is("Sales".into()));

        // called by its id before any name came: a name learned later changes nothing
        let other = format!("{ARN}/queue/5e2c8f6a-0d1b-4c3a-9e8f-00000000a002");
        assert_eq!(
            labels.label(&other),
            Label::Is("5e2c8f6a-0d1b-4c3a-9e8f-00000000a002".into())
        );
        assert!(!labels.learn(&other, Some("Support")));
        assert_eq!(
            labels.label(&other),
            Label::Is("5e2c8f6a-0d1b-4c3a-9e8f-00000000a002".into())
        );
    }

    #[test]
    fn a_configured_name_wins_over_a_learned_one_and_agent_queues_are_no_queues() {
        let arn = format!("{ARN}/queue/{Q1}");
        let mut labels = Labels::new(&names(&[(Q1, "sales")]), false);
        assert!(!labels.learn(&arn, Some("BasicQueue")));
        assert_eq!(labels.label(&arn), Label::Is("sales".into()));
        assert_eq!(
            labels.label(&format!("{ARN}/queue/agent/{Q1}")),
            Label::AgentQueue
        );
    }

    #[test]
    fn a_history_waits_for_a_name_instead_of_calling_the_queue_by_its_id() {
        let arn = format!("{ARN}/queue/{Q1}");
        let mut labels = Labels::new(&BTreeMap::new(), true);
        assert_eq!(labels.label(&arn), Label::Unnamed(Q1.into()));
        assert!(labels.learn(&arn, Some("Sales")));
        assert_eq!(labels.label(&arn), Label::Is("Sales".into()));
    }
}
