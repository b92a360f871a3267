//! MJPEG frames as USB (UVC) webcams really send them, made decodable.
//!
//! A UVC MJPEG frame is not a tidy JPEG file. What the `image` crate's JPEG decoder (zune-jpeg
//! 0.5) does with each kind, measured on frames made from a real photo (the tests below):
//!
//! | the frame | zune-jpeg alone | here |
//! |---|---|---|
//! | no Huffman tables (no DHT segment: the UVC payload format lets cameras leave them out) | fails: "No DC table for component Y" (it fills in the standard tables only after an `AVI1` APP0 block, which UVC frames do not carry) | the standard tables of JPEG Annex K (ITU-T T.81, K.3) are inserted before the scan, as FFmpeg's mjpeg decoder and mjpg-streamer do: decodes, pixel for pixel as with the tables |
//! | 4:2:2 sampling (most webcams) | decodes | decodes |
//! | bytes after the end-of-image marker (the rest of the USB buffer) | decodes | cut at the marker, decodes |
//! | cut off (a USB packet lost, the stream stopped mid-frame) | "decodes": the missing part filled with grey, no error | dropped: no end-of-image marker after the scan |
//!
//! [`prepare`] walks the frame's marker segments and its entropy-coded scan (never decoding a
//! pixel) to find the end-of-image marker, the sampling and whether Huffman tables are there;
//! [`decode`] then decodes with the negotiated size as the pixel limit.

use std::borrow::Cow;

use crate::util::image::RgbImage;

/// Why a frame cannot be used: each kind is counted and logged once by the camera.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum Fault {
    /// No start-of-image marker: not JPEG at all (or a camera's unannounced format).
    #[error("not a JPEG frame (it starts with {0})")]
    NotJpeg(String),
    /// The frame ends before its end-of-image marker.
    #[error("cut off: {0}")]
    CutOff(String),
    /// A marker where none may be (a corrupted header).
    #[error("corrupt: {0}")]
    Corrupt(String),
    /// The decoder refused it (after the repairs above).
    #[error("does not decode: {0}")]
    Undecodable(String),
}

impl Fault {
    /// The kind, for counting.
    pub fn kind(&self) -> &'static str {
        match self {
            Fault::NotJpeg(_) => "MJPEG that is not JPEG",
            Fault::CutOff(_) => "cut-off MJPEG",
            Fault::Corrupt(_) => "corrupt MJPEG",
            Fault::Undecodable(_) => "undecodable MJPEG",
        }
    }
}

/// Chroma sampling, from the frame header.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Sampling {
    S444,
    S422,
    S420,
    /// Greyscale, or factors this module does not name.
    Other,
}

impl std::fmt::Display for Sampling {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(match self {
            Sampling::S444 => "4:4:4",
            Sampling::S422 => "4:2:2",
            Sampling::S420 => "4:2:0",
            Sampling::Other => "other",
        })
    }
}

/// What a frame needed besides decoding (the camera logs each once).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct Notes {
    /// It had no Huffman tables: the standard ones were inserted.
    pub standard_tables: bool,
    /// Bytes after the end-of-image marker, cut.
    pub trailing: usize,
    pub sampling: Option<Sampling>,
}

/// A frame ready for the decoder: the bytes from the start to the end-of-image marker, with the
/// standard Huffman tables inserted when it had none.
#[derive(Debug)]
pub struct Prepared<'a> {
    pub bytes: Cow<'a, [u8]>,
    pub notes: Notes,
}

