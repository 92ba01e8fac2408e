//! Simulated contact-center traffic: a deterministic discrete-event model of queues, agents and
//! customers on a simulated clock, producing spec-v1 events (`shared/spec/events.md`) as JSON.
//!
//! Owns the traffic model (arrivals, routing, agent behaviour, scenarios) and its JSON encoding;
//! no I/O and no wall clock: the caller passes simulated time to [`Simulator::advance`].
//!
//! The model, in short:
//! - Arrivals are Poisson per queue (Zipf-like volumes) times an intraday shape on the UTC clock
//!   (quiet at night, peaks mid-morning and early afternoon, a dip at lunch); [`SimConfig::rate`]
//!   is the offered rate across all queues at the busiest moment of the day.
//! - Each queue is FIFO; a contact goes to the longest-idle available agent serving it. Agents
//!   serving two queues take their first queue's contacts first, and their second queue's only
//!   while their first queue keeps a reserve of idle agents (2 + 2·√ of those logged in), so a
//!   collapsing queue does not drain the healthy ones. Customers have a patience
//!   (exponential, with some very short and some very patient callers) and abandon when it runs out, also while the
//!   agent's phone rings. Callers still waiting after 2 minutes are offered a callback; those
//!   who take it leave (`contact.overflowed`, reason `key`) and the callback is offered to the
//!   same queue. Voice and chat overflow (`timeout`) after 10 minutes of waiting,
//!   e-mail and callbacks after 30 minutes; a queue without any logged-in agent overflows its
//!   contacts after a few seconds (`no_agents`).
//! - Conversations: lognormal talk time, some holds, some transfers to another queue (the same
//!   `contact_id` is then offered there), wrap-up in the queues that use it ([`Simulator::wrapup_queues`]),
//!   and a survey from about 20 % of the answered customers a few minutes later.
//! - Agents follow a roster (how many are logged in follows the intraday shape), take breaks
//!   with reason codes, lunch, and now and then log out and back in. Every change of what an
//!   agent shows is an `agent.state` event carrying its `queues` list.
//!
//! Decisions a producer has to make where the contract is silent:
//! - `contact.ended` always carries an explicit `wrapup` flag, so results do not depend on the
//!   monitor's per-queue `wrapup` setting. `contact.transferred` has no such flag, so transfers
//!   only start in queues without wrap-up: with any config whose queues agree with
//!   [`Simulator::wrapup_queues`] or that sets no wrap-up at all, no event is rejected.
//! - Event ids (`e-<run>-<n>`) and contact ids (`c-<run>-<n>`) carry a run tag derived from
//!   the seed and `start_ms`, so a restarted producer does not collide with its earlier ids.
//! - An agent never shows two states in the same millisecond (the monitor would order them by
//!   state, not by arrival): a second change in the same millisecond is shown 1 ms later.

use std::cmp::Ordering;
use std::collections::{BTreeSet, BinaryHeap, VecDeque};
use std::fmt::{self, Write as _};
use std::str::FromStr;

use rand::rngs::SmallRng;
use rand::{Rng, SeedableRng};
use rand_distr::{Exp1, StandardNormal};

use crate::event::AgentState;
use crate::time::{Millis, DAY, HOUR, MINUTE, SECOND};

/// What kind of day to simulate.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Hash)]
pub enum Scenario {
    /// Staffing follows demand; every queue meets its service level most of the day.
    #[default]
    Normal,
    /// The first queue runs a campaign (a quarter more than its peak traffic, around the clock)
    /// while half of its agents never log in: its service level collapses and abandonment
    /// rises while the other queues stay healthy.
    Understaffed,
    /// From 10 to 25 simulated minutes after the start, 80 % of the logged-in agents go
    /// `not_ready` with reason `outage` (busy ones as soon as their conversation ends).
    Outage,
}

impl Scenario {
    pub const ALL: [Scenario; 3] = [Scenario::Normal, Scenario::Understaffed, Scenario::Outage];

    pub fn as_str(self) -> &'static str {
        match self {
            Scenario::Normal => "normal",
            Scenario::Understaffed => "understaffed",
            Scenario::Outage => "outage",
        }
    }
}

impl fmt::Display for Scenario {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// A scenario name that is not one of `normal`, `understaffed`, `outage`.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct UnknownScenario(pub String);

impl fmt::Display for UnknownScenario {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(
            f,
            "unknown scenario {:?} (expected normal, understaffed or outage)",
            self.0
        )
    }
}

impl std::error::Error for UnknownScenario {}

impl FromStr for Scenario {
    type Err = UnknownScenario;

    fn from_str(s: &str) -> Result<Self, Self::Err> {
        let t = s.trim();
        Scenario::ALL
            .into_iter()
            .find(|sc| sc.as_str().eq_ignore_ascii_case(t))
            .ok_or_else(|| UnknownScenario(s.to_string()))
    }
}

/// What to simulate.
#[derive(Clone, Debug, PartialEq)]
pub struct SimConfig {
    /// Number of queues (at most [`MAX_QUEUES`]): `sales`, `support`, `billing`, `retention`,
    /// `tech`, then `queue-06`, `queue-07`, ...
    pub queues: usize,
    /// Total agents, spread over the queues by workload; about a quarter serve a second queue.
    /// See [`SimConfig::recommended_agents`] for a staffing that fits `rate`.
    pub agents: usize,
    /// Mean contacts offered per simulated second across all queues before the intraday shape,
    /// i.e. at the busiest moment of the day (the shape peaks at 1.0).
    pub rate: f64,
    pub scenario: Scenario,
    pub seed: u64,
    /// Simulated epoch-ms at which the simulation starts (0 or later: events before 1970 are
    /// invalid timestamps).
    pub start_ms: i64,
    /// Constant traffic at `rate` all day (no intraday shape): tests and benchmarks get the same
    /// volume whatever the hour they run at.
    pub flat: bool,
    /// Moves the simulated business day against the UTC clock: the shape, rosters and lunch at
    /// `t` are those of UTC time `t + day_shift_ms` (the demo uses it to start mid-morning).
    pub day_shift_ms: i64,
}

impl Default for SimConfig {
    fn default() -> Self {
        SimConfig {
            queues: 4,
            agents: 40,
            rate: 2.0,
            scenario: Scenario::Normal,
            seed: 1,
            start_ms: 0,
            flat: false,
            day_shift_ms: 0,
        }
    }
}

/// The most queues a simulator creates (the monitor's default `max_queues`).
pub const MAX_QUEUES: usize = 1000;

impl SimConfig {
    /// Agents needed for a healthy day at this `rate` (every queue well above 80/20 at any hour,
    /// after breaks): square-root staffing with a margin ([`staffing`]) per queue over its peak
    /// load, plus shrinkage.
    ///
    /// Handle times are realistic (about 4-5 minutes), so the offered load is large: at the
    /// default rate of 2 contacts/s this is several hundred agents, far more than 40.
    pub fn recommended_agents(&self) -> usize {
        let n = self.queues.min(MAX_QUEUES);
        if n == 0 || !(self.rate.is_finite() && self.rate > 0.0) {
            return 0;
        }
        let total: f64 = zipf_weights(n)
            .iter()
            .enumerate()
            .map(|(i, w)| staffing(self.rate * w * profile(i).aht_s()))
            .sum();
        (total / (1.0 - SHRINKAGE)).ceil() as usize
    }
}

/// Agents on the phones needed for an offered load of `erlangs`: square-root staffing with a
/// safety margin (`a + 1.5·√a + 2`), which keeps a queue well above 80/20 at any load, from a
/// quiet night (a few Erlangs) to the daily peak (about a hundred).
fn staffing(erlangs: f64) -> f64 {
    erlangs + STAFFING_MARGIN * erlangs.sqrt() + 2.0
}

/// One event: the Kafka key, its instant and its JSON.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct SimEvent {
    /// The queue name (the Kafka key); for agent events the agent's first queue.
    pub key: String,
    pub ts_ms: i64,
    /// One spec-v1 JSON object.
    pub json: String,
}

// ---------------------------------------------------------------------------------------------
// Model constants.

/// Time not-ready on breaks, lunch, meetings etc. that staffing must cover: breaks take about
/// 15 % of an agent's time, and lunch and breaks that happen to coincide add up to 10 % more
/// at times.
const SHRINKAGE: f64 = 0.25;
/// The square-root staffing margin of [`staffing`].
const STAFFING_MARGIN: f64 = 1.5;
const OUTAGE_FROM: Millis = 10 * MINUTE;
const OUTAGE_UNTIL: Millis = 25 * MINUTE;
const OUTAGE_SHARE: f64 = 0.8;
const ABSENT_SHARE: f64 = 0.5;
/// The understaffed first queue's traffic, as a multiple of its peak.
const SURGE: f64 = 1.25;
const SECOND_QUEUE_SHARE: f64 = 0.25;
const SURVEY_SHARE: f64 = 0.2;
const TRANSFER_SHARE: f64 = 0.07;
const HOLD_SHARE: f64 = 0.18;
const HOLD_MEAN_S: f64 = 50.0;
const WRAPUP_MEAN_S: f64 = 38.0;
const RESOLVED_SHARE: f64 = 0.86;

