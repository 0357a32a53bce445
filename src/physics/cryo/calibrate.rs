//! Calibration of the cryoprobes' gas side as code (REFERENCE.md §7).
//!
//! Only the parameters the literature leaves open are fitted, per probe model, inside their
//! published or physical ranges, on the calibration set of REFERENCE.md §7 and nothing else:
//!
//! - **2.4 mm probe** (`littrup2009_2p4mm`): h, on C2 with one probe (Littrup 2009, 39 °C agar,
//!   15 min, `assets/cases/c2_littrup_1_probes.json`), on both figures the paper gives for that
//!   experiment: the lethal (< −30 °C) diameter, 12 mm, and the lethal ice's share of the
//!   iceball's cross-section, 13 %, which makes the iceball (seen on CT, not read from the
//!   thermocouples) 12 / √0.13 = 33.3 mm across. The gas temperature, the h profile and the
//!   active length stay as the catalog has them.
//! - **17G needles** (`icesphere`, and through the shared needle design IceSeed, IceRod,
//!   IceForce): h and the IceSphere's active length, on C3 (0 °C iceball 37 ± 4 × 32 ± 3 mm in gel
//!   at 10 min; `assets/cases/c3_icesphere_gel_10min.json`).
//!
//! C2 with 2, 3 and 4 probes is validation only: nothing here reads those cases.
//!
//! Sizes: C3 as `compute --json` reports them (node extents of the zone at the end of the freeze,
//! along the probe axis and across it, [`iceball_axes`]); C2 as Littrup measured them, in the
//! plane of the thermocouples across the probes ([`active_mid_plane`]): the diameter of the
//! circle of the cross-section's area (see [`Measure::LethalSectionDiameter`]), the same measure
//! the 2–4 probe validation uses. The fits are bisections on monotone functions of h: with two
//! targets for h, the h where the larger residual in units of its tolerance is smallest (both
//! sizes grow with h, so that is where the two scaled residuals are equal and opposite).
//!
//! Besides the value, the calibration gives the **range that remains**: the h values for which the
//! calibration case stays within its tolerance (C2: ±5 mm, the aim REFERENCE.md gives — Littrup's
//! thermocouples sat 5 mm apart; C3: the published ±4 / ±3 mm). That range is stored as the
//! band's range of h (`band_min` / `band_max` in `assets/probes.json`).
//!
//! Also the single-probe experiment of the preview ([`single_probe_dims`]).

use super::model::{
    CryoAssets, CryoError, CryoResult, CryoSettings, active_mid_plane, build_problem, compute_cryo,
    equivalent_diameter_mm, iceball_axes, probe_thermal,
};
use super::solver;
use super::tissue::CryoTissueSource;
use crate::geometry::PatientPos;
use crate::jobs::JobCtx;
use crate::physics::grid::ComputeGrid;
use crate::plan::case::{CaseFile, CaseSource, load_case};
use crate::plan::catalog::CalibrationTarget;
use crate::plan::probe::Probe;
use crate::plan::protocol::CryoProtocol;
use nalgebra::Vector3;
use serde::Serialize;
use std::path::{Path, PathBuf};

/// The experiment of a single-probe run (preview ellipsoids).
#[derive(Clone, Debug, PartialEq, Serialize)]
pub struct CalibrationSetup {
    pub model_id: String,
    /// Active length (mm); the catalog's when `None`.
    pub active_length_mm: Option<f64>,
    pub medium_class: String,
    pub initial_temperature_c: f64,
    pub freeze_s: f64,
    pub spacing_mm: f64,
    pub margin_mm: f64,
    pub isotherm_c: f64,
}

/// Length along the probe and width across it (mm) of one isotherm.
#[derive(Clone, Copy, Debug, PartialEq, Serialize)]
pub struct IsothermDims {
    pub length_mm: f64,
    pub width_mm: f64,
}

/// Distance (mm) from `centre` along `dir` to where the temperature first rises above
/// `temperature_c` (trilinear, sub-step interpolation); 0 when `centre` itself is warmer; `None`
/// when the isotherm reaches the grid's edge.
pub fn isotherm_reach_mm(
    grid: &ComputeGrid,
    values: &[i16],
    temperature_c: f64,
    centre: &PatientPos,
    dir: &Vector3<f64>,
) -> Option<f64> {
    let step = grid.spacing_mm / 8.0;
    let at = |d: f64| super::model::trilinear_i16(grid, values, &(centre + dir * d)).map(f64::from);
    let mut prev = at(0.0)?;
    if prev > temperature_c {
        return Some(0.0);
    }
    let mut d = 0.0;
    loop {
        let next_d = d + step;
        let next = at(next_d)?;
        if next > temperature_c {
            let f = (temperature_c - prev) / (next - prev);
            return Some(d + f * step);
        }
        prev = next;
        d = next_d;
    }
}

