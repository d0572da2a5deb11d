//! Softmax cross-entropy over a batch of logits, with its gradient.

/// Returns `(sum of -log p[label], number of correct argmax predictions)` and writes
/// `dlogits = (softmax(logits) - onehot(label)) / batch`, the gradient of the batch-mean loss.
pub fn softmax_cross_entropy(logits: &[f32], labels: &[u32], classes: usize, dlogits: &mut [f32]) -> (f32, u32) {
    let batch = labels.len();
    let (mut loss, mut correct) = (0.0f32, 0u32);
    for b in 0..batch {
        let row = &logits[b * classes..(b + 1) * classes];
        let max = row.iter().copied().fold(f32::NEG_INFINITY, f32::max);
        let sum: f32 = row.iter().map(|&z| (z - max).exp()).sum();
        let label = labels[b] as usize;
        loss += sum.ln() - (row[label] - max);
        // The first maximum wins ties, as on the GPU.
        let argmax = row.iter().enumerate().fold(0, |best, (i, &z)| if z > row[best] { i } else { best });
        correct += u32::from(argmax == label);
        for (c, &z) in row.iter().enumerate() {
            let p = (z - max).exp() / sum;
            dlogits[b * classes + c] = (p - if c == label { 1.0 } else { 0.0 }) / batch as f32;
        }
    }
    (loss, correct)
}
