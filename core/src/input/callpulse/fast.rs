//! The decoder's fast path: a message that is one flat JSON object of plain values — strings
//! without escapes, unsigned integers, `true`, `false`, `null`, lists of such strings — is read
//! straight into the decoder's fields, without serde, borrowing every string.
//!
//! Anything else (an escape, a nested object, a fraction, an exponent, a sign, a repeated
//! field, a non-ASCII key, bytes after the object, any syntax error) gives `None`, and the
//! general serde path decides the message: this path never rejects, so every reject reason
//! stays the general path's. What it accepts it reads exactly as serde_json would (debug builds
//! check this on every message: see `decode`).

use std::borrow::Cow;

use super::{Raw, Scalar};

/// Which field of [`Raw`] a key names (its index in [`field`]).
fn field_index(key: &[u8]) -> Option<usize> {
    Some(match key {
        b"v" => 0,
        b"id" => 1,
        b"type" => 2,
        b"ts" => 3,
        b"contact_id" => 4,
        b"queue" => 5,
        b"agent" => 6,
        b"channel" => 7,
        b"customer" => 8,
        b"priority" => 9,
        b"reason" => 10,
        b"to_queue" => 11,
        b"to_agent" => 12,
        b"resolved" => 13,
        b"wrapup" => 14,
        b"csat" => 15,
        b"nps" => 16,
        b"ces" => 17,
        b"state" => 18,
        b"queues" => 19,
        _ => return None,
    })
}

/// Reads `bytes` if it is a plain flat object (see the module documentation).
/// Reads into `raw` (fresh); `None` leaves it partly filled.
pub(super) fn parse<'a>(bytes: &'a [u8], raw: &mut Raw<'a>) -> Option<()> {
    let mut p = Parser { bytes, at: 0 };
    let mut seen = 0u32;
    p.ws();
    p.expect(b'{')?;
    p.ws();
    if p.peek() == Some(b'}') {
        p.at += 1;
    } else {
        loop {
            let key = p.key()?;
            p.ws();
            p.expect(b':')?;
            p.ws();
            match field_index(key) {
                Some(i) => {
                    if seen & (1 << i) != 0 {
                        return None; // serde rejects a repeated field
                    }
                    seen |= 1 << i;
                    *field(raw, i) = p.value(true)?;
                }
                None => {
                    p.value(false)?;
                }
            }
            p.ws();
            match p.next()? {
                b',' => p.ws(),
                b'}' => break,
                _ => return None,
            }
        }
    }
    p.ws();
    (p.at == bytes.len()).then_some(())
}

fn field<'r, 'a>(raw: &'r mut Raw<'a>, i: usize) -> &'r mut Scalar<'a> {
    match i {
        0 => &mut raw.v,
        1 => &mut raw.id,
        2 => &mut raw.kind,
        3 => &mut raw.ts,
        4 => &mut raw.contact_id,
        5 => &mut raw.queue,
        6 => &mut raw.agent,
        7 => &mut raw.channel,
        8 => &mut raw.customer,
        9 => &mut raw.priority,
        10 => &mut raw.reason,
        11 => &mut raw.to_queue,
        12 => &mut raw.to_agent,
        13 => &mut raw.resolved,
        14 => &mut raw.wrapup,
        15 => &mut raw.csat,
        16 => &mut raw.nps,
        17 => &mut raw.ces,
        18 => &mut raw.state,
        _ => &mut raw.queues,
    }
}

/// The bytes that end a plain string: `"`, and those that make it not plain (`\\`, control).
const STOP: [bool; 256] = {
    let mut stop = [false; 256];
    let mut b = 0;
    while b < 0x20 {
        stop[b] = true;
        b += 1;
    }
    stop[b'"' as usize] = true;
    stop[b'\\' as usize] = true;
    stop
};

struct Parser<'a> {
    bytes: &'a [u8],
    at: usize,
}

impl<'a> Parser<'a> {
    fn peek(&self) -> Option<u8> {
        self.bytes.get(self.at).copied()
    }

    fn next(&mut self) -> Option<u8> {
        let b = self.peek()?;
        self.at += 1;
        Some(b)
    }

