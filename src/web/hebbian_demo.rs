//! Demo 3: Hebbian plastic networks against their non-plastic twins, on pattern completion
//! (Miconi's recurrent network, whose non-plastic twin is a plain RNN of the same size) and on
//! denoising test images, on WebGPU or the CPU.
//!
//! The plastic network and its twin train in two workers ([`HebbWorkerRun`]); the page draws what
//! they report ([`HebbView`]). The pictures that follow a slider (the episode at step `t`, the
//! reconstructions at a noise level) are computed by the workers on request: the page rebuilds
//! only the episode's inputs, which depend on the seed alone.

use super::demo::{canvas, number};
use super::protocol::{Compute, f32_json, json_f32};
use super::remote::{self, Plan, RemoteDemo, Report, View};
use super::worker::HeldData;
use super::{App, canvas_chart, dom};
use crate::backend::{Backend, Denoise, Hebbian};
use crate::charts::hebbian as figures;
use crate::nn::HebbRule;
use crate::data::DataSetId;
use crate::experiments::DataAccess;
use crate::experiments::completion::{CompletionRecord, CompletionRun, CompletionSetup, CurvePoint, completion_batch};
use crate::experiments::denoise::{DenoiseRecord, DenoiseRun, DenoiseSetup, denoise_batch};
use crate::experiments::summary::{self, Summary};
use crate::nn::TrainError;
use crate::settings::{self, Values};
use rand::{SeedableRng, rngs::StdRng};
use serde_json::{Value, json};
use std::rc::Rc;
use wasm_bindgen::JsCast;

/// Test images shown in the reconstruction grid.
const SHOWN: usize = 6;
/// The learners, in worker order.
const VARIANTS: [bool; 2] = [true, false];

pub type HebbianDemo = RemoteDemo;

pub fn new_demo() -> HebbianDemo {
    RemoteDemo::new(&settings::hebbian::DEMO, plan)
}

pub fn wire(app: &Rc<App>) -> Result<(), dom::WebError> {
    remote::wire(app, |a| &a.hebbian, |a| show_task_fields(a.hebbian.values.borrow().choice("task")))?;
    for id in ["hebb-t", "hebb-noise"] {
        let a = app.clone();
        dom::on_event(&dom::by_id::<web_sys::Element>(id)?, "input", move || {
            dom::set_text("hebb-noise-value", &number::<f32>("hebb-noise", "Noise").map(|v| format!("{v:.2}")).unwrap_or_default());
            a.hebbian.request_pictures();
        });
    }
    Ok(())
}

/// Shows the figures of the chosen task.
fn show_task_fields(task: &str) {
    if let Ok(list) = dom::document().and_then(|d| Ok(d.query_selector_all("#demo-hebbian [data-for]")?)) {
        for i in 0..list.length() {
            if let Some(el) = list.item(i).and_then(|n| n.dyn_into::<web_sys::HtmlElement>().ok()) {
                el.set_hidden(el.get_attribute("data-for").as_deref() != Some(task));
            }
        }
    }
    super::exports::describe_charts();
}

/// The demo's settings, as the form gives them and as they travel to the workers.
#[derive(Debug, Clone, PartialEq)]
pub struct HebbSettings {
    /// `Some(data set)` for the denoising autoencoder, `None` for pattern completion.
    denoise: Option<DataSetId>,
    rule: HebbRule,
    steps: usize,
    test: usize,
    seed: u64,
}

impl HebbSettings {
    fn from_values(v: &Values) -> Result<Self, String> {
        let denoise = v.choice("task") == "denoise";
        Ok(Self {
            denoise: if denoise { Some(DataSetId::parse(v.choice("dataset")).ok_or("hebbian.dataset: no such data set")?) } else { None },
            rule: HebbRule::parse(v.choice("rule")).ok_or("hebbian.rule: no such trace rule")?,
            steps: v.count("steps"),
            test: if denoise { v.count("test") } else { 0 },
            seed: v.seed(),
        })
    }

    /// Miconi's recurrent network in his small setting (51 neurons, 2 patterns of 50 bits), both
    /// variants the same size; fewer test episodes than the tool's 1000, since on WebGPU each is a
    /// readback.
    fn completion(&self, plastic: bool) -> CompletionSetup {
        let mut setup = CompletionSetup::recurrent_small(plastic);
        setup.test_episodes = 256;
        setup.train_steps = self.steps;
        setup.seed = self.seed;
        setup.log_every = (self.steps / 60).max(1);
        setup.net.rule = self.rule;
        setup
    }

    fn denoise(&self, plastic: bool) -> DenoiseSetup {
        let mut setup = DenoiseSetup::mnist(plastic);
        setup.train_steps = self.steps;
        setup.seed = self.seed;
        setup.test_episodes = self.test;
        setup.log_every = (self.steps / 60).max(1);
        setup.net.rule = self.rule;
        setup
    }
}

