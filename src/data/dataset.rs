//! MNIST and Fashion-MNIST as the app and the tool use them: a train and a test split of 28x28
//! `u8` images with labels 0..10, possibly still arriving.

use super::idx::{IdxDecoder, IdxError, IdxHeader, IdxKind};
use std::borrow::Cow;

pub const IMAGE_SIDE: usize = 28;
pub const IMAGE_PIXELS: usize = IMAGE_SIDE * IMAGE_SIDE;
pub const NUM_CLASSES: usize = 10;

#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, serde::Serialize, serde::Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum DataSetId {
    Mnist,
    Fashion,
}

impl DataSetId {
    pub const ALL: [DataSetId; 2] = [DataSetId::Mnist, DataSetId::Fashion];

    /// Folder under `static/data/`, also the name used in URLs and on the command line.
    pub const fn dir(self) -> &'static str {
        match self {
            DataSetId::Mnist => "mnist",
            DataSetId::Fashion => "fashion",
        }
    }

    pub const fn title(self) -> &'static str {
        match self {
            DataSetId::Mnist => "MNIST",
            DataSetId::Fashion => "Fashion-MNIST",
        }
    }

    pub const fn class_names(self) -> [&'static str; NUM_CLASSES] {
        match self {
            DataSetId::Mnist => ["0", "1", "2", "3", "4", "5", "6", "7", "8", "9"],
            DataSetId::Fashion => {
                ["T-shirt", "Trouser", "Pullover", "Dress", "Coat", "Sandal", "Shirt", "Sneaker", "Bag", "Boot"]
            }
        }
    }

    pub fn parse(name: &str) -> Option<Self> {
        Self::ALL.into_iter().find(|id| id.dir() == name)
    }
}

/// The four files of a data set.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum FileRole {
    TrainImages,
    TrainLabels,
    TestImages,
    TestLabels,
}

impl FileRole {
    pub const ALL: [FileRole; 4] = [FileRole::TrainImages, FileRole::TrainLabels, FileRole::TestImages, FileRole::TestLabels];

    /// The canonical file name, as served (gzip-compressed).
    pub const fn file_name(self) -> &'static str {
        match self {
            FileRole::TrainImages => "train-images-idx3-ubyte.gz",
            FileRole::TrainLabels => "train-labels-idx1-ubyte.gz",
            FileRole::TestImages => "t10k-images-idx3-ubyte.gz",
            FileRole::TestLabels => "t10k-labels-idx1-ubyte.gz",
        }
    }

    pub const fn kind(self) -> IdxKind {
        match self {
            FileRole::TrainImages | FileRole::TestImages => IdxKind::Images,
            FileRole::TrainLabels | FileRole::TestLabels => IdxKind::Labels,
        }
    }

    pub const fn is_train(self) -> bool {
        matches!(self, FileRole::TrainImages | FileRole::TrainLabels)
    }
}

/// Read access to labelled 28x28 examples, complete or still streaming in.
pub trait Examples {
    fn len(&self) -> usize;
    /// The image's bytes: borrowed where the examples live in this memory, a copy where they live
    /// elsewhere (the page's shared buffer, read by a worker).
    fn image(&self, i: usize) -> Cow<'_, [u8]>;
    fn label(&self, i: usize) -> u8;
    fn is_empty(&self) -> bool {
        self.len() == 0
    }
}

/// One complete split (train or test).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Split {
    images: Vec<u8>,
    labels: Vec<u8>,
}

impl Split {
    /// Pairs decoded images and labels, checking that they belong together.
    pub fn new(images: (IdxHeader, Vec<u8>), labels: (IdxHeader, Vec<u8>)) -> Result<Self, IdxError> {
        check_image_size(&images.0)?;
        if images.0.count != labels.0.count {
            return Err(IdxError::CountMismatch { images: images.0.count, labels: labels.0.count });
        }
        Ok(Self { images: images.1, labels: labels.1 })
    }

    /// Decodes a split from its two gzip-compressed IDX files.
    pub fn from_gz(images_gz: &[u8], labels_gz: &[u8]) -> Result<Self, IdxError> {
        let images = IdxDecoder::gzip(IdxKind::Images, NUM_CLASSES as u8).decode_all(images_gz)?;
        let labels = IdxDecoder::gzip(IdxKind::Labels, NUM_CLASSES as u8).decode_all(labels_gz)?;
        Self::new(images, labels)
    }

    pub fn labels(&self) -> &[u8] {
        &self.labels
    }
}

impl Examples for Split {
    fn len(&self) -> usize {
        self.labels.len()
    }
    fn image(&self, i: usize) -> Cow<'_, [u8]> {
        Cow::Borrowed(&self.images[i * IMAGE_PIXELS..(i + 1) * IMAGE_PIXELS])
    }
    fn label(&self, i: usize) -> u8 {
        self.labels[i]
    }
}

fn check_image_size(header: &IdxHeader) -> Result<(), IdxError> {
    if header.rows != IMAGE_SIDE || header.cols != IMAGE_SIDE {
        return Err(IdxError::WrongImageSize { rows: header.rows, cols: header.cols, expected: IMAGE_SIDE });
    }
    Ok(())
}

