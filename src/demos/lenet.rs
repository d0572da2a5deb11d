//! Demo 2: LeNet-5, standard and artificial metaplasticity side by side, over one or more seeds
//! (Vives-Boix and Ruiz-Fernández 2021).
//!
//! Each rule trains in its own worker ([`LenetLearner`]), through every seed in turn; the page
//! draws what the two report ([`LenetBoard`]). Both build their configs from [`LenetSettings`], so
//! the two networks start from the same weights and see the same batches and dropout masks.

use super::{Board, Controls, Demo, DemoError, Learner, Paint, Plan, Standing, Step, decode, encode};
use crate::backend::{Backend, Lenet as LenetNet};
use crate::charts::lenet as figures;
use crate::data::{DataSetId, NUM_CLASSES};
use crate::experiments::lenet::{LenetPoint, LenetProgress, LenetRecord, LenetRun, LenetRunConfig, Rule};
use crate::experiments::summary::{self, Summary};
use crate::experiments::bench::Network;
use crate::experiments::{DataAccess, TaskData, drawing_batch, softmax};
use crate::model::lenet::{Arch, FactorSource, LenetTrainer};
use crate::nn::{AmpEnergy, PoolKind, TrainError};
use crate::settings::lenet as keys;
use crate::settings::{self, Values};
use crate::stats::{ClassMetrics, Confusion, PairedDiff, mean_sd};
use serde::{Deserialize, Serialize};
use serde_json::json;

/// The demo's entry in the registry.
pub struct Lenet;

/// The paper's test accuracy, (standard, AMP); it gives no other metric for both.
fn paper_accuracy(dataset: DataSetId) -> (f32, f32) {
    match dataset {
        DataSetId::Mnist => (0.9886, 0.9910),
        DataSetId::Fashion => (0.9014, 0.9031),
    }
}

/// The demo's settings, as the form gives them and as they travel to the workers.
#[derive(Debug, Clone, PartialEq)]
pub struct LenetSettings {
    dataset: DataSetId,
    arch: Arch,
    pool: PoolKind,
    b: f32,
    from_input: bool,
    energy: AmpEnergy,
    lr: f32,
    epochs: usize,
    steps: usize,
    test: usize,
    seeds: u64,
    seed: u64,
}

impl LenetSettings {
    pub fn from_values(v: &Values) -> Result<Self, DemoError> {
        let unknown = |what: &str, value: &str| DemoError::Values(format!("lenet.{what}: '{value}' is not one of the declared choices"));
        let (dataset, arch, energy) = (v.choice(&keys::DATASET), v.choice(&keys::ARCH), v.choice(&keys::ENERGY));
        Ok(Self {
            dataset: DataSetId::parse(dataset).ok_or_else(|| unknown("dataset", dataset))?,
            arch: Arch::parse(arch).ok_or_else(|| unknown("arch", arch))?,
            pool: if v.choice(&keys::POOL) == "average" { PoolKind::Average } else { PoolKind::Max },
            b: v.float(&keys::B) as f32,
            from_input: v.choice(&keys::SOURCE) == "input",
            energy: AmpEnergy::parse(energy).ok_or_else(|| unknown("energy", energy))?,
            lr: v.float(&keys::LR) as f32,
            epochs: v.count(&keys::EPOCHS),
            steps: v.count(&keys::STEPS),
            test: v.count(&keys::TEST),
            seeds: v.int(&keys::SEEDS).max(1) as u64,
            seed: v.seed(),
        })
    }

    /// The config of seed number `i` (from 0), both rules.
    fn config(&self, i: u64) -> LenetRunConfig {
        let mut cfg = LenetRunConfig::standard_against_amp(self.dataset, self.arch, self.epochs);
        cfg.pool = self.pool;
        cfg.amp_b = self.b;
        cfg.amp_source = if self.from_input { FactorSource::NetworkInput } else { FactorSource::LayerInput };
        cfg.rules = vec![Rule::Standard, Rule::amp(self.energy)];
        cfg.lr = self.lr;
        // Larger batches than the tool's 32: fewer, bigger GPU submits per image in the browser.
        cfg.batch = 64;
        cfg.steps_per_epoch = Some(self.steps);
        cfg.test_examples = self.test;
        // The live curves use a quarter of them: evaluation is most of the cost on a slow adapter.
        cfg.live_test_examples = (self.test / 4).clamp(50, 500);
        cfg.eval_every = (cfg.steps_per_epoch() / 5).clamp(5, 500);
        cfg.seed = self.seed + i;
        cfg
    }
}

