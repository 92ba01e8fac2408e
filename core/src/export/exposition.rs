//! The Prometheus text format (0.0.4) writer: families, samples, escaped labels, numbers
//! written without per-sample allocations. A hot family writes a sample as three copies —
//! its name, a label block rendered once per scrape, its value — into one buffer reserved
//! for the whole scrape (and kept from one scrape to the next by a caller that can).

/// Appends `value` to a label value, escaped as the text format requires.
pub fn escape_label(out: &mut String, value: &str) {
    for ch in value.chars() {
        match ch {
            '\\' => out.push_str("\\\\"),
            '"' => out.push_str("\\\""),
            '\n' => out.push_str("\\n"),
            c => out.push(c),
        }
    }
}

/// The most bytes a sample's value takes (a float written by `ryu` takes at most 24).
const VALUE: usize = 48;

/// Text written as a whole: a family's name (with a suffix) or further labels.
#[derive(Clone, Debug)]
pub struct Piece(String);

impl Piece {
    pub fn new(text: &str) -> Piece {
        Piece(text.to_string())
    }

    pub fn is_empty(&self) -> bool {
        self.0.is_empty()
    }
}

/// A label set rendered once for many samples: `{labels} ` and `{labels,` (for a sample with
/// further labels); for no labels, ` ` and `{`.
#[derive(Clone, Debug)]
pub struct Block {
    closed: String,
    open: String,
}

impl Block {
    /// `labels` pre-rendered (`queue="x",window="5m"`), may be empty.
    pub fn new(labels: &str) -> Block {
        if labels.is_empty() {
            return Block {
                closed: " ".into(),
                open: "{".into(),
            };
        }
        let with = |end: &str| {
            let mut s = String::with_capacity(labels.len() + 3);
            s.push('{');
            s.push_str(labels);
            s.push_str(end);
            s
        };
        Block {
            closed: with("} "),
            open: with(","),
        }
    }
}

/// A window's place in a snapshot and its label block for one queue.
pub type WindowBlock = (usize, Block);

/// Further labels as [`Exposition::line`] takes them: `quantile="0.5"` as `quantile="0.5"} `.
pub fn close(extra: &str) -> Piece {
    Piece(format!("{extra}}} "))
}

/// A sample's value.
#[derive(Clone, Copy, Debug)]
pub enum Value {
    Int(i64),
    Float(f64),
    /// `m / 10^places`, written exactly as [`Value::Float`] of the float nearest to it.
    Decimal(i64, u32),
}

/// Integers at least this large are written as floats (as the text format writer always did).
const LIMIT: u64 = 1_000_000_000_000_000;

/// Where a streaming exposition writes its text, a chunk at a time; flushed once, at the end.
pub type Sink = Box<dyn std::io::Write + Send>;

/// Text handed to a [`Sink`] at a time: large enough to make a write cheap, small enough that a
/// scrape of a million series never holds more than this in memory.
const CHUNK: usize = 256 * 1024;

/// A text exposition being written: into one buffer ([`Exposition::finish`] returns it), or
/// streamed to a [`Sink`] in chunks as it is written ([`Exposition::streaming`]).
pub struct Exposition {
    out: String,
    /// Only these families are written (`?family=`); `None`: every family.
    only: Option<Vec<String>>,
    /// The current family is left out.
    skip: bool,
    /// Where the text goes once [`CHUNK`] is written; `None`: kept in `out`.
    sink: Option<Sink>,
    /// The sink's first error; nothing more is handed to it.
    failed: Option<std::io::Error>,
    /// Family names met, when asked for ([`Exposition::names`]).
    names: Option<Vec<String>>,
}

impl Default for Exposition {
    fn default() -> Self {
        Self::new()
    }
}

impl Exposition {
    pub fn new() -> Self {
        Exposition::reusing(String::with_capacity(1 << 16))
    }

    /// An exposition written into `buffer` (its text discarded): a caller that renders again
    /// and again keeps its memory.
    pub fn reusing(mut buffer: String) -> Self {
        buffer.clear();
        Exposition {
            out: buffer,
            only: None,
            skip: false,
            sink: None,
            failed: None,
            names: None,
        }
    }

