//! The IDX reader: every kind of bad input gives its typed error, never a panic.

mod common;
use common::*;
use metaplastic::data::{IdxDecoder, IdxError, IdxKind, Split};
use rand::{RngExt, SeedableRng, rngs::StdRng};

fn decode(kind: IdxKind, gz: &[u8]) -> Result<(metaplastic::data::IdxHeader, Vec<u8>), IdxError> {
    IdxDecoder::gzip(kind, 10).decode_all(gz)
}

#[test]
fn reads_valid_images_and_labels() {
    let (pixels, labels) = synthetic_split(5, 3);
    let split = Split::from_gz(&gzip(&idx_images(5, 28, 28, &pixels)), &gzip(&idx_labels(&labels))).unwrap();
    use metaplastic::data::Examples;
    assert_eq!(split.len(), 5);
    assert_eq!(split.image(4), &pixels[4 * 784..5 * 784]);
    assert_eq!(split.labels(), &labels[..]);
}

#[test]
fn wrong_magic() {
    let labels = gzip(&idx_labels(&[1, 2]));
    assert_eq!(decode(IdxKind::Images, &labels), Err(IdxError::BadMagic { kind: IdxKind::Images, found: 2049 }));
    let images = gzip(&idx_images(1, 28, 28, &[0; 784]));
    assert_eq!(decode(IdxKind::Labels, &images), Err(IdxError::BadMagic { kind: IdxKind::Labels, found: 2051 }));
}

#[test]
fn wrong_dimensions() {
    let zero = gzip(&idx_images(1, 0, 28, &[]));
    assert!(matches!(decode(IdxKind::Images, &zero), Err(IdxError::BadDimensions(_))));
    // A header asking for terabytes must be refused before anything is allocated.
    let huge = gzip(&idx_images(u32::MAX, 4000, 4000, &[]));
    assert!(matches!(decode(IdxKind::Images, &huge), Err(IdxError::BadDimensions(_))));
    // Valid IDX, but not the 28x28 images the networks take.
    let small = gzip(&idx_images(2, 8, 8, &[0; 128]));
    let labels = gzip(&idx_labels(&[0, 1]));
    assert_eq!(Split::from_gz(&small, &labels), Err(IdxError::WrongImageSize { rows: 8, cols: 8, expected: 28 }));
}

#[test]
fn truncated_payload_and_header() {
    let full = idx_images(3, 28, 28, &[7; 3 * 784]);
    let cut = gzip(&full[..full.len() - 100]);
    assert_eq!(decode(IdxKind::Images, &cut), Err(IdxError::Truncated { expected: 3 * 784, got: 3 * 784 - 100 }));
    let header_only = gzip(&full[..10]);
    assert_eq!(decode(IdxKind::Images, &header_only), Err(IdxError::Truncated { expected: 16, got: 10 }));
}

#[test]
fn payload_longer_than_header() {
    let mut long = idx_labels(&[1, 2, 3]);
    long.push(4);
    assert_eq!(decode(IdxKind::Labels, &gzip(&long)), Err(IdxError::TooLong { expected: 3 }));
}

#[test]
fn label_out_of_range() {
    let bad = gzip(&idx_labels(&[0, 9, 10, 3]));
    assert_eq!(decode(IdxKind::Labels, &bad), Err(IdxError::LabelOutOfRange { index: 2, label: 10, classes: 10 }));
}

#[test]
fn image_label_count_mismatch() {
    let (pixels, labels) = synthetic_split(4, 0);
    let images = gzip(&idx_images(4, 28, 28, &pixels));
    let labels = gzip(&idx_labels(&labels[..3]));
    assert_eq!(Split::from_gz(&images, &labels), Err(IdxError::CountMismatch { images: 4, labels: 3 }));
}

#[test]
fn corrupt_gzip() {
    use metaplastic::data::IdxError::Gzip;
    let good = gzip(&idx_labels(&[1; 1000]));
    // Not gzip at all: raw IDX served where .gz was expected.
    assert!(matches!(decode(IdxKind::Labels, &idx_labels(&[1])), Err(Gzip(_))));
    // A cut inside the compressed stream: the deflate body or trailer never ends.
    let cut = &good[..good.len() - 4];
    assert!(matches!(decode(IdxKind::Labels, cut), Err(Gzip(_))));
    // A flipped bit in the CRC trailer.
    let mut crc = good.clone();
    let at = crc.len() - 6;
    crc[at] ^= 0x40;
    assert!(matches!(decode(IdxKind::Labels, &crc), Err(Gzip(_))));
    // Bytes after the end of the stream.
    let mut trailing = good.clone();
    trailing.extend_from_slice(b"junk");
    assert!(matches!(decode(IdxKind::Labels, &trailing), Err(Gzip(_))));
    // Garbage in the deflate body.
    let mut body = good.clone();
    for b in &mut body[12..20] {
        *b = 0xff;
    }
    assert!(decode(IdxKind::Labels, &body).is_err());
}

