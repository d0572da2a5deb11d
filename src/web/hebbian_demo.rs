//! Demo 3: Hebbian plastic networks against their non-plastic twins, on pattern completion and on
//! denoising test images, on WebGPU or the CPU.

use crate::nn::HebbRule;
use super::bnn_demo::SlotData;
use super::demo::{self, Demo, DemoRun, canvas, number, select_value};
use super::{App, canvas_chart, dom};
use crate::backend::{Denoise, Hebbian};
use crate::charts::hebbian as figures;
use crate::cpu::plastic::episode_forward;
use crate::data::DataSetId;
use crate::experiments::DataAccess;
use crate::experiments::completion::{CompletionRun, CompletionSetup, completion_batch};
use crate::experiments::denoise::{DenoiseRun, DenoiseSetup, denoise_batch};
use crate::nn::TrainError;
use rand::{SeedableRng, rngs::StdRng};
use std::rc::Rc;
use wasm_bindgen::JsCast;

/// Completion steps are cheap (about a millisecond); a denoising step is a batch of 8 episodes
/// through a convolutional autoencoder.
const COMPLETION_SLICE: usize = 20;
const DENOISE_SLICE: usize = 1;
const REFRESH_MS: f64 = 1500.0;
/// Test images shown in the reconstruction grid.
const SHOWN: usize = 6;

enum Task {
    /// `[plastic, non-plastic]`.
    Completion([CompletionRun<Hebbian>; 2]),
    Denoise { runs: [DenoiseRun<Denoise>; 2], dataset: DataSetId },
}

pub struct HebbianRun {
    task: Task,
    total: usize,
    step: usize,
    started_ms: f64,
}

pub type HebbianDemo = Demo<HebbianRun>;

pub fn new_demo() -> HebbianDemo {
    Demo::new("hebb", REFRESH_MS, new_run)
}

pub fn wire(app: &Rc<App>) -> Result<(), dom::WebError> {
    demo::wire(app, |a| &a.hebbian, show_task_fields)?;
    for id in ["hebb-t", "hebb-noise"] {
        let a = app.clone();
        dom::on_event(&dom::by_id::<web_sys::Element>(id)?, "input", move || {
            dom::set_text("hebb-noise-value", &demo::number::<f32>("hebb-noise", "Noise").map(|v| format!("{v:.2}")).unwrap_or_default());
            demo::with_idle_run(&a, |a| &a.hebbian);
        });
    }
    Ok(())
}

fn show_task_fields() {
    let task = select_value("hebb-task");
    if let Ok(list) = dom::document().and_then(|d| Ok(d.query_selector_all("#demo-hebbian [data-for]")?)) {
        for i in 0..list.length() {
            if let Some(el) = list.item(i).and_then(|n| n.dyn_into::<web_sys::HtmlElement>().ok()) {
                el.set_hidden(el.get_attribute("data-for").as_deref() != Some(task.as_str()));
            }
        }
    }
}

fn new_run(app: &App) -> Result<(HebbianRun, String), String> {
    let steps: usize = number("hebb-steps", "Training steps")?;
    let seed: u64 = number("hebb-seed", "Seed")?;
    let rule = HebbRule::parse(&select_value("hebb-rule")).ok_or("choose a trace rule")?;
    let err = |e: TrainError| e.to_string();
    let (backend, compute) = demo::backend(app, "hebb-backend")?;
    let task = if select_value("hebb-task") == "denoise" {
        let dataset = DataSetId::parse(&select_value("hebb-dataset")).ok_or("choose a data set")?;
        let test_episodes: usize = number("hebb-test", "Test episodes")?;
        let make = |plastic: bool| {
            let mut setup = DenoiseSetup::mnist(plastic);
            setup.train_steps = steps;
            setup.seed = seed;
            setup.test_episodes = test_episodes;
            setup.log_every = (steps / 60).max(1);
            setup.net.rule = rule;
            DenoiseRun::new(setup, |c, p| backend.denoise(c, p)).map_err(err)
        };
        Task::Denoise { runs: [make(true)?, make(false)?], dataset }
    } else {
        let make = |plastic: bool| {
            let mut setup = CompletionSetup::small(plastic);
            setup.train_steps = steps;
            setup.seed = seed;
            setup.log_every = (steps / 60).max(1);
            setup.net.rule = rule;
            CompletionRun::new(setup, |c, p| backend.hebbian(c, p)).map_err(err)
        };
        Task::Completion([make(true)?, make(false)?])
    };
    Ok((HebbianRun { task, total: steps, step: 0, started_ms: dom::now() }, compute))
}

impl DemoRun for HebbianRun {
    async fn advance(&mut self, app: &Rc<App>) -> Result<bool, TrainError> {
        let done = match &mut self.task {
            Task::Completion(runs) => {
                let mut done = true;
                for run in runs.iter_mut() {
                    done &= run.advance(COMPLETION_SLICE).await?;
                }
                self.step = (self.step + COMPLETION_SLICE).min(self.total);
                done
            }
            Task::Denoise { runs, dataset } => {
                let data = SlotData(app.slot(*dataset).clone());
                let mut done = true;
                for run in runs.iter_mut() {
                    done &= run.advance(&data, DENOISE_SLICE).await?;
                }
                self.step = runs[0].step();
                done
            }
        };
        Ok(done)
    }