impl Demo for Lenet {
    fn decl(&self) -> &'static settings::Demo {
        &keys::DEMO
    }

    fn plan(&self, values: &Values) -> Result<Plan, DemoError> {
        let settings = LenetSettings::from_values(values)?;
        let cfg = settings.config(0);
        cfg.validate()?;
        let n = cfg.rules.len();
        Ok(Plan {
            learners: cfg.rules.iter().map(|r| r.name().to_string()).collect(),
            data: vec![settings.dataset],
            classifies: true,
            per_step: (cfg.batch, "images"),
            board: Box::new(LenetBoard {
                rules: cfg.rules.clone(),
                total: cfg.epochs * cfg.steps_per_epoch(),
                settings,
                records: vec![None; n],
                finished: vec![Vec::new(); n],
                at: vec![At::default(); n],
            }),
        })
    }

    fn learner(&self, values: &Values, learner: usize, backend: Backend) -> Result<Box<dyn Learner>, DemoError> {
        let settings = LenetSettings::from_values(values)?;
        let rule = *settings.config(0).rules.get(learner).ok_or(DemoError::NoLearner(learner))?;
        let run = start_seed(&settings, rule, &backend, 0)?;
        Ok(Box::new(LenetLearner { settings, rule, backend, current: 0, run, finished: Vec::new(), sent: Sent::default() }))
    }

    /// The metaplastic network, the heavier of the two (its factors).
    fn network(&self, values: &Values) -> Result<Network, DemoError> {
        let settings = LenetSettings::from_values(values)?;
        Ok(Network::Lenet(settings.config(0).net(Rule::amp(settings.energy))))
    }
}

fn start_seed(settings: &LenetSettings, rule: Rule, backend: &Backend, i: u64) -> Result<LenetRun<LenetNet>, TrainError> {
    let mut cfg = settings.config(i);
    cfg.rules = vec![rule];
    LenetRun::new(cfg, |c, p| backend.lenet(c, p))
}

// ---------------------------------------------------------------------------------------------
// In the worker: one rule, through every seed
// ---------------------------------------------------------------------------------------------

pub struct LenetLearner {
    settings: LenetSettings,
    rule: Rule,
    backend: Backend,
    /// The seed in progress, counted from 0.
    current: u64,
    run: LenetRun<LenetNet>,
    /// Final test metrics of each finished seed.
    finished: Vec<ClassMetrics>,
    sent: Sent,
}

/// What the learner has reported so far.
#[derive(Debug, Default)]
struct Sent {
    /// The seed the counts below belong to.
    seed: Option<u64>,
    points: usize,
    epochs: usize,
    confusion: Option<Confusion>,
    finished: usize,
}

/// Where a learner stands and what is new since its last report.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct LenetUpdate {
    rule: Rule,
    seed_index: u64,
    epoch: usize,
    step: usize,
    /// A new seed started: the curves so far belonged to the previous one.
    new_seed: bool,
    points: Vec<LenetPoint>,
    /// Test metrics of the epochs finished since.
    epochs: Vec<ClassMetrics>,
    /// The confusion matrix, when it changed.
    confusion: Option<Confusion>,
    /// Final metrics of the seeds finished since.
    finished: Vec<ClassMetrics>,
}

impl LenetLearner {
    fn update(&mut self) -> LenetUpdate {
        let new_seed = self.sent.seed != Some(self.current);
        if new_seed {
            self.sent = Sent { seed: Some(self.current), finished: self.sent.finished, ..Sent::default() };
        }
        let record = self.run.records().next();
        let points = record.map(|r| r.curve.get(self.sent.points..).unwrap_or_default().to_vec()).unwrap_or_default();
        let epochs = record.map(|r| r.epoch_metrics.get(self.sent.epochs..).unwrap_or_default().to_vec()).unwrap_or_default();
        let confusion = record.and_then(|r| r.confusion.clone()).filter(|c| self.sent.confusion.as_ref() != Some(c));
        let finished = self.finished.get(self.sent.finished..).unwrap_or_default().to_vec();
        self.sent.points += points.len();
        self.sent.epochs += epochs.len();
        self.sent.finished += finished.len();
        if confusion.is_some() {
            self.sent.confusion.clone_from(&confusion);
        }
        LenetUpdate { rule: self.rule, seed_index: self.current, epoch: self.run.epoch(), step: self.run.step(), new_seed, points, epochs, confusion, finished }
    }
}

