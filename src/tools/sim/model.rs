//! The simulated contact center's fixed facts: queue profiles, channels, not-ready reasons,
//! behaviour constants, the intraday shape and the Erlang C formula the realistic roster uses.

use crate::time::{Millis, MINUTE};

/// Agents who serve a second queue (picked by workload).
pub(super) const SECOND_QUEUE_SHARE: f64 = 0.25;
pub(super) const SURVEY_SHARE: f64 = 0.2;
pub(super) const TRANSFER_SHARE: f64 = 0.07;
pub(super) const HOLD_SHARE: f64 = 0.18;
pub(super) const HOLD_MEAN_S: f64 = 50.0;
pub(super) const WRAPUP_MEAN_S: f64 = 38.0;
pub(super) const RESOLVED_SHARE: f64 = 0.86;

/// The outage scenario: from when to when (after the start) agents drop out, and how many.
pub(super) const OUTAGE_FROM: Millis = 10 * MINUTE;
pub(super) const OUTAGE_UNTIL: Millis = 25 * MINUTE;
pub(super) const OUTAGE_SHARE: f64 = 0.8;
/// The understaffed scenario: the first queue's agents who never log in ...
pub(super) const ABSENT_SHARE: f64 = 0.5;
/// ... and its traffic, as a multiple of its peak, around the clock.
pub(super) const SURGE: f64 = 1.25;

/// When waiting callers are offered a callback, and the share that accept it.
pub(super) const CALLBACK_OFFER_AFTER: Millis = 2 * MINUTE;
pub(super) const CALLBACK_ACCEPT: f64 = 0.3;

const QUEUE_NAMES: [&str; 5] = ["sales", "support", "billing", "retention", "tech"];

/// How a contact reaches the queue.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(super) enum Channel {
    Voice,
    Chat,
    Email,
    Callback,
}

impl Channel {
    pub(super) const ALL: [Channel; 4] = [
        Channel::Voice,
        Channel::Chat,
        Channel::Email,
        Channel::Callback,
    ];

    pub(super) fn as_str(self) -> &'static str {
        match self {
            Channel::Voice => "voice",
            Channel::Chat => "chat",
            Channel::Email => "email",
            Channel::Callback => "callback",
        }
    }

    /// Mean talk time, seconds (before the queue's factor).
    pub(super) fn talk_mean_s(self) -> f64 {
        match self {
            Channel::Voice => 240.0,
            Channel::Chat => 330.0,
            Channel::Email => 200.0,
            Channel::Callback => 210.0,
        }
    }

    /// Ring / accept time, seconds (min, max).
    pub(super) fn ring_s(self) -> (f64, f64) {
        match self {
            Channel::Voice => (2.0, 7.0),
            Channel::Chat => (2.0, 8.0),
            Channel::Email | Channel::Callback => (3.0, 10.0),
        }
    }

    /// How long a contact may wait before routing gives up.
    pub(super) fn overflow_after(self) -> Millis {
        match self {
            Channel::Voice | Channel::Chat => 10 * MINUTE,
            Channel::Email | Channel::Callback => 30 * MINUTE,
        }
    }

    /// Phone calls (the ones put on hold, the ones with a caller id).
    pub(super) fn is_call(self) -> bool {
        matches!(self, Channel::Voice | Channel::Callback)
    }
}

/// Why an agent is not ready. `Relogin` is not shown: the agent logs out for a while.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(super) enum Reason {
    Break,
    Personal,
    Meeting,
    Training,
    Coaching,
    System,
    Relogin,
    Lunch,
    Outage,
}

impl Reason {
    pub(super) fn as_str(self) -> &'static str {
        match self {
            Reason::Break => "break",
            Reason::Personal => "personal",
            Reason::Meeting => "meeting",
            Reason::Training => "training",
            Reason::Coaching => "coaching",
            Reason::System => "system",
            Reason::Relogin => "relogin",
            Reason::Lunch => "lunch",
            Reason::Outage => "outage",
        }
    }

    /// How long it lasts, minutes (min, max).
    pub(super) fn minutes(self) -> (f64, f64) {
        match self {
            Reason::Break => (5.0, 15.0),
            Reason::Personal => (2.0, 8.0),
            Reason::Meeting => (15.0, 30.0),
            Reason::Training => (20.0, 45.0),
            Reason::Coaching => (10.0, 20.0),
            Reason::System => (1.0, 3.0),
            Reason::Relogin => (1.0, 4.0),
            Reason::Lunch => (30.0, 45.0),
            // Not taken as a break: the outage scenario ends it (`OUTAGE_UNTIL`, then up to 45 s).
            Reason::Outage => (15.0, 15.75),
        }
    }
}

/// The breaks an agent takes now and then, with their shares (lunch is decided apart).
pub(super) const BREAKS: [(Reason, f64); 7] = [
    (Reason::Break, 0.50),
    (Reason::Personal, 0.15),
    (Reason::Meeting, 0.10),
    (Reason::Training, 0.08),
    (Reason::Coaching, 0.07),
    (Reason::System, 0.05),
    (Reason::Relogin, 0.05),
];

