//! `user_pool_client`: an app client of a user pool, without a secret (a
//! browser or mobile app cannot keep one). id = client id. It lives inside
//! its pool: found by name there when the state lost it.

use std::collections::HashMap;

use aws_sdk_cognitoidentityprovider::types::{ExplicitAuthFlowsType, UserPoolClientType};
use serde_json::{json, Value};

use crate::graph::{Node, Source};
use crate::model::*;
use crate::provider::aws::{create_once, err, Aws, AwsError, Once};
use crate::provider::common::*;
use crate::provider::kind::{resource_kind, Call, Parent};
use crate::spec::Spec;

pub const KIND: Kind = Kind::named("user_pool_client");

pub const FORCE_NEW: &[&str] = &["user_pool_id", "generate_secret"];

pub fn address(pool: &str, name: &str) -> String {
    format!("user_pool_client.{pool}.{name}")
}

/// One node per client of each pool, after the pool.
pub fn nodes(spec: &Spec) -> Vec<Node> {
    let per_pool = spec.user_pools.iter().flat_map(|(pool, p)| p.clients.keys().map(move |name| (pool, name)));
    per_pool.map(|(pool, name)| Node::new(address(pool, name), KIND, vec![super::user_pool::address(pool)], Source::part(pool, name))).collect()
}

pub fn desired(env: &Env, node: &Node) -> Attrs {
    let (pool, name) = (&node.source.name, node.source.part.as_deref().unwrap_or_default());
    let Some(client) = env.spec.user_pools.get(pool).and_then(|p| p.clients.get(name)) else { return Attrs::new() };
    json!({
        "user_pool_id": env.id(&super::user_pool::address(pool)),
        "name": name,
        "auth_flows": client.auth_flows,
        "generate_secret": false,
    })
    .as_object()
    .cloned()
    .unwrap_or_default()
}

/// The attributes of a client; never its secret, only whether it has one.
fn observed(c: &UserPoolClientType) -> Attrs {
    let mut flows: Vec<&str> = c.explicit_auth_flows().iter().map(|f| f.as_str()).collect();
    flows.sort();
    json!({
        "user_pool_id": c.user_pool_id(),
        "name": c.client_name(),
        "auth_flows": flows,
        "generate_secret": c.client_secret().is_some(),
    })
    .as_object()
    .cloned()
    .unwrap_or_default()
}

fn flows(want: &Attrs) -> Vec<ExplicitAuthFlowsType> {
    strings(want, "auth_flows").iter().map(|f| ExplicitAuthFlowsType::from(f.as_str())).collect()
}

pub async fn create(aws: &Aws, _address: &str, want: &Attrs) -> Result<Known, AwsError> {
    let pool = s(want, "user_pool_id");
    let name = s(want, "name");
    let find = || async { Ok(list(aws, pool, &[]).await?.unwrap_or_default().into_iter().find(|(_, a)| s(a, "name") == name)) };
    let create = || {
        aws.cognito
            .create_user_pool_client()
            .user_pool_id(pool)
            .client_name(name)
            .generate_secret(false)
            .set_explicit_auth_flows(Some(flows(want)))
            .prevent_user_existence_errors(aws_sdk_cognitoidentityprovider::types::PreventUserExistenceErrorTypes::Enabled)
            .customize()
            .config_override(super::no_retry())
            .send()
    };
    match create_once("cognito-idp:CreateUserPoolClient", false, find, create).await? {
        Once::Made(out) => {
            let c = out.user_pool_client().ok_or_else(|| AwsError::other("cognito-idp:CreateUserPoolClient", "no client in the answer"))?;
            Ok(Known { id: c.client_id().unwrap_or_default().to_string(), attrs: observed(c) })
        }
        Once::Found((id, have)) => {
            let attrs = update(aws, &id, &have, want).await?;
            Ok(Known { id, attrs })
        }
    }
}

