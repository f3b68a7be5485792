//! `gwctl init`.

use std::path::Path;

use crate::cli::Global;
use crate::error::{Error, Result};

const STARTER_SPEC: &str = include_str!("../../gateway.toml");
const STARTER_USER_DATA: &str = include_str!("../../examples/apache-user-data.sh");

/// `gwctl init`: the seed stack as a starting point. Never overwrites.
pub fn init(g: &Global) -> Result<u8> {
    let dir = g.spec.parent().filter(|d| !d.as_os_str().is_empty()).unwrap_or(Path::new("."));
    let user_data = dir.join("examples/apache-user-data.sh");
    for path in [&g.spec, &user_data] {
        if path.exists() {
            return Err(Error::WouldOverwrite { path: path.to_path_buf() });
        }
    }
    std::fs::create_dir_all(dir.join("examples"))?;
    std::fs::write(&g.spec, STARTER_SPEC)?;
    std::fs::write(&user_data, STARTER_USER_DATA)?;
    println!("Wrote {} and {}.", g.spec.display(), user_data.display());
    println!("Set [project] name and region, then run `gwctl plan`.");
    Ok(0)
}
