use crate::aws::Aws;
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
    let (refreshed, tagged) = futures::join!(crate::refresh::refresh(&aws, &state), crate::refresh::scan_tagged(&aws, &spec.project, &state));
    let refreshed = refreshed?;
    let mut unmanaged = refreshed.unmanaged;
    unmanaged.extend(tagged?);
    let report = crate::drift::compare(&state, &refreshed.live, &unmanaged, &spec.drift_ignore);
    if g.json {
        println!("{}", report.json());
    } else {
        print!("{}", crate::drift::human(&report));
    }
    Ok(if report.findings.is_empty() { 0 } else { 2 })
}