/// What a queue is like.
pub(super) struct Profile {
    pub(super) talk_factor: f64,
    pub(super) wrapup: bool,
    pub(super) transfers: bool,
    /// Channel shares, in the order of [`Channel::ALL`].
    pub(super) mix: [f64; 4],
    /// The service-level threshold the realistic roster is planned for, seconds (the bundled
    /// config's: 30 s for sales, 20 s elsewhere; the target is [`SL_TARGET`]).
    pub(super) sl_threshold_s: f64,
    /// How much longer than the average caller this queue's callers wait before giving up:
    /// callers who want to buy wait longer (and a 30-second threshold makes them wait longer).
    pub(super) patience_factor: f64,
}

/// Patience of the first queue's (sales) callers relative to the others: with its 30-second
/// threshold and the same patience it ran above a 5 % abandonment target for most of the peak.
const SALES_PATIENCE: f64 = 1.6;

/// The service-level target the realistic roster is planned for (the contract's 80 %).
pub(super) const SL_TARGET: f64 = 0.80;

pub(super) fn profile(i: usize) -> Profile {
    let (talk_factor, wrapup, transfers, mix, sl_threshold_s) = match i {
        0 => (0.9, true, false, [0.85, 0.15, 0.0, 0.0], 30.0),
        1 => (1.15, true, false, [0.65, 0.25, 0.10, 0.0], 20.0),
        2 => (1.0, false, true, [0.75, 0.0, 0.20, 0.05], 20.0),
        3 => (1.3, false, true, [0.92, 0.0, 0.0, 0.08], 20.0),
        4 => (1.4, false, true, [0.60, 0.30, 0.10, 0.0], 20.0),
        _ => (1.0, false, true, [0.80, 0.15, 0.05, 0.0], 20.0),
    };
    Profile {
        talk_factor,
        wrapup,
        transfers,
        mix,
        sl_threshold_s,
        patience_factor: if i == 0 { SALES_PATIENCE } else { 1.0 },
    }
}

impl Profile {
    /// Mean seconds an agent is occupied per answered contact.
    pub(super) fn aht_s(&self) -> f64 {
        let mut s = 0.0;
        for (c, share) in Channel::ALL.into_iter().zip(self.mix) {
            let (lo, hi) = c.ring_s();
            let hold = if c.is_call() {
                HOLD_SHARE * HOLD_MEAN_S
            } else {
                0.0
            };
            s += share * (c.talk_mean_s() * self.talk_factor + hold + (lo + hi) / 2.0);
        }
        if self.wrapup {
            s += WRAPUP_MEAN_S;
        }
        s
    }
}

/// Each queue's share of the traffic: Zipf-like, the first queue the busiest.
pub(super) fn zipf_weights(n: usize) -> Vec<f64> {
    let raw: Vec<f64> = (0..n).map(|i| 1.0 / ((i + 1) as f64).powf(0.9)).collect();
    let sum: f64 = raw.iter().sum();
    raw.into_iter().map(|w| w / sum).collect()
}

pub(super) fn queue_name(i: usize) -> String {
    match QUEUE_NAMES.get(i) {
        Some(n) => (*n).to_string(),
        None => format!("queue-{:02}", i + 1),
    }
}

/// The intraday shape before normalisation, by hour of the business day.
pub(super) fn raw_shape(hour: f64) -> f64 {
    let bump = |mu: f64, sigma: f64| {
        let d = (hour - mu).abs();
        let d = d.min(24.0 - d);
        (-0.5 * (d / sigma) * (d / sigma)).exp()
    };
    0.05 + bump(10.5, 1.25) + 0.85 * bump(14.5, 1.5) + 0.3 * bump(19.0, 2.0)
}

pub(super) fn splitmix(mut x: u64) -> u64 {
    x = x.wrapping_add(0x9e37_79b9_7f4a_7c15);
    x = (x ^ (x >> 30)).wrapping_mul(0xbf58_476d_1ce4_e5b9);
    x = (x ^ (x >> 27)).wrapping_mul(0x94d0_49bb_1331_11eb);
    x ^ (x >> 31)
}

/// Erlang C: the probability that a contact waits, with `agents` on the phones and an
/// offered load of `erlangs` (1.0 when the queue cannot keep up).
pub(super) fn erlang_c(agents: u32, erlangs: f64) -> f64 {
    let n = f64::from(agents);
    if erlangs <= 0.0 {
        return 0.0;
    }
    if n <= erlangs {
        return 1.0;
    }
    // Erlang B by its recurrence (stable for hundreds of agents), then C from B.
    let mut b = 1.0;
    for k in 1..=agents {
        b = erlangs * b / (f64::from(k) + erlangs * b);
    }
    n * b / (n - erlangs * (1.0 - b))
}

/// The service level Erlang C predicts: the share answered within `threshold_s`.
pub(super) fn erlang_c_service_level(
    agents: u32,
    erlangs: f64,
    aht_s: f64,
    threshold_s: f64,
) -> f64 {
    let n = f64::from(agents);
    if n <= erlangs {
        return 0.0;
    }
    1.0 - erlang_c(agents, erlangs) * (-(n - erlangs) * threshold_s / aht_s).exp()
}

/// The fewest agents on the phones for which Erlang C predicts at least `target` answered
/// within `threshold_s` (at least one).
pub(super) fn erlang_c_agents(erlangs: f64, aht_s: f64, threshold_s: f64, target: f64) -> u32 {
    if !(erlangs.is_finite() && erlangs > 0.0) {
        return 1;
    }
    let mut n = (erlangs.floor() as u32).max(1);
    while erlang_c_service_level(n, erlangs, aht_s, threshold_s) < target {
        n += 1;
    }
    n
}
