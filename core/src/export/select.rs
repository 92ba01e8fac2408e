//! Scrape-time selection of `/metrics`, like node_exporter's `collect[]`: `?queue=` (several
//! allowed), `?window=`, `?family=` and `?shard=i/n` (the queues whose name hashes to `i` of
//! `n`), so a wallboard or a second scrape job takes a slice, and one instance's series can be
//! spread over several scrape jobs.

use std::hash::{DefaultHasher, Hash, Hasher};

use percent_encoding::percent_decode_str;

use crate::snapshot::Snapshot;

/// What a scrape asks for; empty lists select everything.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct Selection {
    pub queues: Vec<String>,
    pub windows: Vec<String>,
    pub families: Vec<String>,
    /// `(i, n)`: the queues whose name hashes to `i` modulo `n`.
    pub shard: Option<(u64, u64)>,
}

/// A query string `/metrics` does not understand.
#[derive(Debug, PartialEq, Eq, thiserror::Error)]
pub enum SelectionError {
    #[error("shard {0:?}: write it i/n with 0 <= i < n")]
    Shard(String),
    #[error("unknown parameter {0:?}; one of queue, window, family, shard")]
    Parameter(String),
}

impl Selection {
    /// Reads `queue=a&queue=b&window=15m&family=...&shard=0/2` (percent-encoded, `+` for space).
    pub fn parse(query: &str) -> Result<Selection, SelectionError> {
        let mut s = Selection::default();
        for pair in query.split('&').filter(|p| !p.is_empty()) {
            let (key, value) = pair.split_once('=').unwrap_or((pair, ""));
            let value = percent_decode_str(&value.replace('+', " "))
                .decode_utf8_lossy()
                .into_owned();
            match key {
                "queue" => s.queues.push(value),
                "window" => s.windows.push(value),
                "family" => s.families.push(value),
                "shard" => s.shard = Some(shard(&value)?),
                _ => return Err(SelectionError::Parameter(key.into())),
            }
        }
        Ok(s)
    }

    /// Whether `queue` is selected by `?queue=` and `?shard=`.
    pub fn has_queue(&self, queue: &str) -> bool {
        (self.queues.is_empty() || self.queues.iter().any(|q| q == queue))
            && self.shard.is_none_or(|(i, n)| shard_of(queue, n) == i)
    }

    /// Whether it keeps only some queues or windows (else a snapshot is rendered whole).
    pub fn selects_queues_or_windows(&self) -> bool {
        !self.queues.is_empty() || !self.windows.is_empty() || self.shard.is_some()
    }

    /// Whether the service's own metrics go out: in every scrape but those of shards other
    /// than the first (a split scrape counts them once).
    pub fn self_metrics(&self) -> bool {
        self.shard.is_none_or(|(i, _)| i == 0)
    }

    /// Whether the agent named `agent` goes out under `?shard=` (its name's shard: an agent's
    /// series are never split over scrape jobs).
    pub fn has_agent(&self, agent: &str) -> bool {
        self.shard.is_none_or(|(i, n)| shard_of(agent, n) == i)
    }

    /// Keeps the selected queues and windows of `snap`. A forecast whose window is left out is
    /// left out too. Under `?queue=` an agent stays when it serves or handled today a queue
    /// selected, with the handled counts of those queues only; under `?shard=` the agents of
    /// the shard stay.
    pub fn apply(&self, snap: &mut Snapshot) {
        snap.queues.retain(|q| self.has_queue(&q.name));
        let queues = &self.queues;
        let picked = |q: &String| queues.iter().any(|s| s == q);
        snap.agents.retain_mut(|a| {
            if !self.has_agent(&a.agent) {
                return false;
            }
            if queues.is_empty() {
                return true;
            }
            let serves = a.queues.iter().any(picked);
            a.handled_today.retain(|h| picked(&h.queue));
            serves || !a.handled_today.is_empty()
        });
        if self.windows.is_empty() {
            return;
        }
        let keep: Vec<bool> = snap
            .window_labels
            .iter()
            .map(|w| self.windows.iter().any(|s| s == w))
            .collect();
        let kept = |i: usize| keep[..i].iter().filter(|k| **k).count();
        snap.forecast_window = snap
            .forecast_window
            .filter(|(i, _)| keep.get(*i).copied().unwrap_or(false))
            .map(|(i, span)| (kept(i), span));
        retain_by(&mut snap.window_labels, &keep);
        for q in &mut snap.queues {
            let q = std::sync::Arc::make_mut(q);
            retain_by(&mut q.windows, &keep);
            retain_by(&mut q.agent_time, &keep);
        }
    }
}

