//! Records as platforms store them: the files `replay` and `convert` read, and a message that
//! holds several records. Gzip is recognised by its magic bytes (not the file's name); a file
//! whose first record starts with `{` is read as JSON objects — one per line, back to back with
//! no separator (Kinesis Data Firehose), or pretty-printed over many lines — and any other file
//! line by line (Asterisk's `queue_log`). A malformed part is one reject, counted by its
//! reason; reading goes on at the next record.

use std::io::{BufRead, BufReader, Read};
use std::ops::Range;

use serde::de::IgnoredAny;

use crate::event::{Reject, RejectReason};

/// The two bytes every gzip member starts with.
const GZIP_MAGIC: [u8; 2] = [0x1f, 0x8b];
/// The UTF-8 byte order mark some exports start with.
const BOM: &[u8] = b"\xEF\xBB\xBF";
/// How much a JSON file is read at a time.
const CHUNK: usize = 64 * 1024;

/// One part of a file: a record's bytes, or why a part is no record.
pub type Part = Result<Vec<u8>, Reject>;

/// The records of a file or stream, decompressed when it is gzip; `limit` is the largest
/// record accepted (a longer one is a `too_large` part).
pub fn records<'a>(
    input: Box<dyn BufRead + 'a>,
    limit: usize,
) -> std::io::Result<Box<dyn Iterator<Item = std::io::Result<Part>> + 'a>> {
    let mut input = input;
    let mut input: Box<dyn BufRead + 'a> = if starts_with(&mut input, &GZIP_MAGIC)? {
        Box::new(BufReader::with_capacity(
            1 << 20,
            flate2::bufread::MultiGzDecoder::new(input),
        ))
    } else {
        input
    };
    if starts_with(&mut input, BOM)? {
        input.consume(BOM.len());
    }
    if first_non_blank(&mut input)? == Some(b'{') {
        Ok(Box::new(JsonRecords {
            input,
            buf: Vec::new(),
            pos: 0,
            eof: false,
            resync: false,
            limit,
        }))
    } else {
        Ok(Box::new(Lines { input, limit }))
    }
}

/// A file read line by line, no line held beyond `limit` bytes: a longer one is a `too_large`
/// part, skipped to its end without being kept (a 1 GB line costs no 1 GB). A trailing `\r` is
/// dropped and blank lines are skipped.
struct Lines<'a> {
    input: Box<dyn BufRead + 'a>,
    limit: usize,
}

impl Lines<'_> {
    /// The next line (without its `\n`), or `None` when it is longer than the limit (then
    /// consumed to its end), or `Ok(None)` at the end of the input.
    fn line(&mut self) -> std::io::Result<Option<Option<Vec<u8>>>> {
        let mut line = Vec::new();
        let mut over = false;
        let mut read_any = false;
        loop {
            let head = self.input.fill_buf()?;
            if head.is_empty() {
                return Ok(read_any.then(|| (!over).then_some(line)));
            }
            read_any = true;
            let (taken, done) = match head.iter().position(|&b| b == b'\n') {
                Some(at) => (at, true),
                None => (head.len(), false),
            };
            // the limit plus a `\r` that may end the line
            if !over && line.len() + taken <= self.limit + 1 {
                line.extend_from_slice(&head[..taken]);
            } else {
                over = true;
                line = Vec::new();
            }
            self.input.consume(taken + usize::from(done));
            if done {
                return Ok(Some((!over).then_some(line)));
            }
        }
    }
}

impl Iterator for Lines<'_> {
    type Item = std::io::Result<Part>;

    fn next(&mut self) -> Option<Self::Item> {
        loop {
            match self.line() {
                Err(e) => return Some(Err(e)),
                Ok(None) => return None,
                Ok(Some(None)) => {
                    return Some(Ok(Err(Reject::new(RejectReason::TooLarge, "message"))))
                }
                Ok(Some(Some(mut line))) => {
                    if line.last() == Some(&b'\r') {
                        line.pop();
                    }
                    if line.iter().all(u8::is_ascii_whitespace) {
                        continue;
                    }
                    if line.len() > self.limit {
                        return Some(Ok(Err(Reject::new(RejectReason::TooLarge, "message"))));
                    }
                    return Some(Ok(Ok(line)));
                }
            }
        }
    }
}