/// Huffman tables of JPEG Annex K (K.3): (class and id byte, codes per length 1..=16, values).
const STANDARD_TABLES: [(u8, [u8; 16], &[u8]); 4] = [
    // Luminance DC (Table K.3).
    (0x00, [0, 1, 5, 1, 1, 1, 1, 1, 1, 0, 0, 0, 0, 0, 0, 0], &[0, 1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11]),
    // Chrominance DC (Table K.4).
    (0x01, [0, 3, 1, 1, 1, 1, 1, 1, 1, 1, 1, 0, 0, 0, 0, 0], &[0, 1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11]),
    // Luminance AC (Table K.5).
    (
        0x10,
        [0, 2, 1, 3, 3, 2, 4, 3, 5, 5, 4, 4, 0, 0, 1, 0x7d],
        &[
            0x01, 0x02, 0x03, 0x00, 0x04, 0x11, 0x05, 0x12, 0x21, 0x31, 0x41, 0x06, 0x13, 0x51, 0x61, 0x07, 0x22, 0x71, 0x14, 0x32, 0x81,
            0x91, 0xa1, 0x08, 0x23, 0x42, 0xb1, 0xc1, 0x15, 0x52, 0xd1, 0xf0, 0x24, 0x33, 0x62, 0x72, 0x82, 0x09, 0x0a, 0x16, 0x17, 0x18,
            0x19, 0x1a, 0x25, 0x26, 0x27, 0x28, 0x29, 0x2a, 0x34, 0x35, 0x36, 0x37, 0x38, 0x39, 0x3a, 0x43, 0x44, 0x45, 0x46, 0x47, 0x48,
            0x49, 0x4a, 0x53, 0x54, 0x55, 0x56, 0x57, 0x58, 0x59, 0x5a, 0x63, 0x64, 0x65, 0x66, 0x67, 0x68, 0x69, 0x6a, 0x73, 0x74, 0x75,
            0x76, 0x77, 0x78, 0x79, 0x7a, 0x83, 0x84, 0x85, 0x86, 0x87, 0x88, 0x89, 0x8a, 0x92, 0x93, 0x94, 0x95, 0x96, 0x97, 0x98, 0x99,
            0x9a, 0xa2, 0xa3, 0xa4, 0xa5, 0xa6, 0xa7, 0xa8, 0xa9, 0xaa, 0xb2, 0xb3, 0xb4, 0xb5, 0xb6, 0xb7, 0xb8, 0xb9, 0xba, 0xc2, 0xc3,
            0xc4, 0xc5, 0xc6, 0xc7, 0xc8, 0xc9, 0xca, 0xd2, 0xd3, 0xd4, 0xd5, 0xd6, 0xd7, 0xd8, 0xd9, 0xda, 0xe1, 0xe2, 0xe3, 0xe4, 0xe5,
            0xe6, 0xe7, 0xe8, 0xe9, 0xea, 0xf1, 0xf2, 0xf3, 0xf4, 0xf5, 0xf6, 0xf7, 0xf8, 0xf9, 0xfa,
        ],
    ),
    // Chrominance AC (Table K.6).
    (
        0x11,
        [0, 2, 1, 2, 4, 4, 3, 4, 7, 5, 4, 4, 0, 1, 2, 0x77],
        &[
            0x00, 0x01, 0x02, 0x03, 0x11, 0x04, 0x05, 0x21, 0x31, 0x06, 0x12, 0x41, 0x51, 0x07, 0x61, 0x71, 0x13, 0x22, 0x32, 0x81, 0x08,
            0x14, 0x42, 0x91, 0xa1, 0xb1, 0xc1, 0x09, 0x23, 0x33, 0x52, 0xf0, 0x15, 0x62, 0x72, 0xd1, 0x0a, 0x16, 0x24, 0x34, 0xe1, 0x25,
            0xf1, 0x17, 0x18, 0x19, 0x1a, 0x26, 0x27, 0x28, 0x29, 0x2a, 0x35, 0x36, 0x37, 0x38, 0x39, 0x3a, 0x43, 0x44, 0x45, 0x46, 0x47,
            0x48, 0x49, 0x4a, 0x53, 0x54, 0x55, 0x56, 0x57, 0x58, 0x59, 0x5a, 0x63, 0x64, 0x65, 0x66, 0x67, 0x68, 0x69, 0x6a, 0x73, 0x74,
            0x75, 0x76, 0x77, 0x78, 0x79, 0x7a, 0x82, 0x83, 0x84, 0x85, 0x86, 0x87, 0x88, 0x89, 0x8a, 0x92, 0x93, 0x94, 0x95, 0x96, 0x97,
            0x98, 0x99, 0x9a, 0xa2, 0xa3, 0xa4, 0xa5, 0xa6, 0xa7, 0xa8, 0xa9, 0xaa, 0xb2, 0xb3, 0xb4, 0xb5, 0xb6, 0xb7, 0xb8, 0xb9, 0xba,
            0xc2, 0xc3, 0xc4, 0xc5, 0xc6, 0xc7, 0xc8, 0xc9, 0xca, 0xd2, 0xd3, 0xd4, 0xd5, 0xd6, 0xd7, 0xd8, 0xd9, 0xda, 0xe2, 0xe3, 0xe4,
            0xe5, 0xe6, 0xe7, 0xe8, 0xe9, 0xea, 0xf2, 0xf3, 0xf4, 0xf5, 0xf6, 0xf7, 0xf8, 0xf9, 0xfa,
        ],
    ),
];

