//! The heap each network's training step and evaluation need at their peak (LeNet-5, and the
//! binarized network at 1,024 units with and without EWC), counted by a global allocator, with
//! the tapes spent as a training worker (wasm) spends them: what sets a worker's wasm memory,
//! which keeps its peak for good.
//!
//!   cargo run --release --example heap_peak

use metaplastic::cpu::bnn::CpuBnn;
use metaplastic::cpu::lenet::CpuLenet;
use metaplastic::model::bnn::{BnnConfig, BnnParams, BnnTrainer};
use metaplastic::model::lenet::{Arch, FactorSource, LenetConfig, LenetParams, LenetTrainer};
use std::alloc::{GlobalAlloc, Layout, System};
use std::sync::atomic::{AtomicUsize, Ordering::Relaxed};

struct Counting;
static NOW: AtomicUsize = AtomicUsize::new(0);
static PEAK: AtomicUsize = AtomicUsize::new(0);

unsafe impl GlobalAlloc for Counting {
    unsafe fn alloc(&self, l: Layout) -> *mut u8 {
        let now = NOW.fetch_add(l.size(), Relaxed) + l.size();
        PEAK.fetch_max(now, Relaxed);
        unsafe { System.alloc(l) }
    }
    unsafe fn dealloc(&self, p: *mut u8, l: Layout) {
        NOW.fetch_sub(l.size(), Relaxed);
        unsafe { System.dealloc(p, l) }
    }
}

#[global_allocator]
static A: Counting = Counting;

fn mib(b: usize) -> f64 {
    b as f64 / (1 << 20) as f64
}

fn main() {
    // As in a training worker (wasm): tapes spent as backward goes.
    metaplastic::cpu::walk::spend_tapes(true);
    for arch in [Arch::Classic, Arch::Authors] {
        for amp in [false, true] {
            let mut cfg = LenetConfig { batch: 64, ..LenetConfig::authors_sgd(arch) };
            if amp {
                cfg = cfg.with_amp(1.0, FactorSource::LayerInput);
            }
            let x: Vec<f32> = (0..64 * 784).map(|i| ((i * 7919) % 255) as f32 / 255.0).collect();
            let y: Vec<u32> = (0..64).map(|i| i % 10).collect();
            let start = NOW.load(Relaxed);
            PEAK.store(start, Relaxed);
            let mut net = CpuLenet::new(cfg, LenetParams::init(arch, 1)).expect("a valid network");
            for step in 0..3 {
                net.train_step(&x, &y, step).expect("a step");
            }
            let (train_peak, held) = (PEAK.load(Relaxed) - start, NOW.load(Relaxed) - start);
            let test: Vec<f32> = (0..arch.eval_batch() * 784).map(|i| ((i * 104729) % 255) as f32 / 255.0).collect();
            // The first evaluation drops the training tape; the second shows the evaluation alone.
            pollster::block_on(net.logits(&test)).expect("logits");
            PEAK.store(NOW.load(Relaxed), Relaxed);
            pollster::block_on(net.logits(&test)).expect("logits");
            let eval_peak = PEAK.load(Relaxed) - start;
            println!(
                "{arch:?}{}: training peak {:.1} MiB (held between steps {:.1}), evaluation of {} images peak {:.1} MiB (with the {:.1} MiB of images)",
                if amp { " + AMP" } else { "" },
                mib(train_peak),
                mib(held),
                arch.eval_batch(),
                mib(eval_peak),
                mib(test.len() * 4)
            );
        }
    }
    for ewc in [false, true] {
        let cfg = BnnConfig { ewc_lambda: if ewc { 5000.0 } else { 0.0 }, ..BnnConfig::authors_optimizer(1024, 1.35) };
        let x: Vec<f32> = (0..100 * 784).map(|i| ((i * 7919) % 255) as f32 / 255.0).collect();
        let y: Vec<u32> = (0..100).map(|i| i % 10).collect();
        let start = NOW.load(Relaxed);
        PEAK.store(start, Relaxed);
        let mut net = CpuBnn::new(cfg.clone(), BnnParams::init(cfg.sizes(), 1)).expect("a valid network");
        for _ in 0..3 {
            net.train_step(&x, &y).expect("a step");
        }
        let (train_peak, held) = (PEAK.load(Relaxed) - start, NOW.load(Relaxed) - start);
        let test: Vec<f32> = (0..1000 * 784).map(|i| ((i * 104729) % 255) as f32 / 255.0).collect();
        let labels: Vec<u32> = (0..1000).map(|i| i % 10).collect();
        pollster::block_on(net.evaluate(&test, &labels)).expect("evaluate");
        PEAK.store(NOW.load(Relaxed), Relaxed);
        pollster::block_on(net.evaluate(&test, &labels)).expect("evaluate");
        let eval_peak = PEAK.load(Relaxed) - start;
        let mut line = format!(
            "binarized 784-1024-1024-10, m 1.35: training peak {:.1} MiB (held between steps {:.1}), evaluation of 1000 images peak {:.1} MiB",
            mib(train_peak),
            mib(held),
            mib(eval_peak)
        );
        if ewc {
            let batches: Vec<(Vec<f32>, Vec<u32>)> = (0..5).map(|_| (test.clone(), labels.clone())).collect();
            PEAK.store(NOW.load(Relaxed), Relaxed);
            pollster::block_on(net.consolidate_ewc(&batches)).expect("consolidate");
            let ewc_peak = PEAK.load(Relaxed) - start;
            net.train_step(&x, &y).expect("a step");
            line += &format!(", EWC: consolidation peak {:.1} MiB (with its 5,000 examples, as the page takes), a step after it {:.1}", mib(ewc_peak), mib(PEAK.load(Relaxed) - start));
        }
        println!("{line}");
    }
}
