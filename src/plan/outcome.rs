//! Outcome fields of one treated case, as the source studies report them (REFERENCE.md §1):
//! technical success (complete ablation with an ablative margin > 5 mm), complications with their
//! Clavien–Dindo and SIR grades, follow-up dates, local and distant progression (a date, or
//! censored at the last follow-up). Dates are ISO `YYYY-MM-DD` strings held as a validated
//! [`CivilDate`] (proleptic Gregorian calendar, day numbers by Hinnant's civil-date algorithm), so
//! no date crate is needed.

use std::fmt;

use serde::{Deserialize, Serialize};

/// One subject: the time (any unit, ≥ 0) and whether it ends in the event (`true`) or is
/// censored (`false`).
#[derive(Clone, Copy, Debug, PartialEq, Serialize, Deserialize)]
pub struct Observation {
    pub time: f64,
    pub event: bool,
}

impl Observation {
    pub fn event(time: f64) -> Self {
        Self { time, event: true }
    }

    pub fn censored(time: f64) -> Self {
        Self { time, event: false }
    }
}

/// Technical success threshold (mm): complete ablation with an ablative margin **> 5 mm** (IRE
/// study, Narayanan et al., CVIR 2024;47:1066–1073; the cryo study aims at ≥ 5 mm, Autrusseau et
/// al., JVIR 2021;32:1435–1444; REFERENCE.md §1, §4). The comparison is strict, as in the IRE study.
pub const TECHNICAL_SUCCESS_MARGIN_MM: f64 = 5.0;

/// Why a date string was refused.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum DateError {
    #[error("\"{0}\" is not a date in the form YYYY-MM-DD (e.g. 2024-03-07)")]
    Format(String),
    #[error("\"{0}\": month must be 01 to 12")]
    Month(String),
    #[error("\"{0}\": that month has no such day")]
    Day(String),
}

/// A calendar date (proleptic Gregorian), years 1000–9999, written `YYYY-MM-DD`.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
#[serde(try_from = "String", into = "String")]
pub struct CivilDate {
    // Field order makes the derived ordering chronological.
    year: i32,
    month: u8,
    day: u8,
}

fn is_leap(year: i32) -> bool {
    (year % 4 == 0 && year % 100 != 0) || year % 400 == 0
}

fn days_in_month(year: i32, month: u8) -> u8 {
    match month {
        1 | 3 | 5 | 7 | 8 | 10 | 12 => 31,
        4 | 6 | 9 | 11 => 30,
        2 if is_leap(year) => 29,
        2 => 28,
        _ => 0,
    }
}

impl CivilDate {
    /// A checked date.
    pub fn new(year: i32, month: u8, day: u8) -> Result<Self, DateError> {
        let text = format!("{year:04}-{month:02}-{day:02}");
        if !(1000..=9999).contains(&year) {
            return Err(DateError::Format(text));
        }
        if !(1..=12).contains(&month) {
            return Err(DateError::Month(text));
        }
        if day == 0 || day > days_in_month(year, month) {
            return Err(DateError::Day(text));
        }
        Ok(Self { year, month, day })
    }

    /// Parses `YYYY-MM-DD` exactly (ten characters, ASCII digits, dashes at 5 and 8).
    pub fn parse(s: &str) -> Result<Self, DateError> {
        let b = s.as_bytes();
        let digits = |r: std::ops::Range<usize>| -> Option<u32> {
            let part = b.get(r)?;
            if part.iter().all(u8::is_ascii_digit) {
                std::str::from_utf8(part).ok()?.parse().ok()
            } else {
                None
            }
        };
        let shape_ok = b.len() == 10 && b[4] == b'-' && b[7] == b'-';
        let (Some(y), Some(m), Some(d), true) = (digits(0..4), digits(5..7), digits(8..10), shape_ok) else {
            return Err(DateError::Format(s.to_string()));
        };
        Self::new(y as i32, m as u8, d as u8).map_err(|e| match e {
            DateError::Format(_) => DateError::Format(s.to_string()),
            DateError::Month(_) => DateError::Month(s.to_string()),
            DateError::Day(_) => DateError::Day(s.to_string()),
        })
    }

