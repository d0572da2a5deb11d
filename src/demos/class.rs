//! The class's own experiment, pooled without a server: a teacher's link gives each seat one cell
//! of a question (one value of m, or one seed), each seat's page trains its cell with demo 1's
//! permuted-MNIST run and ends with a result code, and the teacher's page pools the codes into the
//! class's plot. This module is the whole format and its rules, with no browser types: the
//! questions and their cells, the link's keys, the code (written, read, checked), the pool and its
//! figure. The page (`src/web/class.rs`) only shows them.
//!
//! A code is one line of QR's alphanumeric characters (upper-case letters, digits, space and
//! `$%*+-./:`), so its QR code stays small:
//!
//! ```text
//! MPC1 M 3X600 SEAT:3 M:1.35 SEED:1 ACC:91.23/88.71/95.30 BUILD:5E0A41C7 SUM:1F2E3D4C
//! ```
//!
//! the format's name, the question (`M` or `SEEDS`), the budget (tasks x batches per task), the
//! seat, its cell (m and seed), each task's test accuracy after the last task in percent, the
//! build that measured it, and a CRC-32 of everything before ` SUM:` (eight hex digits). A typo
//! anywhere changes the checksum; the question, the budget and the build must be the teacher's.

use crate::charts::{Figure, LineChart, Series, line_chart, palette};
use crate::experiments::summary::Summary;
use crate::settings::{Value, Values, bnn};
use crate::stats;

/// The first word of every code: the format and its version.
pub const PREFIX: &str = "MPC1";
/// The build this crate is (`build.rs`: a hash of its sources, shaders and locked dependencies).
pub const BUILD: &str = env!("METAPLASTIC_BUILD");
/// The hidden units of every cell: the guided path's permuted-MNIST runs.
pub const HIDDEN: i64 = 128;
/// Seats a link may name.
pub const MAX_SEATS: usize = 60;
/// The budget's limits: tasks, and batches of 100 images per task.
pub const TASKS: (usize, usize, usize) = (2, 10, 3);
pub const STEPS: (usize, usize, usize) = (1, 2400, 600);

/// The values of m the first question compares, one per seat in turn.
pub const M_VALUES: [f32; 6] = [0.0, 0.5, 1.0, 1.35, 3.0, 6.0];
/// The m every seat of the seeds question trains: the demo's default.
pub const SEEDS_M: f32 = 6.0;

/// The URL's keys: `view=class` opens the teacher's page; `class=<question>` is the class link,
/// `seat=N` a seat of it; `class.tasks` and `class.steps` set the budget.
pub const VIEW_KEY: &str = "view";
pub const VIEW_VALUE: &str = "class";
pub const QUESTION_KEY: &str = "class";
pub const SEAT_KEY: &str = "seat";
pub const TASKS_KEY: &str = "class.tasks";
pub const STEPS_KEY: &str = "class.steps";

/// What the class measures.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Question {
    /// Task-1 accuracy after the last task against m (seat by seat through [`M_VALUES`]).
    Meta,
    /// The same setting (m = [`SEEDS_M`]) over as many seeds as there are seats.
    Seeds,
}

impl Question {
    pub const ALL: [Question; 2] = [Question::Meta, Question::Seeds];

    /// Its name in a link (`class=m`).
    pub fn id(self) -> &'static str {
        match self {
            Question::Meta => "m",
            Question::Seeds => "seeds",
        }
    }

    /// Its word in a code.
    fn word(self) -> &'static str {
        match self {
            Question::Meta => "M",
            Question::Seeds => "SEEDS",
        }
    }

    pub fn from_id(id: &str) -> Option<Question> {
        Question::ALL.into_iter().find(|q| q.id().eq_ignore_ascii_case(id.trim()) || q.word().eq_ignore_ascii_case(id.trim()))
    }

    pub fn title(self) -> &'static str {
        match self {
            Question::Meta => "How much of task 1 does each m keep? (m = 0, 0.5, 1, 1.35, 3, 6)",
            Question::Seeds => "How much does one run vary by its seed alone? (m = 6, a seed per seat)",
        }
    }

    /// The cell of seat `seat` (1-based): the question's settings in turn, a new seed each round.
    pub fn cell(self, seat: usize) -> Cell {
        let i = seat.max(1) - 1;
        match self {
            Question::Meta => Cell { m: M_VALUES[i % M_VALUES.len()], seed: 1 + (i / M_VALUES.len()) as u64 },
            Question::Seeds => Cell { m: SEEDS_M, seed: 1 + i as u64 },
        }
    }
}

/// Every cell's run length: `tasks` permuted-MNIST tasks of `steps` batches of 100 images.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Budget {
    pub tasks: usize,
    pub steps: usize,
}

impl Default for Budget {
    /// The run of the guided path's step 2, "Forgetting on permuted MNIST".
    fn default() -> Self {
        Budget { tasks: TASKS.2, steps: STEPS.2 }
    }
}

/// A question at a budget: what every code of one class answers.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Class {
    pub question: Question,
    pub budget: Budget,
}

impl Class {
    /// The class as a code writes it (`M 3X600`).
    pub fn words(&self) -> String {
        format!("{} {}X{}", self.question.word(), self.budget.tasks, self.budget.steps)
    }

    /// The class link's query (with its `?`), and a seat's with `seat`.
    pub fn query(&self, seat: Option<usize>) -> String {
        let mut q = format!("?{QUESTION_KEY}={}", self.question.id());
        if self.budget != Budget::default() {
            q.push_str(&format!("&{TASKS_KEY}={}&{STEPS_KEY}={}", self.budget.tasks, self.budget.steps));
        }
        if let Some(seat) = seat {
            q.push_str(&format!("&{SEAT_KEY}={seat}"));
        }
        q
    }