fn plan(app: &App, values: &Values) -> Result<Plan, String> {
    let settings = HebbSettings::from_values(values)?;
    let (backend, compute) = super::demo::backend(app, values.choice("compute"))?;
    for plastic in VARIANTS {
        match settings.denoise {
            Some(_) => settings.denoise(plastic).validate(),
            None => settings.completion(plastic).validate(),
        }
        .map_err(|e| e.to_string())?;
    }
    Ok(Plan {
        demo: "hebbian",
        settings: values.to_plain_query(),
        learners: VARIANTS.iter().map(|&p| figures::variant_name(p).to_string()).collect(),
        seed: settings.seed,
        backend: match backend {
            Backend::Cpu => Compute::Cpu,
            Backend::Gpu(_) => Compute::WebGpu,
        },
        compute,
        data: settings.denoise,
        view: Box::new(HebbView { app_data: settings.denoise.map(|set| super::demo::SlotData(app.slot(set).clone())), settings }),
    })
}

/// What the sliders ask of the pictures.
fn picture_detail() -> String {
    let t = number::<usize>("hebb-t", "Step").unwrap_or(usize::MAX);
    let noise = number::<f32>("hebb-noise", "Noise").unwrap_or(0.5).clamp(0.0, 3.0);
    json!({ "t": t, "noise": noise }).to_string()
}

// ---------------------------------------------------------------------------------------------
// In the worker: one variant
// ---------------------------------------------------------------------------------------------

enum Task {
    Completion(CompletionRun<Hebbian>),
    Denoise(DenoiseRun<Denoise>),
}

pub struct HebbWorkerRun {
    settings: HebbSettings,
    task: Task,
    /// Steps trained (the completion run does not count them itself).
    step: usize,
}

impl HebbWorkerRun {
    pub fn new(settings: &str, learner: usize, backend: Backend) -> Result<Self, String> {
        let settings = HebbSettings::from_values(&Values::from_plain_query(&settings::hebbian::DEMO, settings)?)?;
        let plastic = *VARIANTS.get(learner).ok_or_else(|| format!("there is no variant {learner} in this run"))?;
        let err = |e: TrainError| e.to_string();
        let task = match settings.denoise {
            Some(_) => Task::Denoise(DenoiseRun::new(settings.denoise(plastic), |c, p| backend.denoise(c, p)).map_err(err)?),
            None => Task::Completion(CompletionRun::new(settings.completion(plastic), |c, p| backend.hebbian(c, p)).map_err(err)?),
        };
        Ok(Self { settings, task, step: 0 })
    }

    pub fn data_set(&self) -> Option<DataSetId> {
        self.settings.denoise
    }

    pub async fn advance(&mut self, data: &HeldData) -> Result<bool, TrainError> {
        let done = match &mut self.task {
            Task::Completion(run) => run.advance(1).await?,
            Task::Denoise(run) => run.advance(data, 1).await?,
        };
        self.step = match &self.task {
            Task::Completion(_) => (self.step + 1).min(self.settings.steps),
            Task::Denoise(run) => run.step(),
        };
        Ok(done)
    }

    pub fn step(&self) -> usize {
        self.step
    }

    pub fn metrics(&self) -> String {
        let (plastic, curve, test_mse, noisy_mse) = match &self.task {
            Task::Completion(r) => (r.record().plastic, &r.record().curve, r.record().test_mse, f32::NAN),
            Task::Denoise(r) => (r.record().plastic, &r.record().curve, r.record().test_mse, r.record().noisy_mse),
        };
        json!({
            "plastic": plastic,
            "curve": curve.iter().map(|p| json!([p.step, f32_json(p.train_mse)])).collect::<Vec<_>>(),
            "test_mse": f32_json(test_mse),
            "noisy_mse": f32_json(noisy_mse),
        })
        .to_string()
    }

    /// Completion: `[t, this network's read-out at step t (bits), the trace at t (neurons²,
    /// plastic only)]`. Denoising: the reconstructions of the first [`SHOWN`] test episodes.
    pub async fn pictures(&mut self, detail: &str, data: &HeldData) -> Option<Vec<f32>> {
        let detail: Value = serde_json::from_str(detail).unwrap_or(Value::Null);
        match &mut self.task {
            Task::Completion(run) => {
                let cfg = run.setup().net.clone();
                let steps = cfg.episode_steps();
                let t = detail["t"].as_u64().map_or(steps - 1, |t| t as usize).min(steps - 1);
                let episode = completion_episode(run.setup());
                // Run where the network trains (on the GPU, read back once).
                let trace = run.episode(&episode.xs).await.ok()?;
                let mut out = vec![t as f32];
                out.extend_from_slice(trace.state_after(t)?.get(..cfg.bits)?);
                if cfg.plastic {
                    out.extend_from_slice(trace.trace_at(t)?);
                }
                Some(out)
            }
            Task::Denoise(run) => {
                let noise = detail["noise"].as_f64().map_or(0.5, |x| x as f32);
                let episode = denoise_episode(run.setup(), noise, data)?;
                let images = run.reconstruct(&episode.xs).await.ok()?;
                let pixels = run.setup().net.pixels();
                Some(images.get(..SHOWN * pixels)?.to_vec())
            }
        }
    }
}