    pub fn year(&self) -> i32 {
        self.year
    }

    pub fn month(&self) -> u8 {
        self.month
    }

    pub fn day(&self) -> u8 {
        self.day
    }

    /// Days since 1970-01-01 (negative before). H. Hinnant, "chrono-Compatible Low-Level Date
    /// Algorithms", `days_from_civil`: years start in March so the leap day is the year's last.
    pub fn day_number(&self) -> i64 {
        let (m, d) = (i64::from(self.month), i64::from(self.day));
        let y = i64::from(self.year) - i64::from(m <= 2);
        let era = y.div_euclid(400);
        let yoe = y - era * 400; // [0, 399]
        let mp = (m + 9) % 12; // March = 0
        let doy = (153 * mp + 2) / 5 + d - 1; // [0, 365]
        let doe = yoe * 365 + yoe / 4 - yoe / 100 + doy; // [0, 146096]
        era * 146_097 + doe - 719_468
    }

    /// The date of a day number ([`Self::day_number`]'s inverse, Hinnant's `civil_from_days`);
    /// fails outside years 1000–9999.
    pub fn from_day_number(z: i64) -> Result<Self, DateError> {
        let z = z + 719_468;
        let era = z.div_euclid(146_097);
        let doe = z - era * 146_097;
        let yoe = (doe - doe / 1460 + doe / 36_524 - doe / 146_096) / 365;
        let doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
        let mp = (5 * doy + 2) / 153;
        let d = doy - (153 * mp + 2) / 5 + 1;
        let m = if mp < 10 { mp + 3 } else { mp - 9 };
        let y = yoe + era * 400 + i64::from(m <= 2);
        let y = i32::try_from(y).map_err(|_| DateError::Format(format!("day number {z}")))?;
        Self::new(y, m as u8, d as u8)
    }

    /// Whole days from `self` to `later` (negative when `later` is earlier).
    pub fn days_until(&self, later: &CivilDate) -> i64 {
        later.day_number() - self.day_number()
    }
}

impl fmt::Display for CivilDate {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{:04}-{:02}-{:02}", self.year, self.month, self.day)
    }
}

impl std::str::FromStr for CivilDate {
    type Err = DateError;
    fn from_str(s: &str) -> Result<Self, Self::Err> {
        Self::parse(s)
    }
}

impl TryFrom<String> for CivilDate {
    type Error = DateError;
    fn try_from(s: String) -> Result<Self, Self::Error> {
        Self::parse(&s)
    }
}

impl From<CivilDate> for String {
    fn from(d: CivilDate) -> Self {
        d.to_string()
    }
}

/// Clavien–Dindo classification of surgical complications (Dindo, Demartines, Clavien, Ann Surg
/// 2004;240:205–213), as used by the IRE study: I deviation from the normal course without
/// intervention; II pharmacological treatment; IIIa/IIIb intervention without / under general
/// anaesthesia; IVa/IVb life-threatening single / multi-organ dysfunction; V death.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
pub enum ClavienDindo {
    #[serde(rename = "I")]
    I,
    #[serde(rename = "II")]
    II,
    #[serde(rename = "IIIa")]
    IIIa,
    #[serde(rename = "IIIb")]
    IIIb,
    #[serde(rename = "IVa")]
    IVa,
    #[serde(rename = "IVb")]
    IVb,
    #[serde(rename = "V")]
    V,
}

impl ClavienDindo {
    pub const ALL: [ClavienDindo; 7] = [
        ClavienDindo::I,
        ClavienDindo::II,
        ClavienDindo::IIIa,
        ClavienDindo::IIIb,
        ClavienDindo::IVa,
        ClavienDindo::IVb,
        ClavienDindo::V,
    ];

