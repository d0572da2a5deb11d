//! Demo 3: Hebbian plastic networks against their non-plastic twins, on pattern completion
//! (Miconi's recurrent network, whose non-plastic twin is a plain RNN of the same size) and on
//! denoising test images (Miconi et al. 2018; Upadhyay and Bagad).
//!
//! The plastic network and its twin train in two workers ([`HebbLearner`]); the page draws what
//! they report ([`HebbBoard`]). The pictures that follow a slider (the episode at step `t`, the
//! reconstructions at a noise level) are computed by the workers on request: the page rebuilds
//! only the episode's inputs, which depend on the seed alone.

use super::{Board, Controls, Demo, DemoError, Learner, Paint, Plan, Standing, Step, control, decode, encode};
use crate::backend::{Backend, Denoise, Hebbian as HebbNet};
use crate::charts::hebbian as figures;
use crate::data::DataSetId;
use crate::experiments::{DataAccess, TaskData};
use crate::experiments::bench::Network;
use crate::experiments::completion::{CompletionBatch, CompletionRecord, CompletionRun, CompletionSetup, CurvePoint, completion_batch};
use crate::experiments::denoise::{DenoiseBatch, DenoiseRecord, DenoiseRun, DenoiseSetup, denoise_batch};
use crate::experiments::summary::{self, Summary};
use crate::nn::{HebbRule, TrainError};
use crate::settings::hebbian as keys;
use crate::settings::{self, Values};
use rand::{SeedableRng, rngs::StdRng};
use serde::{Deserialize, Serialize};

/// Test images shown in the reconstruction grid.
const SHOWN: usize = 6;
/// The learners, in worker order: plastic, then its twin.
const VARIANTS: [bool; 2] = [true, false];
/// The sliders: an episode's step, and the noise on the test images.
const STEP_SLIDER: &str = "hebb-t";
const NOISE_SLIDER: &str = "hebb-noise";

/// The demo's entry in the registry.
pub struct Hebbian;

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
    pub fn from_values(v: &Values) -> Result<Self, DemoError> {
        let denoise = v.choice(&keys::TASK) == "denoise";
        let (dataset, rule) = (v.choice(&keys::DATASET), v.choice(&keys::RULE));
        let unknown = |what: &str, value: &str| DemoError::Values(format!("hebbian.{what}: '{value}' is not one of the declared choices"));
        Ok(Self {
            denoise: if denoise { Some(DataSetId::parse(dataset).ok_or_else(|| unknown("dataset", dataset))?) } else { None },
            rule: HebbRule::parse(rule).ok_or_else(|| unknown("rule", rule))?,
            steps: v.count(&keys::STEPS),
            test: if denoise { v.count(&keys::TEST) } else { 0 },
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

impl Demo for Hebbian {
    fn decl(&self) -> &'static settings::Demo {
        &keys::DEMO
    }

    fn controls(&self) -> &'static [&'static str] {
        &[STEP_SLIDER, NOISE_SLIDER]
    }

    fn on_settings(&self, values: &Values) -> Vec<Paint> {
        vec![Paint::ShowFor { shown: values.choice(&keys::TASK).into() }]
    }

    fn on_control(&self, controls: &Controls) -> Vec<Paint> {
        let noise = control::<f32>(controls, NOISE_SLIDER).map(|v| format!("{v:.2}")).unwrap_or_default();
        vec![Paint::Html { id: "hebb-noise-value".into(), html: noise }]
    }

    fn plan(&self, values: &Values) -> Result<Plan, DemoError> {
        let settings = HebbSettings::from_values(values)?;
        for plastic in VARIANTS {
            match settings.denoise {
                Some(_) => settings.denoise(plastic).validate(),
                None => settings.completion(plastic).validate(),
            }?;
        }
        let episodes = match settings.denoise {
            Some(_) => settings.denoise(true).net.batch,
            None => settings.completion(true).net.batch,
        };
        Ok(Plan {
            learners: VARIANTS.iter().map(|&p| figures::variant_name(p).to_string()).collect(),
            data: settings.denoise.into_iter().collect(),
            classifies: false,
            per_step: (episodes, "episodes"),
            board: Box::new(HebbBoard { settings, records: vec![None; VARIANTS.len()] }),
        })
    }

    fn learner(&self, values: &Values, learner: usize, backend: Backend) -> Result<Box<dyn Learner>, DemoError> {
        let settings = HebbSettings::from_values(values)?;
        let plastic = *VARIANTS.get(learner).ok_or(DemoError::NoLearner(learner))?;
        let task = match settings.denoise {
            Some(_) => Task::Denoise(DenoiseRun::new(settings.denoise(plastic), |c, p| backend.denoise(c, p))?),
            None => Task::Completion(CompletionRun::new(settings.completion(plastic), |c, p| backend.hebbian(c, p))?),
        };
        Ok(Box::new(HebbLearner { settings, task, step: 0, sent_points: 0, sent_test: false }))
    }

    /// The plastic network, the heavier of the two.
    fn network(&self, values: &Values) -> Result<Network, DemoError> {
        let settings = HebbSettings::from_values(values)?;
        Ok(match settings.denoise {
            Some(_) => Network::Denoise(settings.denoise(true).net),
            None => Network::Completion(settings.completion(true).net),
        })
    }
}

// ---------------------------------------------------------------------------------------------
// In the worker: one variant
// ---------------------------------------------------------------------------------------------

enum Task {
    Completion(CompletionRun<HebbNet>),
    Denoise(DenoiseRun<Denoise>),
}

pub struct HebbLearner {
    settings: HebbSettings,
    task: Task,
    /// Steps trained (the completion run does not count them itself).
    step: usize,
    sent_points: usize,
    sent_test: bool,
}

/// What a learner reports: the loss curve's new points and, once measured, its test error.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct HebbUpdate {
    plastic: bool,
    points: Vec<CurvePoint>,
    /// `(test MSE, the noisy input's MSE (denoising))`, once measured.
    test: Option<(f32, Option<f32>)>,
}

