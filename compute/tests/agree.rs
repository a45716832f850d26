//! Every kernel's GPU side against its CPU twin, on random and edge-case inputs. On a machine without a GPU
//! these run on Mesa's lavapipe (a Vulkan adapter on the CPU); without any adapter they skip locally with
//! the reason, and fail under `CI=true`.

use std::sync::Arc;

use pipewright_compute::{
    Backend, CrossB, Gpu, KMeansProblem, LogisticData, LogisticProblem, MatrixRef, Metric, Policy, column_stats,
    crossprod, dense_backward, dense_forward, gram, nearest_neighbours,
};

fn gpu() -> Option<Arc<Gpu>> {
    match pipewright_compute::shared() {
        Ok(gpu) => {
            eprintln!("adapter: {}", gpu.info.label());
            Some(gpu)
        }
        Err(e) if std::env::var("CI").is_ok_and(|v| v == "true") => panic!("CI=true requires a GPU adapter: {e}"),
        Err(e) => {
            eprintln!("skipped: {e}");
            None
        }
    }
}

/// Deterministic uniform numbers in [0, 1).
struct Rng(u64);

impl Rng {
    fn next(&mut self) -> f64 {
        self.0 = self.0.wrapping_add(0x9E37_79B9_7F4A_7C15);
        let mut z = self.0;
        z = (z ^ (z >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
        z = (z ^ (z >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
        ((z ^ (z >> 31)) >> 11) as f64 / (1u64 << 53) as f64
    }

    fn normal(&mut self) -> f64 {
        let (u, v) = (self.next().max(1e-300), self.next());
        (-2.0 * u.ln()).sqrt() * (std::f64::consts::TAU * v).cos()
    }

    fn matrix(&mut self, rows: usize, cols: usize) -> Vec<f64> {
        (0..rows * cols).map(|_| self.normal()).collect()
    }
}

/// `a` and `b` agree to `tolerance` relative to the largest magnitude in `a` (at least 1).
fn assert_close(what: &str, a: &[f64], b: &[f64], tolerance: f64) {
    assert_eq!(a.len(), b.len(), "{what}: lengths differ");
    let scale = a.iter().fold(1.0f64, |m, v| m.max(v.abs()));
    for (i, (x, y)) in a.iter().zip(b).enumerate() {
        assert!((x - y).abs() <= tolerance * scale, "{what}[{i}]: cpu {x} vs gpu {y} (scale {scale})");
    }
}

#[test]
fn policies_choose_as_documented() {
    assert!(matches!(Backend::choose(Policy::Cpu, usize::MAX), Ok(Backend::Cpu)));
    assert!(matches!(Backend::choose(Policy::Auto, 10), Ok(Backend::Cpu)), "small work stays on the CPU");
    let Some(gpu) = gpu() else { return };
    let forced = Backend::choose(Policy::Gpu, 1).expect("an adapter exists");
    assert!(forced.is_gpu() && forced.label().contains(&gpu.info.name));
    // auto never picks a software adapter, whatever the size.
    let auto = Backend::choose(Policy::Auto, usize::MAX).expect("auto always has the CPU");
    assert_eq!(auto.is_gpu(), !gpu.info.software);
    let listed = pipewright_compute::adapters();
    assert!(listed.iter().any(|a| a.name == gpu.info.name), "{listed:?}");
    assert!(gpu.info.max_storage_binding_bytes > 0 && gpu.info.max_workgroups_per_dimension > 0);
}

#[test]
fn column_statistics_agree() {
    let Some(gpu) = gpu() else { return };
    let device = Backend::Gpu(gpu);
    let mut rng = Rng(1);
    let rows = 40_000;
    let noisy: Vec<f64> =
        (0..rows).map(|_| if rng.next() < 0.05 { f64::NAN } else { 100.0 + 5.0 * rng.normal() }).collect();
    let skewed: Vec<f64> = (0..rows).map(|_| rng.next().powi(4) * 1e3).collect();
    let constant = vec![3.25; rows];
    let empty = vec![f64::NAN; rows];
    let mut negative_first = vec![-7.5; rows];
    negative_first[rows - 1] = 7.5;
    let columns: Vec<&[f64]> = vec![&noisy, &skewed, &constant, &empty, &negative_first];
    let cpu = column_stats(&Backend::Cpu, &columns).expect("cpu");
    let gpu = column_stats(&device, &columns).expect("gpu");
    for (c, (a, b)) in cpu.iter().zip(&gpu).enumerate() {
        assert_eq!((a.count, a.missing), (b.count, b.missing), "column {c}");
        if a.count == 0 {
            assert!(b.mean.is_nan() && b.variance.is_nan() && b.min.is_nan() && b.max.is_nan());
            continue;
        }
        let scale = a.mean.abs().max(a.variance.sqrt()).max(1.0);
        assert!((a.mean - b.mean).abs() <= 1e-5 * scale, "column {c} mean {} vs {}", a.mean, b.mean);
        assert!(
            (a.variance - b.variance).abs() <= 1e-4 * a.variance.max(1e-12),
            "column {c} var {} vs {}",
            a.variance,
            b.variance
        );
        assert!(
            (a.min - b.min).abs() <= 1e-6 * a.min.abs().max(1.0)
                && (a.max - b.max).abs() <= 1e-6 * a.max.abs().max(1.0)
        );
    }
    assert_eq!(gpu[2].variance, 0.0, "a constant column has no spread on the device either");
    // One row, and a table of one column.
    let one = [2.5];
    let s = column_stats(&device, &[&one]).expect("gpu");
    assert_eq!((s[0].count, s[0].mean, s[0].variance, s[0].min, s[0].max), (1, 2.5, 0.0, 2.5, 2.5));
}

#[test]
fn cross_products_agree() {
    let Some(gpu) = gpu() else { return };
    let device = Backend::Gpu(gpu);
    let mut rng = Rng(2);
    // 17 columns + intercept crosses a 16-wide tile; 20,001 rows leave a partial chunk and a partial tile.
    for (rows, cols) in [(20_001, 17), (1, 3), (33, 1)] {
        let data = rng.matrix(rows, cols);
        let x = MatrixRef::new(rows, cols, &data);
        let w: Vec<f64> = (0..rows).map(|_| rng.next()).collect();
        let y: Vec<f64> = (0..rows * 2).map(|_| rng.normal()).collect();
        assert_close(
            "gram",
            &gram(&Backend::Cpu, x, true, None).expect("cpu"),
            &gram(&device, x, true, None).expect("gpu"),
            1e-5,
        );
        assert_close(
            "weighted gram",
            &gram(&Backend::Cpu, x, false, Some(&w)).expect("cpu"),
            &gram(&device, x, false, Some(&w)).expect("gpu"),
            1e-5,
        );
        let b = CrossB::Rows { data: &y, cols: 2 };
        assert_close(
            "Xᵀy",
            &crossprod(&Backend::Cpu, x, 1, b, 1, Some(&w)).expect("cpu"),
            &crossprod(&device, x, 1, b, 1, Some(&w)).expect("gpu"),
            1e-5,
        );
    }
}

#[test]
fn logistic_objective_agrees() {
    let Some(gpu) = gpu() else { return };
    let device = Backend::Gpu(gpu);
    let mut rng = Rng(3);
    let (rows, cols) = (10_000, 6);
    let data = rng.matrix(rows, cols);
    let x = MatrixRef::new(rows, cols, &data);
    for classes in [2usize, 3] {
        let y: Vec<usize> = (0..rows)
            .map(|i| {
                usize::from(data[i * cols] + 0.5 * rng.normal() > 0.0)
                    + usize::from(classes == 3 && data[i * cols + 1] > 0.7)
            })
            .collect();
        let blocks = if classes == 2 { 1 } else { classes };
        let theta: Vec<f64> = (0..blocks * (cols + 1)).map(|_| 0.5 * rng.normal()).collect();
        let problem = LogisticData { x, y: &y, blocks };
        let on_cpu = LogisticProblem::new(&Backend::Cpu, problem).evaluate(&theta, true).expect("cpu");
        let on_device = LogisticProblem::new(&device, problem);
        assert!(on_device.backend().is_gpu());
        let on_gpu = on_device.evaluate(&theta, true).expect("gpu");
        assert!(
            (on_cpu.loss - on_gpu.loss).abs() <= 1e-5 * on_cpu.loss,
            "{classes} classes: loss {} vs {}",
            on_cpu.loss,
            on_gpu.loss
        );
        assert_close("gradient", &on_cpu.gradient, &on_gpu.gradient, 1e-4);
        assert_close("hessian", &on_cpu.hessian, &on_gpu.hessian, 1e-4);
        // Extreme scores saturate without overflow on both sides.
        let far: Vec<f64> = theta.iter().map(|t| t * 200.0).collect();
        let a = LogisticProblem::new(&Backend::Cpu, problem).evaluate(&far, false).expect("cpu");
        let b = on_device.evaluate(&far, false).expect("gpu");
        assert!(a.loss.is_finite() && b.loss.is_finite() && b.gradient.iter().all(|g| g.is_finite()));
        assert!((a.loss - b.loss).abs() <= 1e-4 * a.loss, "saturated loss {} vs {}", a.loss, b.loss);
    }
}

#[test]
fn kmeans_steps_agree() {
    let Some(gpu) = gpu() else { return };
    let device = Backend::Gpu(gpu);
    let mut rng = Rng(4);
    let (rows, cols, k) = (30_000, 5, 6);
    let data: Vec<f64> = (0..rows * cols).map(|i| rng.normal() + 4.0 * ((i / cols) % 3) as f64).collect();
    let x = MatrixRef::new(rows, cols, &data);
    let centers: Vec<f64> = (0..k * cols).map(|_| 4.0 * rng.next()).collect();
    let on_cpu = KMeansProblem::new(&Backend::Cpu, x);
    let on_gpu = KMeansProblem::new(&device, x);
    let (a, b) = (on_cpu.step(&centers, k).expect("cpu"), on_gpu.step(&centers, k).expect("gpu"));
    assert_eq!(a.counts, b.counts);
    assert!((a.inertia - b.inertia).abs() <= 1e-5 * a.inertia);
    assert_close("cluster sums", &a.sums, &b.sums, 1e-5);
    let (a, b) = (on_cpu.assign(&centers, k).expect("cpu"), on_gpu.assign(&centers, k).expect("gpu"));
    assert_eq!(a.labels, b.labels);
    assert_close("distances", &a.distances, &b.distances, 1e-5);
    // Two identical centres: ties go to the lower index on both sides, and the second stays empty.
    let mut twins = centers.clone();
    twins[cols..2 * cols].copy_from_slice(&centers[..cols]);
    let (a, b) = (on_cpu.step(&twins, k).expect("cpu"), on_gpu.step(&twins, k).expect("gpu"));
    assert_eq!(a.counts, b.counts);
    assert_eq!(b.counts[1], 0);
}

#[test]
fn nearest_neighbours_agree() {
    let Some(gpu) = gpu() else { return };
    let device = Backend::Gpu(gpu);
    let mut rng = Rng(5);
    let (rows, cols) = (2_000, 4);
    let mut train = rng.matrix(rows, cols);
    // Duplicated rows make exact ties: the earlier training row must win on both sides.
    let copy = train[..10 * cols].to_vec();
    train[100 * cols..110 * cols].copy_from_slice(&copy);
    let queries = rng.matrix(300, cols);
    let t = MatrixRef::new(rows, cols, &train);
    let q = MatrixRef::new(300, cols, &queries);
    let exact = MatrixRef::new(10, cols, &copy);
    for metric in [Metric::Euclidean, Metric::Manhattan] {
        for k in [1, 5, 64] {
            let a = nearest_neighbours(&Backend::Cpu, t, q, k, metric).expect("cpu");
            let b = nearest_neighbours(&device, t, q, k, metric).expect("gpu");
            assert_eq!(a, b, "{metric:?}, k = {k}");
        }
        let a = nearest_neighbours(&device, t, exact, 2, metric).expect("gpu");
        for (i, found) in a.iter().enumerate() {
            assert_eq!(found.iter().map(|n| n.1).collect::<Vec<_>>(), vec![i, 100 + i], "{metric:?}");
        }
    }
    // More neighbours than training rows: all of them.
    let few = MatrixRef::new(3, cols, &train[..3 * cols]);
    assert_eq!(nearest_neighbours(&device, few, q, 10, Metric::Euclidean).expect("gpu")[0].len(), 3);
}

#[test]
fn dense_layers_agree() {
    let Some(gpu) = gpu() else { return };
    let device = Backend::Gpu(gpu);
    let mut rng = Rng(6);
    for (rows, fan_in, fan_out) in [(200, 20, 100), (1, 3, 1), (37, 17, 33)] {
        let a = rng.matrix(rows, fan_in);
        let a = MatrixRef::new(rows, fan_in, &a);
        let w = rng.matrix(fan_in, fan_out);
        let b = rng.matrix(1, fan_out);
        let d = rng.matrix(rows, fan_out);
        assert_close(
            "forward",
            &dense_forward(&Backend::Cpu, a, &w, &b).expect("cpu"),
            &dense_forward(&device, a, &w, &b).expect("gpu"),
            1e-5,
        );
        let x = dense_backward(&Backend::Cpu, a, &d, &w, true).expect("cpu");
        let y = dense_backward(&device, a, &d, &w, true).expect("gpu");
        assert_close("weight gradient", &x.weights, &y.weights, 1e-5);
        assert_close("bias gradient", &x.biases, &y.biases, 1e-5);
        assert_close("input deltas", &x.inputs.expect("asked"), &y.inputs.expect("asked"), 1e-5);
    }
}

#[test]
fn a_feature_block_is_uploaded_once() {
    let Some(gpu) = gpu() else { return };
    let data: Vec<f64> = (0..600).map(f64::from).collect();
    let first = gpu.matrix(MatrixRef::new(200, 3, &data));
    let again = gpu.matrix(MatrixRef::new(200, 3, &data.clone()));
    assert!(Arc::ptr_eq(&first, &again), "equal values reuse the uploaded block");
    let other = gpu.matrix(MatrixRef::new(300, 2, &data));
    assert!(!Arc::ptr_eq(&first, &other), "a different shape is another block");
}

#[test]
fn tables_split_into_several_blocks_give_the_same_results() {
    let Some(gpu) = gpu() else { return };
    let mut rng = Rng(7);
    let (rows, cols) = (9_001, 5);
    let data: Vec<f64> = (0..rows * cols).map(|i| rng.normal() + ((i / cols) % 3) as f64 * 3.0).collect();
    // Blocks of 1,000 rows: this table becomes ten.
    gpu.limit_block_bytes((1_000 * cols * 4) as u64);
    let device = Backend::Gpu(gpu.clone());
    let x = MatrixRef::new(rows, cols, &data);
    let blocks = gpu.matrix(x).blocks.len();
    let w: Vec<f64> = (0..rows).map(|_| rng.next()).collect();
    let g = (gram(&Backend::Cpu, x, true, Some(&w)), gram(&device, x, true, Some(&w)));
    let y: Vec<usize> = (0..rows).map(|i| usize::from(data[i * cols] > 1.0)).collect();
    let problem = LogisticData { x, y: &y, blocks: 1 };
    let theta: Vec<f64> = (0..=cols).map(|j| 0.1 * j as f64).collect();
    let l = (
        LogisticProblem::new(&Backend::Cpu, problem).evaluate(&theta, true),
        LogisticProblem::new(&device, problem).evaluate(&theta, true),
    );
    let centers: Vec<f64> = data[..3 * cols].to_vec();
    let k = (KMeansProblem::new(&Backend::Cpu, x).step(&centers, 3), KMeansProblem::new(&device, x).step(&centers, 3));
    gpu.limit_block_bytes(1 << 30);
    assert_eq!(blocks, 10);
    assert_close("gram", &g.0.expect("cpu"), &g.1.expect("gpu"), 1e-5);
    let (a, b) = (l.0.expect("cpu"), l.1.expect("gpu"));
    assert!((a.loss - b.loss).abs() <= 1e-5 * a.loss);
    assert_close("gradient", &a.gradient, &b.gradient, 1e-4);
    assert_close("hessian", &a.hessian, &b.hessian, 1e-4);
    let (a, b) = (k.0.expect("cpu"), k.1.expect("gpu"));
    assert_eq!(a.counts, b.counts);
    assert_close("cluster sums", &a.sums, &b.sums, 1e-5);
}

#[test]
fn the_hessian_alone_equals_the_full_evaluation_and_large_tables_sample_it() {
    let mut rng = Rng(8);
    for rows in [1_000, 450_000] {
        let cols = 3;
        let data = rng.matrix(rows, cols);
        let y: Vec<usize> = (0..rows).map(|i| usize::from(data[i * cols] + rng.normal() > 0.0)).collect();
        let problem = LogisticProblem::new(
            &Backend::Cpu,
            LogisticData { x: MatrixRef::new(rows, cols, &data), y: &y, blocks: 1 },
        );
        let theta = [0.5, -0.25, 0.1, 0.05];
        let full = problem.evaluate(&theta, true).expect("cpu");
        let alone = problem.hessian(&theta).expect("cpu");
        assert_eq!(full.hessian, alone);
        // The diagonal's intercept entry is Σ p(1 − p): the sampled estimate stays within 1% of it.
        let exact: f64 = (0..rows)
            .map(|i| {
                let z = theta[3] + (0..cols).map(|j| theta[j] * data[i * cols + j]).sum::<f64>();
                let p = 1.0 / (1.0 + (-z).exp());
                p * (1.0 - p)
            })
            .sum();
        let estimate = alone[alone.len() - 1];
        assert!((estimate - exact).abs() <= 0.01 * exact, "{rows} rows: {estimate} vs {exact}");
    }
}
