//! Every result the docs and the page quote, as the command that makes it. `metaplastic reproduce
//! NAME` runs the command into `results/NAME/`, `--list` lists them, `--print` writes each seed's
//! run as one independent command (for a batch scheduler), and `--tables` rebuilds the tables of
//! `docs/results.md` and the figures the page quotes from what `results/` holds (see
//! [`super::figures`]).
//!
//! A result is named once, here; its folder, its table in the docs and the page's figures all go
//! by that name, and `tests/results_doc.rs` fails when one of them is missing or disagrees.

use std::str::FromStr;

/// One result: the folder `results/<name>/` and the tool's command that fills it.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Reproducible {
    pub name: &'static str,
    /// What it measures, in one line.
    pub title: &'static str,
    /// The tool's command without `--out` (added as `results/<name>`).
    pub args: &'static str,
}

const fn r(name: &'static str, title: &'static str, args: &'static str) -> Reproducible {
    Reproducible { name, title, args }
}

/// Every quoted result, in the order of `docs/results.md`.
pub const RESULTS: &[Reproducible] = &[
    r(
        "bnn-classroom",
        "Demo 1 as the page opens: 784-128-128-10, 3 permuted-MNIST tasks of 600 batches, m = 0, 1.35, 3 and 6",
        "bnn-permuted --hidden 128 --tasks 3 --steps-per-task 600 --meta 0,1.35,3,6 --test-examples 2000 --seeds 3",
    ),
    r(
        "bnn-classroom-gamma-one",
        "The same with BatchNorm's gamma starting at 1",
        "bnn-permuted --hidden 128 --tasks 3 --steps-per-task 600 --meta 0,1.35,3,6 --test-examples 2000 --bn-gamma one --seeds 3",
    ),
    r(
        "bnn-permuted-tiny",
        "The browser tests' tiny setting: 784-32-32-10, 2 tasks of 80 batches, m = 0 and 10",
        "bnn-permuted --hidden 32 --tasks 2 --steps-per-task 80 --lr 0.02 --meta 0,10 --test-examples 1000 --eval-every 20 --seeds 3",
    ),
    r(
        "bnn-permuted",
        "The authors' network and optimizer at 512 hidden units, 5 tasks of 5 epochs, m = 0 and 1.35",
        "bnn-permuted --hidden 512 --lr 0.005 --batch 100 --tasks 5 --epochs 5 --meta 0,1.35 --seeds 3",
    ),
    r(
        "bnn-permuted-gamma-one",
        "The same with BatchNorm's gamma starting at 1 (PyTorch 1.2 and later)",
        "bnn-permuted --hidden 512 --lr 0.005 --batch 100 --tasks 5 --epochs 5 --meta 0,1.35 --bn-gamma one --seeds 3",
    ),
    r(
        "bnn-permuted-gamma-one-wd1e-8",
        "Gamma at 1 with weight decay 1e-8 instead of 1e-7",
        "bnn-permuted --hidden 512 --lr 0.005 --batch 100 --weight-decay 1e-8 --tasks 5 --epochs 5 --meta 0,1.35 --bn-gamma one --seeds 3",
    ),
    r(
        "bnn-permuted-running-stats",
        "The authors' BatchNorm when the paper's runs were made: running statistics at test time, saved and restored per task (gamma from U(0, 1))",
        "bnn-permuted --hidden 512 --lr 0.005 --batch 100 --tasks 5 --epochs 5 --meta 0,1.35 --bn-stats running --seeds 3",
    ),
    r(
        "bnn-permuted-ewc",
        "512 hidden units, 5 tasks of 5 epochs: m = 0, m = 1.35 and EWC (lambda 5000)",
        "bnn-permuted --hidden 512 --lr 0.005 --batch 100 --tasks 5 --epochs 5 --meta 0,1.35 --ewc --seeds 3",
    ),
    r(
        "bnn-permuted-ewc-lambda500",
        "EWC's strength: lambda 500",
        "bnn-permuted --hidden 512 --lr 0.005 --batch 100 --tasks 5 --epochs 5 --meta 0 --ewc --ewc-lambda 500 --seeds 3",
    ),
    r(
        "bnn-permuted-ewc-lambda50000",
        "EWC's strength: lambda 50000",
        "bnn-permuted --hidden 512 --lr 0.005 --batch 100 --tasks 5 --epochs 5 --meta 0 --ewc --ewc-lambda 50000 --seeds 3",
    ),
    r(
        "bnn-permuted-10tasks-1024",
        "Ten permuted tasks of one epoch at 1,024 hidden units: m = 0, m = 1.35 and EWC",
        "bnn-permuted --hidden 1024 --lr 0.005 --batch 100 --tasks 10 --epochs 1 --meta 0,1.35 --ewc --seeds 3",
    ),
    r(
        "bnn-permuted-10tasks-512",
        "Ten permuted tasks of five epochs at 512 hidden units, weight decay 1e-8 as the authors ran their figure of accuracy against tasks: m = 0, m = 1.35 and EWC",
        "bnn-permuted --hidden 512 --lr 0.005 --batch 100 --weight-decay 1e-8 --tasks 10 --epochs 5 --meta 0,1.35 --ewc --seeds 3",
    ),
    r(
        "bnn-mnist-fashion",
        "MNIST, then Fashion-MNIST, 5 epochs each at 512 hidden units: m = 0, 1.35 and 3",
        "bnn-permuted --sequence mnist,fashion --hidden 512 --lr 0.005 --batch 100 --epochs 5 --meta 0,1.35,3 --seeds 3",
    ),
    r(
        "bnn-permuted-full-precision",
        "The same rule on full-precision weights (the paper's Fig. 2f): 512 units, 5 permuted tasks of 5 epochs, m = 0 and 1.35",
        "bnn-permuted --hidden 512 --lr 0.005 --batch 100 --tasks 5 --epochs 5 --meta 0,1.35 --weights full --seeds 3",
    ),
    r(
        "bnn-flips",
        "Which weights matter: the loss on task 1 when binary weights of one |Wh| bin are flipped, after 3 tasks at 128 units",
        "bnn-permuted --hidden 128 --tasks 3 --steps-per-task 600 --meta 0,1.35,6 --test-examples 2000 --flips --seeds 3",
    ),
    r(
        "bnn-stream-1024",
        "Stream learning at the paper's width and schedule: Fashion-MNIST in 60 subsets of 1,000 x 20 epochs, 784-1024-1024-10",
        "bnn-stream --dataset fashion --hidden 1024 --meta 0,2.5 --seeds 3",
    ),
    r(
        "bnn-stream-256",
        "Stream learning at 256 hidden units with a learned BatchNorm and batch statistics at test time",
        "bnn-stream --dataset fashion --hidden 256 --meta 0,2.5 --bn-affine true --bn-stats batch --seeds 3",
    ),
    r(
        "bnn-stream-tiny",
        "Stream learning at a tiny budget: 32 hidden units, 5 subsets of 2 epochs",
        "bnn-stream --dataset fashion --hidden 32 --subsets 5 --epochs 2 --meta 0,2.5 --seeds 3",
    ),
    r(
        "lenet-mnist-classic",
        "Classic LeNet-5 on MNIST, 6 epochs: standard training against AMP (B = 1)",
        "lenet --dataset mnist --arch classic --epochs 6 --seeds 3",
    ),
    r(
        "lenet-fashion-classic",
        "Classic LeNet-5 on Fashion-MNIST, 6 epochs: standard training against AMP (B = 1)",
        "lenet --dataset fashion --arch classic --epochs 6 --seeds 3",
    ),
    r(
        "lenet-mnist-classic-energy",
        "Classic LeNet-5 on MNIST, one epoch over 30,000 images: standard, AMP on raw energy, AMP on centred energy",
        "lenet --dataset mnist --arch classic --epochs 1 --train-examples 30000 --rule standard,amp,amp-centred --seeds 10",
    ),
    r(
        "lenet-fashion-classic-energy",
        "Classic LeNet-5 on Fashion-MNIST, the same budget and rules",
        "lenet --dataset fashion --arch classic --epochs 1 --train-examples 30000 --rule standard,amp,amp-centred --seeds 10",
    ),
    r(
        "lenet-mnist-classic-average-pool",
        "Classic LeNet-5 with the paper's average pooling on MNIST, one epoch over 30,000 images: standard against AMP, 10 seeds",
        "lenet --dataset mnist --arch classic --pool average --epochs 1 --train-examples 30000 --rule standard,amp --seeds 10",
    ),
    r(
        "lenet-fashion-classic-average-pool",
        "The same on Fashion-MNIST",
        "lenet --dataset fashion --arch classic --pool average --epochs 1 --train-examples 30000 --rule standard,amp --seeds 10",
    ),
    r(
        "lenet-mnist-classic-average-pool-6epochs",
        "Classic LeNet-5 with average pooling on MNIST at the paper's budget: 6 epochs over all 60,000 images, standard against AMP",
        "lenet --dataset mnist --arch classic --pool average --epochs 6 --rule standard,amp --seeds 5",
    ),
    r(
        "lenet-mnist-authors-energy",
        "The authors' LeNet-5 variant on MNIST, one epoch over 30,000 images, the three rules",
        "lenet --dataset mnist --arch authors --epochs 1 --train-examples 30000 --rule standard,amp,amp-centred --seeds 3",
    ),
    r(
        "lenet-fashion-authors-energy",
        "The authors' LeNet-5 variant on Fashion-MNIST, the same budget and rules",
        "lenet --dataset fashion --arch authors --epochs 1 --train-examples 30000 --rule standard,amp,amp-centred --seeds 3",
    ),
    r(
        "hebbian-completion-recurrent",
        "Pattern completion with Miconi's recurrent network (51 neurons, 2 patterns of 50 bits): plastic against an ordinary RNN",
        "hebbian --task completion --network recurrent --variant plastic,non-plastic --seeds 3",
    ),
    r(
        "hebbian-completion-recurrent-np201",
        "The ordinary RNN at 201 neurons",
        "hebbian --task completion --network recurrent --variant non-plastic --non-plastic-hidden 201 --seeds 3",
    ),
    r(
        "hebbian-completion-recurrent-np501",
        "The ordinary RNN at 501 neurons (one seed)",
        "hebbian --task completion --network recurrent --variant non-plastic --non-plastic-hidden 501 --seeds 1",
    ),
    r(
        "hebbian-completion-recurrent-np2051",
        "The ordinary RNN at Miconi's 2,051 neurons and his lr 3e-5, 3,000 episodes (one seed; his budget does not fit this machine)",
        "hebbian --task completion --network recurrent --variant non-plastic --non-plastic-hidden 2051 --lr 3e-5 --steps 3000 --seeds 1",
    ),
    r(
        "hebbian-completion-recurrent-lstm",
        "The LSTM baseline (51 cells, the input added to its read-out cells' candidates) against the plastic network, same episodes and budget",
        "hebbian --task completion --network recurrent --variant plastic,lstm --seeds 3",
    ),
    r(
        "hebbian-completion-recurrent-lstm200",
        "The LSTM baseline at 200 cells (about 200,000 parameters), the same episodes and budget",
        "hebbian --task completion --network recurrent --variant plastic,lstm --lstm-hidden 200 --seeds 3",
    ),
    r(
        "hebbian-completion-recurrent-miconi",
        "Miconi's 1,000-bit setting (1,001 neurons, 5 patterns shown twice, 2,000 episodes as in his simple.py), the plastic network once",
        "hebbian --task completion --network recurrent --preset miconi --variant plastic --seeds 1",
    ),
    r(
        "hebbian-completion-recurrent-miconi-np",
        "The ordinary RNN (1,001 neurons) in the same 1,000-bit setting, the same episodes",
        "hebbian --task completion --network recurrent --preset miconi --variant non-plastic --seeds 1",
    ),
    r(
        "hebbian-completion",
        "Pattern completion with one feed-forward plastic layer (3 patterns of 50 bits) against the same layer without plasticity",
        "hebbian --task completion --network feedforward --seeds 3",
    ),
    r("hebbian-denoise-mnist", "The denoising autoencoder on MNIST test images: plastic against non-plastic", "hebbian --task denoise --dataset mnist --seeds 3"),
    r(
        "hebbian-denoise-fashion",
        "The denoising autoencoder on Fashion-MNIST test images: plastic against non-plastic",
        "hebbian --task denoise --dataset fashion --seeds 3",
    ),
];

