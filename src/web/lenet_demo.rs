//! Demo 2: LeNet-5, standard and artificial metaplasticity side by side, over one or more seeds.

use super::bnn_demo::SlotData;
use super::demo::{self, Demo, DemoRun, canvas, number, select_value};
use super::{App, canvas_chart, dom};
use crate::backend::{Backend, Lenet};
use crate::charts::lenet as figures;
use crate::data::DataSetId;
use crate::experiments::lenet::{LenetProgress, LenetRecord, LenetRun, LenetRunConfig, Rule};
use crate::nn::TrainError;
use crate::model::lenet::{Arch, FactorSource, LenetTrainer};
use crate::stats::{ClassMetrics, PairedDiff, mean_sd};
use std::rc::Rc;

/// Batches per slice between two browser turns.
const SLICE_STEPS: usize = 4;
/// Filters and factors need a readback: every few seconds.
const REFRESH_MS: f64 = 2000.0;

/// The paper's test accuracy and macro F1 are not both given; accuracy is (standard, AMP).
fn paper_accuracy(dataset: DataSetId) -> (f32, f32) {
    match dataset {
        DataSetId::Mnist => (0.9886, 0.9910),
        DataSetId::Fashion => (0.9014, 0.9031),
    }
}

pub struct LenetDemoRun {
    backend: Backend,
    cfg: LenetRunConfig,
    seeds: Vec<u64>,
    /// Index into `seeds` of the run in progress.
    current: usize,
    run: LenetRun<Lenet>,
    last: LenetProgress,
    /// When this seed's run started and how many batches it had then, for an honest rate (a GPU
    /// slice returns once its work is queued, not done).
    started_ms: f64,
    /// Final test metrics of each finished seed, per rule (standard, amp).
    finished: Vec<[ClassMetrics; 2]>,
}

pub type LenetDemo = Demo<LenetDemoRun>;

pub fn new_demo() -> LenetDemo {
    Demo::new("lenet", REFRESH_MS, new_run)
}

pub fn wire(app: &Rc<App>) -> Result<(), dom::WebError> {
    demo::wire(app, |a| &a.lenet, || {})
}

fn new_run(app: &App) -> Result<(LenetDemoRun, String), String> {
    let dataset = DataSetId::parse(&select_value("lenet-dataset")).ok_or("choose a data set")?;
    let arch = Arch::parse(&select_value("lenet-arch")).ok_or("choose a network")?;
    let mut cfg = LenetRunConfig::paper(dataset, arch, number("lenet-epochs", "Epochs")?);
    cfg.amp_b = number("lenet-b", "Metaplasticity B")?;
    cfg.amp_source = if select_value("lenet-source") == "input" { FactorSource::NetworkInput } else { FactorSource::LayerInput };
    cfg.lr = number("lenet-lr", "Learning rate")?;
    // Larger batches than the tool's 32: fewer, bigger GPU submits per image in the browser.
    cfg.batch = 64;
    cfg.steps_per_epoch = Some(number("lenet-steps", "Batches per epoch")?);
    cfg.test_examples = number("lenet-test", "Test images")?;
    if !(100..=10_000).contains(&cfg.test_examples) {
        return Err(format!("Test images: {} is outside 100 to 10000", cfg.test_examples));
    }
    // The live curves use a quarter of them: evaluation is most of the cost on a slow adapter.
    cfg.live_test_examples = (cfg.test_examples / 4).clamp(50, 500);
    cfg.eval_every = (cfg.steps_per_epoch() / 5).clamp(5, 500);
    let count: u64 = number("lenet-seeds", "Seeds")?;
    if !(1..=20).contains(&count) {
        return Err(format!("Seeds: {count} is outside 1 to 20"));
    }
    let first: u64 = number("lenet-seed", "First seed")?;
    cfg.seed = first;
    let (backend, compute) = demo::backend(app, "lenet-backend")?;
    let run = start_seed(&backend, &cfg)?;
    let seeds = (0..count).map(|i| first + i).collect();
    Ok((LenetDemoRun { backend, cfg, seeds, current: 0, run, last: LenetProgress::Running, started_ms: dom::now(), finished: Vec::new() }, compute))
}

fn start_seed(backend: &Backend, cfg: &LenetRunConfig) -> Result<LenetRun<Lenet>, String> {
    LenetRun::new(cfg.clone(), |c, p| backend.lenet(c, p)).map_err(|e| e.to_string())
}

impl DemoRun for LenetDemoRun {
    async fn advance(&mut self, app: &Rc<App>) -> Result<bool, TrainError> {
        let data = SlotData(app.slot(self.cfg.dataset).clone());
        self.last = self.run.advance(&data, SLICE_STEPS).await?;
        if self.last != LenetProgress::Finished {
            return Ok(false);
        }
        let metrics = |rule: Rule| self.run.records().find(|r| r.rule == rule).and_then(LenetRecord::final_metrics).unwrap_or_default();
        self.finished.push([metrics(Rule::Standard), metrics(Rule::Amp)]);
        if self.current + 1 == self.seeds.len() {
            return Ok(true);
        }
        // The next seed: new weights and a new batch order, the charts follow it; the finished
        // seeds stay in the table.
        self.current += 1;
        let mut cfg = self.cfg.clone();
        cfg.seed = self.seeds[self.current];
        self.run = start_seed(&self.backend, &cfg).map_err(TrainError::Config)?;
        self.last = LenetProgress::Running;
        self.started_ms = dom::now();
        Ok(false)
    }