    /// An exposition that writes nothing and notes the name of every family it meets (what a
    /// render would write): [`Exposition::into_names`].
    pub fn names() -> Self {
        Exposition {
            only: Some(Vec::new()),
            names: Some(Vec::new()),
            ..Exposition::reusing(String::new())
        }
    }

    /// The family names met by an exposition made by [`Exposition::names`].
    pub fn into_names(self) -> Vec<String> {
        self.names.unwrap_or_default()
    }

    /// An exposition handed to `sink` in chunks as it is written (memory does not grow with
    /// the number of series); [`Exposition::finish_stream`] hands it the rest.
    pub fn streaming(sink: Sink) -> Self {
        Exposition {
            sink: Some(sink),
            ..Exposition::reusing(String::with_capacity(CHUNK + 4096))
        }
    }

    /// Leaves out every family not named in `families` (`?family=`).
    pub fn keep_only(&mut self, families: Vec<String>) {
        self.only = Some(families);
    }

    /// Hands the text written so far to the sink once a chunk is full.
    #[inline]
    fn spill(&mut self) {
        if self.out.len() >= CHUNK {
            self.hand_over();
        }
    }

    #[cold]
    fn hand_over(&mut self) {
        if let Some(sink) = self.sink.as_mut() {
            if self.failed.is_none() {
                if let Err(e) = sink.write_all(self.out.as_bytes()) {
                    self.failed = Some(e);
                }
            }
            self.out.clear();
        }
    }

    /// Hands the rest to the sink and flushes it: the first error the sink returned, if any.
    pub fn finish_stream(mut self) -> std::io::Result<()> {
        if !self.out.is_empty() {
            self.hand_over();
        }
        if let (Some(sink), None) = (self.sink.as_mut(), &self.failed) {
            sink.flush()?;
        }
        self.failed.map_or(Ok(()), Err)
    }

    /// Makes room for `bytes` more, so a large scrape is written without regrowing (a
    /// streaming exposition holds a chunk at a time and reserves nothing).
    pub fn reserve(&mut self, bytes: usize) {
        if self.sink.is_none() {
            self.out.reserve(bytes);
        }
    }

    /// Starts a family: its `HELP` and `TYPE` lines, and the samples that follow are its own.
    pub fn family(&mut self, name: &str, kind: &str, help: &str) {
        if let Some(names) = &mut self.names {
            names.push(name.to_string());
        }
        self.spill();
        self.skip = self
            .only
            .as_ref()
            .is_some_and(|only| !only.iter().any(|f| f == name));
        if self.skip {
            return;
        }
        for part in [
            "# HELP ",
            name,
            " ",
            help,
            "\n# TYPE ",
            name,
            " ",
            kind,
            "\n",
        ] {
            self.out.push_str(part);
        }
    }

    /// One sample; `labels` is pre-rendered (`queue="x",window="5m"`), may be empty.
    pub fn sample(&mut self, name: &str, suffix: &str, labels: &str, extra: &str, value: f64) {
        self.sample_value(name, suffix, labels, extra, Value::Float(value));
    }

    /// A sample of an integer value: the same text as [`Exposition::sample`] of it as a float.
    pub fn sample_int(&mut self, name: &str, suffix: &str, labels: &str, extra: &str, value: i64) {
        self.sample_value(name, suffix, labels, extra, Value::Int(value));
    }

    fn sample_value(&mut self, name: &str, suffix: &str, labels: &str, extra: &str, value: Value) {
        if self.skip {
            return;
        }
        self.head(name, suffix, labels, extra);
        put_value(&mut self.out, value);
        self.out.push('\n');
        self.spill();
    }

    /// A sample's name and labels, and the space before its value.
    fn head(&mut self, name: &str, suffix: &str, labels: &str, extra: &str) {
        let out = &mut self.out;
        out.reserve(name.len() + suffix.len() + labels.len() + extra.len() + VALUE);
        out.push_str(name);
        out.push_str(suffix);
        if !labels.is_empty() || !extra.is_empty() {
            out.push('{');
            out.push_str(labels);
            if !labels.is_empty() && !extra.is_empty() {
                out.push(',');
            }
            out.push_str(extra);
            out.push('}');
        }
        out.push(' ');
    }