/// The one test episode the page steps through: the same in both workers and on the page.
fn completion_episode(setup: &CompletionSetup) -> crate::experiments::completion::CompletionBatch {
    let mut rng = StdRng::seed_from_u64(setup.seed ^ 0x0e91_50de);
    completion_batch(&setup.net, 1, &mut rng)
}

/// The test episodes shown at noise level `noise`, a batch as in training (batch norm takes the
/// statistics of the episodes run together); `None` while the test images are missing.
fn denoise_episode(setup: &DenoiseSetup, noise: f32, data: &dyn DataAccess) -> Option<crate::experiments::denoise::DenoiseBatch> {
    let mut cfg = setup.net.clone();
    cfg.noise_std = noise.clamp(0.0, 3.0);
    let batch = cfg.batch.max(SHOWN);
    let mut episode = None;
    data.with_test(&mut |test| {
        let need = batch * cfg.images;
        if test.len() < need {
            return;
        }
        let mut rng = StdRng::seed_from_u64(setup.seed ^ 0xde_0153);
        let indices: Vec<usize> = (0..need).collect();
        episode = Some(denoise_batch(&cfg, test, &indices, &mut rng));
    });
    episode
}

// ---------------------------------------------------------------------------------------------
// On the page
// ---------------------------------------------------------------------------------------------

struct HebbView {
    settings: HebbSettings,
    /// The page's copy of the test set, for the clean and noisy images of the grid.
    app_data: Option<super::demo::SlotData>,
}

fn results(reports: &[Option<Report>]) -> Vec<(bool, f32, Option<f32>)> {
    reports
        .iter()
        .flatten()
        .map(|r| {
            let noisy = json_f32(&r.metrics["noisy_mse"]);
            (r.metrics["plastic"].as_bool().unwrap_or(false), json_f32(&r.metrics["test_mse"]), noisy.is_finite().then_some(noisy))
        })
        .collect()
}

impl View for HebbView {
    fn draw_charts(&mut self, reports: &[Option<Report>], _part: usize) -> bool {
        let curves: Vec<(bool, Vec<(f32, f32)>)> = reports
            .iter()
            .flatten()
            .map(|r| {
                let m = &r.metrics;
                let curve = m["curve"].as_array().map(|a| a.iter().map(|p| (p[0].as_u64().unwrap_or(0) as f32, json_f32(&p[1]))).collect()).unwrap_or_default();
                (m["plastic"].as_bool().unwrap_or(false), curve)
            })
            .collect();
        let series: Vec<(String, Vec<f32>)> = curves.iter().map(|(p, c)| (figures::variant_name(*p).to_string(), c.iter().map(|&(_, y)| y).collect())).collect();
        dom::set_series("hebb-loss", &series);
        if let Some(c) = canvas("hebb-loss") {
            let _ = canvas_chart::draw(&c, figures::loss_curves(&curves, self.settings.steps, 560.0, 320.0));
        }
        write_results(&results(reports));
        false
    }

    fn status(&self, reports: &[Option<Report>], rate: &str, compute: &str) -> String {
        let all_finished = !reports.is_empty() && reports.iter().all(|r| r.as_ref().is_some_and(|r| r.finished));
        if all_finished {
            let parts: Vec<String> = results(reports).iter().map(|(p, mse, _)| format!("{} {mse:.4}", figures::variant_name(*p))).collect();
            return format!("Finished. Test MSE: {}.", parts.join(", "));
        }
        let Some(slowest) = reports.iter().flatten().map(|r| r.step).min() else { return format!("Starting {compute}…") };
        let rate = rate.replace("batches/s", "steps/s").replace("s/batch", "s/step");
        format!("Step {} of {} · {rate} {compute}", slowest, self.settings.steps)
    }

    fn draw_pictures(&mut self, pictures: &[Option<Vec<f32>>], _part: usize) -> bool {
        self.draw_slider_pictures(pictures);
        false
    }

    fn picture_detail(&self) -> String {
        picture_detail()
    }

