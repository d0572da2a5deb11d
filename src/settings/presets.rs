//! A guided path through the ideas: each step is a link that sets a demo up and starts it, with a
//! sentence on what to look at and the step's equation in MathML. The links are plain query
//! strings, so a step can be shared, bookmarked or opened in a new tab like any other run.

/// One step of the path.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Preset {
    pub id: &'static str,
    pub title: &'static str,
    /// The query string of the link (only what differs from the defaults, and `run=`).
    pub query: &'static str,
    /// The element the link scrolls to.
    pub anchor: &'static str,
    pub look_at: &'static str,
    /// The step's equation, a MathML `<math>` element.
    pub math: &'static str,
}

impl Preset {
    pub fn href(&self) -> String {
        format!("{}#{}", self.query, self.anchor)
    }
}

/// The metaplastic factor of Laborieux et al.: an update that would shrink |W_h| is scaled by it.
const F_META: &str = r#"<math display="block"><msub><mi>f</mi><mi>meta</mi></msub><mo>=</mo><mn>1</mn><mo>&#x2212;</mo><msup><mi>tanh</mi><mn>2</mn></msup><mo>&#x2061;</mo><mrow><mo>(</mo><mi>m</mi><mo>&#xb7;</mo><mrow><mo>|</mo><msub><mi>W</mi><mi>h</mi></msub><mo>|</mo></mrow><mo>)</mo></mrow></math>"#;

/// The toy problem's loss and the binary weights' gradient step.
const TOY: &str = r#"<math display="block"><mi>L</mi><mo>=</mo><mfrac><mn>1</mn><mn>2</mn></mfrac><msup><mrow><mo>|</mo><mi>sign</mi><mo>&#x2061;</mo><mo>(</mo><msub><mi>W</mi><mi>h</mi></msub><mo>)</mo><mo>&#x2212;</mo><msup><mi>W</mi><mo>*</mo></msup><mo>|</mo></mrow><mn>2</mn></msup><mo>,</mo><mspace width="1em"/><msup><mi>W</mi><mo>*</mo></msup><mo>=</mo><mo>(</mo><mn>1.5</mn><mo>,</mo><mn>0.5</mn><mo>)</mo></math>"#;

/// The metaplastic Adam step.
const STEP: &str = r#"<math display="block"><msub><mi>W</mi><mi>h</mi></msub><mo>&#x2190;</mo><msub><mi>W</mi><mi>h</mi></msub><mo>&#x2212;</mo><mi>&#x3b7;</mi><mo>&#xb7;</mo><msub><mi>f</mi><mi>meta</mi></msub><mo>&#xb7;</mo><mfrac><msub><mover><mi>m</mi><mo>^</mo></mover><mn>1</mn></msub><mrow><msqrt><msub><mover><mi>m</mi><mo>^</mo></mover><mn>2</mn></msub></msqrt><mo>+</mo><mi>&#x3b5;</mi></mrow></mfrac><mspace width="1em"/><mtext>(</mtext><msub><mi>f</mi><mi>meta</mi></msub><mtext> only where the step shrinks |</mtext><msub><mi>W</mi><mi>h</mi></msub><mtext>|)</mtext></math>"#;

/// The stream's measure: how far each learner ends below the network trained on everything.
const STREAM: &str = r#"<math display="block"><mtext>gap</mtext><mo>=</mo><msub><mtext>acc</mtext><mtext>full data</mtext></msub><mo>&#x2212;</mo><msub><mtext>acc</mtext><mtext>stream</mtext></msub></math>"#;

/// Andina's weighting in the convolutional layers, and the paired interval over seeds.
const AMP: &str = r#"<math display="block"><mi>w</mi><mo>&#x2190;</mo><mi>w</mi><mo>&#x2212;</mo><mi>&#x3b7;</mi><mo>&#xb7;</mo><mfrac><mn>1</mn><mrow><msup><mi>f</mi><mo>*</mo></msup><mo>(</mo><mi>x</mi><mo>)</mo></mrow></mfrac><mo>&#xb7;</mo><mfrac><mrow><mo>&#x2202;</mo><mi>E</mi></mrow><mrow><mo>&#x2202;</mo><mi>w</mi></mrow></mfrac><mo>,</mo><mspace width="1em"/><mfrac><mn>1</mn><mrow><msup><mi>f</mi><mo>*</mo></msup><mo>(</mo><mi>x</mi><mo>)</mo></mrow></mfrac><mo>&#x221d;</mo><msup><mi>e</mi><mrow><mi>B</mi><mo>&#x2211;</mo><msubsup><mi>x</mi><mi>i</mi><mn>2</mn></msubsup></mrow></msup><mo>,</mo><mspace width="1em"/><mover><mi>d</mi><mo>&#xaf;</mo></mover><mo>&#xb1;</mo><msub><mi>t</mi><mrow><mn>0.975</mn><mo>,</mo><mi>n</mi><mo>&#x2212;</mo><mn>1</mn></mrow></msub><mfrac><msub><mi>s</mi><mi>d</mi></msub><msqrt><mi>n</mi></msqrt></mfrac></math>"#;

