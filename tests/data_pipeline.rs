//! The data pipeline on small IDX files written here: load from disk as the tool does, stream in
//! chunks as the browser does, and turn examples into float batches.

mod common;
use common::*;
use metaplastic::data::{CompactImages, DataSet, DataSetId, Examples, FileRole, IMAGE_PIXELS, IdxError, IdxKind, SplitBuilder, fill_batch};

fn write_set(root: &std::path::Path, id: DataSetId, train: usize, test: usize) {
    let dir = root.join(id.dir());
    std::fs::create_dir_all(&dir).unwrap();
    for role in FileRole::ALL {
        let n = if role.is_train() { train } else { test };
        let (pixels, labels) = synthetic_split(n, role.is_train() as u8);
        let raw = match role.kind() {
            IdxKind::Images => idx_images(n as u32, 28, 28, &pixels),
            IdxKind::Labels => idx_labels(&labels),
        };
        std::fs::write(dir.join(role.file_name()), gzip(&raw)).unwrap();
    }
}

fn temp_root(name: &str) -> std::path::PathBuf {
    let root = std::env::temp_dir().join(format!("metaplastic-test-{name}-{}", std::process::id()));
    let _ = std::fs::remove_dir_all(&root);
    root
}

#[test]
fn loads_a_data_set_from_disk() {
    let root = temp_root("load");
    write_set(&root, DataSetId::Fashion, 30, 12);
    let set = DataSet::load(&root, DataSetId::Fashion).unwrap();
    assert_eq!((set.train.len(), set.test.len()), (30, 12));
    let (pixels, labels) = synthetic_split(12, 0);
    assert_eq!(set.test.image(11), &pixels[11 * 784..]);
    assert_eq!(set.test.labels(), &labels[..]);
    std::fs::remove_dir_all(&root).unwrap();
}

#[test]
fn missing_file_says_how_to_fetch() {
    let root = temp_root("missing");
    match DataSet::load(&root, DataSetId::Mnist) {
        Err(IdxError::Io { path, reason }) => {
            assert!(path.ends_with("train-images-idx3-ubyte.gz"), "{path}");
            assert!(reason.contains("fetch-data"), "{reason}");
        }
        Err(other) => panic!("expected an Io error, got {other}"),
        Ok(_) => panic!("expected an Io error, got a data set"),
    }
}

#[test]
fn streaming_builder_serves_examples_before_the_end() {
    let (pixels, labels) = synthetic_split(50, 5);
    let images = gzip(&idx_images(50, 28, 28, &pixels));
    let labels_gz = gzip(&idx_labels(&labels));
    let mut split = SplitBuilder::new();
    split.push(IdxKind::Labels, &labels_gz).unwrap();
    assert_eq!(split.len(), 0, "no image has arrived yet");
    let half = images.len() / 2;
    split.push(IdxKind::Images, &images[..half]).unwrap();
    let early = split.len();
    assert!(early > 0 && early < 50, "half the file gives some but not all examples ({early})");
    assert_eq!(split.expected(), Some(50));
    for i in 0..early {
        assert_eq!(&*split.image(i), &pixels[i * 784..(i + 1) * 784]);
        assert_eq!(split.label(i), labels[i]);
    }
    split.push(IdxKind::Images, &images[half..]).unwrap();
    assert_eq!(split.len(), 50);
    let done = split.finish().unwrap();
    assert_eq!(done.len(), 50);
}

#[test]
fn streaming_rejects_wrong_image_size_at_the_header() {
    let mut split = SplitBuilder::new();
    let bad = gzip(&idx_images(2, 32, 32, &[0; 2048]));
    assert_eq!(split.push(IdxKind::Images, &bad), Err(IdxError::WrongImageSize { rows: 32, cols: 32, expected: 28 }));
}

#[test]
fn batches_scale_pixels_to_unit_range() {
    let root = temp_root("batch");
    write_set(&root, DataSetId::Mnist, 20, 5);
    let set = DataSet::load(&root, DataSetId::Mnist).unwrap();
    let indices = [3, 17, 0];
    let mut pixels = vec![0.0; 3 * 784];
    let mut labels = vec![0; 3];
    fill_batch(&set.train, &indices, &mut pixels, &mut labels);
    for (row, &i) in indices.iter().enumerate() {
        assert_eq!(labels[row], u32::from(set.train.label(i)));
        for (p, &b) in pixels[row * 784..(row + 1) * 784].iter().zip(set.train.image(i).iter()) {
            assert_eq!(*p, f32::from(b) / 255.0);
        }
    }
    assert!(pixels.iter().all(|p| (0.0..=1.0).contains(p)));
    std::fs::remove_dir_all(&root).unwrap();
}

/// Where the real files are, when the fetch step has put them in place (the test command always
/// does; under CI=true their absence fails the test).
fn real_data() -> Option<std::path::PathBuf> {
    let root = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("static/data");
    if !root.join("mnist").exists() && std::env::var("CI").is_ok_and(|v| v == "true") {
        panic!("CI=true but static/data is missing: the test command runs scripts/fetch-data.sh first");
    }
    if !root.join("mnist").exists() {
        common::skipped("static/data missing (run scripts/fetch-data.sh)");
        return None;
    }
    Some(root)
}

/// The real files, when the fetch step has put them in place.
#[test]
fn real_data_sets_when_present() {
    let Some(root) = real_data() else { return };
    let mnist = DataSet::load(&root, DataSetId::Mnist).unwrap();
    assert_eq!((mnist.train.len(), mnist.test.len()), (60_000, 10_000));
    assert_eq!(&mnist.train.labels()[..10], &[5, 0, 4, 1, 9, 2, 1, 3, 1, 4]);
    assert_eq!(&mnist.test.labels()[..10], &[7, 2, 1, 0, 4, 1, 4, 9, 5, 9]);
    let fashion = DataSet::load(&root, DataSetId::Fashion).unwrap();
    assert_eq!((fashion.train.len(), fashion.test.len()), (60_000, 10_000));
    assert_eq!(&fashion.train.labels()[..4], &[9, 0, 0, 3]);
}

/// The page holds the images compact (`data::compact`): every real image comes back exactly, in
/// about a quarter of MNIST's bytes and under two thirds of Fashion-MNIST's.
#[test]
fn real_images_held_compact_come_back_exactly() {
    let Some(root) = real_data() else { return };
    for (id, most) in [(DataSetId::Mnist, 0.27), (DataSetId::Fashion, 0.63)] {
        let set = DataSet::load(&root, id).unwrap();
        for split in [&set.train, &set.test] {
            let plain: Vec<u8> = (0..split.len()).flat_map(|i| split.image(i).into_owned()).collect();
            let compact = CompactImages::encode_all(&plain);
            let ratio = compact.as_bytes().len() as f64 / plain.len() as f64;
            println!("{}: {} images in {} bytes, {:.1}% of {}", id.title(), split.len(), compact.as_bytes().len(), 100.0 * ratio, plain.len());
            assert!(ratio < most, "{} held in {:.1}% of its bytes", id.title(), 100.0 * ratio);
            let mut out = vec![0; IMAGE_PIXELS];
            for i in 0..split.len() {
                compact.image_into(i, &mut out);
                assert_eq!(out[..], split.image(i)[..], "{} image {i}", id.title());
            }
        }
    }
}