const VOICE: u8 = 0;
const CHAT: u8 = 1;
const CALLBACK: u8 = 3;
const CHANNELS: [&str; 4] = ["voice", "chat", "email", "callback"];
/// Mean talk time per channel, seconds (before the queue's factor).
const TALK_MEAN_S: [f64; 4] = [240.0, 330.0, 200.0, 210.0];
/// Ring / accept time per channel, seconds (min, max).
const RING_S: [(f64, f64); 4] = [(2.0, 7.0), (2.0, 8.0), (3.0, 10.0), (3.0, 10.0)];
/// How long a contact may wait before routing gives up, per channel.
const OVERFLOW_AFTER: [Millis; 4] = [10 * MINUTE, 10 * MINUTE, 30 * MINUTE, 30 * MINUTE];

/// Not-ready reasons (index = reason code). `relogin` is not shown: the agent logs out.
const REASONS: [&str; 9] = [
    "break", "personal", "meeting", "training", "coaching", "system", "relogin", "lunch", "outage",
];
/// Share of breaks and duration range in minutes, for the first seven reasons.
const BREAKS: [(f64, f64, f64); 7] = [
    (0.50, 5.0, 15.0),
    (0.15, 2.0, 8.0),
    (0.10, 15.0, 30.0),
    (0.08, 20.0, 45.0),
    (0.07, 10.0, 20.0),
    (0.05, 1.0, 3.0),
    (0.05, 1.0, 4.0),
];
const RELOGIN: u8 = 6;
const LUNCH: u8 = 7;
const OUTAGE: u8 = 8;

/// Why a waiting contact's deadline fires.
const ABANDON: u8 = 0;
const TIMEOUT: u8 = 1;
const NO_AGENTS: u8 = 2;
/// The caller takes the offer of a callback (presses a key) and leaves the queue.
const KEY: u8 = 3;
/// When waiting callers are offered a callback, and the share that accept it.
const CALLBACK_OFFER_AFTER: Millis = 2 * MINUTE;
const CALLBACK_ACCEPT: f64 = 0.3;

const QUEUE_NAMES: [&str; 5] = ["sales", "support", "billing", "retention", "tech"];
/// Offsets (minutes) the RFC 3339 timestamps with an offset rotate through.
const OFFSETS: [i64; 4] = [180, -300, 330, 60];

/// What a queue is like.
struct Profile {
    talk_factor: f64,
    wrapup: bool,
    transfers: bool,
    /// Channel shares: voice, chat, email, callback.
    mix: [f64; 4],
}

fn profile(i: usize) -> Profile {
    let (talk_factor, wrapup, transfers, mix) = match i {
        0 => (0.9, true, false, [0.85, 0.15, 0.0, 0.0]),
        1 => (1.15, true, false, [0.65, 0.25, 0.10, 0.0]),
        2 => (1.0, false, true, [0.75, 0.0, 0.20, 0.05]),
        3 => (1.3, false, true, [0.92, 0.0, 0.0, 0.08]),
        4 => (1.4, false, true, [0.60, 0.30, 0.10, 0.0]),
        _ => (1.0, false, true, [0.80, 0.15, 0.05, 0.0]),
    };
    Profile {
        talk_factor,
        wrapup,
        transfers,
        mix,
    }
}

impl Profile {
    /// Mean seconds an agent is occupied per answered contact.
    fn aht_s(&self) -> f64 {
        let mut s = 0.0;
        for c in 0..4 {
            let ring = (RING_S[c].0 + RING_S[c].1) / 2.0;
            let hold = if c as u8 == VOICE || c as u8 == CALLBACK {
                HOLD_SHARE * HOLD_MEAN_S
            } else {
                0.0
            };
            s += self.mix[c] * (TALK_MEAN_S[c] * self.talk_factor + hold + ring);
        }
        if self.wrapup {
            s += WRAPUP_MEAN_S;
        }
        s
    }
}

fn zipf_weights(n: usize) -> Vec<f64> {
    let raw: Vec<f64> = (0..n).map(|i| 1.0 / ((i + 1) as f64).powf(0.9)).collect();
    let sum: f64 = raw.iter().sum();
    raw.into_iter().map(|w| w / sum).collect()
}

fn queue_name(i: usize) -> String {
    match QUEUE_NAMES.get(i) {
        Some(n) => (*n).to_string(),
        None => format!("queue-{:02}", i + 1),
    }
}

/// The intraday shape before normalisation, by UTC hour of day.
fn raw_shape(hour: f64) -> f64 {
    let bump = |mu: f64, sigma: f64| {
        let d = (hour - mu).abs();
        let d = d.min(24.0 - d);
        (-0.5 * (d / sigma) * (d / sigma)).exp()
    };
    0.05 + bump(10.5, 1.25) + 0.85 * bump(14.5, 1.5) + 0.3 * bump(19.0, 2.0)
}

fn splitmix(mut x: u64) -> u64 {
    x = x.wrapping_add(0x9e37_79b9_7f4a_7c15);
    x = (x ^ (x >> 30)).wrapping_mul(0xbf58_476d_1ce4_e5b9);
    x = (x ^ (x >> 27)).wrapping_mul(0x94d0_49bb_1331_11eb);
    x ^ (x >> 31)
}

// ---------------------------------------------------------------------------------------------
// State.

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum CState {
    Free,
    Waiting,
    Ringing(u32),
    Talking(u32),
    Holding(u32),
    /// Between a transfer and the offer in the target queue.
    Transit,
}

struct Contact {
    no: u64,
    gen: u32,
    state: CState,
    queue: u16,
    channel: u8,
    deadline_kind: u8,
    transfers: u8,
    offered_at: Millis,
    wait: Millis,
    talk_left: Millis,
    hold: Millis,
    ends_in_transfer: bool,
}

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum AState {
    Out,
    Idle,
    /// Chosen for a contact whose phone is ringing (still shown as available).
    Reserved,
    Busy,
    Wrapup,
    NotReady(u8),
}

fn visible(s: AState) -> (AgentState, u8) {
    match s {
        AState::Out => (AgentState::LoggedOut, u8::MAX),
        AState::Idle | AState::Reserved => (AgentState::Available, u8::MAX),
        AState::Busy => (AgentState::Busy, u8::MAX),
        AState::Wrapup => (AgentState::Wrapup, u8::MAX),
        AState::NotReady(r) => (AgentState::NotReady, r),
    }
}

struct Agent {
    name: String,
    /// First queue first.
    queues: Vec<u16>,
    queues_json: String,
    /// Logged in while the roster's share of its first queue exceeds this. Ranks are spread
    /// evenly over each queue's agents, so the roster logs in exactly its share.
    rank: f64,
    /// Never logs in (understaffed scenario).
    absent: bool,
    state: AState,
    /// Changes with every state change; timers tied to a state carry it.
    token: u32,
    /// Changes with every login; the break timer chain carries it.
    chain: u32,
    idle_since: Millis,
    pending_break: Option<u8>,
    pending_logout: bool,
    outage: bool,
    /// The contact whose `contact.wrapup_ended` ends this wrap-up.
    acw: Option<(u64, u16)>,
    lunch_day: i64,
    shown: (AgentState, u8),
    shown_at: Millis,
    flush_pending: bool,
}

struct QueueModel {
    name: String,
    wrapup: bool,
    transfers: bool,
    /// Cumulative channel shares.
    mix: [f64; 4],
    talk_factor: f64,
    weight: f64,
    /// Peak arrival rate per millisecond.
    peak_per_ms: f64,
    /// Offered load at the peak, Erlangs.
    peak_erlangs: f64,
    idle: BTreeSet<(Millis, u32)>,
    waiting: VecDeque<(u32, u32)>,
    logged_in: u32,
}

#[derive(Clone, Copy, Debug)]
enum AgentTimer {
    BreakStart,
    BreakEnd,
    AcwEnd,
    Relogin,
    OutageReturn,
}

#[derive(Clone, Copy, Debug)]
enum Timer {
    Arrive(u16),
    Deadline(u32, u32),
    Answer(u32, u32),
    Hold(u32, u32),
    Resume(u32, u32),
    End(u32, u32),
    Reoffer(u32, u32, u16),
    /// Agent, token (or chain for `BreakStart`), kind.
    Agent(u32, u32, AgentTimer),
    Roster(u32),
    Flush(u32),
    OutageStart,
    OutageEnd,
    /// Contact number, queue, scores (csat, nps, ces; `u8::MAX` = not answered).
    Survey(u64, u16, [u8; 3]),
}

struct Scheduled {
    at: Millis,
    seq: u64,
    timer: Timer,
}

impl PartialEq for Scheduled {
    fn eq(&self, o: &Self) -> bool {
        (self.at, self.seq) == (o.at, o.seq)
    }
}
impl Eq for Scheduled {}
impl PartialOrd for Scheduled {
    fn partial_cmp(&self, o: &Self) -> Option<Ordering> {
        Some(self.cmp(o))
    }
}
impl Ord for Scheduled {
    /// Reversed: the heap pops the earliest (then the first scheduled).
    fn cmp(&self, o: &Self) -> Ordering {
        o.at.cmp(&self.at).then(o.seq.cmp(&self.seq))
    }
}

/// Writes the envelope; ids and timestamp spellings rotate with the event counter.
struct Encoder {
    prefix: String,
    next: u64,
}

impl Encoder {
    fn begin(&mut self, t: Millis, kind: &str) -> String {
        let n = self.next;
        self.next += 1;
        let mut s = String::with_capacity(224);
        s.push('{');
        if n % 2 == 0 {
            s.push_str("\"v\":1,");
        }
        let _ = write!(
            s,
            "\"id\":\"e-{}-{}\",\"type\":\"{}\",\"ts\":",
            self.prefix, n, kind
        );
        match n % 3 {
            0 => {
                let _ = write!(s, "{t}");
            }
            1 => push_rfc3339(&mut s, t, None),
            _ => push_rfc3339(&mut s, t, Some(OFFSETS[(n / 3 % 4) as usize])),
        }
        s
    }

