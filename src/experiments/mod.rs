//! The experiments, written once against [`crate::model::bnn::BnnTrainer`] and run the same way
//! by the browser (a training worker advances one step at a time, in slices between its messages)
//! and by the command-line tool (to the end).
//!
//! Every runner is a state machine advanced by `advance(data, steps)`: the browser stays
//! responsive between calls, and the learners of one run always see identical batches.

pub mod bench;
pub mod completion;
pub mod denoise;
pub mod flips;
pub mod lenet;
pub mod permuted;
pub mod quoted;
pub mod reproduce;
pub mod stream;
pub mod summary;
pub mod toy;

use crate::data::{DataSetId, Examples, IMAGE_PIXELS};

use rand::{SeedableRng, rngs::StdRng, seq::SliceRandom};

/// Examples a runner may read, possibly still streaming in. Runners only borrow inside these
/// calls, never across an `await`, so the browser's loader can keep appending meanwhile.
pub trait DataAccess {
    fn with_train(&self, f: &mut dyn FnMut(&dyn Examples));
    fn with_test(&self, f: &mut dyn FnMut(&dyn Examples));
}

/// The data sets a run reads, by id: a run whose tasks come from several data sets (MNIST then
/// Fashion-MNIST) finds each task's here.
pub trait TaskData {
    /// `None` while that data set is not at hand (the run waits for it).
    fn for_set(&self, id: DataSetId) -> Option<&dyn DataAccess>;
}

/// One data set, handed over by a caller that knows it is the one the run reads.
impl<T: DataAccess> TaskData for T {
    fn for_set(&self, _id: DataSetId) -> Option<&dyn DataAccess> {
        Some(self)
    }
}

impl TaskData for dyn DataAccess + '_ {
    fn for_set(&self, _id: DataSetId) -> Option<&dyn DataAccess> {
        Some(self)
    }
}

/// Several loaded data sets.
impl TaskData for [crate::data::DataSet] {
    fn for_set(&self, id: DataSetId) -> Option<&dyn DataAccess> {
        self.iter().find(|d| d.id == id).map(|d| d as &dyn DataAccess)
    }
}

impl DataAccess for crate::data::DataSet {
    fn with_train(&self, f: &mut dyn FnMut(&dyn Examples)) {
        f(&self.train)
    }
    fn with_test(&self, f: &mut dyn FnMut(&dyn Examples)) {
        f(&self.test)
    }
}

/// Test examples are evaluated in chunks of this size; BatchNorm uses the chunk's statistics.
pub const EVAL_BATCH: usize = 1000;

/// Copies examples into a float batch, pixels reordered by `perm` (pixel `p` of the result is
/// pixel `perm[p]` of the image), or as they are when `perm` is `None`.
pub fn fill_batch_permuted(examples: &dyn Examples, indices: &[usize], perm: Option<&[u16]>, x: &mut [f32], y: &mut [u32]) {
    for (row, &i) in indices.iter().enumerate() {
        let image = examples.image(i);
        let out = &mut x[row * IMAGE_PIXELS..(row + 1) * IMAGE_PIXELS];
        match perm {
            Some(perm) => out.iter_mut().zip(perm).for_each(|(o, &p)| *o = f32::from(image[p as usize]) / 255.0),
            None => out.iter_mut().zip(image.iter()).for_each(|(o, &v)| *o = f32::from(v) / 255.0),
        }
        y[row] = u32::from(examples.label(i));
    }
}

/// Test images a drawing is judged among: where BatchNorm normalises with the batch's own
/// statistics, a lone example would be normalised against itself.
pub const DRAWING_COMPANIONS: usize = 99;

/// A batch for judging `drawing` (28 x 28, 0 to 255): the drawing first, then the first
/// [`DRAWING_COMPANIONS`] test images (fewer if fewer have arrived), prepared as the network's
/// training batches are (`perm` as in [`fill_batch_permuted`]). Returns the batch's pixels.
pub fn drawing_batch(drawing: &[u8], data: &dyn DataAccess, perm: Option<&[u16]>) -> Vec<f32> {
    struct WithDrawing<'a> {
        drawing: &'a [u8],
        test: &'a dyn Examples,
    }
    impl Examples for WithDrawing<'_> {
        fn len(&self) -> usize {
            1 + self.test.len()
        }
        fn image(&self, i: usize) -> std::borrow::Cow<'_, [u8]> {
            if i == 0 { std::borrow::Cow::Borrowed(self.drawing) } else { self.test.image(i - 1) }
        }
        fn label(&self, i: usize) -> u8 {
            if i == 0 { 0 } else { self.test.label(i - 1) }
        }
    }
    let mut x = Vec::new();
    data.with_test(&mut |test| {
        let with = WithDrawing { drawing, test };
        let indices: Vec<usize> = (0..with.len().min(1 + DRAWING_COMPANIONS)).collect();
        x = vec![0.0; indices.len() * IMAGE_PIXELS];
        let mut y = vec![0; indices.len()];
        fill_batch_permuted(&with, &indices, perm, &mut x, &mut y);
    });
    x
}