/// The single probe of a single-probe run: along +S (entry above the tip), active part centred on
/// the origin.
pub fn calibration_probe(model_id: &str, active_length_mm: f64) -> Probe {
    Probe {
        model_id: model_id.to_string(),
        tip_lps: PatientPos::new(0.0, 0.0, -0.5 * active_length_mm),
        entry_lps: PatientPos::new(0.0, 0.0, 150.0),
        exposure_mm: active_length_mm,
        label: "calibration".into(),
    }
}

/// One probe of the catalog's model in a large block (far field held at the block temperature):
/// the isotherm's length and width (continuous reach through the middle of the active length).
pub fn single_probe_dims(
    setup: &CalibrationSetup,
    assets: &CryoAssets,
    ctx: &JobCtx,
) -> Result<IsothermDims, CryoError> {
    let model = assets
        .catalog
        .get(&setup.model_id)
        .ok_or_else(|| CryoError::Invalid(format!("unknown probe model \"{}\"", setup.model_id)))?;
    let len = setup
        .active_length_mm
        .or_else(|| model.default_active_mm())
        .ok_or_else(|| CryoError::Invalid(format!("{}: no active length", setup.model_id)))?;
    let probe = calibration_probe(&setup.model_id, len);
    let thermal = probe_thermal(&probe, &assets.catalog)?;
    let mut settings = CryoSettings {
        protocol: CryoProtocol::freeze_only(setup.freeze_s),
        ..CryoSettings::default()
    };
    settings.model.spacing_mm = setup.spacing_mm;
    settings.model.margin_mm = setup.margin_mm;
    settings.model.snapshot_interval_s = setup.freeze_s;
    let tissue = CryoTissueSource::Phantom {
        class_id: &setup.medium_class,
        centre_lps: PatientPos::origin(),
        size_mm: [1000.0; 3],
        temperature_c: setup.initial_temperature_c,
    };
    let problem = build_problem(std::slice::from_ref(&thermal), &settings, &tissue, assets)?;
    let cancel = || ctx.cancel.is_cancelled();
    let out = solver::run(&problem, &cancel, &|_| {})?;
    let last = out
        .snapshots
        .last()
        .ok_or_else(|| CryoError::Invalid("no snapshot".into()))?;
    let g = &problem.grid;
    let iso = setup.isotherm_c;
    let edge = || CryoError::Invalid("the isotherm reaches the grid's edge — enlarge the margin".into());
    let origin = PatientPos::origin();
    let mut radial = 0.0;
    for d in [Vector3::x(), -Vector3::x(), Vector3::y(), -Vector3::y()] {
        radial += isotherm_reach_mm(g, last, iso, &origin, &d).ok_or_else(edge)?;
    }
    let up = isotherm_reach_mm(g, last, iso, &origin, &Vector3::z()).ok_or_else(edge)?;
    let down = isotherm_reach_mm(g, last, iso, &origin, &-Vector3::z()).ok_or_else(edge)?;
    Ok(IsothermDims {
        length_mm: up + down,
        width_mm: 0.5 * radial,
    })
}

// ---------------------------------------------------------------------------------------------
// The calibration set
// ---------------------------------------------------------------------------------------------

/// What a calibration target measures (node extents at the end of the freeze, as `compute
/// --json` reports them).
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum Measure {
    /// The lethal zone (the case's lethal isotherm, lowest temperature reached) in the plane
    /// across the probes at the middle of their active lengths: the diameter of the circle of
    /// its area — the C2 "average lethal diameter". Why this measure (Littrup et al., JVIR
    /// 2009): the paper assessed the "diameters and surface areas" of the −30 °C isotherm on the
    /// CT plane of the thermocouples, and its own figures obey diameter ratio² = area ratio (the
    /// 1.7 mm probes: 84 % of the diameter, 71 % of the area; 0.84² = 0.71), which the
    /// equivalent-circle diameter satisfies by construction; it needs no choice of axes for the
    /// non-circular multi-probe zones. Chosen on that evidence, before the validation was run
    /// with it (it gave the smaller multi-probe diameters of the measures at hand).
    LethalSectionDiameter,
    /// The 0 °C iceball at the end of the freeze in the same plane, as the same equivalent
    /// diameter.
    IceballSectionDiameter,
    /// The 0 °C iceball at the end of the freeze along the probe axis.
    IceballLength,
    /// The 0 °C iceball: mean of the two extents across the probe.
    IceballWidth,
}