    fn contact_id(&self, s: &mut String, no: u64) {
        let _ = write!(s, ",\"contact_id\":\"c-{}-{}\"", self.prefix, no);
    }
}

fn str_field(s: &mut String, name: &str, value: &str) {
    s.push_str(",\"");
    s.push_str(name);
    s.push_str("\":\"");
    s.push_str(value);
    s.push('"');
}

/// Year, month, day of a day number since 1970-01-01 (proleptic Gregorian).
fn civil_from_days(days: i64) -> (i64, i64, i64) {
    let z = days + 719_468;
    let era = z.div_euclid(146_097);
    let doe = z.rem_euclid(146_097);
    let yoe = (doe - doe / 1460 + doe / 36_524 - doe / 146_096) / 365;
    let doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    let mp = (5 * doy + 2) / 153;
    let d = doy - (153 * mp + 2) / 5 + 1;
    let m = if mp < 10 { mp + 3 } else { mp - 9 };
    (yoe + era * 400 + i64::from(m <= 2), m, d)
}

/// `"YYYY-MM-DDTHH:MM:SS.mmmZ"` or with `±HH:MM` (offset in minutes), quoted.
fn push_rfc3339(s: &mut String, t: Millis, offset_min: Option<i64>) {
    let local = t + offset_min.unwrap_or(0) * MINUTE;
    let (y, mo, d) = civil_from_days(local.div_euclid(DAY));
    let ms = local.rem_euclid(DAY);
    let (h, mi, sec, milli) = (ms / HOUR, ms / MINUTE % 60, ms / SECOND % 60, ms % SECOND);
    let _ = write!(s, "\"{y:04}-{mo:02}-{d:02}T{h:02}:{mi:02}:{sec:02}");
    if milli != 0 {
        let _ = write!(s, ".{milli:03}");
    }
    match offset_min {
        None => s.push('Z'),
        Some(o) => {
            let sign = if o < 0 { '-' } else { '+' };
            let _ = write!(s, "{sign}{:02}:{:02}", o.abs() / 60, o.abs() % 60);
        }
    }
    s.push('"');
}

fn push(out: &mut Vec<SimEvent>, key: &str, t: Millis, mut json: String) {
    json.push('}');
    out.push(SimEvent {
        key: key.to_string(),
        ts_ms: t,
        json,
    });
}

/// The traffic simulator; see the module documentation.
pub struct Simulator {
    cfg: SimConfig,
    rng: SmallRng,
    enc: Encoder,
    now: Millis,
    heap: BinaryHeap<Scheduled>,
    seq: u64,
    shape_peak: f64,
    queues: Vec<QueueModel>,
    agents: Vec<Agent>,
    contacts: Vec<Contact>,
    free_contacts: Vec<u32>,
    next_contact: u64,
    outage_active: bool,
}

impl Simulator {
    pub fn new(cfg: SimConfig) -> Self {
        let mut rng = SmallRng::seed_from_u64(cfg.seed);
        let prefix = format!(
            "{:08x}",
            splitmix(cfg.seed ^ splitmix(cfg.start_ms as u64)) as u32
        );
        let shape_peak = (0..24 * 60)
            .map(|m| raw_shape(m as f64 / 60.0))
            .fold(0.0, f64::max);
        let nq = cfg.queues.min(MAX_QUEUES);
        let weights = zipf_weights(nq);
        let rate = if cfg.rate.is_finite() && cfg.rate > 0.0 {
            cfg.rate
        } else {
            0.0
        };
        let queues: Vec<QueueModel> = (0..nq)
            .map(|i| {
                let p = profile(i);
                let mut mix = p.mix;
                for c in 1..4 {
                    mix[c] += mix[c - 1];
                }
                let surge = if i == 0 && cfg.scenario == Scenario::Understaffed {
                    SURGE
                } else {
                    1.0
                };
                QueueModel {
                    name: queue_name(i),
                    wrapup: p.wrapup,
                    transfers: p.transfers,
                    mix,
                    talk_factor: p.talk_factor,
                    weight: weights[i],
                    peak_per_ms: surge * rate * weights[i] / 1000.0,
                    peak_erlangs: rate * weights[i] * p.aht_s(),
                    idle: BTreeSet::new(),
                    waiting: VecDeque::new(),
                    logged_in: 0,
                }
            })
            .collect();
        let agents = if nq == 0 {
            Vec::new()
        } else {
            build_agents(&cfg, &queues, &mut rng)
        };
        let mut sim = Simulator {
            now: cfg.start_ms,
            rng,
            enc: Encoder { prefix, next: 0 },
            heap: BinaryHeap::new(),
            seq: 0,
            shape_peak,
            queues,
            agents,
            contacts: Vec::new(),
            free_contacts: Vec::new(),
            next_contact: 0,
            outage_active: false,
            cfg,
        };
        let start = sim.cfg.start_ms;
        for q in 0..sim.queues.len() {
            sim.schedule_arrival(q as u16, start);
        }
        for a in 0..sim.agents.len() {
            let at = start + sim.rng.random_range(0..20 * SECOND);
            sim.schedule(at, Timer::Roster(a as u32));
        }
        if sim.cfg.scenario == Scenario::Outage {
            sim.schedule(start + OUTAGE_FROM, Timer::OutageStart);
            sim.schedule(start + OUTAGE_UNTIL, Timer::OutageEnd);
        }
        sim
    }

    /// Appends to `out`, in non-decreasing ts order, every event with ts < until_ms that has
    /// not been emitted yet.
    pub fn advance(&mut self, until_ms: i64, out: &mut Vec<SimEvent>) {
        while self.heap.peek().is_some_and(|s| s.at < until_ms) {
            let Some(Scheduled { at, timer, .. }) = self.heap.pop() else {
                break;
            };
            self.now = at;
            self.handle(timer, at, out);
        }
    }

    pub fn queue_names(&self) -> Vec<String> {
        self.queues.iter().map(|q| q.name.clone()).collect()
    }

    /// Queues whose agents do after-call work (`contact.ended` with `wrapup: true`, then
    /// `contact.wrapup_ended`). A monitor config should set `wrapup = true` for these (or for
    /// none): transfers start only in the other queues.
    pub fn wrapup_queues(&self) -> Vec<String> {
        self.queues
            .iter()
            .filter(|q| q.wrapup)
            .map(|q| q.name.clone())
            .collect()
    }

    pub fn config(&self) -> &SimConfig {
        &self.cfg
    }

    /// The simulated instant of the next event, if any (events are emitted at such instants).
    pub fn next_event_at(&self) -> Option<i64> {
        self.heap.peek().map(|s| s.at)
    }

    /// Events emitted so far.
    pub fn events_emitted(&self) -> u64 {
        self.enc.next
    }

    // -----------------------------------------------------------------------------------------

    fn schedule(&mut self, at: Millis, timer: Timer) {
        debug_assert!(at >= self.now);
        self.seq += 1;
        self.heap.push(Scheduled {
            at,
            seq: self.seq,
            timer,
        });
    }

    fn uniform_ms(&mut self, lo_s: f64, hi_s: f64) -> Millis {
        (self.rng.random_range(lo_s..hi_s) * 1000.0) as Millis
    }

    fn exp_ms(&mut self, mean_s: f64) -> Millis {
        let e: f64 = self.rng.sample(Exp1);
        (e * mean_s * 1000.0) as Millis
    }

    fn lognormal_ms(&mut self, mean_s: f64, cv: f64) -> Millis {
        let s2 = (1.0 + cv * cv).ln();
        let mu = mean_s.ln() - s2 / 2.0;
        let z: f64 = self.rng.sample(StandardNormal);
        ((mu + s2.sqrt() * z).exp() * 1000.0) as Millis
    }

    /// The instant on the business day's clock ([`SimConfig::day_shift_ms`]).
    fn business_ms(&self, t: Millis) -> Millis {
        t.saturating_add(self.cfg.day_shift_ms)
    }

    /// The intraday shape at `t`, 0..=1 (1 with [`SimConfig::flat`]).
    fn shape(&self, t: Millis) -> f64 {
        if self.cfg.flat {
            return 1.0;
        }
        raw_shape(self.business_ms(t).rem_euclid(DAY) as f64 / HOUR as f64) / self.shape_peak
    }

    /// Share of queue `q`'s agents the roster wants logged in at `t`: what square-root staffing
    /// asks for at the load of the moment, over what it asks for at the peak (plus 10 % slack).
    /// Small loads need proportionally more agents, so a quiet night keeps more than the
    /// traffic's share.
    fn roster_share(&self, q: u16, t: Millis) -> f64 {
        let peak = self.queues[q as usize].peak_erlangs;
        (1.1 * staffing(peak * self.shape(t)) / staffing(peak)).min(1.0)
    }

    fn schedule_arrival(&mut self, q: u16, from: Millis) {
        let per_ms = self.queues[q as usize].peak_per_ms;
        if per_ms > 0.0 {
            let e: f64 = self.rng.sample(Exp1);
            let gap = (e / per_ms).min(DAY as f64) as Millis;
            self.schedule(from + gap.max(1), Timer::Arrive(q));
        }
    }