    pub fn label(self) -> &'static str {
        match self {
            ClavienDindo::I => "I",
            ClavienDindo::II => "II",
            ClavienDindo::IIIa => "IIIa",
            ClavienDindo::IIIb => "IIIb",
            ClavienDindo::IVa => "IVa",
            ClavienDindo::IVb => "IVb",
            ClavienDindo::V => "V",
        }
    }

    /// Grade ≥ III ("major" in most reports: needs an intervention or worse).
    pub fn is_major(self) -> bool {
        self >= ClavienDindo::IIIa
    }
}

/// Adverse-event severity of the Society of Interventional Radiology classification (Khalilzadeh
/// O, Baerlocher MO, Shyn PB, et al. "Proposal of a New Adverse Event Classification by the
/// Society of Interventional Radiology Standards of Practice Committee". J Vasc Interv Radiol
/// 2017;28(10):1432–1437.e3, PMID 28757285), proposed to replace the older SIR minor / major
/// (A–F) outcome scale. The five levels run from little or no escalation of care to death; the
/// paper defines each by the escalation of care it needs. The level names here follow the paper's
/// table as recalled, not re-read for this code (unconfirmed wording; the order is not in doubt).
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum SirGrade {
    Mild,
    Moderate,
    Severe,
    LifeThreatening,
    Death,
}

impl SirGrade {
    pub const ALL: [SirGrade; 5] = [
        SirGrade::Mild,
        SirGrade::Moderate,
        SirGrade::Severe,
        SirGrade::LifeThreatening,
        SirGrade::Death,
    ];

    pub fn label(self) -> &'static str {
        match self {
            SirGrade::Mild => "mild",
            SirGrade::Moderate => "moderate",
            SirGrade::Severe => "severe",
            SirGrade::LifeThreatening => "life-threatening or disabling",
            SirGrade::Death => "death",
        }
    }
}

/// One complication of the procedure.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Complication {
    /// e.g. "sciatic nerve injury", "hematoma".
    pub description: String,
    #[serde(default)]
    pub clavien_dindo: Option<ClavienDindo>,
    #[serde(default)]
    pub sir: Option<SirGrade>,
    /// When it was noticed (on or after the procedure).
    #[serde(default)]
    pub date: Option<CivilDate>,
}

/// A refused outcome: the field (JSON path) and what is wrong with it.
#[derive(Debug, Clone, PartialEq, thiserror::Error)]
#[error("outcome.{field}: {message}")]
pub struct OutcomeError {
    pub field: String,
    pub message: String,
}

fn err(field: impl Into<String>, message: impl Into<String>) -> OutcomeError {
    OutcomeError {
        field: field.into(),
        message: message.into(),
    }
}

/// The outcome fields of one case.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct CaseOutcome {
    /// Date of the ablation: time zero of the progression endpoints.
    pub procedure_date: CivilDate,
    /// Smallest ablative margin around the target (mm), measured by the reviewer or taken from
    /// the plan; negative = part of the target outside the zone.
    #[serde(default)]
    pub min_margin_mm: Option<f64>,
    /// Technical success as entered by the reviewer; when absent it is derived from
    /// `min_margin_mm` (see [`CaseOutcome::technical_success`]).
    #[serde(default)]
    pub technical_success: Option<bool>,
    #[serde(default)]
    pub complications: Vec<Complication>,
    /// Dates of the follow-up visits / imaging, ascending.
    #[serde(default)]
    pub follow_up_dates: Vec<CivilDate>,
    /// Date local (treated-site) progression was found; absent = censored at the last follow-up.
    #[serde(default)]
    pub local_progression: Option<CivilDate>,
    /// Date distant progression was found; absent = censored at the last follow-up.
    #[serde(default)]
    pub distant_progression: Option<CivilDate>,
    #[serde(default)]
    pub notes: String,
}