    /// The teacher's page of this class.
    pub fn teacher_query(&self) -> String {
        format!("?{VIEW_KEY}={VIEW_VALUE}&{}", &self.query(None)[1..])
    }

    /// What one seat trains, in words.
    pub fn budget_words(&self) -> String {
        format!(
            "{} permuted-MNIST tasks of {} batches of 100 images ({}), {HIDDEN} hidden units",
            self.budget.tasks,
            self.budget.steps,
            if self.budget.steps == 600 { "one epoch each".to_string() } else { format!("{:.2} epochs each", self.budget.steps as f32 / 600.0) }
        )
    }

    /// The measured quantity, in words.
    pub fn measure_words(&self) -> String {
        format!("task-1 test accuracy after task {}", self.budget.tasks)
    }
}

/// One seat's setting: m of the metaplastic network, and the seed.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Cell {
    pub m: f32,
    pub seed: u64,
}

impl Cell {
    /// Demo 1's settings for this cell: the guided path's permuted-MNIST run at this m and seed.
    /// The page always trains the standard network (m = 0) beside the metaplastic one; a seat of
    /// m = 0 reads the standard one, with m = 6 beside it for the student to compare.
    pub fn apply(&self, budget: Budget, values: &mut Values) {
        let beside = if self.m == 0.0 { SEEDS_M } else { self.m };
        values.set(&bnn::EXPERIMENT, Value::Choice("permuted"));
        values.set(&bnn::SEQUENCE, Value::Choice("permuted"));
        values.set(&bnn::HIDDEN, Value::Int(HIDDEN));
        // As a person would type it (1.35, not the f32's 1.3500000238...).
        values.set(&bnn::META, Value::List(vec![fmt_m(beside).parse().unwrap_or(f64::from(SEEDS_M))]));
        values.set(&bnn::TASKS, Value::Int(budget.tasks as i64));
        values.set(&bnn::STEPS, Value::Int(budget.steps as i64));
        values.set(&bnn::SEED, Value::Int(self.seed as i64));
        values.set(&bnn::EWC, Value::Bool(false));
    }

    /// The learner of demo 1's run that is this cell: the standard network for m = 0, else the
    /// metaplastic one (the order `PermutedConfig::learners` keeps).
    pub fn learner(&self) -> usize {
        usize::from(self.m != 0.0)
    }
}

/// `m` as a code and a page write it: the shortest decimal that reads back.
pub fn fmt_m(m: f32) -> String {
    format!("{m}")
}

/// What a class link asked for, corrected, with a note per correction.
#[derive(Debug, Clone, PartialEq)]
pub struct Link {
    pub class: Class,
    /// The teacher's page (`view=class`) rather than a seat's.
    pub teacher: bool,
    pub seat: Option<usize>,
    pub notes: Vec<String>,
}

/// Reads a query string: `None` unless it asks for the teacher's page or carries `class=`.
pub fn parse_link(search: &str) -> Option<Link> {
    let pairs: Vec<(String, String)> = search
        .trim_start_matches('?')
        .split('&')
        .filter_map(|kv| kv.split_once('='))
        .map(|(k, v)| (crate::settings::query::decode(k), crate::settings::query::decode(v)))
        .collect();
    let get = |key: &str| pairs.iter().rev().find(|(k, _)| k == key).map(|(_, v)| v.as_str());
    let teacher = get(VIEW_KEY) == Some(VIEW_VALUE);
    let asked = get(QUESTION_KEY);
    if !teacher && asked.is_none() {
        return None;
    }
    let mut notes = Vec::new();
    let question = match asked {
        None => Question::Meta,
        Some(id) => Question::from_id(id).unwrap_or_else(|| {
            notes.push(format!("{QUESTION_KEY}: '{id}' is no question of this page (m or seeds); using m"));
            Question::Meta
        }),
    };
    let mut count = |key: &str, (lo, hi, default): (usize, usize, usize)| match get(key) {
        None => Some(default),
        Some(text) => match text.trim().parse::<f64>() {
            Ok(v) if v.is_finite() => {
                let n = (v.round().max(0.0) as usize).clamp(lo, hi);
                if n as f64 != v {
                    notes.push(format!("{key}: '{text}' is outside {lo} to {hi} or not whole; using {n}"));
                }
                Some(n)
            }
            _ => {
                notes.push(format!("{key}: '{text}' is not a number; using {default}"));
                None
            }
        },
    };
    let tasks = count(TASKS_KEY, TASKS).unwrap_or(TASKS.2);
    let steps = count(STEPS_KEY, STEPS).unwrap_or(STEPS.2);
    let seat = if teacher { None } else { get(SEAT_KEY).map(|_| count(SEAT_KEY, (1, MAX_SEATS, 1))).map(|n| n.unwrap_or(1)) };
    Some(Link { class: Class { question, budget: Budget { tasks, steps } }, teacher, seat, notes })
}

/// `search` without the class link's keys: what the page's settings are read from (the keys are
/// the class's, not a demo's, and would otherwise be named as unknown).
pub fn without_class_keys(search: &str) -> String {
    let keep: Vec<&str> = search
        .trim_start_matches('?')
        .split('&')
        .filter(|kv| !kv.is_empty())
        .filter(|kv| {
            let key = crate::settings::query::decode(kv.split_once('=').map_or(kv, |(k, _)| k));
            ![QUESTION_KEY, SEAT_KEY, TASKS_KEY, STEPS_KEY].contains(&key.as_str())
        })
        .collect();
    if keep.is_empty() { String::new() } else { format!("?{}", keep.join("&")) }
}