impl HebbLearner {
    fn record(&self) -> (bool, &[CurvePoint], f32, f32) {
        match &self.task {
            Task::Completion(r) => (r.record().plastic, &r.record().curve, r.record().test_mse, f32::NAN),
            Task::Denoise(r) => (r.record().plastic, &r.record().curve, r.record().test_mse, r.record().noisy_mse),
        }
    }

    fn update(&mut self) -> HebbUpdate {
        let (plastic, curve, test_mse, noisy_mse) = self.record();
        let points = curve.get(self.sent_points..).unwrap_or_default().to_vec();
        let test = (test_mse.is_finite() && !self.sent_test).then(|| (test_mse, noisy_mse.is_finite().then_some(noisy_mse)));
        self.sent_points += points.len();
        self.sent_test |= test.is_some();
        HebbUpdate { plastic, points, test }
    }
}

impl Learner for HebbLearner {
    fn data_sets(&self) -> Vec<DataSetId> {
        self.settings.denoise.into_iter().collect()
    }

    fn advance<'a>(&'a mut self, data: &'a dyn TaskData) -> Step<'a, Result<bool, TrainError>> {
        Box::pin(async move {
            let done = match (&mut self.task, self.settings.denoise.and_then(|set| data.for_set(set))) {
                (Task::Completion(run), _) => run.advance(1).await?,
                (Task::Denoise(run), Some(data)) => run.advance(data, 1).await?,
                (Task::Denoise(_), None) => false,
            };
            self.step = match &self.task {
                Task::Completion(_) => (self.step + 1).min(self.settings.steps),
                Task::Denoise(run) => run.step(),
            };
            Ok(done)
        })
    }

    fn step(&self) -> usize {
        self.step
    }

    fn report(&mut self) -> Result<String, serde_json::Error> {
        encode(&self.update())
    }

    /// Completion: `[t, this network's read-out at step t (bits), the trace at t (neurons²,
    /// plastic only)]`. Denoising: the reconstructions of the first [`SHOWN`] test episodes.
    fn pictures<'a>(&'a mut self, detail: &'a str, data: &'a dyn DataAccess) -> Step<'a, Option<Vec<f32>>> {
        Box::pin(async move {
            let detail: Detail = serde_json::from_str(detail).unwrap_or_default();
            match &mut self.task {
                Task::Completion(run) => {
                    let cfg = run.setup().net.clone();
                    let steps = cfg.episode_steps();
                    let t = detail.t.unwrap_or(steps - 1).min(steps - 1);
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
                    let episode = denoise_episode(run.setup(), detail.noise, data)?;
                    let images = run.reconstruct(&episode.xs).await.ok()?;
                    let pixels = run.setup().net.pixels();
                    Some(images.get(..SHOWN * pixels)?.to_vec())
                }
            }
        })
    }
}

/// What the sliders ask of the pictures.
#[derive(Debug, Clone, Copy, Serialize, Deserialize)]
struct Detail {
    t: Option<usize>,
    noise: f32,
}

impl Default for Detail {
    fn default() -> Self {
        Self { t: None, noise: 0.5 }
    }
}

