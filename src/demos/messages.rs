//! The messages between the page and a training worker, as serde-derived types: the page's
//! `src/web/protocol.rs` sends each as JSON beside its bulk data (typed arrays, moved, not copied),
//! one encoder and one decoder for every message.
//!
//! ```text
//! page -> worker   Init      the demo, its settings, which learner, the backend
//!                  Data      a piece of one of a data set's four arrays (its bytes attached)
//!                  Shared    a whole data set in buffers the page shares (four arrays attached)
//!                  Control   run, pause, step n, pictures (with a detail), predict a drawing
//!                  Bench     time these networks (the bench view)
//!                  Probe     time a demo's network on one backend ("auto" chooses by it)
//! worker -> page   Ready     the wasm module is up and listening
//!                  Started   the network is built (on its own GPU device when asked)
//!                  Progress  steps done, finished, the learner's report of what is new, and its
//!                            pictures when due (a Float32Array attached)
//!                  Prediction, Failed, BenchRun, BenchDone, Probed
//! ```

use crate::data::DataSetId;
use serde::{Deserialize, Serialize};

/// Where a worker trains.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Compute {
    Cpu,
    WebGpu,
}

/// Which of a data set's arrays a piece belongs to.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum Part {
    TrainImages,
    TrainLabels,
    TestImages,
    TestLabels,
}

impl Part {
    pub const ALL: [Part; 4] = [Part::TrainImages, Part::TrainLabels, Part::TestImages, Part::TestLabels];

    pub fn index(self) -> usize {
        self as usize
    }
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Init {
    /// The demo's name in the registry.
    pub demo: String,
    /// Its settings as `Values::to_plain_query` writes them.
    pub settings: String,
    /// Which learner of the comparison this worker trains.
    pub learner: usize,
    pub backend: Compute,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(tag = "command", rename_all = "kebab-case")]
pub enum Control {
    Run,
    Pause,
    /// Train this many steps, then stop and report.
    Step { steps: usize },
    /// Send the pictures now (another layer, a slider moved), with what the board needs.
    Pictures { detail: String },
    /// Classify this drawing (784 bytes, 0 to 255, as the data sets store images).
    Predict { image: Vec<u8> },
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(tag = "kind", rename_all = "kebab-case")]
pub enum ToWorker {
    Init(Init),
    /// `total` bytes of array `part` arrive in pieces; this one starts at `offset`.
    Data { set: DataSetId, part: Part, offset: usize, total: usize },
    /// The set's four arrays, in [`Part::ALL`]'s order, shared with the page.
    Shared { set: DataSetId },
    Control(Control),
    /// The bench view: time these networks (names of `experiments::bench::NETWORKS`) on
    /// `backend`, `reps` repetitions of `steps` steps.
    /// With `profile`, each kernel of one GPU step is timed alone too.
    Bench {
        networks: Vec<String>,
        steps: usize,
        reps: usize,
        backend: Compute,
        #[serde(default)]
        profile: bool,
    },
    /// "auto": time the network a demo's worker would train with these settings on `backend`,
    /// for about `millis` after a warm-up step.
    Probe { demo: String, settings: String, backend: Compute, millis: f64 },
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Progress {
    /// Completed training steps of this worker's network.
    pub step: usize,
    pub finished: bool,
    /// The learner's report (JSON of its demo's update type): what is new since the last one.
    pub report: String,
    /// Pictures are attached (a Float32Array).
    pub pictures: bool,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(tag = "kind", rename_all = "kebab-case")]
pub enum FromWorker {
    Ready,
    Started { compute: String },
    Progress(Progress),
    /// Class probabilities for the last drawing asked about.
    Prediction { probs: Vec<f32> },
    Failed { message: String, gpu_lost: bool },
    /// One network's row of the benchmark (its JSON object).
    BenchRun { run: serde_json::Value },
    /// Every network asked for was timed.
    BenchDone,
    /// What a probe measured.
    Probed { examples_per_s: f64 },
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn messages_read_back_as_written() {
        let to = [
            ToWorker::Init(Init { demo: "bnn".into(), settings: "hidden=32".into(), learner: 1, backend: Compute::WebGpu }),
            ToWorker::Data { set: DataSetId::Fashion, part: Part::TestLabels, offset: 4, total: 10 },
            ToWorker::Shared { set: DataSetId::Mnist },
            ToWorker::Control(Control::Step { steps: 10 }),
            ToWorker::Control(Control::Predict { image: vec![0, 255] }),
            ToWorker::Bench { networks: vec!["lenet-classic-standard".into()], steps: 2, reps: 3, backend: Compute::Cpu, profile: true },
        ];
        for m in to {
            let text = serde_json::to_string(&m).expect("serialises");
            assert_eq!(serde_json::from_str::<ToWorker>(&text).expect("reads back"), m, "{text}");
        }
        let from = [
            FromWorker::Ready,
            FromWorker::Progress(Progress { step: 3, finished: false, report: "{\"x\":[1,null]}".into(), pictures: true }),
            FromWorker::Failed { message: "lost".into(), gpu_lost: true },
            FromWorker::BenchRun { run: serde_json::json!({"network": "bnn-512"}) },
        ];
        for m in from {
            let text = serde_json::to_string(&m).expect("serialises");
            assert_eq!(serde_json::from_str::<FromWorker>(&text).expect("reads back"), m, "{text}");
        }
        assert_eq!(serde_json::to_string(&Control::Run).expect("serialises"), "{\"command\":\"run\"}");
    }

    #[test]
    fn a_message_of_another_kind_is_refused() {
        assert!(serde_json::from_str::<ToWorker>("{\"kind\":\"format-disk\"}").is_err());
        assert!(serde_json::from_str::<ToWorker>("{\"kind\":\"data\",\"set\":\"cifar\",\"part\":\"test-labels\",\"offset\":0,\"total\":1}").is_err());
    }
}