    /// One sample of `head` (the name with its suffix) with the labels of `block` and, unless
    /// empty, `extra` (further labels, `close`d): the same text as [`Exposition::sample`].
    #[inline]
    pub fn line(&mut self, head: &Piece, block: &Block, extra: &Piece, value: Value) {
        if self.skip {
            return;
        }
        let out = &mut self.out;
        out.reserve(head.0.len() + block.open.len() + extra.0.len() + VALUE);
        out.push_str(&head.0);
        if extra.is_empty() {
            out.push_str(&block.closed);
        } else {
            out.push_str(&block.open);
            out.push_str(&extra.0);
        }
        put_value(out, value);
        out.push('\n');
        self.spill();
    }

    /// The text written (all of it, unless streaming: then what no chunk took yet).
    pub fn finish(self) -> String {
        self.out
    }
}

/// Writes a value: integers below 10¹⁵ as integers, other finite values in the shortest form
/// that reads back the same, `NaN`, `+Inf`, `-Inf`.
#[inline]
fn put_value(out: &mut String, value: Value) {
    match value {
        Value::Int(v) if v.unsigned_abs() < LIMIT => put_int(out, v),
        Value::Int(v) => put_float(out, v as f64),
        Value::Float(v) => put_float(out, v),
        Value::Decimal(m, places) => put_decimal(out, m, places),
    }
}

fn put_float(out: &mut String, value: f64) {
    let int = value as i64;
    if int as f64 == value && value.abs() < 1e15 {
        put_int(out, int);
    } else if value.is_finite() {
        out.push_str(ryu::Buffer::new().format_finite(value));
    } else if value.is_nan() {
        out.push_str("NaN");
    } else {
        out.push_str(if value > 0.0 { "+Inf" } else { "-Inf" });
    }
}

/// `m / 10^places` as [`put_float`] writes the float nearest to it: an integer without a
/// fraction, else the digits with trailing zeros dropped. Exact because a decimal of at most
/// 15 significant digits is the shortest one that reads back as its nearest float (no shorter
/// decimal lies within half a unit in the last place of it), which is what `ryu` writes;
/// larger values go through the float.
fn put_decimal(out: &mut String, m: i64, places: u32) {
    const POW10: [i64; 7] = [1, 10, 100, 1_000, 10_000, 100_000, 1_000_000];
    let Some(&scale) = POW10.get(places as usize) else {
        return put_float(out, m as f64 / 10f64.powi(places as i32));
    };
    if m.unsigned_abs() >= LIMIT {
        return put_float(out, m as f64 / scale as f64);
    }
    let (int, mut frac) = (m / scale, (m % scale).unsigned_abs());
    if frac == 0 {
        put_int(out, int);
        return;
    }
    if m < 0 {
        out.push('-');
    }
    put_int(out, int.abs());
    out.push('.');
    let mut places = places as usize;
    while frac % 10 == 0 {
        frac /= 10;
        places -= 1;
    }
    let digits = frac.ilog10() as usize + 1;
    out.push_str(&"000000000000000000"[..places - digits]);
    put_int(out, frac as i64);
}

