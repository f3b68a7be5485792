//! `stage`: the API's stage with auto-deploy, default route throttling (rate
//! and burst always sent: unset means 0, every request refused), no
//! per-route overrides of it, and JSON access logs to a log group. id =
//! stage name.

use std::collections::HashMap;

use serde_json::{json, Value};

use crate::graph::{Node, Source};
use crate::spec::Spec;
use crate::model::*;
use crate::provider::aws::{err, Aws, AwsError};
use crate::provider::common::*;
use crate::provider::kind::resource_kind;

use aws_sdk_apigatewayv2::types::{AccessLogSettings, RouteSettings};

use super::{api_child, create_child, list_pages, no_retry, read_child, read_children, with_api};

pub const KIND: Kind = Kind::named("stage");

pub const FORCE_NEW: &[&str] = &["api_id", "name"];

/// The attributes of a stage from any response that describes one (Get*,
/// Create*, Update*): the same accessors on different types.
macro_rules! stage_attrs {
    ($st:expr) => {{
        let st = $st;
        let settings = st.default_route_settings();
        let logs = st.access_log_settings();
        let format = logs
            .and_then(|l| l.format())
            .map(|f| serde_json::from_str::<Value>(f).unwrap_or_else(|_| Value::String(f.to_string())));
        json!({
            "name": st.stage_name(),
            "auto_deploy": st.auto_deploy().unwrap_or(false),
            "throttle_rate": settings.and_then(|s| s.throttling_rate_limit()),
            "throttle_burst": settings.and_then(|s| s.throttling_burst_limit()),
            "detailed_metrics": settings.and_then(|s| s.detailed_metrics_enabled()).unwrap_or(false),
            "access_log_destination": logs.and_then(|l| l.destination_arn()),
            "access_log_format": format,
            "route_settings": route_overrides(st.route_settings()),
            "tags": tags_value(st.tags().into_iter().flatten().map(|(k, v)| (k.as_str(), v.as_str()))),
        })
        .as_object()
        .cloned()
        .unwrap_or_default()
    }};
}

/// A stage's own settings for single routes, which override its default
/// route settings (a route's throttle): by route key, or null when there
/// are none. The spec declares none, so any is a difference to undo.
fn route_overrides(settings: Option<&HashMap<String, RouteSettings>>) -> Value {
    let overrides: serde_json::Map<String, Value> = settings
        .into_iter()
        .flatten()
        .map(|(key, s)| {
            let mut one = serde_json::Map::new();
            if let Some(rate) = s.throttling_rate_limit() {
                one.insert("throttle_rate".into(), json!(rate));
            }
            if let Some(burst) = s.throttling_burst_limit() {
                one.insert("throttle_burst".into(), json!(burst));
            }
            if let Some(metrics) = s.detailed_metrics_enabled() {
                one.insert("detailed_metrics".into(), json!(metrics));
            }
            (key.clone(), Value::Object(one))
        })
        .collect();
    if overrides.is_empty() {
        Value::Null
    } else {
        let mut sorted: Vec<(String, Value)> = overrides.into_iter().collect();
        sorted.sort_by(|a, b| a.0.cmp(&b.0));
        Value::Object(sorted.into_iter().collect())
    }
}

/// The access log line: one JSON object per request.
pub fn access_log_format() -> Value {
    json!({
        "requestId": "$context.requestId",
        "ip": "$context.identity.sourceIp",
        "requestTime": "$context.requestTime",
        "httpMethod": "$context.httpMethod",
        "routeKey": "$context.routeKey",
        "path": "$context.path",
        "status": "$context.status",
        "protocol": "$context.protocol",
        "responseLength": "$context.responseLength",
        "integrationLatency": "$context.integrationLatency",
        "integrationError": "$context.integrationErrorMessage",
        "authorizerError": "$context.authorizer.error"
    })
}

pub fn address(api: &str) -> String {
    format!("stage.{api}")
}