impl CaseOutcome {
    /// An outcome with only the procedure date.
    pub fn new(procedure_date: CivilDate) -> Self {
        Self {
            procedure_date,
            min_margin_mm: None,
            technical_success: None,
            complications: Vec::new(),
            follow_up_dates: Vec::new(),
            local_progression: None,
            distant_progression: None,
            notes: String::new(),
        }
    }

    /// Reads and validates an outcome from JSON.
    pub fn from_json(text: &str) -> Result<Self, OutcomeError> {
        let o: Self = serde_json::from_str(text).map_err(|e| err("(file)", e.to_string()))?;
        o.validate()?;
        Ok(o)
    }

    /// Checks that the dates are in order (follow-ups ascending, nothing before the procedure,
    /// progression found at or before the last follow-up) and the numbers are usable. The error
    /// names the field.
    pub fn validate(&self) -> Result<(), OutcomeError> {
        let p = self.procedure_date;
        if let Some(m) = self.min_margin_mm
            && !m.is_finite()
        {
            return Err(err("min_margin_mm", format!("{m} is not a number of mm")));
        }
        for (i, d) in self.follow_up_dates.iter().enumerate() {
            if *d < p {
                return Err(err(
                    format!("follow_up_dates[{i}]"),
                    format!("{d} is before procedure_date {p}"),
                ));
            }
            if i > 0 && self.follow_up_dates[i - 1] >= *d {
                return Err(err(
                    format!("follow_up_dates[{i}]"),
                    format!(
                        "{d} is not after follow_up_dates[{}] {}; list the visits in date order, once each",
                        i - 1,
                        self.follow_up_dates[i - 1]
                    ),
                ));
            }
        }
        let last = self.follow_up_dates.last();
        for (name, date) in [
            ("local_progression", self.local_progression),
            ("distant_progression", self.distant_progression),
        ] {
            let Some(d) = date else { continue };
            if d < p {
                return Err(err(name, format!("{d} is before procedure_date {p}")));
            }
            if let Some(l) = last
                && d > *l
            {
                return Err(err(
                    name,
                    format!(
                        "{d} is after the last follow-up {l}; add the follow-up at which it was found to \
                         follow_up_dates"
                    ),
                ));
            }
        }
        for (i, c) in self.complications.iter().enumerate() {
            if c.description.trim().is_empty() {
                return Err(err(
                    format!("complications[{i}].description"),
                    "is empty; describe the complication",
                ));
            }
            if let Some(d) = c.date
                && d < p
            {
                return Err(err(
                    format!("complications[{i}].date"),
                    format!("{d} is before procedure_date {p}"),
                ));
            }
        }
        Ok(())
    }

    /// Technical success derived from the margin alone: `min_margin_mm > 5 mm`
    /// ([`TECHNICAL_SUCCESS_MARGIN_MM`]); `None` without a margin.
    pub fn derived_technical_success(&self) -> Option<bool> {
        self.min_margin_mm.map(|m| m > TECHNICAL_SUCCESS_MARGIN_MM)
    }

    /// The reviewer's entry when there is one, otherwise derived from the margin.
    pub fn technical_success(&self) -> Option<bool> {
        self.technical_success
            .or_else(|| self.derived_technical_success())
    }

    /// The entered technical success contradicts the margin (worth a second look).
    pub fn technical_success_disagrees(&self) -> bool {
        matches!(
            (self.technical_success, self.derived_technical_success()),
            (Some(a), Some(b)) if a != b
        )
    }

    /// The last date the patient was seen (follow-up or progression).
    pub fn last_contact(&self) -> Option<CivilDate> {
        [
            self.follow_up_dates.last().copied(),
            self.local_progression,
            self.distant_progression,
        ]
        .into_iter()
        .flatten()
        .max()
    }

