//! Every demo's settings, declared once: name, label, kind with its range or choices, default and
//! help. The page builds its forms from these declarations, checks what a person types against
//! them, and reads and writes them in the URL (`?bnn.hidden=1024&run=bnn`); the native tool can
//! read the same ranges. Nothing here knows about the browser, so all of it is tested natively.
//!
//! Adding a setting is one constant in a demo's file ([`bnn`], [`lenet`], [`hebbian`]) and its
//! place in that demo's list; the demos themselves are listed once, by `crate::demos::REGISTRY`,
//! and the functions here that read every demo's settings (a link) take that list.
//!
//! Two ways to meet a bad value, on purpose:
//! - [`Setting::check`] refuses it and says why, for the form: a person who typed it should see the
//!   message and decide;
//! - [`Setting::correct`] puts the nearest allowed value in its place and says so, for a link: a
//!   link is not edited in place, so the page shows the corrected run and a note instead of nothing.

pub mod bnn;
pub mod hebbian;
pub mod lenet;
pub mod presets;
pub mod query;

use std::fmt;

/// The `compute` setting every demo has: where its networks train.
pub const COMPUTE: &[Choice] = &[
    Choice::new("auto", "auto"),
    Choice::new("webgpu", "WebGPU"),
    Choice::new("cpu", "CPU"),
];

/// The seeds a person can type: enough for many runs, small enough to read aloud.
pub const SEED_MAX: i64 = 1_000_000;

/// One demo's declaration.
#[derive(Debug)]
pub struct Demo {
    /// The demo's name in URLs and messages (`bnn`, `lenet`, `hebbian`).
    pub name: &'static str,
    /// The prefix of the page's element ids (`bnn-run`, `hebb-steps`, ...).
    pub prefix: &'static str,
    pub settings: &'static [Setting],
}

/// Demos are told apart by name: two declarations with one name would be one demo to a URL.
impl PartialEq for Demo {
    fn eq(&self, other: &Self) -> bool {
        self.name == other.name
    }
}

impl Demo {
    pub fn setting(&self, name: &str) -> Option<&'static Setting> {
        self.settings.iter().find(|s| s.name == name)
    }

    /// Every setting at its default.
    pub fn defaults(&'static self) -> Values {
        Values { demo: self, values: self.settings.iter().map(Setting::default_value).collect() }
    }

    /// The element id of a setting's form field.
    pub fn field_id(&self, setting: &Setting) -> String {
        format!("{}-{}", self.prefix, setting.name)
    }
}

#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Choice {
    /// What the URL and the code say.
    pub value: &'static str,
    /// What the form shows.
    pub label: &'static str,
}

impl Choice {
    pub const fn new(value: &'static str, label: &'static str) -> Self {
        Self { value, label }
    }
}

#[derive(Debug, Clone, Copy, PartialEq)]
pub enum Kind {
    Int { min: i64, max: i64 },
    /// `step` is only the form's spinner increment; any value in the range is allowed.
    Float { min: f64, max: f64, step: f64 },
    Choice(&'static [Choice]),
    Bool,
    /// One to `max_len` numbers in the range, comma-separated (several values of m side by side).
    FloatList { min: f64, max: f64, step: f64, max_len: usize },
}

#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Setting {
    /// The key after the demo's name in the URL (`bnn.hidden`); also the field's id suffix.
    pub name: &'static str,
    pub label: &'static str,
    pub kind: Kind,
    /// Written as a URL would write it; a test checks that every default is allowed as written.
    pub default: &'static str,
    pub help: &'static str,
    /// Shown (and used) only while another setting of the demo has this value.
    pub only_when: Option<(&'static str, &'static str)>,
}

impl Setting {
    pub const fn int(name: &'static str, label: &'static str, min: i64, max: i64, default: &'static str, help: &'static str) -> Self {
        Self { name, label, kind: Kind::Int { min, max }, default, help, only_when: None }
    }

    pub const fn float(name: &'static str, label: &'static str, min: f64, max: f64, step: f64, default: &'static str, help: &'static str) -> Self {
        Self { name, label, kind: Kind::Float { min, max, step }, default, help, only_when: None }
    }

    pub const fn choice(name: &'static str, label: &'static str, choices: &'static [Choice], default: &'static str, help: &'static str) -> Self {
        Self { name, label, kind: Kind::Choice(choices), default, help, only_when: None }
    }

    pub const fn flag(name: &'static str, label: &'static str, default: bool, help: &'static str) -> Self {
        Self { name, label, kind: Kind::Bool, default: if default { "true" } else { "false" }, help, only_when: None }
    }

