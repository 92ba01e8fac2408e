//! A history's events put in time order before the engine. Amazon Connect writes a contact
//! record when its contact ends, and Kinesis Data Firehose stores the records in that order: a
//! record's offer is older than the previous record's last event by up to its contact's length,
//! which no allowed lateness of a live service should have to cover. `replay` and `convert`
//! of such a format gather the whole file's events and sort them by time (stable: events of one
//! instant keep the order they were read in), so a history in delivery order gives the KPIs of
//! the same records in time order. The memory is the file's events, as a replay's own is.

use serde::Deserialize;

use crate::time::Millis;

/// Events gathered from a history, put in time order when taken.
#[derive(Debug, Default)]
pub struct TimeOrder {
    events: Vec<(Millis, String)>,
}

/// The one field an docs/events.md event is sorted by.
#[derive(Deserialize)]
struct Stamp {
    ts: Millis,
}

impl TimeOrder {
    /// Gathers docs/events.md JSON events; one without a readable `ts` sorts first and is left to
    /// the decoder to reject.
    pub fn extend(&mut self, events: impl IntoIterator<Item = String>) {
        self.events.extend(events.into_iter().map(|e| {
            let ts = serde_json::from_str::<Stamp>(&e).map_or(Millis::MIN, |s| s.ts);
            (ts, e)
        }));
    }

    pub fn len(&self) -> usize {
        self.events.len()
    }

    pub fn is_empty(&self) -> bool {
        self.events.is_empty()
    }

    /// Every event gathered, oldest first.
    pub fn into_sorted(mut self) -> impl Iterator<Item = String> {
        self.events.sort_by_key(|(ts, _)| *ts);
        self.events.into_iter().map(|(_, e)| e)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn events_come_out_oldest_first_and_one_instant_keeps_its_order() {
        let mut order = TimeOrder::default();
        order.extend([
            r#"{"id":"c","ts":30}"#.to_string(),
            r#"{"id":"a","ts":10}"#.to_string(),
        ]);
        order.extend([
            r#"{"id":"b1","ts":20}"#.to_string(),
            r#"{"id":"b2","ts":20}"#.to_string(),
            "not json".to_string(),
        ]);
        assert_eq!(order.len(), 5);
        let ids: Vec<String> = order.into_sorted().collect();
        assert_eq!(
            ids,
            [
                "not json",
                r#"{"id":"a","ts":10}"#,
                r#"{"id":"b1","ts":20}"#,
                r#"{"id":"b2","ts":20}"#,
                r#"{"id":"c","ts":30}"#
            ]
        );
    }
}
