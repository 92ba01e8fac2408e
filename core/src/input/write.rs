//! Writing the events a platform adapter maps a record onto: docs/events.md JSON objects and their
//! deterministic ids (so a record delivered twice, or one contact seen in two record kinds,
//! gives the same id and the engine counts it once).

use serde::Serialize;

use crate::time::Millis;

/// A deterministic event id from a record's identity: `<prefix>-<parts joined by ->`, or
/// `<prefix>-h<hash>` when that would pass the 128-character limit.
pub fn event_id(prefix: &str, parts: &[&str]) -> String {
    let mut id =
        String::with_capacity(prefix.len() + parts.iter().map(|p| p.len() + 1).sum::<usize>());
    id.push_str(prefix);
    for p in parts {
        id.push('-');
        id.push_str(p);
    }
    if id.chars().count() <= 128 {
        return id;
    }
    // FNV-1a, twice with different offsets, for a stable 128-bit digest
    let mut digest = [0xcbf2_9ce4_8422_2325_u64, 0x6c62_272e_07bb_0142_u64];
    for h in &mut digest {
        for b in id.bytes() {
            *h ^= u64::from(b);
            *h = h.wrapping_mul(0x0000_0100_0000_01b3);
        }
    }
    format!("{prefix}-h{:016x}{:016x}", digest[0], digest[1])
}

/// One docs/events.md event as written.
#[derive(Serialize, Default, Clone, Copy)]
pub struct Out<'a> {
    pub id: &'a str,
    #[serde(rename = "type")]
    pub kind: &'a str,
    pub ts: Millis,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub contact_id: Option<&'a str>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub queue: Option<&'a str>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub agent: Option<&'a str>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub channel: Option<&'a str>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub customer: Option<&'a str>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub priority: Option<i64>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub reason: Option<&'a str>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub to_queue: Option<&'a str>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub wrapup: Option<bool>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub state: Option<&'a str>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub queues: Option<&'a [String]>,
}

pub fn push(out: &mut Vec<String>, event: Out<'_>) {
    if let Ok(json) = serde_json::to_string(&event) {
        out.push(json);
    }
}
