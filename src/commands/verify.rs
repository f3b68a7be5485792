use crate::cli::Global;
use crate::engine::verify::Options;
use crate::error::Result;
use crate::provider::aws::Aws;
use crate::spec::Spec;

/// `gwctl verify`: read-only but for a throwaway user it removes again; no
/// lock, no state write. Exit 0 only when every check holds.
pub async fn verify(g: &Global, opts: Options) -> Result<u8> {
    let spec = Spec::load(&g.spec)?;
    let state = super::read_state(g, &spec)?;
    let aws = Aws::connect(&spec.region).await;
    let report = crate::engine::verify::verify(&aws, &spec, &state, &opts).await?;
    if g.json {
        println!("{}", report.json());
    } else {
        print!("{}", report.human());
    }
    Ok(if report.ok() { 0 } else { 1 })
}