/// An integer in decimal: a single digit (half the values of a scrape: counts of a queue's
/// window) written directly, anything else through `itoa`.
#[inline]
fn put_int(out: &mut String, v: i64) {
    if (0..10).contains(&v) {
        out.push(char::from(b'0' + v as u8));
    } else {
        out.push_str(itoa::Buffer::new().format(v));
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn float(v: f64) -> String {
        let mut e = Exposition::new();
        e.sample("m", "", "", "", v);
        e.finish()
    }

    #[test]
    fn values_are_written_as_before() {
        for (v, want) in [
            (0.0, "m 0\n"),
            (-0.0, "m 0\n"),
            (3.0, "m 3\n"),
            (-7.0, "m -7\n"),
            (0.25, "m 0.25\n"),
            (12.345, "m 12.345\n"),
            (1e15, "m 1000000000000000.0\n"),
            (f64::NAN, "m NaN\n"),
            (f64::INFINITY, "m +Inf\n"),
            (f64::NEG_INFINITY, "m -Inf\n"),
        ] {
            assert_eq!(float(v), want, "{v}");
        }
        // single digits take their own path: its edges
        for v in (-11..=11).chain([99, 100, i64::MAX]) {
            let mut out = String::new();
            put_int(&mut out, v);
            assert_eq!(out, v.to_string());
        }
        for v in [
            0i64,
            5,
            -5,
            999_999_999_999_999,
            1_000_000_000_000_000,
            i64::MIN,
        ] {
            let mut a = Exposition::new();
            a.sample_int("m", "_count", "q=\"x\"", "le=\"1\"", v);
            let mut b = Exposition::new();
            b.sample("m", "_count", "q=\"x\"", "le=\"1\"", v as f64);
            assert_eq!(a.finish(), b.finish(), "{v}");
        }
    }

    #[test]
    fn decimals_are_written_as_their_nearest_float() {
        // over many magnitudes, signs and places
        let mut x: u64 = 0x9E37_79B9_7F4A_7C15;
        for i in 0..200_000 {
            x ^= x << 13;
            x ^= x >> 7;
            x ^= x << 17;
            let places = (i % 5) as u32;
            let m = (x >> (i % 60)) as i64 * if i % 7 == 0 { -1 } else { 1 };
            let mut a = Exposition::new();
            a.line(
                &Piece::new("m"),
                &Block::new(""),
                &Piece::new(""),
                Value::Decimal(m, places),
            );
            let want = float(m as f64 / 10f64.powi(places as i32));
            assert_eq!(a.finish(), want, "{m} / 10^{places}");
        }
    }

    #[test]
    fn a_line_is_the_sample_it_stands_for() {
        let long = format!("q=\"{}\"", "x".repeat(100));
        for (labels, extra) in [
            ("q=\"x\",w=\"5m\"", ""),
            ("q=\"x\"", "le=\"1\""),
            ("", ""),
            ("", "k=\"v\""),
            (long.as_str(), ""),
            (long.as_str(), long.as_str()),
        ] {
            let closed = if extra.is_empty() {
                Piece::new("")
            } else {
                close(extra)
            };
            let head = Piece::new("m_sum");
            let mut a = Exposition::new();
            for _ in 0..3 {
                a.line(&head, &Block::new(labels), &closed, Value::Float(0.5));
                a.line(&head, &Block::new(labels), &Piece::new(""), Value::Int(-3));
                a.line(
                    &head,
                    &Block::new(labels),
                    &closed,
                    Value::Decimal(-1250, 3),
                );
            }
            let mut b = Exposition::new();
            for _ in 0..3 {
                b.sample("m", "_sum", labels, extra, 0.5);
                b.sample("m", "_sum", labels, "", -3.0);
                b.sample("m", "_sum", labels, extra, -1.25);
            }
            assert_eq!(a.finish(), b.finish(), "{labels} {extra}");
        }
        // a streamed exposition hands over the same text, a chunk at a time
        struct Chunks(std::sync::Arc<std::sync::Mutex<Vec<String>>>);
        impl std::io::Write for Chunks {
            fn write(&mut self, buf: &[u8]) -> std::io::Result<usize> {
                let text = String::from_utf8_lossy(buf).into_owned();
                self.0
                    .lock()
                    .map_err(|_| std::io::Error::other("poisoned"))?
                    .push(text);
                Ok(buf.len())
            }
            fn flush(&mut self) -> std::io::Result<()> {
                Ok(())
            }
        }
        let chunks = std::sync::Arc::new(std::sync::Mutex::new(Vec::<String>::new()));
        let mut streamed = Exposition::streaming(Box::new(Chunks(chunks.clone())));
        let mut whole = Exposition::new();
        let (head, block, none) = (Piece::new("m"), Block::new("q=\"x\""), Piece::new(""));
        for e in [&mut streamed, &mut whole] {
            e.family("m", "gauge", "help");
            for i in 0..40_000 {
                e.line(&head, &block, &none, Value::Int(i));
            }
        }
        assert!(streamed.finish_stream().is_ok());
        let chunks = chunks.lock().unwrap();
        assert!(chunks.len() > 1 && chunks.iter().all(|c| c.len() < CHUNK + 100));
        assert_eq!(chunks.concat(), whole.finish());
        // a buffer reused holds only the new text
        let mut a = Exposition::new();
        a.sample("m", "", "", "", 1.0);
        let again = Exposition::reusing(a.finish());
        assert_eq!(again.finish(), "");
    }
}