/// Whether the input starts with `prefix` (nothing is consumed).
fn starts_with(input: &mut Box<dyn BufRead + '_>, prefix: &[u8]) -> std::io::Result<bool> {
    let head = input.fill_buf()?;
    Ok(head.len() >= prefix.len() && &head[..prefix.len()] == prefix)
}

/// The first byte that is not whitespace, consuming only the whitespace before it.
fn first_non_blank(input: &mut Box<dyn BufRead + '_>) -> std::io::Result<Option<u8>> {
    loop {
        let head = input.fill_buf()?;
        if head.is_empty() {
            return Ok(None);
        }
        match head.iter().position(|b| !b.is_ascii_whitespace()) {
            Some(i) => {
                let b = head[i];
                input.consume(i);
                return Ok(Some(b));
            }
            None => {
                let n = head.len();
                input.consume(n);
            }
        }
    }
}

/// The several records one message holds back to back, when it holds more than one (each a
/// range of the message, or the reason of a malformed part); `None` for one record or none.
pub fn several(message: &[u8], limit: usize) -> Option<Vec<Result<Range<usize>, RejectReason>>> {
    if message.iter().find(|b| !b.is_ascii_whitespace()) != Some(&b'{') {
        return None;
    }
    let mut parts = Vec::new();
    let mut pos = 0;
    loop {
        match step(message, pos, true, limit) {
            Step::Record(r) => {
                pos = r.end;
                parts.push(Ok(r));
            }
            Step::Bad { reason, next } => {
                parts.push(Err(reason));
                match next {
                    Next::At(n) => pos = n,
                    Next::Resync(from) => match record_start(message, from) {
                        Some(n) => pos = n,
                        None => break,
                    },
                }
            }
            Step::NeedMore | Step::End => break,
        }
    }
    (parts.len() > 1 && parts.iter().any(Result::is_ok)).then_some(parts)
}

/// A JSON-lines record at or after `from`, without scanning its JSON: a line that starts with
/// `{` and ends with `}`, at most `limit` long, followed by a line that starts with `{` (or by
/// the end). JSON lines — the common file — are thus scanned once, by their decoder; anything
/// else (pretty-printed, back to back) is left to [`step`]. A line that holds several records
/// after all is split by the reader once its decoder rejects it ([`several`]).
fn json_line(buf: &[u8], from: usize, eof: bool, limit: usize) -> Option<Range<usize>> {
    let start = from + buf[from..].iter().position(|b| !b.is_ascii_whitespace())?;
    if buf[start] != b'{' {
        return None;
    }
    let rest = &buf[start..];
    // memchr: the line's end is found a word at a time, not a byte at a time
    let newline = memchr::memchr(b'\n', &rest[..rest.len().min(limit.saturating_add(2))]);
    let (line, after) = match newline {
        Some(n) => (&rest[..n], &rest[n + 1..]),
        None if eof && rest.len() <= limit + 1 => (rest, &rest[rest.len()..]),
        None => return None,
    };
    let end = line.iter().rposition(|b| !b.is_ascii_whitespace())? + 1;
    if line[end - 1] != b'}' || end > limit {
        return None;
    }
    match after.iter().find(|b| !b.is_ascii_whitespace()) {
        Some(b'{') => Some(start..start + end),
        None if eof => Some(start..start + end),
        _ => None,
    }
}

/// What comes next in a buffer of JSON records.
#[derive(Debug, PartialEq)]
enum Step {
    /// A whole JSON value at this range.
    Record(Range<usize>),
    /// A part that is no record, and where reading goes on.
    Bad { reason: RejectReason, next: Next },
    /// The buffer ends inside a value: read more.
    NeedMore,
    /// Only whitespace is left.
    End,
}