/// One seat's result, as its code carries it.
#[derive(Debug, Clone, PartialEq)]
pub struct ResultCode {
    pub class: Class,
    pub seat: usize,
    pub cell: Cell,
    /// Each task's test accuracy after the last task, in hundredths of a percent (10000 = all
    /// right): what the code writes, so a code reads back to the same numbers exactly.
    pub acc: Vec<u16>,
    pub build: String,
}

/// Why a code is not pooled.
#[derive(Debug, Clone, PartialEq, thiserror::Error)]
pub enum CodeError {
    #[error("this is not a class result code (a code starts with {PREFIX})")]
    NotACode,
    #[error("the code is malformed: {0}")]
    Malformed(String),
    #[error("its checksum does not match: a character was changed or mistyped")]
    Checksum,
    #[error("it was measured by build {got}, this page is build {want}: results of different builds are not pooled")]
    OtherBuild { got: String, want: String },
    #[error("it answers another question ({got}); this class asks {want}")]
    OtherQuestion { got: String, want: String },
    #[error("this summary.json carries no class code: it was not saved on a class seat's page")]
    NoCodeInSummary,
    #[error("not a summary.json: {0}")]
    NotJson(String),
}

/// CRC-32 (IEEE 802.3, reflected polynomial 0xEDB88320), bit by bit: a code is short, and every
/// single-character change is caught.
fn crc32(bytes: &[u8]) -> u32 {
    let mut crc = !0u32;
    for &b in bytes {
        crc ^= u32::from(b);
        for _ in 0..8 {
            crc = if crc & 1 == 1 { (crc >> 1) ^ 0xEDB8_8320 } else { crc >> 1 };
        }
    }
    !crc
}

impl ResultCode {
    /// A seat's result from its run's accuracy matrix (`acc_matrix[task seen][task tested]`): the
    /// last row, the accuracy on each task after the last one. `None` until that row is complete.
    pub fn from_matrix(class: Class, seat: usize, matrix: &[Vec<f32>]) -> Option<ResultCode> {
        let last = matrix.get(class.budget.tasks.checked_sub(1)?)?;
        if last.len() != class.budget.tasks || last.iter().any(|a| !a.is_finite() || !(0.0..=1.0).contains(a)) {
            return None;
        }
        let acc = last.iter().map(|a| (a * 10_000.0).round() as u16).collect();
        Some(ResultCode { class, seat, cell: class.question.cell(seat), acc, build: BUILD.to_string() })
    }

    /// The seat's result from its run's summary (its `runs` in learner order).
    pub fn from_summary(class: Class, seat: usize, summary: &Summary) -> Option<ResultCode> {
        let run = summary.runs.get(class.question.cell(seat).learner())?;
        let matrix: Vec<Vec<f32>> = run["metrics"]["acc_matrix"]
            .as_array()?
            .iter()
            .map(|row| row.as_array().map(|r| r.iter().map(|v| v.as_f64().map_or(f32::NAN, |x| x as f32)).collect()))
            .collect::<Option<_>>()?;
        Self::from_matrix(class, seat, &matrix)
    }

    /// The measured quantity: task 1's accuracy after the last task, as a fraction.
    pub fn task1(&self) -> f32 {
        f32::from(self.acc[0]) / 10_000.0
    }

    /// The code's text.
    pub fn text(&self) -> String {
        let acc: Vec<String> = self.acc.iter().map(|a| format!("{}.{:02}", a / 100, a % 100)).collect();
        let body = format!(
            "{PREFIX} {} SEAT:{} M:{} SEED:{} ACC:{} BUILD:{}",
            self.class.words(),
            self.seat,
            fmt_m(self.cell.m),
            self.cell.seed,
            acc.join("/"),
            self.build
        );
        format!("{body} SUM:{:08X}", crc32(body.as_bytes()))
    }

    /// Reads a code (spaces and letter case as a person may have typed them) and checks that it
    /// is whole and answers `class` on `build`.
    pub fn parse(text: &str, class: &Class, build: &str) -> Result<ResultCode, CodeError> {
        let text = text.split_whitespace().collect::<Vec<_>>().join(" ").to_ascii_uppercase();
        if !text.starts_with(PREFIX) {
            return Err(CodeError::NotACode);
        }
        let (body, sum) = text.rsplit_once(" SUM:").ok_or_else(|| CodeError::Malformed("no checksum (SUM:) at its end".into()))?;
        let sum = u32::from_str_radix(sum, 16).ok().filter(|_| sum.len() == 8).ok_or_else(|| CodeError::Malformed(format!("the checksum '{sum}' is not eight hex digits")))?;
        if crc32(body.as_bytes()) != sum {
            return Err(CodeError::Checksum);
        }
        let bad = |what: &str| CodeError::Malformed(what.to_string());
        let words: Vec<&str> = body.split(' ').collect();
        let [_, question, budget, seat, m, seed, acc, made_by] = words[..] else {
            return Err(bad("it should have eight parts before its checksum"));
        };
        let field = |word: &str, key: &str| word.strip_prefix(key).and_then(|w| w.strip_prefix(':')).map(str::to_string).ok_or_else(|| bad(&format!("'{word}' should be {key}:...")));
        let made_by = field(made_by, "BUILD")?;
        if made_by != build.to_ascii_uppercase() {
            return Err(CodeError::OtherBuild { got: made_by, want: build.to_ascii_uppercase() });
        }
        let question = Question::from_id(question).ok_or_else(|| bad(&format!("'{question}' is no question")))?;
        let (tasks, steps) = budget.split_once('X').and_then(|(t, s)| Some((t.parse::<usize>().ok()?, s.parse::<usize>().ok()?))).ok_or_else(|| bad(&format!("the budget '{budget}' is not TASKSxSTEPS")))?;
        let got = Class { question, budget: Budget { tasks, steps } };
        if got != *class {
            return Err(CodeError::OtherQuestion { got: describe(&got), want: describe(class) });
        }
        let seat: usize = field(seat, "SEAT")?.parse().ok().filter(|s| (1..=MAX_SEATS).contains(s)).ok_or_else(|| bad(&format!("the seat is not 1 to {MAX_SEATS}")))?;
        let m: f32 = field(m, "M")?.parse().map_err(|_| bad("m is not a number"))?;
        let seed: u64 = field(seed, "SEED")?.parse().map_err(|_| bad("the seed is not a whole number"))?;
        let cell = question.cell(seat);
        if cell.m != m || cell.seed != seed {
            return Err(bad(&format!("seat {seat} trains m = {}, seed {}, not m = {}, seed {seed}", fmt_m(cell.m), cell.seed, fmt_m(m))));
        }
        let acc = field(acc, "ACC")?
            .split('/')
            .map(|a| {
                let (whole, frac) = a.split_once('.')?;
                let (w, f): (u16, u16) = (whole.parse().ok()?, frac.parse().ok().filter(|_| frac.len() == 2)?);
                Some(w).filter(|&w| w <= 100).map(|w| w * 100 + f).filter(|&x| x <= 10_000)
            })
            .collect::<Option<Vec<u16>>>()
            .ok_or_else(|| bad("an accuracy is not a percentage with two decimals"))?;
        if acc.len() != tasks {
            return Err(bad(&format!("{} accuracies for {tasks} tasks", acc.len())));
        }
        Ok(ResultCode { class: got, seat, cell, acc, build: made_by })
    }
}

