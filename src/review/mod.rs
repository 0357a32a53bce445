//! Review of treated cases: outcome fields as recorded in the source studies (technical success,
//! complications graded by Clavien–Dindo and by the SIR 2017 adverse-event classification,
//! follow-up, local and distant progression) and the Kaplan–Meier estimator for cohort curves of
//! progression-free survival. Plain data in, plain data out: the cohort view in `app/` plots the
//! curves with egui_plot.

pub mod km;
pub mod library;
/// The outcome fields moved down to `plan` (they are saved with a case); this path stays.
pub mod outcome {
    pub use crate::plan::outcome::*;
}

pub use km::{
    CohortCase, CohortCurves, DAYS_PER_MONTH, Endpoint, GroupBy, GroupCurve, KaplanMeier, KmError, KmStep,
    Observation, cohort_curves, group_curves,
};
pub use outcome::{
    CaseOutcome, CivilDate, ClavienDindo, Complication, DateError, OutcomeError, SirGrade,
    TECHNICAL_SUCCESS_MARGIN_MM,
};
