//! FreeSWITCH mod_callcenter events and TaskRouter Event Streams CloudEvents for the
//! `freeswitch` and `taskrouter` adapter benches: 50 queues, 400 agents, one abandon in ten.
//! FreeSWITCH member events carry 20 KB of channel variables, as real ones do.

const START_US: i64 = 1_795_420_800_000_000; // 2026-11-23T08:00:00Z

/// A small deterministic generator.
struct Rng(u64);

impl Rng {
    fn below(&mut self, n: u64) -> u64 {
        self.0 ^= self.0 << 13;
        self.0 ^= self.0 >> 7;
        self.0 ^= self.0 << 17;
        self.0 % n
    }
}

/// `calls` calls (20 per second) as mod_callcenter events, in time order.
pub fn freeswitch(calls: usize) -> Vec<Vec<u8>> {
    let variables: String = (0..200)
        .map(|i| format!(r#","variable_sip_h_X-Trace-{i}":"{}""#, "v".repeat(80)))
        .collect();
    let mut seq = 0u64;
    let mut event = |us: i64, fields: String, channel: bool| -> (i64, Vec<u8>) {
        seq += 1;
        let vars = if channel { variables.as_str() } else { "" };
        let e = format!(
            r#"{{"Event-Name":"CUSTOM","Core-UUID":"6d4bd6f2-3c1e-4f1a-9b7e-2f0d8c5a1e90","FreeSWITCH-Hostname":"fs1","Event-Date-Timestamp":"{us}","Event-Sequence":"{seq}","Event-Subclass":"callcenter::info"{fields}{vars}}}"#
        );
        (us, e.into_bytes())
    };
    let mut out = Vec::with_capacity(calls * 3 + 400);
    for a in 0..400 {
        out.push(event(
            START_US,
            format!(r#","CC-Agent":"{a}@d","CC-Action":"agent-status-change","CC-Agent-Status":"Available""#),
            false,
        ));
    }
    let mut r = Rng(0x9E37_79B9_7F4A_7C15);
    for i in 0..calls {
        let q = r.below(50);
        let t0 = START_US + 1_000_000 + (i as i64) * 50_000;
        let member = format!(
            r#","CC-Queue":"q{q:02}@d","CC-Member-Session-UUID":"5e550000-1b2c-4d3e-8f40-{i:012}","CC-Member-CID-Number":"+1555{i:07}""#
        );
        out.push(event(
            t0,
            format!(r#","CC-Action":"member-queue-start"{member}"#),
            true,
        ));
        let wait = r.below(60) as i64 * 1_000_000;
        if r.below(10) == 0 {
            out.push(event(
                t0 + wait,
                format!(r#","CC-Action":"member-queue-end","CC-Cause":"Cancel","CC-Cancel-Reason":"BREAK_OUT","Answer-State":"hangup"{member}"#),
                true,
            ));
            continue;
        }
        let agent = format!(r#","CC-Agent":"{}@d""#, q + 50 * r.below(8));
        out.push(event(
            t0 + wait,
            format!(r#","CC-Action":"bridge-agent-start"{agent}{member}"#),
            true,
        ));
        let talk = (30 + r.below(300) as i64) * 1_000_000;
        out.push(event(
            t0 + wait + talk,
            format!(r#","CC-Action":"member-queue-end","CC-Cause":"Terminated"{agent}{member}"#),
            true,
        ));
    }
    out.sort_by_key(|e| e.0);
    out.into_iter().map(|(_, e)| e).collect()
}

/// `calls` tasks (20 per second) as Event Streams CloudEvents, in time order.
pub fn taskrouter(calls: usize) -> Vec<Vec<u8>> {
    let mut sid = 0u64;
    let mut event = |ms: i64, kind: &str, fields: String| -> (i64, Vec<u8>) {
        sid += 1;
        let e = format!(
            r#"{{"specversion":"1.0","type":"com.twilio.taskrouter.{kind}","source":"/v1/Workspaces/WS1","id":"EV{sid:032x}","dataschema":"https://events-schemas.twilio.com/TaskRouter.WDSEvent/4","datacontenttype":"application/json","data":{{"sid":"EV{sid:032x}","name":"{kind}","product_name":"TaskRouter","payload":{{"sid":"EV{sid:032x}","eventtype":"{kind}","timestamp":{ms},"workspace_sid":"WS1"{fields}}}}}}}"#
        );
        (ms, e.into_bytes())
    };
    let mut out = Vec::with_capacity(calls * 4 + 400);
    let start = START_US / 1000;
    for a in 0..400 {
        out.push(event(
            start,
            "worker.activity.update",
            format!(r#","worker_name":"w{a}","worker_activity_name":"Available""#),
        ));
    }
    let mut r = Rng(0xD1B5_4A32_D192_ED03);
    for i in 0..calls {
        let q = r.below(50);
        let t0 = start + 1_000 + (i as i64) * 50;
        let task = format!(
            r#","task_sid":"WT{i:032x}","task_queue_name":"q{q:02}","task_channel_unique_name":"voice","task_priority":0,"task_attributes":"{{\"call_sid\":\"CA{i:032x}\",\"from\":\"+1555{i:07}\"}}""#
        );
        out.push(event(t0, "task-queue.entered", task.clone()));
        let wait = r.below(60) as i64 * 1_000;
        if r.below(10) == 0 {
            out.push(event(
                t0 + wait,
                "task.canceled",
                format!(r#"{task},"task_canceled_reason":"hangup""#),
            ));
            continue;
        }
        let worker = format!(r#","worker_name":"w{}""#, q + 50 * r.below(8));
        out.push(event(
            t0 + wait,
            "reservation.accepted",
            format!("{task}{worker}"),
        ));
        let talk = (30 + r.below(300) as i64) * 1_000;
        out.push(event(
            t0 + wait + talk,
            "reservation.wrapup",
            format!("{task}{worker}"),
        ));
        out.push(event(
            t0 + wait + talk + 20_000,
            "reservation.completed",
            format!("{task}{worker}"),
        ));
    }
    out.sort_by_key(|e| e.0);
    out.into_iter().map(|(_, e)| e).collect()
}