/// One DHT segment holding the four standard tables.
pub fn standard_dht() -> Vec<u8> {
    let body: usize = STANDARD_TABLES.iter().map(|(_, _, values)| 17 + values.len()).sum();
    let mut out = Vec::with_capacity(4 + body);
    out.extend_from_slice(&[0xFF, 0xC4]);
    // 2 + 4 * 17 + 12 + 12 + 162 + 162 = 418: fits a segment length.
    out.extend_from_slice(&u16::try_from(2 + body).unwrap_or(u16::MAX).to_be_bytes());
    for (class_id, counts, values) in STANDARD_TABLES {
        out.push(class_id);
        out.extend_from_slice(&counts);
        out.extend_from_slice(values);
    }
    out
}

/// The sampling a frame header (SOFn segment body, after its length) declares.
fn sampling(sof: &[u8]) -> Sampling {
    // P, Y (2), X (2), Nf, then per component: id, H<<4 | V, Tq.
    let Some(&n) = sof.get(5) else { return Sampling::Other };
    let factor = |c: usize| sof.get(6 + 3 * c + 1).map(|f| (f >> 4, f & 0x0F));
    match (n, factor(0), factor(1), factor(2)) {
        (3, Some(y), Some((1, 1)), Some((1, 1))) => match y {
            (1, 1) => Sampling::S444,
            (2, 1) => Sampling::S422,
            (2, 2) => Sampling::S420,
            _ => Sampling::Other,
        },
        _ => Sampling::Other,
    }
}

/// Walks a frame to its end-of-image marker and prepares it for the decoder.
pub fn prepare(data: &[u8]) -> Result<Prepared<'_>, Fault> {
    if data.len() < 2 || data[0] != 0xFF || data[1] != 0xD8 {
        let head: Vec<String> = data.iter().take(2).map(|b| format!("{b:02x}")).collect();
        return Err(Fault::NotJpeg(if head.is_empty() { "nothing".into() } else { head.join(" ") }));
    }
    let mut notes = Notes::default();
    let (mut tables, mut first_scan) = (false, None);
    let mut i = 2;
    loop {
        // The next marker (fill bytes 0xFF may precede it).
        while data.get(i) == Some(&0xFF) && data.get(i + 1) == Some(&0xFF) {
            i += 1;
        }
        let Some(&marker) = data.get(i + 1) else {
            return Err(Fault::CutOff(format!("{} bytes, no end-of-image marker", data.len())));
        };
        if data[i] != 0xFF {
            return Err(Fault::Corrupt(format!("no marker at byte {i} of {}", data.len())));
        }
        let at = i;
        i += 2;
        match marker {
            0xD9 => {
                notes.trailing = data.len() - i;
                let bytes = &data[..i];
                let bytes = match (tables, first_scan) {
                    (false, Some(scan)) => {
                        notes.standard_tables = true;
                        Cow::Owned([&bytes[..scan], &standard_dht(), &bytes[scan..]].concat())
                    }
                    _ => Cow::Borrowed(bytes),
                };
                return Ok(Prepared { bytes, notes });
            }
            0xD8 => return Err(Fault::Corrupt(format!("a second start-of-image marker at byte {at}"))),
            0x01 | 0xD0..=0xD7 => continue,
            _ => {}
        }
        let Some(len) = data.get(i..i + 2).map(|l| usize::from(u16::from_be_bytes([l[0], l[1]]))) else {
            return Err(Fault::CutOff(format!("ends inside the header segment at byte {at}")));
        };
        if len < 2 || i + len > data.len() {
            return Err(Fault::CutOff(format!("ends inside the header segment at byte {at}")));
        }
        let body = &data[i + 2..i + len];
        i += len;
        match marker {
            0xC4 => tables = true,
            0xC0..=0xCF if marker != 0xC8 && marker != 0xCC => notes.sampling = Some(sampling(body)),
            0xDA => {
                first_scan.get_or_insert(at);
                // Entropy-coded data up to the next marker that is not a stuffed 0xFF00 or a restart.
                loop {
                    match (data.get(i), data.get(i + 1)) {
                        (Some(0xFF), Some(&m)) if m != 0x00 && !(0xD0..=0xD7).contains(&m) => break,
                        (Some(_), Some(_)) => i += 1,
                        _ => return Err(Fault::CutOff(format!("the scan stops after {} bytes, no end-of-image marker", data.len()))),
                    }
                }
            }
            _ => {}
        }
    }
}

/// Decodes a UVC MJPEG frame of at most `width` x `height` pixels (a larger header is refused
/// before decoding: a camera cannot make the booth decode 50 megapixels in place of 0.3).
pub fn decode(data: &[u8], width: u32, height: u32) -> Result<(RgbImage, Notes), Fault> {
    let prepared = prepare(data)?;
    let image =
        crate::util::image::decode(&prepared.bytes, u64::from(width) * u64::from(height)).map_err(|e| Fault::Undecodable(e.to_string()))?;
    Ok((image, prepared.notes))
}

