//! Kaplan–Meier estimator: a hand-computed example and a comparison with Python `lifelines`
//! (run once; the values and the exact script are written below), plus the cohort helpers.

use ablaplan::review::{
    CaseOutcome, CivilDate, CohortCase, Endpoint, GroupBy, KaplanMeier, Observation, cohort_curves,
    group_curves,
};

fn obs(times: &[f64], events: &[u8]) -> Vec<Observation> {
    times
        .iter()
        .zip(events)
        .map(|(&t, &e)| Observation {
            time: t,
            event: e == 1,
        })
        .collect()
}

/// Six subjects: 1 event, 2 event, 2 censored, 3 event, 4 censored, 5 event.
///
/// Product limit, events before censorings at t = 2 (nᵢ = at risk, dᵢ = events):
///   t = 1: n = 6, d = 1 → S = 5/6,                     Greenwood Σ d/(n(n−d)) = 1/(6·5) = 1/30
///   t = 2: n = 5, d = 1 (the censored one still at risk) → S = 5/6 · 4/5 = 2/3,
///                                                       Σ = 1/30 + 1/(5·4) = 1/12
///   t = 3: n = 3, d = 1 → S = 2/3 · 2/3 = 4/9,          Σ = 1/12 + 1/(3·2) = 1/4
///   t = 4: n = 2, censored → S = 4/9
///   t = 5: n = 1, d = 1 → S = 0
/// Greenwood variance Var S = S² Σ: t = 2 → (4/9)(1/12) = 1/27; t = 3 → (16/81)(1/4) = 4/81.
/// Log(−log) 95 % interval at t = 2: ln S = −0.405465, c = ln(−ln S) = −0.902720,
///   half-width z·√(Σ / (ln S)²) = 1.959964 · √(0.083333 / 0.164402) = 1.395417,
///   lower = exp(−exp(c + h)) = 0.194617, upper = exp(−exp(c − h)) = 0.904434.
/// At t = 3: c = ln(0.810930) = −0.209573, h = 1.959964 · √(0.25 / 0.657600) = 1.208466,
///   lower = 0.066187, upper = 0.784908.
/// Median: first time with S ≤ 0.5 → t = 3 (S = 4/9). At risk at t = 2.5: times ≥ 2.5 → 3.
#[test]
fn hand_computed_example() {
    let km = KaplanMeier::fit(&obs(&[1.0, 2.0, 2.0, 3.0, 4.0, 5.0], &[1, 1, 0, 1, 0, 1]), 0.95).unwrap();
    let s: Vec<f64> = km.steps.iter().map(|s| s.survival).collect();
    let want = [5.0 / 6.0, 2.0 / 3.0, 4.0 / 9.0, 4.0 / 9.0, 0.0];
    assert_eq!(s.len(), want.len());
    for (got, want) in s.iter().zip(want) {
        // Products of a few exact fractions: a few ulps.
        assert!((got - want).abs() < 1e-15, "{got} vs {want}");
    }
    let at_risk: Vec<usize> = km.steps.iter().map(|s| s.at_risk).collect();
    assert_eq!(at_risk, vec![6, 5, 3, 2, 1]);
    assert_eq!((km.steps[1].events, km.steps[1].censored), (1, 1));
    assert!((km.steps[1].variance - 1.0 / 27.0).abs() < 1e-15);
    assert!((km.steps[2].variance - 4.0 / 81.0).abs() < 1e-15);
    // The interval values above are written to 6 decimals.
    let close = |a: f64, b: f64| (a - b).abs() < 1e-6;
    assert!(close(km.steps[1].ci_lower, 0.194617) && close(km.steps[1].ci_upper, 0.904434));
    assert!(close(km.steps[2].ci_lower, 0.066187) && close(km.steps[2].ci_upper, 0.784908));
    assert_eq!(km.median(), Some(3.0));
    assert_eq!(km.at_risk_at(0.0), 6);
    assert_eq!(km.at_risk_at(2.5), 3);
    assert_eq!(km.at_risk_at(2.0), 5);
    assert_eq!(km.at_risk_at(6.0), 0);
    assert_eq!(km.survival_at(0.5), 1.0);
    assert!((km.survival_at(2.5) - 2.0 / 3.0).abs() < 1e-15);
    assert_eq!((km.subjects, km.events), (6, 4));
    // Input order does not matter.
    let shuffled =
        KaplanMeier::fit(&obs(&[4.0, 2.0, 5.0, 1.0, 2.0, 3.0], &[0, 0, 1, 1, 1, 1]), 0.95).unwrap();
    assert_eq!(shuffled, km);
}