    fn handle(&mut self, timer: Timer, t: Millis, out: &mut Vec<SimEvent>) {
        match timer {
            Timer::Arrive(q) => {
                self.schedule_arrival(q, t);
                // Understaffed: the first queue runs a campaign — more than its peak traffic
                // around the clock (see `Simulator::new`) — while its roster follows the usual
                // day and half of it is absent.
                let surge = q == 0 && self.cfg.scenario == Scenario::Understaffed;
                if surge || self.rng.random::<f64>() < self.shape(t) {
                    self.arrive(q, t, out);
                }
            }
            Timer::Deadline(slot, gen) => self.deadline(slot, gen, t, out),
            Timer::Answer(slot, gen) => self.answer(slot, gen, t, out),
            Timer::Hold(slot, gen) => self.hold(slot, gen, t, out),
            Timer::Resume(slot, gen) => self.resume(slot, gen, t, out),
            Timer::End(slot, gen) => self.end(slot, gen, t, out),
            Timer::Reoffer(slot, gen, q) => {
                let c = &self.contacts[slot as usize];
                if c.gen == gen && c.state == CState::Transit {
                    self.offer(slot, q, t, out);
                }
            }
            Timer::Agent(a, token, kind) => self.agent_timer(a as usize, token, kind, t, out),
            Timer::Roster(a) => self.roster(a as usize, t, out),
            Timer::Flush(a) => {
                self.agents[a as usize].flush_pending = false;
                self.show(a as usize, t, out);
            }
            Timer::OutageStart => self.outage_start(t, out),
            Timer::OutageEnd => self.outage_end(t),
            Timer::Survey(no, q, scores) => self.survey(no, q, scores, t, out),
        }
    }

    // ---- contacts ---------------------------------------------------------------------------

    fn arrive(&mut self, q: u16, t: Millis, out: &mut Vec<SimEvent>) {
        let u: f64 = self.rng.random();
        let mix = &self.queues[q as usize].mix;
        let channel = (0..4u8).find(|&c| u < mix[c as usize]).unwrap_or(VOICE);
        let no = self.next_contact;
        self.next_contact += 1;
        let contact = Contact {
            no,
            gen: 0,
            state: CState::Free,
            queue: q,
            channel,
            deadline_kind: ABANDON,
            transfers: 0,
            offered_at: t,
            wait: 0,
            talk_left: 0,
            hold: 0,
            ends_in_transfer: false,
        };
        let slot = match self.free_contacts.pop() {
            Some(slot) => {
                let gen = self.contacts[slot as usize].gen;
                self.contacts[slot as usize] = Contact { gen, ..contact };
                slot
            }
            None => {
                self.contacts.push(contact);
                (self.contacts.len() - 1) as u32
            }
        };
        self.offer(slot, q, t, out);
    }

    fn free_contact(&mut self, slot: u32) {
        let c = &mut self.contacts[slot as usize];
        c.state = CState::Free;
        c.gen = c.gen.wrapping_add(1);
        self.free_contacts.push(slot);
    }

    /// The contact enters queue `q`: `contact.offered`, its deadline, then routing.
    fn offer(&mut self, slot: u32, q: u16, t: Millis, out: &mut Vec<SimEvent>) {
        let channel = self.contacts[slot as usize].channel;
        let patience = match channel {
            VOICE if self.rng.random_bool(0.08) => self.uniform_ms(0.5, 5.0),
            // Some callers hold on for a long time (they meet the 10-minute overflow).
            // The rest listen to the welcome message before they give up.
            VOICE if self.rng.random_bool(0.12) => 8 * SECOND + self.exp_ms(600.0),
            VOICE => 8 * SECOND + self.exp_ms(90.0),
            CHAT if self.rng.random_bool(0.03) => self.uniform_ms(1.0, 5.0),
            CHAT => 5 * SECOND + self.exp_ms(240.0),
            // E-mail and callbacks wait until routing gives up.
            _ => Millis::MAX,
        };
        let (kind, wait_limit) = if self.queues[q as usize].logged_in == 0 {
            let announce = self.uniform_ms(3.0, 8.0);
            if patience < announce {
                (ABANDON, patience)
            } else {
                (NO_AGENTS, announce)
            }
        } else if channel == VOICE
            && patience > CALLBACK_OFFER_AFTER
            && self.rng.random_bool(CALLBACK_ACCEPT)
        {
            (KEY, CALLBACK_OFFER_AFTER)
        } else if patience < OVERFLOW_AFTER[channel as usize] {
            (ABANDON, patience)
        } else {
            (TIMEOUT, OVERFLOW_AFTER[channel as usize])
        };
        let customer = splitmix(self.cfg.seed ^ self.contacts[slot as usize].no);
        let gen = {
            let c = &mut self.contacts[slot as usize];
            // A new generation: entries and timers of an earlier offer no longer match.
            c.gen = c.gen.wrapping_add(1);
            c.queue = q;
            c.state = CState::Waiting;
            c.offered_at = t;
            c.deadline_kind = kind;
            c.gen
        };
        let no = self.contacts[slot as usize].no;
        let mut s = self.enc.begin(t, "contact.offered");
        self.enc.contact_id(&mut s, no);
        let qname = &self.queues[q as usize].name;
        str_field(&mut s, "queue", qname);
        if channel != VOICE || customer & 1 == 0 {
            str_field(&mut s, "channel", CHANNELS[channel as usize]);
        }
        if customer % 10 < 7 {
            let _ = match channel {
                VOICE | CALLBACK => write!(
                    s,
                    ",\"customer\":\"+1555{:07}\"",
                    (customer >> 8) % 10_000_000
                ),
                _ => write!(
                    s,
                    ",\"customer\":\"crm-{:06}\"",
                    (customer >> 8) % 1_000_000
                ),
            };
        }
        push(out, qname, t, s);
        self.schedule(t + wait_limit.max(1), Timer::Deadline(slot, gen));
        let agent = self.queues[q as usize]
            .idle
            .iter()
            .map(|&(_, a)| a as usize)
            .find(|&a| self.may_take(a, q));
        match agent {
            Some(a) => self.assign(slot, a, t, out),
            None => {
                let w = &mut self.queues[q as usize].waiting;
                // Drop entries that left the queue (they are all at the front after a while).
                while let Some(&(s, g)) = w.front() {
                    let c = &self.contacts[s as usize];
                    if c.gen == g && c.state == CState::Waiting {
                        break;
                    }
                    w.pop_front();
                }
                w.push_back((slot, gen));
            }
        }
    }

    /// Whether idle agent `a` takes a contact of `q` now: always from its first queue, from its
    /// second only while its first queue keeps a reserve of other idle agents (2 + 2·√ of those
    /// logged in).
    fn may_take(&self, a: usize, q: u16) -> bool {
        let first = &self.queues[self.agents[a].queues[0] as usize];
        let others_idle = first.idle.len().saturating_sub(1) as f64;
        self.agents[a].queues[0] == q
            || others_idle >= 2.0 + 2.0 * f64::from(first.logged_in).sqrt()
    }

    /// The oldest contact still waiting in `q`, removed from the queue.
    fn pop_waiting(&mut self, q: u16) -> Option<u32> {
        let w = &mut self.queues[q as usize].waiting;
        while let Some((s, g)) = w.pop_front() {
            let c = &self.contacts[s as usize];
            if c.gen == g && c.state == CState::Waiting {
                return Some(s);
            }
        }
        None
    }

    /// Agent `a` (available) is offered the contact: its phone rings.
    fn assign(&mut self, slot: u32, a: usize, t: Millis, out: &mut Vec<SimEvent>) {
        self.set_state(a, AState::Reserved, t, out);
        let c = &mut self.contacts[slot as usize];
        c.state = CState::Ringing(a as u32);
        let (gen, channel) = (c.gen, c.channel);
        let (lo, hi) = RING_S[channel as usize];
        let ring = self.uniform_ms(lo, hi);
        self.schedule(t + ring, Timer::Answer(slot, gen));
    }

    fn deadline(&mut self, slot: u32, gen: u32, t: Millis, out: &mut Vec<SimEvent>) {
        let c = &self.contacts[slot as usize];
        if c.gen != gen {
            return;
        }
        let ringing = match c.state {
            CState::Waiting => None,
            CState::Ringing(a) if c.deadline_kind == ABANDON => Some(a as usize),
            _ => return,
        };
        let (no, q, kind) = (c.no, c.queue, c.deadline_kind);
        let mut s = self.enc.begin(
            t,
            if kind == ABANDON {
                "contact.abandoned"
            } else {
                "contact.overflowed"
            },
        );
        self.enc.contact_id(&mut s, no);
        let qname = &self.queues[q as usize].name;
        str_field(&mut s, "queue", qname);
        match kind {
            TIMEOUT => str_field(&mut s, "reason", "timeout"),
            NO_AGENTS => str_field(&mut s, "reason", "no_agents"),
            KEY => str_field(&mut s, "reason", "key"),
            _ => {}
        }
        push(out, qname, t, s);
        if kind == KEY {
            // The callback the caller asked for enters the same queue.
            let c = &mut self.contacts[slot as usize];
            c.channel = CALLBACK;
            c.state = CState::Transit;
            let delay = self.uniform_ms(1.0, 3.0);
            self.schedule(t + delay, Timer::Reoffer(slot, gen, q));
            return;
        }
        self.free_contact(slot);
        if let Some(a) = ringing {
            self.agent_free(a, t, out);
        }
    }