    #[allow(clippy::too_many_arguments)]
    pub const fn floats(
        name: &'static str,
        label: &'static str,
        min: f64,
        max: f64,
        step: f64,
        max_len: usize,
        default: &'static str,
        help: &'static str,
    ) -> Self {
        Self { name, label, kind: Kind::FloatList { min, max, step, max_len }, default, help, only_when: None }
    }

    /// The demo's `compute` setting.
    pub const fn compute() -> Self {
        Self::choice(
            "compute",
            "Compute",
            COMPUTE,
            "auto",
            "auto: times this network on WebGPU and on the CPU (a second each, remembered while the page is open) and trains on the faster",
        )
    }

    /// The demo's `seed` setting.
    pub const fn seed(label: &'static str) -> Self {
        Self::int("seed", label, 0, SEED_MAX, "1", "The same seed gives the same initial weights and batch order, hence the same run")
    }

    /// Only used while setting `other` has the value `value`.
    pub const fn when(mut self, other: &'static str, value: &'static str) -> Self {
        self.only_when = Some((other, value));
        self
    }

    pub fn default_value(&self) -> Value {
        // A declaration's default is checked by a test for every setting, so this holds; should
        // one slip through, the nearest allowed value is still a value.
        match self.check(self.default) {
            Ok(v) => v,
            Err(e) => e.nearest,
        }
    }

    /// The value `raw` stands for, or why it is not allowed (with the nearest allowed value).
    pub fn check(&self, raw: &str) -> Result<Value, Invalid> {
        let text = raw.trim();
        let invalid = |why: Why, nearest: Value| Err(Invalid { why, nearest });
        match self.kind {
            Kind::Int { min, max } => {
                let Some(x) = parse_number(text) else { return invalid(Why::NotANumber, self.fallback()) };
                let rounded = x.round();
                let nearest = (rounded.clamp(min as f64, max as f64)) as i64;
                if rounded < min as f64 {
                    invalid(Why::BelowMin(fmt_int(min)), Value::Int(nearest))
                } else if rounded > max as f64 {
                    invalid(Why::AboveMax(fmt_int(max)), Value::Int(nearest))
                } else if rounded != x {
                    invalid(Why::NotAWholeNumber, Value::Int(nearest))
                } else {
                    Ok(Value::Int(nearest))
                }
            }
            Kind::Float { min, max, .. } => {
                let Some(x) = parse_number(text) else { return invalid(Why::NotANumber, self.fallback()) };
                in_range(x, min, max).map(Value::Float).map_err(|(why, nearest)| Invalid { why, nearest: Value::Float(nearest) })
            }
            Kind::Choice(choices) => {
                if let Some(c) = choices.iter().find(|c| c.value == text) {
                    return Ok(Value::Choice(c.value));
                }
                // A link typed by hand may differ only in case ("CPU"): that one is meant.
                let nearest = match choices.iter().find(|c| c.value.eq_ignore_ascii_case(text)) {
                    Some(c) => Value::Choice(c.value),
                    None => self.fallback(),
                };
                invalid(Why::UnknownChoice(choices.iter().map(|c| c.value).collect::<Vec<_>>().join(", ")), nearest)
            }
            Kind::Bool => match text.to_ascii_lowercase().as_str() {
                "true" | "1" | "on" | "yes" => Ok(Value::Bool(true)),
                "false" | "0" | "off" | "no" => Ok(Value::Bool(false)),
                _ => invalid(Why::NotABool, self.fallback()),
            },
            Kind::FloatList { min, max, max_len, .. } => {
                let mut values = Vec::new();
                let mut first_problem = None;
                for part in text.split(',').map(str::trim).filter(|p| !p.is_empty()) {
                    match parse_number(part) {
                        Some(x) => match in_range(x, min, max) {
                            Ok(x) => values.push(x),
                            Err((why, nearest)) => {
                                first_problem.get_or_insert(why);
                                values.push(nearest);
                            }
                        },
                        None => {
                            first_problem.get_or_insert(Why::NotANumber);
                        }
                    }
                }
                if values.len() > max_len {
                    values.truncate(max_len);
                    first_problem.get_or_insert(Why::TooMany(max_len));
                }
                if values.is_empty() {
                    return invalid(first_problem.unwrap_or(Why::Empty), self.fallback());
                }
                match first_problem {
                    Some(why) => invalid(why, Value::List(values)),
                    None => Ok(Value::List(values)),
                }
            }
        }
    }

