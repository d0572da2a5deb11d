//! The page's state in its URL: `?bnn.hidden=1024&bnn.compute=cpu&run=bnn`. Every setting of
//! every demo is written as `demo.setting=value`; `run=demo` starts that demo on load. A link is
//! read leniently: whatever is not allowed is replaced by the nearest allowed value and named in a
//! [`Note`], so a tampered link still opens a page, shows what it runs, and says what it changed.

use super::presets::PRESETS;
use super::{Demos, Values, Why};
use std::fmt;

/// The key that starts a demo on load.
pub const RUN: &str = "run";
/// The key that opens the page as one step of the guided path, `lesson=N` (1 for the first).
pub const LESSON: &str = "lesson";
/// The key that opens the page in presenter mode, `presenter=1`.
pub const PRESENTER: &str = "presenter";

/// How the page is shown, beside the demos' settings: carried by the link like a setting.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct View {
    /// The step of the guided path shown as a lesson (1-based), if any.
    pub lesson: Option<usize>,
    pub presenter: bool,
}

/// What a link asked for.
#[derive(Debug, Clone, PartialEq)]
pub struct Link {
    /// One entry per demo, in the order of the list it was read with; settings the link did not name are at
    /// their defaults.
    pub values: Vec<Values>,
    /// The demo to start on load.
    pub run: Option<&'static str>,
    /// The lesson view and presenter mode.
    pub view: View,
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
    /// `lesson=given` named no step of the guided path; `used` is shown instead (none when the
    /// given text is no number at all: the whole page).
    Lesson { given: String, why: Why, used: Option<usize> },
    /// `presenter=given` was neither 1 nor 0.
    Presenter { given: String },
}

impl Note {
    /// The `demo.setting` this note is about, if it names one.
    pub fn key(&self) -> Option<&str> {
        match self {
            Note::Corrected { key, .. } | Note::Repeated { key } => Some(key),
            Note::UnknownKey { .. } | Note::UnknownRun { .. } | Note::Lesson { .. } | Note::Presenter { .. } => None,
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
            Note::Lesson { given, why, used: Some(n) } => write!(f, "{LESSON}: '{given}' is {why} (the guided path has steps 1 to {}); showing step {n}", PRESETS.len()),
            Note::Lesson { given, why, used: None } => write!(f, "{LESSON}: '{given}' is {why} (the guided path has steps 1 to {}); showing the whole page", PRESETS.len()),
            Note::Presenter { given } => write!(f, "{PRESENTER}: '{given}' is neither 1 nor 0; presenter mode stays off"),
        }
    }
}

