//! Solver sanity: exact linear solutions between plates (homogeneous and layered σ), warm start,
//! cancellation, determinism (runs and thread counts), high-contrast conductivity with strong
//! electrode links, odd and even grid sizes (checked against an independent residual).

use ablaplan::physics::linalg::{Cycle, Hierarchy, Operator, SolveError, SolveOptions, SolveReport, solve};

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

/// Solves to relative residual `rel_tol` with the default cycle, from `phi`'s start.
fn solve_to(h: &mut Hierarchy, phi: &mut [f64], rel_tol: f64) -> SolveReport {
    let opts = SolveOptions {
        rel_tol,
        ..Default::default()
    };
    solve(h, phi, &opts, &|| false).expect("solve")
}

/// ‖b − A φ‖ / ‖b‖ over the free nodes, computed directly from the public link coefficients
/// (`b` = coupling of free nodes to the Dirichlet values).
fn true_relative_residual(op: &Operator, phi: &[f64]) -> f64 {
    let [nx, ny, nz] = op.dims;
    let strides = [1, nx, nx * ny];
    let (mut rr, mut bb) = (0.0, 0.0);
    for k in 0..nz {
        for j in 0..ny {
            for i in 0..nx {
                let idx = i + nx * (j + ny * k);
                if op.fixed[idx] {
                    continue;
                }
                let (mut r, mut b) = (0.0, 0.0);
                for (axis, (&c, len)) in [i, j, k].iter().zip([nx, ny, nz]).enumerate() {
                    let s = strides[axis];
                    let mut link = |coef: f64, nb: usize| {
                        r += coef * (phi[nb] - phi[idx]);
                        if op.fixed[nb] {
                            b += coef * phi[nb];
                        }
                    };
                    if c > 0 {
                        link(op.link(axis, idx - s), idx - s);
                    }
                    if c + 1 < len {
                        link(op.link(axis, idx), idx + s);
                    }
                }
                rr += r * r;
                bb += b * b;
            }
        }
    }
    (rr / bb).sqrt()
}

