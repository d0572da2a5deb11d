//! Demo 2: LeNet-5, standard and artificial metaplasticity side by side, over one or more seeds.
//!
//! Each rule trains in its own worker ([`LenetWorkerRun`]), through every seed in turn; the page
//! draws what the two report ([`LenetView`]). Both build their configs from [`LenetSettings`], so
//! the two networks start from the same weights and see the same batches and dropout masks.

use super::demo::canvas;
use super::protocol::{Compute, f32_json, json_f32};
use super::remote::{self, Plan, RemoteDemo, Report, View};
use super::worker::HeldData;
use super::{App, canvas_chart, dom};
use crate::backend::{Backend, Lenet};
use crate::charts::lenet as figures;
use crate::data::{DataSetId, NUM_CLASSES};
use crate::experiments::{drawing_batch, softmax};
use crate::experiments::lenet::{LenetPoint, LenetProgress, LenetRecord, LenetRun, LenetRunConfig, Rule};
use crate::experiments::summary::{self, Summary};
use crate::model::lenet::{Arch, FactorSource, LenetTrainer};
use crate::nn::{AmpEnergy, TrainError};
use crate::settings::{self, Values};
use crate::stats::{ClassMetrics, Confusion, PairedDiff, mean_sd};
use serde_json::{Value, json};
use std::rc::Rc;

/// The paper's test accuracy and macro F1 are not both given; accuracy is (standard, AMP).
fn paper_accuracy(dataset: DataSetId) -> (f32, f32) {
    match dataset {
        DataSetId::Mnist => (0.9886, 0.9910),
        DataSetId::Fashion => (0.9014, 0.9031),
    }
}

pub type LenetDemo = RemoteDemo;

pub fn new_demo() -> LenetDemo {
    RemoteDemo::new(&settings::lenet::DEMO, plan)
}

pub fn wire(app: &Rc<App>) -> Result<(), dom::WebError> {
    remote::wire(app, |a| &a.lenet, |_| {})
}

/// The demo's settings, as the form gives them and as they travel to the workers.
#[derive(Debug, Clone, PartialEq)]
pub struct LenetSettings {
    dataset: DataSetId,
    arch: Arch,
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
    fn from_values(v: &Values) -> Result<Self, String> {
        Ok(Self {
            dataset: DataSetId::parse(v.choice("dataset")).ok_or("lenet.dataset: no such data set")?,
            arch: Arch::parse(v.choice("arch")).ok_or("lenet.arch: no such network")?,
            b: v.float("b") as f32,
            from_input: v.choice("source") == "input",
            energy: AmpEnergy::parse(v.choice("energy")).ok_or("lenet.energy: choose raw or centred")?,
            lr: v.float("lr") as f32,
            epochs: v.count("epochs"),
            steps: v.count("steps"),
            test: v.count("test"),
            seeds: v.int("seeds").max(1) as u64,
            seed: v.seed(),
        })
    }