/// The softmax of one row of logits: class probabilities.
pub fn softmax(logits: &[f32]) -> Vec<f32> {
    let max = logits.iter().copied().fold(f32::NEG_INFINITY, f32::max);
    let exp: Vec<f32> = logits.iter().map(|&l| (l - max).exp()).collect();
    let sum: f32 = exp.iter().sum();
    exp.iter().map(|e| e / sum).collect()
}

/// Prepares test examples `start..start+len` (fewer when not all have arrived yet) as a float
/// batch, pixels reordered by `perm`; `false` when fewer than two have arrived, since BatchNorm
/// needs two.
pub fn fill_test_chunk(data: &dyn DataAccess, start: usize, len: usize, perm: Option<&[u16]>, x: &mut Vec<f32>, y: &mut Vec<u32>) -> bool {
    let mut filled = false;
    data.with_test(&mut |test| {
        let end = (start + len).min(test.len());
        if end < start + 2 {
            return;
        }
        let indices: Vec<usize> = (start..end).collect();
        x.resize(indices.len() * IMAGE_PIXELS, 0.0);
        y.resize(indices.len(), 0);
        fill_batch_permuted(test, &indices, perm, x, y);
        filled = true;
    });
    filled
}

/// A seeded random permutation of the 784 pixels.
pub fn pixel_permutation(seed: u64) -> Vec<u16> {
    let mut perm: Vec<u16> = (0..IMAGE_PIXELS as u16).collect();
    perm.shuffle(&mut StdRng::seed_from_u64(seed));
    perm
}

/// Draws batches from a fixed pool of example indices, epoch after epoch, reshuffled each epoch.
pub struct BatchOrder {
    pool: Vec<usize>,
    order: Vec<usize>,
    pos: usize,
    rng: StdRng,
}

impl BatchOrder {
    pub fn new(pool: Vec<usize>, seed: u64) -> Self {
        Self { pool, order: Vec::new(), pos: 0, rng: StdRng::seed_from_u64(seed) }
    }

    /// Next `batch` indices among those below `available` (examples still streaming in are skipped
    /// until they arrive). `None` when no example of the pool has arrived yet.
    pub fn next(&mut self, batch: usize, available: usize) -> Option<Vec<usize>> {
        let mut out = Vec::with_capacity(batch);
        let mut misses = 0;
        while out.len() < batch {
            if self.pos == self.order.len() {
                self.order = self.pool.clone();
                self.order.shuffle(&mut self.rng);
                self.pos = 0;
            }
            let i = self.order[self.pos];
            self.pos += 1;
            if i < available {
                out.push(i);
                misses = 0;
            } else {
                misses += 1;
                if misses > self.pool.len() {
                    return None;
                }
            }
        }
        Some(out)
    }
}

/// Guards a run against divergence: a non-finite loss, or training accuracy at chance for
/// several evaluation windows in a row.
#[derive(Debug, Clone, Default)]
pub struct DivergenceWatch {
    chance_windows: u32,
}

impl DivergenceWatch {
    const WINDOWS: u32 = 5;

    pub fn check(&mut self, learner: &str, stats: crate::nn::BatchStats, step: usize) -> Result<(), crate::nn::TrainError> {
        use crate::nn::TrainError::Diverged;
        if stats.count == 0 {
            return Ok(());
        }
        if !stats.loss_sum.is_finite() {
            return Err(Diverged(format!("{learner}: the loss became {} at step {step}; try a smaller learning rate", stats.loss_sum)));
        }
        if stats.accuracy() < 0.12 && step >= 300 {
            self.chance_windows += 1;
            if self.chance_windows >= Self::WINDOWS {
                return Err(Diverged(format!(
                    "{learner}: training accuracy has stayed at chance ({:.0}%) for {} evaluations up to step {step}; try a smaller learning rate",
                    100.0 * stats.accuracy(),
                    Self::WINDOWS
                )));
            }
        } else {
            self.chance_windows = 0;
        }
        Ok(())
    }
}