    fn summary(&self, reports: &[Option<Report>], backend: &str) -> Option<Summary> {
        if reports.iter().all(Option::is_none) {
            return None;
        }
        let seed = self.settings.seed;
        let curve = |m: &Value| -> Vec<CurvePoint> {
            m["curve"].as_array().map(|a| a.iter().map(|p| CurvePoint { step: p[0].as_u64().unwrap_or(0) as usize, train_mse: json_f32(&p[1]) }).collect()).unwrap_or_default()
        };
        let mut s = match self.settings.denoise {
            Some(set) => Summary::new("hebbian-denoise", summary::denoise_config(&self.settings.denoise(true), set, backend)),
            None => Summary::new("hebbian-completion", summary::completion_config(&self.settings.completion(true), &self.settings.completion(false), backend)),
        };
        for r in reports.iter().flatten() {
            let m = &r.metrics;
            let plastic = m["plastic"].as_bool().unwrap_or(false);
            let metrics = match self.settings.denoise {
                Some(_) => summary::denoise_metrics(&DenoiseRecord { plastic, curve: curve(m), test_mse: json_f32(&m["test_mse"]), noisy_mse: json_f32(&m["noisy_mse"]) }),
                None => summary::completion_metrics(&CompletionRecord { plastic, curve: curve(m), test_mse: json_f32(&m["test_mse"]) }, self.settings.completion(plastic).net.size()),
            };
            s.run(figures::variant_name(plastic), seed, metrics);
        }
        Some(s)
    }
}

impl HebbView {
    fn draw_slider_pictures(&mut self, pictures: &[Option<Vec<f32>>]) {
        let (Some(Some(plastic)), Some(Some(fixed))) = (pictures.first(), pictures.get(1)) else { return };
        match self.settings.denoise {
            None => {
                let setup = self.settings.completion(true);
                let cfg = &setup.net;
                let (steps, n, neurons) = (cfg.episode_steps(), cfg.bits, cfg.neurons);
                if let Ok(slider) = dom::by_id::<web_sys::HtmlInputElement>("hebb-t") {
                    slider.set_max(&(steps - 1).to_string());
                }
                let Some(&t) = plastic.first() else { return };
                let t = (t as usize).min(steps - 1);
                let episode = completion_episode(&setup);
                let inputs: Vec<Vec<f32>> = episode.xs.chunks_exact(n).map(<[f32]>::to_vec).collect();
                let (Some(y_plastic), Some(trace), Some(y_fixed)) = (plastic.get(1..1 + n), plastic.get(1 + n..1 + n + neurons * neurons), fixed.get(1..1 + n)) else { return };
                let outputs = vec![(true, y_plastic.to_vec()), (false, y_fixed.to_vec())];
                if let Some(c) = canvas("hebb-episode") {
                    let _ = canvas_chart::draw(&c, figures::episode(&inputs, cfg.input_gain, t, &outputs, &episode.targets, 560.0, 220.0));
                }
                if let Some(c) = canvas("hebb-trace") {
                    let _ = canvas_chart::draw(&c, figures::trace(trace, neurons, t, 560.0, 330.0));
                }
            }
            Some(_) => {
                let setup = self.settings.denoise(true);
                let noise = number::<f32>("hebb-noise", "Noise").unwrap_or(0.5);
                let Some(data) = self.app_data.as_ref() else { return };
                let Some(episode) = denoise_episode(&setup, noise, data) else { return };
                let pixels = setup.net.pixels();
                let take = |v: &[f32]| v.chunks_exact(pixels).take(SHOWN).map(<[f32]>::to_vec).collect::<Vec<_>>();
                if let Some(c) = canvas("hebb-recon") {
                    let fig = figures::reconstructions(&take(&episode.targets), &take(episode.noisy()), &take(fixed), &take(plastic), setup.net.side, 760.0, 380.0);
                    let _ = canvas_chart::draw(&c, fig);
                }
            }
        }
    }

}

fn write_results(results: &[(bool, f32, Option<f32>)]) {
    let Ok(table) = dom::by_id::<web_sys::Element>("hebb-results") else { return };
    if !results.iter().any(|(_, mse, _)| mse.is_finite()) {
        table.set_inner_html("");
        return;
    }
    let mut html = String::from("<tr><th>network</th><th>test MSE</th></tr>");
    for (plastic, mse, _) in results {
        html.push_str(&format!("<tr data-variant=\"{name}\" data-mse=\"{mse:.5}\"><td>{name}</td><td>{mse:.4}</td></tr>", name = figures::variant_name(*plastic)));
    }
    if let Some((_, _, Some(noisy))) = results.first() {
        html.push_str(&format!("<tr class=\"paper\"><td>the noisy input itself</td><td>{noisy:.4}</td></tr>"));
    }
    dom::set_html(&table, &html);
}

