//! Refinement after the first confirmations. When no confirmed array covers target + margin
//! within the rules, the full model says where the preview was wrong and by how much — its
//! sensitivity, per point of the target and of the shell: the full model's level over the
//! preview's (IRE: the field over the threshold, both on their own grids; the ratio carries the
//! conductivity rise with the field, the tissue contrast and the end effects the linear preview
//! leaves out), set so that the corrected preview of the confirmed array says exactly what the
//! full model says at every point. The other arrays of the search are judged again with that
//! correction, and only one predicted to cover is confirmed next.

use super::search::{COVERED, Candidate, coverage_of_levels, headroom, ire_level};
use super::target::TargetPoints;
use crate::geometry::PatientPos;
use crate::physics::model::ModelResult;

/// Ratios kept within this range: one point far from every electrode must not make a whole
/// array look hopeless or perfect.
const RHO_RANGE: (f64, f64) = (0.2, 5.0);

/// The full model's correction of the preview level, per point (`target.inside` ++
/// `target.shell`), from one confirmed candidate. `in_full` is the full model's lethal zone as
/// coverage reads it (the band's inner surface when there is one).
pub fn sensitivity(
    confirmed: &Candidate,
    result: &ModelResult,
    in_full: &dyn Fn(&PatientPos) -> bool,
    target: &TargetPoints,
) -> Vec<f32> {
    target
        .inside
        .iter()
        .chain(&target.shell)
        .zip(&confirmed.levels)
        .map(|(p, &prev)| {
            let prev = f64::from(prev);
            let full_covers = in_full(p);
            if prev.is_nan() || prev <= 1e-3 {
                // Nothing to scale: next to an electrode, or no field / ice on the preview.
                return 1.0;
            }
            let mut rho = match result {
                ModelResult::Ire(r) => ire_level(r, p) / prev,
                ModelResult::Cryo(_) => 1.0,
            };
            // The corrected preview must agree with the full model's verdict at this point.
            if full_covers && prev * rho < 1.0 {
                rho = 1.0 / prev;
            } else if !full_covers && prev * rho >= 1.0 {
                rho = 0.98 / prev;
            }
            rho.clamp(RHO_RANGE.0, RHO_RANGE.1) as f32
        })
        .collect()
}

/// One candidate judged with the correction: fractions of the target and the shell covered,
/// and the headroom.
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct Predicted {
    pub coverage_target: f64,
    pub coverage_margin: f64,
    pub headroom: f64,
}

impl Predicted {
    pub fn covers(&self) -> bool {
        self.coverage_target >= 0.999 && self.coverage_margin >= COVERED
    }
}

/// The corrected preview of `c`.
pub fn predict(c: &Candidate, rho: &[f32], n_inside: usize) -> Predicted {
    let corrected: Vec<f32> = c.levels.iter().zip(rho).map(|(l, r)| l * r).collect();
    let (coverage_target, coverage_margin) = coverage_of_levels(&corrected, n_inside);
    Predicted {
        coverage_target,
        coverage_margin,
        headroom: headroom(&corrected, n_inside),
    }
}

/// The next candidate to confirm: among those not tried that keep the hard rules on the preview
/// and are predicted to cover target + margin after the correction — room for the full model's
/// growth first, then the fewest probes, then the most headroom. `None` when none is predicted
/// to cover (another full run would not change the answer).
pub fn next_candidate(
    candidates: &[Candidate],
    tried: &[usize],
    rho: &[f32],
    n_inside: usize,
    current_limit_a: f64,
) -> Option<(usize, Predicted)> {
    candidates
        .iter()
        .enumerate()
        .filter(|(i, c)| {
            !tried.contains(i)
                && c.breaks.is_empty()
                && c.current_a.is_none_or(|a| a < current_limit_a)
                && c.levels.len() == rho.len()
        })
        .map(|(i, c)| (i, c, predict(c, rho, n_inside)))
        .filter(|(_, _, p)| p.covers())
        .max_by(|(_, a, pa), (_, b, pb)| {
            (
                a.tight.is_empty(),
                std::cmp::Reverse(a.n),
                std::cmp::Reverse(a.uncertain),
            )
                .cmp(&(
                    b.tight.is_empty(),
                    std::cmp::Reverse(b.n),
                    std::cmp::Reverse(b.uncertain),
                ))
                .then(pa.headroom.total_cmp(&pb.headroom))
        })
        .map(|(i, _, p)| (i, p))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_correction_makes_the_preview_say_what_the_full_model_says() {
        // Four points, all inside the preview (level 1.2); the full model missed the last.
        let levels = [1.2f32, 1.2, 1.2, 1.2];
        let full = [true, true, true, false];
        let rho: Vec<f32> = levels
            .iter()
            .zip(full)
            .map(|(&l, f)| {
                let l = f64::from(l);
                let r = if f { 1.0 } else { 0.98 / l };
                r as f32
            })
            .collect();
        let same = Candidate::for_test(&levels, 2);
        let p = predict(&same, &rho, 1);
        assert!(p.coverage_margin < 1.0, "{p:?}");
        // An array with more field where the full model fell short is predicted to cover.
        let stronger = Candidate::for_test(&[1.2, 1.2, 1.2, 1.5], 3);
        let q = predict(&stronger, &rho, 1);
        assert_eq!(q.coverage_margin, 1.0);
        let pick = next_candidate(&[same, stronger], &[], &rho, 1, 48.0);
        assert_eq!(pick.map(|x| x.0), Some(1));
    }
}
