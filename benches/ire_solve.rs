//! One linear IRE solve: two 19G electrodes (1.5 cm apart, 2 cm exposure) in a homogeneous cube
//! of 105³ nodes at 0.5 mm (52 mm, 1.16 M unknowns), MG-preconditioned CG to relative residual 1e-6
//! from a cold start (issue 4 target: ≤ 0.25 s). The problem set-up (mask, cut links, hierarchy) is
//! timed separately. A second solve of the same geometry in layered tissue (0.02 / 0.2 / 2 S/m
//! slabs, 100× contrast, oblique to the grid) tracks the robustness of the preconditioner.

use ablaplan::geometry::PatientPos;
use ablaplan::physics::grid::ComputeGrid;
use ablaplan::physics::ire::field::{Electrode, RADIUS_19G_MM, build_problem};
use ablaplan::physics::linalg::{Hierarchy, SolveOptions, solve};
use criterion::{Criterion, criterion_group, criterion_main};

fn setup() -> (ComputeGrid, Vec<f64>, Vec<(Electrode, f64)>) {
    let n = 105;
    let h = 0.5;
    let half = 0.5 * (n - 1) as f64 * h;
    let grid = ComputeGrid {
        origin_lps: PatientPos::new(-half, -half, -half),
        spacing_mm: h,
        dims: [n, n, n],
    };
    let el = |x: f64| Electrode {
        start_lps: PatientPos::new(x, 0.1, -10.0),
        end_lps: PatientPos::new(x, 0.1, 10.0),
        radius_mm: RADIUS_19G_MM,
    };
    let sigma = vec![0.2; grid.len()];
    (grid, sigma, vec![(el(7.5), 2250.0), (el(-7.5), 0.0)])
}

/// Slabs 3.5 mm / 5.5 mm thick, cycling 0.02, 0.2, 2 S/m.
fn layered_sigma(grid: &ComputeGrid) -> Vec<f64> {
    let [n, _, _] = grid.dims;
    (0..grid.len())
        .map(|idx| {
            let (i, k) = (idx % n, idx / (n * n));
            [0.02, 0.2, 2.0][(i / 7 + k / 11) % 3]
        })
        .collect()
}

fn bench(c: &mut Criterion) {
    let (grid, sigma, els) = setup();
    let opts = SolveOptions::default();
    let mut g = c.benchmark_group("ire");
    g.sample_size(10);
    for (name, sigma) in [
        ("linear_solve_105cubed_0p5mm", sigma.clone()),
        ("linear_solve_105cubed_0p5mm_layered", layered_sigma(&grid)),
    ] {
        let p = build_problem(&grid, sigma, &els);
        let phi0 = p.phi.clone();
        let mut h = Hierarchy::new(p.op, &p.sigma);
        {
            let mut phi = phi0.clone();
            let rep = solve(&mut h, &mut phi, &opts, &|| false).expect("solve");
            eprintln!(
                "{name}: {} unknowns, levels {:?}, {} iterations, final rel. residual {:.2e}",
                grid.len(),
                h.level_dims(),
                rep.iterations,
                rep.residual_history.last().copied().unwrap_or(0.0)
            );
        }
        g.bench_function(name, |b| {
            b.iter_batched_ref(
                || phi0.clone(),
                |phi| solve(&mut h, phi, &opts, &|| false).expect("solve"),
                criterion::BatchSize::LargeInput,
            )
        });
    }
    g.bench_function("build_problem_and_hierarchy", |b| {
        b.iter(|| {
            let p = build_problem(&grid, sigma.clone(), &els);
            Hierarchy::new(p.op, &p.sigma)
        })
    });
    g.finish();
}

criterion_group!(benches, bench);
criterion_main!(benches);
