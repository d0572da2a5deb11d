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
        let (mean, sd) = mean_sd(&d);
        let n = d.len();
        let ci95 = if n < 2 { f32::INFINITY } else { t95(n - 1) * sd / (n as f32).sqrt() };
        Self { mean, sd, ci95, n }
    }

    /// Whether the interval excludes zero.
    pub fn is_significant(&self) -> bool {
        self.mean.abs() > self.ci95
    }
}