/// Where reading goes on after a bad part.
#[derive(Debug, PartialEq)]
enum Next {
    /// Right after it (its end is known).
    At(usize),
    /// At the next likely record start from here.
    Resync(usize),
}

/// The value of `buf` at or after `from` (`eof`: nothing follows the buffer).
fn step(buf: &[u8], from: usize, eof: bool, limit: usize) -> Step {
    let Some(start) = buf[from..]
        .iter()
        .position(|b| !b.is_ascii_whitespace())
        .map(|i| from + i)
    else {
        return if eof { Step::End } else { Step::NeedMore };
    };
    let mut values = serde_json::Deserializer::from_slice(&buf[start..]).into_iter::<IgnoredAny>();
    match values.next() {
        None => Step::End,
        Some(Ok(_)) => {
            let end = start + values.byte_offset();
            if end - start > limit {
                Step::Bad {
                    reason: RejectReason::TooLarge,
                    next: Next::At(end),
                }
            } else {
                Step::Record(start..end)
            }
        }
        Some(Err(e)) if e.is_eof() && !eof => {
            if buf.len() - start > limit {
                Step::Bad {
                    reason: RejectReason::TooLarge,
                    next: Next::Resync(start + 1),
                }
            } else {
                Step::NeedMore
            }
        }
        Some(Err(_)) => Step::Bad {
            reason: RejectReason::MalformedJson,
            next: Next::Resync(start + 1),
        },
    }
}

/// The next likely start of a record at or after `from`: a `{` at the start of a line, or right
/// after a `}` (whitespace between) — where one record of a file ends and the next begins.
fn record_start(buf: &[u8], from: usize) -> Option<usize> {
    (from.max(1)..buf.len()).find(|&i| {
        buf[i] == b'{'
            && (buf[i - 1] == b'\n'
                || buf[..i]
                    .iter()
                    .rev()
                    .find(|b| !b.is_ascii_whitespace())
                    .is_some_and(|&b| b == b'}'))
    })
}

/// The JSON records of a file, read a chunk at a time.
struct JsonRecords<'a> {
    input: Box<dyn BufRead + 'a>,
    buf: Vec<u8>,
    /// Where the next record is looked for in `buf`.
    pos: usize,
    eof: bool,
    /// Looking for the next record start after a bad part.
    resync: bool,
    limit: usize,
}

impl JsonRecords<'_> {
    /// Reads the next chunk after what `buf` holds from `pos` on.
    fn fill(&mut self) -> std::io::Result<()> {
        self.buf.drain(..self.pos);
        self.pos = 0;
        let mut chunk = [0u8; CHUNK];
        let n = self.input.read(&mut chunk)?;
        if n == 0 {
            self.eof = true;
        }
        self.buf.extend_from_slice(&chunk[..n]);
        Ok(())
    }
}