/// Reads a query string (with or without its leading `?`) for the page's `demos`. With
/// `lesson=N`, the settings start from step N of the guided path (not its `run=`: a lesson opens
/// ready and waits for Run), and the link's own settings go on top of them.
pub fn parse(query: &str, demos: Demos) -> Link {
    let pairs: Vec<(String, String)> = query
        .trim_start_matches('?')
        .split('&')
        .filter(|p| !p.is_empty())
        .map(|pair| {
            let (raw_key, raw_value) = pair.split_once('=').unwrap_or((pair, ""));
            (decode(raw_key), decode(raw_value))
        })
        .collect();
    let mut notes = Vec::new();
    let mut view = View::default();
    for (key, given) in &pairs {
        if key == LESSON {
            let (lesson, note) = read_lesson(given);
            view.lesson = lesson;
            notes.extend(note);
        } else if key == PRESENTER {
            match given.trim() {
                "1" | "true" => view.presenter = true,
                "0" | "false" => view.presenter = false,
                _ => notes.push(Note::Presenter { given: given.clone() }),
            }
        }
    }
    let mut values: Vec<Values> = match view.lesson.and_then(|n| PRESETS.get(n - 1)) {
        // Declared in code and tested to need no correction (`presets::tests`).
        Some(preset) => parse(preset.query, demos).values,
        None => demos.iter().map(|d| d.defaults()).collect(),
    };
    let mut run = None;
    let mut seen: Vec<String> = Vec::new();
    for (key, given) in pairs {
        if seen.contains(&key) && !notes.iter().any(|n| matches!(n, Note::Repeated { key: k } if *k == key)) {
            notes.push(Note::Repeated { key: key.clone() });
        }
        seen.push(key.clone());
        if key == LESSON || key == PRESENTER {
            continue;
        }
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
    Link { values, run, view, notes }
}

/// `lesson=given`: a step of the guided path, else the nearest one and a note (none, and the
/// whole page, for text that is no whole number).
fn read_lesson(given: &str) -> (Option<usize>, Option<Note>) {
    let last = PRESETS.len();
    let note = |why: Why, used: Option<usize>| Some(Note::Lesson { given: given.to_string(), why, used });
    match given.trim().parse::<i64>() {
        Ok(n) if n < 1 => (Some(1), note(Why::BelowMin("1".into()), Some(1))),
        Ok(n) if n as u64 > last as u64 => (Some(last), note(Why::AboveMax(last.to_string()), Some(last))),
        Ok(n) => (Some(n as usize), None),
        Err(_) => (None, note(Why::NotAWholeNumber, None)),
    }
}

/// The query string (with its `?`) for these values: every setting of every demo, then `run`,
/// then the view (`lesson`, `presenter`) where it is not the plain page.
pub fn write(values: &[&Values], run: Option<&str>, view: View) -> String {
    let mut parts: Vec<String> = Vec::new();
    for v in values {
        for (setting, value) in v.iter() {
            parts.push(format!("{}.{}={}", v.demo.name, setting.name, encode(&value.to_string())));
        }
    }
    if let Some(demo) = run {
        parts.push(format!("{RUN}={demo}"));
    }
    if let Some(n) = view.lesson {
        parts.push(format!("{LESSON}={n}"));
    }
    if view.presenter {
        parts.push(format!("{PRESENTER}=1"));
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
        let q = write(&[&b, &l, &h], Some("lenet"), View::default());
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
    fn a_lesson_starts_from_its_step_and_the_link_goes_on_top() {
        use super::super::presets::PRESETS;
        for (i, preset) in PRESETS.iter().enumerate() {
            let link = parse(&format!("?lesson={}", i + 1));
            assert!(link.notes.is_empty(), "{:?}", link.notes);
            assert_eq!(link.view, View { lesson: Some(i + 1), presenter: false });
            assert_eq!(link.values, parse(preset.query).values, "{}", preset.id);
            // A lesson opens ready: Run (or space) starts it.
            assert_eq!(link.run, None);
        }
        let link = parse("?lesson=3&bnn.hidden=64&presenter=1&run=bnn");
        let bnn = link.values("bnn").expect("bnn");
        assert_eq!((bnn.count(&bnn::HIDDEN), bnn.list(&bnn::META)), (64, &[1.35, 6.0][..]));
        assert_eq!((link.view, link.run), (View { lesson: Some(3), presenter: true }, Some("bnn")));
        // What the page writes back reads back the same.
        let values: Vec<&Values> = link.values.iter().collect();
        let again = parse(&write(&values, link.run, link.view));
        assert_eq!((again.values, again.run, again.view, again.notes), (link.values.clone(), link.run, link.view, vec![]));
    }

    #[test]
    fn a_lesson_out_of_range_shows_the_nearest_step_and_says_so() {
        let last = super::super::presets::PRESETS.len();
        let texts = |q: &str| {
            let link = parse(q);
            (link.view.lesson, link.notes.iter().map(ToString::to_string).collect::<Vec<_>>())
        };
        assert_eq!(
            texts("?lesson=99"),
            (Some(last), vec![format!("lesson: '99' is above the largest allowed value, {last} (the guided path has steps 1 to {last}); showing step {last}")])
        );
        assert_eq!(texts("?lesson=0"), (Some(1), vec![format!("lesson: '0' is below the smallest allowed value, 1 (the guided path has steps 1 to {last}); showing step 1")]));
        assert_eq!(
            texts("?lesson=two"),
            (None, vec![format!("lesson: 'two' is not a whole number (the guided path has steps 1 to {last}); showing the whole page")])
        );
        assert_eq!(texts("?presenter=yes").1, vec!["presenter: 'yes' is neither 1 nor 0; presenter mode stays off".to_string()]);
        assert!(!parse("?presenter=0").view.presenter);
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
