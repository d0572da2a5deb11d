//! What the experiment commands share on their command line (parsed by clap, whose help is
//! generated from these declarations): the seeds, the backend and the data directory; and the
//! value parser of a flag that is one of the page's settings ([`declared`]).

use clap::builder::{PossibleValue, TypedValueParser};
use metaplastic::experiments::reproduce::Seeds;
use metaplastic::settings::{Kind, Setting, Value, Why, fmt_float};
use std::marker::PhantomData;
use std::path::PathBuf;

/// The options every experiment takes.
#[derive(Debug, clap::Args)]
pub struct Common {
    /// Seeds: a count (3 means 1, 2, 3) or a list (4,8)
    #[arg(long, default_value = "3")]
    seeds: Seeds,
    /// Only this seed (what `metaplastic reproduce NAME --print` gives each run of a sweep)
    #[arg(long, conflicts_with = "seeds")]
    seed: Option<u64>,
    /// Where the networks train: the CPU, or the first GPU adapter wgpu finds (trusted only after
    /// its self-test)
    #[arg(long, default_value = "cpu", value_parser = ["cpu", "gpu"])]
    pub backend: String,
    /// The data sets' directory (scripts/fetch-data.sh fills it)
    #[arg(long, default_value = "static/data")]
    pub data: PathBuf,
}

impl Common {
    /// The seeds to run, in order.
    pub fn seeds(&self) -> Vec<u64> {
        match self.seed {
            Some(k) => vec![k],
            None => self.seeds.0.clone(),
        }
    }
}

/// The parser of a flag that is the same quantity as a page setting: the text is checked by the
/// setting's declaration (`Setting::check`), so the tool and the page allow the same values and
/// refuse the others in the same words. A choice lists its values with the page's labels in
/// `--help`.
pub fn declared<T: FromSetting>(setting: &'static Setting) -> Declared<T> {
    Declared { setting, value: PhantomData }
}

#[derive(Clone, Copy)]
pub struct Declared<T> {
    setting: &'static Setting,
    value: PhantomData<fn() -> T>,
}

/// A flag's text that its setting's declaration does not allow.
#[derive(Debug, thiserror::Error)]
pub enum NotAllowed {
    #[error("'{given}' is {why} (allowed: {allowed})")]
    Refused { given: String, why: Why, allowed: String },
    #[error("'{0}' is not a number above 0")]
    NotPositive(String),
    /// The flag's type does not hold the setting's kind (a declaration paired with the wrong flag).
    #[error("'{given}' cannot be read as the setting {setting}'s kind")]
    WrongKind { given: String, setting: &'static str },
}

impl<T: FromSetting> TypedValueParser for Declared<T> {
    type Value = T;

    fn parse_ref(&self, cmd: &clap::Command, arg: Option<&clap::Arg>, value: &std::ffi::OsStr) -> Result<T, clap::Error> {
        let setting = self.setting;
        let allowed = match setting.kind {
            // clap splits a list at its commas and checks each value alone, and the tool takes
            // any number of them.
            Kind::FloatList { min, max, .. } => format!("a number from {} to {}", fmt_float(min), fmt_float(max)),
            _ => setting.allowed(),
        };
        // A closure parser gets clap's own wording ("invalid value '5' for '--hidden <HIDDEN>': ...").
        let check = move |text: &str| -> Result<T, NotAllowed> {
            let checked = setting.check(text).map_err(|e| NotAllowed::Refused { given: text.trim().to_string(), why: e.why, allowed: allowed.clone() })?;
            T::from_setting(checked, text.trim()).ok_or_else(|| NotAllowed::WrongKind { given: text.to_string(), setting: setting.name })
        };
        check.parse_ref(cmd, arg, value)
    }

    fn possible_values(&self) -> Option<Box<dyn Iterator<Item = PossibleValue> + '_>> {
        match self.setting.kind {
            Kind::Choice(choices) => Some(Box::new(choices.iter().map(|c| PossibleValue::new(c.value).help(c.label)))),
            _ => None,
        }
    }
}

/// A number above 0 (a step size).
pub fn positive(text: &str) -> Result<f32, NotAllowed> {
    text.trim().parse::<f32>().ok().filter(|x| *x > 0.0 && x.is_finite()).ok_or_else(|| NotAllowed::NotPositive(text.to_string()))
}

/// A flag's type read from a value its setting allowed (and the text it was read from).
pub trait FromSetting: Sized + Clone + Send + Sync + 'static {
    fn from_setting(value: Value, text: &str) -> Option<Self>;
}

impl FromSetting for usize {
    fn from_setting(value: Value, _: &str) -> Option<Self> {
        match value {
            Value::Int(x) => usize::try_from(x).ok(),
            _ => None,
        }
    }
}

impl FromSetting for f32 {
    /// From the text, not the checked `f64`: the same `f32` as a plain parse, without a second
    /// rounding. One value of a list flag (clap splits it at commas) is a list of one.
    fn from_setting(value: Value, text: &str) -> Option<Self> {
        match value {
            Value::Float(_) => text.parse().ok(),
            Value::List(xs) if xs.len() == 1 => text.parse().ok(),
            _ => None,
        }
    }
}

impl FromSetting for bool {
    fn from_setting(value: Value, _: &str) -> Option<Self> {
        match value {
            Value::Bool(b) => Some(b),
            _ => None,
        }
    }
}

impl FromSetting for String {
    fn from_setting(value: Value, _: &str) -> Option<Self> {
        match value {
            Value::Choice(c) => Some(c.to_string()),
            _ => None,
        }
    }
}