impl Measure {
    pub fn label(self) -> &'static str {
        match self {
            Measure::LethalSectionDiameter => {
                "lethal diameter (equivalent circle of the cross-section at the middle of the active length)"
            }
            Measure::IceballSectionDiameter => {
                "0 °C iceball diameter (equivalent circle of the cross-section at the middle of the active length)"
            }
            Measure::IceballLength => "0 °C iceball length (along the probe)",
            Measure::IceballWidth => "0 °C iceball width (mean of the two extents across the probe)",
        }
    }

    /// This measure of a case's sizes.
    pub fn of(self, s: &CaseSizes) -> f64 {
        match self {
            Measure::LethalSectionDiameter => s.lethal_section_diameter_mm,
            Measure::IceballSectionDiameter => s.iceball_section_diameter_mm,
            Measure::IceballLength => s.iceball_length_mm,
            Measure::IceballWidth => s.iceball_width_mm,
        }
    }
}

/// One published size of a calibration case.
#[derive(Clone, Debug, PartialEq, Serialize)]
pub struct Target {
    pub measure: Measure,
    pub published_mm: f64,
    pub tolerance_mm: f64,
    pub source: &'static str,
}

/// One probe model's calibration (REFERENCE.md §7).
#[derive(Clone, Debug, PartialEq, Serialize)]
pub struct CalibrationSpec {
    pub model_id: &'static str,
    /// Models sharing the fitted h (same needle and gas side); their active lengths are not fitted.
    pub shares_h_with: Vec<&'static str>,
    pub calibrated_on: &'static str,
    /// Relative to the crate root.
    pub case_file: &'static str,
    pub targets: Vec<Target>,
    /// Fit the active length too (the 17G needles: REFERENCE.md §7).
    pub fit_active_length: bool,
    /// The active length's allowed range (mm) and its source.
    pub active_length_range_mm: (f64, f64),
    pub active_length_range_source: &'static str,
}

/// C2 single probe: the published lethal (< −30 °C) diameter (mm), Littrup 2009.
pub const C2_SINGLE_LETHAL_MM: f64 = 12.0;
/// C2 single probe: the lethal ice's share of the iceball's area, Littrup 2009 ("13 %").
pub const C2_SINGLE_LETHAL_AREA_FRACTION: f64 = 0.13;
/// Tolerance (mm) of the iceball diameter derived from the two rounded figures: 1.2 ± 0.05 cm
/// and 13 ± 0.5 % give 11.5 / √0.135 = 31.3 to 12.5 / √0.125 = 35.4 mm, ± 2.0 around 33.3.
pub const C2_SINGLE_ICEBALL_TOLERANCE_MM: f64 = 2.0;

/// The single probe's 0 °C iceball diameter (mm) the paper implies: the lethal diameter over
/// √(area fraction) — both figures of the same experiment, so the ratio holds whatever the
/// thermocouples did to the lethal edge (12 / √0.13 = 33.28 mm).
pub fn c2_single_iceball_mm() -> f64 {
    C2_SINGLE_LETHAL_MM / C2_SINGLE_LETHAL_AREA_FRACTION.sqrt()
}

/// The calibration set of REFERENCE.md §7, as code.
pub fn calibration_set() -> Vec<CalibrationSpec> {
    vec![
        CalibrationSpec {
            model_id: "littrup2009_2p4mm",
            shares_h_with: Vec::new(),
            calibrated_on: "C2 single probe (Littrup et al., JVIR 2009: one 2.4 mm probe, 39 °C agar, 15 min, lethal < −30 °C diameter 12 mm comprising 13 % of the iceball's area; REFERENCE.md §3, §7)",
            case_file: "assets/cases/c2_littrup_1_probes.json",
            targets: vec![
                Target {
                    measure: Measure::LethalSectionDiameter,
                    published_mm: C2_SINGLE_LETHAL_MM,
                    tolerance_mm: 5.0,
                    source: "Littrup 2009 (REFERENCE.md §3 C2): 12 mm, SD not reported — aim ±5 mm (REFERENCE.md); the thermocouples sat 0.5 cm apart",
                },
                Target {
                    measure: Measure::IceballSectionDiameter,
                    published_mm: c2_single_iceball_mm(),
                    tolerance_mm: C2_SINGLE_ICEBALL_TOLERANCE_MM,
                    source: "Littrup 2009 abstract (PMC2762356): the single 2.4 mm probe's lethal ice is 13 % of the iceball's surface area, so the iceball is 12 mm / √0.13 = 33.3 mm across (equivalent circle); ± 2.0 mm is the rounding of the two published figures (1.2 ± 0.05 cm, 13 ± 0.5 %: 31.3–35.4 mm). The iceball edge is seen on CT, not read from the thermocouples",
                },
            ],
            fit_active_length: false,
            active_length_range_mm: (40.0, 40.0),
            active_length_range_source: "not fitted for the 2.4 mm probe (REFERENCE.md §7 fits the active length of the 17G needles only)",
        },
        CalibrationSpec {
            model_id: "icesphere",
            shares_h_with: vec!["iceseed", "icerod", "iceforce"],
            calibrated_on: "C3 (public 17G single-needle iceball, 0 °C 37 ± 4 × 32 ± 3 mm in gel at 10 min, probe model probably IceSphere; REFERENCE.md §3, §7)",
            case_file: "assets/cases/c3_icesphere_gel_10min.json",
            targets: vec![
                Target {
                    measure: Measure::IceballLength,
                    published_mm: 37.0,
                    tolerance_mm: 4.0,
                    source: "REFERENCE.md §3 C3: 37 ± 4 mm",
                },
                Target {
                    measure: Measure::IceballWidth,
                    published_mm: 32.0,
                    tolerance_mm: 3.0,
                    source: "REFERENCE.md §3 C3: 32 ± 3 mm",
                },
            ],
            fit_active_length: true,
            active_length_range_mm: (10.0, 45.0),
            active_length_range_source: "Go-Smart 17G active lengths 20–45 mm (IceSEED 20, IceSPHERE 25, IceROD/IceEDGE 45; REFERENCE.md §7, code, not a manufacturer source), widened down to 10 mm (a 17G needle's freezing zone is at least a centimetre) — unconfirmed",
        },
    ]
}