    /// The value `raw` stands for, or the nearest allowed one with the reason it was changed.
    pub fn correct(&self, raw: &str) -> (Value, Option<Why>) {
        match self.check(raw) {
            Ok(v) => (v, None),
            Err(e) => (e.nearest, Some(e.why)),
        }
    }

    /// What stands in for a value with nothing to go by (not a number, an unknown choice).
    fn fallback(&self) -> Value {
        match self.kind {
            // The default is itself checked, so this cannot recurse for long; a kind whose
            // default is broken falls back to the bottom of its range.
            Kind::Int { min, max } => Value::Int(parse_number(self.default).map_or(min, |x| (x.round() as i64).clamp(min, max))),
            Kind::Float { min, max, .. } => Value::Float(parse_number(self.default).map_or(min, |x| x.clamp(min, max))),
            Kind::Choice(choices) => Value::Choice(choices.iter().find(|c| c.value == self.default).or(choices.first()).map_or("", |c| c.value)),
            Kind::Bool => Value::Bool(self.default == "true"),
            Kind::FloatList { min, max, max_len, .. } => Value::List(
                self.default.split(',').filter_map(|p| parse_number(p.trim())).map(|x| x.clamp(min, max)).take(max_len).collect(),
            ),
        }
    }

    /// The allowed values in words ("8 to 4096", "one of auto, webgpu, cpu").
    pub fn allowed(&self) -> String {
        match self.kind {
            Kind::Int { min, max } => format!("a whole number from {} to {}", fmt_int(min), fmt_int(max)),
            Kind::Float { min, max, .. } => format!("a number from {} to {}", fmt_float(min), fmt_float(max)),
            Kind::Choice(choices) => format!("one of {}", choices.iter().map(|c| c.value).collect::<Vec<_>>().join(", ")),
            Kind::Bool => "true or false".into(),
            Kind::FloatList { min, max, max_len, .. } => {
                format!("1 to {max_len} numbers from {} to {}, separated by commas", fmt_float(min), fmt_float(max))
            }
        }
    }
}

/// Accepts what a person or a URL writes for a number; refuses NaN and infinities, which no
/// setting allows and which would pass a range check written as `!(x < min)`.
fn parse_number(text: &str) -> Option<f64> {
    let x: f64 = text.parse().ok()?;
    x.is_finite().then_some(x)
}

fn in_range(x: f64, min: f64, max: f64) -> Result<f64, (Why, f64)> {
    if x < min {
        Err((Why::BelowMin(fmt_float(min)), min))
    } else if x > max {
        Err((Why::AboveMax(fmt_float(max)), max))
    } else {
        Ok(x)
    }
}

fn fmt_int(x: i64) -> String {
    x.to_string()
}

/// The shortest text that reads back as the same number (`0.005`, `1.35`, `5000`).
pub fn fmt_float(x: f64) -> String {
    format!("{x}")
}

/// Why a value is not allowed.
#[derive(Debug, Clone, PartialEq)]
pub enum Why {
    NotANumber,
    NotAWholeNumber,
    /// The smallest allowed value, as text.
    BelowMin(String),
    AboveMax(String),
    /// The allowed choices, as text.
    UnknownChoice(String),
    NotABool,
    TooMany(usize),
    Empty,
}

impl fmt::Display for Why {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Why::NotANumber => write!(f, "not a number"),
            Why::NotAWholeNumber => write!(f, "not a whole number"),
            Why::BelowMin(min) => write!(f, "below the smallest allowed value, {min}"),
            Why::AboveMax(max) => write!(f, "above the largest allowed value, {max}"),
            Why::UnknownChoice(choices) => write!(f, "not one of {choices}"),
            Why::NotABool => write!(f, "neither true nor false"),
            Why::TooMany(n) => write!(f, "more than {n} values"),
            Why::Empty => write!(f, "empty"),
        }
    }
}

/// A value that is not allowed: why, and what is nearest.
#[derive(Debug, Clone, PartialEq)]
pub struct Invalid {
    pub why: Why,
    pub nearest: Value,
}

/// A value of a setting, of the setting's kind.
#[derive(Debug, Clone, PartialEq)]
pub enum Value {
    Int(i64),
    Float(f64),
    Choice(&'static str),
    Bool(bool),
    List(Vec<f64>),
}

impl fmt::Display for Value {
    /// As the URL and the form write it; reads back through [`Setting::check`] as the same value.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Value::Int(x) => write!(f, "{x}"),
            Value::Float(x) => write!(f, "{}", fmt_float(*x)),
            Value::Choice(c) => write!(f, "{c}"),
            Value::Bool(b) => write!(f, "{b}"),
            Value::List(xs) => write!(f, "{}", xs.iter().map(|x| fmt_float(*x)).collect::<Vec<_>>().join(",")),
        }
    }
}

