//! What the CPU side asks of the GPU per training step, for every network the page trains: one
//! command-buffer submit, no readback and no buffer or bind group created after the first step. On a real GPU
//! these decide whether a step waits, whatever the kernels; they are counted the same on any
//! adapter, so the software adapter here checks them (`metaplastic bench --backend gpu` prints
//! them per step).

mod common;

use metaplastic::backend::Backend;
use metaplastic::experiments::bench::{NETWORKS, Workload};
use metaplastic::gpu::counts;
use std::rc::Rc;
use std::sync::Mutex;

/// The counts are the whole program's, and the test harness runs tests on parallel threads: the
/// tests here take turns, so that one's submits are never read as the other's.
static ONE_AT_A_TIME: Mutex<()> = Mutex::new(());

#[test]
fn every_training_step_is_one_submit_with_no_readback_and_no_new_buffer() {
    let _turn = ONE_AT_A_TIME.lock().unwrap_or_else(|poisoned| poisoned.into_inner());
    let Some(ctx) = common::gpu() else { return };
    let backend = Backend::Gpu(Rc::new(ctx));
    const STEPS: u64 = 3;
    for name in NETWORKS {
        let mut work = Workload::new(name, &backend).expect("builds");
        // The first step makes what a trainer makes once (its statistics' staging, say).
        pollster::block_on(work.step()).expect("trains");
        let before = counts();
        for _ in 0..STEPS {
            work.train().expect("trains");
        }
        let steps = counts().since(before);
        assert_eq!(steps.submits, STEPS, "{name}: one submit per step ({steps:?})");
        assert_eq!((steps.readbacks, steps.buffers, steps.bind_groups), (0, 0, 0), "{name}: no readback, no new buffer or bind group in a step ({steps:?})");
        assert!(steps.dispatches >= STEPS, "{name}: the dispatches are counted ({steps:?})");
        // Reading the steps' statistics is the one readback, of a few numbers.
        let before = counts();
        pollster::block_on(work.finish()).expect("reads its statistics");
        let read = counts().since(before);
        assert!(read.readbacks >= 1 && read.readback_bytes <= 64, "{name}: statistics only ({read:?})");
        assert_eq!((read.buffers, read.bind_groups), (0, 0), "{name}: a second read of the statistics reuses their staging ({read:?})");
    }
}

/// The bench's per-kernel profile captures exactly the dispatches a step records and times each
/// one, summed by kernel under its shader file and entry point.
#[test]
fn the_kernel_profile_times_every_dispatch_of_a_step() {
    let _turn = ONE_AT_A_TIME.lock().unwrap_or_else(|poisoned| poisoned.into_inner());
    let Some(ctx) = common::gpu() else { return };
    let ctx = Rc::new(ctx);
    let backend = Backend::Gpu(ctx.clone());
    for name in ["lenet-classic-standard", "completion"] {
        let mut work = Workload::new(name, &backend).expect("builds");
        pollster::block_on(work.step()).expect("trains");
        let before = counts();
        let (trained, calls) = metaplastic::gpu::kernel::capture(|| work.train());
        trained.expect("trains");
        let recorded = counts().since(before).dispatches;
        pollster::block_on(work.finish()).expect("reads its statistics");
        assert_eq!(calls.len() as u64, recorded, "{name}: every recorded dispatch is captured");
        let (kernels, empty) = pollster::block_on(metaplastic::gpu::kernel::profile(&ctx, &calls, 1)).expect("times them");
        assert_eq!(kernels.iter().map(|k| k.dispatches).sum::<usize>(), calls.len(), "{name}: {kernels:?}");
        assert!(kernels.iter().all(|k| k.ms > 0.0 && k.kernel.contains(".wgsl:")), "{name}: {kernels:?}");
        assert!(kernels.windows(2).all(|w| w[0].ms >= w[1].ms), "{name}: the slowest first: {kernels:?}");
        assert!(empty > 0.0 && empty.is_finite(), "{name}: an empty submit takes time ({empty})");
        if name == "lenet-classic-standard" {
            assert!(kernels.iter().any(|k| k.kernel.starts_with("conv.wgsl:")), "{name}: {kernels:?}");
        }
    }
}
