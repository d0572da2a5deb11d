//! The page's state in its URL: `?bnn.hidden=1024&bnn.compute=cpu&run=bnn`. Every setting of
//! every demo is written as `demo.setting=value`; `run=demo` starts that demo on load. A link is
//! read leniently: whatever is not allowed is replaced by the nearest allowed value and named in a
//! [`Note`], so a tampered link still opens a page, shows what it runs, and says what it changed.

use super::{Demos, Values, Why};
use std::fmt;

/// The key that starts a demo on load.
pub const RUN: &str = "run";

/// What a link asked for.
#[derive(Debug, Clone, PartialEq)]
pub struct Link {
    /// One entry per demo, in the order of the list it was read with; settings the link did not name are at
    /// their defaults.
    pub values: Vec<Values>,
    /// The demo to start on load.
    pub run: Option<&'static str>,
    /// What was changed or ignored, in the order of the link.
    pub notes: Vec<Note>,
}

impl Link {
    pub fn values(&self, demo: &str) -> Option<&Values> {
        self.values.iter().find(|v| v.demo.name == demo)
    }
}

/// One thing a link asked for that the page could not do as written.
#[derive(Debug, Clone, PartialEq)]
pub enum Note {
    /// `demo.setting=given` was not allowed; `used` is in its place.
    Corrected { key: String, given: String, why: Why, used: String },
    /// A key that names no setting.
    UnknownKey { key: String },
    /// `run=` named no demo (of those `known`).
    UnknownRun { given: String, known: Vec<&'static str> },
    /// The same key twice: the last one counts, as in a form.
    Repeated { key: String },
}

impl Note {
    /// The `demo.setting` this note is about, if it names one.
    pub fn key(&self) -> Option<&str> {
        match self {
            Note::Corrected { key, .. } | Note::Repeated { key } => Some(key),
            Note::UnknownKey { .. } | Note::UnknownRun { .. } => None,
        }
    }
}

impl fmt::Display for Note {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Note::Corrected { key, given, why, used } => write!(f, "{key}: '{given}' is {why}; using {used}"),
            Note::UnknownKey { key } => write!(f, "'{key}' is not a setting of this page; ignored"),
            Note::UnknownRun { given, known } => write!(f, "run: '{given}' is not a demo (one of {}); nothing started", known.join(", ")),
            Note::Repeated { key } => write!(f, "{key} is given more than once; the last one is used"),
        }
    }
}

/// Reads a query string (with or without its leading `?`) for the page's `demos`.
pub fn parse(query: &str, demos: Demos) -> Link {
    let mut values: Vec<Values> = demos.iter().map(|d| d.defaults()).collect();
    let mut run = None;
    let mut notes = Vec::new();
    let mut seen: Vec<String> = Vec::new();
    for pair in query.trim_start_matches('?').split('&').filter(|p| !p.is_empty()) {
        let (raw_key, raw_value) = pair.split_once('=').unwrap_or((pair, ""));
        let key = decode(raw_key);
        let given = decode(raw_value);
        if seen.contains(&key) && !notes.iter().any(|n| matches!(n, Note::Repeated { key: k } if *k == key)) {
            notes.push(Note::Repeated { key: key.clone() });
        }
        seen.push(key.clone());
        if key == RUN {
            match demos.iter().find(|d| d.name == given.trim()) {
                Some(d) => run = Some(d.name),
                None => {
                    run = None;
                    notes.push(Note::UnknownRun { given, known: demos.iter().map(|d| d.name).collect() });
                }
            }
            continue;
        }
        let Some((i, demo, setting)) = key.split_once('.').and_then(|(d, s)| {
            let i = demos.iter().position(|demo| demo.name == d)?;
            Some((i, demos[i], demos[i].setting(s)?))
        }) else {
            notes.push(Note::UnknownKey { key });
            continue;
        };
        let (value, why) = setting.correct(&given);
        if let Some(why) = why {
            notes.push(Note::Corrected { key: format!("{}.{}", demo.name, setting.name), given, why, used: value.to_string() });
        }
        values[i].set(setting, value);
    }
    Link { values, run, notes }
}

