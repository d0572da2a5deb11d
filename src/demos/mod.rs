//! The page's demos, each in one module implementing [`Demo`]: its settings (declared in
//! [`crate::settings`]), what its workers train (a [`Learner`] per network of the comparison) and
//! what its page draws (a [`Board`]). [`REGISTRY`] lists them; the page and the training worker
//! (`src/web/`) dispatch through it and name no demo themselves.
//!
//! Nothing here knows about the browser: a board says what to draw as [`Paint`]s (a chart for a
//! canvas, a table's HTML, an element to show or hide), and the page applies them. So every
//! demo's worker side and drawing side run natively, in plain tests.
//!
//! A learner reports what is new since its last report (curve points, a finished row of a
//! matrix, the latest figures) as its own serde-derived update type, and its board merges the
//! update into the records it draws: the page's work per report does not grow with the run.

pub mod bnn;
pub mod class;
pub mod hebbian;
pub mod lenet;
pub mod messages;

use crate::backend::Backend;
use crate::charts::Figure;
use crate::data::DataSetId;
use crate::experiments::{DataAccess, TaskData};
use crate::experiments::bench::Network;
use crate::experiments::summary::Summary;
use crate::nn::TrainError;
use crate::settings::{self, Values};
use std::future::Future;
use std::pin::Pin;

/// A step of a learner: awaited in the browser (GPU readbacks), blocked on natively.
pub type Step<'a, T> = Pin<Box<dyn Future<Output = T> + 'a>>;

/// Every demo, in the page's order: the one list of them. A fourth demo is a module beside these
/// (with its settings declared in `crate::settings`), a line here, and a section in `index.html`
/// for its controls and charts (docs/architecture.md, "How to add a demo").
pub static REGISTRY: &[&dyn Demo] = &[&bnn::Bnn, &lenet::Lenet, &hebbian::Hebbian];

/// Every demo's settings declaration, in the registry's order (what a link is read with).
pub fn declarations() -> Vec<&'static settings::Demo> {
    REGISTRY.iter().map(|d| d.decl()).collect()
}

/// The demo called `name`.
pub fn find(name: &str) -> Option<(usize, &'static dyn Demo)> {
    REGISTRY.iter().copied().enumerate().find(|(_, d)| d.decl().name == name)
}

