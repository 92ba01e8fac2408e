//! The wall clock: the one place the product reads the time of day. The engine never does; the
//! service shell passes `now` in, so everything below it stays deterministic.

use crate::time::Millis;

/// Milliseconds since the Unix epoch (0 if the system clock is before 1970).
pub fn wall_now() -> Millis {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map_or(0, |d| d.as_millis() as Millis)
}
