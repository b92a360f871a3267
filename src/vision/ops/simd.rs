//! The few vector operations the explicit-SIMD kernels need ([`super::pointwise`] and the FMA
//! peak of [`crate::vision::peak`]), on the widest registers this CPU has, chosen at run time:
//! AVX-512 or AVX2 + FMA on x86-64 (whose builds target SSE2), NEON on aarch64, one scalar lane
//! elsewhere.
//!
//! A kernel is a [`Task`] written once over a [`Vector`] type; [`dispatch`] runs it inside a
//! function compiled for the instruction set it picked, so every vector operation inlines to
//! one instruction. (Written as plain loops over `[[f32; 16]; 8]` register tiles instead, the
//! compiler spilled the tiles or vectorised them the wrong way round: 2–20 % of the FMA peak.
//! `pulp` does what this module does, but its `num-complex` feature would rebuild all of tract.)

/// A vector of f32 lanes. Every method is `unsafe`: it may only run where the CPU has the
/// instruction set, which [`dispatch`] guarantees for the `Task` it runs.
pub trait Vector: Copy {
    const LANES: usize;
    /// Architectural vector registers (how large a register tile can be).
    const REGISTERS: usize;
    /// The instruction set's name (for `bench`).
    const NAME: &'static str;
    /// Whether this is the one-lane fallback (no SIMD path).
    const SCALAR: bool = false;

    /// # Safety
    /// The CPU has this instruction set.
    unsafe fn splat(v: f32) -> Self;
    /// The first `LANES` values of `s`.
    ///
    /// # Safety
    /// The CPU has this instruction set and `s.len() >= LANES`.
    unsafe fn load(s: &[f32]) -> Self;
    /// Writes the lanes to the first `LANES` values of `s`.
    ///
    /// # Safety
    /// The CPU has this instruction set and `s.len() >= LANES`.
    unsafe fn store(self, s: &mut [f32]);
    /// `self · b + c`, fused where the instruction set has FMA.
    ///
    /// # Safety
    /// The CPU has this instruction set.
    unsafe fn mul_add(self, b: Self, c: Self) -> Self;
    /// # Safety
    /// The CPU has this instruction set.
    unsafe fn max(self, b: Self) -> Self;
    /// # Safety
    /// The CPU has this instruction set.
    unsafe fn min(self, b: Self) -> Self;
    /// # Safety
    /// The CPU has this instruction set.
    unsafe fn add(self, b: Self) -> Self;
}

/// A kernel written over any [`Vector`].
pub trait Task {
    type Output;
    /// # Safety
    /// Only called by [`dispatch`], with a `V` whose instruction set the CPU has.
    unsafe fn run<V: Vector>(self) -> Self::Output;
}

/// Runs `task` with the widest vectors this CPU has.
pub fn dispatch<T: Task>(task: T) -> T::Output {
    #[cfg(target_arch = "x86_64")]
    {
        if std::is_x86_feature_detected!("avx512f") {
            // SAFETY: the CPU has AVX-512F (checked just above).
            return unsafe { x86::on_avx512(task) };
        }
        if std::is_x86_feature_detected!("avx2") && std::is_x86_feature_detected!("fma") {
            // SAFETY: the CPU has AVX2 and FMA (checked just above).
            return unsafe { x86::on_avx2(task) };
        }
    }
    #[cfg(target_arch = "aarch64")]
    {
        // SAFETY: NEON is part of the aarch64 baseline.
        return unsafe { task.run::<arm::Neon>() };
    }
    #[allow(unreachable_code)]
    // SAFETY: the scalar lane needs no instruction set.
    unsafe {
        task.run::<Scalar>()
    }
}

/// Is there a SIMD path on this CPU (not the scalar fallback)?
pub fn available() -> bool {
    struct Probe;
    impl Task for Probe {
        type Output = bool;
        unsafe fn run<V: Vector>(self) -> bool {
            !V::SCALAR
        }
    }
    dispatch(Probe)
}

