use crate::provider::aws::Aws;
use crate::cli::Global;
use crate::error::Result;
use crate::engine::Mode;
use crate::engine::render;
use crate::spec::Spec;

/// `gwctl plan`: read-only; takes no lock and never writes the state.
pub async fn plan(g: &Global, detailed_exitcode: bool, out: Option<&std::path::Path>) -> Result<u8> {
    let spec = Spec::load(&g.spec)?;
    let nodes = crate::provider::nodes(&spec);
    let state = super::read_state(g, &spec)?;
    let aws = Aws::connect(&spec.region).await;
    super::warn_state_bucket(g, &spec).await;
    let refreshed = super::refresh(&aws, &spec, &nodes, &state, Mode::Normal).await?;
    let plan = super::make_plan(&spec, &nodes, &state, &refreshed, Mode::Normal)?;
    if g.json {
        let mut out = render::json(&plan);
        out["findings"] = serde_json::json!(crate::spec::findings::findings(&spec));
        println!("{out}");
    } else {
        super::print_findings(g, &spec);
        print!("{}", render::human_styled(&plan, render::Style::for_stdout()));
    }
    if let Some(path) = out {
        crate::engine::saved::SavedPlan::new(&spec, &state, &plan, &refreshed.live, &refreshed.lookups).write(path)?;
        if !g.json {
            println!("\nSaved the plan to {}. To apply exactly this plan: gwctl apply {}", path.display(), path.display());
        }
    }
    Ok(if detailed_exitcode && plan.has_changes() { 2 } else { 0 })
}