/// A class in a person's words, for a refusal.
fn describe(class: &Class) -> String {
    format!("{} with {} tasks of {} batches", if class.question == Question::Meta { "m against task 1" } else { "seeds at m = 6" }, class.budget.tasks, class.budget.steps)
}

/// The code a class seat's `summary.json` carries (its `class_code` field).
pub fn code_in_summary(text: &str) -> Result<String, CodeError> {
    let doc: serde_json::Value = serde_json::from_str(text).map_err(|e| CodeError::NotJson(e.to_string()))?;
    doc.get(SUMMARY_FIELD).and_then(|v| v.as_str()).map(str::to_string).ok_or(CodeError::NoCodeInSummary)
}

/// The field of `summary.json` that carries a seat's code.
pub const SUMMARY_FIELD: &str = "class_code";

/// A QR code's modules, dark or light, row by row.
#[derive(Debug, Clone, PartialEq)]
pub struct Qr {
    pub size: usize,
    pub dark: Vec<bool>,
}

/// Modules of light margin around a QR code: the standard's quiet zone.
pub const QUIET: usize = 4;

impl Qr {
    /// The code of `text`, at error-correction level M (15% of it can be lost or misread).
    pub fn new(text: &str) -> Result<Qr, String> {
        let code = qrcode::QrCode::with_error_correction_level(text.as_bytes(), qrcode::EcLevel::M).map_err(|e| format!("no QR code for it: {e}"))?;
        Ok(Qr { size: code.width(), dark: code.to_colors().into_iter().map(|c| c == qrcode::Color::Dark).collect() })
    }

    /// Whether the module at (x, y) of the picture, quiet zone included, is dark.
    pub fn is_dark(&self, x: usize, y: usize) -> bool {
        let (x, y) = (x.wrapping_sub(QUIET), y.wrapping_sub(QUIET));
        x < self.size && y < self.size && self.dark[y * self.size + x]
    }

    /// Modules along a side, quiet zone included.
    pub fn side(&self) -> usize {
        self.size + 2 * QUIET
    }

    /// As SVG, one path of unit squares in a `side` x `side` view box on white, scaled by the
    /// page; `label` is its text alternative.
    pub fn svg(&self, label: &str) -> String {
        let side = self.side();
        let mut path = String::new();
        for y in 0..side {
            for x in 0..side {
                if self.is_dark(x, y) {
                    path.push_str(&format!("M{x} {y}h1v1h-1z"));
                }
            }
        }
        format!(
            "<svg xmlns=\"http://www.w3.org/2000/svg\" viewBox=\"0 0 {side} {side}\" role=\"img\" aria-label=\"{}\" shape-rendering=\"crispEdges\"><rect width=\"{side}\" height=\"{side}\" fill=\"#fff\"/><path d=\"{path}\" fill=\"#000\"/></svg>",
            crate::charts::svg::escape(label)
        )
    }
}

/// Whether a code joined the pool.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Added {
    New,
    /// Its cell is pooled already (the same seat sent twice): not counted again.
    Duplicate,
}

/// One setting's seats in the pool, with their mean and its 95% interval.
#[derive(Debug, Clone, PartialEq)]
pub struct Group {
    /// m for the m question; for the seeds question, the one setting.
    pub m: f32,
    /// (seat, seed, task-1 accuracy) of each code.
    pub points: Vec<(usize, u64, f32)>,
    pub mean: f32,
    /// Half-width of the 95% interval of the mean (infinite for one seat).
    pub ci95: f32,
}

/// The codes one class pooled, in the order they came.
#[derive(Debug, Clone, PartialEq)]
pub struct Pool {
    pub class: Class,
    pub build: String,
    pub codes: Vec<ResultCode>,
}

impl Pool {
    pub fn new(class: Class, build: &str) -> Self {
        Pool { class, build: build.to_string(), codes: Vec::new() }
    }

    /// Reads one code and pools it unless its cell is there already.
    pub fn add(&mut self, text: &str) -> Result<Added, CodeError> {
        let code = ResultCode::parse(text, &self.class, &self.build)?;
        if self.codes.iter().any(|c| c.cell == code.cell) {
            return Ok(Added::Duplicate);
        }
        self.codes.push(code);
        Ok(Added::New)
    }