    fn draw(&self, _slice_ms: f64, compute: &str) -> String {
        let records: Vec<&LenetRecord> = self.run.records().collect();
        let total = self.run.total_steps();
        if let Some(c) = canvas("lenet-acc") {
            let _ = canvas_chart::draw(&c, &figures::accuracy_curves(&records, total, 560.0, 340.0));
        }
        if let Some(c) = canvas("lenet-loss") {
            let _ = canvas_chart::draw(&c, &figures::loss_curves(&records, total, 560.0, 340.0));
        }
        let names = self.cfg.dataset.class_names();
        for r in &records {
            if let (Some(c), Some(conf)) = (canvas(&format!("lenet-confusion-{}", r.rule.name())), &r.confusion) {
                let title = format!("{}: confusion matrix", figures::rule_title(r.rule));
                let _ = canvas_chart::draw(&c, &figures::confusion(&title, conf, &names, 420.0, 400.0));
            }
        }
        self.write_tables(&records);
        let seed = self.seeds[self.current];
        let seeds = if self.seeds.len() > 1 { format!("Seed {} ({} of {}) · ", seed, self.current + 1, self.seeds.len()) } else { String::new() };
        if self.finished.len() == self.seeds.len() {
            let acc = |i: usize| self.finished.iter().map(|m| m[i].accuracy).collect::<Vec<f32>>();
            let (s, a) = (mean_sd(&acc(0)).0, mean_sd(&acc(1)).0);
            let over = if self.seeds.len() > 1 { format!(" (mean of {} seeds)", self.seeds.len()) } else { String::new() };
            return format!("Finished. Test accuracy{over}: standard {:.2}%, metaplastic {:.2}%.", 100.0 * s, 100.0 * a);
        }
        let rate = self.run.step() as f64 / ((dom::now() - self.started_ms) / 1000.0).max(1e-3);
        let waiting = if self.last == LenetProgress::WaitingForData { format!(" · waiting for {} to arrive", self.cfg.dataset.title()) } else { String::new() };
        format!(
            "{seeds}Epoch {} of {}, batch {} of {} · {:.1} batches/s {compute}{waiting}",
            (self.run.epoch() + 1).min(self.cfg.epochs),
            self.cfg.epochs,
            self.run.step(),
            total,
            rate
        )
    }

    async fn refresh(&mut self, _app: &Rc<App>) {
        let arch = self.cfg.arch;
        let rules: Vec<Rule> = self.run.records().map(|r| r.rule).collect();
        let mut factors = Vec::new();
        for (rule, trainer) in rules.into_iter().zip(self.run.trainers_mut()) {
            if let Ok(params) = trainer.params().await
                && let Some((count, k, w)) = params.first_filters(arch)
                && let Some(c) = canvas(&format!("lenet-filters-{}", rule.name()))
            {
                let title = format!("{}: first-layer filters", figures::rule_title(rule));
                let height = 80.0 + 70.0 * count.div_ceil(8) as f32;
                let _ = canvas_chart::draw(&c, &figures::filters(&title, rule, count, k, w, 560.0, height));
            }
            if rule == Rule::Amp
                && let Ok(f) = trainer.last_factors().await
            {
                factors = f;
            }
        }
        if !factors.is_empty() {
            if let Some(c) = canvas("lenet-factors") {
                let _ = canvas_chart::draw(&c, &figures::factor_histogram(&factors, 560.0, 300.0));
            }
            if let Some(c) = canvas("lenet-extremes") {
                let _ = canvas_chart::draw(&c, &figures::extreme_examples(self.run.last_batch().0, &factors[0], 4, 560.0, 200.0));
            }
        }
    }
}

impl LenetDemoRun {
    /// The numbers behind the charts: the latest test metrics per rule with the paper's beside them,
    /// and, over several seeds, mean ± sd and the paired difference.
    fn write_tables(&self, records: &[&LenetRecord]) {
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
                    figures::rule_title(r.rule),
                    pct(m.accuracy),
                    pct(m.macro_f1),
                    pct(m.precision),
                    pct(m.recall),
                    m.loss,
                    rule = r.rule.name(),
                ));
            }
            let (s, a) = paper_accuracy(self.cfg.dataset);
            html.push_str(&format!(
                "<tr class=\"paper\"><td>paper, LeNet-5, one run</td><td>{:.2}% / {:.2}%</td><td colspan=\"4\">standard / AMP; no seeds or error bars given</td><td>full training</td></tr>",
                100.0 * s,
                100.0 * a
            ));
            table.set_inner_html(&html);
        }
        let several = self.seeds.len() > 1 && !self.finished.is_empty();
        dom::set_hidden("lenet-seeds-table", !several);
        dom::set_hidden("lenet-seeds-figure", !several);
        if !several {
            return;
        }
        let column = |rule: usize, f: fn(&ClassMetrics) -> f32| self.finished.iter().map(|m| f(&m[rule])).collect::<Vec<f32>>();
        let getters: [(&str, fn(&ClassMetrics) -> f32); 4] =
            [("accuracy", |m| m.accuracy), ("macro F1", |m| m.macro_f1), ("precision", |m| m.precision), ("recall", |m| m.recall)];
        if let Ok(table) = dom::by_id::<web_sys::Element>("lenet-seeds-table") {
            let n = self.finished.len();
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
            table.set_inner_html(&html);
        }
        if let Some(c) = canvas("lenet-seeds-bars") {
            let rows: Vec<(Rule, [(f32, f32); 4])> =
                [Rule::Standard, Rule::Amp].iter().enumerate().map(|(i, &rule)| (rule, getters.map(|(_, f)| mean_sd(&column(i, f))))).collect();
            let _ = canvas_chart::draw(&c, &figures::metric_bars(&rows, 760.0, 320.0));
        }
    }
}
