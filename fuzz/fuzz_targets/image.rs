//! Photo bytes (JPEG, PNG, WebP) as a booth meets them: the header check of a USB import
//! (`usb::install::check_header`), the truncated-JPEG walker (`util::image::jpeg_truncated`)
//! and the decoder with its pixel limit (`util::image::decode`). An image that passes the
//! header check must not be refused as too large by the decoder, and no decoded image may have
//! more pixels than the limit.
#![no_main]

use std::fs;
use std::path::PathBuf;
use std::sync::OnceLock;

use libfuzzer_sys::fuzz_target;
use rolemirror::util::image::{decode, jpeg_truncated, ImageError, DEFAULT_MAX_PIXELS};

fn file() -> &'static PathBuf {
    static FILE: OnceLock<PathBuf> = OnceLock::new();
    FILE.get_or_init(|| rolemirror_fuzz::scratch("image").join("photo"))
}

fuzz_target!(|data: &[u8]| {
    if let Some(why) = jpeg_truncated(data) {
        assert!(why.contains("JPEG"), "{why}");
    }
    let path = file();
    fs::write(path, data).expect("write photo");
    let header = rolemirror::usb::install::check_header(path, DEFAULT_MAX_PIXELS);
    match decode(data, DEFAULT_MAX_PIXELS) {
        Ok(img) => {
            let pixels = u64::from(img.width()) * u64::from(img.height());
            assert!(pixels > 0 && pixels <= DEFAULT_MAX_PIXELS);
            assert_eq!(img.as_raw().len() as u64, pixels * 3);
        }
        Err(ImageError::TooLarge { pixels, limit, .. }) => {
            assert!(pixels > limit);
            assert!(
                header.is_err(),
                "header check passed an image the decoder refuses as too large"
            );
        }
        Err(e) => assert!(!e.to_string().is_empty()),
    }
});
