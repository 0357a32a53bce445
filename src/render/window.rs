//! Window / level (DICOM VOI LUT function "LINEAR", PS3.3 C.11.2.1.2.1) and its 16-bit
//! lookup table.

use serde::{Deserialize, Serialize};

/// A display window in HU. `width_hu` below 1 is treated as 1 (the standard requires ≥ 1).
#[derive(Clone, Copy, Debug, PartialEq, Serialize, Deserialize)]
pub struct WindowLevel {
    pub center_hu: f64,
    pub width_hu: f64,
}

impl WindowLevel {
    pub const fn new(center_hu: f64, width_hu: f64) -> Self {
        Self { center_hu, width_hu }
    }

    /// The width actually used (≥ 1; a non-finite width becomes 1).
    pub fn effective_width(&self) -> f64 {
        if self.width_hu.is_finite() {
            self.width_hu.max(1.0)
        } else {
            1.0
        }
    }

    /// Lowest and highest HU of the linear part: `c − 0.5 ∓ (w − 1)/2`.
    pub fn bounds(&self) -> (f64, f64) {
        let half = (self.effective_width() - 1.0) / 2.0;
        let c = self.center_hu - 0.5;
        (c - half, c + half)
    }

    /// The DICOM linear VOI function with output range [0, 255] (not rounded):
    /// `x ≤ c − 0.5 − (w−1)/2 → 0`, `x > c − 0.5 + (w−1)/2 → 255`,
    /// else `((x − (c − 0.5)) / (w − 1) + 0.5) · 255`.
    pub fn apply(&self, hu: f64) -> f64 {
        let w = self.effective_width();
        let (lo, hi) = self.bounds();
        if hu <= lo {
            0.0
        } else if hu > hi {
            255.0
        } else {
            // Only reached for w > 1 (for w = 1, lo == hi and one branch above is taken).
            ((hu - (self.center_hu - 0.5)) / (w - 1.0) + 0.5) * 255.0
        }
    }

    /// [`apply`](Self::apply) rounded to the nearest display value.
    pub fn apply_u8(&self, hu: f64) -> u8 {
        let v = self.apply(hu);
        if v.is_nan() {
            0
        } else {
            v.round().clamp(0.0, 255.0) as u8
        }
    }
}

/// A 65536-entry table giving the display value of every i16 HU for one [`WindowLevel`].
/// Entry `n` holds the value of HU `n as u16 as i16` (i.e. the table is indexed by the HU's
/// bit pattern, `hu as u16`). Rebuild it only when the window changes.
#[derive(Clone)]
pub struct WlLut {
    window: WindowLevel,
    table: Box<[u8]>,
}

impl std::fmt::Debug for WlLut {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("WlLut")
            .field("window", &self.window)
            .finish_non_exhaustive()
    }
}

impl WlLut {
    pub const LEN: usize = 1 << 16;

    pub fn new(window: WindowLevel) -> Self {
        let mut table = vec![0u8; Self::LEN].into_boxed_slice();
        let (lo, hi) = window.bounds();
        for (n, out) in table.iter_mut().enumerate() {
            let hu = f64::from(n as u16 as i16);
            // Saturated entries skip the arithmetic; the rest use exactly `apply_u8`.
            *out = if hu <= lo {
                0
            } else if hu > hi {
                255
            } else {
                window.apply_u8(hu)
            };
        }
        Self { window, table }
    }

    pub fn window(&self) -> WindowLevel {
        self.window
    }

    /// True when this table was built for `window` (so it need not be rebuilt).
    pub fn is_for(&self, window: &WindowLevel) -> bool {
        self.window == *window
    }

    #[inline]
    pub fn get(&self, hu: i16) -> u8 {
        // The table has exactly 65536 entries, so every u16 index is in bounds.
        self.table[hu as u16 as usize]
    }

    /// The raw table (indexed by `hu as u16`).
    pub fn as_slice(&self) -> &[u8] {
        &self.table
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn voi_boundaries_and_mid() {
        let wl = WindowLevel::new(40.0, 400.0);
        assert_eq!(wl.bounds(), (-160.0, 239.0));
        assert_eq!(wl.apply(-160.0), 0.0);
        assert_eq!(wl.apply(-1000.0), 0.0);
        assert!(wl.apply(-159.0) > 0.0 && wl.apply(-159.0) < 1.0);
        assert_eq!(wl.apply(240.0), 255.0);
        assert_eq!(wl.apply(239.0), 255.0 * (199.5 / 399.0 + 0.5));
        assert_eq!(wl.apply_u8(40.0), 128);
        assert!((wl.apply(40.0) - 127.82).abs() < 0.01);
        // Monotone.
        let mut last = -1.0;
        for hu in -200..300 {
            let v = wl.apply(f64::from(hu));
            assert!(v >= last);
            last = v;
        }
    }

    #[test]
    fn one_wide_window_is_a_threshold() {
        let wl = WindowLevel::new(100.0, 1.0);
        assert_eq!(wl.apply(99.0), 0.0);
        assert_eq!(wl.apply(99.5), 0.0);
        assert_eq!(wl.apply(99.6), 255.0);
        assert_eq!(wl.apply(100.0), 255.0);
        // Widths below 1 behave like 1.
        let narrow = WindowLevel::new(100.0, 0.0);
        assert_eq!(narrow.apply(99.0), 0.0);
        assert_eq!(narrow.apply(100.0), 255.0);
        let lut = WlLut::new(wl);
        assert_eq!(lut.get(99), 0);
        assert_eq!(lut.get(100), 255);
    }

    #[test]
    fn lut_equals_function_for_every_i16() {
        for wl in [
            WindowLevel::new(40.0, 400.0),
            WindowLevel::new(40.0, 350.0),
            WindowLevel::new(-600.0, 1500.0),
            WindowLevel::new(480.0, 2500.0),
            WindowLevel::new(90.0, 150.0),
            WindowLevel::new(0.0, 2.0),
            WindowLevel::new(12.3, 7.7),
            WindowLevel::new(-32768.0, 1.0),
            WindowLevel::new(32767.0, 65536.0),
        ] {
            let lut = WlLut::new(wl);
            for hu in i16::MIN..=i16::MAX {
                assert_eq!(lut.get(hu), wl.apply_u8(f64::from(hu)), "{wl:?} at {hu}");
            }
        }
    }
}