/// The result called `name`.
pub fn find(name: &str) -> Option<&'static Reproducible> {
    RESULTS.iter().find(|r| r.name == name)
}

/// `--seeds 3` means seeds 1, 2, 3; `--seeds 4,8` means exactly those.
#[derive(Debug, Clone, PartialEq)]
pub struct Seeds(pub Vec<u64>);

impl FromStr for Seeds {
    type Err = String;

    fn from_str(raw: &str) -> Result<Self, String> {
        if raw.contains(',') {
            let seeds = raw
                .split(',')
                .map(|v| v.trim().parse::<u64>().map_err(|_| format!("'{v}' is not a seed (a whole number)")))
                .collect::<Result<Vec<_>, _>>()?;
            return Ok(Seeds(seeds));
        }
        let n: u64 = raw.trim().parse().map_err(|_| format!("'{raw}' is neither a count (3) nor a list (1,2,3)"))?;
        if !(1..=100).contains(&n) {
            return Err(format!("{n} seeds: choose 1 to 100"));
        }
        Ok(Seeds((1..=n).collect()))
    }
}

impl Reproducible {
    /// The folder it writes, relative to the repository's root.
    pub fn dir(&self) -> String {
        format!("results/{}", self.name)
    }

    /// The command's words after `metaplastic`, `--out` included.
    pub fn words(&self) -> Vec<String> {
        self.args.split_whitespace().map(str::to_string).chain(["--out".to_string(), self.dir()]).collect()
    }

