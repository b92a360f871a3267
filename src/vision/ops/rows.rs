//! Row kernels shared by the fused ops: one output row of a 3x3 convolution from three input
//! rows (stride 1, channels first), the same from nine tap rows (stride 2 after an even/odd
//! split, or channels last with a weight per value), the even/odd split itself and the 2x2
//! max of two rows.
//!
//! Plain Rust that the compiler vectorises: each kernel is compiled once more with AVX-512, and
//! with AVX2 + FMA, and picked at run time where the CPU has them (x86-64 builds target SSE2);
//! the portable build is NEON with FMA on aarch64. A unit test checks the portable kernels (the
//! Pi's path) against the ones this CPU picks.

/// Splits an input row into `even[x] = row[2x]` and `odd[x + 1] = row[2x + 1]` with `odd[0] = 0`
/// (the left padding) and zeros after the row (the right padding and the block tail). Values
/// beyond the buffers' capacity are ignored.
pub fn split_row(row: &[f32], even: &mut [f32], odd: &mut [f32]) {
    let cap = even.len().min(odd.len()).saturating_sub(1);
    let w = row.len().min(2 * cap);
    let row = &row[..w];
    let pairs = w / 2;
    odd[0] = 0.0;
    for (x, p) in row.chunks_exact(2).enumerate() {
        even[x] = p[0];
        odd[x + 1] = p[1];
    }
    let mut filled_even = pairs;
    if w % 2 == 1 {
        even[pairs] = row[w - 1];
        filled_even += 1;
    }
    even[filled_even..].fill(0.0);
    odd[pairs + 1..].fill(0.0);
}

/// `out[x] = max of the 2x2 block at (2x, 0..2)` of two rows.
pub fn pool_rows(a: &[f32], b: &[f32], out: &mut [f32]) {
    let max = |x: f32, y: f32| if y > x { y } else { x };
    for (o, (pa, pb)) in out.iter_mut().zip(a.chunks_exact(2).zip(b.chunks_exact(2))) {
        *o = max(max(pa[0], pa[1]), max(pb[0], pb[1]));
    }
}

/// The kernel `$imp` for this CPU as a plain function: `$imp::<true>` compiled with AVX-512, or
/// with AVX2 and FMA, where the CPU has them (x86-64 builds target plain SSE2), else the
/// portable `$imp` (NEON with FMA on aarch64; armv7 and old x86 without FMA, where `mul_add`
/// would be a library call).
macro_rules! dispatch {
    ($imp:ident($($a:ident: $t:ty),*)) => {{
        #[cfg(target_arch = "x86_64")]
        {
            #[target_feature(enable = "avx512f,avx2,fma")]
            unsafe fn avx512($($a: $t),*) {
                $imp::<true>($($a),*)
            }
            #[target_feature(enable = "avx2,fma")]
            unsafe fn avx2($($a: $t),*) {
                $imp::<true>($($a),*)
            }
            if std::is_x86_feature_detected!("avx512f") {
                // SAFETY: the CPU has AVX-512F (checked just above).
                return |$($a),*| unsafe { avx512($($a),*) };
            }
            if std::is_x86_feature_detected!("avx2") && std::is_x86_feature_detected!("fma") {
                // SAFETY: the CPU has AVX2 and FMA (checked just above).
                return |$($a),*| unsafe { avx2($($a),*) };
            }
        }
        |$($a),*| $imp::<{ cfg!(target_arch = "aarch64") }>($($a),*)
    }};
}

/// Outputs per block of the stride-1 row kernel; narrower rows take its plain loop.
pub const BLOCK: usize = 32;

pub type RowFn = fn(&[f32], &[f32], &[f32], &[f32; 9], f32, bool, &mut [f32]);

/// The stride-1 channels-first row kernel for this CPU ([`row_impl`]).
pub fn kernel() -> RowFn {
    dispatch!(row_impl(above: &[f32], mid: &[f32], below: &[f32], k: &[f32; 9], bias: f32, relu: bool, out: &mut [f32]))
}