/// The one test episode the page steps through: the same in both workers and on the page.
fn completion_episode(setup: &CompletionSetup) -> CompletionBatch {
    let mut rng = StdRng::seed_from_u64(setup.seed ^ 0x0e91_50de);
    completion_batch(&setup.net, 1, &mut rng)
}

/// The test episodes shown at noise level `noise`, a batch as in training (batch norm takes the
/// statistics of the episodes run together); `None` while the test images are missing.
fn denoise_episode(setup: &DenoiseSetup, noise: f32, data: &dyn DataAccess) -> Option<DenoiseBatch> {
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

/// One variant as the page knows it.
#[derive(Debug, Clone)]
struct Shown {
    plastic: bool,
    curve: Vec<CurvePoint>,
    test: Option<(f32, Option<f32>)>,
}

pub struct HebbBoard {
    settings: HebbSettings,
    records: Vec<Option<Shown>>,
}

impl HebbBoard {
    fn shown(&self) -> impl Iterator<Item = &Shown> {
        self.records.iter().flatten()
    }
}

impl Board for HebbBoard {
    fn apply(&mut self, i: usize, report: &str) -> Result<bool, DemoError> {
        let u: HebbUpdate = decode(report)?;
        let slot = self.records.get_mut(i).ok_or(DemoError::NoLearner(i))?;
        let shown = slot.get_or_insert_with(|| Shown { plastic: u.plastic, curve: Vec::new(), test: None });
        let changed = !u.points.is_empty() || u.test.is_some();
        shown.curve.extend(u.points);
        shown.test = u.test.or(shown.test);
        Ok(changed)
    }

    fn draw_charts(&mut self, _part: usize, out: &mut Vec<Paint>) -> bool {
        let curves: Vec<(bool, Vec<(f32, f32)>)> = self.shown().map(|s| (s.plastic, s.curve.iter().map(|p| (p.step as f32, p.train_mse)).collect())).collect();
        let series: Vec<(String, Vec<f32>)> = curves.iter().map(|(p, c)| (figures::variant_name(*p).to_string(), c.iter().map(|&(_, y)| y).collect())).collect();
        out.push(Paint::Chart { canvas: "hebb-loss".into(), figure: figures::loss_curves(&curves, self.settings.steps, 560.0, 320.0), series: Some(series) });
        out.push(Paint::Html { id: "hebb-results".into(), html: results_table(&self.shown().collect::<Vec<_>>()) });
        false
    }

    fn draw_pictures(&mut self, pictures: &[Option<Vec<f32>>], _part: usize, controls: &Controls, data: Option<&dyn DataAccess>, out: &mut Vec<Paint>) -> bool {
        let (Some(Some(plastic)), Some(Some(fixed))) = (pictures.first(), pictures.get(1)) else { return false };
        match self.settings.denoise {
            None => {
                let setup = self.settings.completion(true);
                let cfg = &setup.net;
                let (steps, n, neurons) = (cfg.episode_steps(), cfg.bits, cfg.neurons);
                out.push(Paint::Attr { id: STEP_SLIDER.into(), name: "max".into(), value: (steps - 1).to_string() });
                let Some(&t) = plastic.first() else { return false };
                let t = (t as usize).min(steps - 1);
                let episode = completion_episode(&setup);
                let inputs: Vec<Vec<f32>> = episode.xs.chunks_exact(n).map(<[f32]>::to_vec).collect();
                let (Some(y_plastic), Some(trace), Some(y_fixed)) = (plastic.get(1..1 + n), plastic.get(1 + n..1 + n + neurons * neurons), fixed.get(1..1 + n)) else {
                    return false;
                };
                let outputs = vec![(true, y_plastic.to_vec()), (false, y_fixed.to_vec())];
                out.push(Paint::chart("hebb-episode", figures::episode(&inputs, cfg.input_gain, t, &outputs, &episode.targets, 560.0, 220.0)));
                out.push(Paint::chart("hebb-trace", figures::trace(trace, neurons, t, 560.0, 330.0)));
            }
            Some(_) => {
                let setup = self.settings.denoise(true);
                let noise = control::<f32>(controls, NOISE_SLIDER).unwrap_or(0.5);
                let Some(episode) = data.and_then(|d| denoise_episode(&setup, noise, d)) else { return false };
                let pixels = setup.net.pixels();
                let take = |v: &[f32]| v.chunks_exact(pixels).take(SHOWN).map(<[f32]>::to_vec).collect::<Vec<_>>();
                let fig = figures::reconstructions(&take(&episode.targets), &take(episode.noisy()), &take(fixed), &take(plastic), setup.net.side, 760.0, 380.0);
                out.push(Paint::chart("hebb-recon", fig));
            }
        }
        false
    }

    fn status(&self, standing: &Standing, rate: &str, compute: &str) -> String {
        if standing.all_finished() {
            let parts: Vec<String> = self.shown().map(|s| format!("{} {:.4}", figures::variant_name(s.plastic), s.test.map_or(f32::NAN, |t| t.0))).collect();
            return format!("Finished. Test MSE: {}.", parts.join(", "));
        }
        let Some(slowest) = standing.slowest() else { return format!("Starting {compute}…") };
        let rate = rate.replace("batches/s", "steps/s").replace("s per batch", "s per step");
        format!("Step {} of {} · {rate} {compute}", slowest, self.settings.steps)
    }

    fn picture_detail(&self, controls: &Controls) -> String {
        let detail = Detail { t: control(controls, STEP_SLIDER), noise: control::<f32>(controls, NOISE_SLIDER).unwrap_or(0.5).clamp(0.0, 3.0) };
        serde_json::to_string(&detail).unwrap_or_default()
    }

    fn summary(&self, backend: &str) -> Option<Summary> {
        if self.records.iter().all(Option::is_none) {
            return None;
        }
        let seed = self.settings.seed;
        let mut s = match self.settings.denoise {
            Some(set) => Summary::new("hebbian-denoise", summary::denoise_config(&self.settings.denoise(true), set, backend)),
            None => Summary::new("hebbian-completion", summary::completion_config(&self.settings.completion(true), &self.settings.completion(false), backend)),
        };
        for r in self.shown() {
            let (test_mse, noisy) = r.test.unwrap_or((f32::NAN, None));
            let metrics = match self.settings.denoise {
                Some(_) => summary::denoise_metrics(&DenoiseRecord { plastic: r.plastic, curve: r.curve.clone(), test_mse, noisy_mse: noisy.unwrap_or(f32::NAN) }),
                None => summary::completion_metrics(&CompletionRecord { plastic: r.plastic, curve: r.curve.clone(), test_mse }, self.settings.completion(r.plastic).net.size()),
            };
            s.run(figures::variant_name(r.plastic), seed, metrics);
        }
        Some(s)
    }
}

fn results_table(shown: &[&Shown]) -> String {
    if !shown.iter().any(|s| s.test.is_some()) {
        return String::new();
    }
    let mut html = String::from("<tr><th>network</th><th>test MSE</th></tr>");
    for s in shown {
        let mse = s.test.map_or(f32::NAN, |t| t.0);
        html.push_str(&format!("<tr data-variant=\"{name}\" data-mse=\"{mse:.5}\"><td>{name}</td><td>{mse:.4}</td></tr>", name = figures::variant_name(s.plastic)));
    }
    if let Some(noisy) = shown.first().and_then(|s| s.test).and_then(|t| t.1) {
        html.push_str(&format!("<tr class=\"paper\"><td>the noisy input itself</td><td>{noisy:.4}</td></tr>"));
    }
    html
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::demos::REGISTRY;
    use crate::settings::Value;

    #[test]
    fn completion_reports_its_curve_once_and_its_test_error_at_the_end() {
        let mut values = keys::DEMO.defaults();
        values.set(&keys::STEPS, Value::Int(30));
        let demo = REGISTRY[2];
        let mut plan = demo.plan(&values).expect("plans");
        assert!(plan.data.is_empty());
        let data = crate::demos::tests_support::synthetic(0, 0);
        for i in 0..2 {
            let mut l = demo.learner(&values, i, Backend::Cpu).expect("builds");
            let mut done = false;
            let mut points = 0;
            while !done {
                done = pollster::block_on(l.advance(&data)).expect("trains");
                let report = l.report().expect("encodes");
                points += serde_json::from_str::<HebbUpdate>(&report).expect("reads").points.len();
                plan.board.apply(i, &report).expect("applies");
            }
            assert_eq!(points, 30, "every logged point once");
            let detail = plan.board.picture_detail(&vec![(STEP_SLIDER, "3".into()), (NOISE_SLIDER, "0.5".into())]);
            let pictures = pollster::block_on(l.pictures(&detail, &data)).expect("an episode");
            assert_eq!(pictures[0], 3.0);
        }
        let summary = plan.board.summary("cpu").expect("a summary");
        assert!(summary.runs.iter().all(|r| r["metrics"]["test_mse"].as_f64().is_some()), "{:?}", summary.runs);
    }
}
