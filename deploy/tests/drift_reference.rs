//! Pipewright's drift statistics against Evidently's defaults (and through them scipy's `ks_2samp`,
//! `chisquare`, `wasserstein_distance` and `jensenshannon`) on synthetic shifts of mean, variance and category
//! mix, with references small enough for the p-value tests (≤ 1,000 rows) and large enough for the distances.
//! Evidently runs from the Python environment `.ci/run` prepares (`PIPEWRIGHT_PY_VENV`).

use std::path::PathBuf;
use std::process::Command;

use pipewright_deploy::monitor::drift::{Current, Method, column_drift};
use pipewright_nodes::deploy::ColumnProfile;
use serde_json::{Value as Json, json};

/// A small deterministic generator: xorshift, with normal draws by Box-Muller.
struct Draws(u64);

impl Draws {
    fn uniform(&mut self) -> f64 {
        self.0 ^= self.0 << 13;
        self.0 ^= self.0 >> 7;
        self.0 ^= self.0 << 17;
        (self.0 >> 11) as f64 / (1u64 << 53) as f64
    }

    fn normal(&mut self, mean: f64, std: f64) -> f64 {
        let (u, v) = (self.uniform().max(1e-300), self.uniform());
        mean + std * (-2.0 * u.ln()).sqrt() * (2.0 * std::f64::consts::PI * v).cos()
    }

    /// Rounded to 4 decimals, as values are written for Python, so both sides read the same numbers.
    fn numbers(&mut self, n: usize, mean: f64, std: f64) -> Vec<f64> {
        (0..n).map(|_| (self.normal(mean, std) * 1e4).round() / 1e4).collect()
    }

    fn categories(&mut self, n: usize, shares: &[(&str, f64)]) -> Vec<String> {
        (0..n)
            .map(|_| {
                let x = self.uniform();
                let mut below = 0.0;
                for (name, share) in shares {
                    below += share;
                    if x < below {
                        return (*name).to_owned();
                    }
                }
                shares[shares.len() - 1].0.to_owned()
            })
            .collect()
    }
}

fn python() -> Option<PathBuf> {
    let venv = std::env::var_os("PIPEWRIGHT_PY_VENV")
        .map(PathBuf::from)
        .or_else(|| std::env::var_os("HOME").map(|h| PathBuf::from(h).join(".cache/pipewright/py-venv")))?;
    let python = venv.join("bin/python");
    let ok = Command::new(&python).args(["-c", "import evidently"]).output().is_ok_and(|o| o.status.success());
    ok.then_some(python)
}

fn method_name(method: Method) -> &'static str {
    match method {
        Method::Ks => "ks",
        Method::ChiSquare => "chisquare",
        Method::Z => "z",
        Method::Wasserstein => "wasserstein",
        Method::JensenShannon => "jensenshannon",
    }
}