impl Learner for LenetLearner {
    fn data_sets(&self) -> Vec<DataSetId> {
        vec![self.settings.dataset]
    }

    fn advance<'a>(&'a mut self, data: &'a dyn TaskData) -> Step<'a, Result<bool, TrainError>> {
        Box::pin(async move {
            let Some(data) = data.for_set(self.settings.dataset) else { return Ok(false) };
            if self.run.advance(data, 1).await? != LenetProgress::Finished {
                return Ok(false);
            }
            self.finished.push(self.run.records().next().and_then(LenetRecord::final_metrics).unwrap_or_default());
            if self.current + 1 == self.settings.seeds {
                return Ok(true);
            }
            // The next seed: new weights and a new batch order; the finished seeds stay in the table.
            self.current += 1;
            self.run = start_seed(&self.settings, self.rule, &self.backend, self.current)?;
            Ok(false)
        })
    }

    /// Steps completed over all seeds, so the rate does not restart with each seed.
    fn step(&self) -> usize {
        self.current as usize * self.run.total_steps() + self.run.step()
    }

    fn report(&mut self) -> Result<String, serde_json::Error> {
        encode(&self.update())
    }

    /// From the seed training now.
    fn predict<'a>(&'a mut self, drawing: &'a [u8], data: &'a dyn DataAccess) -> Step<'a, Option<Vec<f32>>> {
        Box::pin(async move {
            let x = drawing_batch(drawing, data, None);
            let logits = self.run.trainers_mut().next()?.logits(&x).await.ok()?;
            Some(softmax(logits.get(..NUM_CLASSES)?))
        })
    }

    /// First-layer filters, then (metaplastic rule) the last batch's factors per conv layer and
    /// its images, laid out as `[count, k, filter floats, layers, batch, factor floats per layer,
    /// image floats]` followed by the data in that order.
    fn pictures<'a>(&'a mut self, _detail: &'a str, _data: &'a dyn DataAccess) -> Step<'a, Option<Vec<f32>>> {
        Box::pin(async move {
            let arch = self.settings.arch;
            let rule = self.rule;
            let x = self.run.last_batch().0.to_vec();
            let trainer = self.run.trainers_mut().next()?;
            let params = trainer.params().await.ok()?;
            let (count, k, w) = params.first_filters(arch)?;
            let factors = if rule.is_amp() { trainer.last_factors().await.unwrap_or_default() } else { Vec::new() };
            let per_layer = factors.first().map_or(0, Vec::len);
            let mut out = vec![count as f32, k as f32, w.len() as f32, factors.len() as f32, per_layer as f32];
            out.extend_from_slice(w);
            for f in &factors {
                out.extend(f.iter().copied().chain(std::iter::repeat(0.0)).take(per_layer));
            }
            if !factors.is_empty() {
                out.extend_from_slice(&x);
            }
            Some(out)
        })
    }
}

// ---------------------------------------------------------------------------------------------
// On the page
// ---------------------------------------------------------------------------------------------

#[derive(Debug, Clone, Copy, Default)]
struct At {
    seed_index: u64,
    epoch: usize,
    step: usize,
}

pub struct LenetBoard {
    settings: LenetSettings,
    rules: Vec<Rule>,
    /// Steps of one seed's run.
    total: usize,
    /// Each learner's record of the seed it trains now.
    records: Vec<Option<LenetRecord>>,
    /// Each learner's final metrics of its finished seeds.
    finished: Vec<Vec<ClassMetrics>>,
    at: Vec<At>,
}

impl LenetBoard {
    /// Final metrics of the seeds both rules have finished, paired by seed: `[standard, amp]`.
    fn paired(&self) -> Vec<[ClassMetrics; 2]> {
        let (standard, amp) = (self.finished.first(), self.finished.get(1));
        standard.into_iter().flatten().zip(amp.into_iter().flatten()).map(|(s, a)| [*s, *a]).collect()
    }

    fn records(&self) -> Vec<&LenetRecord> {
        self.records.iter().flatten().collect()
    }
}

/// The page's canvases come in two slots, standard and metaplastic, whichever energy the
/// metaplastic network uses.
fn slot(rule: Rule) -> &'static str {
    if rule.is_amp() { "amp" } else { "standard" }
}