#[test]
fn chunked_decoding_equals_whole_file() {
    let (pixels, _) = synthetic_split(40, 9);
    let gz = gzip(&idx_images(40, 28, 28, &pixels));
    let whole = decode(IdxKind::Images, &gz).unwrap();
    let mut rng = StdRng::seed_from_u64(1);
    for _ in 0..20 {
        let mut dec = IdxDecoder::gzip(IdxKind::Images, 10);
        let mut rest = &gz[..];
        let mut ready = 0;
        while !rest.is_empty() {
            let n = rng.random_range(1..=rest.len().min(3000));
            dec.push(&rest[..n]).unwrap();
            rest = &rest[n..];
            // Examples appear progressively and never go backwards.
            assert!(dec.items_ready() >= ready);
            ready = dec.items_ready();
        }
        assert_eq!(dec.bytes_consumed(), gz.len() as u64);
        assert_eq!(dec.finish().unwrap(), whole);
    }
}

/// A spilling decoder (the page's: it hands the payload on as it arrives) gives the same bytes at
/// the right offsets, counts items the same, still catches a payload longer than its header and a
/// truncated one, and never holds the whole payload at once.
#[test]
fn spilling_decoder_hands_out_the_payload_as_it_arrives() {
    let (pixels, labels) = synthetic_split(200, 9);
    let gz = gzip(&idx_images(200, 28, 28, &pixels));
    let whole = decode(IdxKind::Images, &gz).unwrap().1;
    let mut rng = StdRng::seed_from_u64(2);
    for _ in 0..10 {
        let mut dec = IdxDecoder::gzip(IdxKind::Images, 10).spilling();
        let mut kept = vec![0u8; whole.len()];
        let mut rest = &gz[..];
        let mut most_held = 0;
        while !rest.is_empty() {
            let n = rng.random_range(1..=rest.len().min(3000));
            dec.push(&rest[..n]).unwrap();
            rest = &rest[n..];
            most_held = most_held.max(dec.data().len());
            let (offset, bytes) = dec.take_decoded();
            kept[offset..offset + bytes.len()].copy_from_slice(&bytes);
            assert!(dec.data().is_empty());
        }
        assert_eq!(kept, whole);
        assert_eq!(dec.items_ready(), 200);
        assert!(most_held < whole.len(), "held {most_held} of {} bytes at once", whole.len());
        dec.check_complete().unwrap();
    }
    // A truncated file is still caught once its payload was taken.
    let mut dec = IdxDecoder::gzip(IdxKind::Labels, 10).spilling();
    let body = idx_labels(&labels);
    let mut raw = IdxDecoder::raw(IdxKind::Labels, 10).spilling();
    raw.push(&body[..body.len() - 3]).unwrap();
    raw.take_decoded();
    assert!(matches!(raw.check_complete(), Err(IdxError::Truncated { .. })));
    // And one longer than its header promised.
    let mut longer = body.clone();
    longer.extend_from_slice(&[1, 2]);
    let mut raw = IdxDecoder::raw(IdxKind::Labels, 10).spilling();
    raw.push(&longer[..20]).unwrap();
    raw.take_decoded();
    assert!(matches!(raw.push(&longer[20..]), Err(IdxError::TooLong { .. })));
    dec.push(&gzip(&body)).unwrap();
    assert_eq!(dec.take_decoded(), (0, labels.clone()));
}

/// Property: random bytes, and valid files with random damage, never panic the reader; damage to
/// a valid file is detected (gzip's CRC makes silent corruption vanishingly unlikely).
#[test]
fn random_bytes_never_panic() {
    let mut rng = StdRng::seed_from_u64(42);
    for _ in 0..3000 {
        let len = rng.random_range(0..200);
        let bytes: Vec<u8> = (0..len).map(|_| rng.random()).collect();
        for kind in [IdxKind::Images, IdxKind::Labels] {
            let _ = IdxDecoder::gzip(kind, 10).decode_all(&bytes);
            let _ = IdxDecoder::raw(kind, 10).decode_all(&bytes);
        }
    }
    let (pixels, labels) = synthetic_split(6, 1);
    let files = [gzip(&idx_images(6, 28, 28, &pixels)), gzip(&idx_labels(&labels))];
    for _ in 0..2000 {
        let (kind, file) = if rng.random() { (IdxKind::Images, &files[0]) } else { (IdxKind::Labels, &files[1]) };
        let mut damaged = file.clone();
        match rng.random_range(0..3) {
            0 => damaged.truncate(rng.random_range(0..file.len())),
            1 => {
                let at = rng.random_range(0..file.len());
                damaged[at] ^= rng.random_range(1..=255u8);
            }
            _ => {
                let at = rng.random_range(0..=file.len());
                damaged.insert(at, rng.random());
            }
        }
        let result = IdxDecoder::gzip(kind, 10).decode_all(&damaged);
        // A flip in the gzip header's mtime/xfl/os bytes (4..10) changes nothing that matters.
        if result.is_ok() {
            let same = decode(kind, file).unwrap();
            assert_eq!(result.unwrap(), same, "damage went undetected and changed the data");
        }
    }
}