    fn answer(&mut self, slot: u32, gen: u32, t: Millis, out: &mut Vec<SimEvent>) {
        let c = &self.contacts[slot as usize];
        let CState::Ringing(a) = c.state else {
            return;
        };
        if c.gen != gen {
            return;
        }
        let (no, q, channel, offered_at, transfers) =
            (c.no, c.queue, c.channel, c.offered_at, c.transfers);
        let a = a as usize;
        let mut s = self.enc.begin(t, "contact.answered");
        self.enc.contact_id(&mut s, no);
        let qname = &self.queues[q as usize].name;
        str_field(&mut s, "queue", qname);
        str_field(&mut s, "agent", &self.agents[a].name);
        push(out, qname, t, s);
        self.set_state(a, AState::Busy, t, out);

        let qm = &self.queues[q as usize];
        let (factor, may_transfer) = (qm.talk_factor, qm.transfers);
        let talk = self
            .lognormal_ms(TALK_MEAN_S[channel as usize] * factor, 0.8)
            .max(10 * SECOND);
        let hold = (channel == VOICE || channel == CALLBACK) && self.rng.random_bool(HOLD_SHARE);
        let ends_in_transfer = may_transfer
            && self.queues.len() > 1
            && transfers == 0
            && self.rng.random_bool(TRANSFER_SHARE);
        let c = &mut self.contacts[slot as usize];
        c.state = CState::Talking(a as u32);
        c.wait = t - offered_at;
        c.ends_in_transfer = ends_in_transfer;
        if hold {
            let before = (talk as f64 * self.rng.random_range(0.2..0.7)) as Millis;
            let hold_for = self.lognormal_ms(HOLD_MEAN_S, 0.9).max(5 * SECOND);
            let c = &mut self.contacts[slot as usize];
            c.talk_left = (talk - before).max(SECOND);
            c.hold = hold_for;
            self.schedule(t + before.max(SECOND), Timer::Hold(slot, gen));
        } else {
            self.schedule(t + talk, Timer::End(slot, gen));
        }
    }

    /// Writes a contact event by the agent; `queue` is named for every other contact.
    fn agent_contact_event(&mut self, kind: &str, slot: u32, a: usize, t: Millis) -> String {
        let c = &self.contacts[slot as usize];
        let (no, q) = (c.no, c.queue);
        let mut s = self.enc.begin(t, kind);
        self.enc.contact_id(&mut s, no);
        str_field(&mut s, "agent", &self.agents[a].name);
        if no % 2 == 0 {
            str_field(&mut s, "queue", &self.queues[q as usize].name);
        }
        s
    }

    fn hold(&mut self, slot: u32, gen: u32, t: Millis, out: &mut Vec<SimEvent>) {
        let c = &self.contacts[slot as usize];
        let CState::Talking(a) = c.state else {
            return;
        };
        if c.gen != gen {
            return;
        }
        let (q, hold) = (c.queue, c.hold);
        let s = self.agent_contact_event("contact.held", slot, a as usize, t);
        push(out, &self.queues[q as usize].name, t, s);
        self.contacts[slot as usize].state = CState::Holding(a);
        self.schedule(t + hold, Timer::Resume(slot, gen));
    }

    fn resume(&mut self, slot: u32, gen: u32, t: Millis, out: &mut Vec<SimEvent>) {
        let c = &self.contacts[slot as usize];
        let CState::Holding(a) = c.state else {
            return;
        };
        if c.gen != gen {
            return;
        }
        let (q, left) = (c.queue, c.talk_left);
        let s = self.agent_contact_event("contact.resumed", slot, a as usize, t);
        push(out, &self.queues[q as usize].name, t, s);
        self.contacts[slot as usize].state = CState::Talking(a);
        self.schedule(t + left, Timer::End(slot, gen));
    }

    fn end(&mut self, slot: u32, gen: u32, t: Millis, out: &mut Vec<SimEvent>) {
        let c = &self.contacts[slot as usize];
        let CState::Talking(a) = c.state else {
            return;
        };
        if c.gen != gen {
            return;
        }
        let a = a as usize;
        let (no, q, wait) = (c.no, c.queue, c.wait);
        if c.ends_in_transfer {
            let target = self.transfer_target(q);
            let mut s = self.agent_contact_event("contact.transferred", slot, a, t);
            match target {
                Some(tq) => str_field(&mut s, "to_queue", &self.queues[tq as usize].name),
                None => {
                    let _ = write!(s, ",\"to_agent\":\"sup-{}\"", no % 5 + 1);
                }
            }
            push(out, &self.queues[q as usize].name, t, s);
            match target {
                Some(tq) => {
                    let c = &mut self.contacts[slot as usize];
                    c.state = CState::Transit;
                    c.transfers += 1;
                    let delay = self.uniform_ms(1.0, 4.0);
                    self.schedule(t + delay, Timer::Reoffer(slot, gen, tq));
                }
                None => self.free_contact(slot),
            }
            // Transfers start only in queues without wrap-up.
            self.agent_free(a, t, out);
            return;
        }
        let wrapup = self.queues[q as usize].wrapup;
        let resolved = self.rng.random_bool(RESOLVED_SHARE);
        let mut s = self.agent_contact_event("contact.ended", slot, a, t);
        let _ = write!(s, ",\"wrapup\":{wrapup}");
        if no % 3 != 0 {
            let _ = write!(s, ",\"resolved\":{resolved}");
        }
        push(out, &self.queues[q as usize].name, t, s);
        self.free_contact(slot);
        if self.rng.random_bool(SURVEY_SHARE) {
            let scores = self.survey_scores(wait, resolved);
            let delay = 30 * SECOND + self.exp_ms(300.0);
            self.schedule(t + delay, Timer::Survey(no, q, scores));
        }
        if wrapup {
            self.agents[a].acw = Some((no, q));
            self.set_state(a, AState::Wrapup, t, out);
            let acw = self.lognormal_ms(WRAPUP_MEAN_S, 0.4).max(5 * SECOND);
            let token = self.agents[a].token;
            self.schedule(t + acw, Timer::Agent(a as u32, token, AgentTimer::AcwEnd));
        } else {
            self.agent_free(a, t, out);
        }
    }

    /// Another queue (by volume) for 80 % of the transfers, else `None` (to a supervisor).
    fn transfer_target(&mut self, from: u16) -> Option<u16> {
        if self.rng.random_bool(0.2) {
            return None;
        }
        let total: f64 = self
            .queues
            .iter()
            .enumerate()
            .filter(|(i, _)| *i != from as usize)
            .map(|(_, q)| q.weight)
            .sum();
        let mut u = self.rng.random::<f64>() * total;
        let mut last = None;
        for (i, q) in self.queues.iter().enumerate() {
            if i == from as usize {
                continue;
            }
            last = Some(i as u16);
            u -= q.weight;
            if u < 0.0 {
                break;
            }
        }
        last
    }

    fn survey_scores(&mut self, wait: Millis, resolved: bool) -> [u8; 3] {
        let mut mood = 0.0;
        if wait > 60 * SECOND {
            mood -= 0.7;
        }
        if wait > 180 * SECOND {
            mood -= 0.8;
        }
        if !resolved {
            mood -= 1.5;
        }
        let mut normal = || -> f64 { self.rng.sample(StandardNormal) };
        let csat = (4.3 + mood + 0.9 * normal()).round().clamp(1.0, 5.0);
        let nps = (csat * 2.0 - 0.3 + 1.2 * normal()).round().clamp(0.0, 10.0);
        let ces = (csat * 1.3 + 0.4 + 0.8 * normal()).round().clamp(1.0, 7.0);
        let (csat, nps, ces) = (csat as u8, nps as u8, ces as u8);
        let none = u8::MAX;
        let u: f64 = self.rng.random();
        if u < 0.6 {
            [csat, nps, ces]
        } else if u < 0.8 {
            [csat, none, none]
        } else if u < 0.9 {
            [csat, nps, none]
        } else {
            [none, nps, ces]
        }
    }

    fn survey(&mut self, no: u64, q: u16, scores: [u8; 3], t: Millis, out: &mut Vec<SimEvent>) {
        let mut s = self.enc.begin(t, "survey.submitted");
        self.enc.contact_id(&mut s, no);
        let qname = &self.queues[q as usize].name;
        if self.rng.random_bool(0.5) {
            str_field(&mut s, "queue", qname);
        }
        for (name, v) in ["csat", "nps", "ces"].iter().zip(scores) {
            if v != u8::MAX {
                let _ = write!(s, ",\"{name}\":{v}");
            }
        }
        push(out, qname, t, s);
    }

    // ---- agents -----------------------------------------------------------------------------

    /// Changes an agent's state (keeping the idle sets and login counts) and shows it.
    fn set_state(&mut self, a: usize, new: AState, t: Millis, out: &mut Vec<SimEvent>) {
        let old = self.agents[a].state;
        let ag = &mut self.agents[a];
        if old == AState::Idle {
            for &q in &ag.queues {
                self.queues[q as usize]
                    .idle
                    .remove(&(ag.idle_since, a as u32));
            }
        }
        if new == AState::Idle {
            ag.idle_since = t;
            for &q in &ag.queues {
                self.queues[q as usize].idle.insert((t, a as u32));
            }
        }
        if (old == AState::Out) != (new == AState::Out) {
            for &q in &ag.queues {
                let n = &mut self.queues[q as usize].logged_in;
                if new == AState::Out {
                    *n -= 1;
                } else {
                    *n += 1;
                }
            }
        }
        ag.state = new;
        ag.token = ag.token.wrapping_add(1);
        self.show(a, t, out);
    }