#[cfg(test)]
mod tests {
    use super::*;

    /// A real photo (the demo visitor `faces-small/img1.jpg` from the shared data mirror) at
    /// the webcam size 640x480, as RGB.
    fn real_photo() -> RgbImage {
        let shared = std::env::var_os("ROLEMIRROR_SHARED")
            .map(std::path::PathBuf::from)
            .unwrap_or_else(|| std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("../shared"));
        let path = shared.join("data/faces-small/img1.jpg");
        let photo = crate::util::image::load(&path, crate::util::image::DEFAULT_MAX_PIXELS)
            .unwrap_or_else(|e| panic!("{}: {e} (the shared data mirror: set ROLEMIRROR_SHARED)", path.display()));
        crate::util::image::resize(&photo, 640, 480)
    }

    /// The photo as a JPEG with standard Huffman tables, 4:2:0 or 4:2:2 as webcams encode it.
    fn webcam_jpeg(img: &RgbImage, sampling: jpeg_encoder::SamplingFactor) -> Vec<u8> {
        let mut out = Vec::new();
        let mut encoder = jpeg_encoder::Encoder::new(&mut out, 85);
        encoder.set_sampling_factor(sampling);
        encoder.encode(img.as_raw(), 640, 480, jpeg_encoder::ColorType::Rgb).expect("encodes");
        out
    }

    /// The header segments before the first scan: (marker, start, length with the marker).
    fn segments(jpeg: &[u8]) -> Vec<(u8, usize, usize)> {
        let mut out = Vec::new();
        let mut i = 2;
        while i + 4 <= jpeg.len() {
            let (marker, len) = (jpeg[i + 1], usize::from(u16::from_be_bytes([jpeg[i + 2], jpeg[i + 3]])));
            out.push((marker, i, len + 2));
            if marker == 0xDA {
                break;
            }
            i += len + 2;
        }
        out
    }

    /// The frame without its DHT segments, as a UVC camera sends it.
    fn without_tables(jpeg: &[u8]) -> Vec<u8> {
        let mut out = jpeg[..2].to_vec();
        let mut from = 2;
        for (marker, start, len) in segments(jpeg) {
            if marker == 0xC4 {
                out.extend_from_slice(&jpeg[from..start]);
                from = start + len;
            }
        }
        out.extend_from_slice(&jpeg[from..]);
        out
    }

    fn mean_difference(a: &RgbImage, b: &RgbImage) -> f64 {
        a.as_raw().iter().zip(b.as_raw()).map(|(x, y)| f64::from(x.abs_diff(*y))).sum::<f64>() / a.as_raw().len() as f64
    }

    /// The tables written here are the ones a standard JPEG encoder writes (table by table, as
    /// parsed from its DHT segments): a wrong value would decode to garbage or fail.
    #[test]
    fn the_inserted_tables_are_the_standard_ones_an_encoder_writes() {
        let jpeg = webcam_jpeg(&RgbImage::from_pixel(640, 480, image::Rgb([90, 120, 200])), jpeg_encoder::SamplingFactor::R_4_2_0);
        let mut written = Vec::new();
        for (_, start, len) in segments(&jpeg).into_iter().filter(|s| s.0 == 0xC4) {
            let mut body = &jpeg[start + 4..start + len];
            while !body.is_empty() {
                let n: usize = body[1..17].iter().map(|&c| usize::from(c)).sum();
                written.push(body[..17 + n].to_vec());
                body = &body[17 + n..];
            }
        }
        let ours = standard_dht();
        assert_eq!(usize::from(u16::from_be_bytes([ours[2], ours[3]])), ours.len() - 2);
        let mut ours_tables = Vec::new();
        let mut body = &ours[4..];
        while !body.is_empty() {
            let n: usize = body[1..17].iter().map(|&c| usize::from(c)).sum();
            ours_tables.push(body[..17 + n].to_vec());
            body = &body[17 + n..];
        }
        written.sort();
        ours_tables.sort();
        assert_eq!(ours_tables.len(), 4);
        assert_eq!(ours_tables, written);
    }

