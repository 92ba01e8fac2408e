//! The `callpulse` binary: parses arguments, sets up logging, hands the command to the library.

use clap::Parser;

use callpulse::cli::{self, Cli, Logging};

/// mimalloc, not the system allocator: a scrape's snapshot copies tens of thousands of small
/// distributions and frees them again, and the engine allocates a contact's events as they
/// come. Side by side in the engine's bench (CHANGELOG.md, with the render changes of the same
/// day): the snapshot of 1,000 queues × 5 windows 3.2 × faster, the engine 1.2 × under the
/// default export profile and 1.3 × with a customer on every offer.
#[global_allocator]
static ALLOCATOR: mimalloc::MiMalloc = mimalloc::MiMalloc;

fn main() {
    small_pages();
    if let Err(err) = cli::run(Cli::parse(), init_tracing) {
        eprintln!("callpulse: {:#}", anyhow::Error::from(err));
        std::process::exit(1);
    }
}

/// Ordinary 4 KiB pages for this process, not transparent huge pages. mimalloc asks the kernel
/// for huge pages on its arenas, and every first touch of one then clears 2 MiB however little
/// of it is used: as the engine's maps grow (and their old tables are freed and returned) that
/// clearing took 17 % of the CPU of `callpulse bench` on a fresh topic, against 1 % with small
/// pages (docs/benchmarks.md). Where the kernel has no such switch, nothing changes.
fn small_pages() {
    #[cfg(target_os = "linux")]
    let _ = rustix::thread::disable_transparent_huge_pages(true);
}

/// Logs go to stderr: human-readable by default, JSON lines with `--log-json` or
/// `[log] format = "json"`; `RUST_LOG` overrides the level.
fn init_tracing(logging: &Logging) {
    let filter = tracing_subscriber::EnvFilter::try_from_default_env()
        .unwrap_or_else(|_| tracing_subscriber::EnvFilter::new(&logging.level));
    let builder = tracing_subscriber::fmt()
        .with_env_filter(filter)
        .with_writer(std::io::stderr);
    if logging.json {
        builder.json().init();
    } else {
        builder.init();
    }
}