    fn expect(&mut self, b: u8) -> Option<()> {
        (self.next()? == b).then_some(())
    }

    /// JSON's whitespace (serde_json's: no form feed).
    fn ws(&mut self) {
        while let Some(b' ' | b'\t' | b'\n' | b'\r') = self.peek() {
            self.at += 1;
        }
    }

    /// The raw bytes of a string without escapes or control characters, after its `"`.
    fn string_bytes(&mut self) -> Option<&'a [u8]> {
        let rest = &self.bytes[self.at..];
        let len = rest.iter().position(|&b| STOP[usize::from(b)])?;
        if rest[len] != b'"' {
            return None;
        }
        self.at += len + 1;
        Some(&rest[..len])
    }

    /// An ASCII key.
    fn key(&mut self) -> Option<&'a [u8]> {
        self.expect(b'"')?;
        let key = self.string_bytes()?;
        key.is_ascii().then_some(key)
    }

    fn literal(&mut self, word: &[u8]) -> Option<()> {
        let end = self.at.checked_add(word.len())?;
        (self.bytes.get(self.at..end)? == word).then(|| self.at = end)
    }

    /// A plain value; lists of strings only where `lists` (a known field).
    fn value(&mut self, lists: bool) -> Option<Scalar<'a>> {
        match self.peek()? {
            b'"' => {
                self.at += 1;
                let s = std::str::from_utf8(self.string_bytes()?).ok()?;
                Some(Scalar::Str(Cow::Borrowed(s)))
            }
            b'0'..=b'9' => self.integer(),
            b't' => self.literal(b"true").map(|()| Scalar::Bool(true)),
            b'f' => self.literal(b"false").map(|()| Scalar::Bool(false)),
            b'n' => self.literal(b"null").map(|()| Scalar::Null),
            b'[' if lists => self.list(),
            _ => None,
        }
    }

    /// An unsigned integer of at most 18 digits, no leading zero, not followed by a fraction
    /// or an exponent.
    fn integer(&mut self) -> Option<Scalar<'a>> {
        let start = self.at;
        let digits = self.bytes[start..]
            .iter()
            .position(|b| !b.is_ascii_digit())
            .unwrap_or(self.bytes.len() - start);
        if digits > 18 || (digits > 1 && self.bytes[start] == b'0') {
            return None;
        }
        self.at = start + digits;
        if let Some(b'.' | b'e' | b'E') = self.peek() {
            return None;
        }
        let v = self.bytes[start..self.at]
            .iter()
            .fold(0i64, |v, &d| v * 10 + i64::from(d - b'0'));
        Some(Scalar::Int(v))
    }

    /// A list of plain strings.
    fn list(&mut self) -> Option<Scalar<'a>> {
        self.expect(b'[')?;
        self.ws();
        let mut items = Vec::new();
        if self.peek() == Some(b']') {
            self.at += 1;
            return Some(Scalar::List(items));
        }
        loop {
            self.expect(b'"')?;
            let s = std::str::from_utf8(self.string_bytes()?).ok()?;
            items.push(Scalar::Str(Cow::Borrowed(s)));
            self.ws();
            match self.next()? {
                b',' => self.ws(),
                b']' => return Some(Scalar::List(items)),
                _ => return None,
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::super::general;
    use super::*;
    use crate::event::Limits;

    /// Messages the fast path must read exactly as serde does, or leave to it.
    const CASES: &[&str] = &[
        r#"{"type":"contact.offered","ts":1795420800000,"id":"o1","contact_id":"c1","queue":"q01","channel":"voice"}"#,
        r#" { "type" : "contact.answered" , "ts" : "2026-11-23T08:00:00Z", "contact_id":"c1","queue":"q","agent":"ag"} "#,
        "{\"type\":\"contact.ended\",\n\t\"ts\":1,\r\"contact_id\":\"c\",\"agent\":\"a\",\"wrapup\":true,\"resolved\":false}",
        r#"{"type":"agent.state","ts":5,"agent":"a","state":"busy","queues":["q1","q2"]}"#,
        r#"{"type":"agent.state","ts":5,"agent":"a","state":"busy","queues":[]}"#,
        r#"{"type":"agent.state","ts":5,"agent":"a","state":"busy","queues":[1]}"#,
        r#"{"type":"agent.state","ts":5,"agent":"a","state":"busy","queues":"q1"}"#,
        r#"{"type":"survey.submitted","ts":7,"contact_id":"c","csat":5,"nps":0,"ces":null}"#,
        r#"{"type":"survey.submitted","ts":7,"contact_id":"c","csat":5.0}"#,
        r#"{"type":"survey.submitted","ts":7,"contact_id":"c","csat":-1}"#,
        r#"{"type":"survey.submitted","ts":7,"contact_id":"c","csat":05}"#,
        r#"{"type":"survey.submitted","ts":7,"contact_id":"c","csat":1e0}"#,
        r#"{"type":"contact.offered","ts":0,"contact_id":"c","queue":"q"}"#,
        r#"{"type":"contact.offered","ts":12345678901234567890,"contact_id":"c","queue":"q"}"#,
        r#"{"type":"contact.offered","ts":1,"contact_id":"c","queue":"q","extra":{"a":1}}"#,
        r#"{"type":"contact.offered","ts":1,"contact_id":"c","queue":"q","extra":[1,2]}"#,
        r#"{"type":"contact.offered","ts":1,"contact_id":"c","queue":"q","extra":"x","n":3,"b":false}"#,
        r#"{"type":"contact.offered","ts":1,"contact_id":"c\u00e9","queue":"q"}"#,
        r#"{"type":"contact.offered","ts":1,"contact_id":"cé","queue":"sälj"}"#,
        r#"{"type":"contact.offered","ts":1,"contact_id":"c","queue":"q","queue":"r"}"#,
        r#"{"type":"contact.offered","ts":1,"contact_id":"c","queue":"q",}"#,
        r#"{"type":"contact.offered","ts":1,"contact_id":"c","queue":"q"}x"#,
        r#"{"type":"contact.offered","ts":1,"contact_id":"c","queue":"q"}{}"#,
        r#"{"type":"contact.offered","ts":1,"contact_id":"c","queue":"q""#,
        r#"{"type":"contact.offered","ts":tru,"contact_id":"c","queue":"q"}"#,
        r#"{"type":null,"ts":1}"#,
        r#"{"v":1,"type":"contact.abandoned","ts":1,"contact_id":"c"}"#,
        r#"{"v":2,"type":"contact.abandoned","ts":1,"contact_id":"c"}"#,
        r#"{"tÿpe":"contact.abandoned","ts":1,"contact_id":"c"}"#,
        "{\"type\":\"contact.abandoned\",\"ts\":1,\"contact_id\":\"c\u{1}\"}",
        "\u{c}{\"type\":\"contact.abandoned\",\"ts\":1,\"contact_id\":\"c\"}",
        "{}",
        "{ }",
        "[]",
        "",
    ];

    #[test]
    fn reads_plain_objects_as_serde_does_and_leaves_the_rest_to_it() {
        let limits = Limits::default();
        let mut fast = 0;
        for case in CASES {
            let mut raw = Raw::default();
            if parse(case.as_bytes(), &mut raw).is_some() {
                fast += 1;
                assert_eq!(
                    raw.validate(&limits),
                    general(case.as_bytes(), &limits),
                    "{case}"
                );
            }
        }
        assert!(fast >= 15, "{fast} of {} cases read fast", CASES.len());
        for plain in &CASES[..5] {
            assert!(
                parse(plain.as_bytes(), &mut Raw::default()).is_some(),
                "{plain}"
            );
        }
        for other in [
            r#"{"a":{"b":1}}"#,
            r#"{"a":-1}"#,
            r#"{"a":1.5}"#,
            r#"{"a":"\n"}"#,
            r#"{"a":1,"a":1,"type":"x","type":"y"}"#,
            r#"{"a":1}x"#,
        ] {
            assert!(
                parse(other.as_bytes(), &mut Raw::default()).is_none(),
                "{other}"
            );
        }
    }
}