impl Board for LenetBoard {
    fn apply(&mut self, i: usize, report: &str) -> Result<bool, DemoError> {
        let u: LenetUpdate = decode(report)?;
        let (Some(record), Some(finished), Some(at)) = (self.records.get_mut(i), self.finished.get_mut(i), self.at.get_mut(i)) else {
            return Err(DemoError::NoLearner(i));
        };
        *at = At { seed_index: u.seed_index, epoch: u.epoch, step: u.step };
        if u.new_seed || record.is_none() {
            *record = Some(LenetRecord { rule: u.rule, curve: Vec::new(), epoch_metrics: Vec::new(), confusion: None });
        }
        let changed = u.new_seed || !u.points.is_empty() || !u.epochs.is_empty() || u.confusion.is_some() || !u.finished.is_empty();
        if let Some(r) = record.as_mut() {
            r.curve.extend(u.points);
            r.epoch_metrics.extend(u.epochs);
            if u.confusion.is_some() {
                r.confusion = u.confusion;
            }
        }
        finished.extend(u.finished);
        Ok(changed)
    }

    /// One chart or table per frame: the accuracy curves, the tables, the loss curves, then each
    /// network's confusion matrix.
    fn draw_charts(&mut self, part: usize, out: &mut Vec<Paint>) -> bool {
        let refs = self.records();
        match part {
            0 => {
                let curves: Vec<(&str, Vec<[f32; 3]>)> = refs.iter().map(|r| (r.rule.name(), r.accuracy_points())).collect();
                let series: Vec<(String, Vec<f32>)> = refs
                    .iter()
                    .flat_map(|r| {
                        let name = r.rule.name();
                        [
                            (format!("{name} test accuracy"), r.curve.iter().map(|p| p.test_acc).collect()),
                            (format!("{name} training accuracy"), r.curve.iter().map(|p| p.train_acc).collect()),
                            (format!("{name} test loss"), r.curve.iter().map(|p| p.test_loss).collect()),
                            (format!("{name} training loss"), r.curve.iter().map(|p| p.train_loss).collect()),
                        ]
                    })
                    .collect();
                out.push(Paint::Chart { canvas: "lenet-acc".into(), figure: figures::accuracy_curves(&curves, self.total, 560.0, 340.0), series: Some(series) });
            }
            1 => tables(&self.settings, &refs, &self.paired(), out),
            2 => {
                let curves: Vec<(&str, Vec<[f32; 3]>)> = refs.iter().map(|r| (r.rule.name(), r.loss_points())).collect();
                out.push(Paint::chart("lenet-loss", figures::loss_curves(&curves, self.total, 560.0, 340.0)));
            }
            _ => {
                let names = self.settings.dataset.class_names();
                if let Some(r) = refs.get(part - 3)
                    && let Some(conf) = &r.confusion
                {
                    let title = format!("{}: confusion matrix", figures::rule_title(r.rule.name()));
                    out.push(Paint::chart(&format!("lenet-confusion-{}", slot(r.rule)), figures::confusion(&title, conf, &names, 420.0, 400.0)));
                }
            }
        }
        part < 2 + refs.len()
    }

    fn draw_pictures(&mut self, pictures: &[Option<Vec<f32>>], part: usize, _controls: &Controls, _data: Option<&dyn DataAccess>, out: &mut Vec<Paint>) -> bool {
        // One network's pictures per frame.
        let more = part + 1 < self.rules.len().min(pictures.len());
        for (&rule, picture) in self.rules.iter().zip(pictures).skip(part).take(1) {
            let Some(p) = picture else { continue };
            let Some(&[count, k, filter_len, layers, per_layer]) = p.get(..5).and_then(|h| <&[f32; 5]>::try_from(h).ok()) else { continue };
            let (count, k, filter_len, layers, per_layer) = (count as usize, k as usize, filter_len as usize, layers as usize, per_layer as usize);
            let Some(w) = p.get(5..5 + filter_len) else { continue };
            let title = format!("{}: first-layer filters", figures::rule_title(rule.name()));
            let height = 80.0 + 70.0 * count.div_ceil(8) as f32;
            out.push(Paint::chart(&format!("lenet-filters-{}", slot(rule)), figures::filters(&title, rule.name(), count, k, w, 560.0, height)));
            if layers == 0 {
                continue;
            }
            let start = 5 + filter_len;
            let factors: Vec<Vec<f32>> = (0..layers).filter_map(|l| p.get(start + l * per_layer..start + (l + 1) * per_layer).map(<[f32]>::to_vec)).collect();
            let images = p.get(start + layers * per_layer..).unwrap_or(&[]);
            out.push(Paint::chart("lenet-factors", figures::factor_histogram(&factors, 560.0, 300.0)));
            if let Some(first) = factors.first() {
                out.push(Paint::chart("lenet-extremes", figures::extreme_examples(images, first, 4, 560.0, 200.0)));
            }
        }
        more
    }

