//! The reference `callpulse replay` is measured against: a generic decode of a history, each line
//! read and parsed into a `serde_json::Value` and dropped, nothing else (no engine, no KPIs).
//! With the replay's allocator (mimalloc). Prints `lines`, `values` and the decode's seconds.
//!
//! Usage: cargo run --release -p callpulse-core --example decode_value -- FILE

use std::io::{BufRead, BufReader};
use std::time::Instant;

#[global_allocator]
static ALLOCATOR: mimalloc::MiMalloc = mimalloc::MiMalloc;

fn main() -> std::io::Result<()> {
    let path = std::env::args().nth(1).ok_or_else(|| {
        std::io::Error::new(std::io::ErrorKind::InvalidInput, "usage: decode_value FILE")
    })?;
    let start = Instant::now();
    let mut input = BufReader::with_capacity(1 << 16, std::fs::File::open(path)?);
    let (mut line, mut lines, mut values) = (String::new(), 0u64, 0u64);
    while input.read_line(&mut line)? > 0 {
        lines += 1;
        if let Ok(v) = serde_json::from_str::<serde_json::Value>(line.trim_end()) {
            values += u64::from(!v.is_null());
        }
        line.clear();
    }
    let secs = start.elapsed().as_secs_f64();
    println!("lines {lines} values {values} seconds {secs:.3}");
    Ok(())
}
