use crate::provider::aws::Aws;
use crate::cli::Global;
use crate::error::Result;
use crate::spec::Spec;

/// `gwctl drift`: read-only. It takes no lock and never writes the state; the
/// state file is replaced by rename, so it reads one whole version even while
/// an apply is writing.
pub async fn drift(g: &Global) -> Result<u8> {
    let spec = Spec::load(&g.spec)?;
    let state = super::read_state(g, &spec)?;
    let aws = Aws::connect(&spec.region).await;
    let (refreshed, tagged) = futures::join!(crate::engine::refresh::refresh(&aws, &state), crate::engine::refresh::scan_tagged(&aws, &spec.project, &state));
    let refreshed = refreshed?;
    let mut unmanaged = refreshed.unmanaged;
    unmanaged.extend(tagged?);
    let mut report = crate::engine::drift::compare(&state, &refreshed.live, &unmanaged, &spec.drift_ignore);
    let lookups = crate::provider::recorded_lookups(&spec, &state);
    let stale = crate::engine::drift::stale(&spec, &crate::provider::nodes(&spec), &state, &refreshed.live, &lookups, &spec.drift_ignore);
    report.add(stale);
    if g.json {
        println!("{}", report.json());
    } else {
        print!("{}", crate::engine::drift::human(&report));
    }
    Ok(if report.findings.is_empty() { 0 } else { 2 })
}