/// The stage of each API that declares one: after its access-log group and,
/// when it deploys by hand, after every route and the integration it deploys.
pub fn nodes(spec: &Spec) -> Vec<Node> {
    let node = |(api, a): (&String, &crate::spec::ApiSpec)| {
        let stage = a.stage.as_ref()?;
        let mut deps = vec![super::api::address(api)];
        deps.extend(stage.access_log.iter().map(|log| crate::provider::logs::log_group::address(log)));
        if !stage.auto_deploy {
            deps.push(super::integration::address(api));
            deps.extend(a.routes.keys().map(|k| super::route::address(api, k)));
        }
        Some(Node::new(address(api), KIND, deps, Source::entry(api)))
    };
    spec.apis.iter().filter_map(node).collect()
}

pub fn desired(env: &Env, node: &Node) -> Attrs {
    let api = &node.source.name;
    let Some(stage) = env.spec.apis.get(api).and_then(|a| a.stage.as_ref()) else { return Attrs::new() };
    let (destination, format) = match &stage.access_log {
        Some(log) => (env.attr(&crate::provider::logs::log_group::address(log), "arn"), access_log_format()),
        None => (Value::Null, Value::Null),
    };
    let mut attrs = json!({
        "api_id": env.id(&super::api::address(api)),
        "name": stage.name,
        "auto_deploy": stage.auto_deploy,
        "throttle_rate": stage.throttle_rate,
        "throttle_burst": stage.throttle_burst,
        "detailed_metrics": stage.detailed_metrics,
        "access_log_destination": destination,
        "access_log_format": format,
        "route_settings": null,
        "tags": env.tags(&node.address, &[]),
    })
    .as_object()
    .cloned()
    .unwrap_or_default();
    if !stage.auto_deploy {
        attrs.insert("deployed".into(), deployed(env, node));
    }
    attrs
}

/// Without auto-deploy, the stage serves the routes and integration of its
/// last deployment. What it should serve is summed up as a digest of those
/// (their ids and attributes): when it changes, apply makes a deployment.
/// Unknown while any of them is still to be created.
fn deployed(env: &Env, node: &Node) -> Value {
    use sha2::{Digest, Sha256};
    let mut h = Sha256::new();
    for dep in node.deps.iter().filter(|d| d.starts_with("route.") || d.starts_with("integration.")) {
        let Some(k) = env.known.get(dep) else { return json!(UNKNOWN) };
        let attrs: serde_json::Map<String, Value> =
            k.attrs.iter().filter(|(key, v)| !v.is_null() && key.as_str() != "api_id").map(|(key, v)| (key.clone(), v.clone())).collect();
        if attrs.values().any(is_unknown) {
            return json!(UNKNOWN);
        }
        h.update(format!("{dep}\n{}\n{}\n", k.id, Value::Object(attrs)));
    }
    json!(h.finalize().iter().map(|b| format!("{b:02x}")).collect::<String>())
}

/// Deploys the API's routes and integrations to the stage.
async fn deploy(aws: &Aws, api_id: &str, stage: &str) -> Result<(), AwsError> {
    aws.apigw
        .create_deployment()
        .api_id(api_id)
        .stage_name(stage)
        .description("gwctl apply")
        .send()
        .await
        .map_err(err("apigateway:CreateDeployment"))?;
    Ok(())
}

fn route_settings(attrs: &Attrs) -> RouteSettings {
    RouteSettings::builder()
        .throttling_rate_limit(attrs.get("throttle_rate").and_then(Value::as_f64).unwrap_or(0.0))
        .throttling_burst_limit(attrs.get("throttle_burst").and_then(Value::as_i64).unwrap_or(0) as i32)
        .detailed_metrics_enabled(attrs.get("detailed_metrics").and_then(Value::as_bool).unwrap_or(false))
        .build()
}

fn access_logs(attrs: &Attrs) -> Option<AccessLogSettings> {
    let destination = attrs.get("access_log_destination").and_then(Value::as_str)?;
    let format = attrs.get("access_log_format").map(Value::to_string);
    Some(AccessLogSettings::builder().destination_arn(destination).set_format(format).build())
}

