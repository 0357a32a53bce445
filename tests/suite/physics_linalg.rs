//! Solver sanity: exact linear solutions between plates (homogeneous and layered σ), warm start,
//! cancellation.

use ablaplan::physics::linalg::{Hierarchy, Operator, SolveError, SolveOptions, solve};

fn plates(n: usize, sigma_of_i: impl Fn(usize) -> f64, u: f64) -> (Operator, Vec<f64>, Vec<f64>) {
    let dims = [n, n, n];
    let len = n * n * n;
    let mut sigma = vec![0.0; len];
    let mut fixed = vec![false; len];
    let mut phi = vec![0.0; len];
    for idx in 0..len {
        let i = idx % n;
        sigma[idx] = sigma_of_i(i);
        if i == 0 {
            fixed[idx] = true;
            phi[idx] = u;
        } else if i == n - 1 {
            fixed[idx] = true;
        }
    }
    (Operator::from_sigma(dims, &sigma, fixed, 1.0), sigma, phi)
}

#[test]
fn homogeneous_cube_between_plates_is_linear() {
    let n = 33;
    let u = 100.0;
    let (op, sigma, mut phi) = plates(n, |_| 0.3, u);
    let mut h = Hierarchy::new(op, &sigma);
    assert!(h.levels() >= 2, "multigrid levels: {:?}", h.level_dims());
    let opts = SolveOptions {
        rel_tol: 1e-10,
        ..Default::default()
    };
    let rep = solve(&mut h, &mut phi, &opts, &|| false).expect("solve");
    assert!(rep.converged, "{rep:?}");
    println!(
        "plates: {} iterations, history {:?}",
        rep.iterations, rep.residual_history
    );
    for (idx, v) in phi.iter().enumerate() {
        let i = idx % n;
        let exact = u * (1.0 - i as f64 / (n - 1) as f64);
        assert!((v - exact).abs() < 1e-6 * u, "node {idx}: {v} vs {exact}");
    }
}

#[test]
fn layered_conductivity_matches_series_resistance() {
    let n = 17;
    let u = 10.0;
    let (s1, s2) = (0.1, 0.7);
    let (op, sigma, mut phi) = plates(n, |i| if i < 8 { s1 } else { s2 }, u);
    let mut h = Hierarchy::new(op, &sigma);
    let opts = SolveOptions {
        rel_tol: 1e-11,
        ..Default::default()
    };
    let rep = solve(&mut h, &mut phi, &opts, &|| false).expect("solve");
    assert!(rep.converged);
    // Face coefficients: 7 faces σ1, one harmonic-mean face, 8 faces σ2; constant flux J.
    let hm = 2.0 * s1 * s2 / (s1 + s2);
    let j = u / (7.0 / s1 + 1.0 / hm + 8.0 / s2);
    let mut expect = vec![u; n];
    for i in 1..n {
        let c = if i <= 7 {
            s1
        } else if i == 8 {
            hm
        } else {
            s2
        };
        expect[i] = expect[i - 1] - j / c;
    }
    assert!(expect[n - 1].abs() < 1e-12);
    for (idx, v) in phi.iter().enumerate() {
        let e = expect[idx % n];
        assert!((v - e).abs() < 1e-7 * u, "node {idx}: {v} vs {e}");
    }
}

#[test]
fn warm_start_from_solution_needs_no_iteration_and_cancel_works() {
    let n = 17;
    let (op, sigma, mut phi) = plates(n, |_| 0.2, 1.0);
    let mut h = Hierarchy::new(op, &sigma);
    let opts = SolveOptions::default();
    let cold = solve(&mut h, &mut phi, &opts, &|| false).expect("solve");
    assert!(cold.converged && cold.iterations >= 1);
    let warm = solve(&mut h, &mut phi, &opts, &|| false).expect("solve");
    assert_eq!(warm.iterations, 0);
    let mut phi2: Vec<f64> = phi
        .iter()
        .enumerate()
        .map(|(i, v)| if i % n == 0 { *v } else { 0.0 })
        .collect();
    assert_eq!(
        solve(&mut h, &mut phi2, &opts, &|| true).unwrap_err(),
        SolveError::Cancelled
    );
}

#[test]
fn deterministic_across_runs() {
    let n = 33;
    let (op, sigma, phi0) = plates(n, |i| 0.1 + 0.01 * i as f64, 5.0);
    let mut h = Hierarchy::new(op, &sigma);
    let opts = SolveOptions::default();
    let mut a = phi0.clone();
    let mut b = phi0;
    let ra = solve(&mut h, &mut a, &opts, &|| false).expect("solve");
    let rb = solve(&mut h, &mut b, &opts, &|| false).expect("solve");
    assert_eq!(ra.residual_history, rb.residual_history);
    assert_eq!(a, b);
}