/// Reference values from lifelines 0.30.3 (Python 3.11.7), produced once by this script:
///
/// ```python
/// from lifelines import KaplanMeierFitter
/// import lifelines, numpy as np
/// T = [3, 5, 5, 5, 8, 8, 10, 12, 12, 15, 18, 20, 22, 22, 25, 30, 34, 40]
/// E = [1, 1, 1, 0, 1, 0, 0, 1, 1, 0, 1, 0, 1, 1, 0, 1, 0, 0]
/// kmf = KaplanMeierFitter().fit(T, E)  # alpha=0.05, ci = exponential Greenwood (log(-log))
/// print("lifelines", lifelines.__version__)
/// sf = kmf.survival_function_["KM_estimate"]
/// ci = kmf.confidence_interval_
/// et = kmf.event_table
/// for t in sf.index:
///     print(f"({t:g}, {sf[t]:.15f}, {ci.loc[t].iloc[0]:.15f}, {ci.loc[t].iloc[1]:.15f}, {int(et.loc[t,'at_risk'])}),")
/// print("median", kmf.median_survival_time_)
/// ```
/// (time, S, lower 95 %, upper 95 %, at risk); lifelines' row at t = 0 is left out (it adds a
/// time 0 with S = 1). Median: 22.0.
const LIFELINES: [(f64, f64, f64, f64, usize); 13] = [
    (3.0, 0.944444444444445, 0.666390168335329, 0.991982923674006, 18),
    (5.0, 0.833333333333333, 0.567685518680690, 0.942979741578937, 17),
    (8.0, 0.773809523809524, 0.503271551244436, 0.908675647374229, 14),
    (10.0, 0.773809523809524, 0.503271551244436, 0.908675647374229, 12),
    (12.0, 0.633116883116883, 0.353249298798580, 0.818082397100120, 11),
    (15.0, 0.633116883116883, 0.353249298798580, 0.818082397100120, 9),
    (18.0, 0.553977272727273, 0.277169079404079, 0.761952230075932, 8),
    (20.0, 0.553977272727273, 0.277169079404079, 0.761952230075932, 7),
    (22.0, 0.369318181818182, 0.126320894088017, 0.619045933324036, 6),
    (25.0, 0.369318181818182, 0.126320894088017, 0.619045933324036, 4),
    (30.0, 0.246212121212121, 0.048184066971201, 0.523234341486729, 3),
    (34.0, 0.246212121212121, 0.048184066971201, 0.523234341486729, 2),
    (40.0, 0.246212121212121, 0.048184066971201, 0.523234341486729, 1),
];

#[test]
fn matches_lifelines() {
    let t = [
        3.0, 5.0, 5.0, 5.0, 8.0, 8.0, 10.0, 12.0, 12.0, 15.0, 18.0, 20.0, 22.0, 22.0, 25.0, 30.0, 34.0, 40.0,
    ];
    let e = [1, 1, 1, 0, 1, 0, 0, 1, 1, 0, 1, 0, 1, 1, 0, 1, 0, 0];
    let km = KaplanMeier::fit(&obs(&t, &e), 0.95).unwrap();
    assert_eq!(km.steps.len(), LIFELINES.len());
    for (s, (time, surv, lo, hi, n)) in km.steps.iter().zip(LIFELINES) {
        assert_eq!(s.time, time);
        assert_eq!(s.at_risk, n, "at risk at {time}");
        // S is printed to 15 decimals; the interval differs only through the normal quantile
        // (scipy's exact ppf vs Acklam's approximation, relative error ~1e-9) and rounding.
        assert!(
            (s.survival - surv).abs() < 1e-13,
            "S({time}) {} vs {surv}",
            s.survival
        );
        assert!(
            (s.ci_lower - lo).abs() < 1e-8,
            "lower({time}) {} vs {lo}",
            s.ci_lower
        );
        assert!(
            (s.ci_upper - hi).abs() < 1e-8,
            "upper({time}) {} vs {hi}",
            s.ci_upper
        );
    }
    assert_eq!(km.median(), Some(22.0));
}

