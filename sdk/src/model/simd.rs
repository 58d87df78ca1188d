//! The crate's runtime SIMD dispatch (`pulp`): a [`Kernel`] runs compiled for the best
//! instruction set the CPU has, with a fused or a plain multiply-add ([`Madd`]), and the vector
//! helpers kernels share ([`dot`], [`axpy`] and their `f64` forms). Fold-in, scoring and
//! training's iALS kernels all run through it.

/// A unit of work compiled for the instruction set [`simd`] picks, with its multiply-add.
pub(crate) trait Kernel {
    /// What the kernel returns.
    type Output;
    /// The kernel's body, compiled once per multiply-add flavour and instruction set.
    fn run<M: Madd>(self) -> Self::Output;
}

/// Multiply-add `a * b + c`: fused on the vectorized paths (every x86-64 CPU with AVX2 has FMA,
/// every aarch64 CPU has it), two roundings on the baseline path, which then never calls a slow
/// software `fma`. Results are the same on one machine for any thread count.
pub(crate) trait Madd {
    /// `a * b + c` in `f32`.
    #[cfg_attr(not(feature = "train"), allow(dead_code))]
    fn f32(a: f32, b: f32, c: f32) -> f32;
    /// `a * b + c` in `f64`.
    fn f64(a: f64, b: f64, c: f64) -> f64;
}

struct Fused;
struct Plain;

impl Madd for Fused {
    #[inline(always)]
    fn f32(a: f32, b: f32, c: f32) -> f32 {
        a.mul_add(b, c)
    }
    #[inline(always)]
    fn f64(a: f64, b: f64, c: f64) -> f64 {
        a.mul_add(b, c)
    }
}

impl Madd for Plain {
    #[inline(always)]
    fn f32(a: f32, b: f32, c: f32) -> f32 {
        a * b + c
    }
    #[inline(always)]
    fn f64(a: f64, b: f64, c: f64) -> f64 {
        a * b + c
    }
}

/// Adapts a [`Kernel`] to `pulp`'s dispatch.
struct Dispatch<K, M>(K, std::marker::PhantomData<M>);

impl<K: Kernel, M: Madd> pulp::WithSimd for Dispatch<K, M> {
    type Output = K::Output;

    #[inline(always)]
    fn with_simd<S: pulp::Simd>(self, _: S) -> K::Output {
        self.0.run::<M>()
    }
}

/// Runs `kernel` compiled for the best instruction set the CPU has (AVX2+FMA on x86-64 where
/// available, baseline SSE2 otherwise). Everything its `run` calls must be `#[inline(always)]`
/// (closures and generic helpers too: an outlined call loses the target features).
#[inline(always)]
pub(crate) fn simd<K: Kernel>(kernel: K) -> K::Output {
    let arch = pulp::Arch::new();
    #[cfg(target_arch = "x86_64")]
    let fused = !matches!(arch, pulp::Arch::Scalar);
    #[cfg(target_arch = "aarch64")]
    let fused = true;
    #[cfg(not(any(target_arch = "x86_64", target_arch = "aarch64")))]
    let fused = false;
    if fused {
        arch.dispatch(Dispatch::<K, Fused>(kernel, std::marker::PhantomData))
    } else {
        arch.dispatch(Dispatch::<K, Plain>(kernel, std::marker::PhantomData))
    }
}

/// Runs `kernel` compiled for the best instruction set the CPU has, like [`simd`], but always
/// with the plain multiply-add: the same operations in the same order as the baseline build, so
/// the same results bit for bit on every CPU, only in wider registers.
#[inline(always)]
pub(crate) fn simd_exact<K: Kernel>(kernel: K) -> K::Output {
    pulp::Arch::new().dispatch(Dispatch::<K, Plain>(kernel, std::marker::PhantomData))
}

/// `f32` lanes of the kernels' chunks.
#[cfg_attr(not(feature = "train"), allow(dead_code))]
pub(crate) const LANES: usize = 16;
/// `f64` lanes of the kernels' chunks.
pub(crate) const LANES64: usize = 8;