/// One output row of the 3x3 convolution from the rows above, at and below it (zeros beyond
/// the left and right edges), plus bias, optionally ReLU.
#[inline(always)]
fn row_impl<const FMA: bool>(above: &[f32], mid: &[f32], below: &[f32], k: &[f32; 9], bias: f32, relu: bool, out: &mut [f32]) {
    let w = out.len();
    let (above, mid, below) = (&above[..w], &mid[..w], &below[..w]);
    let madd = |a: f32, b: f32, c: f32| if FMA { a.mul_add(b, c) } else { a * b + c };
    let act = |v: f32| if relu { v.max(0.0) } else { v };
    // Macros, not closures, for anything with a loop: a closure LLVM does not inline is
    // compiled without the caller's target features, and `mul_add` there is a library call.
    macro_rules! edge {
        ($x:expr) => {{
            let x: isize = $x;
            let mut acc = bias;
            for (i, r) in [above, mid, below].into_iter().enumerate() {
                for j in 0..3 {
                    let xi = x + j as isize - 1;
                    let v = if xi < 0 || xi as usize >= w { 0.0 } else { r[xi as usize] };
                    acc = madd(v, k[i * 3 + j], acc);
                }
            }
            act(acc)
        }};
    }
    if w <= 2 {
        for (x, o) in out.iter_mut().enumerate() {
            *o = edge!(x as isize);
        }
        return;
    }
    out[0] = edge!(0);
    out[w - 1] = edge!(w as isize - 1);
    let n = w - 2;
    // Blocks of BLOCK outputs, tap by tap: each tap is BLOCK independent multiply-adds (several
    // vector registers), so the nine taps of one output no longer wait on each other's
    // latency. The last block overlaps the one before it when n is not a multiple (outputs
    // are recomputed, never inputs).
    if n >= BLOCK {
        let mut i = 0;
        loop {
            let mut acc = [bias; BLOCK];
            macro_rules! tap {
                ($r:expr, $j:expr, $k:expr) => {{
                    let x = &$r[i + $j..i + $j + BLOCK];
                    for t in 0..BLOCK {
                        acc[t] = madd(x[t], $k, acc[t]);
                    }
                }};
            }
            tap!(above, 0, k[0]);
            tap!(above, 1, k[1]);
            tap!(above, 2, k[2]);
            tap!(mid, 0, k[3]);
            tap!(mid, 1, k[4]);
            tap!(mid, 2, k[5]);
            tap!(below, 0, k[6]);
            tap!(below, 1, k[7]);
            tap!(below, 2, k[8]);
            let o = &mut out[1 + i..1 + i + BLOCK];
            for t in 0..BLOCK {
                o[t] = act(acc[t]);
            }
            if i + BLOCK == n {
                return;
            }
            i = (i + BLOCK).min(n - BLOCK);
        }
    }
    let (a0, a1, a2) = (&above[..n], &above[1..n + 1], &above[2..n + 2]);
    let (m0, m1, m2) = (&mid[..n], &mid[1..n + 1], &mid[2..n + 2]);
    let (b0, b1, b2) = (&below[..n], &below[1..n + 1], &below[2..n + 2]);
    let o = &mut out[1..n + 1];
    for i in 0..n {
        let mut acc = bias;
        acc = madd(a0[i], k[0], acc);
        acc = madd(a1[i], k[1], acc);
        acc = madd(a2[i], k[2], acc);
        acc = madd(m0[i], k[3], acc);
        acc = madd(m1[i], k[4], acc);
        acc = madd(m2[i], k[5], acc);
        acc = madd(b0[i], k[6], acc);
        acc = madd(b1[i], k[7], acc);
        acc = madd(b2[i], k[8], acc);
        o[i] = act(acc);
    }
}

pub type TapsRowFn = fn([&[f32]; 9], [&[f32]; 9], &[f32], bool, &mut [f32]);

/// The stride-2 row kernel for this CPU: [`taps_row_impl`] with one weight per tap and one bias.
pub fn kernel_taps() -> TapsRowFn {
    dispatch!(taps_row_shared(taps: [&[f32]; 9], weights: [&[f32]; 9], bias: &[f32], relu: bool, out: &mut [f32]))
}

/// The channels-last row kernel for this CPU: [`taps_row_impl`] with weights and bias per value.
pub fn kernel_taps_per_value() -> TapsRowFn {
    dispatch!(taps_row_per_value(taps: [&[f32]; 9], weights: [&[f32]; 9], bias: &[f32], relu: bool, out: &mut [f32]))
}

#[inline(always)]
fn taps_row_shared<const FMA: bool>(taps: [&[f32]; 9], weights: [&[f32]; 9], bias: &[f32], relu: bool, out: &mut [f32]) {
    taps_row_impl::<FMA, false>(taps, weights, bias, relu, out)
}

#[inline(always)]
fn taps_row_per_value<const FMA: bool>(taps: [&[f32]; 9], weights: [&[f32]; 9], bias: &[f32], relu: bool, out: &mut [f32]) {
    taps_row_impl::<FMA, true>(taps, weights, bias, relu, out)
}