/// A refused form value, worded for the person who typed it.
#[derive(Debug, Clone, PartialEq, thiserror::Error)]
#[error("{label}: '{given}' is {why} (allowed: {allowed})")]
pub struct Refused {
    pub label: &'static str,
    pub given: String,
    pub why: Why,
    pub allowed: String,
}

/// Every setting of one demo, each of its declared kind and within its range.
#[derive(Debug, Clone, PartialEq)]
pub struct Values {
    pub demo: &'static Demo,
    /// In the order of `demo.settings`.
    values: Vec<Value>,
}

impl Values {
    fn index(&self, name: &str) -> usize {
        // Code asks for settings through their declarations (`bnn::HIDDEN`), so a misspelt name
        // does not compile; one of another demo's would stop here, and every demo's tests read
        // all of theirs.
        self.demo
            .settings
            .iter()
            .position(|s| s.name == name)
            .unwrap_or_else(|| panic!("demo '{}' declares no setting '{name}'", self.demo.name))
    }

    pub fn get(&self, key: &Setting) -> &Value {
        &self.values[self.index(key.name)]
    }

    /// Sets a value that is already allowed (it came from [`Setting::check`] or `correct`).
    pub fn set(&mut self, key: &Setting, value: Value) {
        let i = self.index(key.name);
        self.values[i] = value;
    }

    pub fn int(&self, key: &Setting) -> i64 {
        match self.get(key) {
            Value::Int(x) => *x,
            other => panic!("{}.{} is declared as an integer, holds {other:?}", self.demo.name, key.name),
        }
    }

    /// For counts: every integer setting's range starts at 0 or above.
    pub fn count(&self, key: &Setting) -> usize {
        usize::try_from(self.int(key)).unwrap_or(0)
    }

    /// Every demo's `seed` (a test checks each declares one).
    pub fn seed(&self) -> u64 {
        u64::try_from(self.int(&self.demo.settings[self.index("seed")])).unwrap_or(0)
    }

    /// Every demo's `compute` choice.
    pub fn compute(&self) -> &'static str {
        self.choice(&self.demo.settings[self.index("compute")])
    }

    pub fn float(&self, key: &Setting) -> f64 {
        match self.get(key) {
            Value::Float(x) => *x,
            other => panic!("{}.{} is declared as a number, holds {other:?}", self.demo.name, key.name),
        }
    }

    pub fn choice(&self, key: &Setting) -> &'static str {
        match self.get(key) {
            Value::Choice(c) => c,
            other => panic!("{}.{} is declared as a choice, holds {other:?}", self.demo.name, key.name),
        }
    }

    pub fn flag(&self, key: &Setting) -> bool {
        match self.get(key) {
            Value::Bool(b) => *b,
            other => panic!("{}.{} is declared as true/false, holds {other:?}", self.demo.name, key.name),
        }
    }

    pub fn list(&self, key: &Setting) -> &[f64] {
        match self.get(key) {
            Value::List(xs) => xs,
            other => panic!("{}.{} is declared as a list, holds {other:?}", self.demo.name, key.name),
        }
    }

    /// Whether a setting applies under the current values (its `only_when` holds).
    pub fn applies(&self, setting: &Setting) -> bool {
        match setting.only_when {
            None => true,
            Some((other, value)) => self.values[self.index(other)].to_string() == value,
        }
    }

    /// `(setting, value)` in declaration order.
    pub fn iter(&self) -> impl Iterator<Item = (&'static Setting, &Value)> {
        self.demo.settings.iter().zip(&self.values)
    }

    /// Reads raw texts (`name`, `text`) as a form gives them. A value that is not allowed refuses
    /// the whole form, unchanged, with the first such value's reason; one in a setting that does
    /// not apply under the new values (a hidden field) keeps its previous value instead.
    pub fn check_all<'a>(&mut self, raw: impl IntoIterator<Item = (&'a str, String)>) -> Result<(), Refused> {
        let mut next = self.clone();
        let mut refused = Vec::new();
        for (name, text) in raw {
            let Some(setting) = self.demo.setting(name) else { continue };
            match setting.check(&text) {
                Ok(v) => next.set(setting, v),
                Err(e) => refused.push((setting, Refused { label: setting.label, given: text.trim().to_string(), why: e.why, allowed: setting.allowed() })),
            }
        }
        if let Some((_, r)) = refused.into_iter().find(|(s, _)| next.applies(s)) {
            return Err(r);
        }
        *self = next;
        Ok(())
    }

    /// The demo's part of a query string, without the demo's name: `hidden=128&meta=6&...`.
    /// This is also how settings travel to a training worker.
    pub fn to_plain_query(&self) -> String {
        self.iter().map(|(s, v)| format!("{}={}", s.name, query::encode(&v.to_string()))).collect::<Vec<_>>().join("&")
    }

    /// Reads what [`Values::to_plain_query`] wrote, strictly: anything unknown or not allowed is
    /// an error, because the page checked it already and a difference means a bug.
    pub fn from_plain_query(demo: &'static Demo, text: &str) -> Result<Self, QueryError> {
        let mut values = demo.defaults();
        for pair in text.split('&').filter(|p| !p.is_empty()) {
            let (key, raw) = pair.split_once('=').unwrap_or((pair, ""));
            let raw = query::decode(raw);
            let setting = demo.setting(key).ok_or_else(|| QueryError::Unknown { demo: demo.name, key: key.to_string() })?;
            let value = setting.check(&raw).map_err(|e| QueryError::NotAllowed { demo: demo.name, key: key.to_string(), raw: raw.clone(), why: e.why })?;
            values.set(setting, value);
        }
        Ok(values)
    }
}

