//! Safety rules (`assets/safety_rules.json`): per modality (IRE, cryo, both), each rule with its
//! severity, the structure kinds and zone it applies to, its limit(s) in mm (or A) each with a
//! source, and the rule's own source (`../shared/REFERENCE.md` §1 and §4). Plain serde data, so a
//! rule set is saved with a case and edited in the UI; [`RuleSet::validate`] checks an edited set.

use crate::anatomy::structure::StructureKind;
use crate::plan::{AssetError, Sourced, read_asset};
use serde::{Deserialize, Serialize};
use std::path::Path;

/// The built-in rule file.
pub const BUILTIN_RULES_JSON: &str = include_str!("../../assets/safety_rules.json");
const BUILTIN_NAME: &str = "built-in assets/safety_rules.json";
pub const RULES_SCHEMA_VERSION: u32 = 1;

/// How bad a finding is. Ordered from least to most severe (`Ord`), so findings sort by it.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Severity {
    /// Worth knowing, no action needed (e.g. a vessel inside an IRE zone).
    Info,
    /// Amber: check the plan.
    Caution,
    /// Amber: hydro- or carbo-dissection advised before freezing.
    ProtectiveDissection,
    /// Amber: a probe path crosses a structure.
    Warning,
    /// Red: high risk of injury or of an incomplete ablation.
    HighRisk,
    /// Red: stop or reposition.
    Stop,
}

/// The traffic light a severity shows.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Light {
    Green,
    Amber,
    Red,
}

impl Severity {
    pub const ALL: [Severity; 6] = [
        Severity::Info,
        Severity::Caution,
        Severity::ProtectiveDissection,
        Severity::Warning,
        Severity::HighRisk,
        Severity::Stop,
    ];

    pub fn label(self) -> &'static str {
        match self {
            Severity::Info => "Info",
            Severity::Caution => "Caution",
            Severity::ProtectiveDissection => "Protective dissection advised",
            Severity::Warning => "Warning",
            Severity::HighRisk => "High risk",
            Severity::Stop => "Stop",
        }
    }

    /// Red for Stop / HighRisk, amber for Caution / ProtectiveDissection / Warning, green (no
    /// colour) for Info.
    pub fn light(self) -> Light {
        match self {
            Severity::Stop | Severity::HighRisk => Light::Red,
            Severity::Caution | Severity::ProtectiveDissection | Severity::Warning => Light::Amber,
            Severity::Info => Light::Green,
        }
    }
}

/// Which modality a rule belongs to.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum RuleModality {
    Ire,
    Cryo,
    Both,
}

/// Which zones a rule looks at.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(tag = "kind", rename_all = "snake_case", deny_unknown_fields)]
pub enum ZoneSelector {
    /// The IRE zone (running maximum |E| above the lethal threshold).
    IreZone,
    /// A cryo isotherm, e.g. 0 °C = the visible iceball edge (matched within 0.5 °C).
    CryoIsotherm { temp_c: f64 },
    /// The lethal zone of either modality: the IRE zone or the cryo lethal isotherm.
    Lethal,
}