/// `a · b`, summed in 16 lanes and then pairwise (a fixed order).
#[cfg_attr(not(feature = "train"), allow(dead_code))]
#[inline(always)]
pub(crate) fn dot<M: Madd>(a: &[f32], b: &[f32]) -> f32 {
    let n = a.len().min(b.len());
    let (a, b) = (&a[..n], &b[..n]);
    let mut acc = [0f32; LANES];
    let (ca, cb) = (a.chunks_exact(LANES), b.chunks_exact(LANES));
    let mut tail = 0f32;
    for (x, y) in ca.remainder().iter().zip(cb.remainder()) {
        tail = M::f32(*x, *y, tail);
    }
    for (x, y) in ca.zip(cb) {
        let x: [f32; LANES] = x.try_into().expect("chunk of LANES");
        let y: [f32; LANES] = y.try_into().expect("chunk of LANES");
        for j in 0..LANES {
            acc[j] = M::f32(x[j], y[j], acc[j]);
        }
    }
    hsum16(acc) + tail
}

/// `y += alpha * x`.
#[cfg_attr(not(feature = "train"), allow(dead_code))]
#[inline(always)]
pub(crate) fn axpy<M: Madd>(alpha: f32, x: &[f32], y: &mut [f32]) {
    let n = x.len().min(y.len());
    let (x, y) = (&x[..n], &mut y[..n]);
    let mut cx = x.chunks_exact(LANES);
    let mut cy = y.chunks_exact_mut(LANES);
    for (x, y) in (&mut cx).zip(&mut cy) {
        // Whole-array copies let LLVM see the lanes do not alias and vectorize them.
        let x: [f32; LANES] = x.try_into().expect("chunk of LANES");
        let mut v: [f32; LANES] = (&*y).try_into().expect("chunk of LANES");
        for j in 0..LANES {
            v[j] = M::f32(alpha, x[j], v[j]);
        }
        y.copy_from_slice(&v);
    }
    for (x, y) in cx.remainder().iter().zip(cy.into_remainder()) {
        *y = M::f32(alpha, *x, *y);
    }
}

/// The sum of 16 lanes, pairwise.
#[cfg_attr(not(feature = "train"), allow(dead_code))]
#[inline(always)]
fn hsum16(acc: [f32; LANES]) -> f32 {
    let mut h = [0f32; 8];
    for j in 0..8 {
        h[j] = acc[j] + acc[j + 8];
    }
    let mut q = [0f32; 4];
    for j in 0..4 {
        q[j] = h[j] + h[j + 4];
    }
    (q[0] + q[2]) + (q[1] + q[3])
}

/// `a · b` in `f64`.
#[inline(always)]
pub(crate) fn dot64<M: Madd>(a: &[f64], b: &[f64]) -> f64 {
    let n = a.len().min(b.len());
    let (a, b) = (&a[..n], &b[..n]);
    let mut acc = [0f64; LANES64];
    let (ca, cb) = (a.chunks_exact(LANES64), b.chunks_exact(LANES64));
    let mut tail = 0f64;
    for (x, y) in ca.remainder().iter().zip(cb.remainder()) {
        tail = M::f64(*x, *y, tail);
    }
    for (x, y) in ca.zip(cb) {
        let x: [f64; LANES64] = x.try_into().expect("chunk of LANES64");
        let y: [f64; LANES64] = y.try_into().expect("chunk of LANES64");
        for j in 0..LANES64 {
            acc[j] = M::f64(x[j], y[j], acc[j]);
        }
    }
    let mut h = [0f64; 4];
    for j in 0..4 {
        h[j] = acc[j] + acc[j + 4];
    }
    (h[0] + h[2]) + (h[1] + h[3]) + tail
}

/// `y += alpha * x` in `f64`.
#[inline(always)]
pub(crate) fn axpy64<M: Madd>(alpha: f64, x: &[f64], y: &mut [f64]) {
    let n = x.len().min(y.len());
    let (x, y) = (&x[..n], &mut y[..n]);
    let mut cx = x.chunks_exact(LANES64);
    let mut cy = y.chunks_exact_mut(LANES64);
    for (x, y) in (&mut cx).zip(&mut cy) {
        let x: [f64; LANES64] = x.try_into().expect("chunk of LANES64");
        let mut v: [f64; LANES64] = (&*y).try_into().expect("chunk of LANES64");
        for j in 0..LANES64 {
            v[j] = M::f64(alpha, x[j], v[j]);
        }
        y.copy_from_slice(&v);
    }
    for (x, y) in cx.remainder().iter().zip(cy.into_remainder()) {
        *y = M::f64(alpha, *x, *y);
    }
}
