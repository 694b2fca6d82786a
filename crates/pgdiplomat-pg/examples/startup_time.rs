//! Measures how long starting and stopping an embedded cluster takes.
//!
//! `cargo run -p pgdiplomat-pg --release --example startup_time [N]`

use std::time::{Duration, Instant};

use pgdiplomat_pg::{Cluster, ClusterError};

fn main() -> Result<(), ClusterError> {
    let runs: u32 = std::env::args()
        .nth(1)
        .and_then(|n| n.parse().ok())
        .unwrap_or(5);
    let (mut total_start, mut total_stop) = (Duration::ZERO, Duration::ZERO);
    for i in 1..=runs {
        let t0 = Instant::now();
        let cluster = Cluster::start_default()?;
        let start = t0.elapsed();
        let t1 = Instant::now();
        cluster.stop()?;
        let stop = t1.elapsed();
        println!("run {i}: start {start:.2?}, stop {stop:.2?}");
        total_start += start;
        total_stop += stop;
    }
    println!(
        "mean: start {:.2?}, stop {:.2?}",
        total_start / runs,
        total_stop / runs
    );
    Ok(())
}