    fn status(&self, standing: &Standing, rate: &str, compute: &str) -> String {
        let seeds = self.settings.seeds as usize;
        if standing.all_finished() {
            let paired = self.paired();
            let acc = |i: usize| paired.iter().map(|m| m[i].accuracy).collect::<Vec<f32>>();
            let (s, a) = (mean_sd(&acc(0)).0, mean_sd(&acc(1)).0);
            let over = if seeds > 1 { format!(" (mean of {seeds} seeds)") } else { String::new() };
            return format!("Finished. Test accuracy{over}: standard {:.2}%, metaplastic {:.2}%.", 100.0 * s, 100.0 * a);
        }
        let slowest = standing.steps.iter().enumerate().filter_map(|(i, s)| Some((s.as_ref()?, i))).min().map(|(_, i)| self.at[i]);
        let Some(at) = slowest else { return format!("Starting {compute}…") };
        let seed_text = if seeds > 1 { format!("Seed {} ({} of {}) · ", self.settings.seed + at.seed_index, at.seed_index + 1, seeds) } else { String::new() };
        format!("{seed_text}Epoch {} of {}, batch {} of {} · {rate} {compute}", (at.epoch + 1).min(self.settings.epochs), self.settings.epochs, at.step, self.total)
    }

    /// Every finished seed with its final metrics; the seed whose curves are on screen with its
    /// curves, epochs and confusion matrix as well.
    fn summary(&self, backend: &str) -> Option<Summary> {
        if self.records.iter().all(Option::is_none) {
            return None;
        }
        let mut s = Summary::new("lenet", summary::lenet_config(&self.settings.config(0), backend));
        for ((record, finished), at) in self.records.iter().zip(&self.finished).zip(&self.at) {
            let Some(record) = record else { continue };
            for i in 0..=at.seed_index {
                let seed = self.settings.config(i).seed;
                let full = if i == at.seed_index { summary::lenet_metrics(record) } else { None };
                let metrics = match (full, finished.get(i as usize)) {
                    (Some(full), _) => full,
                    (None, Some(m)) => summary::LENET_METRICS.iter().map(|&n| (n.to_string(), json!(summary::lenet_metric(m, n)))).collect::<serde_json::Map<_, _>>().into(),
                    (None, None) => continue,
                };
                s.run(record.rule.name(), seed, metrics);
            }
        }
        Some(s)
    }
}

