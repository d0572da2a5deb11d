//! Mean, spread and paired differences over seeds: a gain is reported with its confidence
//! interval, so a reader sees whether it survives seed-to-seed noise.

/// Mean and sample standard deviation (0 for a single value).
pub fn mean_sd(xs: &[f32]) -> (f32, f32) {
    let n = xs.len() as f32;
    if xs.is_empty() {
        return (f32::NAN, f32::NAN);
    }
    let mean = xs.iter().sum::<f32>() / n;
    if xs.len() < 2 {
        return (mean, 0.0);
    }
    let var = xs.iter().map(|x| (x - mean).powi(2)).sum::<f32>() / (n - 1.0);
    (mean, var.sqrt())
}

/// Two-sided 95% quantile of Student's t with `df` degrees of freedom.
pub fn t95(df: usize) -> f32 {
    const TABLE: [f32; 30] = [
        12.706, 4.303, 3.182, 2.776, 2.571, 2.447, 2.365, 2.306, 2.262, 2.228, 2.201, 2.179, 2.160, 2.145, 2.131, 2.120,
        2.110, 2.101, 2.093, 2.086, 2.080, 2.074, 2.069, 2.064, 2.060, 2.056, 2.052, 2.048, 2.045, 2.042,
    ];
    match df {
        0 => f32::INFINITY,
        1..=30 => TABLE[df - 1],
        _ => 1.96,
    }
}

/// Mean, sample standard deviation and the half-width of the 95% confidence interval of the mean
/// (Student's t, `t95(n - 1) * sd / sqrt(n)`; infinite for fewer than two values): the interval
/// every mean over seeds (or over a class's seats) is reported with.
pub fn mean_ci95(xs: &[f32]) -> (f32, f32, f32) {
    let (mean, sd) = mean_sd(xs);
    let n = xs.len();
    let ci95 = if n < 2 { f32::INFINITY } else { t95(n - 1) * sd / (n as f32).sqrt() };
    (mean, sd, ci95)
}

/// A paired comparison of two rules over the same seeds.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct PairedDiff {
    pub mean: f32,
    pub sd: f32,
    /// Half-width of the 95% confidence interval of the mean difference.
    pub ci95: f32,
    pub n: usize,
}

impl PairedDiff {
    /// `b - a`, seed by seed.
    pub fn new(a: &[f32], b: &[f32]) -> Self {
        assert_eq!(a.len(), b.len(), "a paired difference needs the same seeds on both sides");
        let d: Vec<f32> = a.iter().zip(b).map(|(x, y)| y - x).collect();
        let (mean, sd, ci95) = mean_ci95(&d);
        Self { mean, sd, ci95, n: d.len() }
    }

    /// Whether the interval excludes zero.
    pub fn is_significant(&self) -> bool {
        self.mean.abs() > self.ci95
    }
}

/// A confusion matrix over `classes` classes: `counts[true][predicted]`.
#[derive(Debug, Clone, PartialEq, serde::Serialize, serde::Deserialize)]
pub struct Confusion {
    pub classes: usize,
    pub counts: Vec<Vec<u32>>,
}

/// The classification metrics the convolutional metaplasticity paper reports, macro-averaged over
/// classes (each class counts equally), as fractions in [0, 1]; `loss` is the mean cross-entropy.
#[derive(Debug, Clone, Copy, PartialEq, Default, serde::Serialize, serde::Deserialize)]
pub struct ClassMetrics {
    #[serde(deserialize_with = "crate::stats::nan::f32")]
    pub accuracy: f32,
    #[serde(deserialize_with = "crate::stats::nan::f32")]
    pub macro_f1: f32,
    #[serde(deserialize_with = "crate::stats::nan::f32")]
    pub precision: f32,
    #[serde(deserialize_with = "crate::stats::nan::f32")]
    pub recall: f32,
    #[serde(deserialize_with = "crate::stats::nan::f32")]
    pub loss: f32,
}

impl Confusion {
    pub fn new(classes: usize) -> Self {
        Self { classes, counts: vec![vec![0; classes]; classes] }
    }

    pub fn add(&mut self, truth: usize, predicted: usize) {
        self.counts[truth][predicted] += 1;
    }

    pub fn total(&self) -> u32 {
        self.counts.iter().flatten().sum()
    }

    /// Accuracy and macro precision, recall and F1. A class never predicted (or never present)
    /// scores 0 precision (recall) rather than being dropped, so a collapsed network cannot look
    /// good.
    pub fn metrics(&self, loss: f32) -> ClassMetrics {
        let total = self.total().max(1) as f32;
        let k = self.classes;
        let correct: u32 = (0..k).map(|c| self.counts[c][c]).sum();
        let (mut p_sum, mut r_sum, mut f_sum) = (0.0f32, 0.0f32, 0.0f32);
        for c in 0..k {
            let tp = self.counts[c][c] as f32;
            let predicted: u32 = (0..k).map(|t| self.counts[t][c]).sum();
            let actual: u32 = self.counts[c].iter().sum();
            let p = if predicted > 0 { tp / predicted as f32 } else { 0.0 };
            let r = if actual > 0 { tp / actual as f32 } else { 0.0 };
            p_sum += p;
            r_sum += r;
            f_sum += if p + r > 0.0 { 2.0 * p * r / (p + r) } else { 0.0 };
        }
        ClassMetrics { accuracy: correct as f32 / total, macro_f1: f_sum / k as f32, precision: p_sum / k as f32, recall: r_sum / k as f32, loss }
    }
}

/// Reading back a float as serde_json writes it: a NaN (not measured yet) becomes `null`, and a
/// `null` reads as NaN again (curve points travel from a training worker to the page this way).
pub mod nan {
    use serde::{Deserialize, Deserializer};

    pub fn f32<'de, D: Deserializer<'de>>(d: D) -> Result<f32, D::Error> {
        Ok(Option::<f32>::deserialize(d)?.unwrap_or(f32::NAN))
    }

    pub fn vec<'de, D: Deserializer<'de>>(d: D) -> Result<Vec<f32>, D::Error> {
        Ok(Vec::<Option<f32>>::deserialize(d)?.into_iter().map(|x| x.unwrap_or(f32::NAN)).collect())
    }

    pub fn matrix<'de, D: Deserializer<'de>>(d: D) -> Result<Vec<Vec<f32>>, D::Error> {
        Ok(Vec::<Vec<Option<f32>>>::deserialize(d)?.into_iter().map(|row| row.into_iter().map(|x| x.unwrap_or(f32::NAN)).collect()).collect())
    }
}