/// Why a demo cannot start, or a report cannot be read.
#[derive(Debug, thiserror::Error)]
pub enum DemoError {
    /// The experiment refuses the combination of settings (with its reason).
    #[error("{0}")]
    Settings(#[from] TrainError),
    /// Settings that did not come from the page (a worker got text it cannot read).
    #[error("{0}")]
    Values(String),
    #[error("there is no learner {0} in this run")]
    NoLearner(usize),
    #[error("a report from a worker could not be read: {0}")]
    Report(#[from] serde_json::Error),
}

/// The values of the page's view controls (a layer to show, a slider's step), by element id.
pub type Controls = Vec<(&'static str, String)>;

/// The value of control `id`, parsed; `None` when it is missing or not a `T`.
pub fn control<T: std::str::FromStr>(controls: &Controls, id: &str) -> Option<T> {
    controls.iter().find(|(k, _)| *k == id).and_then(|(_, v)| v.trim().parse().ok())
}

/// What a demo asks the page to do with its elements.
#[derive(Debug, Clone, PartialEq)]
pub enum Paint {
    /// Draw `figure` on canvas `canvas`; `series` are the numbers behind it, kept on the canvas for
    /// reading aloud and for the browser tests.
    Chart { canvas: String, figure: Figure, series: Option<Vec<(String, Vec<f32>)>> },
    /// Replace element `id`'s content (a table's rows).
    Html { id: String, html: String },
    /// Show or hide element `id`.
    Hidden { id: String, hidden: bool },
    /// Set attribute `name` of element `id` (a slider's range).
    Attr { id: String, name: String, value: String },
    /// Show or hide every element of the demo's section whose `data-for` names a choice, keeping
    /// those that name `shown`.
    ShowFor { shown: String },
}

impl Paint {
    pub fn chart(canvas: &str, figure: Figure) -> Self {
        Paint::Chart { canvas: canvas.into(), figure, series: None }
    }
    pub fn hidden(id: &str, hidden: bool) -> Self {
        Paint::Hidden { id: id.into(), hidden }
    }
}

/// What a demo hands the page to start a run.
pub struct Plan {
    /// One worker per learner; the names are for messages and tables.
    pub learners: Vec<String>,
    /// The data sets the workers read, in the order of the run's tasks (none for a demo that
    /// makes its own examples); the first is the one the drawing pad's classes name.
    pub data: Vec<DataSetId>,
    /// Whether its networks classify images (the drawing pad asks them).
    pub classifies: bool,
    /// What one training step of each network learns from: `(count, unit)`, e.g. `(100, "images")`.
    pub per_step: (usize, &'static str),
    pub board: Box<dyn Board>,
}

/// One demo.
pub trait Demo: Sync {
    /// Its settings as declared: the form, the URL and the tool read them.
    fn decl(&self) -> &'static settings::Demo;
    /// The page elements a person moves to see other pictures (a layer, a slider): each change
    /// asks the workers for new pictures.
    fn controls(&self) -> &'static [&'static str] {
        &[]
    }
    /// What follows the settings at once, without a run (which figures show, the toy picture):
    /// after every accepted change of the form, and when the page opens.
    fn on_settings(&self, _values: &Values) -> Vec<Paint> {
        Vec::new()
    }
    /// What follows a view control at once (a slider's label).
    fn on_control(&self, _controls: &Controls) -> Vec<Paint> {
        Vec::new()
    }
    /// A run of these (allowed) values; refuses a combination the experiment cannot train.
    fn plan(&self, values: &Values) -> Result<Plan, DemoError>;
    /// Learner `learner` of the run the values describe, alone (in its worker): the same seed
    /// as its partners, hence the same initial weights and batches.
    fn learner(&self, values: &Values, learner: usize, backend: Backend) -> Result<Box<dyn Learner>, DemoError>;
    /// The network one of its workers trains, as "auto" times it on the CPU and on the GPU.
    fn network(&self, values: &Values) -> Result<Network, DemoError>;
}

/// One network of a comparison, in its worker.
pub trait Learner {
    /// The data sets it reads, in the order of its tasks (empty for one that makes its own
    /// examples); its pictures and the drawing pad read the first.
    fn data_sets(&self) -> Vec<DataSetId>;
    /// One training step (or a step's share of an evaluation); `Ok(true)` once finished. The
    /// worker calls it once every data set of [`Self::data_sets`] is at hand.
    fn advance<'a>(&'a mut self, data: &'a dyn TaskData) -> Step<'a, Result<bool, TrainError>>;
    /// Completed training steps.
    fn step(&self) -> usize;
    /// What is new since the last report, as JSON its board reads.
    fn report(&mut self) -> Result<String, serde_json::Error>;
    /// Class probabilities for a drawing (784 bytes); `None` for a network that does not classify.
    fn predict<'a>(&'a mut self, _drawing: &'a [u8], _data: &'a dyn DataAccess) -> Step<'a, Option<Vec<f32>>> {
        Box::pin(async { None })
    }
    /// Its pictures (weights, factors, an episode) as its board reads them, for `detail`.
    fn pictures<'a>(&'a mut self, detail: &'a str, data: &'a dyn DataAccess) -> Step<'a, Option<Vec<f32>>>;
}

/// Where each learner of a run stands, for the status line.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct Standing {
    /// Completed steps per learner (`None`: not reported yet).
    pub steps: Vec<Option<usize>>,
    pub finished: Vec<bool>,
}

impl Standing {
    pub fn all_finished(&self) -> bool {
        !self.finished.is_empty() && self.finished.iter().all(|&f| f)
    }
    pub fn slowest(&self) -> Option<usize> {
        self.steps.iter().flatten().copied().min()
    }
}