/// The query string (with its `?`) for these values: every setting of every demo, then `run`.
pub fn write(values: &[&Values], run: Option<&str>) -> String {
    let mut parts: Vec<String> = Vec::new();
    for v in values {
        for (setting, value) in v.iter() {
            parts.push(format!("{}.{}={}", v.demo.name, setting.name, encode(&value.to_string())));
        }
    }
    if let Some(demo) = run {
        parts.push(format!("{RUN}={demo}"));
    }
    format!("?{}", parts.join("&"))
}

/// Percent-encodes everything but the characters a value needs to stay readable in the address
/// bar: letters, digits, `-._~` and the list separator `,`.
pub fn encode(text: &str) -> String {
    let mut out = String::new();
    for b in text.bytes() {
        match b {
            b'A'..=b'Z' | b'a'..=b'z' | b'0'..=b'9' | b'-' | b'.' | b'_' | b'~' | b',' => out.push(b as char),
            _ => out.push_str(&format!("%{b:02X}")),
        }
    }
    out
}

/// Undoes [`encode`] and the form encoding of a space as `+`. A malformed escape stays as written
/// (it then fails the value's check and is named in a note); bytes that are not UTF-8 become U+FFFD.
pub fn decode(text: &str) -> String {
    let bytes = text.as_bytes();
    let mut out = Vec::with_capacity(bytes.len());
    let mut i = 0;
    while i < bytes.len() {
        match bytes[i] {
            b'+' => out.push(b' '),
            b'%' if i + 2 < bytes.len() => {
                match (hex(bytes[i + 1]), hex(bytes[i + 2])) {
                    (Some(h), Some(l)) => {
                        out.push(h * 16 + l);
                        i += 3;
                        continue;
                    }
                    _ => out.push(b'%'),
                }
            }
            b => out.push(b),
        }
        i += 1;
    }
    String::from_utf8_lossy(&out).into_owned()
}

fn hex(b: u8) -> Option<u8> {
    (b as char).to_digit(16).map(|d| d as u8)
}

#[cfg(test)]
mod tests {
    use super::super::{Value, bnn, hebbian, lenet};
    use super::*;

    fn parse(query: &str) -> Link {
        super::parse(query, &crate::demos::declarations())
    }

    #[test]
    fn an_empty_link_is_every_default_and_starts_nothing() {
        let link = parse("");
        assert_eq!(link.run, None);
        assert!(link.notes.is_empty());
        for (v, d) in link.values.iter().zip(crate::demos::declarations()) {
            assert_eq!(*v, d.defaults());
        }
    }

    #[test]
    fn the_issue_example_reads_as_written() {
        let link = parse("?bnn.hidden=1024&bnn.compute=cpu&run=bnn");
        assert!(link.notes.is_empty(), "{:?}", link.notes);
        assert_eq!(link.run, Some("bnn"));
        let bnn = link.values("bnn").expect("bnn");
        assert_eq!((bnn.count(&bnn::HIDDEN), bnn.compute()), (1024, "cpu"));
        // Everything else stays at its default.
        assert_eq!(bnn.list(&bnn::META), [6.0]);
        assert_eq!(*link.values("lenet").expect("lenet"), lenet::DEMO.defaults());
    }

    #[test]
    fn written_state_reads_back_identically() {
        let mut b = bnn::DEMO.defaults();
        b.set(&bnn::META, Value::List(vec![1.35, 6.0]));
        b.set(&bnn::LR, Value::Float(0.02));
        b.set(&bnn::COMPUTE, Value::Choice("webgpu"));
        let mut l = lenet::DEMO.defaults();
        l.set(&lenet::SEEDS, Value::Int(5));
        let h = hebbian::DEMO.defaults();
        let q = write(&[&b, &l, &h], Some("lenet"));
        assert!(q.starts_with("?bnn.experiment=permuted&bnn.hidden=128&bnn.meta=1.35,6&"), "{q}");
        assert!(q.contains("&hebbian.seed=1&") && q.ends_with("&run=lenet"), "{q}");
        let link = parse(&q);
        assert!(link.notes.is_empty(), "{:?}", link.notes);
        assert_eq!(link.values, vec![b, l, h]);
        assert_eq!(link.run, Some("lenet"));
    }

