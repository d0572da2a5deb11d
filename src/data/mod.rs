//! The data sets: IDX files (gzip-compressed) decoded incrementally into `u8` examples.
//!
//! One decoder, [`IdxDecoder`], serves both the native loader (which hands it a whole file) and the
//! browser (which hands it network chunks as they arrive), so a bug cannot hide in only one path.

mod compact;
mod dataset;
mod drawing;
mod gzip;
mod idx;

pub use compact::{CompactError, CompactImages, CompactWriter, check_table, code_range, decode, table_len};
pub use dataset::{fill_batch, DataSet, DataSetId, Examples, FileRole, Split, SplitBuilder, IMAGE_PIXELS, IMAGE_SIDE, NUM_CLASSES};
pub use drawing::{INK_BOX, prepare_drawing};
pub use gzip::GzipStream;
pub use idx::{IdxDecoder, IdxError, IdxHeader, IdxKind};