/// The plastic layer and Miconi's trace.
const HEBB: &str = r#"<math display="block"><mi>y</mi><mo>=</mo><mi>tanh</mi><mo>&#x2061;</mo><mrow><mo>(</mo><mo>(</mo><mi>W</mi><mo>+</mo><mi>&#x3b1;</mi><mo>&#x2299;</mo><mi>Hebb</mi><mo>)</mo><mi>x</mi><mo>)</mo></mrow><mo>,</mo><mspace width="1em"/><mi>Hebb</mi><mo>&#x2190;</mo><mo>(</mo><mn>1</mn><mo>&#x2212;</mo><mi>&#x3b7;</mi><mo>)</mo><mi>Hebb</mi><mo>+</mo><mi>&#x3b7;</mi><mspace width="0.2em"/><mi>y</mi><msup><mi>x</mi><mi>T</mi></msup></math>"#;

/// The denoising episode's target.
const DENOISE: &str = r#"<math display="block"><mover><mi>x</mi><mo>^</mo></mover><mo>=</mo><mi>decode</mi><mo>&#x2061;</mo><mo>(</mo><mi>plastic</mi><mo>(</mo><mi>encode</mi><mo>(</mo><mi>x</mi><mo>+</mo><mi>&#x3b5;</mi><mo>)</mo><mo>)</mo><mo>)</mo><mo>,</mo><mspace width="1em"/><mi>&#x3b5;</mi><mo>&#x223c;</mo><mi mathvariant="script">N</mi><mo>(</mo><mn>0</mn><mo>,</mo><msup><mi>&#x3c3;</mi><mn>2</mn></msup><mo>)</mo><mo>,</mo><mspace width="1em"/><mtext>loss</mtext><mo>=</mo><msup><mrow><mo>&#x2016;</mo><mover><mi>x</mi><mo>^</mo></mover><mo>&#x2212;</mo><mi>x</mi><mo>&#x2016;</mo></mrow><mn>2</mn></msup></math>"#;