/// The sizes a calibration or validation case gives (mm).
#[derive(Clone, Copy, Debug, PartialEq, Serialize)]
pub struct CaseSizes {
    /// The lethal zone: mean of the node extents along the pair axis and the perpendicular
    /// (reported beside the section diameter; not a calibration target).
    pub lethal_diameter_mm: f64,
    /// The lethal zone's extents along the probe axis, the pair axis and the perpendicular.
    pub lethal_extents_mm: [f64; 3],
    pub iceball_length_mm: f64,
    pub iceball_width_mm: f64,
    /// Equivalent-circle diameters (mm) of the lethal zone and of the 0 °C iceball in the plane
    /// across the probes at the middle of their active lengths ([`active_mid_plane`]).
    pub lethal_section_diameter_mm: f64,
    pub iceball_section_diameter_mm: f64,
    /// Lethal cross-section area / iceball cross-section area in that plane (Littrup's
    /// "percentage of lethal ice": 13 / 46 / 51 / 56 % for 1–4 probes).
    pub lethal_area_fraction: f64,
}

impl CaseSizes {
    /// The sizes of a computed case at the end of its last freeze (node extents, `compute
    /// --json`'s axes; sections from the temperature fields, interpolated).
    pub fn of(r: &CryoResult, probes: &[Probe]) -> Option<Self> {
        let s = r.end_of_last_freeze_snapshot();
        let lethal = r.lethal_mask(s);
        let ice = r.isotherm_mask(s, 0.0);
        let (centre, normal) = active_mid_plane(probes)?;
        let lethal_area = if s == r.last_snapshot() {
            r.isotherm_section_mm2(&r.min_final, r.lethal_isotherm_c, &centre, &normal)
        } else {
            r.mask_section_mm2(&lethal, &centre, &normal)
        };
        let ice_area = r.isotherm_section_mm2(&r.snapshots[s], 0.0, &centre, &normal);
        Self::from_parts(r, probes, &lethal, &ice, lethal_area, ice_area)
    }

    /// The same sizes of two node masks (a band's lethal and 0 °C surfaces).
    pub fn of_masks(r: &CryoResult, probes: &[Probe], lethal: &[bool], ice: &[bool]) -> Option<Self> {
        let (centre, normal) = active_mid_plane(probes)?;
        let lethal_area = r.mask_section_mm2(lethal, &centre, &normal);
        let ice_area = r.mask_section_mm2(ice, &centre, &normal);
        Self::from_parts(r, probes, lethal, ice, lethal_area, ice_area)
    }

    fn from_parts(
        r: &CryoResult,
        probes: &[Probe],
        lethal: &[bool],
        ice: &[bool],
        lethal_area_mm2: f64,
        ice_area_mm2: f64,
    ) -> Option<Self> {
        let axes = iceball_axes(probes)?;
        let l = r.extents_mm(lethal, axes);
        let i = r.extents_mm(ice, axes);
        Some(Self {
            lethal_diameter_mm: 0.5 * (l[1] + l[2]),
            lethal_extents_mm: l,
            iceball_length_mm: i[0],
            iceball_width_mm: 0.5 * (i[1] + i[2]),
            lethal_section_diameter_mm: equivalent_diameter_mm(lethal_area_mm2),
            iceball_section_diameter_mm: equivalent_diameter_mm(ice_area_mm2),
            lethal_area_fraction: if ice_area_mm2 > 0.0 {
                lethal_area_mm2 / ice_area_mm2
            } else {
                0.0
            },
        })
    }
}

/// A phantom case file read for (re)running: probes, settings, tissue.
#[derive(Clone, Debug)]
pub struct PhantomCase {
    pub path: PathBuf,
    pub case: CaseFile,
    pub tissue_class: String,
    pub size_mm: [f64; 3],
    pub centre_lps: PatientPos,
    pub temperature_c: f64,
}

