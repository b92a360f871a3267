//! Camera frame conversion (`camera::v4l`, `camera::yuv`): a YUYV or MJPEG buffer as the driver
//! hands it over, or an I420 frame as a libcamera program writes it, with the negotiated width,
//! height and line stride as fuzz inputs. Input layout: flags (bit 0: MJPEG, bit 1: I420, bit 2:
//! full range), width, height, stride (u32 little-endian each), then the buffer. A converted
//! YUYV frame has exactly the negotiated size and the same pixels as its lines packed without
//! padding; an MJPEG frame has at most the negotiated pixels; an I420 frame has the layout's size.
#![no_main]

use libfuzzer_sys::fuzz_target;
use rolemirror::camera::v4l::{mjpeg_to_rgb, yuyv_to_rgb};
use rolemirror::camera::yuv::{i420_to_rgb, I420Layout, Range};

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
    } else if flags & 2 == 2 {
        let rows = height as usize;
        let layout = I420Layout { width, height, y_stride: stride as usize, y_rows: rows, uv_stride: stride as usize / 2, uv_rows: rows.div_ceil(2) };
        let range = if flags & 4 == 4 { Range::Full } else { Range::Limited };
        if let Some(img) = i420_to_rgb(frame, &layout, range) {
            assert_eq!(img.dimensions(), (width, height));
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