    #[test]
    fn a_tampered_link_is_corrected_with_a_note_per_change() {
        let link = parse("?bnn.hidden=5&bnn.lr=abc&lenet.dataset=cifar&bnn.compute=CPU&hebbian.steps=1e12&bnn.colour=red&x=1&run=everything");
        let b = link.values("bnn").expect("bnn");
        assert_eq!((b.count(&bnn::HIDDEN), b.float(&bnn::LR), b.compute()), (8, 0.005, "cpu"));
        assert_eq!(link.values("lenet").expect("lenet").choice(&lenet::DATASET), "mnist");
        assert_eq!(link.values("hebbian").expect("hebbian").count(&hebbian::STEPS), 100_000);
        assert_eq!(link.run, None);
        let texts: Vec<String> = link.notes.iter().map(ToString::to_string).collect();
        assert_eq!(
            texts,
            [
                "bnn.hidden: '5' is below the smallest allowed value, 8; using 8",
                "bnn.lr: 'abc' is not a number; using 0.005",
                "lenet.dataset: 'cifar' is not one of mnist, fashion; using mnist",
                "bnn.compute: 'CPU' is not one of auto, webgpu, cpu; using cpu",
                "hebbian.steps: '1e12' is above the largest allowed value, 100000; using 100000",
                "'bnn.colour' is not a setting of this page; ignored",
                "'x' is not a setting of this page; ignored",
                "run: 'everything' is not a demo (one of bnn, lenet, hebbian); nothing started",
            ]
        );
    }

    #[test]
    fn repeated_keys_keep_the_last_and_say_so() {
        let link = parse("bnn.hidden=32&bnn.hidden=64&bnn.hidden=16");
        assert_eq!(link.values("bnn").expect("bnn").count(&bnn::HIDDEN), 16);
        assert_eq!(link.notes, vec![Note::Repeated { key: "bnn.hidden".into() }]);
    }

    #[test]
    fn escapes_round_trip_and_malformed_ones_do_not_panic() {
        for text in ["1.35,6", "a b&c=d", "λ%", "", "100%25"] {
            assert_eq!(decode(&encode(text)), text);
        }
        assert_eq!(decode("1.35%2C6"), "1.35,6");
        assert_eq!(decode("a+b"), "a b");
        for bad in ["%", "%4", "%zz", "%%%", "%ff%fe", "bnn.hidden=%"] {
            let _ = decode(bad);
            let _ = parse(bad);
        }
        let link = parse("bnn.meta=1.35%2C6&bnn.hidden=%ZZ");
        assert_eq!(link.values("bnn").expect("bnn").list(&bnn::META), [1.35, 6.0]);
        assert_eq!(link.notes.len(), 1);
    }

    #[test]
    fn random_queries_never_panic_and_always_give_allowed_values() {
        use rand::{RngExt, SeedableRng, rngs::StdRng};
        let mut rng = StdRng::seed_from_u64(7);
        let alphabet: Vec<char> = "abn.=&%+,-0123456789eEhidnrux?λ ".chars().collect();
        for _ in 0..2000 {
            let len = rng.random_range(0..40);
            let q: String = (0..len).map(|_| alphabet[rng.random_range(0..alphabet.len())]).collect();
            let link = parse(&q);
            for v in &link.values {
                for (s, value) in v.iter() {
                    assert_eq!(s.check(&value.to_string()).as_ref(), Ok(value), "{q}: {}", s.name);
                }
            }
        }
    }
}