/// Every client of one pool, each described (the list gives names only);
/// `None` when the pool is gone. The clients in `known` are described
/// beside the list, the others it names after it.
pub async fn list(aws: &Aws, pool: &str, known: &[String]) -> Result<Option<Vec<(String, Attrs)>>, AwsError> {
    let describe = |id: String| async move {
        let out = aws.cognito.describe_user_pool_client().user_pool_id(pool).client_id(&id).send().await.map_err(err("cognito-idp:DescribeUserPoolClient"));
        let described = match out {
            Ok(out) => Ok(out.user_pool_client().map(observed)),
            Err(e) if e.is_not_found() => Ok(None),
            Err(e) => Err(e),
        };
        (id, described)
    };
    let ids = async {
        let mut ids = Vec::new();
        let mut token = None;
        loop {
            let page = aws.cognito.list_user_pool_clients().user_pool_id(pool).max_results(60).set_next_token(token).send().await.map_err(err("cognito-idp:ListUserPoolClients"));
            let page = match page {
                Ok(p) => p,
                Err(e) if e.is_not_found() => return Ok(None),
                Err(e) => return Err(e),
            };
            ids.extend(page.user_pool_clients().iter().filter_map(|c| c.client_id().map(str::to_string)));
            token = page.next_token().filter(|t| !t.is_empty()).map(str::to_string);
            if token.is_none() {
                return Ok(Some(ids));
            }
        }
    };
    let early = futures::future::join_all(known.iter().cloned().map(describe));
    let (ids, early) = futures::join!(ids, early);
    let Some(ids) = ids? else { return Ok(None) };
    let mut described = read_rest(&ids, early, describe).await;
    let mut out = Vec::new();
    for id in ids {
        if let Some(attrs) = described.remove(&id).transpose()?.flatten() {
            out.push((id, attrs));
        }
    }
    Ok(Some(out))
}

/// Reads clients by id: DescribeUserPoolClient each, all at once.
pub async fn read(aws: &Aws, items: &[ReadItem]) -> Result<HashMap<String, Option<Attrs>>, AwsError> {
    let reads = items.iter().map(|i| async move {
        let out = aws.cognito.describe_user_pool_client().user_pool_id(s(&i.attrs, "user_pool_id")).client_id(&i.id).send().await.map_err(err("cognito-idp:DescribeUserPoolClient"));
        match out {
            Ok(out) => Ok((i.address.clone(), out.user_pool_client().map(observed))),
            Err(e) if e.is_not_found() => Ok((i.address.clone(), None)),
            Err(e) => Err(e),
        }
    });
    Ok(futures::future::try_join_all(reads).await?.into_iter().collect())
}

/// UpdateUserPoolClient resets what it is not given, so it gets the whole client.
pub async fn update(aws: &Aws, id: &str, before: &Attrs, after: &Attrs) -> Result<Attrs, AwsError> {
    let pool = s(after, "user_pool_id");
    if ["name", "auth_flows"].iter().any(|k| changed(before, after, k)) {
        let out = aws
            .cognito
            .update_user_pool_client()
            .user_pool_id(pool)
            .client_id(id)
            .client_name(s(after, "name"))
            .set_explicit_auth_flows(Some(flows(after)))
            .prevent_user_existence_errors(aws_sdk_cognitoidentityprovider::types::PreventUserExistenceErrorTypes::Enabled)
            .send()
            .await
            .map_err(err("cognito-idp:UpdateUserPoolClient"))?;
        if let Some(c) = out.user_pool_client() {
            return Ok(observed(c));
        }
    }
    let read = read(aws, &[ReadItem { address: String::new(), id: id.to_string(), attrs: after.clone() }]).await?;
    read.into_values().next().flatten().ok_or_else(|| AwsError::other("cognito-idp:DescribeUserPoolClient", format!("client {id} of pool {pool} vanished while being updated")))
}

pub async fn delete(aws: &Aws, id: &str, attrs: &Attrs) -> Result<(), AwsError> {
    aws.cognito.delete_user_pool_client().user_pool_id(s(attrs, "user_pool_id")).client_id(id).send().await.map_err(err("cognito-idp:DeleteUserPoolClient"))?;
    Ok(())
}

/// The `user_pool_client` kind.
pub(crate) struct UserPoolClient;

resource_kind!(UserPoolClient, KIND, create(aws, address, want, _token) => create(aws, address, want),
    fn parent(&self) -> Option<Parent> {
        Some(Parent { kind: super::user_pool::KIND, id_attr: "user_pool_id" })
    }

    fn list_in<'a>(&'a self, aws: &'a Aws, parent_id: &'a str, known: &'a [String]) -> Call<'a, Option<Vec<(String, Attrs)>>> {
        Box::pin(list(aws, parent_id, known))
    }

    fn natural_key(&self, attrs: &Attrs) -> Option<String> {
        attrs.get("name").and_then(Value::as_str).map(str::to_string)
    }

    /// `user_pool_client.<pool>.<name>`, as a declared client is addressed.
    fn unmanaged_address(&self, parent: &str, id: &str, attrs: &Attrs) -> String {
        let pool = parent.split_once('.').map(|(_, n)| n).unwrap_or(parent);
        address(pool, self.natural_key(attrs).filter(|k| !k.is_empty()).as_deref().unwrap_or(id))
    }
);
