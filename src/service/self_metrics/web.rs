//! Self-metrics of the HTTP face: how scrapes came by their picture, connections held and closed
//! by a limit, renders abandoned by slow readers, and authentication outcomes. A limit that is
//! hit logs too, at warning level on its 1st, 2nd, 4th, 8th … time (a flood is counted, not
//! written line by line).

use std::sync::atomic::{AtomicU64, AtomicUsize, Ordering};

use crate::export::Exposition;
use crate::service::scrape::{Incomplete, ScrapeOutcome};

use super::{InternalEvent, SelfMetrics};

/// Counters of the HTTP face.
#[derive(Default)]
pub(super) struct WebMetrics {
    /// By `ScrapeOutcome::ALL` order.
    scrapes: [AtomicU64; 3],
    connections: AtomicUsize,
    /// By `ConnectionReason::ALL` order.
    closed: [AtomicU64; 2],
    renders_abandoned: AtomicU64,
    /// By `AuthOutcome::ALL` order.
    auth: [AtomicU64; 4],
}

/// Whether the `n`th occurrence of a limit is logged (1, 2, 4, 8, …).
fn logged(n: u64) -> bool {
    n.is_power_of_two()
}

/// A scrape of `/metrics` came by its picture (or was refused).
pub struct ScrapeServed<'a> {
    pub outcome: ScrapeOutcome,
    pub error: Option<&'a Incomplete>,
}

impl InternalEvent for ScrapeServed<'_> {
    fn emit(self, m: &SelfMetrics) {
        let n = m.web.scrapes[self.outcome as usize].fetch_add(1, Ordering::Relaxed) + 1;
        if let Some(error) = self.error {
            if logged(n) {
                tracing::warn!(%error, refused = n, "scrape refused (HTTP 503)");
            }
        }
    }
}

/// Why the server closed a connection itself.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum ConnectionReason {
    /// `max_connections` were open: the oldest made way for a new one.
    Evicted,
    /// No complete request header within `header_read_timeout`, nothing from the client for
    /// `idle_timeout`, or a response not taken within `write_timeout`.
    Timeout,
}

impl ConnectionReason {
    pub const ALL: [ConnectionReason; 2] = [ConnectionReason::Evicted, ConnectionReason::Timeout];

    pub fn as_str(self) -> &'static str {
        match self {
            ConnectionReason::Evicted => "evicted",
            ConnectionReason::Timeout => "timeout",
        }
    }
}

/// The connections being served changed: this many are now (at most `max_connections`; one
/// told to make way for a newer one is no longer counted while it closes).
pub struct ConnectionsServed(pub usize);

impl InternalEvent for ConnectionsServed {
    fn emit(self, m: &SelfMetrics) {
        m.web.connections.store(self.0, Ordering::Relaxed);
    }
}

/// The server closed a connection by a limit (an eviction counted when decided, not when the
/// connection has finished closing).
pub struct ConnectionClosed {
    pub reason: ConnectionReason,
}

impl InternalEvent for ConnectionClosed {
    fn emit(self, m: &SelfMetrics) {
        let reason = self.reason;
        let n = m.web.closed[reason as usize].fetch_add(1, Ordering::Relaxed) + 1;
        if logged(n) {
            tracing::warn!(
                reason = reason.as_str(),
                closed = n,
                "http connection closed by a limit"
            );
        }
    }
}

/// A scrape's render stopped: its reader took nothing for `write_timeout` or went away.
pub struct RenderAbandoned;

impl InternalEvent for RenderAbandoned {
    fn emit(self, m: &SelfMetrics) {
        let n = m.web.renders_abandoned.fetch_add(1, Ordering::Relaxed) + 1;
        if logged(n) {
            tracing::warn!(
                abandoned = n,
                "scrape render abandoned by a slow or gone reader"
            );
        }
    }
}

/// What became of a request's basic-auth credentials.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum AuthOutcome {
    /// Checked against the bcrypt hash now.
    Verified,
    /// Known to be right from an earlier check (no hash computed).
    Remembered,
    /// Missing or wrong.
    Refused,
    /// Every hash check was busy: refused with 503 rather than queued without end.
    Busy,
}

impl AuthOutcome {
    pub const ALL: [AuthOutcome; 4] = [
        AuthOutcome::Verified,
        AuthOutcome::Remembered,
        AuthOutcome::Refused,
        AuthOutcome::Busy,
    ];

    pub fn as_str(self) -> &'static str {
        match self {
            AuthOutcome::Verified => "verified",
            AuthOutcome::Remembered => "remembered",
            AuthOutcome::Refused => "refused",
            AuthOutcome::Busy => "busy",
        }
    }
}

/// A request's credentials were checked.
pub struct AuthChecked {
    pub outcome: AuthOutcome,
}

impl InternalEvent for AuthChecked {
    fn emit(self, m: &SelfMetrics) {
        let n = m.web.auth[self.outcome as usize].fetch_add(1, Ordering::Relaxed) + 1;
        if self.outcome == AuthOutcome::Busy && logged(n) {
            tracing::warn!(
                busy = n,
                "basic auth: every hash check busy, request refused"
            );
        }
    }
}

impl WebMetrics {
    pub(super) fn render(&self, out: &mut Exposition) {
        let name = "callpulse_scrapes_total";
        out.family(name, "counter", "Scrapes of /metrics by how they came by their picture: gathered from the partition workers, shared with a scrape that arrived together, or incomplete (a partition did not answer: HTTP 503, never a partial picture).");
        for (o, n) in ScrapeOutcome::ALL.iter().zip(&self.scrapes) {
            let label = format!("outcome=\"{}\"", o.as_str());
            out.sample(name, "", &label, "", n.load(Ordering::Relaxed) as f64);
        }
        let name = "callpulse_http_connections";
        out.family(name, "gauge", "HTTP connections being served (at most max_connections: one evicted to make way for a newer one is no longer counted while it closes).");
        let served = self.connections.load(Ordering::Relaxed);
        out.sample(name, "", "", "", served as f64);
        let name = "callpulse_http_connections_closed_total";
        out.family(name, "counter", "HTTP connections the server closed by a limit: evicted (max_connections open, the oldest made way) or timeout (header_read_timeout, idle_timeout, write_timeout).");
        for (r, n) in ConnectionReason::ALL.iter().zip(&self.closed) {
            let label = format!("reason=\"{}\"", r.as_str());
            out.sample(name, "", &label, "", n.load(Ordering::Relaxed) as f64);
        }
        let name = "callpulse_scrape_renders_abandoned_total";
        out.family(
            name,
            "counter",
            "Scrape renders stopped because the reader took nothing for write_timeout or went away.",
        );
        let abandoned = self.renders_abandoned.load(Ordering::Relaxed);
        out.sample(name, "", "", "", abandoned as f64);
        let name = "callpulse_http_auth_total";
        out.family(name, "counter", "Basic-auth checks by outcome: verified (bcrypt computed), remembered (known good, no hash), refused, busy (every hash check taken: 503).");
        for (o, n) in AuthOutcome::ALL.iter().zip(&self.auth) {
            let label = format!("outcome=\"{}\"", o.as_str());
            out.sample(name, "", &label, "", n.load(Ordering::Relaxed) as f64);
        }
    }
}
