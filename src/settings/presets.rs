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
    /// The step's one chart: the canvas the lesson view (`?lesson=N`) shows large.
    pub chart: &'static str,
    /// What to look for, point first, in one or two sentences a room can read at once (the lesson
    /// view shows it beside the chart; the longer story is in docs/classroom.md).
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
pub const PRESETS: [Preset; 9] = [
    Preset {
        id: "toy",
        title: "Two weights, no data (instant)",
        query: "?bnn.toy-meta=6",
        anchor: "bnn-toy",
        chart: "bnn-toy",
        look_at: "The first weight matters more: its hidden value grows steadily while the second keeps crossing zero. A large |Wh| marks an important weight.",
        math: TOY,
    },
    Preset {
        id: "forgetting",
        title: "Forgetting on permuted MNIST, in two minutes",
        query: "?bnn.experiment=permuted&bnn.hidden=128&bnn.meta=6&bnn.tasks=3&bnn.steps=600&run=bnn",
        anchor: "demo-bnn",
        chart: "bnn-curves",
        look_at: "When task 2 starts (grey line), watch task 1: the standard network forgets it; the metaplastic one keeps more, at some cost on the new task.",
        math: STEP,
    },
    Preset {
        id: "why-m",
        title: "Why m matters: m = 0, 1.35 and 6 side by side",
        query: "?bnn.experiment=permuted&bnn.hidden=128&bnn.meta=1.35,6&bnn.tasks=3&bnn.steps=600&run=bnn",
        anchor: "demo-bnn",
        chart: "bnn-curves",
        look_at: "Three networks, one start. In a run this short m = 1.35 keeps little more of task 1 than m = 0; m = 6 keeps far more.",
        math: F_META,
    },
    Preset {
        id: "mnist-fashion",
        title: "MNIST, then Fashion-MNIST: the paper's first example of forgetting",
        query: "?bnn.experiment=permuted&bnn.sequence=mnist-fashion&bnn.hidden=128&bnn.meta=6&bnn.steps=600&run=bnn",
        anchor: "demo-bnn",
        chart: "bnn-curves",
        look_at: "When Fashion-MNIST starts (grey line), watch MNIST, task 1: the standard network loses most of it within one epoch; m = 6 keeps more.",
        math: STEP,
    },
    Preset {
        id: "stream",
        title: "Stream learning on Fashion-MNIST",
        query: "?bnn.experiment=stream&bnn.hidden=128&bnn.subsets=20&bnn.epochs=5&run=bnn",
        anchor: "demo-bnn",
        chart: "bnn-curves",
        look_at: "Subsets arrive one after another; the grey dashed line learned everything at once. The metaplastic network ends a little closer to it, within the noise here.",
        math: STREAM,
    },
    Preset {
        id: "lenet-seeds",
        title: "Does the convolutional rule really help? LeNet-5 over 5 seeds",
        query: "?lenet.dataset=mnist&lenet.arch=classic&lenet.b=1&lenet.epochs=1&lenet.steps=200&lenet.seeds=5&run=lenet",
        anchor: "demo-lenet",
        chart: "lenet-acc",
        look_at: "Standard and metaplastic learn almost alike, seed after seed. One run cannot tell a tenth of a point from luck: does the 95% interval over five seeds exclude 0?",
        math: AMP,
    },
    Preset {
        id: "completion",
        title: "Pattern completion: the trace filling up",
        query: "?hebbian.task=completion&hebbian.steps=600&run=hebbian",
        anchor: "demo-hebbian",
        chart: "hebb-loss",
        look_at: "The non-plastic network's error stays near 0.5; the plastic one's falls: it reads the erased half back from its Hebbian trace.",
        math: HEBB,
    },
    Preset {
        id: "denoise",
        title: "Denoising images with a plastic bottleneck",
        query: "?hebbian.task=denoise&hebbian.dataset=mnist&hebbian.steps=250&hebbian.test=64&run=hebbian",
        anchor: "demo-hebbian",
        chart: "hebb-recon",
        look_at: "Test images never trained on, cleaned by both networks. The plastic one is better, but only slightly: the trace helps little here.",
        math: DENOISE,
    },
    Preset {
        id: "many-tasks",
        title: "Ten tasks at 1,024 units: m = 0, m = 1.35 and EWC (a long run)",
        query: "?bnn.experiment=permuted&bnn.hidden=1024&bnn.meta=1.35&bnn.ewc=true&bnn.tasks=10&bnn.steps=600&run=bnn",
        anchor: "demo-bnn",
        chart: "bnn-pileup",
        look_at: "What is left as tasks pile up? At one epoch per task expect m = 1.35 near m = 0, and EWC keeping old tasks but learning new ones less well.",
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

    /// The lesson view shows the title, what to look for and the step's chart on one projector
    /// screen: the words have to be few (tests/e2e/lesson.test.mjs counts them on the screen).
    #[test]
    fn every_step_says_what_to_look_for_in_a_few_words_beside_a_chart_of_the_page() {
        let page = include_str!("../../index.html");
        let words = |text: &str| text.split_whitespace().filter(|w| w.chars().any(char::is_alphanumeric)).count();
        for p in PRESETS {
            assert!(words(p.look_at) <= 30, "{}: {} words", p.id, words(p.look_at));
            assert!(words(p.title) <= 14, "{}: title of {} words", p.id, words(p.title));
            let sentences = p.look_at.matches(". ").count() + p.look_at.matches("? ").count() + 1;
            assert!(sentences <= 2, "{}: {sentences} sentences", p.id);
            assert!(page.contains(&format!("<canvas role=\"img\" id=\"{}\"", p.chart)), "{}: no canvas '{}' in index.html", p.id, p.chart);
        }
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
