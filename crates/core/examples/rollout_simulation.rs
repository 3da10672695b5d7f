//! Prints what simulated rollouts decide (issue 30's figures): for shadow and a 10 % canary,
//! 200 rollouts each of an equal candidate, one worse than the baseline by just more than the
//! margin, and one 2 points worse than a 10 % baseline error.
//!
//! cargo run --release -p pgml-core --example rollout_simulation

use pgml_core::rollout::simulation::{scenarios, summarize, Mode};

fn main() {
    let runs = std::env::var("RUNS").ok().and_then(|r| r.parse().ok()).unwrap_or(200);
    println!("rollouts simulated: 0/1 loss, baseline error 10 %, default policy (alpha 0.025 each way, margin 0.01, 200 rows an arm, 1 h bake), {runs} runs a scenario");
    for (name, mode, per_minute) in [
        ("shadow (agreement 0.8)", Mode::Shadow { agreement: 0.8 }, 100),
        ("canary 10 %", Mode::Canary { percent: 10.0 }, 1000),
    ] {
        println!("{name}, {per_minute} labelled requests a minute:");
        for (scenario, s) in scenarios(mode) {
            let started = std::time::Instant::now();
            let r = summarize(&s, runs, 20261207);
            let rows = |m: Option<u64>| m.map_or("-".to_string(), |m| m.to_string());
            println!(
                "  {scenario:<32} rolled back {:>3} ({:>5.1} %), promoted {:>3} ({:>5.1} %), inconclusive {:>3}; median labelled rows to roll back {:>7}, to promote {:>7}  [{:.1} s]",
                r.rolled_back,
                100.0 * f64::from(r.rolled_back) / f64::from(runs),
                r.promoted,
                100.0 * f64::from(r.promoted) / f64::from(runs),
                r.inconclusive,
                rows(r.median_rows_to_roll_back),
                rows(r.median_rows_to_promote),
                started.elapsed().as_secs_f64()
            );
        }
    }
}
