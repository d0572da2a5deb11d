//! The messages between the page and a training worker (docs/architecture.md, "The page: the main thread draws, workers
//! train"). Each is a plain JavaScript object with a `kind`; metrics travel as a JSON string (small,
//! and one parser on each side), bulk data as typed arrays whose buffers are transferred, never
//! copied by the browser.
//!
//! ```text
//! page -> worker   init     { demo, settings (JSON), learner, seed, backend: "cpu" | "webgpu" }
//!                  data     { set, part, offset, total, bytes }  a piece of one of the set's four
//!                           arrays; each worker gets each byte once
//!                  control  { command: "run" | "pause" | "step" | "pictures", steps?, detail? }
//! worker -> page   ready    {}                      the wasm module is up and listening
//!                  started  { compute }             the network is built (on its GPU device)
//!                  progress { step, finished, metrics (JSON), pictures? (Float32Array) }
//!                  failed   { message, gpuLost }
//! ```

use crate::data::DataSetId;
use js_sys::{Array, Float32Array, Object, Reflect, Uint8Array};
use wasm_bindgen::{JsCast, JsValue};

#[derive(Debug, thiserror::Error)]
pub enum ProtocolError {
    #[error("a message without the field '{0}'")]
    Missing(&'static str),
    #[error("a message with an unknown {0} '{1}'")]
    Unknown(&'static str, String),
    #[error("bad metrics from a worker: {0}")]
    Json(#[from] serde_json::Error),
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Compute {
    Cpu,
    WebGpu,
}

impl Compute {
    fn name(self) -> &'static str {
        match self {
            Compute::Cpu => "cpu",
            Compute::WebGpu => "webgpu",
        }
    }
}

pub struct Init {
    pub demo: String,
    pub settings: String,
    /// Which learner of the comparison this worker trains (an index into the demo's list).
    pub learner: usize,
    pub seed: u64,
    pub backend: Compute,
}

/// Which of a data set's arrays a piece belongs to.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Part {
    TrainImages,
    TrainLabels,
    TestImages,
    TestLabels,
}

impl Part {
    pub const ALL: [Part; 4] = [Part::TrainImages, Part::TrainLabels, Part::TestImages, Part::TestLabels];
}

/// A piece of one of a data set's arrays (the images in `data::compact`'s layout, the labels one
/// byte each): a whole set is sent in pieces, each copied out of the page's memory in a task of its own.
pub struct DataPiece {
    pub set: DataSetId,
    pub part: Part,
    pub offset: usize,
    /// The whole array's length.
    pub total: usize,
    pub bytes: Uint8Array,
}

#[derive(Debug, Clone, PartialEq)]
pub enum Control {
    Run,
    Pause,
    /// Train this many steps, then stop and report.
    Step(usize),
    /// Send the pictures now (e.g. another layer's histogram), with what the demo needs to know.
    Pictures(String),
    /// Classify this drawing (784 bytes, 0 to 255, as the data sets store images).
    Predict(Vec<u8>),
}

/// A whole data set in buffers the page shares with its workers (`store.rs`): the arrays in
/// [`Part::ALL`]'s order, views of `SharedArrayBuffer`s, so nothing is copied.
pub struct SharedData {
    pub set: DataSetId,
    pub parts: [Uint8Array; 4],
}

pub enum ToWorker {
    Init(Init),
    Data(DataPiece),
    Shared(SharedData),
    Control(Control),
    /// The bench view: time these networks (comma-separated names of
    /// [`crate::experiments::bench::NETWORKS`]) on the CPU, `reps` repetitions of `steps` steps.
    Bench { networks: String, steps: usize, reps: usize },
}

pub struct Progress {
    /// Completed training steps of this worker's network.
    pub step: usize,
    pub finished: bool,
    pub metrics: String,
    pub pictures: Option<Float32Array>,
}

pub enum FromWorker {
    Ready,
    Started { compute: String },
    Progress(Progress),
    /// Class probabilities for the last drawing asked about.
    Prediction { probs: Vec<f32> },
    Failed { message: String, gpu_lost: bool },
    /// One network's row of the benchmark's JSON.
    BenchRun { run: String },
    /// Every network asked for was timed.
    BenchDone,
}

fn object(fields: &[(&str, JsValue)]) -> JsValue {
    let obj = Object::new();
    for (name, value) in fields {
        // Setting a property on a fresh plain object cannot fail.
        let _ = Reflect::set(&obj, &JsValue::from_str(name), value);
    }
    obj.into()
}

fn field(value: &JsValue, name: &'static str) -> Result<JsValue, ProtocolError> {
    Reflect::get(value, &JsValue::from_str(name)).ok().filter(|v| !v.is_undefined()).ok_or(ProtocolError::Missing(name))
}

fn string(value: &JsValue, name: &'static str) -> Result<String, ProtocolError> {
    field(value, name)?.as_string().ok_or(ProtocolError::Missing(name))
}

fn number(value: &JsValue, name: &'static str) -> Result<f64, ProtocolError> {
    field(value, name)?.as_f64().ok_or(ProtocolError::Missing(name))
}

fn bytes(value: &JsValue, name: &'static str) -> Result<Uint8Array, ProtocolError> {
    field(value, name)?.dyn_into::<Uint8Array>().map_err(|_| ProtocolError::Missing(name))
}

/// A message and the buffers that move with it (transferred: the sender's copy is detached).
pub struct Encoded {
    pub message: JsValue,
    pub transfer: Array,
}

impl ToWorker {
    pub fn encode(&self) -> Encoded {
        let transfer = Array::new();
        let message = match self {
            ToWorker::Init(i) => object(&[
                ("kind", "init".into()),
                ("demo", i.demo.as_str().into()),
                ("settings", i.settings.as_str().into()),
                ("learner", (i.learner as f64).into()),
                ("seed", (i.seed as f64).into()),
                ("backend", i.backend.name().into()),
            ]),
            ToWorker::Data(d) => {
                transfer.push(&d.bytes.buffer());
                object(&[
                    ("kind", "data".into()),
                    ("set", d.set.dir().into()),
                    ("part", (Part::ALL.iter().position(|&p| p == d.part).unwrap_or(0) as f64).into()),
                    ("offset", (d.offset as f64).into()),
                    ("total", (d.total as f64).into()),
                    ("bytes", d.bytes.clone().into()),
                ])
            }
            ToWorker::Shared(d) => {
                let parts = Array::new();
                for p in &d.parts {
                    parts.push(p);
                }
                object(&[("kind", "shared".into()), ("set", d.set.dir().into()), ("parts", parts.into())])
            }
            ToWorker::Control(c) => {
                let (command, steps, detail) = match c {
                    Control::Run => ("run", 0, String::new()),
                    Control::Pause => ("pause", 0, String::new()),
                    Control::Step(n) => ("step", *n, String::new()),
                    Control::Pictures(d) => ("pictures", 0, d.clone()),
                    Control::Predict(image) => ("predict", 0, image.iter().map(u8::to_string).collect::<Vec<_>>().join(",")),
                };
                object(&[("kind", "control".into()), ("command", command.into()), ("steps", (steps as f64).into()), ("detail", detail.into())])
            }
            ToWorker::Bench { networks, steps, reps } => object(&[
                ("kind", "bench".into()),
                ("networks", networks.as_str().into()),
                ("steps", (*steps as f64).into()),
                ("reps", (*reps as f64).into()),
            ]),
        };
        Encoded { message, transfer }
    }

    pub fn decode(value: &JsValue) -> Result<Self, ProtocolError> {
        Ok(match string(value, "kind")?.as_str() {
            "init" => ToWorker::Init(Init {
                demo: string(value, "demo")?,
                settings: string(value, "settings")?,
                learner: number(value, "learner")? as usize,
                seed: number(value, "seed")? as u64,
                backend: match string(value, "backend")?.as_str() {
                    "cpu" => Compute::Cpu,
                    "webgpu" => Compute::WebGpu,
                    other => return Err(ProtocolError::Unknown("backend", other.into())),
                },
            }),
            "data" => {
                let set = string(value, "set")?;
                let part = number(value, "part")? as usize;
                ToWorker::Data(DataPiece {
                    set: DataSetId::parse(&set).ok_or(ProtocolError::Unknown("data set", set))?,
                    part: *Part::ALL.get(part).ok_or_else(|| ProtocolError::Unknown("data part", part.to_string()))?,
                    offset: number(value, "offset")? as usize,
                    total: number(value, "total")? as usize,
                    bytes: bytes(value, "bytes")?,
                })
            }
            "shared" => {
                let set = string(value, "set")?;
                let parts: Array = field(value, "parts")?.dyn_into().map_err(|_| ProtocolError::Missing("parts"))?;
                let part = |i: u32| parts.get(i).dyn_into::<Uint8Array>().map_err(|_| ProtocolError::Missing("parts"));
                ToWorker::Shared(SharedData {
                    set: DataSetId::parse(&set).ok_or(ProtocolError::Unknown("data set", set))?,
                    parts: [part(0)?, part(1)?, part(2)?, part(3)?],
                })
            }
            "control" => ToWorker::Control(match string(value, "command")?.as_str() {
                "run" => Control::Run,
                "pause" => Control::Pause,
                "step" => Control::Step(number(value, "steps")? as usize),
                "pictures" => Control::Pictures(string(value, "detail")?),
                "predict" => {
                    let detail = string(value, "detail")?;
                    let image: Vec<u8> = detail.split(',').map(str::parse).collect::<Result<_, _>>().map_err(|_| ProtocolError::Unknown("drawing", "not 784 bytes".into()))?;
                    if image.len() != crate::data::IMAGE_PIXELS {
                        return Err(ProtocolError::Unknown("drawing", format!("{} bytes, not 784", image.len())));
                    }
                    Control::Predict(image)
                }
                other => return Err(ProtocolError::Unknown("command", other.into())),
            }),
            "bench" => ToWorker::Bench {
                networks: string(value, "networks")?,
                steps: number(value, "steps")? as usize,
                reps: number(value, "reps")? as usize,
            },
            other => return Err(ProtocolError::Unknown("message kind", other.into())),
        })
    }
}

impl FromWorker {
    pub fn encode(&self) -> Encoded {
        let transfer = Array::new();
        let message = match self {
            FromWorker::Ready => object(&[("kind", "ready".into())]),
            FromWorker::Started { compute } => object(&[("kind", "started".into()), ("compute", compute.as_str().into())]),
            FromWorker::Progress(p) => {
                let pictures = match &p.pictures {
                    Some(a) => {
                        transfer.push(&a.buffer());
                        a.clone().into()
                    }
                    None => JsValue::NULL,
                };
                object(&[
                    ("kind", "progress".into()),
                    ("step", (p.step as f64).into()),
                    ("finished", p.finished.into()),
                    ("metrics", p.metrics.as_str().into()),
                    ("pictures", pictures),
                ])
            }
            FromWorker::Prediction { probs } => {
                let probs = serde_json::Value::from(probs.iter().map(|&p| f32_json(p)).collect::<Vec<_>>()).to_string();
                object(&[("kind", "prediction".into()), ("probs", probs.as_str().into())])
            }
            FromWorker::Failed { message, gpu_lost } => {
                object(&[("kind", "failed".into()), ("message", message.as_str().into()), ("gpuLost", (*gpu_lost).into())])
            }
            FromWorker::BenchRun { run } => object(&[("kind", "bench-run".into()), ("run", run.as_str().into())]),
            FromWorker::BenchDone => object(&[("kind", "bench-done".into())]),
        };
        Encoded { message, transfer }
    }

    pub fn decode(value: &JsValue) -> Result<Self, ProtocolError> {
        Ok(match string(value, "kind")?.as_str() {
            "ready" => FromWorker::Ready,
            "started" => FromWorker::Started { compute: string(value, "compute")? },
            "progress" => FromWorker::Progress(Progress {
                step: number(value, "step")? as usize,
                finished: field(value, "finished")?.as_bool().unwrap_or(false),
                metrics: string(value, "metrics")?,
                pictures: field(value, "pictures").ok().and_then(|v| v.dyn_into::<Float32Array>().ok()),
            }),
            "prediction" => {
                let probs: serde_json::Value = serde_json::from_str(&string(value, "probs")?).map_err(|_| ProtocolError::Missing("probs"))?;
                FromWorker::Prediction { probs: probs.as_array().map(|a| a.iter().map(json_f32).collect()).unwrap_or_default() }
            }
            "failed" => FromWorker::Failed {
                message: string(value, "message")?,
                gpu_lost: field(value, "gpuLost").ok().and_then(|v| v.as_bool()).unwrap_or(false),
            },
            "bench-run" => FromWorker::BenchRun { run: string(value, "run")? },
            "bench-done" => FromWorker::BenchDone,
            other => return Err(ProtocolError::Unknown("message kind", other.into())),
        })
    }
}

/// JSON has no NaN; `null` stands for "not measured yet" and reads back as NaN.
pub fn f32_json(x: f32) -> serde_json::Value {
    if x.is_finite() { serde_json::Value::from(f64::from(x)) } else { serde_json::Value::Null }
}

pub fn json_f32(v: &serde_json::Value) -> f32 {
    v.as_f64().map_or(f32::NAN, |x| x as f32)
}