/// A curve that reaches zero, and a 90 % interval (same lifelines run, `KaplanMeierFitter(alpha=0.1)`
/// for the 90 % columns):
///
/// ```python
/// T = [2, 4, 4, 7, 9]; E = [1, 0, 1, 1, 1]
/// kmf = KaplanMeierFitter().fit(T, E)            # 95 %
/// kmf90 = KaplanMeierFitter(alpha=0.1).fit(T, E)  # 90 %
/// ```
/// 95 %: (2, 0.8, 0.203809263267639, 0.969179788866743), (4, 0.6, 0.125730182994431,
/// 0.881756407393532), (7, 0.3, 0.012301529425416, 0.719218020810415), (9, 0, 0, 0); median 7.
/// 90 % (printed to 6 decimals): (2, 0.313520, 0.957979), (4, 0.191014, 0.854165),
/// (7, 0.028125, 0.666368).
#[test]
fn matches_lifelines_to_zero_and_other_levels() {
    let o = obs(&[2.0, 4.0, 4.0, 7.0, 9.0], &[1, 0, 1, 1, 1]);
    let km = KaplanMeier::fit(&o, 0.95).unwrap();
    let want = [
        (0.8, 0.203809263267639, 0.969179788866743),
        (0.6, 0.125730182994431, 0.881756407393532),
        (0.3, 0.012301529425416, 0.719218020810415),
        (0.0, 0.0, 0.0),
    ];
    for (s, (surv, lo, hi)) in km.steps.iter().zip(want) {
        assert!((s.survival - surv).abs() < 1e-13);
        assert!(
            (s.ci_lower - lo).abs() < 1e-8 && (s.ci_upper - hi).abs() < 1e-8,
            "{s:?}"
        );
    }
    assert_eq!(km.median(), Some(7.0));
    let km90 = KaplanMeier::fit(&o, 0.90).unwrap();
    let want90 = [(0.313520, 0.957979), (0.191014, 0.854165), (0.028125, 0.666368)];
    for (s, (lo, hi)) in km90.steps.iter().zip(want90) {
        // Printed to 6 decimals.
        assert!(
            (s.ci_lower - lo).abs() < 1e-6 && (s.ci_upper - hi).abs() < 1e-6,
            "{s:?}"
        );
    }
}

fn d(s: &str) -> CivilDate {
    CivilDate::parse(s).unwrap()
}

fn case(modality: &str, site: &str, fu: &[&str], local: Option<&str>) -> CohortCase {
    let mut o = CaseOutcome::new(d("2022-01-01"));
    o.follow_up_dates = fu.iter().map(|s| d(s)).collect();
    o.local_progression = local.map(d);
    o.validate().unwrap();
    CohortCase {
        modality: modality.into(),
        site: site.into(),
        outcome: o,
    }
}

#[test]
fn cohort_curves_by_modality_and_site() {
    let cases = vec![
        case("IRE", "pelvic", &["2022-04-01", "2022-07-01"], Some("2022-07-01")),
        case("IRE", "retroperitoneal", &["2022-04-01", "2023-01-01"], None),
        case("cryo", "pelvic", &["2022-03-01"], Some("2022-03-01")),
        case("cryo", "inguinal", &["2022-06-01", "2022-12-01"], None),
        case("cryo", "", &[], None),
    ];
    let at = [0.0, 180.0, 365.0];
    let r = cohort_curves(&cases, GroupBy::Modality, Endpoint::LocalProgression, &at, 0.95).unwrap();
    assert_eq!(r.without_follow_up, 1);
    let labels: Vec<&str> = r.curves.iter().map(|c| c.label.as_str()).collect();
    assert_eq!(labels, vec!["IRE", "cryo"]);
    // IRE: event at 181 days (2022-07-01), censored at 365 days.
    let ire = &r.curves[0];
    assert_eq!(ire.km.steps[0].time, 181.0);
    assert_eq!(ire.km.survival_at(200.0), 0.5);
    assert_eq!(ire.at_risk, vec![(0.0, 2), (180.0, 2), (365.0, 1)]);
    let by_site = cohort_curves(&cases, GroupBy::Site, Endpoint::LocalProgression, &at, 0.95).unwrap();
    let labels: Vec<&str> = by_site.curves.iter().map(|c| c.label.as_str()).collect();
    assert_eq!(labels, vec!["inguinal", "pelvic", "retroperitoneal"]);
    let all = cohort_curves(&cases, GroupBy::All, Endpoint::DistantProgression, &at, 0.95).unwrap();
    assert_eq!(all.curves.len(), 1);
    assert_eq!(all.curves[0].km.events, 0, "no distant progression recorded");
    // Group helper on plain observations.
    let g = group_curves(
        &[
            ("b".to_string(), Observation::event(1.0)),
            ("a".to_string(), Observation::censored(2.0)),
        ],
        &[],
        0.95,
    )
    .unwrap();
    assert_eq!(g[0].label, "a");
    assert!(cohort_curves(&cases[4..], GroupBy::All, Endpoint::LocalProgression, &at, 0.95).is_err());
}