impl PhantomCase {
    pub fn load(path: &Path) -> Result<Self, CryoError> {
        let case = load_case(path).map_err(|e| CryoError::Invalid(e.to_string()))?;
        let CaseSource::Phantom {
            tissue,
            size_mm,
            centre_lps,
        } = &case.source
        else {
            return Err(CryoError::Invalid(format!(
                "{}: a calibration case must be a phantom",
                path.display()
            )));
        };
        Ok(Self {
            path: path.to_path_buf(),
            tissue_class: tissue.clone(),
            size_mm: *size_mm,
            centre_lps: PatientPos::from(*centre_lps),
            temperature_c: case.cryo_settings().phantom_temperature_c,
            case,
        })
    }

    /// Runs the case with `assets` (the band off), `spacing_mm` if given; probes of `model_id`
    /// get `active_length_mm` if given (the middle of the active length kept).
    pub fn run(
        &self,
        assets: &CryoAssets,
        model_id: &str,
        active_length_mm: Option<f64>,
        spacing_mm: Option<f64>,
        ctx: &JobCtx,
    ) -> Result<(CryoResult, CaseSizes), CryoError> {
        let mut settings = self.case.cryo_settings().settings();
        settings.model.band = false;
        if let Some(s) = spacing_mm {
            settings.model.spacing_mm = s;
        }
        let probes: Vec<Probe> = self
            .case
            .probes
            .iter()
            .map(|p| {
                let mut p = p.clone();
                if let Some(l) = active_length_mm.filter(|_| p.model_id == model_id) {
                    // Keep the middle of the active length where the case put it.
                    let d = (p.entry_lps - p.tip_lps)
                        .try_normalize(1e-12)
                        .unwrap_or_else(Vector3::z);
                    let centre = p.tip_lps + d * (0.5 * p.exposure_mm);
                    p.tip_lps = centre - d * (0.5 * l);
                    p.exposure_mm = l;
                }
                p
            })
            .collect();
        let source = CryoTissueSource::Phantom {
            class_id: &self.tissue_class,
            centre_lps: self.centre_lps,
            size_mm: self.size_mm,
            temperature_c: self.temperature_c,
        };
        let r = compute_cryo(&probes, &settings, source, assets, ctx)?;
        let sizes = CaseSizes::of(&r, &probes).ok_or_else(|| CryoError::Invalid("no probe axis".into()))?;
        Ok((r, sizes))
    }
}

/// `assets` with the gas side h (and active length) of `model_id` replaced.
pub fn with_probe_params(
    assets: &CryoAssets,
    model_id: &str,
    h_w_per_m2_k: f64,
    active_length_mm: Option<f64>,
) -> CryoAssets {
    let mut a = assets.clone();
    if let Some(m) = a.catalog.probes.iter_mut().find(|m| m.id == model_id) {
        if let Some(g) = m.cryo_boundary.as_mut().and_then(|b| b.gas_side.as_mut()) {
            g.h_w_per_m2_k.value = h_w_per_m2_k;
        }
        if let (Some(l), Some(al)) = (active_length_mm, m.active_length_mm.as_mut()) {
            al.value = l;
        }
    }
    a
}

/// The outcome of one model's calibration.
#[derive(Clone, Debug, PartialEq, Serialize)]
pub struct ModelCalibration {
    pub model_id: String,
    pub shares_h_with: Vec<String>,
    pub calibrated_on: String,
    pub case_file: String,
    pub fitted: Vec<String>,
    pub h_w_per_m2_k: f64,
    /// The physical range h was fitted in.
    pub h_range_w_per_m2_k: (f64, f64),
    /// The h values for which every target stays within its tolerance (the band's range).
    pub h_band_w_per_m2_k: (f64, f64),
    pub active_length_mm: Option<f64>,
    pub active_length_range_mm: (f64, f64),
    /// The active lengths for which the length target stays within its tolerance (the band's).
    pub active_length_band_mm: Option<(f64, f64)>,
    pub targets: Vec<CalibrationTarget>,
    /// Every target within its tolerance.
    pub reached: bool,
    /// Model runs used.
    pub runs: usize,
    pub spacing_mm: f64,
    pub method: String,
    pub notes: Vec<String>,
}

/// The smallest `x` in `[lo, hi]` (bisection, geometric when `log`) with `f(x) ≥ target`, for an
/// `f` that grows with `x`; `None` when even `f(hi)` stays below; `lo` when `f(lo)` reaches it.
fn crossing(
    (lo, hi): (f64, f64),
    log: bool,
    iterations: usize,
    target: f64,
    f: &mut dyn FnMut(f64) -> Result<f64, CryoError>,
) -> Result<Option<f64>, CryoError> {
    if f(hi)? < target {
        return Ok(None);
    }
    if f(lo)? >= target {
        return Ok(Some(lo));
    }
    let (mut a, mut b) = (lo, hi);
    for _ in 0..iterations {
        let m = if log { (a * b).sqrt() } else { 0.5 * (a + b) };
        if f(m)? >= target {
            b = m;
        } else {
            a = m;
        }
    }
    Ok(Some(b))
}