pub async fn create(aws: &Aws, _address: &str, want: &Attrs) -> Result<Known, AwsError> {
    let api_id = s(want, "api_id");
    let name = s(want, "name");
    let tags: HashMap<String, String> = tag_pairs(want).into_iter().collect();
    let made = create_child(aws, &Stage, api_id, "apigateway:CreateStage", |a| s(a, "name") == name, || async {
        let out = aws
            .apigw
            .create_stage()
            .api_id(api_id)
            .stage_name(name)
            .auto_deploy(want.get("auto_deploy").and_then(Value::as_bool).unwrap_or(true))
            .default_route_settings(route_settings(want))
            .set_access_log_settings(access_logs(want))
            .set_tags(Some(tags.clone()))
            .customize()
            .config_override(no_retry())
            .send()
            .await?;
        Ok(Known { id: name.to_string(), attrs: with_api(stage_attrs!(&out), api_id) })
    },
    |id, have| async move { update(aws, &id, &have, want).await })
    .await?;
    with_deployment(aws, api_id, name, Attrs::new(), made, want).await
}

/// A stage without auto-deploy is deployed when what it should serve changed
/// (`deployed`), and records what it deployed.
async fn with_deployment(aws: &Aws, api_id: &str, name: &str, before: Attrs, mut now: Known, want: &Attrs) -> Result<Known, AwsError> {
    let Some(digest) = want.get("deployed").filter(|d| d.is_string() && !is_unknown(d)) else { return Ok(now) };
    if before.get("deployed") != Some(digest) {
        deploy(aws, api_id, name).await?;
    }
    now.attrs.insert("deployed".into(), digest.clone());
    Ok(now)
}

/// Every stage of one API: one paginated GetStages.
pub async fn list(aws: &Aws, api_id: &str) -> Result<Option<Vec<(String, Attrs)>>, AwsError> {
    list_pages(|token| async move {
        let out = aws.apigw.get_stages().api_id(api_id).set_next_token(token).send().await.map_err(err("apigateway:GetStages"))?;
        let page = out.items().iter().map(|x| (x.stage_name().unwrap_or_default().to_string(), observed(x))).collect();
        Ok((page, out.next_token().map(str::to_string)))
    })
    .await
}

pub async fn read(aws: &Aws, items: &[ReadItem]) -> Result<HashMap<String, Option<Attrs>>, AwsError> {
    read_children(aws, &Stage, items).await
}

pub fn observed(st: &aws_sdk_apigatewayv2::types::Stage) -> Attrs {
    stage_attrs!(st)
}

pub async fn update(aws: &Aws, id: &str, before: &Attrs, after: &Attrs) -> Result<Attrs, AwsError> {
    let attrs = update_settings(aws, id, before, after).await?;
    let now = with_deployment(aws, s(after, "api_id"), id, before.clone(), Known { id: id.to_string(), attrs }, after).await?;
    Ok(now.attrs)
}