/// A split whose two files are still arriving. Examples are usable as soon as both the image and
/// its label have been decoded, so training can start before the download ends.
pub struct SplitBuilder {
    images: IdxDecoder,
    labels: IdxDecoder,
}

impl Default for SplitBuilder {
    fn default() -> Self {
        Self::new()
    }
}

impl SplitBuilder {
    pub fn new() -> Self {
        Self {
            images: IdxDecoder::gzip(IdxKind::Images, NUM_CLASSES as u8),
            labels: IdxDecoder::gzip(IdxKind::Labels, NUM_CLASSES as u8),
        }
    }

    /// A builder whose owner takes the decoded bytes as they arrive ([`Self::take_decoded`]) and
    /// holds the examples itself: as [`Examples`] it has none.
    pub fn spilling() -> Self {
        Self {
            images: IdxDecoder::gzip(IdxKind::Images, NUM_CLASSES as u8).spilling(),
            labels: IdxDecoder::gzip(IdxKind::Labels, NUM_CLASSES as u8).spilling(),
        }
    }

    /// The bytes of one file decoded since the last call, with their offset in its payload.
    pub fn take_decoded(&mut self, kind: IdxKind) -> (usize, Vec<u8>) {
        match kind {
            IdxKind::Images => self.images.take_decoded(),
            IdxKind::Labels => self.labels.take_decoded(),
        }
    }

    pub fn decoder(&self, kind: IdxKind) -> &IdxDecoder {
        match kind {
            IdxKind::Images => &self.images,
            IdxKind::Labels => &self.labels,
        }
    }

    /// Feeds the next chunk of the images or the labels file.
    pub fn push(&mut self, kind: IdxKind, chunk: &[u8]) -> Result<(), IdxError> {
        match kind {
            IdxKind::Images => {
                self.images.push(chunk)?;
                match self.images.header() {
                    Some(h) => check_image_size(h),
                    None => Ok(()),
                }
            }
            IdxKind::Labels => self.labels.push(chunk),
        }
    }

    /// Starts one file again from its first byte, keeping the other: after corrupt data, the
    /// decoded prefix of that file cannot be trusted, but its partner can.
    pub fn restart(&mut self, kind: IdxKind) {
        let spilling = self.images.is_spilling();
        let fresh = IdxDecoder::gzip(kind, NUM_CLASSES as u8);
        let fresh = if spilling { fresh.spilling() } else { fresh };
        match kind {
            IdxKind::Images => self.images = fresh,
            IdxKind::Labels => self.labels = fresh,
        }
    }

    /// The number of examples the header promises, once both headers are in.
    pub fn expected(&self) -> Option<usize> {
        Some(self.images.header()?.count.min(self.labels.header()?.count))
    }

    pub fn finish(self) -> Result<Split, IdxError> {
        Split::new(self.images.finish()?, self.labels.finish()?)
    }
}

impl Examples for SplitBuilder {
    fn len(&self) -> usize {
        if self.images.is_spilling() {
            return 0;
        }
        self.images.items_ready().min(self.labels.items_ready())
    }
    fn image(&self, i: usize) -> Cow<'_, [u8]> {
        Cow::Borrowed(&self.images.data()[i * IMAGE_PIXELS..(i + 1) * IMAGE_PIXELS])
    }
    fn label(&self, i: usize) -> u8 {
        self.labels.data()[i]
    }
}

/// A whole data set, both splits complete.
pub struct DataSet {
    pub id: DataSetId,
    pub train: Split,
    pub test: Split,
}

impl DataSet {
    /// Loads `<root>/<id.dir()>/*.gz`, as the fetch step lays them out.
    #[cfg(not(target_arch = "wasm32"))]
    pub fn load(root: &std::path::Path, id: DataSetId) -> Result<Self, IdxError> {
        let read = |role: FileRole| {
            let path = root.join(id.dir()).join(role.file_name());
            std::fs::read(&path).map_err(|e| IdxError::Io {
                path: path.display().to_string(),
                reason: format!("{e} (run scripts/fetch-data.sh to fetch the data sets)"),
            })
        };
        let train = Split::from_gz(&read(FileRole::TrainImages)?, &read(FileRole::TrainLabels)?)?;
        let test = Split::from_gz(&read(FileRole::TestImages)?, &read(FileRole::TestLabels)?)?;
        Ok(Self { id, train, test })
    }
}

/// Copies examples `indices` into a batch: pixels scaled to [0, 1] (row-major, one image per row)
/// and labels. This is the one place bytes become floats, one batch at a time.
pub fn fill_batch(examples: &dyn Examples, indices: &[usize], pixels: &mut [f32], labels: &mut [u32]) {
    assert_eq!(pixels.len(), indices.len() * IMAGE_PIXELS, "pixel buffer must hold the batch");
    assert_eq!(labels.len(), indices.len(), "label buffer must hold the batch");
    for (row, &i) in indices.iter().enumerate() {
        for (dst, &src) in pixels[row * IMAGE_PIXELS..(row + 1) * IMAGE_PIXELS].iter_mut().zip(examples.image(i).iter()) {
            *dst = f32::from(src) / 255.0;
        }
        labels[row] = u32::from(examples.label(i));
    }
}
