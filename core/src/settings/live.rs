//! The live view's settings: per queue, how long a not-ready, a wrap-up or a conversation may
//! last before the wallboard's agents view turns it amber (`*_warn`) and red (`*_alarm`).

use crate::time::Span;

/// Per-queue thresholds of the agents view (`not_ready_warn`, `not_ready_alarm`,
/// `wrapup_warn`, `wrapup_alarm`, `talk_warn`, `talk_alarm` in `[defaults]` or a queue's table).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct LiveThresholds {
    pub not_ready_warn: Span,
    pub not_ready_alarm: Span,
    pub wrapup_warn: Span,
    pub wrapup_alarm: Span,
    pub talk_warn: Span,
    pub talk_alarm: Span,
}

impl Default for LiveThresholds {
    /// A break of a quarter hour is usual, half an hour is not; wrap-up beyond two minutes
    /// (five: red) and a call beyond ten minutes (twenty: red) are worth a look.
    fn default() -> Self {
        LiveThresholds {
            not_ready_warn: Span::from_secs(15 * 60),
            not_ready_alarm: Span::from_secs(30 * 60),
            wrapup_warn: Span::from_secs(2 * 60),
            wrapup_alarm: Span::from_secs(5 * 60),
            talk_warn: Span::from_secs(10 * 60),
            talk_alarm: Span::from_secs(20 * 60),
        }
    }
}