#[test]
fn drift_statistics_match_evidentlys_defaults_on_synthetic_shifts() {
    let Some(python) = python() else {
        assert!(
            std::env::var("CI").as_deref() != Ok("true"),
            "Evidently is missing from PIPEWRIGHT_PY_VENV: .ci/run installs it"
        );
        eprintln!("skipped: Evidently is not installed (python3 -m venv; pip install evidently, as .ci/run does)");
        return;
    };
    let mut d = Draws(0x9E37_79B9_7F4A_7C15);
    let mut cases: Vec<Json> = Vec::new();
    let mut numeric = |name: &str, n_ref: usize, n_cur: usize, shift: (f64, f64), d: &mut Draws| {
        let reference = d.numbers(n_ref, 10.0, 2.0);
        let current = d.numbers(n_cur, 10.0 + shift.0, 2.0 * shift.1);
        cases.push(json!({"name": name, "kind": "numeric", "reference": reference, "current": current}));
    };
    for (n_ref, n_cur) in [(800, 600), (5000, 3000)] {
        numeric(&format!("same {n_ref}"), n_ref, n_cur, (0.0, 1.0), &mut d);
        numeric(&format!("mean +0.3 {n_ref}"), n_ref, n_cur, (0.3, 1.0), &mut d);
        numeric(&format!("mean +1 {n_ref}"), n_ref, n_cur, (1.0, 1.0), &mut d);
        numeric(&format!("variance ×2 {n_ref}"), n_ref, n_cur, (0.0, 1.5), &mut d);
    }
    let base = [("red", 0.5), ("green", 0.3), ("blue", 0.2)];
    let mixed = [("red", 0.3), ("green", 0.3), ("blue", 0.4)];
    for (n_ref, n_cur) in [(900, 700), (6000, 4000)] {
        for (label, shares) in
            [("same mix", &base[..]), ("new mix", &mixed[..]), ("two values", &[("yes", 0.6), ("no", 0.4)][..])]
        {
            let reference = d.categories(n_ref, if label == "two values" { shares } else { &base });
            let current =
                d.categories(n_cur, if label == "two values" { &[("yes", 0.5), ("no", 0.5)] } else { shares });
            cases.push(json!({"name": format!("{label} {n_ref}"), "kind": "categorical", "reference": reference, "current": current}));
        }
        // Whole numbers with few values: categories by Evidently's rule.
        let reference: Vec<f64> = d
            .categories(n_ref, &[("1", 0.5), ("2", 0.3), ("3", 0.2)])
            .iter()
            .map(|s| s.parse().unwrap_or(0.0))
            .collect();
        let current: Vec<f64> = d
            .categories(n_cur, &[("1", 0.4), ("2", 0.3), ("3", 0.3)])
            .iter()
            .map(|s| s.parse().unwrap_or(0.0))
            .collect();
        cases.push(json!({"name": format!("few numbers {n_ref}"), "kind": "numeric", "reference": reference, "current": current}));
    }
    let dir = tempfile::tempdir().expect("tempdir");
    let file = dir.path().join("cases.json");
    std::fs::write(&file, serde_json::to_vec(&cases).expect("json")).expect("writes");
    let script = PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../tests/reference/drift_check.py");
    let out = Command::new(&python).arg(&script).arg(&file).output().expect("python runs");
    assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stderr));
    let expected: Vec<Json> = serde_json::from_slice(&out.stdout).expect("JSON from the script");

    let mut drifted_seen = 0;
    for (case, evidently) in cases.iter().zip(&expected) {
        let name = case["name"].as_str().expect("name");
        let (profile, current) = if case["kind"] == "numeric" {
            let values = |k: &str| case[k].as_array().expect("values").iter().map(Json::as_f64).collect::<Vec<_>>();
            (ColumnProfile::numeric("x", &values("reference")), Current::numbers(values("current")))
        } else {
            let values = |k: &str| {
                case[k].as_array().expect("values").iter().map(|v| v.as_str().map(str::to_owned)).collect::<Vec<_>>()
            };
            let current = values("current");
            (
                ColumnProfile::categorical("x", &values("reference")),
                Current::texts(current.iter().map(Option::as_deref)),
            )
        };
        let drift = column_drift(&profile, &current).expect("both sides have values");
        assert_eq!(method_name(drift.method), evidently["method"], "{name}: the test");
        assert_eq!(drift.drifted, evidently["drifted"], "{name}: the decision ({drift:?} vs {evidently})");
        let (ours, theirs) = (drift.statistic, evidently["score"].as_f64().expect("score"));
        // Exact tests agree to rounding; a reference of more than 1,000 values is kept as quantiles.
        let tolerance = if profile.count <= 1000 { 1e-6 * theirs.abs().max(1e-3) } else { 0.02 * theirs.abs() + 1e-3 };
        assert!((ours - theirs).abs() <= tolerance, "{name}: {} {ours} vs Evidently {theirs}", drift.method.label());
        let (psi, their_psi) = (drift.psi, evidently["psi"].as_f64().expect("psi"));
        let tolerance =
            if profile.count <= 1000 { 1e-6 * their_psi.abs().max(1e-3) } else { 0.05 * their_psi.abs() + 2e-3 };
        assert!((psi - their_psi).abs() <= tolerance, "{name}: PSI {psi} vs Evidently {their_psi}");
        eprintln!(
            "{name:<22} {:<14} ours {ours:<12.6} Evidently {theirs:<12.6} PSI {psi:.5} / {their_psi:.5} drifted {}",
            method_name(drift.method),
            drift.drifted
        );
        drifted_seen += usize::from(drift.drifted);
    }
    assert!(
        drifted_seen >= 6 && drifted_seen < cases.len(),
        "the shifts are found and the same data is not: {drifted_seen}"
    );
}