/// Keeps the items whose place is marked in `keep`.
fn retain_by<T>(items: &mut Vec<T>, keep: &[bool]) {
    let mut k = keep.iter();
    items.retain(|_| k.next().copied().unwrap_or(false));
}

fn shard(text: &str) -> Result<(u64, u64), SelectionError> {
    let bad = || SelectionError::Shard(text.into());
    let (i, n) = text.split_once('/').ok_or_else(bad)?;
    let (i, n): (u64, u64) = (i.parse().map_err(|_| bad())?, n.parse().map_err(|_| bad())?);
    if n == 0 || i >= n {
        return Err(bad());
    }
    Ok((i, n))
}

/// The shard of a queue among `n`: a stable hash of its name (SipHash with fixed keys, the
/// same in every process and version of this build), so scrape jobs split the queues the same
/// way on every instance.
pub fn shard_of(queue: &str, n: u64) -> u64 {
    let mut h = DefaultHasher::new();
    queue.hash(&mut h);
    h.finish() % n
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_query_reads_every_parameter_and_refuses_the_unknown() {
        let s = Selection::parse(
            "queue=sales&queue=care%20line&window=15m&family=callcenter_agents&shard=1/3",
        )
        .unwrap();
        assert_eq!(s.queues, ["sales", "care line"]);
        assert_eq!(s.windows, ["15m"]);
        assert_eq!(s.families, ["callcenter_agents"]);
        assert_eq!(s.shard, Some((1, 3)));
        assert!(!s.self_metrics());
        assert_eq!(Selection::parse(""), Ok(Selection::default()));
        assert_eq!(
            Selection::parse("shard=3/3"),
            Err(SelectionError::Shard("3/3".into()))
        );
        assert_eq!(
            Selection::parse("collect=x"),
            Err(SelectionError::Parameter("collect".into()))
        );
    }

    #[test]
    fn shards_split_the_queues_without_overlap() {
        let queues: Vec<String> = (0..200).map(|i| format!("q{i}")).collect();
        let mut seen = 0;
        for i in 0..3 {
            let s = Selection {
                shard: Some((i, 3)),
                ..Selection::default()
            };
            let mine = queues.iter().filter(|q| s.has_queue(q)).count();
            assert!(mine > 30, "shard {i} of 3 has {mine} of 200");
            seen += mine;
        }
        assert_eq!(seen, 200);
    }

    #[test]
    fn a_queue_keeps_its_agents_and_a_shard_splits_the_agents_without_overlap() {
        use crate::live::{AgentRow, HandledToday};
        let agent = |name: &str, serves: &str, handled: &[&str]| AgentRow {
            agent: name.into(),
            state: None,
            queues: vec![serves.into()],
            conversation: None,
            wrapup: None,
            handled_today: (handled.iter())
                .map(|q| HandledToday {
                    queue: (*q).into(),
                    count: 1,
                    handle_ms: 1,
                })
                .collect(),
        };
        let snap = Snapshot {
            agents: vec![
                agent("ann", "sales", &["sales", "support"]),
                agent("bob", "support", &["sales"]),
                agent("cy", "support", &[]),
            ],
            ..Snapshot::default()
        };
        let mut sales = snap.clone();
        Selection::parse("queue=sales").unwrap().apply(&mut sales);
        let kept: Vec<(&str, usize)> = (sales.agents.iter())
            .map(|a| (a.agent.as_str(), a.handled_today.len()))
            .collect();
        assert_eq!(kept, [("ann", 1), ("bob", 1)]);
        let mut seen = Vec::new();
        for i in 0..2 {
            let mut part = snap.clone();
            Selection::parse(&format!("shard={i}/2"))
                .unwrap()
                .apply(&mut part);
            seen.extend(part.agents.into_iter().map(|a| a.agent));
        }
        seen.sort();
        assert_eq!(seen, ["ann", "bob", "cy"]);
    }
}