    /// Every code in `text`, however it was pasted (one a line, or several run together: each
    /// starts with [`PREFIX`]); each piece's outcome, with the piece. Lines that hold no code are
    /// refused with the rest: nothing pooled is lost by a refusal.
    pub fn add_all(&mut self, text: &str) -> Vec<(String, Result<Added, CodeError>)> {
        let mut out = Vec::new();
        for line in text.lines().map(str::trim).filter(|l| !l.is_empty()) {
            let upper = line.to_ascii_uppercase();
            let starts: Vec<usize> = upper.match_indices(PREFIX).map(|(i, _)| i).collect();
            if starts.first() != Some(&0) {
                let end = starts.first().copied().unwrap_or(line.len());
                out.push((line[..end].trim().to_string(), Err(CodeError::NotACode)));
            }
            for (k, &start) in starts.iter().enumerate() {
                let piece = line[start..starts.get(k + 1).copied().unwrap_or(line.len())].trim().to_string();
                let outcome = self.add(&piece);
                out.push((piece, outcome));
            }
        }
        out
    }

    /// The pooled codes, one a line: what the teacher's page keeps across a reload.
    pub fn stored(&self) -> String {
        self.codes.iter().map(ResultCode::text).collect::<Vec<_>>().join("\n")
    }

    /// The codes by setting, in the question's order, each with its mean and interval
    /// (`stats::mean_ci95`, the interval the rest of the project reports).
    pub fn groups(&self) -> Vec<Group> {
        let settings: &[f32] = match self.class.question {
            Question::Meta => &M_VALUES,
            Question::Seeds => &[SEEDS_M],
        };
        settings
            .iter()
            .filter_map(|&m| {
                let mut points: Vec<(usize, u64, f32)> = self.codes.iter().filter(|c| c.cell.m == m).map(|c| (c.seat, c.cell.seed, c.task1())).collect();
                points.sort_by_key(|p| p.1);
                let values: Vec<f32> = points.iter().map(|p| p.2).collect();
                let (mean, _, ci95) = stats::mean_ci95(&values);
                (!points.is_empty()).then_some(Group { m, points, mean, ci95 })
            })
            .collect()
    }

    /// The class's plot: every seat's point and each setting's mean with its 95% interval,
    /// against m (the m question) or against the seed (the seeds question).
    pub fn figure(&self, width: f32, height: f32) -> Figure {
        let groups = self.groups();
        let point_color = palette::MUTED;
        let (mean_color, bar_color) = (palette::METAPLASTIC, palette::BASELINE);
        let mut series = vec![
            Series::new("each seat (a dot)", point_color, Vec::new()),
            Series::new("class mean", mean_color, Vec::new()),
            Series::new("95% interval of the mean", bar_color, Vec::new()),
        ];
        let clip = |y: f32| y.clamp(0.0, 1.0);
        match self.class.question {
            Question::Meta => {
                for g in &groups {
                    let n = g.points.len() as f32;
                    for (i, p) in g.points.iter().enumerate() {
                        // Seats of one m side by side, so none hides another.
                        let dx = (i as f32 - (n - 1.0) / 2.0) * 0.05;
                        series.push(Series::new("", point_color, vec![(g.m + dx, p.2)]));
                    }
                    if g.ci95.is_finite() {
                        series.push(Series::new("", bar_color, vec![(g.m, clip(g.mean - g.ci95)), (g.m, clip(g.mean + g.ci95))]));
                    }
                }
                series.push(Series::new("", mean_color, groups.iter().map(|g| (g.m, g.mean)).collect()));
            }
            Question::Seeds => {
                for g in &groups {
                    for p in &g.points {
                        series.push(Series::new("", point_color, vec![(p.1 as f32, p.2)]));
                    }
                    let (lo, hi) = (g.points.first().map_or(1.0, |p| p.1 as f32), g.points.last().map_or(1.0, |p| p.1 as f32));
                    let (lo, hi) = (lo - 0.4, hi + 0.4);
                    series.push(Series::new("", mean_color, vec![(lo, g.mean), (hi, g.mean)]));
                    if g.ci95.is_finite() {
                        for y in [clip(g.mean - g.ci95), clip(g.mean + g.ci95)] {
                            series.push(Series::new("", bar_color, vec![(lo, y), (hi, y)]).dashed());
                        }
                    }
                }
            }
        }
        let x_range = match self.class.question {
            Question::Meta => Some((-0.5, 6.5)),
            Question::Seeds => None,
        };
        line_chart(&LineChart {
            title: format!("The class: {} ({} seats)", self.class.measure_words(), self.codes.len()),
            x_label: if self.class.question == Question::Meta { "metaplasticity m".into() } else { "seed".into() },
            y_label: "task-1 accuracy".into(),
            x_range,
            y_range: Some((0.0, 1.0)),
            series,
            width,
            height,
            ..LineChart::default()
        })
    }