    /// The command as a person types it.
    pub fn command(&self) -> String {
        format!("metaplastic {}", self.words().join(" "))
    }

    /// The seeds its command runs.
    pub fn seeds(&self) -> Vec<u64> {
        let words: Vec<&str> = self.args.split_whitespace().collect();
        let given = words.windows(2).find(|w| w[0] == "--seeds").map(|w| w[1]);
        // The tool's default is 3 seeds; every entry names its own (a test checks it).
        given.and_then(|s| s.parse::<Seeds>().ok()).map_or_else(|| vec![1, 2, 3], |s| s.0)
    }

    /// Each seed's run as one command of its own, writing `results/<name>/seed-<k>/`: a sweep a
    /// batch scheduler can run in any order, then `metaplastic reproduce <name> --merge`.
    pub fn per_seed(&self) -> Vec<(u64, String)> {
        let mut words: Vec<&str> = self.args.split_whitespace().collect();
        if let Some(i) = words.iter().position(|w| *w == "--seeds") {
            words.drain(i..(i + 2).min(words.len()));
        }
        let base = words.join(" ");
        self.seeds().into_iter().map(|k| (k, format!("metaplastic {base} --seed {k} --out {}/seed-{k}", self.dir()))).collect()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn names_are_unique_and_every_command_names_its_seeds() {
        let mut names: Vec<&str> = RESULTS.iter().map(|r| r.name).collect();
        names.sort_unstable();
        names.dedup();
        assert_eq!(names.len(), RESULTS.len());
        for r in RESULTS {
            assert!(!r.args.contains("--out"), "{}: the folder comes from the name", r.name);
            assert!(r.args.contains("--seeds "), "{}: says its seeds", r.name);
            assert!(r.name.chars().all(|c| c.is_ascii_lowercase() || c.is_ascii_digit() || c == '-'), "{}", r.name);
        }
    }

    #[test]
    fn seeds_are_a_count_or_a_list() {
        assert_eq!("3".parse::<Seeds>(), Ok(Seeds(vec![1, 2, 3])));
        assert_eq!("4,8".parse::<Seeds>(), Ok(Seeds(vec![4, 8])));
        assert_eq!("2,".parse::<Seeds>().map(|s| s.0).ok(), None);
        assert!("0".parse::<Seeds>().is_err() && "x".parse::<Seeds>().is_err());
    }

    #[test]
    fn each_seed_becomes_a_command_of_its_own() {
        let r = find("lenet-mnist-classic-energy").expect("listed");
        let runs = r.per_seed();
        assert_eq!(runs.len(), 10);
        assert_eq!(runs[1].0, 2);
        assert_eq!(
            runs[1].1,
            "metaplastic lenet --dataset mnist --arch classic --epochs 1 --train-examples 30000 --rule standard,amp,amp-centred --seed 2 --out results/lenet-mnist-classic-energy/seed-2"
        );
    }
}