/// `out[x] = bias[x] + Σ weights[t][x]·taps[t][x]` (t in order: the row above left to right,
/// the row, the row below), optionally ReLU'd: blocks of 8 outputs summed tap by tap, the last
/// block overlapping the one before. `PER_VALUE`: a weight and a bias per value (a
/// channels-last row cycles through the channels); otherwise `weights[t]` and `bias` hold one
/// value for the whole row (a stride-2 row is one channel).
#[inline(always)]
fn taps_row_impl<const FMA: bool, const PER_VALUE: bool>(
    taps: [&[f32]; 9],
    weights: [&[f32]; 9],
    bias: &[f32],
    relu: bool,
    out: &mut [f32],
) {
    let n = out.len();
    let madd = |a: f32, b: f32, acc: f32| if FMA { a.mul_add(b, acc) } else { a * b + acc };
    const BLOCK: usize = 8;
    macro_rules! block {
        ($x0:expr, $len:expr) => {{
            let (x0, len): (usize, usize) = ($x0, $len);
            let mut acc = [0f32; BLOCK];
            if PER_VALUE {
                acc[..len].copy_from_slice(&bias[x0..x0 + len]);
            } else {
                acc = [bias[0]; BLOCK];
            }
            for (src, w) in taps.iter().zip(weights) {
                let x = &src[x0..x0 + len];
                if PER_VALUE {
                    let w = &w[x0..x0 + len];
                    for i in 0..len {
                        acc[i] = madd(x[i], w[i], acc[i]);
                    }
                } else {
                    let w = w[0];
                    for i in 0..len {
                        acc[i] = madd(x[i], w, acc[i]);
                    }
                }
            }
            for (o, a) in out[x0..x0 + len].iter_mut().zip(acc) {
                *o = if relu { a.max(0.0) } else { a };
            }
        }};
    }
    if n < BLOCK {
        block!(0, n);
        return;
    }
    let mut x = 0;
    loop {
        block!(x, BLOCK);
        if x + BLOCK == n {
            return;
        }
        x = (x + BLOCK).min(n - BLOCK);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// The portable kernels (with FMA as on aarch64, without as on armv7 and x86 without AVX2)
    /// agree with the ones this CPU picks, for every row width around the block sizes.
    #[test]
    fn portable_kernels_agree_with_this_cpus() {
        let k = [0.3, -0.2, 0.5, 1.1, -0.7, 0.05, 0.9, -1.3, 0.25];
        let close = |got: &[f32], want: &[f32], what: &str| {
            for (g, v) in got.iter().zip(want) {
                assert!((g - v).abs() <= 1e-5 * (1.0 + v.abs()), "{what}: {g} vs {v}");
            }
        };
        for w in 1..100 {
            let row = |s: usize| (0..w).map(|i| ((i * 31 + s * 7) % 23) as f32 * 0.17 - 1.5).collect::<Vec<f32>>();
            let (a, m, b) = (row(1), row(2), row(3));
            let mut want = vec![0f32; w];
            kernel()(&a, &m, &b, &k, 0.4, true, &mut want);
            for fma in [false, true] {
                let mut got = vec![0f32; w];
                if fma {
                    row_impl::<true>(&a, &m, &b, &k, 0.4, true, &mut got);
                } else {
                    row_impl::<false>(&a, &m, &b, &k, 0.4, true, &mut got);
                }
                close(&got, &want, &format!("stride-1 width {w}, fma {fma}"));
            }
            let taps: Vec<Vec<f32>> = (0..9).map(row).collect();
            let kw: Vec<Vec<f32>> = (0..9).map(|t| (0..w).map(|i| ((i * 17 + t * 5) % 11) as f32 * 0.1 - 0.5).collect()).collect();
            let bias: Vec<f32> = (0..w).map(|i| (i % 3) as f32 * 0.2).collect();
            let tap_refs: [&[f32]; 9] = std::array::from_fn(|t| &taps[t][..]);
            let kw_refs: [&[f32]; 9] = std::array::from_fn(|t| &kw[t][..]);
            let mut want = vec![0f32; w];
            kernel_taps_per_value()(tap_refs, kw_refs, &bias, true, &mut want);
            for fma in [false, true] {
                let mut got = vec![0f32; w];
                if fma {
                    taps_row_impl::<true, true>(tap_refs, kw_refs, &bias, true, &mut got);
                } else {
                    taps_row_impl::<false, true>(tap_refs, kw_refs, &bias, true, &mut got);
                }
                close(&got, &want, &format!("per-value taps width {w}, fma {fma}"));
            }
            let shared: [&[f32]; 9] = std::array::from_fn(|t| &k[t..t + 1]);
            let mut want = vec![0f32; w];
            kernel_taps()(tap_refs, shared, &[-0.3], false, &mut want);
            for fma in [false, true] {
                let mut got = vec![0f32; w];
                if fma {
                    taps_row_impl::<true, false>(tap_refs, shared, &[-0.3], false, &mut got);
                } else {
                    taps_row_impl::<false, false>(tap_refs, shared, &[-0.3], false, &mut got);
                }
                close(&got, &want, &format!("shared taps width {w}, fma {fma}"));
            }
        }
    }
}