/// What a rule checks.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(tag = "kind", rename_all = "snake_case", deny_unknown_fields)]
pub enum Check {
    /// A structure of one of `structures` closer than `below_mm` to the zone, or inside it.
    ZoneDistance {
        zone: ZoneSelector,
        structures: Vec<StructureKind>,
        below_mm: Sourced,
    },
    /// A structure of one of `structures` inside the zone (touching counts).
    InsideZone {
        zone: ZoneSelector,
        structures: Vec<StructureKind>,
    },
    /// A structure closer than `within_mm` to the target or to the zone: protective dissection
    /// advised until it is `goal_mm` from the zone (the finding says how much is still to gain).
    Dissection {
        zone: ZoneSelector,
        structures: Vec<StructureKind>,
        within_mm: Sourced,
        goal_mm: Sourced,
    },
    /// The zone must cover every Target with a minimal ablative margin of `margin_mm`
    /// (0 = complete coverage).
    TargetMargin { zone: ZoneSelector, margin_mm: Sourced },
    /// The predicted current of a pulsed pair above `above_a` (the generator stops).
    CurrentAbove { above_a: Sourced },
    /// A probe (entry → tip) passing through a structure of one of `structures`.
    PathThrough { structures: Vec<StructureKind> },
    /// IRE heating (the electro-thermal model): a structure of one of `structures` whose tissue
    /// reaches a thermal dose of `cem43_min` (CEM43, min) or a peak temperature of `max_temp_c`
    /// (°C) anywhere. Evaluated on the model's temperature and dose fields
    /// (`safety::thermal`), not on a zone.
    ThermalDose {
        structures: Vec<StructureKind>,
        cem43_min: Sourced,
        max_temp_c: Sourced,
    },
}

impl Check {
    /// The zone selector, for checks about a zone.
    pub fn zone(&self) -> Option<&ZoneSelector> {
        match self {
            Check::ZoneDistance { zone, .. }
            | Check::InsideZone { zone, .. }
            | Check::Dissection { zone, .. }
            | Check::TargetMargin { zone, .. } => Some(zone),
            Check::CurrentAbove { .. } | Check::PathThrough { .. } | Check::ThermalDose { .. } => None,
        }
    }

    /// The structure kinds the check applies to (Target for the margin check).
    pub fn structures(&self) -> &[StructureKind] {
        match self {
            Check::ZoneDistance { structures, .. }
            | Check::InsideZone { structures, .. }
            | Check::Dissection { structures, .. }
            | Check::PathThrough { structures }
            | Check::ThermalDose { structures, .. } => structures,
            Check::TargetMargin { .. } => &[StructureKind::Target],
            Check::CurrentAbove { .. } => &[],
        }
    }

    /// Every number of the check with its name (for validation and display).
    pub fn limits(&self) -> Vec<(&'static str, &Sourced)> {
        match self {
            Check::ZoneDistance { below_mm, .. } => vec![("below_mm", below_mm)],
            Check::Dissection {
                within_mm, goal_mm, ..
            } => vec![("within_mm", within_mm), ("goal_mm", goal_mm)],
            Check::TargetMargin { margin_mm, .. } => vec![("margin_mm", margin_mm)],
            Check::CurrentAbove { above_a } => vec![("above_a", above_a)],
            Check::ThermalDose {
                cem43_min,
                max_temp_c,
                ..
            } => vec![("cem43_min", cem43_min), ("max_temp_c", max_temp_c)],
            Check::InsideZone { .. } | Check::PathThrough { .. } => Vec::new(),
        }
    }

    /// The largest distance (mm) at which this check can still fire (for the crop of the
    /// distance maps); 0 for checks that are not about distances.
    pub fn reach_mm(&self) -> f64 {
        match self {
            Check::ZoneDistance { below_mm, .. } => below_mm.value,
            Check::Dissection {
                within_mm, goal_mm, ..
            } => within_mm.value.max(goal_mm.value),
            Check::TargetMargin { margin_mm, .. } => margin_mm.value,
            Check::InsideZone { .. }
            | Check::CurrentAbove { .. }
            | Check::PathThrough { .. }
            | Check::ThermalDose { .. } => 0.0,
        }
    }
}

/// One rule.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Rule {
    /// Stable id, e.g. `ire.nerve_near_zone` (findings and tests refer to it).
    pub id: String,
    pub modality: RuleModality,
    pub severity: Severity,
    /// What the rule says, shown with every finding.
    pub text: String,
    pub check: Check,
    /// Where the rule comes from (study, and the REFERENCE.md section).
    pub source: String,
    /// Switched off rules are kept (and saved) but never fire.
    #[serde(default = "super::default_true")]
    pub enabled: bool,
}