    /// A real photo's frame in each form a webcam sends: without Huffman tables, with 4:2:2
    /// sampling, with the rest of the USB buffer after the end-of-image marker, and all three
    /// at once. Each decodes to exactly the pixels of the tidy file.
    #[test]
    fn webcam_frames_from_a_real_photo_decode_like_the_tidy_file() {
        let photo = real_photo();
        for (name, sampling, want) in [
            ("4:2:0", jpeg_encoder::SamplingFactor::R_4_2_0, Sampling::S420),
            ("4:2:2", jpeg_encoder::SamplingFactor::R_4_2_2, Sampling::S422),
        ] {
            let tidy = webcam_jpeg(&photo, sampling);
            let (reference, notes) = decode(&tidy, 640, 480).unwrap_or_else(|e| panic!("{name}: {e}"));
            assert_eq!(notes, Notes { standard_tables: false, trailing: 0, sampling: Some(want) }, "{name}");
            assert!(mean_difference(&reference, &photo) < 4.0, "{name}: not the photo");

            let bare = without_tables(&tidy);
            assert!(segments(&bare).iter().all(|s| s.0 != 0xC4) && bare.len() < tidy.len());
            assert!(
                crate::util::image::decode(&bare, 640 * 480).is_err(),
                "{name}: the decoder alone has no tables (if it now does, say so in the module doc)"
            );
            let (img, notes) = decode(&bare, 640, 480).unwrap_or_else(|e| panic!("{name} without tables: {e}"));
            assert!(notes.standard_tables, "{name}");
            assert_eq!(img, reference, "{name}: the standard tables are the ones the encoder used");

            let mut junk = tidy.clone();
            junk.extend(std::iter::repeat_n(0u8, 3000));
            junk.extend_from_slice(&[0xFF, 0xD8, 0xFF, 0xC4, 0x12]);
            let (img, notes) = decode(&junk, 640, 480).unwrap_or_else(|e| panic!("{name} with junk: {e}"));
            assert_eq!((notes.trailing, &img), (3005, &reference), "{name}");

            let mut all = without_tables(&tidy);
            all.extend_from_slice(&[0u8; 777]);
            let (img, notes) = decode(&all, 640, 480).unwrap_or_else(|e| panic!("{name}, all three: {e}"));
            assert_eq!((notes.standard_tables, notes.trailing, notes.sampling, &img), (true, 777, Some(want), &reference), "{name}");
        }
    }

    /// A frame cut off anywhere is dropped as cut off (or, before its header is complete, as
    /// not JPEG): never "decoded" with a grey bottom, as the decoder alone does.
    #[test]
    fn cut_off_frames_are_dropped_never_filled_with_grey() {
        let with_tables = webcam_jpeg(&real_photo(), jpeg_encoder::SamplingFactor::R_4_2_2);
        assert!(
            crate::util::image::decode(&with_tables[..with_tables.len() / 2], 640 * 480).is_ok(),
            "the decoder alone takes a cut-off frame for a whole one"
        );
        let tidy = without_tables(&with_tables);
        let half = &tidy[..tidy.len() / 2];
        for cut in (0..tidy.len() - 1).step_by(61).chain([tidy.len() - 2, tidy.len() - 1]) {
            match decode(&tidy[..cut], 640, 480) {
                Err(Fault::CutOff(_)) => {}
                Err(Fault::NotJpeg(_)) if cut < 2 => {}
                other => panic!("cut at {cut} of {}: {:?}", tidy.len(), other.map(|(_, n)| n)),
            }
        }
        // Cut off, then the rest of the USB buffer as zeros: still no end-of-image marker.
        let mut padded = half.to_vec();
        padded.extend(std::iter::repeat_n(0u8, tidy.len()));
        assert!(matches!(decode(&padded, 640, 480), Err(Fault::CutOff(_))));
    }

    #[test]
    fn frames_that_are_not_jpeg_or_too_large_are_refused() {
        assert_eq!(decode(&[], 640, 480).map(|_| ()), Err(Fault::NotJpeg("nothing".into())));
        assert_eq!(decode(&[0x10, 0x80, 0x10, 0x80], 2, 1).map(|_| ()), Err(Fault::NotJpeg("10 80".into())));
        assert!(matches!(decode(&[0xFF, 0xD8, 0xFF, 0xD8, 0xFF, 0xD9], 2, 1), Err(Fault::Corrupt(_))));
        assert!(matches!(decode(&[0xFF, 0xD8, 0x00, 0x00, 0xFF, 0xD9], 2, 1), Err(Fault::Corrupt(_))));
        let jpeg = webcam_jpeg(&RgbImage::from_pixel(640, 480, image::Rgb([1, 2, 3])), jpeg_encoder::SamplingFactor::R_4_2_0);
        let err = decode(&jpeg, 320, 240).map(|_| ()).expect_err("larger than negotiated");
        assert!(matches!(&err, Fault::Undecodable(why) if why.contains("over the limit")), "{err}");
        assert_eq!(err.kind(), "undecodable MJPEG");
    }
}