/// Settings text that [`Values::to_plain_query`] did not write: a worker was sent something the
/// page never checked.
#[derive(Debug, Clone, PartialEq, thiserror::Error)]
pub enum QueryError {
    #[error("settings: {demo}.{key} is not a setting")]
    Unknown { demo: &'static str, key: String },
    #[error("settings: {demo}.{key} = '{raw}' is {why}")]
    NotAllowed { demo: &'static str, key: String, raw: String, why: Why },
}

/// Every demo's declaration, in the page's order (from `crate::demos::REGISTRY`).
pub type Demos<'a> = &'a [&'static Demo];

#[cfg(test)]
mod tests {
    use super::*;

    #[allow(non_snake_case)]
    fn DEMOS() -> Vec<&'static Demo> {
        crate::demos::declarations()
    }

    #[test]
    fn every_default_is_allowed_as_written_and_reads_back_the_same() {
        for demo in DEMOS() {
            for s in demo.settings {
                let v = s.check(s.default).unwrap_or_else(|e| panic!("{}.{}: default '{}' is {}", demo.name, s.name, s.default, e.why));
                assert_eq!(s.check(&v.to_string()), Ok(v.clone()), "{}.{}", demo.name, s.name);
            }
        }
    }

    #[test]
    fn names_are_unique_and_conditions_name_real_choices() {
        let mut demo_names: Vec<&str> = DEMOS().iter().map(|d| d.name).collect();
        demo_names.sort_unstable();
        demo_names.dedup();
        assert_eq!(demo_names.len(), DEMOS().len());
        for demo in DEMOS() {
            let mut names: Vec<&str> = demo.settings.iter().map(|s| s.name).collect();
            names.sort_unstable();
            names.dedup();
            assert_eq!(names.len(), demo.settings.len(), "duplicate setting in {}", demo.name);
            assert!(demo.setting("compute").is_some() && demo.setting("seed").is_some(), "{} has compute and seed", demo.name);
            for s in demo.settings {
                // URL keys are written unescaped: letters, digits and '-'.
                assert!(s.name.chars().all(|c| c.is_ascii_lowercase() || c.is_ascii_digit() || c == '-'), "{}", s.name);
                if let Some((other, value)) = s.only_when {
                    let o = demo.setting(other).unwrap_or_else(|| panic!("{}.{}: no setting {other}", demo.name, s.name));
                    assert!(o.check(value).is_ok(), "{}.{}: {other} cannot be {value}", demo.name, s.name);
                }
            }
        }
    }

    #[test]
    fn integers_are_checked_and_corrected_to_the_nearest_allowed_value() {
        let hidden = &bnn::HIDDEN;
        assert_eq!(hidden.check("1024"), Ok(Value::Int(1024)));
        assert_eq!(hidden.check(" 32 "), Ok(Value::Int(32)));
        assert_eq!(hidden.correct("5"), (Value::Int(8), Some(Why::BelowMin("8".into()))));
        assert_eq!(hidden.correct("-3"), (Value::Int(8), Some(Why::BelowMin("8".into()))));
        assert_eq!(hidden.correct("100000"), (Value::Int(4096), Some(Why::AboveMax("4096".into()))));
        assert_eq!(hidden.correct("1e9"), (Value::Int(4096), Some(Why::AboveMax("4096".into()))));
        assert_eq!(hidden.correct("100.4"), (Value::Int(100), Some(Why::NotAWholeNumber)));
        // Nothing to go by: the default.
        assert_eq!(hidden.correct("lots"), (Value::Int(128), Some(Why::NotANumber)));
        assert_eq!(hidden.correct("NaN"), (Value::Int(128), Some(Why::NotANumber)));
        assert_eq!(hidden.correct("inf"), (Value::Int(128), Some(Why::NotANumber)));
        assert_eq!(hidden.correct(""), (Value::Int(128), Some(Why::NotANumber)));
    }

    #[test]
    fn floats_choices_flags_and_lists() {
        let lr = &bnn::LR;
        assert_eq!(lr.check("0.02"), Ok(Value::Float(0.02)));
        assert_eq!(lr.correct("7").0, Value::Float(1.0));
        assert_eq!(lr.correct("0").0, Value::Float(0.0001));
        let compute = &bnn::COMPUTE;
        assert_eq!(compute.check("cpu"), Ok(Value::Choice("cpu")));
        assert_eq!(compute.correct("CPU"), (Value::Choice("cpu"), Some(Why::UnknownChoice("auto, webgpu, cpu".into()))));
        assert_eq!(compute.correct("tpu").0, Value::Choice("auto"));
        let ewc = &bnn::EWC;
        assert_eq!(ewc.check("on"), Ok(Value::Bool(true)));
        assert_eq!(ewc.correct("maybe"), (Value::Bool(false), Some(Why::NotABool)));
        let meta = &bnn::META;
        assert_eq!(meta.check("1.35,6"), Ok(Value::List(vec![1.35, 6.0])));
        assert_eq!(meta.correct("1.35, 99"), (Value::List(vec![1.35, 50.0]), Some(Why::AboveMax("50".into()))));
        assert_eq!(meta.correct("1,x,2"), (Value::List(vec![1.0, 2.0]), Some(Why::NotANumber)));
        assert_eq!(meta.correct("1,2,3,4").0, Value::List(vec![1.0, 2.0, 3.0]));
        assert_eq!(meta.correct(""), (Value::List(vec![6.0]), Some(Why::Empty)));
    }

    #[test]
    fn the_form_is_refused_with_the_label_and_the_allowed_range() {
        let mut values = bnn::DEMO.defaults();
        let err = values.check_all([("hidden", "5".to_string())]).expect_err("5 is below 8");
        let text = err.to_string();
        assert!(text.contains("Hidden units") && text.contains("'5'") && text.contains("8 to 4096"), "{text}");
        // Nothing is changed by a refused form.
        assert_eq!(values, bnn::DEMO.defaults());
        values.check_all([("hidden", "64".to_string()), ("compute", "cpu".to_string())]).expect("allowed");
        assert_eq!((values.count(&bnn::HIDDEN), values.compute()), (64, "cpu"));
    }

    #[test]
    fn settings_travel_to_a_worker_and_back_unchanged() {
        for demo in DEMOS() {
            let values = demo.defaults();
            assert_eq!(Values::from_plain_query(demo, &values.to_plain_query()), Ok(values));
        }
        let mut values = bnn::DEMO.defaults();
        values.set(&bnn::META, Value::List(vec![1.35, 6.0]));
        values.set(&bnn::LR, Value::Float(0.0123));
        assert_eq!(Values::from_plain_query(&bnn::DEMO, &values.to_plain_query()), Ok(values));
        assert!(matches!(Values::from_plain_query(&bnn::DEMO, "hidden=3"), Err(QueryError::NotAllowed { why: Why::BelowMin(_), .. })));
        assert!(matches!(Values::from_plain_query(&bnn::DEMO, "width=3"), Err(QueryError::Unknown { .. })));
    }

    #[test]
    fn conditional_settings_follow_their_switch() {
        let mut values = bnn::DEMO.defaults();
        assert!(values.applies(&bnn::TASKS) && !values.applies(&bnn::SUBSETS));
        values.set(&bnn::EXPERIMENT, Value::Choice("stream"));
        assert!(!values.applies(&bnn::TASKS) && values.applies(&bnn::SUBSETS));
    }
}