    /// Emits the agent's visible state if it changed; never twice in one millisecond.
    fn show(&mut self, a: usize, t: Millis, out: &mut Vec<SimEvent>) {
        let ag = &self.agents[a];
        let vis = visible(ag.state);
        if vis == ag.shown {
            return;
        }
        if t <= ag.shown_at {
            if !ag.flush_pending {
                let at = ag.shown_at + 1;
                self.agents[a].flush_pending = true;
                self.schedule(at, Timer::Flush(a as u32));
            }
            return;
        }
        let mut s = self.enc.begin(t, "agent.state");
        let ag = &self.agents[a];
        str_field(&mut s, "agent", &ag.name);
        str_field(&mut s, "state", vis.0.as_str());
        if vis.0 == AgentState::NotReady {
            str_field(&mut s, "reason", REASONS[vis.1 as usize]);
        }
        s.push_str(",\"queues\":");
        s.push_str(&ag.queues_json);
        push(out, &self.queues[ag.queues[0] as usize].name, t, s);
        let ag = &mut self.agents[a];
        ag.shown = vis;
        ag.shown_at = t;
    }

    /// The agent finished what it was doing: outage, logout, a pending break, or available.
    fn agent_free(&mut self, a: usize, t: Millis, out: &mut Vec<SimEvent>) {
        let ag = &mut self.agents[a];
        if ag.outage {
            ag.pending_break = None;
            self.set_state(a, AState::NotReady(OUTAGE), t, out);
        } else if ag.pending_logout {
            self.logout(a, t, out);
        } else if let Some(r) = ag.pending_break.take() {
            self.start_break(a, r, t, out);
        } else {
            self.set_state(a, AState::Idle, t, out);
            let queues = self.agents[a].queues.clone();
            for q in queues {
                if !self.may_take(a, q) {
                    continue;
                }
                if let Some(slot) = self.pop_waiting(q) {
                    self.assign(slot, a, t, out);
                    break;
                }
            }
        }
    }

    fn login(&mut self, a: usize, t: Millis, out: &mut Vec<SimEvent>) {
        let ag = &mut self.agents[a];
        ag.chain = ag.chain.wrapping_add(1);
        ag.pending_break = None;
        ag.pending_logout = false;
        let chain = ag.chain;
        if self.outage_active && self.rng.random_bool(OUTAGE_SHARE) {
            self.agents[a].outage = true;
        }
        let first = 10 * MINUTE + self.exp_ms(55.0 * 60.0);
        self.schedule(
            t + first,
            Timer::Agent(a as u32, chain, AgentTimer::BreakStart),
        );
        self.agent_free(a, t, out);
    }

    fn logout(&mut self, a: usize, t: Millis, out: &mut Vec<SimEvent>) {
        let ag = &mut self.agents[a];
        ag.pending_break = None;
        ag.pending_logout = false;
        ag.outage = false;
        ag.acw = None;
        ag.chain = ag.chain.wrapping_add(1);
        self.set_state(a, AState::Out, t, out);
    }

    fn start_break(&mut self, a: usize, r: u8, t: Millis, out: &mut Vec<SimEvent>) {
        let (lo, hi) = if r == LUNCH {
            (30.0, 45.0)
        } else {
            let b = BREAKS[r as usize];
            (b.1, b.2)
        };
        let dur = self.uniform_ms(lo * 60.0, hi * 60.0);
        if r == RELOGIN {
            self.logout(a, t, out);
            let token = self.agents[a].token;
            self.schedule(t + dur, Timer::Agent(a as u32, token, AgentTimer::Relogin));
        } else {
            self.set_state(a, AState::NotReady(r), t, out);
            let token = self.agents[a].token;
            self.schedule(t + dur, Timer::Agent(a as u32, token, AgentTimer::BreakEnd));
        }
    }

    fn agent_timer(
        &mut self,
        a: usize,
        token: u32,
        kind: AgentTimer,
        t: Millis,
        out: &mut Vec<SimEvent>,
    ) {
        let ag = &self.agents[a];
        match kind {
            AgentTimer::BreakStart => {
                if token != ag.chain || ag.state == AState::Out {
                    return;
                }
                let next = 10 * MINUTE + self.exp_ms(55.0 * 60.0);
                self.schedule(
                    t + next,
                    Timer::Agent(a as u32, token, AgentTimer::BreakStart),
                );
                let ag = &self.agents[a];
                if ag.outage || ag.pending_break.is_some() {
                    return;
                }
                match ag.state {
                    AState::Idle => {
                        let r = self.break_reason(a, t);
                        self.start_break(a, r, t, out);
                    }
                    AState::Reserved | AState::Busy | AState::Wrapup => {
                        let r = self.break_reason(a, t);
                        self.agents[a].pending_break = Some(r);
                    }
                    AState::NotReady(_) | AState::Out => {}
                }
            }
            _ if token != ag.token => {}
            AgentTimer::BreakEnd | AgentTimer::OutageReturn => {
                if matches!(ag.state, AState::NotReady(_)) {
                    self.agent_free(a, t, out);
                }
            }
            AgentTimer::AcwEnd => {
                if ag.state != AState::Wrapup {
                    return;
                }
                if let Some((no, q)) = self.agents[a].acw.take() {
                    let mut s = self.enc.begin(t, "contact.wrapup_ended");
                    self.enc.contact_id(&mut s, no);
                    str_field(&mut s, "agent", &self.agents[a].name);
                    let qname = &self.queues[q as usize].name;
                    if no % 2 == 0 {
                        str_field(&mut s, "queue", qname);
                    }
                    push(out, qname, t, s);
                }
                self.agent_free(a, t, out);
            }
            AgentTimer::Relogin => {
                if ag.state == AState::Out
                    && !ag.absent
                    && ag.rank < self.roster_share(ag.queues[0], t)
                {
                    self.login(a, t, out);
                }
            }
        }
    }

    fn break_reason(&mut self, a: usize, t: Millis) -> u8 {
        let b = self.business_ms(t);
        let hour = b.rem_euclid(DAY) as f64 / HOUR as f64;
        let day = b.div_euclid(DAY);
        if (11.0..15.0).contains(&hour)
            && self.agents[a].lunch_day != day
            && self.rng.random_bool(0.45)
        {
            self.agents[a].lunch_day = day;
            return LUNCH;
        }
        let mut u: f64 = self.rng.random();
        for (i, b) in BREAKS.iter().enumerate() {
            u -= b.0;
            if u < 0.0 {
                return i as u8;
            }
        }
        0
    }

    /// The roster: agents log in and out so staffing follows the intraday shape.
    fn roster(&mut self, a: usize, t: Millis, out: &mut Vec<SimEvent>) {
        let next = self.uniform_ms(10.0 * 60.0, 20.0 * 60.0);
        self.schedule(t + next, Timer::Roster(a as u32));
        let share = self.roster_share(self.agents[a].queues[0], t);
        let ag = &mut self.agents[a];
        let wanted = !ag.absent && ag.rank < share;
        match (wanted, ag.state) {
            (true, AState::Out) => self.login(a, t, out),
            (true, _) => ag.pending_logout = false,
            (false, AState::Out) => {}
            (false, AState::Idle | AState::NotReady(_)) => self.logout(a, t, out),
            (false, _) => ag.pending_logout = true,
        }
    }

    fn outage_start(&mut self, t: Millis, out: &mut Vec<SimEvent>) {
        self.outage_active = true;
        let mut on: Vec<usize> = (0..self.agents.len())
            .filter(|&a| self.agents[a].state != AState::Out)
            .collect();
        shuffle(&mut on, &mut self.rng);
        let n = (on.len() as f64 * OUTAGE_SHARE).round() as usize;
        on.truncate(n);
        on.sort_unstable();
        for a in on {
            let ag = &mut self.agents[a];
            ag.outage = true;
            ag.pending_break = None;
            if matches!(ag.state, AState::Idle | AState::NotReady(_)) {
                self.set_state(a, AState::NotReady(OUTAGE), t, out);
            }
        }
    }

    fn outage_end(&mut self, t: Millis) {
        self.outage_active = false;
        for a in 0..self.agents.len() {
            if !self.agents[a].outage {
                continue;
            }
            self.agents[a].outage = false;
            if self.agents[a].state == AState::NotReady(OUTAGE) {
                let back = self.uniform_ms(0.0, 45.0);
                let token = self.agents[a].token;
                self.schedule(
                    t + back,
                    Timer::Agent(a as u32, token, AgentTimer::OutageReturn),
                );
            }
        }
    }
}

fn shuffle<T>(v: &mut [T], rng: &mut SmallRng) {
    for i in (1..v.len()).rev() {
        let j = rng.random_range(0..=i);
        v.swap(i, j);
    }
}

