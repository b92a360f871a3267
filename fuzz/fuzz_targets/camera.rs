//! Camera frame conversion (`camera::v4l`): a YUYV or MJPEG buffer as the driver hands it
//! over, with the negotiated width, height and line stride as fuzz inputs. Input layout:
//! flags (bit 0: MJPEG), width, height, stride (u32 little-endian each), then the buffer.
//! A converted YUYV frame has exactly the negotiated size and the same pixels as its lines
//! packed without padding; an MJPEG frame has at most the negotiated pixels.
#![no_main]

use libfuzzer_sys::fuzz_target;
use rolemirror::camera::v4l::{mjpeg_to_rgb, yuyv_to_rgb};

fn u32_at(data: &[u8], i: usize) -> u32 {
    u32::from_le_bytes([data[i], data[i + 1], data[i + 2], data[i + 3]])
}

fuzz_target!(|data: &[u8]| {
    if data.len() < 13 {
        return;
    }
    let (flags, width, height, stride, frame) = (
        data[0],
        u32_at(data, 1),
        u32_at(data, 5),
        u32_at(data, 9),
        &data[13..],
    );
    if flags & 1 == 1 {
        if let Ok(img) = mjpeg_to_rgb(frame, width, height) {
            let negotiated = u64::from(width) * u64::from(height);
            assert!(
                u64::from(img.width()) * u64::from(img.height()) <= negotiated,
                "{}x{} frame from a {width}x{height} camera",
                img.width(),
                img.height()
            );
        }
    } else if let Some(img) = yuyv_to_rgb(frame, width, height, stride) {
        assert_eq!(img.dimensions(), (width, height));
        let line = width as usize * 2;
        let stride = (stride as usize).max(line);
        let packed: Vec<u8> = (0..height as usize)
            .flat_map(|r| &frame[r * stride..r * stride + line])
            .copied()
            .collect();
        assert_eq!(yuyv_to_rgb(&packed, width, height, 0).as_ref(), Some(&img));
    }
});