    fn draw(&self, _slice_ms: f64, compute: &str) -> String {
        let (curves, results): (Vec<(bool, Vec<(f32, f32)>)>, Vec<(bool, f32, Option<f32>)>) = match &self.task {
            Task::Completion(runs) => (
                runs.iter().map(|r| (r.record().plastic, r.record().curve.iter().map(|p| (p.step as f32, p.train_mse)).collect())).collect(),
                runs.iter().map(|r| (r.record().plastic, r.record().test_mse, None)).collect(),
            ),
            Task::Denoise { runs, .. } => (
                runs.iter().map(|r| (r.record().plastic, r.record().curve.iter().map(|p| (p.step as f32, p.train_mse)).collect())).collect(),
                runs.iter().map(|r| (r.record().plastic, r.record().test_mse, Some(r.record().noisy_mse))).collect(),
            ),
        };
        if let Some(c) = canvas("hebb-loss") {
            let _ = canvas_chart::draw(&c, &figures::loss_curves(&curves, self.total, 560.0, 320.0));
        }
        write_results(&results);
        if results.iter().all(|(_, mse, _)| mse.is_finite()) {
            let parts: Vec<String> = results.iter().map(|(p, mse, _)| format!("{} {mse:.4}", figures::variant_name(*p))).collect();
            return format!("Finished. Test MSE: {}.", parts.join(", "));
        }
        let rate = self.step as f64 / ((dom::now() - self.started_ms) / 1000.0).max(1e-3);
        // A software adapter takes seconds per denoising step: say so rather than "0.0 steps/s".
        let speed = if rate >= 1.0 || rate <= 0.0 { format!("{rate:.1} steps/s") } else { format!("{:.1} s/step", 1.0 / rate) };
        format!("Step {} of {} · {speed} {compute}", self.step, self.total)
    }

    async fn refresh(&mut self, app: &Rc<App>) {
        match &mut self.task {
            Task::Completion(runs) => draw_episode(runs).await,
            Task::Denoise { runs, dataset } => draw_reconstructions(runs, &SlotData(app.slot(*dataset).clone())).await,
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
    table.set_inner_html(&html);
}

/// One fixed test episode through both networks, shown up to the step the slider picks, with the
/// plastic network's trace at that step.
async fn draw_episode(runs: &mut [CompletionRun<Hebbian>; 2]) {
    let cfg = runs[0].setup().net.clone();
    let cfg = &cfg;
    let steps = cfg.episode_steps();
    if let Ok(slider) = dom::by_id::<web_sys::HtmlInputElement>("hebb-t") {
        slider.set_max(&(steps - 1).to_string());
    }
    let t = number::<usize>("hebb-t", "Step").unwrap_or(steps - 1).min(steps - 1);
    let mut rng = StdRng::seed_from_u64(runs[0].setup().seed ^ 0x0e91_50de);
    let episode = completion_batch(cfg, 1, &mut rng);
    let n = cfg.bits;
    let inputs: Vec<Vec<f32>> = episode.xs.chunks_exact(n).map(<[f32]>::to_vec).collect();
    let mut outputs = Vec::new();
    let mut trace = Vec::new();
    for run in runs.iter_mut() {
        // Read back from the GPU when training there; the episode is replayed on the CPU.
        let Ok(params) = run.params().await else { return };
        let net = &run.setup().net;
        let tape = episode_forward(net.dims(1), params.weights(), net.rule, net.activation, &episode.xs, steps);
        outputs.push((net.plastic, tape.y_at(t).to_vec()));
        if net.plastic {
            trace = tape.hebb[t * n * n..(t + 1) * n * n].to_vec();
        }
    }
    if let Some(c) = canvas("hebb-episode") {
        let _ = canvas_chart::draw(&c, &figures::episode(&inputs, cfg.input_gain, t, &outputs, &episode.targets, 560.0, 220.0));
    }
    if let Some(c) = canvas("hebb-trace") {
        let _ = canvas_chart::draw(&c, &figures::trace(&trace, n, t, 560.0, 330.0));
    }
}

/// Test episodes at the slider's noise level through both trained networks (on the backend they
/// train on).
async fn draw_reconstructions(runs: &mut [DenoiseRun<Denoise>; 2], data: &dyn DataAccess) {
    let noise = number::<f32>("hebb-noise", "Noise").unwrap_or(0.5).clamp(0.0, 3.0);
    let mut cfg = runs[0].setup().net.clone();
    cfg.noise_std = noise;
    // Batch norm takes the statistics of the episodes run together: a batch as in training.
    let batch = cfg.batch.max(SHOWN);
    let mut episode = None;
    data.with_test(&mut |test| {
        let need = batch * cfg.images;
        if test.len() < need {
            return;
        }
        let mut rng = StdRng::seed_from_u64(runs[0].setup().seed ^ 0xde_0153);
        let indices: Vec<usize> = (0..need).collect();
        episode = Some(denoise_batch(&cfg, test, &indices, &mut rng));
    });
    let Some(episode) = episode else { return };
    let pixels = cfg.pixels();
    let take = |v: &[f32]| v.chunks_exact(pixels).take(SHOWN).map(<[f32]>::to_vec).collect::<Vec<_>>();
    let mut recon = Vec::new();
    for run in runs.iter_mut() {
        let Ok(images) = run.reconstruct(&episode.xs).await else { return };
        recon.push(take(&images));
    }
    if let Some(c) = canvas("hebb-recon") {
        let fig = figures::reconstructions(&take(&episode.targets), &take(episode.noisy()), &recon[1], &recon[0], cfg.side, 760.0, 380.0);
        let _ = canvas_chart::draw(&c, &fig);
    }
}