/// Spreads the agents over the queues by what each needs at its peak ([`staffing`]); a quarter
/// get a second queue.
fn build_agents(cfg: &SimConfig, queues: &[QueueModel], rng: &mut SmallRng) -> Vec<Agent> {
    let nq = queues.len();
    let work: Vec<f64> = queues.iter().map(|q| staffing(q.peak_erlangs)).collect();
    let total: f64 = work.iter().sum();
    let share: Vec<f64> = work.iter().map(|w| w / total).collect();
    let n = cfg.agents;
    let base = usize::from(n >= nq);
    let rest = n - base * nq;
    let mut counts: Vec<usize> = share
        .iter()
        .map(|s| base + (rest as f64 * s).floor() as usize)
        .collect();
    let mut order: Vec<usize> = (0..nq).collect();
    order.sort_by(|&x, &y| {
        let fx = (rest as f64 * share[x]).fract();
        let fy = (rest as f64 * share[y]).fract();
        fy.total_cmp(&fx).then(x.cmp(&y))
    });
    let mut left = n - counts.iter().sum::<usize>();
    for &q in order.iter().cycle() {
        if left == 0 {
            break;
        }
        counts[q] += 1;
        left -= 1;
    }
    let mut primaries: Vec<u16> = Vec::with_capacity(n);
    for (q, &c) in counts.iter().enumerate() {
        primaries.extend(std::iter::repeat_n(q as u16, c));
    }
    shuffle(&mut primaries, rng);
    let mut agents: Vec<Agent> = primaries
        .into_iter()
        .enumerate()
        .map(|(i, p)| {
            let mut qs = vec![p];
            if nq > 1 && rng.random_bool(SECOND_QUEUE_SHARE) {
                let others: f64 = (0..nq).filter(|&q| q != p as usize).map(|q| share[q]).sum();
                let mut u = rng.random::<f64>() * others;
                let mut pick = p;
                for q in (0..nq).filter(|&q| q != p as usize) {
                    pick = q as u16;
                    u -= share[q];
                    if u < 0.0 {
                        break;
                    }
                }
                qs.push(pick);
            }
            let mut queues_json = String::from("[");
            for (k, &q) in qs.iter().enumerate() {
                if k > 0 {
                    queues_json.push(',');
                }
                queues_json.push('"');
                queues_json.push_str(&queues[q as usize].name);
                queues_json.push('"');
            }
            queues_json.push(']');
            Agent {
                name: format!("agent-{:04}", i + 1),
                queues: qs,
                queues_json,
                rank: 0.0,
                absent: false,
                state: AState::Out,
                token: 0,
                chain: 0,
                idle_since: 0,
                pending_break: None,
                pending_logout: false,
                outage: false,
                acw: None,
                lunch_day: i64::MIN,
                shown: (AgentState::LoggedOut, u8::MAX),
                shown_at: Millis::MIN,
                flush_pending: false,
            }
        })
        .collect();
    let mut seen = vec![0usize; nq];
    for ag in &mut agents {
        let q = ag.queues[0] as usize;
        ag.rank = (seen[q] as f64 + 0.5) / counts[q] as f64;
        seen[q] += 1;
    }
    if cfg.scenario == Scenario::Understaffed {
        let mut first: Vec<usize> = (0..agents.len())
            .filter(|&a| agents[a].queues[0] == 0)
            .collect();
        shuffle(&mut first, rng);
        let n = (first.len() as f64 * ABSENT_SHARE).round() as usize;
        for &a in &first[..n] {
            agents[a].absent = true;
        }
    }
    agents
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::config::Config;
    use crate::event::{Body, Limits};
    use crate::input::callpulse::decode;
    use crate::input::{ingest, Admit, Ingested};

    trait Feed {
        fn ingest_line(&mut self, bytes: &[u8]) -> Result<(), crate::event::Reject>;
    }

    impl Feed for Engine {
        fn ingest_line(&mut self, bytes: &[u8]) -> Result<(), crate::event::Reject> {
            match ingest(self, bytes, Admit::ALL) {
                Ingested::Rejected(r) => Err(r),
                _ => Ok(()),
            }
        }
    }
    use crate::Engine;
    use std::collections::BTreeMap;
    use std::sync::Arc;

    /// 2026-11-23T09:00:00Z, a Monday morning.
    const MONDAY_9: i64 = 1_795_424_400_000;

    fn cfg(scenario: Scenario, seed: u64) -> SimConfig {
        let mut c = SimConfig {
            rate: 0.4,
            scenario,
            seed,
            start_ms: MONDAY_9,
            ..SimConfig::default()
        };
        c.agents = c.recommended_agents();
        c
    }

    fn run(c: SimConfig, hours: i64) -> Vec<SimEvent> {
        let mut sim = Simulator::new(c.clone());
        let mut out = Vec::new();
        sim.advance(c.start_ms + hours * HOUR, &mut out);
        out
    }

    fn kind(json: &str) -> &str {
        let i = json.find("\"type\":\"").unwrap() + 8;
        let j = json[i..].find('"').unwrap();
        &json[i..i + j]
    }

    #[test]
    fn scenario_names_round_trip() {
        for s in Scenario::ALL {
            assert_eq!(s.as_str().parse::<Scenario>(), Ok(s));
        }
        assert!("blackout".parse::<Scenario>().is_err());
        assert_eq!(queue_name(5), "queue-06");
        let sim = Simulator::new(SimConfig {
            queues: 7,
            ..SimConfig::default()
        });
        assert_eq!(
            sim.queue_names(),
            [
                "sales",
                "support",
                "billing",
                "retention",
                "tech",
                "queue-06",
                "queue-07"
            ]
        );
    }

    #[test]
    fn rfc3339_formatting_matches_the_parser() {
        for t in [
            0,
            1,
            999,
            86_399_999,
            MONDAY_9 + 250,
            951_782_400_000,
            4_102_444_800_123,
        ] {
            for off in [None, Some(180), Some(-300), Some(330)] {
                let mut s = String::new();
                push_rfc3339(&mut s, t, off);
                let text = s.trim_matches('"');
                assert_eq!(crate::time::parse_rfc3339(text), Some(t), "{text}");
            }
        }
    }

    #[test]
    fn every_event_is_valid_ordered_and_keyed() {
        let limits = Limits::default();
        let mut seen: BTreeMap<String, usize> = BTreeMap::new();
        for scenario in Scenario::ALL {
            let c = cfg(scenario, 7);
            let names = Simulator::new(c.clone()).queue_names();
            let events = run(c, 2);
            assert!(events.len() > 5_000, "{}", events.len());
            let mut last = i64::MIN;
            let (mut ints, mut strs) = (0, 0);
            for e in &events {
                let ev = decode(e.json.as_bytes(), &limits)
                    .unwrap_or_else(|r| panic!("{r}: {}", e.json));
                assert_eq!(ev.ts, e.ts_ms, "{}", e.json);
                assert!(e.ts_ms >= last, "out of order: {}", e.json);
                last = e.ts_ms;
                assert!(names.contains(&e.key), "{}", e.key);
                if let Body::Contact(c) = &ev.body {
                    if let Some(q) = &c.queue {
                        if c.step != crate::event::ContactStep::Survey {
                            assert_eq!(q.as_ref(), e.key);
                        }
                    }
                }
                if e.json.contains("\"ts\":\"") {
                    strs += 1;
                } else {
                    ints += 1;
                }
                *seen.entry(kind(&e.json).to_string()).or_default() += 1;
            }
            assert!(ints > events.len() / 4 && strs > events.len() / 2);
        }
        for k in [
            "agent.state",
            "contact.offered",
            "contact.answered",
            "contact.abandoned",
            "contact.overflowed",
            "contact.held",
            "contact.resumed",
            "contact.transferred",
            "contact.ended",
            "contact.wrapup_ended",
            "survey.submitted",
        ] {
            assert!(seen.get(k).copied().unwrap_or(0) > 0, "no {k}: {seen:?}");
        }
    }

    #[test]
    fn same_seed_same_output_in_any_chunking() {
        let c = cfg(Scenario::Outage, 42);
        let whole = run(c.clone(), 1);
        let mut sim = Simulator::new(c.clone());
        let mut chunked = Vec::new();
        let mut t = c.start_ms;
        while t < c.start_ms + HOUR {
            t += 777;
            sim.advance(t.min(c.start_ms + HOUR), &mut chunked);
        }
        assert_eq!(whole, chunked);
        let other = run(SimConfig { seed: 43, ..c }, 1);
        assert_ne!(whole, other);
    }

    struct Kpis {
        sl: f64,
        abandon: f64,
    }

    /// Runs events through the engine; returns today's KPIs per queue and checks no rejects.
    fn through_engine(config: Config, events: &[SimEvent], end: i64) -> BTreeMap<String, Kpis> {
        let mut engine = Engine::new(Arc::new(config));
        for (i, e) in events.iter().enumerate() {
            engine
                .ingest_line(e.json.as_bytes())
                .unwrap_or_else(|r| panic!("{r}: {}", e.json));
            if i % 1000 == 0 {
                engine.advance(e.ts_ms);
            }
        }
        engine.advance(end);
        let stats = engine.stats();
        assert_eq!(stats.rejected_total(), 0, "{stats:?}");
        assert_eq!(stats.contacts_expired + stats.contacts_evicted, 0);
        let snap = engine.snapshot();
        let today = snap.window_index("today").unwrap();
        snap.queues
            .iter()
            .map(|q| {
                let w = &q.windows[today];
                let k = Kpis {
                    sl: w.service_level(q.settings.sl_formula).unwrap_or(f64::NAN),
                    abandon: w.abandon_ratio().unwrap_or(f64::NAN),
                };
                (q.name.clone(), k)
            })
            .collect()
    }

    #[test]
    fn understaffing_collapses_the_first_queue_only() {
        let end = MONDAY_9 + 2 * HOUR;
        let normal = through_engine(Config::default(), &run(cfg(Scenario::Normal, 12), 2), end);
        let short = through_engine(
            Config::default(),
            &run(cfg(Scenario::Understaffed, 12), 2),
            end,
        );
        for (name, k) in &normal {
            eprintln!(
                "{name}: normal sl {:.3} abandon {:.3} | understaffed sl {:.3} abandon {:.3}",
                k.sl, k.abandon, short[name].sl, short[name].abandon
            );
        }
        let (n, s) = (&normal["sales"], &short["sales"]);
        assert!(n.sl > 0.7, "normal sales sl {}", n.sl);
        assert!(
            s.sl < n.sl - 0.3,
            "understaffed sales sl {} vs {}",
            s.sl,
            n.sl
        );
        assert!(s.abandon > n.abandon + 0.1);
        for q in ["support", "billing", "retention"] {
            assert!(normal[q].sl > 0.7, "{q} {}", normal[q].sl);
            assert!(short[q].sl > 0.6, "{q} {}", short[q].sl);
        }
    }

    #[test]
    fn outage_takes_most_agents_away_for_a_while() {
        let c = cfg(Scenario::Outage, 5);
        let events = run(c.clone(), 1);
        let limits = Limits::default();
        // Count agents shown not_ready(outage) at 20 minutes, and how many are logged in.
        let mut states: BTreeMap<String, (String, bool)> = BTreeMap::new();
        let mut at20 = None;
        let mut outage_events = Vec::new();
        for e in &events {
            if at20.is_none() && e.ts_ms >= c.start_ms + 20 * MINUTE {
                let on = states.values().filter(|s| s.0 != "logged_out").count();
                let out = states.values().filter(|s| s.1).count();
                at20 = Some((on, out));
            }
            if let Body::Agent(a) = decode(e.json.as_bytes(), &limits).unwrap().body {
                let outage = e.json.contains("\"reason\":\"outage\"");
                if outage {
                    outage_events.push(e.ts_ms);
                }
                states.insert(a.agent.to_string(), (a.state.as_str().to_string(), outage));
            }
        }
        let (on, out) = at20.unwrap();
        assert!(out as f64 > 0.7 * on as f64, "{out} of {on}");
        assert!(outage_events
            .iter()
            .all(|&t| t >= c.start_ms + OUTAGE_FROM && t < c.start_ms + OUTAGE_UNTIL));
        assert!(
            states.values().all(|s| !s.1),
            "everyone is back after the outage"
        );
        // The monitor agrees with the demo config's wrap-up queues: nothing is rejected.
        let demo =
            Config::parse("[queues.sales]\nwrapup = true\n[queues.support]\nwrapup = true\n")
                .unwrap();
        through_engine(demo, &events, c.start_ms + HOUR);
    }

    #[test]
    fn odd_configs_stay_valid() {
        let demo = || {
            Config::parse("[queues.sales]\nwrapup = true\n[queues.support]\nwrapup = true\n")
                .unwrap()
        };
        let configs = [
            // The defaults: 40 agents for 2 contacts/s is badly overloaded, at 1970-01-01 00:00.
            SimConfig::default(),
            SimConfig {
                queues: 1,
                agents: 12,
                rate: 0.05,
                start_ms: MONDAY_9,
                ..SimConfig::default()
            },
            SimConfig {
                queues: 7,
                agents: 3,
                rate: 0.3,
                scenario: Scenario::Outage,
                start_ms: MONDAY_9,
                ..SimConfig::default()
            },
            SimConfig {
                agents: 0,
                rate: 0.1,
                start_ms: MONDAY_9,
                ..SimConfig::default()
            },
        ];
        for c in configs {
            let events = run(c.clone(), 1);
            assert!(!events.is_empty(), "{c:?}");
            through_engine(demo(), &events, c.start_ms + HOUR);
            through_engine(Config::default(), &events, c.start_ms + HOUR);
        }
        let nothing = run(
            SimConfig {
                queues: 0,
                ..SimConfig::default()
            },
            1,
        );
        assert!(nothing.is_empty());
    }

    #[test]
    fn memory_stays_bounded_over_days() {
        let c = SimConfig {
            rate: 0.2,
            agents: 60,
            seed: 9,
            start_ms: MONDAY_9,
            ..SimConfig::default()
        };
        let mut sim = Simulator::new(c.clone());
        let mut out = Vec::new();
        let mut sizes = Vec::new();
        for day in 1..=4 {
            sim.advance(c.start_ms + day * DAY, &mut out);
            out.clear();
            let waiting: usize = sim.queues.iter().map(|q| q.waiting.len()).sum();
            sizes.push((sim.contacts.len(), sim.heap.len(), waiting));
        }
        let (c1, h1, _) = sizes[0];
        for &(c, h, w) in &sizes {
            assert!(
                c <= c1 * 2 + 50 && h <= h1 * 2 + 200 && w < 1000,
                "{sizes:?}"
            );
        }
    }

    #[test]
    fn day_shift_moves_the_business_day() {
        let offered_in_first_hour = |day_shift_ms| {
            let c = SimConfig {
                rate: 0.4,
                // 02:00Z, a quiet hour
                start_ms: MONDAY_9 - 7 * HOUR,
                day_shift_ms,
                ..SimConfig::default()
            };
            run(c, 1)
                .iter()
                .filter(|e| kind(&e.json) == "contact.offered")
                .count()
        };
        let night = offered_in_first_hour(0);
        let morning = offered_in_first_hour(8 * HOUR); // business clock at 10:00
        assert!(morning > 5 * night, "{morning} vs {night}");
    }

    #[test]
    fn generation_speed() {
        let c = SimConfig {
            rate: 2.0,
            agents: SimConfig::default().recommended_agents(),
            start_ms: MONDAY_9,
            ..SimConfig::default()
        };
        let mut sim = Simulator::new(c.clone());
        let mut out = Vec::with_capacity(1 << 16);
        let started = std::time::Instant::now();
        let mut n = 0;
        let mut t = c.start_ms;
        while t < c.start_ms + 2 * HOUR {
            t += MINUTE;
            sim.advance(t, &mut out);
            n += out.len();
            out.clear();
        }
        let secs = started.elapsed().as_secs_f64();
        eprintln!(
            "{n} events in {secs:.3} s: {:.0} events/s ({} agents)",
            n as f64 / secs,
            c.agents
        );
        assert!(n > 50_000);
    }

    /// Guards the demo and the end-to-end alerting test: at any time of day, with the bundled
    /// config and the demo's traffic, the healthy queues meet their staffing targets (service
    /// level, abandonment, ASA, oldest wait: no alert fires for them), and under `understaffed`
    /// the first queue misses its service level all day. Handle time is the callers', not the
    /// staffing's: heavy-tailed talk times push a 15-minute AHT over target now and then, which
    /// must stay rare (at most 1 % of the samples).
    #[test]
    fn healthy_queues_stay_within_targets_around_the_clock() {
        let config = Arc::new(Config::parse(crate::tools::demo::BUNDLED_CONFIG).unwrap());
        for scenario in [Scenario::Normal, Scenario::Understaffed] {
            let mut c = SimConfig {
                scenario,
                // Monday 00:00Z plus an odd offset, so samples fall at varied minutes.
                start_ms: MONDAY_9 - 9 * HOUR + 7 * MINUTE,
                ..SimConfig::default()
            };
            c.agents = c.recommended_agents();
            let mut sim = Simulator::new(c.clone());
            let mut engine = Engine::new(Arc::clone(&config));
            let mut out = Vec::new();
            let (mut breaches, mut aht_breaches) = (Vec::new(), 0);
            let (mut samples, mut healthy_samples, mut sales_breached) = (0, 0, 0);
            // Two hours to fill the windows, then every 5 minutes for a whole day.
            let mut t = c.start_ms + 2 * HOUR;
            while t <= c.start_ms + 26 * HOUR {
                out.clear();
                sim.advance(t, &mut out);
                for e in &out {
                    engine.ingest_line(e.json.as_bytes()).unwrap();
                }
                engine.advance(t);
                let snap = engine.snapshot();
                let w = snap.window_index(&config.alerts.window).unwrap();
                samples += 1;
                for q in &snap.queues {
                    let mut kpis: Vec<&str> = q.windows[w]
                        .breaches(&q.settings)
                        .into_iter()
                        .filter_map(|(kpi, b)| b.then_some(kpi))
                        .collect();
                    if crate::kpi::oldest_wait_breached(q.oldest_wait_ms, &q.settings) {
                        kpis.push("oldest_wait");
                    }
                    if q.name == "sales" && scenario == Scenario::Understaffed {
                        sales_breached += usize::from(kpis.contains(&"service_level"));
                        continue;
                    }
                    healthy_samples += 1;
                    aht_breaches += usize::from(kpis.contains(&"aht"));
                    kpis.retain(|&k| k != "aht");
                    if !kpis.is_empty() {
                        let at = t.rem_euclid(DAY);
                        let (h, m) = (at / HOUR, at % HOUR / MINUTE);
                        breaches.push(format!("{scenario} {h:02}:{m:02}Z {} {kpis:?}", q.name));
                    }
                }
                t += 5 * MINUTE;
            }
            assert!(breaches.is_empty(), "{breaches:#?}");
            assert!(
                aht_breaches * 100 <= healthy_samples,
                "{scenario}: aht over target in {aht_breaches} of {healthy_samples} samples"
            );
            if scenario == Scenario::Understaffed {
                assert_eq!(
                    sales_breached, samples,
                    "sales missed its service level in {sales_breached} of {samples} samples"
                );
            }
        }
    }
}
