//! `--flag value` parsing with messages that say which flag and what is allowed.

use std::collections::BTreeMap;
use std::str::FromStr;

pub struct Args {
    values: BTreeMap<String, String>,
    used: std::cell::RefCell<Vec<String>>,
}

impl Args {
    /// Flags without a value (`--ewc`) are recorded as "true".
    pub fn parse(raw: &[String], switches: &[&str]) -> Result<Self, String> {
        let mut values = BTreeMap::new();
        let mut it = raw.iter();
        while let Some(arg) = it.next() {
            let Some(name) = arg.strip_prefix("--") else {
                return Err(format!("unexpected argument '{arg}' (flags start with --)"));
            };
            let (name, value) = match name.split_once('=') {
                Some((n, v)) => (n.to_string(), v.to_string()),
                None if switches.contains(&name) => (name.to_string(), "true".to_string()),
                None => (name.to_string(), it.next().ok_or(format!("--{name} needs a value"))?.clone()),
            };
            if values.insert(name.clone(), value).is_some() {
                return Err(format!("--{name} is given twice"));
            }
        }
        Ok(Self { values, used: Default::default() })
    }

    pub fn get<T: FromStr>(&self, name: &str, default: T) -> Result<T, String> {
        self.used.borrow_mut().push(name.to_string());
        match self.values.get(name) {
            None => Ok(default),
            Some(v) => v.parse().map_err(|_| format!("--{name} {v}: not a valid {}", std::any::type_name::<T>())),
        }
    }

    pub fn opt<T: FromStr>(&self, name: &str) -> Result<Option<T>, String> {
        self.used.borrow_mut().push(name.to_string());
        self.values
            .get(name)
            .map(|v| v.parse().map_err(|_| format!("--{name} {v}: not a valid {}", std::any::type_name::<T>())))
            .transpose()
    }

    pub fn list<T: FromStr>(&self, name: &str, default: &str) -> Result<Vec<T>, String> {
        let raw = self.get::<String>(name, default.to_string())?;
        raw.split(',')
            .map(|v| v.trim().parse().map_err(|_| format!("--{name}: '{v}' is not a valid {}", std::any::type_name::<T>())))
            .collect()
    }

    /// `--seeds 3` means seeds 1, 2, 3; `--seeds 4,8` means exactly those.
    pub fn seeds(&self, default: usize) -> Result<Vec<u64>, String> {
        let raw = self.get::<String>("seeds", default.to_string())?;
        if raw.contains(',') {
            return self.list("seeds", "");
        }
        let n: u64 = raw.parse().map_err(|_| format!("--seeds {raw}: a count (3) or a list (1,2,3)"))?;
        if !(1..=100).contains(&n) {
            return Err(format!("--seeds {n}: choose 1 to 100 seeds"));
        }
        Ok((1..=n).collect())
    }

    /// Refuses flags the command does not know, so a typo is not silently ignored.
    pub fn finish(&self) -> Result<(), String> {
        let used = self.used.borrow();
        match self.values.keys().find(|k| !used.contains(k)) {
            Some(unknown) => Err(format!("unknown flag --{unknown} (see `metaplastic help`)")),
            None => Ok(()),
        }
    }
}