/// One lane, plain arithmetic (no FMA instruction is assumed).
#[derive(Clone, Copy)]
pub struct Scalar(f32);

impl Vector for Scalar {
    const LANES: usize = 1;
    const REGISTERS: usize = 16;
    const NAME: &'static str = "scalar";
    const SCALAR: bool = true;

    #[inline(always)]
    unsafe fn splat(v: f32) -> Self {
        Scalar(v)
    }
    #[inline(always)]
    unsafe fn load(s: &[f32]) -> Self {
        Scalar(s[0])
    }
    #[inline(always)]
    unsafe fn store(self, s: &mut [f32]) {
        s[0] = self.0;
    }
    #[inline(always)]
    unsafe fn mul_add(self, b: Self, c: Self) -> Self {
        Scalar(self.0 * b.0 + c.0)
    }
    #[inline(always)]
    unsafe fn max(self, b: Self) -> Self {
        Scalar(self.0.max(b.0))
    }
    #[inline(always)]
    unsafe fn min(self, b: Self) -> Self {
        Scalar(self.0.min(b.0))
    }
    #[inline(always)]
    unsafe fn add(self, b: Self) -> Self {
        Scalar(self.0 + b.0)
    }
}

#[cfg(target_arch = "x86_64")]
mod x86 {
    use std::arch::x86_64::*;

    use super::{Task, Vector};

    #[target_feature(enable = "avx512f")]
    pub unsafe fn on_avx512<T: Task>(task: T) -> T::Output {
        task.run::<Avx512>()
    }

    #[target_feature(enable = "avx2,fma")]
    pub unsafe fn on_avx2<T: Task>(task: T) -> T::Output {
        task.run::<Avx2>()
    }

    #[derive(Clone, Copy)]
    pub struct Avx512(__m512);

    impl Vector for Avx512 {
        const LANES: usize = 16;
        const REGISTERS: usize = 32;
        const NAME: &'static str = "avx512";

        #[inline]
        #[target_feature(enable = "avx512f")]
        unsafe fn splat(v: f32) -> Self {
            Avx512(_mm512_set1_ps(v))
        }
        #[inline]
        #[target_feature(enable = "avx512f")]
        unsafe fn load(s: &[f32]) -> Self {
            debug_assert!(s.len() >= 16);
            Avx512(_mm512_loadu_ps(s.as_ptr()))
        }
        #[inline]
        #[target_feature(enable = "avx512f")]
        unsafe fn store(self, s: &mut [f32]) {
            debug_assert!(s.len() >= 16);
            _mm512_storeu_ps(s.as_mut_ptr(), self.0)
        }
        #[inline]
        #[target_feature(enable = "avx512f")]
        unsafe fn mul_add(self, b: Self, c: Self) -> Self {
            Avx512(_mm512_fmadd_ps(self.0, b.0, c.0))
        }
        #[inline]
        #[target_feature(enable = "avx512f")]
        unsafe fn max(self, b: Self) -> Self {
            Avx512(_mm512_max_ps(self.0, b.0))
        }
        #[inline]
        #[target_feature(enable = "avx512f")]
        unsafe fn min(self, b: Self) -> Self {
            Avx512(_mm512_min_ps(self.0, b.0))
        }
        #[inline]
        #[target_feature(enable = "avx512f")]
        unsafe fn add(self, b: Self) -> Self {
            Avx512(_mm512_add_ps(self.0, b.0))
        }
    }

    #[derive(Clone, Copy)]
    pub struct Avx2(__m256);

    impl Vector for Avx2 {
        const LANES: usize = 8;
        const REGISTERS: usize = 16;
        const NAME: &'static str = "avx2+fma";