    fn endpoint(&self, progression: Option<CivilDate>) -> Option<Observation> {
        let p = self.procedure_date;
        match progression {
            Some(d) => Some(Observation::event(p.days_until(&d) as f64)),
            // Censored at the last follow-up; a case never followed up adds nothing.
            None => self
                .follow_up_dates
                .last()
                .map(|l| Observation::censored(p.days_until(l) as f64)),
        }
    }

    /// Local progression-free time in days: an event at the progression date, or censored at
    /// the last follow-up; `None` without any follow-up.
    pub fn local_pfs(&self) -> Option<Observation> {
        self.endpoint(self.local_progression)
    }

    /// Distant progression-free time in days, as [`Self::local_pfs`].
    pub fn distant_pfs(&self) -> Option<Observation> {
        self.endpoint(self.distant_progression)
    }

    /// The worst Clavien–Dindo grade among the complications.
    pub fn worst_clavien_dindo(&self) -> Option<ClavienDindo> {
        self.complications.iter().filter_map(|c| c.clavien_dindo).max()
    }

    /// The worst SIR grade among the complications.
    pub fn worst_sir(&self) -> Option<SirGrade> {
        self.complications.iter().filter_map(|c| c.sir).max()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn d(s: &str) -> CivilDate {
        CivilDate::parse(s).unwrap()
    }

    #[test]
    fn day_numbers_match_known_dates() {
        assert_eq!(d("1970-01-01").day_number(), 0);
        assert_eq!(d("1970-01-02").day_number(), 1);
        assert_eq!(d("1969-12-31").day_number(), -1);
        // 2000-03-01: 30 years of 365 days + 7 leap days (72..96) + Jan (31) + Feb 2000 (29).
        assert_eq!(d("2000-03-01").day_number(), 30 * 365 + 7 + 31 + 29);
        assert_eq!(
            d("2024-02-28").days_until(&d("2024-03-01")),
            2,
            "2024 is a leap year"
        );
        assert_eq!(d("2023-02-28").days_until(&d("2023-03-01")), 1);
        assert_eq!(d("1900-02-28").days_until(&d("1900-03-01")), 1, "1900 is not");
        assert_eq!(d("2000-02-28").days_until(&d("2000-03-01")), 2, "2000 is");
        // Round trip over four centuries, day by day.
        let start = d("1899-12-25").day_number();
        for n in start..start + 146_097 + 10 {
            let date = CivilDate::from_day_number(n).unwrap();
            assert_eq!(date.day_number(), n, "{date}");
            assert_eq!(CivilDate::parse(&date.to_string()).unwrap(), date);
        }
    }

    #[test]
    fn bad_dates_are_refused_with_the_text() {
        for (s, want) in [
            ("2024-13-01", "month"),
            ("2023-02-29", "no such day"),
            ("2024-04-31", "no such day"),
            ("2024-4-1", "YYYY-MM-DD"),
            ("20240401", "YYYY-MM-DD"),
            ("2024-04-01T00", "YYYY-MM-DD"),
            ("２０２４-04-01", "YYYY-MM-DD"),
            ("", "YYYY-MM-DD"),
            ("0999-01-01", "YYYY-MM-DD"),
        ] {
            let e = CivilDate::parse(s).unwrap_err().to_string();
            assert!(e.contains(want) && e.contains(s), "{s}: {e}");
        }
        assert!(CivilDate::parse("2024-02-29").is_ok());
    }

    #[test]
    fn serde_round_trip_and_grades() {
        let mut o = CaseOutcome::new(d("2023-05-10"));
        o.min_margin_mm = Some(4.0);
        o.complications.push(Complication {
            description: "sacral nerve injury".into(),
            clavien_dindo: Some(ClavienDindo::II),
            sir: Some(SirGrade::Moderate),
            date: Some(d("2023-05-11")),
        });
        o.follow_up_dates = vec![d("2023-08-10"), d("2023-11-10")];
        o.local_progression = Some(d("2023-11-10"));
        let json = serde_json::to_string(&o).unwrap();
        assert!(json.contains("\"2023-05-10\"") && json.contains("\"II\"") && json.contains("\"moderate\""));
        let back = CaseOutcome::from_json(&json).unwrap();
        assert_eq!(back, o);
        let bad = json.replace("\"II\"", "\"III\"");
        assert!(CaseOutcome::from_json(&bad).is_err(), "III needs a or b");
        let life = json.replace("\"moderate\"", "\"life_threatening\"");
        assert_eq!(
            CaseOutcome::from_json(&life).unwrap().worst_sir(),
            Some(SirGrade::LifeThreatening)
        );
        assert!(ClavienDindo::IIIa.is_major() && !ClavienDindo::II.is_major());
        assert!(ClavienDindo::IVb > ClavienDindo::IVa && SirGrade::Death > SirGrade::Severe);
        let bad_date = json.replace("2023-08-10", "2023-08-32");
        let e = CaseOutcome::from_json(&bad_date).unwrap_err().to_string();
        assert!(e.contains("2023-08-32"), "{e}");
    }

    #[test]
    fn technical_success_derived_or_entered() {
        let mut o = CaseOutcome::new(d("2023-05-10"));
        assert_eq!(o.technical_success(), None);
        o.min_margin_mm = Some(5.0);
        assert_eq!(o.technical_success(), Some(false), "strictly more than 5 mm");
        o.min_margin_mm = Some(5.1);
        assert_eq!(o.technical_success(), Some(true));
        o.technical_success = Some(false);
        assert_eq!(o.technical_success(), Some(false), "the entry wins");
        assert!(o.technical_success_disagrees());
    }

    #[test]
    fn validation_names_the_field() {
        let base = || {
            let mut o = CaseOutcome::new(d("2023-05-10"));
            o.follow_up_dates = vec![d("2023-08-10"), d("2023-11-10")];
            o
        };
        base().validate().unwrap();
        let cases: Vec<(CaseOutcome, &str)> = vec![
            (
                {
                    let mut o = base();
                    o.follow_up_dates[0] = d("2023-05-09");
                    o
                },
                "follow_up_dates[0]",
            ),
            (
                {
                    let mut o = base();
                    o.follow_up_dates.swap(0, 1);
                    o
                },
                "follow_up_dates[1]",
            ),
            (
                {
                    let mut o = base();
                    o.local_progression = Some(d("2024-01-01"));
                    o
                },
                "local_progression",
            ),
            (
                {
                    let mut o = base();
                    o.distant_progression = Some(d("2023-01-01"));
                    o
                },
                "distant_progression",
            ),
            (
                {
                    let mut o = base();
                    o.min_margin_mm = Some(f64::NAN);
                    o
                },
                "min_margin_mm",
            ),
            (
                {
                    let mut o = base();
                    o.complications.push(Complication {
                        description: " ".into(),
                        clavien_dindo: None,
                        sir: None,
                        date: None,
                    });
                    o
                },
                "complications[0].description",
            ),
        ];
        for (o, field) in cases {
            let e = o.validate().unwrap_err();
            assert_eq!(e.field, field, "{e}");
            assert!(e.to_string().starts_with(&format!("outcome.{field}:")));
        }
    }

    #[test]
    fn endpoints_are_events_or_censored_at_last_follow_up() {
        let mut o = CaseOutcome::new(d("2023-01-01"));
        assert_eq!(o.local_pfs(), None, "no follow-up, no information");
        o.follow_up_dates = vec![d("2023-04-01"), d("2024-01-01")];
        assert_eq!(o.local_pfs(), Some(Observation::censored(365.0)));
        o.local_progression = Some(d("2023-04-01"));
        assert_eq!(o.local_pfs(), Some(Observation::event(90.0)));
        assert_eq!(o.distant_pfs(), Some(Observation::censored(365.0)));
        assert_eq!(o.last_contact(), Some(d("2024-01-01")));
    }
}