    /// What the class found, in numbers as measured: each setting's mean and interval, and
    /// whether the intervals of the lowest and highest setting tell them apart.
    pub fn finding(&self) -> String {
        let groups = self.groups();
        let pct = |x: f32| format!("{:.1}%", 100.0 * x);
        let one = |g: &Group| match g.points.len() {
            1 => format!("{} (one seat, no interval)", pct(g.mean)),
            n => format!("{} ± {:.1} points ({n} seats)", pct(g.mean), 100.0 * g.ci95),
        };
        if groups.is_empty() {
            return "No codes pooled yet.".into();
        }
        let measure = self.class.measure_words();
        match self.class.question {
            // The table beside the plot has every setting; the sentence compares the ends.
            Question::Meta => {
                let seats = self.codes.len();
                let (Some(lo), Some(hi), true) = (groups.first(), groups.last(), groups.len() > 1) else {
                    let g = &groups[0];
                    return format!("Measured over {seats} seat{}, {measure}: m = {} gives {}. Other values of m are not in yet.", if seats == 1 { "" } else { "s" }, fmt_m(g.m), one(g));
                };
                let apart = lo.ci95.is_finite() && hi.ci95.is_finite() && (lo.mean - hi.mean).abs() > lo.ci95 + hi.ci95;
                let verdict = if apart {
                    "their 95% intervals do not overlap"
                } else if lo.points.len() < 2 || hi.points.len() < 2 {
                    "one of them has a single seat, so this class cannot yet tell them apart from seed-to-seed noise"
                } else {
                    "their 95% intervals overlap, so this class cannot tell them apart"
                };
                let change = 100.0 * (hi.mean - lo.mean);
                let moves = if change.abs() < 0.05 {
                    "the mean is the same to 0.1 points".to_string()
                } else {
                    format!("the mean {} by {:.1} points from one to the other", if change > 0.0 { "rises" } else { "falls" }, change.abs())
                };
                let mut text = format!("Measured over {seats} seats, {measure}: m = {} gives {}, m = {} gives {}; {moves}, and {verdict}.", fmt_m(lo.m), one(lo), fmt_m(hi.m), one(hi));
                let best = groups.iter().fold(lo, |b, g| if g.mean > b.mean { g } else { b });
                if best.m != lo.m && best.m != hi.m {
                    text.push_str(&format!(" The highest mean is at m = {} ({}).", fmt_m(best.m), pct(best.mean)));
                }
                text
            }
            Question::Seeds => {
                let g = &groups[0];
                let (min, max) = g.points.iter().fold((f32::INFINITY, f32::NEG_INFINITY), |(a, b), p| (a.min(p.2), b.max(p.2)));
                format!("Measured, {measure} at m = {}: {}; seeds from {} to {}: this is how far one run moves by its seed alone.", fmt_m(g.m), one(g), pct(min), pct(max))
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn class() -> Class {
        Class { question: Question::Meta, budget: Budget::default() }
    }

    fn code(seat: usize, acc: &[u16]) -> ResultCode {
        ResultCode { class: class(), seat, cell: Question::Meta.cell(seat), acc: acc.to_vec(), build: BUILD.to_string() }
    }

    #[test]
    fn seats_go_through_the_settings_then_the_seeds() {
        let cells: Vec<(f32, u64)> = (1..=8).map(|s| Question::Meta.cell(s)).map(|c| (c.m, c.seed)).collect();
        assert_eq!(cells, [(0.0, 1), (0.5, 1), (1.0, 1), (1.35, 1), (3.0, 1), (6.0, 1), (0.0, 2), (0.5, 2)]);
        assert_eq!(Question::Seeds.cell(4), Cell { m: 6.0, seed: 4 });
        assert_eq!(Question::Meta.cell(1).learner(), 0);
        assert_eq!(Question::Meta.cell(4).learner(), 1);
    }

    #[test]
    fn a_code_reads_back_to_the_same_result() {
        let c = code(4, &[9123, 8871, 9530]);
        let text = c.text();
        assert!(text.starts_with("MPC1 M 3X600 SEAT:4 M:1.35 SEED:1 ACC:91.23/88.71/95.30 BUILD:"), "{text}");
        assert_eq!(ResultCode::parse(&text, &class(), BUILD), Ok(c.clone()));
        // As a person may type it: lower case, extra spaces.
        let typed = format!("  {}  ", text.to_lowercase().replace(' ', "   "));
        assert_eq!(ResultCode::parse(&typed, &class(), BUILD), Ok(c));
        // Every character is one QR's alphanumeric mode can carry.
        assert!(text.chars().all(|ch| ch.is_ascii_uppercase() || ch.is_ascii_digit() || " $%*+-./:".contains(ch)), "{text}");
    }

    #[test]
    fn a_tampered_code_fails_its_checksum() {
        let text = code(4, &[9123, 8871, 9530]).text();
        let tampered = text.replace("91.23", "99.23");
        assert_eq!(ResultCode::parse(&tampered, &class(), BUILD), Err(CodeError::Checksum));
        // Every single-character change anywhere before the checksum is caught.
        let alphabet: Vec<char> = "0123456789ABCDEFXYZ.:/ ".chars().collect();
        for i in 0..text.len() - 13 {
            for &ch in &alphabet {
                let mut t: Vec<char> = text.chars().collect();
                if t[i] == ch {
                    continue;
                }
                t[i] = ch;
                let t: String = t.into_iter().collect();
                assert!(ResultCode::parse(&t, &class(), BUILD).is_err(), "{t} was accepted");
            }
        }
    }

    #[test]
    fn a_code_of_another_question_or_budget_is_refused() {
        let other = Class { question: Question::Seeds, budget: Budget::default() };
        let c = ResultCode { class: other, seat: 2, cell: Question::Seeds.cell(2), acc: vec![5000, 6000, 7000], build: BUILD.to_string() };
        assert!(matches!(ResultCode::parse(&c.text(), &class(), BUILD), Err(CodeError::OtherQuestion { .. })));
        let short = Class { question: Question::Meta, budget: Budget { tasks: 3, steps: 5 } };
        let c = ResultCode { class: short, ..code(2, &[5000, 6000, 7000]) };
        let err = ResultCode::parse(&c.text(), &class(), BUILD).unwrap_err();
        assert_eq!(err.to_string(), "it answers another question (m against task 1 with 3 tasks of 5 batches); this class asks m against task 1 with 3 tasks of 600 batches");
    }

    #[test]
    fn a_code_of_another_build_is_refused() {
        let c = ResultCode { build: "0123ABC".into(), ..code(1, &[5000, 6000, 7000]) };
        assert_eq!(ResultCode::parse(&c.text(), &class(), "FEDCBA9"), Err(CodeError::OtherBuild { got: "0123ABC".into(), want: "FEDCBA9".into() }));
    }

    /// A code with a correct checksum over a body that breaks the format, the way a person with a
    /// checksum tool (or a bug) could make one.
    fn signed(body: &str) -> String {
        format!("{body} SUM:{:08X}", crc32(body.as_bytes()))
    }

    #[test]
    fn malformed_codes_are_refused_with_the_reason() {
        let cases = [
            ("hello", CodeError::NotACode),
            ("", CodeError::NotACode),
            ("MPC1 M 3X600", CodeError::Malformed("no checksum (SUM:) at its end".into())),
            ("MPC1 M 3X600 SUM:12", CodeError::Malformed("the checksum '12' is not eight hex digits".into())),
        ];
        for (text, want) in cases {
            assert_eq!(ResultCode::parse(text, &class(), BUILD), Err(want), "{text:?}");
        }
        let b = BUILD;
        for (body, why) in [
            (format!("MPC1 M 3X600 SEAT:4 M:1.35 ACC:91.23/88.71/95.30 BUILD:{b}"), "eight parts"),
            (format!("MPC1 Q 3X600 SEAT:4 M:1.35 SEED:1 ACC:91.23/88.71/95.30 BUILD:{b}"), "no question"),
            (format!("MPC1 M 3600 SEAT:4 M:1.35 SEED:1 ACC:91.23/88.71/95.30 BUILD:{b}"), "budget"),
            (format!("MPC1 M 3X600 SEAT:4 M:3 SEED:1 ACC:91.23/88.71/95.30 BUILD:{b}"), "seat 4 trains m = 1.35"),
            (format!("MPC1 M 3X600 SEAT:0 M:0 SEED:1 ACC:91.23/88.71/95.30 BUILD:{b}"), "seat is not"),
            (format!("MPC1 M 3X600 SEAT:4 M:1.35 SEED:1 ACC:91.23/88.71 BUILD:{b}"), "2 accuracies for 3 tasks"),
            (format!("MPC1 M 3X600 SEAT:4 M:1.35 SEED:1 ACC:191.23/88.71/95.30 BUILD:{b}"), "percentage"),
            (format!("MPC1 M 3X600 SEAT:4 M:1.35 SEED:1 ACC:91.2/88.71/95.30 BUILD:{b}"), "percentage"),
            (format!("MPC1 M 3X600 SEAT:4 M:1.35 SEED:1 ACC=91.23/88.71/95.30 BUILD:{b}"), "ACC:"),
        ] {
            match ResultCode::parse(&signed(&body), &class(), BUILD) {
                Err(CodeError::Malformed(reason)) => assert!(reason.contains(why), "{body}: {reason}"),
                other => panic!("{body}: {other:?}"),
            }
        }
    }

    #[test]
    fn the_pool_keeps_what_it_has_refuses_the_bad_and_counts_a_seat_once() {
        let mut pool = Pool::new(class(), BUILD);
        let codes: Vec<String> = (1..=7).map(|s| code(s, &[1000 * s as u16, 9000, 9500]).text()).collect();
        // Two on one line, the rest one a line, a stray word, a tampered code and a repeat.
        let pasted = format!("{} {}\nhello\n{}\n{}\n{}", codes[0], codes[1], codes[2..].join("\n"), codes[3].replace("SEAT:4", "SEAT:5"), codes[0]);
        let outcomes = pool.add_all(&pasted);
        let count = |want: &dyn Fn(&Result<Added, CodeError>) -> bool| outcomes.iter().filter(|(_, o)| want(o)).count();
        assert_eq!(count(&|o| *o == Ok(Added::New)), 7);
        assert_eq!(count(&|o| *o == Ok(Added::Duplicate)), 1);
        assert_eq!(count(&|o| *o == Err(CodeError::NotACode)), 1);
        assert_eq!(count(&|o| *o == Err(CodeError::Checksum)), 1);
        assert_eq!(pool.codes.len(), 7);
        // What is stored reads back whole.
        let mut again = Pool::new(class(), BUILD);
        again.add_all(&pool.stored());
        assert_eq!(again, pool);
        let groups = pool.groups();
        assert_eq!(groups.len(), 6);
        // Seats 1 and 7 share m = 0 (seeds 1 and 2): the mean and interval of 0.1 and 0.7.
        assert_eq!(groups[0].points.len(), 2);
        assert!((groups[0].mean - 0.4).abs() < 1e-6);
        assert!((groups[0].ci95 - 12.706 * (0.18f32).sqrt() / 2f32.sqrt()).abs() < 1e-4, "{}", groups[0].ci95);
        assert!(groups[1].ci95.is_infinite());
        let finding = pool.finding();
        assert_eq!(
            finding,
            "Measured over 7 seats, task-1 test accuracy after task 3: m = 0 gives 40.0% ± 381.2 points (2 seats), m = 6 gives 60.0% (one seat, no interval); \
             the mean rises by 20.0 points from one to the other, and one of them has a single seat, so this class cannot yet tell them apart from seed-to-seed noise."
        );
        // Seven points, one mean line, one interval: drawn.
        let fig = pool.figure(640.0, 400.0);
        let dots = fig.shapes.iter().filter(|s| matches!(s, crate::charts::Shape::Circle { fill, r, .. } if *fill == palette::MUTED && *r == 3.0)).count();
        assert_eq!(dots, 7);
    }

    #[test]
    fn the_seeds_question_pools_one_setting_over_the_seeds() {
        let seeds = Class { question: Question::Seeds, budget: Budget::default() };
        let mut pool = Pool::new(seeds, BUILD);
        for (seat, acc) in [(1, 5000), (2, 6000), (3, 7000)] {
            let c = ResultCode { class: seeds, seat, cell: Question::Seeds.cell(seat), acc: vec![acc, 9000, 9500], build: BUILD.to_string() };
            assert_eq!(pool.add(&c.text()), Ok(Added::New));
        }
        let groups = pool.groups();
        assert_eq!(groups.len(), 1);
        assert_eq!(groups[0].points.iter().map(|p| p.1).collect::<Vec<_>>(), [1, 2, 3]);
        assert!((groups[0].ci95 - 4.303 * 0.1 / 3f32.sqrt()).abs() < 1e-5);
        assert_eq!(
            pool.finding(),
            "Measured, task-1 test accuracy after task 3 at m = 6: 60.0% ± 24.8 points (3 seats); seeds from 50.0% to 70.0%: this is how far one run moves by its seed alone."
        );
        let fig = pool.figure(640.0, 400.0);
        let dots = fig.shapes.iter().filter(|s| matches!(s, crate::charts::Shape::Circle { fill, r, .. } if *fill == palette::MUTED && *r == 3.0)).count();
        assert_eq!(dots, 3);
    }

    #[test]
    fn a_summary_carries_its_seat_code() {
        let text = code(2, &[5000, 6000, 7000]).text();
        let doc = serde_json::json!({"experiment": "bnn-permuted", SUMMARY_FIELD: text});
        assert_eq!(code_in_summary(&doc.to_string()), Ok(text));
        assert_eq!(code_in_summary("{\"experiment\": \"bnn-permuted\"}"), Err(CodeError::NoCodeInSummary));
        assert!(matches!(code_in_summary("not json"), Err(CodeError::NotJson(_))));
    }

    #[test]
    fn the_result_is_the_last_row_of_the_cell_learners_matrix() {
        let nan = f32::NAN;
        let mut summary = Summary::new("bnn-permuted", serde_json::json!({}));
        for (name, last) in [("m=0", [0.4, 0.5, 0.9]), ("m=1.35", [0.71234, 0.8, 0.95])] {
            summary.run(name, 1, serde_json::json!({"acc_matrix": [[0.9, nan, nan], [0.8, 0.9, nan], last]}));
        }
        let r = ResultCode::from_summary(class(), 4, &summary).expect("a complete matrix");
        assert_eq!(r.acc, [7123, 8000, 9500]);
        let r = ResultCode::from_summary(class(), 1, &summary).expect("a complete matrix");
        assert_eq!(r.acc, [4000, 5000, 9000]);
        // Not before the last task is tested.
        assert_eq!(ResultCode::from_matrix(class(), 4, &[vec![0.9, nan, nan], vec![0.8, 0.9, nan], vec![0.7, 0.8, nan]]), None);
    }

    #[test]
    fn a_link_names_the_class_and_the_seat() {
        let link = parse_link("?class=m&seat=3").expect("a class link");
        assert_eq!((link.class, link.teacher, link.seat, link.notes.len()), (class(), false, Some(3), 0));
        let link = parse_link("?view=class&class=seeds&class.steps=5").expect("the teacher's page");
        assert_eq!(link.class.question, Question::Seeds);
        assert_eq!(link.class.budget, Budget { tasks: 3, steps: 5 });
        assert!(link.teacher);
        assert_eq!(parse_link(&link.class.teacher_query()).map(|l| l.class), Some(link.class));
        assert_eq!(parse_link(&link.class.query(Some(7))).map(|l| (l.class, l.seat)), Some((link.class, Some(7))));
        let link = parse_link("?class=x&seat=99&class.steps=abc").expect("corrected");
        assert_eq!((link.class, link.seat, link.notes.len()), (class(), Some(MAX_SEATS), 3));
        assert_eq!(parse_link("?bnn.meta=6"), None);
        assert_eq!(without_class_keys("?class=m&bnn.compute=cpu&seat=2&class.steps=5"), "?bnn.compute=cpu");
        assert_eq!(without_class_keys("?class=m&seat=2"), "");
        // A cell's settings are allowed as they are.
        let mut values = bnn::DEMO.defaults();
        Question::Meta.cell(4).apply(Budget::default(), &mut values);
        let plain: Vec<(&str, String)> = values.iter().map(|(s, v)| (s.name, v.to_string())).collect();
        let mut checked = bnn::DEMO.defaults();
        assert!(checked.check_all(plain).is_ok());
        assert_eq!(checked, values);
        assert_eq!(values.get(&bnn::META).to_string(), "1.35");
    }

    /// The QR code a seat shows reads back, quiet zone and all, to the exact code.
    #[test]
    fn the_qr_code_reads_back_to_the_code() {
        for text in [code(4, &[9123, 8871, 9530]).text(), "http://127.0.0.1:8080/?class=m&class.tasks=3&class.steps=5".to_string()] {
            let qr = Qr::new(&text).expect("fits a QR code");
            let scale = 4;
            let px = qr.side() * scale;
            let mut img = rqrr::PreparedImage::prepare_from_greyscale(px, px, |x, y| if qr.is_dark(x / scale, y / scale) { 0 } else { 255 });
            let grids = img.detect_grids();
            assert_eq!(grids.len(), 1);
            let (_, decoded) = grids[0].decode().expect("decodes");
            assert_eq!(decoded, text);
            // Without its quiet zone's light border the picture would not be a QR code.
            assert!(!qr.is_dark(0, 0) && !qr.is_dark(QUIET - 1, QUIET - 1) && qr.is_dark(QUIET, QUIET));
            assert!(qr.svg("QR").contains(&format!("viewBox=\"0 0 {} {}\"", qr.side(), qr.side())));
        }
    }
}