        #[inline]
        #[target_feature(enable = "avx2,fma")]
        unsafe fn splat(v: f32) -> Self {
            Avx2(_mm256_set1_ps(v))
        }
        #[inline]
        #[target_feature(enable = "avx2,fma")]
        unsafe fn load(s: &[f32]) -> Self {
            debug_assert!(s.len() >= 8);
            Avx2(_mm256_loadu_ps(s.as_ptr()))
        }
        #[inline]
        #[target_feature(enable = "avx2,fma")]
        unsafe fn store(self, s: &mut [f32]) {
            debug_assert!(s.len() >= 8);
            _mm256_storeu_ps(s.as_mut_ptr(), self.0)
        }
        #[inline]
        #[target_feature(enable = "avx2,fma")]
        unsafe fn mul_add(self, b: Self, c: Self) -> Self {
            Avx2(_mm256_fmadd_ps(self.0, b.0, c.0))
        }
        #[inline]
        #[target_feature(enable = "avx2,fma")]
        unsafe fn max(self, b: Self) -> Self {
            Avx2(_mm256_max_ps(self.0, b.0))
        }
        #[inline]
        #[target_feature(enable = "avx2,fma")]
        unsafe fn min(self, b: Self) -> Self {
            Avx2(_mm256_min_ps(self.0, b.0))
        }
        #[inline]
        #[target_feature(enable = "avx2,fma")]
        unsafe fn add(self, b: Self) -> Self {
            Avx2(_mm256_add_ps(self.0, b.0))
        }
    }
}

#[cfg(target_arch = "aarch64")]
mod arm {
    use std::arch::aarch64::*;

    use super::Vector;

    #[derive(Clone, Copy)]
    pub struct Neon(float32x4_t);

    impl Vector for Neon {
        const LANES: usize = 4;
        const REGISTERS: usize = 32;
        const NAME: &'static str = "neon";

        #[inline(always)]
        unsafe fn splat(v: f32) -> Self {
            Neon(vdupq_n_f32(v))
        }
        #[inline(always)]
        unsafe fn load(s: &[f32]) -> Self {
            debug_assert!(s.len() >= 4);
            Neon(vld1q_f32(s.as_ptr()))
        }
        #[inline(always)]
        unsafe fn store(self, s: &mut [f32]) {
            debug_assert!(s.len() >= 4);
            vst1q_f32(s.as_mut_ptr(), self.0)
        }
        #[inline(always)]
        unsafe fn mul_add(self, b: Self, c: Self) -> Self {
            Neon(vfmaq_f32(c.0, self.0, b.0))
        }
        #[inline(always)]
        unsafe fn max(self, b: Self) -> Self {
            Neon(vmaxq_f32(self.0, b.0))
        }
        #[inline(always)]
        unsafe fn min(self, b: Self) -> Self {
            Neon(vminq_f32(self.0, b.0))
        }
        #[inline(always)]
        unsafe fn add(self, b: Self) -> Self {
            Neon(vaddq_f32(self.0, b.0))
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// `a · b + c` over one vector of each, through the dispatched instruction set.
    struct Madd<'a>(&'a [f32], &'a [f32], &'a [f32]);

    impl Task for Madd<'_> {
        type Output = (Vec<f32>, &'static str);
        unsafe fn run<V: Vector>(self) -> Self::Output {
            let mut out = vec![0f32; V::LANES];
            let (a, b, c) = (V::load(self.0), V::load(self.1), V::load(self.2));
            a.mul_add(b, c).max(V::splat(-1.0)).min(V::splat(100.0)).add(V::splat(0.5)).store(&mut out);
            (out, V::NAME)
        }
    }

    #[test]
    fn the_dispatched_operations_compute_lane_by_lane() {
        let a: Vec<f32> = (0..16).map(|i| i as f32 - 4.0).collect();
        let b = vec![2.0f32; 16];
        let c = vec![1.0f32; 16];
        let (out, name) = dispatch(Madd(&a, &b, &c));
        for (i, v) in out.iter().enumerate() {
            assert_eq!(*v, (a[i] * 2.0 + 1.0).clamp(-1.0, 100.0) + 0.5, "{name} lane {i}");
        }
        assert_eq!(available(), name != "scalar");
        #[cfg(target_arch = "aarch64")]
        assert_eq!(name, "neon");
    }
}