/// The numbers behind the charts: the latest test metrics per rule with the paper's beside them,
/// and, over several seeds, mean ± sd and the paired difference.
fn tables(settings: &LenetSettings, records: &[&LenetRecord], finished: &[[ClassMetrics; 2]], out: &mut Vec<Paint>) {
    let mut html = String::from("<tr><th>network</th><th>test accuracy</th><th>macro F1</th><th>precision</th><th>recall</th><th>loss</th><th>measured</th></tr>");
    for r in records {
        let (m, when) = match r.final_metrics() {
            Some(m) => (m, format!("after epoch {}", r.epoch_metrics.len())),
            None => match r.curve.last() {
                Some(p) => (ClassMetrics { accuracy: p.test_acc, loss: p.test_loss, macro_f1: f32::NAN, precision: f32::NAN, recall: f32::NAN }, format!("live, batch {}", p.step)),
                None => continue,
            },
        };
        let pct = |v: f32| if v.is_finite() { format!("{:.2}%", 100.0 * v) } else { "–".into() };
        html.push_str(&format!(
            "<tr data-rule=\"{rule}\" data-accuracy=\"{:.4}\" data-f1=\"{:.4}\"><td>{}</td><td>{}</td><td>{}</td><td>{}</td><td>{}</td><td>{:.4}</td><td>{when}</td></tr>",
            m.accuracy,
            m.macro_f1,
            figures::rule_title(r.rule.name()),
            pct(m.accuracy),
            pct(m.macro_f1),
            pct(m.precision),
            pct(m.recall),
            m.loss,
            rule = r.rule.name(),
        ));
    }
    let (s, a) = paper_accuracy(settings.dataset);
    html.push_str(&format!(
        "<tr class=\"paper\"><td>paper, LeNet-5, one run</td><td>{:.2}% / {:.2}%</td><td colspan=\"4\">standard / AMP; no seeds or error bars given</td><td>full training</td></tr>",
        100.0 * s,
        100.0 * a
    ));
    out.push(Paint::Html { id: "lenet-results".into(), html });
    let several = settings.seeds > 1 && !finished.is_empty();
    out.push(Paint::hidden("lenet-seeds-table", !several));
    out.push(Paint::hidden("lenet-seeds-figure", !several));
    if !several {
        return;
    }
    let column = |rule: usize, f: fn(&ClassMetrics) -> f32| finished.iter().map(|m| f(&m[rule])).collect::<Vec<f32>>();
    let getters: [(&str, fn(&ClassMetrics) -> f32); 4] = [("accuracy", |m| m.accuracy), ("macro F1", |m| m.macro_f1), ("precision", |m| m.precision), ("recall", |m| m.recall)];
    let n = finished.len();
    let mut html = format!("<tr><th>over {n} seed{}</th><th>standard</th><th>metaplastic</th><th>metaplastic &minus; standard (95% CI)</th></tr>", if n == 1 { "" } else { "s" });
    for (name, f) in getters {
        let (sm, ss) = mean_sd(&column(0, f));
        let (am, asd) = mean_sd(&column(1, f));
        let d = PairedDiff::new(&column(0, f), &column(1, f));
        let verdict = if n < 2 {
            "needs 2 seeds".to_string()
        } else if d.is_significant() {
            format!("{:+.2} ± {:.2} points: a difference", 100.0 * d.mean, 100.0 * d.ci95)
        } else {
            format!("{:+.2} ± {:.2} points: no difference shown", 100.0 * d.mean, 100.0 * d.ci95)
        };
        html.push_str(&format!(
            "<tr data-metric=\"{name}\" data-diff=\"{:.5}\" data-ci=\"{:.5}\"><td>{name}</td><td>{:.2}% ± {:.2}</td><td>{:.2}% ± {:.2}</td><td>{verdict}</td></tr>",
            d.mean,
            d.ci95,
            100.0 * sm,
            100.0 * ss,
            100.0 * am,
            100.0 * asd
        ));
    }
    out.push(Paint::Html { id: "lenet-seeds-table".into(), html });
    let rows: Vec<(&str, [(f32, f32); 4])> =
        [Rule::Standard, Rule::amp(settings.energy)].iter().enumerate().map(|(i, &rule)| (rule.name(), getters.map(|(_, f)| mean_sd(&column(i, f))))).collect();
    out.push(Paint::chart("lenet-seeds-bars", figures::metric_bars(&rows, 760.0, 320.0)));
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::demos::REGISTRY;
    use crate::settings::Value;

    #[test]
    fn two_seeds_of_both_rules_reach_the_board_as_reports_of_what_is_new() {
        let mut values = keys::DEMO.defaults();
        values.set(&keys::EPOCHS, Value::Int(1));
        values.set(&keys::STEPS, Value::Int(6));
        values.set(&keys::TEST, Value::Int(100));
        values.set(&keys::SEEDS, Value::Int(2));
        let demo = REGISTRY[1];
        let mut plan = demo.plan(&values).expect("plans");
        let data = crate::demos::tests_support::synthetic(600, 300);
        for i in 0..2 {
            let mut l = demo.learner(&values, i, Backend::Cpu).expect("builds");
            let mut done = false;
            while !done {
                done = pollster::block_on(l.advance(&data)).expect("trains");
                plan.board.apply(i, &l.report().expect("encodes")).expect("applies");
            }
            let empty: LenetUpdate = serde_json::from_str(&l.report().expect("encodes")).expect("reads");
            assert!(empty.points.is_empty() && empty.epochs.is_empty() && empty.finished.is_empty() && empty.confusion.is_none(), "nothing new: {empty:?}");
        }
        let summary = plan.board.summary("cpu").expect("a summary");
        assert_eq!(summary.runs.len(), 4, "two seeds of two rules");
        let standing = Standing { steps: vec![Some(12), Some(12)], finished: vec![true, true] };
        assert!(plan.board.status(&standing, "", "").contains("mean of 2 seeds"));
        let mut out = Vec::new();
        let mut part = 0;
        while plan.board.draw_charts(part, &mut out) {
            part += 1;
        }
        assert!(out.iter().any(|p| matches!(p, Paint::Html { id, html } if id == "lenet-seeds-table" && html.contains("over 2 seeds"))));
    }
}