#[test]
fn homogeneous_cube_between_plates_is_linear() {
    let n = 33;
    let u = 100.0;
    let (op, sigma, mut phi) = plates(n, |_| 0.3, u);
    let mut h = Hierarchy::new(op, &sigma);
    assert!(h.levels() >= 2, "multigrid levels: {:?}", h.level_dims());
    let rep = solve_to(&mut h, &mut phi, 1e-10);
    assert!(rep.converged, "{rep:?}");
    println!(
        "plates: {} iterations, history {:?}",
        rep.iterations, rep.residual_history
    );
    assert!(rep.iterations <= 12, "{rep:?}");
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
    // The stored coefficients are the harmonic means (single precision defines the discrete problem).
    let hm = 2.0 * s1 * s2 / (s1 + s2);
    for (i, want) in [(3, s1), (7, hm), (12, s2)] {
        let got = op.link(0, i + n * 5);
        assert!((got - want).abs() < 1e-7 * want, "link {i}: {got} vs {want}");
    }
    let c: Vec<f64> = (0..n - 1).map(|i| op.link(0, i + n * (4 + n * 9))).collect();
    let mut h = Hierarchy::new(op, &sigma);
    let rep = solve_to(&mut h, &mut phi, 1e-11);
    assert!(rep.converged);
    // Series resistors: constant flux J through faces c[0..n−1].
    let j = u / c.iter().map(|c| 1.0 / c).sum::<f64>();
    let mut expect = vec![u; n];
    for i in 1..n {
        expect[i] = expect[i - 1] - j / c[i - 1];
    }
    assert!(expect[n - 1].abs() < 1e-12);
    // Against the f64 continuum of the same layers: agrees to single-precision rounding.
    let j64 = u / (7.0 / s1 + 1.0 / hm + 8.0 / s2);
    assert!((j - j64).abs() < 1e-6 * j64, "{j} vs {j64}");
    for (idx, v) in phi.iter().enumerate() {
        let e = expect[idx % n];
        assert!((v - e).abs() < 1e-8 * u, "node {idx}: {v} vs {e}");
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
    let before = phi2.clone();
    assert_eq!(
        solve(&mut h, &mut phi2, &opts, &|| true).unwrap_err(),
        SolveError::Cancelled
    );
    assert_eq!(phi2, before, "a cancelled solve leaves phi alone");
    // Cancelling after two polls: the third poll stops it.
    let tight = SolveOptions {
        rel_tol: 1e-15,
        ..Default::default()
    };
    let polls = std::cell::Cell::new(0);
    let err = solve(&mut h, &mut phi2, &tight, &|| {
        polls.set(polls.get() + 1);
        polls.get() > 2
    })
    .unwrap_err();
    assert_eq!((err, polls.get()), (SolveError::Cancelled, 3));
}

#[test]
fn no_dirichlet_node_is_an_error() {
    let n = 9;
    let sigma = vec![1.0; n * n * n];
    let op = Operator::from_sigma([n; 3], &sigma, vec![false; n * n * n], 1.0);
    let mut h = Hierarchy::new(op, &sigma);
    let mut phi = vec![0.0; n * n * n];
    let err = solve(&mut h, &mut phi, &SolveOptions::default(), &|| false).unwrap_err();
    assert_eq!(err, SolveError::NoDirichlet);
}

/// Conductivity with 100× contrast between three tissue classes in slanted slabs and blobs, and a
/// thin Dirichlet "electrode" pair whose links are strengthened up to 20× (cut links).
fn high_contrast_problem(dims: [usize; 3]) -> (Operator, Vec<f64>, Vec<f64>) {
    let [nx, ny, nz] = dims;
    let len = nx * ny * nz;
    let mut sigma = vec![0.0; len];
    let mut fixed = vec![false; len];
    let mut phi = vec![0.0; len];
    let ya = ny / 2;
    let (xa, xb) = (nx / 4, 3 * nx / 4);
    for k in 0..nz {
        for j in 0..ny {
            for i in 0..nx {
                let idx = i + nx * (j + ny * k);
                let slab = (i + 2 * j + 3 * k) / 7 % 3;
                let blob = (i as f64 - 0.6 * nx as f64).powi(2) + (j as f64 - 0.3 * ny as f64).powi(2)
                    < (0.15 * nx as f64).powi(2);
                sigma[idx] = if blob { 1.5 } else { [0.015, 0.2, 0.6][slab] };
                if j == ya && k >= nz / 4 && k <= 3 * nz / 4 && (i == xa || i == xb) {
                    fixed[idx] = true;
                    phi[idx] = if i == xa { 1500.0 } else { 0.0 };
                }
            }
        }
    }
    let mut op = Operator::from_sigma(dims, &sigma, fixed, 1.0);
    // Cut links: every link from an electrode node to a free node, factor 1..20.
    let strides = [1, nx, nx * ny];
    let mut f = 0usize;
    for idx in 0..len {
        if !op.fixed[idx] {
            continue;
        }
        for (axis, &s) in strides.iter().enumerate() {
            for (link, nb) in [(idx.wrapping_sub(s), idx.wrapping_sub(s)), (idx, idx + s)] {
                if nb < len && !op.fixed[nb] && op.link(axis, link) > 0.0 {
                    f += 1;
                    op.scale_link(axis, link, 1.0 + (f * 7 % 20) as f64);
                }
            }
        }
    }
    (op, sigma, phi)
}

#[test]
fn high_contrast_with_strong_cut_links_converges() {
    for dims in [[41, 33, 25], [30, 22, 19]] {
        let (op, sigma, mut phi) = high_contrast_problem(dims);
        let check = op.clone();
        let mut h = Hierarchy::new(op, &sigma);
        assert!(h.levels() >= 3, "{:?}", h.level_dims());
        let rep = solve_to(&mut h, &mut phi, 1e-9);
        println!(
            "{dims:?}: levels {:?}, {} iterations, history {:?}",
            h.level_dims(),
            rep.iterations,
            rep.residual_history
        );
        assert!(rep.converged && rep.iterations <= 25, "{rep:?}");
        // The reported residual is the true one (independent evaluation).
        let r = true_relative_residual(&check, &phi);
        assert!(r < 2e-9, "true residual {r:e}");
        // Maximum principle: the potential stays between the electrode voltages.
        assert!(phi.iter().all(|&v| (-1e-6..=1500.0 + 1e-6).contains(&v)));
    }
}

#[test]
fn every_cycle_shape_reaches_the_same_solution() {
    let (op, sigma, phi0) = high_contrast_problem([37, 29, 33]);
    let check = op.clone();
    let mut h = Hierarchy::new(op, &sigma);
    let mut reference: Option<Vec<f64>> = None;
    for (smooth_sweeps, coarse_sweeps, cycle) in [
        (2, 2, Cycle::W),
        (1, 1, Cycle::V),
        (1, 3, Cycle::W),
        (3, 1, Cycle::V),
    ] {
        let opts = SolveOptions {
            rel_tol: 1e-10,
            smooth_sweeps,
            coarse_sweeps,
            cycle,
            ..Default::default()
        };
        let mut phi = phi0.clone();
        let rep = solve(&mut h, &mut phi, &opts, &|| false).expect("solve");
        let label = format!("{smooth_sweeps}/{coarse_sweeps} {cycle:?}");
        assert!(rep.converged && rep.iterations <= 40, "{label}: {rep:?}");
        assert!(true_relative_residual(&check, &phi) < 2e-10, "{label}");
        match &reference {
            None => reference = Some(phi),
            Some(r) => {
                let worst = r.iter().zip(&phi).map(|(a, b)| (a - b).abs()).fold(0.0, f64::max);
                assert!(worst < 1e-5, "{label}: differs by {worst} V");
            }
        }
    }
}

#[test]
fn small_and_flat_grids_solve() {
    // Grids too small to coarsen (single level), flat ones (down to a coarse axis of 2 nodes),
    // even sizes, and one too flat to coarsen at all and too large for the banded exact solve
    // (CG on the single level).
    for dims in [[4, 3, 5], [9, 9, 2], [16, 14, 12], [64, 48, 3], [80, 60, 2]] {
        let [nx, ny, nz] = dims;
        let len = nx * ny * nz;
        let sigma: Vec<f64> = (0..len).map(|i| 0.1 + 0.05 * ((i * 13) % 7) as f64).collect();
        let mut fixed = vec![false; len];
        let mut phi = vec![0.0; len];
        for (idx, (f, p)) in fixed.iter_mut().zip(phi.iter_mut()).enumerate() {
            let i = idx % nx;
            if i == 0 || idx == len - 1 {
                *f = true;
                *p = if i == 0 { 3.0 } else { -1.0 };
            }
        }
        let op = Operator::from_sigma(dims, &sigma, fixed, 1.0);
        let check = op.clone();
        let mut h = Hierarchy::new(op, &sigma);
        let rep = solve_to(&mut h, &mut phi, 1e-10);
        assert!(rep.converged, "{dims:?}: {rep:?}");
        let r = true_relative_residual(&check, &phi);
        assert!(r < 1e-9, "{dims:?}: true residual {r:e}");
    }
}

#[test]
fn deterministic_across_runs_and_thread_counts() {
    let (op, sigma, phi0) = high_contrast_problem([45, 37, 41]);
    let opts = SolveOptions::default();
    let run = |threads: usize| {
        let pool = rayon::ThreadPoolBuilder::new()
            .num_threads(threads)
            .build()
            .expect("thread pool");
        pool.install(|| {
            let mut h = Hierarchy::new(op.clone(), &sigma);
            let mut a = phi0.clone();
            let ra = solve(&mut h, &mut a, &opts, &|| false).expect("solve");
            let mut b = phi0.clone();
            let rb = solve(&mut h, &mut b, &opts, &|| false).expect("solve");
            assert_eq!(ra.residual_history, rb.residual_history);
            assert_eq!(a, b);
            (ra.residual_history, a)
        })
    };
    let one = run(1);
    let three = run(3);
    assert_eq!(one.0, three.0);
    assert!(one.1 == three.1, "solution bits differ between 1 and 3 threads");
}

/// An insulating (σ = 0) plane cuts the cube in two: each half takes the potential of the plate it
/// touches, the nodes inside the insulator have no coupling at all (they must stay finite and keep
/// their start value), and a Dirichlet node stranded inside the insulator changes nothing.
#[test]
fn insulating_plane_and_stranded_nodes_are_handled() {
    let n = 17;
    let u = 10.0;
    let cut = n / 2;
    let (op, sigma, mut phi) = plates(n, |i| if i == cut { 0.0 } else { 1.0 }, u);
    let mut fixed = op.fixed.clone();
    let stranded = cut + n * (3 + n * 4);
    fixed[stranded] = true;
    phi[stranded] = 55.0;
    let op = Operator::from_sigma([n; 3], &sigma, fixed, 1.0);
    let mut h = Hierarchy::new(op, &sigma);
    let rep = solve_to(&mut h, &mut phi, 1e-10);
    assert!(rep.converged, "{rep:?}");
    for (idx, v) in phi.iter().enumerate() {
        let i = idx % n;
        let expected = match i {
            _ if idx == stranded => 55.0,
            _ if i == cut => 0.0,
            _ if i < cut => u,
            _ => 0.0,
        };
        assert!(
            v.is_finite() && (v - expected).abs() < 1e-6 * u,
            "node {idx} (i = {i}): {v} vs {expected}"
        );
    }
}

/// A conducting island wrapped in insulator touches no electrode: its potential is undetermined
/// (any constant solves it), so the solver must still converge elsewhere and leave the island
/// finite and flat, whatever it started from.
#[test]
fn floating_island_stays_finite_and_flat() {
    let n = 17;
    let u = 10.0;
    let island = |i: usize, j: usize, k: usize| {
        (6..=10).contains(&i) && (6..=10).contains(&j) && (6..=10).contains(&k)
    };
    let shell = |i: usize, j: usize, k: usize| {
        (5..=11).contains(&i) && (5..=11).contains(&j) && (5..=11).contains(&k)
    };
    let (op, mut sigma, mut phi) = plates(n, |_| 1.0, u);
    for (idx, s) in sigma.iter_mut().enumerate() {
        let (i, j, k) = (idx % n, (idx / n) % n, idx / (n * n));
        if shell(i, j, k) && !island(i, j, k) {
            *s = 0.0;
        }
        if island(i, j, k) {
            phi[idx] = (i + 2 * j + 3 * k) as f64;
        }
    }
    let op = Operator::from_sigma([n; 3], &sigma, op.fixed.clone(), 1.0);
    let mut h = Hierarchy::new(op, &sigma);
    let rep = solve_to(&mut h, &mut phi, 1e-10);
    assert!(rep.converged, "{rep:?}");
    let values: Vec<f64> = (0..n * n * n)
        .filter(|&idx| island(idx % n, (idx / n) % n, idx / (n * n)))
        .map(|idx| phi[idx])
        .collect();
    let (lo, hi) = values
        .iter()
        .fold((f64::MAX, f64::MIN), |(lo, hi), &v| (lo.min(v), hi.max(v)));
    assert!(
        lo.is_finite() && hi.is_finite() && hi - lo < 1e-4,
        "island spans {lo}..{hi}"
    );
    // Far from the shell the plates' linear field is untouched.
    let corner = 2 + n * (1 + n);
    let exact = u * (1.0 - 2.0 / (n - 1) as f64);
    assert!(
        (phi[corner] - exact).abs() < 0.05 * u,
        "{} vs {exact}",
        phi[corner]
    );
}

#[test]
fn a_kept_hierarchy_solves_the_new_operator_exactly() {
    // The nonlinear IRE iteration raises σ and swaps the new operator into the hierarchy built
    // for the old one: the solution must be that of the new operator (CG applies it exactly),
    // only the preconditioner is the old one's.
    let n = 33;
    let u = 100.0;
    let (op_old, sigma_old, _) = plates(n, |_| 0.3, u);
    // σ up to 4× higher in a slab (the needles' neighbourhood in the IRE model).
    let grow = |i: usize| if (10..20).contains(&i) { 1.2 } else { 0.3 };
    let (op_new, sigma_new, phi0) = plates(n, grow, u);
    let mut fresh = Hierarchy::new(op_new.clone(), &sigma_new);
    let mut want = phi0.clone();
    let rep_fresh = solve_to(&mut fresh, &mut want, 1e-10);
    let mut kept = Hierarchy::new(op_old, &sigma_old);
    assert!(kept.set_outer(op_new.clone()).is_ok());
    let mut got = phi0.clone();
    let rep_kept = solve_to(&mut kept, &mut got, 1e-10);
    assert!(rep_kept.converged, "{rep_kept:?}");
    assert!(true_relative_residual(&op_new, &got) < 1e-9);
    let worst = got
        .iter()
        .zip(&want)
        .map(|(a, b)| (a - b).abs())
        .fold(0.0, f64::max);
    assert!(worst < 1e-6 * u, "kept vs fresh: {worst} V");
    println!(
        "iterations: fresh {}, kept {}",
        rep_fresh.iterations, rep_kept.iterations
    );
    assert!(
        rep_kept.iterations <= 2 * rep_fresh.iterations + 2,
        "{rep_kept:?}"
    );
    // Another Dirichlet set is another problem: refused, the operator handed back.
    let (mut other, _, _) = plates(n, grow, u);
    other.fixed[n / 2 + n * (n / 2 + n * (n / 2))] = true;
    assert!(kept.set_outer(other).is_err());
}