/// The path, in order.
pub const PRESETS: [Preset; 8] = [
    Preset {
        id: "toy",
        title: "Two weights, no data (instant)",
        query: "?bnn.toy-meta=6",
        anchor: "bnn-toy",
        look_at: "The loss cares three times more about the first weight: its hidden value grows steadily while the second keeps crossing zero. A large |Wh| marks an important weight, and that is what the metaplastic rule reads.",
        math: TOY,
    },
    Preset {
        id: "forgetting",
        title: "Forgetting on permuted MNIST, in two minutes",
        query: "?bnn.experiment=permuted&bnn.hidden=128&bnn.meta=6&bnn.tasks=3&bnn.steps=600&run=bnn",
        anchor: "demo-bnn",
        look_at: "When task 2 starts (grey line), watch task 1: the standard network's accuracy on it falls; the metaplastic one keeps more of it, at some cost on the new task.",
        math: STEP,
    },
    Preset {
        id: "why-m",
        title: "Why m matters: m = 0, 1.35 and 6 side by side",
        query: "?bnn.experiment=permuted&bnn.hidden=128&bnn.meta=1.35,6&bnn.tasks=3&bnn.steps=600&run=bnn",
        anchor: "demo-bnn",
        look_at: "Three networks from the same start on the same batches. In so short a run the hidden weights stay small, so the paper's m = 1.35 damps little and keeps only a little more of task 1 than m = 0; m = 6 keeps far more. Compare the histograms: only large m lets |Wh| pile up.",
        math: F_META,
    },
    Preset {
        id: "stream",
        title: "Stream learning on Fashion-MNIST",
        query: "?bnn.experiment=stream&bnn.hidden=128&bnn.subsets=20&bnn.epochs=5&run=bnn",
        anchor: "demo-bnn",
        look_at: "The data arrives in subsets, each learned for a few epochs. The grey dashed line trained on everything at once; the metaplastic network should end a little closer to it, within the noise between seeds at so small a budget. At the paper's size (1,024 units, 60 subsets of 20 epochs) it reached the dashed line and the standard network stayed clearly below.",
        math: STREAM,
    },
    Preset {
        id: "lenet-seeds",
        title: "Does the convolutional rule really help? LeNet-5 over 5 seeds",
        query: "?lenet.dataset=mnist&lenet.arch=classic&lenet.b=1&lenet.epochs=1&lenet.steps=200&lenet.seeds=5&run=lenet",
        anchor: "demo-lenet",
        look_at: "One run per rule, as in the paper, cannot tell a tenth of a point from luck. Read the table over seeds: when the paired difference's 95% interval includes 0, this run shows no difference.",
        math: AMP,
    },
    Preset {
        id: "completion",
        title: "Pattern completion: the trace filling up",
        query: "?hebbian.task=completion&hebbian.steps=600&run=hebbian",
        anchor: "demo-hebbian",
        look_at: "The non-plastic network's error stays near 0.5; the plastic one's falls. Then move the Step slider: the trace fills with the outer products of the patterns shown, and at the last steps the plastic network reads the erased half back from it.",
        math: HEBB,
    },
    Preset {
        id: "denoise",
        title: "Denoising images with a plastic bottleneck",
        query: "?hebbian.task=denoise&hebbian.dataset=mnist&hebbian.steps=250&hebbian.test=64&run=hebbian",
        anchor: "demo-hebbian",
        look_at: "Clean, noisy, non-plastic and plastic reconstructions of test images never trained on; move the noise slider once training ends. The plastic network is better, but only slightly: the trace helps little here.",
        math: DENOISE,
    },
    Preset {
        id: "many-tasks",
        title: "Ten tasks at 1,024 units: m = 0, m = 1.35 and EWC (a long run)",
        query: "?bnn.experiment=permuted&bnn.hidden=1024&bnn.meta=1.35&bnn.ewc=true&bnn.tasks=10&bnn.steps=600&run=bnn",
        anchor: "demo-bnn",
        look_at: "The paper's question at the paper's width: what is left as tasks pile up? Watch the chart of mean accuracy against the tasks learned. This is half an hour or more on a laptop's CPU, minutes on a GPU, and on the CPU the page holds about 380 MB (three networks of 1,024 units, EWC's the largest); at one epoch per task m = 1.35 has little time to consolidate, so expect it near m = 0, and EWC to keep old tasks while learning new ones less well.",
        math: F_META,
    },
];

#[cfg(test)]
mod tests {
    use super::super::query;
    use super::*;

    #[test]
    fn every_preset_link_is_allowed_as_written() {
        for p in PRESETS {
            let link = query::parse(p.query, &crate::demos::declarations());
            assert!(link.notes.is_empty(), "{}: {:?}", p.id, link.notes);
            assert!(p.math.starts_with("<math") && p.math.ends_with("</math>"), "{}", p.id);
        }
        let mut ids: Vec<&str> = PRESETS.iter().map(|p| p.id).collect();
        ids.sort_unstable();
        ids.dedup();
        assert_eq!(ids.len(), PRESETS.len());
    }

    #[test]
    fn the_path_covers_what_the_issue_asks_for() {
        let run = |id: &str| PRESETS.iter().find(|p| p.id == id).map(|p| query::parse(p.query, &crate::demos::declarations()));
        // The toy is drawn at once, with nothing to start.
        assert_eq!(run("toy").and_then(|l| l.run), None);
        let why_m = run("why-m").expect("why-m");
        assert_eq!(why_m.run, Some("bnn"));
        assert_eq!(why_m.values("bnn").expect("bnn").list(&crate::settings::bnn::META), [1.35, 6.0]);
        let lenet = run("lenet-seeds").expect("lenet-seeds");
        assert_eq!((lenet.run, lenet.values("lenet").expect("lenet").count(&crate::settings::lenet::SEEDS)), (Some("lenet"), 5));
        assert_eq!(run("stream").expect("stream").values("bnn").expect("bnn").choice(&crate::settings::bnn::EXPERIMENT), "stream");
        for (id, task) in [("completion", "completion"), ("denoise", "denoise")] {
            let link = run(id).expect(id);
            assert_eq!((link.run, link.values("hebbian").expect("hebbian").choice(&crate::settings::hebbian::TASK)), (Some("hebbian"), task));
        }
    }
}