/// A rule set (the asset file, or the copy saved with a case).
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RuleSet {
    pub schema_version: u32,
    #[serde(default)]
    pub description: String,
    pub rules: Vec<Rule>,
}

impl Default for RuleSet {
    /// The built-in rules; an empty set only if the built-in file were broken (a unit test
    /// guarantees it is not).
    fn default() -> Self {
        builtin_rules().unwrap_or(RuleSet {
            schema_version: RULES_SCHEMA_VERSION,
            description: String::new(),
            rules: Vec::new(),
        })
    }
}

impl RuleSet {
    /// Checks an (edited) rule set: version, unique non-empty ids, text and source on every rule,
    /// every limit finite, non-negative and sourced, structure lists not empty, cryo isotherms
    /// only in cryo rules. `file` names the set in errors.
    pub fn validate(&self, file: &str) -> Result<(), AssetError> {
        if self.schema_version != RULES_SCHEMA_VERSION {
            return Err(AssetError::invalid(
                file,
                format!(
                    "schema_version {} is not supported (expected {RULES_SCHEMA_VERSION})",
                    self.schema_version
                ),
            ));
        }
        for (i, r) in self.rules.iter().enumerate() {
            let at = format!("rules[{i}] \"{}\"", r.id);
            if r.id.trim().is_empty() {
                return Err(AssetError::invalid(file, format!("rules[{i}]: empty id")));
            }
            if self.rules[..i].iter().any(|q| q.id == r.id) {
                return Err(AssetError::invalid(file, format!("{at}: the id appears twice")));
            }
            if r.text.trim().is_empty() {
                return Err(AssetError::invalid(file, format!("{at}: empty text")));
            }
            if r.source.trim().is_empty() {
                return Err(AssetError::invalid(
                    file,
                    format!("{at}: empty source — say which study the rule comes from"),
                ));
            }
            for (name, q) in r.check.limits() {
                q.check(file, &format!("{at}.check.{name}"))?;
                if q.value < 0.0 {
                    return Err(AssetError::invalid(
                        file,
                        format!("{at}.check.{name}: {} must be ≥ 0", q.value),
                    ));
                }
            }
            let needs_structures =
                !matches!(r.check, Check::TargetMargin { .. } | Check::CurrentAbove { .. });
            if needs_structures && r.check.structures().is_empty() {
                return Err(AssetError::invalid(
                    file,
                    format!("{at}.check.structures: empty — list the structure kinds it protects"),
                ));
            }
            if let Some(ZoneSelector::CryoIsotherm { temp_c }) = r.check.zone() {
                if !temp_c.is_finite() {
                    return Err(AssetError::invalid(
                        file,
                        format!("{at}.check.zone.temp_c: not a finite temperature"),
                    ));
                }
                if r.modality == RuleModality::Ire {
                    return Err(AssetError::invalid(
                        file,
                        format!("{at}: an IRE rule cannot look at a cryo isotherm"),
                    ));
                }
            }
            if matches!(r.check, Check::ThermalDose { .. }) && r.modality == RuleModality::Cryo {
                return Err(AssetError::invalid(
                    file,
                    format!("{at}: the thermal dose of IRE pulses is not a cryo check"),
                ));
            }
            if matches!(r.check.zone(), Some(ZoneSelector::IreZone)) && r.modality == RuleModality::Cryo {
                return Err(AssetError::invalid(
                    file,
                    format!("{at}: a cryo rule cannot look at the IRE zone"),
                ));
            }
            if let Check::Dissection {
                within_mm, goal_mm, ..
            } = &r.check
                && goal_mm.value > within_mm.value
            {
                return Err(AssetError::invalid(
                    file,
                    format!(
                        "{at}: goal_mm {} is beyond within_mm {} (the advice would never clear)",
                        goal_mm.value, within_mm.value
                    ),
                ));
            }
        }
        Ok(())
    }

    /// The rule with this id.
    pub fn get(&self, id: &str) -> Option<&Rule> {
        self.rules.iter().find(|r| r.id == id)
    }

