//! One gather of the partition workers' snapshots, shared by every scrape that arrives while it
//! runs: any number of concurrent readers of `/metrics` (Prometheus replicas, Grafana, wallboard
//! tabs) cost the workers one snapshot each, and all of them get the same whole picture — or,
//! when a partition cannot answer, the same refusal, never a picture with that partition left
//! out.

use std::future::Future;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Weak};

use crate::kafka::PartitionKey;
use crate::snapshot::Snapshot;
use crate::time::Millis;

use super::view::PartView;

/// The partition views of one instant, each with its worker's snapshot, and their merge.
pub struct Gathered {
    /// The service's clock when the gather began.
    pub now: Millis,
    pub views: Vec<(PartitionKey, PartView)>,
    /// Every partition's snapshot and the configured queues, merged.
    pub merged: Snapshot,
}

/// Partitions whose workers did not hand over their snapshot: the scrape is refused rather
/// than rendered without them (their queues would read 0).
#[derive(Clone, Debug, Default, PartialEq, Eq, thiserror::Error)]
#[error("{}", describe(self))]
pub struct Incomplete {
    pub missing: Vec<PartitionKey>,
    /// The live API's peers (`[http] peers`) that did not hand over their view.
    pub peers: Vec<String>,
}

fn describe(i: &Incomplete) -> String {
    let mut parts = Vec::new();
    if !i.missing.is_empty() {
        parts.push(format!(
            "partitions {} did not hand over their snapshot in time",
            names(&i.missing)
        ));
    }
    if !i.peers.is_empty() {
        parts.push(format!(
            "peers {} did not hand over their view in time",
            i.peers.join(", ")
        ));
    }
    parts.join("; ")
}

fn names(keys: &[PartitionKey]) -> String {
    let names: Vec<String> = keys.iter().map(|(t, p)| format!("{t}/{p}")).collect();
    names.join(", ")
}

/// How a scrape came by its picture (label of `callpulse_scrapes_total{outcome}`).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum ScrapeOutcome {
    /// It asked the workers itself.
    Gathered,
    /// It shared the picture of a gather that finished while it waited.
    Shared,
    /// A partition did not answer: refused (HTTP 503).
    Incomplete,
}

impl ScrapeOutcome {
    pub const ALL: [ScrapeOutcome; 3] = [
        ScrapeOutcome::Gathered,
        ScrapeOutcome::Shared,
        ScrapeOutcome::Incomplete,
    ];

    pub fn as_str(self) -> &'static str {
        match self {
            ScrapeOutcome::Gathered => "gathered",
            ScrapeOutcome::Shared => "shared",
            ScrapeOutcome::Incomplete => "incomplete",
        }
    }
}

/// The last gather's result, held only while a scrape still renders it (a weak reference:
/// between scrapes no copy of every queue waits in memory).
type Last<T> = Option<(u64, Result<Weak<T>, Incomplete>)>;

/// Gathers one at a time; a scrape that waited while a gather ran takes its result (of the
/// workers' snapshots, or of their live views: `T`).
pub struct SharedGather<T = Gathered> {
    last: tokio::sync::Mutex<Last<T>>,
    /// Gathers finished.
    finished: AtomicU64,
}

impl<T> Default for SharedGather<T> {
    fn default() -> Self {
        SharedGather {
            last: tokio::sync::Mutex::new(None),
            finished: AtomicU64::new(0),
        }
    }
}

impl<T> SharedGather<T> {
    /// The picture of a gather that finished after this call began, or a new one from `gather`.
    pub async fn get<F, Fut>(&self, gather: F) -> (Result<Arc<T>, Incomplete>, ScrapeOutcome)
    where
        F: FnOnce() -> Fut,
        Fut: Future<Output = Result<T, Incomplete>>,
    {
        let arrived = self.finished.load(Ordering::Acquire);
        let mut last = self.last.lock().await;
        if let Some((n, result)) = &*last {
            if *n > arrived {
                match result {
                    Ok(weak) => {
                        if let Some(g) = weak.upgrade() {
                            return (Ok(g), ScrapeOutcome::Shared);
                        }
                    }
                    Err(e) => return (Err(e.clone()), ScrapeOutcome::Incomplete),
                }
            }
        }
        let result = gather().await.map(Arc::new);
        let n = self.finished.fetch_add(1, Ordering::AcqRel) + 1;
        *last = Some((n, result.as_ref().map(Arc::downgrade).map_err(Clone::clone)));
        let outcome = match &result {
            Ok(_) => ScrapeOutcome::Gathered,
            Err(_) => ScrapeOutcome::Incomplete,
        };
        (result, outcome)
    }
}

#[cfg(test)]
mod tests {
    use std::sync::atomic::AtomicUsize;
    use std::time::Duration;

    use super::*;

    #[tokio::test(start_paused = true)]
    async fn scrapes_arriving_during_a_gather_share_it() {
        let share = Arc::new(SharedGather::default());
        let gathers = Arc::new(AtomicUsize::new(0));
        let mut scrapes = Vec::new();
        for _ in 0..50 {
            let (share, gathers) = (share.clone(), gathers.clone());
            scrapes.push(tokio::spawn(async move {
                share
                    .get(|| async {
                        gathers.fetch_add(1, Ordering::SeqCst);
                        tokio::time::sleep(Duration::from_millis(100)).await;
                        Ok(Gathered {
                            now: 7,
                            views: Vec::new(),
                            merged: Snapshot::default(),
                        })
                    })
                    .await
            }));
        }
        let mut held = Vec::new();
        for s in scrapes {
            let (result, _) = s.await.unwrap();
            held.push(result.unwrap());
        }
        assert_eq!(
            gathers.load(Ordering::SeqCst),
            1,
            "one gather for 50 scrapes"
        );
        assert!(held.iter().all(|g| Arc::ptr_eq(g, &held[0])));
    }

    #[tokio::test(start_paused = true)]
    async fn a_refused_gather_is_shared_and_the_next_scrape_asks_again() {
        let share = SharedGather::default();
        let missing = vec![("events".to_string(), 3)];
        let (first, outcome) = share
            .get(|| async {
                Err(Incomplete {
                    missing: missing.clone(),
                    ..Incomplete::default()
                })
            })
            .await;
        assert_eq!(outcome, ScrapeOutcome::Incomplete);
        assert_eq!(
            first.err().unwrap().to_string(),
            "partitions events/3 did not hand over their snapshot in time"
        );
        // a scrape that starts after the refusal gathers anew
        let (second, outcome) = share
            .get(|| async {
                Ok(Gathered {
                    now: 1,
                    views: Vec::new(),
                    merged: Snapshot::default(),
                })
            })
            .await;
        assert_eq!(outcome, ScrapeOutcome::Gathered);
        assert!(second.is_ok());
    }
}