/// `x` to 3 significant figures.
fn sig3(x: f64) -> f64 {
    if x <= 0.0 || !x.is_finite() {
        return x;
    }
    let mag = 10f64.powf(x.log10().floor() - 2.0);
    (x / mag).round() * mag
}

/// Calibrates one model on its case (see the module doc). `spacing_mm` = the case's grid when
/// `None`.
pub fn calibrate_model(
    spec: &CalibrationSpec,
    assets: &CryoAssets,
    root: &Path,
    spacing_mm: Option<f64>,
    ctx: &JobCtx,
    log: &mut dyn FnMut(&str),
) -> Result<ModelCalibration, CryoError> {
    let case = PhantomCase::load(&root.join(spec.case_file))?;
    let spacing = spacing_mm.unwrap_or(case.case.cryo_settings().model.spacing_mm);
    let model = assets
        .catalog
        .get(spec.model_id)
        .ok_or_else(|| CryoError::Invalid(format!("unknown probe model \"{}\"", spec.model_id)))?;
    let gas = model
        .cryo_boundary
        .as_ref()
        .and_then(|b| b.gas_side.as_ref())
        .ok_or_else(|| CryoError::Invalid(format!("{}: no gas side in the catalog", spec.model_id)))?;
    let h_range = (gas.h_w_per_m2_k.min, gas.h_w_per_m2_k.max);
    let mut length = model.default_active_mm();
    let mut runs = 0usize;
    let mut notes = Vec::new();
    let size = |h: f64, l: Option<f64>, runs: &mut usize| -> Result<CaseSizes, CryoError> {
        *runs += 1;
        let a = with_probe_params(assets, spec.model_id, h, l);
        let (_, s) = case.run(&a, spec.model_id, l, Some(spacing), ctx)?;
        Ok(s)
    };
    // The targets h is fitted to: the width across the probe (C3), the lethal and the iceball
    // diameters (C2); the active length is fitted to the length.
    let h_targets: Vec<Target> = spec
        .targets
        .iter()
        .filter(|t| t.measure != Measure::IceballLength)
        .cloned()
        .collect();
    if h_targets.is_empty() {
        return Err(CryoError::Invalid("no target for h".into()));
    }
    // The smallest and largest residual of the h targets in units of their tolerances. Every
    // size grows with h, so both do: the larger |residual| is smallest where their sum crosses
    // 0 (with one target: where the size meets the published value), and every target is
    // within its tolerance from where the smallest reaches −1 to where the largest reaches +1.
    let scaled = |s: &CaseSizes| {
        h_targets
            .iter()
            .map(|t| (t.measure.of(s) - t.published_mm) / t.tolerance_mm)
            .fold((f64::INFINITY, f64::NEG_INFINITY), |(lo, hi), g| {
                (lo.min(g), hi.max(g))
            })
    };
    let h_labels = h_targets
        .iter()
        .map(|t| format!("{} {:.1} mm", t.measure.label(), t.published_mm))
        .collect::<Vec<_>>()
        .join(" and ");
    let len_target = spec
        .targets
        .iter()
        .find(|t| t.measure == Measure::IceballLength)
        .cloned();
    let mut h = h_range.1;
    let rounds = if spec.fit_active_length { 3 } else { 1 };
    for round in 0..rounds {
        h = match crossing(h_range, true, 10, 0.0, &mut |x| {
            let (lo, hi) = scaled(&size(x, length, &mut runs)?);
            Ok(lo + hi)
        })? {
            Some(x) => x,
            None => {
                let n = format!(
                    "{}: the {h_labels} target is not reached inside the h range (largest at h = {} W/m²·K) — h stops at the range's end",
                    spec.model_id, h_range.1
                );
                if !notes.contains(&n) {
                    notes.push(n.clone());
                }
                log(&n);
                h_range.1
            }
        };
        log(&format!("round {round}: h = {h:.0} W/m²·K"));
        if let (true, Some(t)) = (spec.fit_active_length, &len_target) {
            let t = t.clone();
            let (lo, hi) = spec.active_length_range_mm;
            let l = crossing((lo, hi), false, 9, t.published_mm, &mut |x| {
                Ok(Measure::IceballLength.of(&size(h, Some(x), &mut runs)?))
            })?
            .unwrap_or(hi);
            // Active lengths are catalogued to 0.5 mm.
            let l = (l * 2.0).round() / 2.0;
            if h < h_range.1 {
                length = Some(l);
                log(&format!("round {round}: active length = {l:.1} mm"));
                continue;
            }
            // h stopped at its bound (the width is out of reach): one parameter is left for two
            // targets, so the length is the one that minimises the larger residual in units of
            // its tolerance (a scan of ±6 mm in 0.5 mm steps around the length-only fit).
            let score = |s: &CaseSizes| {
                spec.targets
                    .iter()
                    .map(|t| (t.measure.of(s) - t.published_mm).abs() / t.tolerance_mm)
                    .fold(0.0f64, f64::max)
            };
            let mut best = (f64::INFINITY, l);
            for i in -12i32..=12 {
                let x = l + 0.5 * f64::from(i);
                if x < lo || x > hi {
                    continue;
                }
                let sc = score(&size(h, Some(x), &mut runs)?);
                if sc < best.0 - 1e-9 {
                    best = (sc, x);
                }
            }
            length = Some(best.1);
            let n = format!(
                "{}: h at its bound — the active length {:.1} mm minimises the larger residual (in tolerances: {:.2}) instead of fitting the length alone ({l:.1} mm)",
                spec.model_id, best.1, best.0
            );
            log(&n);
            notes.push(n);
            break;
        }
    }
    // h to 3 significant figures for the catalog; the sizes below are at the stored value.
    h = sig3(h);
    let nominal = size(h, length, &mut runs)?;
    if h_targets.len() > 1 {
        // Say what a compromise costs: each residual at the chosen h, in units of its tolerance.
        let parts = h_targets
            .iter()
            .map(|t| {
                format!(
                    "{} {:+.1} mm ({:+.2} tolerances)",
                    t.measure.label(),
                    t.measure.of(&nominal) - t.published_mm,
                    (t.measure.of(&nominal) - t.published_mm) / t.tolerance_mm
                )
            })
            .collect::<Vec<_>>()
            .join(", ");
        let n = format!(
            "{}: h alone cannot meet the case's figures together (a larger iceball needs a colder wall, which widens the lethal zone too); h = {h:.0} W/m²·K makes the larger residual in units of its tolerance smallest: {parts}",
            spec.model_id
        );
        log(&n);
        notes.push(n);
    }
    // The ranges that remain (the band's): each fitted parameter over the values for which the
    // target it was fitted to stays within its tolerance (h ↔ the width or lethal diameter, the
    // active length ↔ the length), the other parameter at its fitted value.
    let within = |range: (f64, f64),
                  log_scale: bool,
                  t: &Target,
                  f: &mut dyn FnMut(f64) -> Result<f64, CryoError>|
     -> Result<(f64, f64), CryoError> {
        let lo = crossing(range, log_scale, 8, t.published_mm - t.tolerance_mm, f)?.unwrap_or(range.1);
        // The largest value still within: the crossing of the upper tolerance.
        let hi = crossing(range, log_scale, 8, t.published_mm + t.tolerance_mm + 1e-9, f)?.unwrap_or(range.1);
        Ok((lo, hi))
    };
    let lo = crossing(h_range, true, 8, -1.0, &mut |x| {
        Ok(scaled(&size(x, length, &mut runs)?).0)
    })?
    .unwrap_or(h_range.1);
    let hi = crossing(h_range, true, 8, 1.0 + 1e-9, &mut |x| {
        Ok(scaled(&size(x, length, &mut runs)?).1)
    })?
    .unwrap_or(h_range.1);
    let (lo, hi) = (sig3(lo).min(h), sig3(hi).max(h));
    let length_band = match (&len_target, length) {
        (Some(t), Some(l)) if spec.fit_active_length => {
            let (a, b) = within(spec.active_length_range_mm, false, t, &mut |x| {
                Ok(Measure::IceballLength.of(&size(h, Some(x), &mut runs)?))
            })?;
            Some((((a * 2.0).round() / 2.0).min(l), ((b * 2.0).round() / 2.0).max(l)))
        }
        _ => None,
    };
    let targets: Vec<CalibrationTarget> = spec
        .targets
        .iter()
        .map(|t| {
            let m = t.measure.of(&nominal);
            CalibrationTarget {
                quantity: t.measure.label().to_string(),
                published_mm: t.published_mm,
                tolerance_mm: t.tolerance_mm,
                model_mm: m,
                residual_mm: m - t.published_mm,
            }
        })
        .collect();
    let reached = targets
        .iter()
        .all(|t| t.residual_mm.abs() <= t.tolerance_mm + 1e-9);
    let mut fitted = vec!["cryo_boundary.gas_side.h_w_per_m2_k".to_string()];
    if spec.fit_active_length {
        fitted.push("active_length_mm".into());
    }
    Ok(ModelCalibration {
        model_id: spec.model_id.into(),
        shares_h_with: spec.shares_h_with.iter().map(|s| s.to_string()).collect(),
        calibrated_on: spec.calibrated_on.into(),
        case_file: spec.case_file.into(),
        fitted,
        h_w_per_m2_k: h,
        h_range_w_per_m2_k: h_range,
        h_band_w_per_m2_k: (lo, hi),
        active_length_mm: if spec.fit_active_length { length } else { None },
        active_length_range_mm: spec.active_length_range_mm,
        active_length_band_mm: length_band,
        targets,
        reached,
        runs,
        spacing_mm: spacing,
        method: format!(
            "physics::cryo::calibrate::calibrate_model (`ablaplan calibrate cryo`): bisection (log h) on the case's {} at the end of the freeze, {spacing} mm grid{}; the band's ranges = the h (and active length) for which the targets each was fitted to stay within their tolerances",
            if h_targets.iter().any(|t| {
                matches!(
                    t.measure,
                    Measure::LethalSectionDiameter | Measure::IceballSectionDiameter
                )
            }) {
                "cross-sections across the probe at the middle of the active length (equivalent-circle diameters, interpolated; h where the larger of the two residuals in units of its tolerance is smallest)"
            } else {
                "node extents"
            },
            if spec.fit_active_length {
                ", alternating with a bisection of the active length on the 0 °C length (3 rounds)"
            } else {
                ""
            }
        ),
        notes,
    })
}