impl Iterator for JsonRecords<'_> {
    type Item = std::io::Result<Part>;

    fn next(&mut self) -> Option<Self::Item> {
        loop {
            if self.resync {
                match record_start(&self.buf, self.pos) {
                    Some(at) => {
                        self.pos = at;
                        self.resync = false;
                    }
                    None if self.eof => return None,
                    None => {
                        // keep the last byte that is not whitespace: a record may start right after it
                        self.pos = self
                            .buf
                            .iter()
                            .rposition(|b| !b.is_ascii_whitespace())
                            .unwrap_or(self.buf.len())
                            .max(self.pos);
                        if let Err(e) = self.fill() {
                            return Some(Err(e));
                        }
                        continue;
                    }
                }
            }
            if let Some(r) = json_line(&self.buf, self.pos, self.eof, self.limit) {
                self.pos = r.end;
                return Some(Ok(Ok(self.buf[r].to_vec())));
            }
            match step(&self.buf, self.pos, self.eof, self.limit) {
                Step::Record(r) => {
                    self.pos = r.end;
                    return Some(Ok(Ok(self.buf[r].to_vec())));
                }
                Step::Bad { reason, next } => {
                    match next {
                        Next::At(n) => self.pos = n,
                        Next::Resync(from) => {
                            self.pos = from;
                            self.resync = true;
                        }
                    }
                    return Some(Ok(Err(Reject::new(reason, "record"))));
                }
                Step::NeedMore => {
                    if let Err(e) = self.fill() {
                        return Some(Err(e));
                    }
                }
                Step::End => return None,
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use std::io::Write;

    use super::*;

    const LIMIT: usize = 64 * 1024;

    fn read(bytes: &[u8]) -> Vec<Part> {
        let input: Box<dyn BufRead> = Box::new(std::io::Cursor::new(bytes.to_vec()));
        records(input, LIMIT).unwrap().map(|p| p.unwrap()).collect()
    }

    fn texts(parts: &[Part]) -> Vec<String> {
        parts
            .iter()
            .map(|p| match p {
                Ok(r) => String::from_utf8_lossy(r).into_owned(),
                Err(e) => format!("<{}>", e.reason.as_str()),
            })
            .collect()
    }

    fn gzip(bytes: &[u8]) -> Vec<u8> {
        let mut z = flate2::write::GzEncoder::new(Vec::new(), flate2::Compression::fast());
        z.write_all(bytes).unwrap();
        z.finish().unwrap()
    }

    #[test]
    fn json_lines_back_to_back_and_pretty_printed_objects_read_alike() {
        let want = [r#"{"a":1}"#, r#"{"b":{"c":[1,2]}}"#];
        let lines = b"{\"a\":1}\r\n\n{\"b\":{\"c\":[1,2]}}\n";
        let firehose = b"{\"a\":1}{\"b\":{\"c\":[1,2]}}";
        let pretty =
            b"{\n  \"a\": 1\n}\n{\n  \"b\": {\n    \"c\": [\n      1,\n      2\n    ]\n  }\n}\n";
        for file in [&lines[..], &firehose[..], &pretty[..]] {
            let got: Vec<serde_json::Value> = read(file)
                .into_iter()
                .map(|p| serde_json::from_slice(&p.unwrap()).unwrap())
                .collect();
            let want: Vec<serde_json::Value> = want
                .iter()
                .map(|w| serde_json::from_str(w).unwrap())
                .collect();
            assert_eq!(got, want, "{}", String::from_utf8_lossy(file));
        }
    }

    #[test]
    fn gzip_is_read_by_its_magic_bytes_and_a_bom_is_skipped() {
        let file = b"\xEF\xBB\xBF{\"a\":1}{\"a\":2}";
        assert_eq!(texts(&read(&gzip(file))), [r#"{"a":1}"#, r#"{"a":2}"#]);
        // several gzip members one after the other (objects appended to one another)
        let mut two = gzip(b"{\"a\":1}\n");
        two.extend(gzip(b"{\"a\":2}\n"));
        assert_eq!(texts(&read(&two)), [r#"{"a":1}"#, r#"{"a":2}"#]);
    }

    #[test]
    fn a_malformed_part_is_one_reject_and_reading_goes_on() {
        // a truncated line, garbage, a record cut short inside a back-to-back run
        let file = b"{\"a\":1}\n{\"a\":\n{\"a\":2}\nnot json\n{\"a\":3}{\"a\":4,}{\"a\":5}";
        assert_eq!(
            texts(&read(file)),
            [
                r#"{"a":1}"#,
                "<malformed_json>",
                r#"{"a":2}"#,
                "<malformed_json>",
                r#"{"a":3}"#,
                "<malformed_json>",
                r#"{"a":5}"#
            ]
        );
        // cut off at the end of the file
        assert_eq!(
            texts(&read(b"{\"a\":1}{\"a\":")),
            [r#"{"a":1}"#, "<malformed_json>"]
        );
    }

    #[test]
    fn a_record_over_the_limit_is_too_large_and_the_next_one_is_read() {
        let big = format!("{{\"a\":\"{}\"}}", "x".repeat(LIMIT + 10));
        for sep in ["\n", ""] {
            let file = format!("{{\"a\":1}}{sep}{big}{sep}{{\"a\":2}}\n");
            assert_eq!(
                texts(&read(file.as_bytes())),
                [r#"{"a":1}"#, "<too_large>", r#"{"a":2}"#],
                "separator {sep:?}"
            );
        }
        // never closed: too large once the limit is passed, without reading the rest into memory
        let open = format!("{{\"a\":\"{}\n{{\"a\":2}}\n", "x".repeat(3 * LIMIT));
        assert_eq!(texts(&read(open.as_bytes())), ["<too_large>", r#"{"a":2}"#]);
    }

    #[test]
    fn invalid_utf8_in_a_string_is_left_to_the_decoder() {
        // an ignored field of a platform's record may hold any bytes: the reader only splits
        let file = b"{\"a\":\"\xff\xfe\"}\n{\"a\":1}";
        let parts = read(file);
        assert_eq!(parts.len(), 2);
        assert_eq!(parts[0].as_deref().ok(), Some(&b"{\"a\":\"\xff\xfe\"}"[..]));
    }

    #[test]
    fn a_file_not_of_json_objects_is_read_line_by_line() {
        let queue_log = b"1700000000|c1|sales|NONE|ENTERQUEUE||+1555|1\n\n1700000001|c1|sales|NONE|ABANDON|1|1|1\n";
        assert_eq!(
            texts(&read(queue_log)),
            [
                "1700000000|c1|sales|NONE|ENTERQUEUE||+1555|1",
                "1700000001|c1|sales|NONE|ABANDON|1|1|1"
            ]
        );
        assert!(read(b"").is_empty());
        assert!(read(b"  \n\n").is_empty());
    }

    #[test]
    fn a_line_over_the_limit_is_too_large_without_being_held_whole() {
        // a queue_log whose first line carries a BOM, then a line of 8 × the limit
        let mut file = BOM.to_vec();
        file.extend_from_slice(b"1700000000|c1|sales|NONE|ENTERQUEUE||+1555|1\r\n");
        file.extend(std::iter::repeat_n(b'x', 8 * LIMIT));
        file.extend_from_slice(b"\n1700000001|c1|sales|NONE|ABANDON|1|1|1");
        let parts = read(&file);
        assert_eq!(
            texts(&parts),
            [
                "1700000000|c1|sales|NONE|ENTERQUEUE||+1555|1",
                "<too_large>",
                "1700000001|c1|sales|NONE|ABANDON|1|1|1"
            ]
        );
        // a line exactly at the limit is read
        let mut at_limit = vec![b'y'; LIMIT];
        at_limit.push(b'\n');
        assert_eq!(read(&at_limit)[0].as_ref().map(Vec::len).ok(), Some(LIMIT));
    }

    #[test]
    fn a_message_of_several_records_is_split_and_one_record_is_not() {
        let msg = b"{\"a\":1}{\"a\":2}\n{\"a\":";
        let parts = several(msg, LIMIT).unwrap();
        assert_eq!(parts.len(), 3);
        assert_eq!(&msg[parts[0].clone().unwrap()], b"{\"a\":1}");
        assert_eq!(&msg[parts[1].clone().unwrap()], b"{\"a\":2}");
        assert_eq!(parts[2], Err(RejectReason::MalformedJson));
        assert_eq!(several(b"{\"a\":1}", LIMIT), None);
        assert_eq!(several(b"{\"a\":1", LIMIT), None);
        assert_eq!(several(b"1700000000|c1|sales", LIMIT), None);
    }
}
