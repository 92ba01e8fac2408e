//! `agent.state` events for the workforce bench: 400 agents serving two of 50 queues each,
//! changing state every 5-35 s, in time order or with every event up to 30 s late.

/// `events` agent events from `start` (epoch ms): each agent logs in with its two queues, then
/// cycles available → busy → wrapup → available (a not_ready now and then); now and then its
/// second queue changes. With `late`, arrival order is time plus a jitter of up to 30 s.
pub fn agent_states(events: usize, start: i64, late: bool) -> Vec<Vec<u8>> {
    let mut x: u64 = 0x2545_F491_4F6C_DD1D;
    let mut rnd = |n: u64| {
        x ^= x << 13;
        x ^= x >> 7;
        x ^= x << 17;
        x % n
    };
    let agents = 400u64;
    let mut next: Vec<i64> = (0..agents).map(|a| start + a as i64 * 10).collect();
    let mut step = vec![0u64; agents as usize];
    let mut out: Vec<(i64, String)> = Vec::with_capacity(events);
    for i in 0..events {
        let a = (i as u64 % agents) as usize;
        let t = next[a];
        let (q1, q2) = (a as u64 % 50, (a as u64 + 1 + rnd(49)) % 50);
        let state = match step[a] % 4 {
            0 if rnd(8) == 0 => "not_ready",
            0 | 3 => "available",
            1 => "busy",
            _ => "wrapup",
        };
        let queues = if step[a] == 0 || rnd(50) == 0 {
            format!(r#","queues":["q{q1:02}","q{q2:02}"]"#)
        } else {
            String::new()
        };
        out.push((
            t,
            format!(r#"{{"type":"agent.state","ts":{t},"id":"ag{i}","agent":"ag{a}","state":"{state}"{queues}}}"#),
        ));
        step[a] += 1;
        next[a] = t + 5_000 + rnd(30_000) as i64;
    }
    if late {
        for (t, _) in out.iter_mut() {
            *t += rnd(30_000) as i64;
        }
    }
    out.sort_by_key(|e| e.0);
    out.into_iter().map(|(_, s)| s.into_bytes()).collect()
}
