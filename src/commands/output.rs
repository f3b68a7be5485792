use serde_json::{Map, Value};

use crate::cli::Global;
use crate::error::{Error, Result};
use crate::model::s;
use crate::spec::Spec;
use crate::state::State;

/// The outputs of an applied stack, from the state file alone.
pub fn outputs(state: &State) -> Map<String, Value> {
    let mut out = Map::new();
    let instances: Vec<_> = state.resources.iter().filter(|r| r.kind == crate::provider::ec2::instance::KIND).collect();
    for r in &instances {
        let suffix = if instances.len() > 1 { format!("_{}", r.address.trim_start_matches("instance.")) } else { String::new() };
        out.insert(format!("instance_id{suffix}"), Value::String(r.id.clone()));
        out.insert(format!("instance_public_ip{suffix}"), r.attributes.get("public_ip").cloned().unwrap_or(Value::Null));
        out.insert(format!("instance_public_dns{suffix}"), r.attributes.get("public_dns").cloned().unwrap_or(Value::Null));
    }
    let apis: Vec<_> = state.resources.iter().filter(|r| r.kind == crate::provider::apigw::api::KIND).collect();
    for r in &apis {
        let name = r.address.trim_start_matches("api.");
        let suffix = if apis.len() > 1 { format!("_{name}") } else { String::new() };
        out.insert(format!("api_id{suffix}"), Value::String(r.id.clone()));
        let endpoint = s(&r.attributes, "api_endpoint").to_string();
        let stage = state.get(&crate::provider::apigw::stage::address(name)).map(|st| s(&st.attributes, "name").to_string());
        let url = match stage.as_deref() {
            Some("$default") | None => endpoint,
            Some(stage) => format!("{endpoint}/{stage}"),
        };
        out.insert(format!("api_endpoint{suffix}"), Value::String(url));
    }
    let pools: Vec<_> = state.resources.iter().filter(|r| r.kind == crate::provider::cognito::user_pool::KIND).collect();
    for r in &pools {
        let name = r.address.trim_start_matches("user_pool.");
        let suffix = if pools.len() > 1 { format!("_{name}") } else { String::new() };
        out.insert(format!("user_pool_id{suffix}"), Value::String(r.id.clone()));
    }
    for r in state.resources.iter().filter(|r| r.kind == crate::provider::cognito::client::KIND) {
        let (pool, client) = r.address.trim_start_matches("user_pool_client.").split_once('.').unwrap_or_default();
        let name = if pools.len() > 1 { format!("{pool}_{client}") } else { client.to_string() };
        out.insert(format!("user_pool_client_id_{name}"), Value::String(r.id.clone()));
    }
    out
}

pub fn output(g: &Global, name: Option<&str>, raw: bool) -> Result<u8> {
    let spec = Spec::load(&g.spec)?;
    let location = super::state_location(g, &spec);
    if crate::state::read(&location)?.is_none() {
        return Err(Error::NoState { path: location.display() });
    }
    let state = super::read_state(g, &spec)?;
    let all = outputs(&state);
    if let Some(name) = name {
        let value = all.get(name).ok_or_else(|| {
            Error::NoSuchOutput { name: name.to_string(), names: all.keys().cloned().collect() }
        })?;
        match (raw, value) {
            (true, Value::String(s)) => println!("{s}"),
            (true, Value::Null) => println!(),
            (false, v) if !g.json => println!("{v}"),
            (_, v) => println!("{v}"),
        }
        return Ok(0);
    }
    if g.json {
        println!("{}", Value::Object(all));
    } else {
        let width = all.keys().map(String::len).max().unwrap_or(0);
        for (k, v) in &all {
            println!("{k:width$} = {v}");
        }
    }
    Ok(0)
}
