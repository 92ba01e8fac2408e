//! What the simulator keeps between events: contacts, agents, queues and the timers of the
//! discrete-event clock.

use std::cmp::Ordering;
use std::collections::{BTreeSet, VecDeque};

use crate::event::AgentState;
use crate::time::Millis;

use super::model::{Channel, Reason};

/// Where a contact is; the `u32` is the agent it is with.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(super) enum ContactState {
    Free,
    Waiting,
    Ringing(u32),
    Talking(u32),
    Holding(u32),
    /// Between a transfer (or an accepted callback) and the offer in the target queue.
    Transit,
}

/// How a waiting contact leaves the queue when its deadline fires.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(super) enum WaitEnd {
    /// The customer gives up (also while the agent's phone rings).
    Abandon,
    /// Routing gives up (`contact.overflowed`, reason `timeout`).
    Timeout,
    /// No agent is logged in (`contact.overflowed`, reason `no_agents`).
    NoAgents,
    /// The caller takes the offer of a callback (presses a key, reason `key`).
    CallbackKey,
}

impl WaitEnd {
    /// The `reason` of the `contact.overflowed` event (none for an abandon).
    pub(super) fn overflow_reason(self) -> Option<&'static str> {
        match self {
            WaitEnd::Abandon => None,
            WaitEnd::Timeout => Some("timeout"),
            WaitEnd::NoAgents => Some("no_agents"),
            WaitEnd::CallbackKey => Some("key"),
        }
    }
}

pub(super) struct Contact {
    pub(super) no: u64,
    pub(super) gen: u32,
    pub(super) state: ContactState,
    pub(super) queue: u16,
    pub(super) channel: Channel,
    pub(super) wait_end: WaitEnd,
    pub(super) transfers: u8,
    pub(super) offered_at: Millis,
    pub(super) wait: Millis,
    pub(super) talk_left: Millis,
    pub(super) hold: Millis,
    pub(super) ends_in_transfer: bool,
    /// Who calls (see `Simulator::customer_of`).
    pub(super) customer: u64,
}

/// What an agent is doing (finer than what it shows).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(super) enum Activity {
    Out,
    Idle,
    /// Chosen for a contact whose phone is ringing (still shown as available).
    Reserved,
    Busy,
    Wrapup,
    NotReady(Reason),
}

impl Activity {
    /// On a break the roster covers (any not-ready reason but an outage).
    pub(super) fn on_break(self) -> bool {
        matches!(self, Activity::NotReady(r) if r != Reason::Outage)
    }

    /// The state an `agent.state` event shows for it.
    pub(super) fn shown(self) -> (AgentState, Option<Reason>) {
        match self {
            Activity::Out => (AgentState::LoggedOut, None),
            Activity::Idle | Activity::Reserved => (AgentState::Available, None),
            Activity::Busy => (AgentState::Busy, None),
            Activity::Wrapup => (AgentState::Wrapup, None),
            Activity::NotReady(r) => (AgentState::NotReady, Some(r)),
        }
    }
}

pub(super) struct Agent {
    pub(super) name: String,
    /// First queue first.
    pub(super) queues: Vec<u16>,
    /// The names of `queues`, as `agent.state` events list them.
    pub(super) queue_names: Vec<String>,
    /// Logged in while the roster's share of its first queue exceeds this. Ranks are spread
    /// evenly over each queue's agents, so the roster logs in exactly its share.
    pub(super) rank: f64,
    /// Never logs in (understaffed scenario).
    pub(super) absent: bool,
    pub(super) activity: Activity,
    /// Changes with every state change; timers tied to a state carry it.
    pub(super) token: u32,
    /// Changes with every login; the break timer chain carries it.
    pub(super) chain: u32,
    pub(super) idle_since: Millis,
    pub(super) pending_break: Option<Reason>,
    pub(super) pending_logout: bool,
    pub(super) outage: bool,
    /// The contact whose `contact.wrapup_ended` ends this wrap-up.
    pub(super) acw: Option<(u64, u16)>,
    pub(super) lunch_day: i64,
    pub(super) shown: (AgentState, Option<Reason>),
    pub(super) shown_at: Millis,
    pub(super) flush_pending: bool,
}

pub(super) struct QueueModel {
    pub(super) name: String,
    pub(super) wrapup: bool,
    pub(super) transfers: bool,
    /// Cumulative channel shares, in the order of [`Channel::ALL`].
    pub(super) mix: [f64; 4],
    pub(super) talk_factor: f64,
    pub(super) weight: f64,
    /// Peak arrival rate per millisecond.
    pub(super) peak_per_ms: f64,
    /// Offered load at the peak, Erlangs.
    pub(super) peak_erlangs: f64,
    /// Mean seconds an agent spends per answered contact.
    pub(super) aht_s: f64,
    /// The service-level threshold the realistic roster plans for, seconds.
    pub(super) sl_threshold_s: f64,
    /// Callers' patience relative to the average caller.
    pub(super) patience_factor: f64,
    /// Idle agents serving this queue, longest idle first.
    pub(super) idle: BTreeSet<(Millis, u32)>,
    /// Contacts waiting (slot, generation), oldest first; stale entries are skipped.
    pub(super) waiting: VecDeque<(u32, u32)>,
    /// Customers who gave up and will call again: (from when, customer), in time order. The
    /// queue's next arrival after that instant is theirs (traffic stays as it was).
    pub(super) recalls: VecDeque<(Millis, u64)>,
    pub(super) logged_in: u32,
    /// Agents whose first queue this is.
    pub(super) headcount: u32,
    /// Of those, the ones on a break (not ready for any reason but an outage).
    pub(super) on_break: u32,
    /// The realistic roster's plan: the minute (epoch minutes) it is for and the agents it
    /// wants on the phones.
    pub(super) plan: Option<(i64, f64)>,
}

#[derive(Clone, Copy, Debug)]
pub(super) enum AgentTimer {
    BreakStart,
    BreakEnd,
    AcwEnd,
    Relogin,
    OutageReturn,
}

/// A survey's three optional scores: CSAT (1..5), NPS (0..10), CES (1..7).
pub(super) type Scores = [Option<u8>; 3];

#[derive(Clone, Copy, Debug)]
pub(super) enum Timer {
    Arrive(u16),
    Deadline(u32, u32),
    Answer(u32, u32),
    Hold(u32, u32),
    /// The agent's first written reply on a chat or e-mail.
    Respond(u32, u32),

    Resume(u32, u32),
    End(u32, u32),
    Reoffer(u32, u32, u16),
    /// Agent, token (or chain for `BreakStart`), kind.
    Agent(u32, u32, AgentTimer),
    Roster(u32),
    Flush(u32),
    OutageStart,
    OutageEnd,
    /// Contact number, queue, scores.
    Survey(u64, u16, Scores),
}

pub(super) struct Scheduled {
    pub(super) at: Millis,
    pub(super) seq: u64,
    pub(super) timer: Timer,
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