/// Calibrates every model of the calibration set.
pub fn calibrate_all(
    assets: &CryoAssets,
    root: &Path,
    spacing_mm: Option<f64>,
    ctx: &JobCtx,
    log: &mut dyn FnMut(&str),
) -> Result<Vec<ModelCalibration>, CryoError> {
    calibration_set()
        .iter()
        .map(|s| {
            log(&format!("calibrating {} on {}", s.model_id, s.case_file));
            calibrate_model(s, assets, root, spacing_mm, ctx, log)
        })
        .collect()
}

/// Writes calibrations into a catalog: h (value, band, source), the fitted active length and the
/// calibration record of each model; models sharing the needle get the same h and band with a
/// record naming where it came from.
pub fn apply_calibration(catalog: &mut crate::plan::catalog::Catalog, cals: &[ModelCalibration]) {
    use crate::plan::catalog::CryoCalibration;
    for c in cals {
        let record = |shared_from: Option<&str>| CryoCalibration {
            calibrated_on: match shared_from {
                Some(m) => format!(
                    "{} — h shared with {m} (the same 17G needle and gas side); active length not fitted",
                    c.calibrated_on
                ),
                None => c.calibrated_on.clone(),
            },
            case_file: c.case_file.clone(),
            fitted: if shared_from.is_some() {
                vec!["cryo_boundary.gas_side.h_w_per_m2_k".into()]
            } else {
                c.fitted.clone()
            },
            method: c.method.clone(),
            spacing_mm: c.spacing_mm,
            targets: c.targets.clone(),
            active_length_band_mm: if shared_from.is_some() {
                None
            } else {
                c.active_length_band_mm.map(|(a, b)| [a, b])
            },
            reached: c.reached,
            note: (!c.notes.is_empty()).then(|| c.notes.join(" ")),
        };
        let ids: Vec<(String, Option<&str>)> = std::iter::once((c.model_id.clone(), None))
            .chain(
                c.shares_h_with
                    .iter()
                    .map(|s| (s.clone(), Some(c.model_id.as_str()))),
            )
            .collect();
        for (id, shared) in ids {
            let Some(m) = catalog.probes.iter_mut().find(|m| m.id == id) else {
                continue;
            };
            if let (None, Some(l)) = (shared, c.active_length_mm)
                && let Some(al) = m.active_length_mm.as_mut()
            {
                al.value = l;
                al.source = format!(
                    "calibrated on {} together with h (range {}–{} mm: {})",
                    c.calibrated_on,
                    c.active_length_range_mm.0,
                    c.active_length_range_mm.1,
                    "see physics::cryo::calibrate::calibration_set"
                );
                al.confirmed = false;
                al.note = Some("fitted to the C3 iceball length, not read in a manufacturer source — unconfirmed — verify against the instructions for use".into());
            }
            let Some(b) = m.cryo_boundary.as_mut() else {
                continue;
            };
            if let Some(g) = b.gas_side.as_mut() {
                g.h_w_per_m2_k.value = c.h_w_per_m2_k;
                g.h_w_per_m2_k.band_min = Some(c.h_band_w_per_m2_k.0);
                g.h_w_per_m2_k.band_max = Some(c.h_band_w_per_m2_k.1);
                g.h_w_per_m2_k.source = format!(
                    "calibrated on {}{}",
                    c.calibrated_on,
                    shared.map_or(String::new(), |s| format!(" (via {s}, the same 17G needle)"))
                );
            }
            b.calibration = Some(record(shared));
        }
    }
}