    /// The largest distance (mm) any enabled rule looks at.
    /// The margin goal (mm) of `modality`: the `target_margin` rule on its lethal zone (both
    /// source studies: 5 mm). `None` when the rules have none. Every place that judges a margin
    /// (findings, views, histogram, slide) reads it here.
    pub fn margin_goal_mm(&self, modality: RuleModality) -> Option<f64> {
        self.rules
            .iter()
            .filter(|r| r.modality == modality || r.modality == RuleModality::Both)
            .find_map(|r| match &r.check {
                Check::TargetMargin { margin_mm, .. } if margin_mm.value > 0.0 => Some(margin_mm.value),
                _ => None,
            })
    }

    pub fn reach_mm(&self) -> f64 {
        self.rules
            .iter()
            .filter(|r| r.enabled)
            .map(|r| r.check.reach_mm())
            .fold(0.0, f64::max)
    }
}

/// Parses and validates a rule set (`file` names it in errors).
pub fn parse_rules(text: &str, file: &str) -> Result<RuleSet, AssetError> {
    let r: RuleSet = serde_json::from_str(text).map_err(|e| AssetError::parse(file, &e))?;
    r.validate(file)?;
    Ok(r)
}

/// The built-in rules.
pub fn builtin_rules() -> Result<RuleSet, AssetError> {
    parse_rules(BUILTIN_RULES_JSON, BUILTIN_NAME)
}

/// A rule file from disk.
pub fn load_rules(path: &Path) -> Result<RuleSet, AssetError> {
    let text = read_asset(path)?;
    parse_rules(&text, &path.display().to_string())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn builtin_rules_load_and_every_rule_has_a_source() {
        let r = builtin_rules().unwrap();
        assert!(r.rules.len() >= 10);
        for rule in &r.rules {
            assert!(!rule.source.trim().is_empty(), "{}", rule.id);
            for (_, q) in rule.check.limits() {
                assert!(!q.source.trim().is_empty(), "{}", rule.id);
            }
        }
        assert_eq!(RuleSet::default(), r);
    }

    #[test]
    fn severities_sort_and_colour() {
        assert!(Severity::Stop > Severity::HighRisk && Severity::HighRisk > Severity::Warning);
        assert!(Severity::Caution > Severity::Info);
        assert_eq!(Severity::Stop.light(), Light::Red);
        assert_eq!(Severity::ProtectiveDissection.light(), Light::Amber);
        assert_eq!(Severity::Info.light(), Light::Green);
    }

    #[test]
    fn validation_names_the_bad_rule() {
        let mut r = builtin_rules().unwrap();
        r.rules[1].source = " ".into();
        let e = r.validate("x").unwrap_err().to_string();
        assert!(e.contains("rules[1]") && e.contains("source"), "{e}");
        let mut r = builtin_rules().unwrap();
        let dup = r.rules[0].id.clone();
        r.rules[2].id = dup;
        assert!(r.validate("x").unwrap_err().to_string().contains("twice"));
        let mut r = builtin_rules().unwrap();
        if let Some(q) = r.rules.iter_mut().find_map(|x| match &mut x.check {
            Check::ZoneDistance { below_mm, .. } => Some(below_mm),
            _ => None,
        }) {
            q.value = -1.0;
        }
        assert!(r.validate("x").unwrap_err().to_string().contains("below_mm"));
    }

    #[test]
    fn unknown_keys_are_refused() {
        let text = BUILTIN_RULES_JSON.replacen("\"severity\"", "\"severty\": 1, \"severity\"", 1);
        assert!(parse_rules(&text, "x").is_err());
    }

    #[test]
    fn round_trips_through_json() {
        let r = builtin_rules().unwrap();
        let text = serde_json::to_string_pretty(&r).unwrap();
        assert_eq!(parse_rules(&text, "x").unwrap(), r);
    }
}
