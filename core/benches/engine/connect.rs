//! Amazon Connect contact events for the `connect` adapter bench: EventBridge envelopes shaped
//! like AWS's published samples (QUEUED, CONNECTED_TO_AGENT, DISCONNECTED, COMPLETED), 50 queues,
//! 400 agents, one abandon in ten.

use chrono::{DateTime, SecondsFormat, Utc};

const INSTANCE: &str =
    "arn:aws:connect:eu-west-1:111122223333:instance/9b1f0c2e-1111-4222-8333-444455556666";
const START_S: i64 = 1_795_420_800; // 2026-11-23T08:00:00Z

fn iso(s: i64) -> String {
    DateTime::<Utc>::from_timestamp(s, 0)
        .unwrap_or_default()
        .to_rfc3339_opts(SecondsFormat::Millis, true)
}

/// One contact event, as EventBridge delivers it.
fn envelope(
    kind: &str,
    no: usize,
    q: u64,
    at: i64,
    agent: Option<(u64, i64)>,
    end: Option<i64>,
) -> String {
    let contact = format!("0a1b2c3d-{:04x}-4000-8000-{no:012}", no % 0xffff);
    let agent = agent.map_or(String::new(), |(a, t)| {
        format!(
            r#","agentInfo":{{"agentArn":"{INSTANCE}/agent/7f9a3c1d-2b4e-4f60-8a7b-{a:012}","connectedToAgentTimestamp":"{}"}}"#,
            iso(t)
        )
    });
    let end = end.map_or(String::new(), |t| {
        format!(r#","disconnectTimestamp":"{}""#, iso(t))
    });
    format!(
        r#"{{"version":"0","id":"5c1a7e2b-{no:04}-4e5f-9a0b-1c2d3e4f5a6b","detail-type":"Amazon Connect Contact Event","source":"aws.connect","account":"111122223333","time":"{}","region":"eu-west-1","resources":["{INSTANCE}/contact/{contact}"],"detail":{{"eventType":"{kind}","contactId":"{contact}","channel":"VOICE","instanceArn":"{INSTANCE}","initiationMethod":"INBOUND","initiationTimestamp":"{}"{end}{agent},"queueInfo":{{"queueType":"STANDARD","queueArn":"{INSTANCE}/queue/5e2c8f6a-0d1b-4c3a-9e8f-{q:012}","enqueueTimestamp":"{}"}},"tags":{{"aws:connect:instanceId":"9b1f0c2e-1111-4222-8333-444455556666"}}}}}}"#,
        iso(at),
        iso(at - 1),
        iso(at)
    )
}

/// The contact events of `calls` calls, in time order.
pub fn contact_events(calls: usize) -> Vec<Vec<u8>> {
    let mut x: u64 = 0x9E37_79B9_7F4A_7C15;
    let mut rnd = |n: u64| {
        x ^= x << 13;
        x ^= x >> 7;
        x ^= x << 17;
        x % n
    };
    let mut out: Vec<(i64, usize, String)> = Vec::with_capacity(calls * 4);
    for no in 0..calls {
        let q = rnd(50);
        let t0 = START_S + (no as i64) / 20;
        let wait = rnd(60) as i64;
        let mut push = |t: i64, s: String| out.push((t, out.len(), s));
        push(t0, envelope("QUEUED", no, q, t0, None, None));
        if rnd(10) == 0 {
            let t = t0 + wait;
            push(t, envelope("DISCONNECTED", no, q, t0, None, Some(t)));
            continue;
        }
        let agent = Some((q + 50 * rnd(8), t0 + wait));
        push(
            t0 + wait,
            envelope("CONNECTED_TO_AGENT", no, q, t0, agent, None),
        );
        let te = t0 + wait + 30 + rnd(300) as i64;
        push(te, envelope("DISCONNECTED", no, q, t0, agent, Some(te)));
        push(te + 20, envelope("COMPLETED", no, q, t0, agent, Some(te)));
    }
    out.sort_by_key(|e| (e.0, e.1));
    out.into_iter().map(|(_, _, s)| s.into_bytes()).collect()
}
