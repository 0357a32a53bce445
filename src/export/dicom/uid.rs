//! New DICOM UIDs and the date and time stamped on exported objects.
//!
//! **UID root: `2.25`** (ISO/IEC 9834-8, DICOM PS3.5 B.2): a UID is `2.25.` followed by a
//! random 128-bit integer in decimal, as a UUID would be. No registered organisation root is
//! needed and two exports never collide in practice (122 random bits after the version bits).
//! The randomness comes from the standard library's per-process random hash keys mixed with the
//! time, the process id and a counter — std has no random number API, and a UID needs
//! uniqueness, not secrecy.

use std::collections::hash_map::RandomState;
use std::hash::BuildHasher;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::{SystemTime, UNIX_EPOCH};

/// The root of every UID ablaplan makes.
pub const UID_ROOT: &str = "2.25";

/// ablaplan's Implementation Class UID (file meta), a fixed `2.25` UID made once for it.
pub const IMPLEMENTATION_CLASS_UID: &str = "2.25.188396143236426318066395622870425391405";
/// Implementation Version Name (file meta; at most 16 characters).
pub const IMPLEMENTATION_VERSION_NAME: &str = concat!("ABLAPLAN_", env!("CARGO_PKG_VERSION"));

fn random_u128() -> u128 {
    static COUNTER: AtomicU64 = AtomicU64::new(0);
    let n = COUNTER.fetch_add(1, Ordering::Relaxed);
    let t = SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map(|d| d.as_nanos())
        .unwrap_or(0);
    let pid = std::process::id();
    let hi = RandomState::new().hash_one((t, n, pid));
    let lo = RandomState::new().hash_one((hi, n, t, pid));
    let mut v = (u128::from(hi) << 64) | u128::from(lo);
    // UUID version 4 and variant bits, as a random UUID would carry.
    v &= !(0xF_u128 << 76);
    v |= 0x4_u128 << 76;
    v &= !(0x3_u128 << 62);
    v |= 0x2_u128 << 62;
    v
}

/// A new UID under [`UID_ROOT`] (at most 44 characters, well under the 64 allowed).
pub fn new_uid() -> String {
    format!("{UID_ROOT}.{}", random_u128())
}

/// Whether `uid` is a syntactically valid DICOM UID: 1–64 characters, digits in components
/// separated by dots, no empty component, no leading zero in a multi-digit component.
pub fn is_valid_uid(uid: &str) -> bool {
    !uid.is_empty()
        && uid.len() <= 64
        && uid.split('.').all(|c| {
            !c.is_empty() && c.bytes().all(|b| b.is_ascii_digit()) && !(c.len() > 1 && c.starts_with('0'))
        })
}

/// The current UTC date and time as DICOM DA (`YYYYMMDD`) and TM (`HHMMSS`).
pub fn now_da_tm() -> (String, String) {
    let secs = SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map(|d| d.as_secs())
        .unwrap_or(0);
    da_tm_from_unix(secs)
}

/// DICOM DA and TM of a Unix time (UTC).
pub fn da_tm_from_unix(secs: u64) -> (String, String) {
    let days = (secs / 86_400) as i64;
    let rem = secs % 86_400;
    let (y, m, d) = civil_from_days(days);
    (
        format!("{y:04}{m:02}{d:02}"),
        format!("{:02}{:02}{:02}", rem / 3600, rem / 60 % 60, rem % 60),
    )
}

/// Days since 1970-01-01 → proleptic Gregorian (year, month, day) (H. Hinnant's
/// `civil_from_days`).
fn civil_from_days(z: i64) -> (i64, u32, u32) {
    let z = z + 719_468;
    let era = z.div_euclid(146_097);
    let doe = z.rem_euclid(146_097);
    let yoe = (doe - doe / 1460 + doe / 36_524 - doe / 146_096) / 365;
    let doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    let mp = (5 * doy + 2) / 153;
    let d = (doy - (153 * mp + 2) / 5 + 1) as u32;
    let m = if mp < 10 { mp + 3 } else { mp - 9 } as u32;
    let y = yoe + era * 400 + i64::from(m <= 2);
    (y, m, d)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn uids_are_valid_unique_and_under_the_root() {
        let a: Vec<String> = (0..1000).map(|_| new_uid()).collect();
        let mut b = a.clone();
        b.sort();
        b.dedup();
        assert_eq!(b.len(), a.len());
        for u in &a {
            assert!(u.starts_with("2.25.") && is_valid_uid(u), "{u}");
        }
        assert!(is_valid_uid(IMPLEMENTATION_CLASS_UID));
        assert!(IMPLEMENTATION_VERSION_NAME.len() <= 16);
        assert!(!is_valid_uid("1.02.3") && !is_valid_uid("1..2") && !is_valid_uid("1.2a"));
    }

    #[test]
    fn dates_from_unix_time() {
        assert_eq!(da_tm_from_unix(0), ("19700101".into(), "000000".into()));
        // 2024-02-29 12:34:56 UTC (a leap day).
        assert_eq!(
            da_tm_from_unix(1_709_210_096),
            ("20240229".into(), "123456".into())
        );
    }
}