/// A run's drawing side, on the page: it keeps what the learners reported and says what to draw.
pub trait Board {
    /// Merges learner `learner`'s report; `true` when the charts changed (not only where the run
    /// stands).
    fn apply(&mut self, learner: usize, report: &str) -> Result<bool, DemoError>;
    /// Part `part` (from 0) of the charts; `true` while more parts follow. One part is drawn per
    /// animation frame, so no frame grows long.
    fn draw_charts(&mut self, part: usize, out: &mut Vec<Paint>) -> bool;
    /// Part `part` of the pictures the learners sent last (`None`: none yet); `data` is the page's
    /// copy of the run's data set. `true` while more parts follow.
    fn draw_pictures(&mut self, pictures: &[Option<Vec<f32>>], part: usize, controls: &Controls, data: Option<&dyn DataAccess>, out: &mut Vec<Paint>) -> bool;
    /// The status line; `rate` is the measured speed, already worded.
    fn status(&self, standing: &Standing, rate: &str, compute: &str) -> String;
    /// What the learners should put in their pictures, from the view controls.
    fn picture_detail(&self, _controls: &Controls) -> String {
        String::new()
    }
    /// The run so far as the command-line tool's `summary.json` (`backend` names where it ran);
    /// `None` before any learner has reported.
    fn summary(&self, backend: &str) -> Option<Summary>;
}

/// A learner's typed report as JSON, for [`Learner::report`].
pub fn encode<T: serde::Serialize>(update: &T) -> Result<String, serde_json::Error> {
    serde_json::to_string(update)
}

/// A typed report from its JSON, for [`Board::apply`].
pub fn decode<T: serde::de::DeserializeOwned>(report: &str) -> Result<T, DemoError> {
    Ok(serde_json::from_str(report)?)
}

/// Reads a demo's settings as a worker receives them (`Values::to_plain_query`).
pub fn values_from(demo: &'static settings::Demo, text: &str) -> Result<Values, DemoError> {
    Values::from_plain_query(demo, text).map_err(|e| DemoError::Values(e.to_string()))
}

/// The name and element id prefix every demo's HTML uses (`<prefix>-run`, `-status`, ...).
pub fn prefix(demo: &dyn Demo) -> &'static str {
    demo.decl().prefix
}

/// Synthetic examples for the demos' native tests: each class lights its own band of rows, so a
/// network can learn them.
#[cfg(test)]
pub(crate) mod tests_support {
    use crate::data::{Examples, IMAGE_PIXELS, IMAGE_SIDE};
    use crate::experiments::DataAccess;
    use std::borrow::Cow;

    pub struct Synthetic {
        train: Images,
        test: Images,
    }

    struct Images(usize);

    impl Examples for Images {
        fn len(&self) -> usize {
            self.0
        }
        fn image(&self, i: usize) -> Cow<'_, [u8]> {
            let label = i % 10;
            let mut image = vec![0u8; IMAGE_PIXELS];
            for (p, v) in image.iter_mut().enumerate() {
                let row = p / IMAGE_SIDE;
                let noise = ((p * 31 + i * 17) % 97) as u8;
                *v = if row / 2 == label + 2 { 200 + noise / 2 } else { noise };
            }
            Cow::Owned(image)
        }
        fn label(&self, i: usize) -> u8 {
            (i % 10) as u8
        }
    }

    impl DataAccess for Synthetic {
        fn with_train(&self, f: &mut dyn FnMut(&dyn Examples)) {
            f(&self.train)
        }
        fn with_test(&self, f: &mut dyn FnMut(&dyn Examples)) {
            f(&self.test)
        }
    }

    pub fn synthetic(train: usize, test: usize) -> Synthetic {
        Synthetic { train: Images(train), test: Images(test) }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn demos_are_found_by_their_declared_names() {
        let names: Vec<&str> = declarations().iter().map(|d| d.name).collect();
        assert_eq!(names, ["bnn", "lenet", "hebbian"]);
        assert_eq!(find("lenet").map(|(i, _)| i), Some(1));
        assert!(find("nope").is_none());
        let prefixes: Vec<&str> = REGISTRY.iter().map(|d| prefix(*d)).collect();
        assert_eq!(prefixes, ["bnn", "lenet", "hebb"]);
    }
}