async fn update_settings(aws: &Aws, id: &str, before: &Attrs, after: &Attrs) -> Result<Attrs, AwsError> {
    let api_id = s(after, "api_id");
    let settings_changed = ["throttle_rate", "throttle_burst", "detailed_metrics"].iter().any(|k| changed(before, after, k));
    let logs_changed = ["access_log_destination", "access_log_format"].iter().any(|k| changed(before, after, k));
    if settings_changed || logs_changed || changed(before, after, "auto_deploy") {
        let mut call = aws
            .apigw
            .update_stage()
            .api_id(api_id)
            .stage_name(id)
            .auto_deploy(after.get("auto_deploy").and_then(Value::as_bool).unwrap_or(true))
            .default_route_settings(route_settings(after));
        let logs = access_logs(after);
        if logs_changed && logs.is_some() {
            call = call.set_access_log_settings(logs.clone());
        }
        let out = call.send().await.map_err(err("apigateway:UpdateStage"))?;
        // An UpdateStage without access-log settings keeps the current ones:
        // turning logging off is its own call.
        let logs_removed = logs_changed && logs.is_none() && before.get("access_log_destination").is_some_and(|d| !d.is_null());
        if logs_removed {
            aws.apigw
                .delete_access_log_settings()
                .api_id(api_id)
                .stage_name(id)
                .send()
                .await
                .map_err(err("apigateway:DeleteAccessLogSettings"))?;
        }
        if !changed(before, after, "tags") && !changed(before, after, "route_settings") && !logs_removed {
            return Ok(with_api(stage_attrs!(&out), api_id));
        }
    }
    if changed(before, after, "route_settings") {
        let keep = after.get("route_settings").and_then(Value::as_object);
        let overrides = before.get("route_settings").and_then(Value::as_object).into_iter().flatten();
        for key in overrides.map(|(k, _)| k).filter(|k| !keep.is_some_and(|m| m.contains_key(*k))) {
            match aws.apigw.delete_route_settings().api_id(api_id).stage_name(id).route_key(key).send().await.map_err(err("apigateway:DeleteRouteSettings")) {
                Err(e) if !e.is_not_found() => return Err(e),
                _ => {}
            }
        }
    }
    if changed(before, after, "tags") {
        let arn = format!("{}/stages/{id}", super::arn(&aws.region, api_id));
        super::update_tags(aws, &arn, before, after).await?;
    }
    read_child(aws, &Stage, api_id, id).await
}

pub async fn delete(aws: &Aws, id: &str, attrs: &Attrs) -> Result<(), AwsError> {
    aws.apigw.delete_stage().api_id(s(attrs, "api_id")).stage_name(id).send().await.map_err(err("apigateway:DeleteStage"))?;
    Ok(())
}

/// The `stage` kind.
pub(crate) struct Stage;

resource_kind!(Stage, KIND, create(aws, address, want, _token) => create(aws, address, want),
    api_child!();

    /// What the last deployment served is gwctl's record, not AWS's.
    fn keep_recorded(&self, recorded: &Attrs, live: &mut Attrs) {
        if let Some(deployed) = recorded.get("deployed") {
            live.insert("deployed".into(), deployed.clone());
        }
    }

    fn natural_key(&self, attrs: &Attrs) -> Option<String> {
        attrs.get("name").and_then(Value::as_str).map(str::to_string)
    }

    /// For HTTP APIs, API Gateway sets up access-log delivery with the
    /// caller's permissions when a stage names a log group: the list in
    /// "Configure logging for HTTP APIs". The delivery and resource-policy
    /// actions take no resource narrower than `*`; the rest are on the
    /// access-log groups, but for DescribeLogGroups, which the log group's
    /// own reads grant on `*`.
    fn grants(&self, spec: &Spec) -> Vec<crate::provider::kind::Grant> {
        use crate::provider::kind::Grant;
        let names: std::collections::BTreeSet<&str> =
            spec.apis.values().filter_map(|a| a.stage.as_ref()?.access_log.as_ref()).filter_map(|l| spec.log_groups.get(l)).map(|g| g.name.as_str()).collect();
        if names.is_empty() {
            return Vec::new();
        }
        let (p, r) = (crate::provider::aws::partition(&spec.region), &spec.region);
        let groups: Vec<String> = names.iter().flat_map(|n| [format!("arn:{p}:logs:{r}:*:log-group:{n}"), format!("arn:{p}:logs:{r}:*:log-group:{n}:*")]).collect();
        let delivery = &[
            "logs:CreateLogDelivery",
            "logs:GetLogDelivery",
            "logs:UpdateLogDelivery",
            "logs:DeleteLogDelivery",
            "logs:ListLogDeliveries",
            "logs:PutResourcePolicy",
            "logs:DescribeResourcePolicies",
        ];
        vec![
            Grant::on_behalf("ForAwsAccessLogDelivery", delivery, vec!["*".into()]),
            Grant::on_behalf("ForAwsAccessLogGroups", &["logs:CreateLogGroup", "logs:DescribeLogStreams", "logs:GetLogEvents", "logs:FilterLogEvents"], groups),
        ]
    }
);