    /// The config of seed number `i` (from 0), both rules.
    fn config(&self, i: u64) -> LenetRunConfig {
        let mut cfg = LenetRunConfig::paper(self.dataset, self.arch, self.epochs);
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

fn plan(app: &App, values: &Values) -> Result<Plan, String> {
    let settings = LenetSettings::from_values(values)?;
    let (backend, compute) = super::demo::backend(app, values.choice("compute"))?;
    let cfg = settings.config(0);
    cfg.validate().map_err(|e| e.to_string())?;
    Ok(Plan {
        demo: "lenet",
        settings: values.to_plain_query(),
        learners: cfg.rules.iter().map(|r| r.name().to_string()).collect(),
        seed: settings.seed,
        backend: match backend {
            Backend::Cpu => Compute::Cpu,
            Backend::Gpu(_) => Compute::WebGpu,
        },
        compute,
        data: Some(settings.dataset),
        view: Box::new(LenetView { rules: cfg.rules.clone(), settings, total: cfg.epochs * cfg.steps_per_epoch() }),
    })
}

// ---------------------------------------------------------------------------------------------
// In the worker: one rule, through every seed
// ---------------------------------------------------------------------------------------------

pub struct LenetWorkerRun {
    settings: LenetSettings,
    rule: Rule,
    backend: Backend,
    /// The seed in progress, counted from 0.
    current: u64,
    run: LenetRun<Lenet>,
    /// Final test metrics of each finished seed.
    finished: Vec<ClassMetrics>,
}

impl LenetWorkerRun {
    pub fn new(settings: &str, learner: usize, backend: Backend) -> Result<Self, String> {
        let settings = LenetSettings::from_values(&Values::from_plain_query(&settings::lenet::DEMO, settings)?)?;
        let rule = *settings.config(0).rules.get(learner).ok_or_else(|| format!("there is no rule {learner} in this run"))?;
        let run = Self::start_seed(&settings, rule, &backend, 0)?;
        Ok(Self { settings, rule, backend, current: 0, run, finished: Vec::new() })
    }

    fn start_seed(settings: &LenetSettings, rule: Rule, backend: &Backend, i: u64) -> Result<LenetRun<Lenet>, String> {
        let mut cfg = settings.config(i);
        cfg.rules = vec![rule];
        LenetRun::new(cfg, |c, p| backend.lenet(c, p)).map_err(|e| e.to_string())
    }

    pub fn data_set(&self) -> DataSetId {
        self.settings.dataset
    }

    pub async fn advance(&mut self, data: &HeldData) -> Result<bool, TrainError> {
        if self.run.advance(data, 1).await? != LenetProgress::Finished {
            return Ok(false);
        }
        self.finished.push(self.run.records().next().and_then(LenetRecord::final_metrics).unwrap_or_default());
        if self.current + 1 == self.settings.seeds {
            return Ok(true);
        }
        // The next seed: new weights and a new batch order; the finished seeds stay in the table.
        self.current += 1;
        self.run = Self::start_seed(&self.settings, self.rule, &self.backend, self.current).map_err(TrainError::Config)?;
        Ok(false)
    }

    /// Steps completed over all seeds, so the rate does not restart with each seed.
    pub fn step(&self) -> usize {
        self.current as usize * self.run.total_steps() + self.run.step()
    }

    pub fn metrics(&self) -> String {
        json!({
            "at": { "seed_index": self.current, "epoch": self.run.epoch(), "step": self.run.step() },
            "record": self.run.records().next().map(record_json),
            "finished": self.finished.iter().map(metrics_json).collect::<Vec<_>>(),
        })
        .to_string()
    }

    /// Class probabilities for a drawing (28 x 28, 0 to 255), from the seed training now.
    pub async fn predict(&mut self, drawing: &[u8], data: &HeldData) -> Option<Vec<f32>> {
        let x = drawing_batch(drawing, data, None);
        let logits = self.run.trainers_mut().next()?.logits(&x).await.ok()?;
        Some(softmax(logits.get(..NUM_CLASSES)?))
    }

    /// First-layer filters, then (metaplastic rule) the last batch's factors per conv layer and
    /// its images, laid out as `[count, k, filter floats, layers, batch, factor floats per layer,
    /// image floats]` followed by the data in that order.
    pub async fn pictures(&mut self, _detail: &str) -> Option<Vec<f32>> {
        let arch = self.settings.arch;
        let rule = self.rule;
        let (x, _) = self.run.last_batch();
        let x = x.to_vec();
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
    }
}

fn metrics_json(m: &ClassMetrics) -> Value {
    json!([f32_json(m.accuracy), f32_json(m.macro_f1), f32_json(m.precision), f32_json(m.recall), f32_json(m.loss)])
}

fn metrics_from(v: &Value) -> ClassMetrics {
    ClassMetrics { accuracy: json_f32(&v[0]), macro_f1: json_f32(&v[1]), precision: json_f32(&v[2]), recall: json_f32(&v[3]), loss: json_f32(&v[4]) }
}

fn record_json(r: &LenetRecord) -> Value {
    json!({
        "rule": r.rule.name(),
        "curve": r.curve.iter().map(|p| json!([p.step, f32_json(p.train_loss), f32_json(p.train_acc), f32_json(p.test_loss), f32_json(p.test_acc)])).collect::<Vec<_>>(),
        "epochs": r.epoch_metrics.iter().map(metrics_json).collect::<Vec<_>>(),
        "confusion": r.confusion.as_ref().map(|c| json!(c.counts)),
    })
}

fn record_from(v: &Value) -> Option<LenetRecord> {
    let confusion = v["confusion"].as_array().map(|rows| {
        let counts: Vec<Vec<u32>> = rows.iter().map(|r| r.as_array().map(|r| r.iter().map(|c| c.as_u64().unwrap_or(0) as u32).collect()).unwrap_or_default()).collect();
        Confusion { classes: counts.len(), counts }
    });
    Some(LenetRecord {
        rule: Rule::parse(v["rule"].as_str()?)?,
        curve: v["curve"]
            .as_array()?
            .iter()
            .map(|p| LenetPoint {
                step: p[0].as_u64().unwrap_or(0) as usize,
                train_loss: json_f32(&p[1]),
                train_acc: json_f32(&p[2]),
                test_loss: json_f32(&p[3]),
                test_acc: json_f32(&p[4]),
            })
            .collect(),
        epoch_metrics: v["epochs"].as_array()?.iter().map(metrics_from).collect(),
        confusion,
    })
}

// ---------------------------------------------------------------------------------------------
// On the page
// ---------------------------------------------------------------------------------------------

struct LenetView {
    settings: LenetSettings,
    rules: Vec<Rule>,
    /// Steps of one seed's run.
    total: usize,
}

impl LenetView {
    /// Final metrics of the seeds both rules have finished, paired by seed: `[standard, amp]`.
    fn finished(&self, reports: &[Option<Report>]) -> Vec<[ClassMetrics; 2]> {
        let per_rule = |rule: Rule| -> Vec<ClassMetrics> {
            self.rules
                .iter()
                .position(|&r| r == rule)
                .and_then(|i| reports.get(i))
                .and_then(Option::as_ref)
                .and_then(|r| r.metrics["finished"].as_array().map(|a| a.iter().map(metrics_from).collect()))
                .unwrap_or_default()
        };
        let amp_rule = self.rules.iter().copied().find(|r| r.is_amp()).unwrap_or(Rule::Amp);
        let (standard, amp) = (per_rule(Rule::Standard), per_rule(amp_rule));
        standard.iter().zip(&amp).map(|(s, a)| [*s, *a]).collect()
    }
}

impl View for LenetView {
    fn draw_charts(&mut self, reports: &[Option<Report>], part: usize) -> bool {
        let records: Vec<LenetRecord> = reports.iter().flatten().filter_map(|r| record_from(&r.metrics["record"])).collect();
        let refs: Vec<&LenetRecord> = records.iter().collect();
        match part {
            0 => {
                if let Some(c) = canvas("lenet-acc") {
                    let curves: Vec<(&str, Vec<[f32; 3]>)> = refs.iter().map(|r| (r.rule.name(), r.accuracy_points())).collect();
                    let _ = canvas_chart::draw(&c, figures::accuracy_curves(&curves, self.total, 560.0, 340.0));
                }
                write_tables(&self.settings, &refs, &self.finished(reports));
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
                dom::set_series("lenet-acc", &series);
            }
            1 => {
                if let Some(c) = canvas("lenet-loss") {
                    let curves: Vec<(&str, Vec<[f32; 3]>)> = refs.iter().map(|r| (r.rule.name(), r.loss_points())).collect();
                    let _ = canvas_chart::draw(&c, figures::loss_curves(&curves, self.total, 560.0, 340.0));
                }
            }
            _ => {
                let names = self.settings.dataset.class_names();
                if let Some(r) = refs.get(part - 2)
                    && let (Some(c), Some(conf)) = (canvas(&format!("lenet-confusion-{}", slot(r.rule))), &r.confusion)
                {
                    let title = format!("{}: confusion matrix", figures::rule_title(r.rule.name()));
                    let _ = canvas_chart::draw(&c, figures::confusion(&title, conf, &names, 420.0, 400.0));
                }
            }
        }
        part < 1 + refs.len()
    }

    fn status(&self, reports: &[Option<Report>], rate: &str, compute: &str) -> String {
        let seeds = self.settings.seeds as usize;
        let all_finished = !reports.is_empty() && reports.iter().all(|r| r.as_ref().is_some_and(|r| r.finished));
        if all_finished {
            let finished = self.finished(reports);
            let acc = |i: usize| finished.iter().map(|m| m[i].accuracy).collect::<Vec<f32>>();
            let (s, a) = (mean_sd(&acc(0)).0, mean_sd(&acc(1)).0);
            let over = if seeds > 1 { format!(" (mean of {seeds} seeds)") } else { String::new() };
            return format!("Finished. Test accuracy{over}: standard {:.2}%, metaplastic {:.2}%.", 100.0 * s, 100.0 * a);
        }
        let Some(slowest) = reports.iter().flatten().min_by_key(|r| r.step) else { return format!("Starting {compute}…") };
        let at = &slowest.metrics["at"];
        let index = at["seed_index"].as_u64().unwrap_or(0);
        let seed_text = if seeds > 1 { format!("Seed {} ({} of {}) · ", self.settings.seed + index, index + 1, seeds) } else { String::new() };
        let epoch = at["epoch"].as_u64().unwrap_or(0) as usize;
        format!(
            "{seed_text}Epoch {} of {}, batch {} of {} · {rate} {compute}",
            (epoch + 1).min(self.settings.epochs),
            self.settings.epochs,
            at["step"].as_u64().unwrap_or(0),
            self.total
        )
    }

    fn draw_pictures(&mut self, pictures: &[Option<Vec<f32>>], part: usize) -> bool {
        // One network's pictures per frame.
        let more = part + 1 < self.rules.len().min(pictures.len());
        for (&rule, picture) in self.rules.iter().zip(pictures).skip(part).take(1) {
            let Some(p) = picture else { continue };
            let Some(&[count, k, filter_len, layers, per_layer]) = p.get(..5).and_then(|h| <&[f32; 5]>::try_from(h).ok()) else { continue };
            let (count, k, filter_len, layers, per_layer) = (count as usize, k as usize, filter_len as usize, layers as usize, per_layer as usize);
            let Some(w) = p.get(5..5 + filter_len) else { continue };
            if let Some(c) = canvas(&format!("lenet-filters-{}", slot(rule))) {
                let title = format!("{}: first-layer filters", figures::rule_title(rule.name()));
                let height = 80.0 + 70.0 * count.div_ceil(8) as f32;
                let _ = canvas_chart::draw(&c, figures::filters(&title, rule.name(), count, k, w, 560.0, height));
            }
            if layers == 0 {
                continue;
            }
            let start = 5 + filter_len;
            let factors: Vec<Vec<f32>> = (0..layers).filter_map(|l| p.get(start + l * per_layer..start + (l + 1) * per_layer).map(<[f32]>::to_vec)).collect();
            let images = p.get(start + layers * per_layer..).unwrap_or(&[]);
            if let Some(c) = canvas("lenet-factors") {
                let _ = canvas_chart::draw(&c, figures::factor_histogram(&factors, 560.0, 300.0));
            }
            if let (Some(c), Some(first)) = (canvas("lenet-extremes"), factors.first()) {
                let _ = canvas_chart::draw(&c, figures::extreme_examples(images, first, 4, 560.0, 200.0));
            }
        }
        more
    }

    fn picture_detail(&self) -> String {
        String::new()
    }

    /// Every finished seed with its final metrics; the seed whose curves are on screen (the last
    /// one reported) with its curves, epochs and confusion matrix as well.
    fn summary(&self, reports: &[Option<Report>], backend: &str) -> Option<Summary> {
        if reports.iter().all(Option::is_none) {
            return None;
        }
        let mut s = Summary::new("lenet", summary::lenet_config(&self.settings.config(0), backend));
        for r in reports.iter().flatten() {
            let m = &r.metrics;
            let record = record_from(&m["record"]);
            let Some(rule) = record.as_ref().map(|r| r.rule) else { continue };
            let current = m["at"]["seed_index"].as_u64().unwrap_or(0);
            let finished = m["finished"].as_array().cloned().unwrap_or_default();
            for i in 0..=current {
                let seed = self.settings.config(i).seed;
                let full = if i == current { record.as_ref().and_then(summary::lenet_metrics) } else { None };
                let metrics = match (full, finished.get(i as usize)) {
                    (Some(full), _) => full,
                    (None, Some(f)) => {
                        let m = metrics_from(f);
                        summary::LENET_METRICS.iter().map(|&n| (n.to_string(), json!(summary::lenet_metric(&m, n)))).collect::<serde_json::Map<_, _>>().into()
                    }
                    (None, None) => continue,
                };
                s.run(rule.name(), seed, metrics);
            }
        }
        Some(s)
    }
}

/// The numbers behind the charts: the latest test metrics per rule with the paper's beside them,
/// and, over several seeds, mean ± sd and the paired difference.
/// The page's canvases come in two slots, standard and metaplastic, whichever energy the
/// metaplastic network uses.
fn slot(rule: Rule) -> &'static str {
    if rule.is_amp() { "amp" } else { "standard" }
}

fn write_tables(settings: &LenetSettings, records: &[&LenetRecord], finished: &[[ClassMetrics; 2]]) {
    if let Ok(table) = dom::by_id::<web_sys::Element>("lenet-results") {
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
        dom::set_html(&table, &html);
    }
    let several = settings.seeds > 1 && !finished.is_empty();
    dom::set_hidden("lenet-seeds-table", !several);
    dom::set_hidden("lenet-seeds-figure", !several);
    if !several {
        return;
    }
    let column = |rule: usize, f: fn(&ClassMetrics) -> f32| finished.iter().map(|m| f(&m[rule])).collect::<Vec<f32>>();
    let getters: [(&str, fn(&ClassMetrics) -> f32); 4] =
        [("accuracy", |m| m.accuracy), ("macro F1", |m| m.macro_f1), ("precision", |m| m.precision), ("recall", |m| m.recall)];
    if let Ok(table) = dom::by_id::<web_sys::Element>("lenet-seeds-table") {
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
        dom::set_html(&table, &html);
    }
    if let Some(c) = canvas("lenet-seeds-bars") {
        let rows: Vec<(&str, [(f32, f32); 4])> =
            [Rule::Standard, Rule::amp(settings.energy)].iter().enumerate().map(|(i, &rule)| (rule.name(), getters.map(|(_, f)| mean_sd(&column(i, f))))).collect();
        let _ = canvas_chart::draw(&c, figures::metric_bars(&rows, 760.0, 320.0));
    }
}
