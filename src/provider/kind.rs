//! The one trait every resource kind implements. The engine reaches a kind
//! only through it (and the registry in `provider`), never by name.

use std::collections::{HashMap, HashSet};

use futures::future::BoxFuture;

use crate::graph::Node;
use crate::model::{Attrs, Kind, Known, Lookups};
use crate::provider::aws::{Aws, AwsError};
use crate::provider::common::{Env, ReadItem};
use crate::spec::Spec;

/// What an AWS call of a kind returns.
pub(crate) type Call<'a, T> = BoxFuture<'a, Result<T, AwsError>>;

/// A kind that lives inside another resource and takes no tags of its own
/// (an API's routes, integrations, authorizers, stages): it is listed per
/// parent, belongs to whoever owns the parent, and is recognised by its
/// natural key when the state lost it.
#[derive(Debug, Clone, Copy)]
pub(crate) struct Parent {
    pub kind: Kind,
    /// The attribute that holds the parent's id.
    pub id_attr: &'static str,
}

/// IAM permissions a kind needs, on which resources: what its calls are
/// (`read`: what plan, drift and verify need too), or what AWS checks on
/// gwctl's behalf when it serves a call (iam:PassRole, a service-linked
/// role, log delivery), whose statement ids start with `ForAws`.
#[derive(Debug, Clone)]
pub(crate) struct Grant {
    pub sid: &'static str,
    pub read: bool,
    /// Only `gwctl verify` makes these calls (a throwaway user, log lines).
    pub verify: bool,
    pub actions: &'static [&'static str],
    pub resources: Vec<String>,
    /// The statement's Condition, when it holds only for some requests.
    pub condition: Option<serde_json::Value>,
}

/// Where a grant's condition finds the project's tag.
#[derive(Debug, Clone, Copy)]
pub(crate) enum TagOn {
    /// On the resource as it is (`aws:ResourceTag/…`).
    Resource,
    /// On the resource as it is, by EC2's own key (`ec2:ResourceTag/…`).
    Ec2Resource,
    /// Among the tags the request sets (`aws:RequestTag/…`): a create.
    Request,
}

impl Grant {
    /// Only where the project's tag `gwctl:project = project` is found `on`.
    pub fn tagged(mut self, on: TagOn, project: &str) -> Grant {
        let key = match on {
            TagOn::Resource => "aws:ResourceTag",
            TagOn::Ec2Resource => "ec2:ResourceTag",
            TagOn::Request => "aws:RequestTag",
        };
        self.condition = Some(serde_json::json!({"StringEquals": {format!("{key}/gwctl:project"): project}}));
        self
    }

    /// Only when `condition` holds.
    pub fn when(mut self, condition: serde_json::Value) -> Grant {
        self.condition = Some(condition);
        self
    }

    pub fn read(sid: &'static str, actions: &'static [&'static str], resources: Vec<String>) -> Grant {
        Grant { sid, read: true, verify: false, actions, resources, condition: None }
    }

    pub fn write(sid: &'static str, actions: &'static [&'static str], resources: Vec<String>) -> Grant {
        Grant { sid, read: false, verify: false, actions, resources, condition: None }
    }

    pub fn verify(sid: &'static str, actions: &'static [&'static str], resources: Vec<String>) -> Grant {
        Grant { sid, read: false, verify: true, actions, resources, condition: None }
    }

    pub fn on_behalf(sid: &'static str, actions: &'static [&'static str], resources: Vec<String>) -> Grant {
        debug_assert!(sid.starts_with("ForAws"));
        Grant { sid, read: false, verify: false, actions, resources, condition: None }
    }
}

/// The condition of an untag that never removes gwctl's own tags (whose
/// removal would take a resource from its project).
pub(crate) fn keeps_gwctl_tags() -> serde_json::Value {
    serde_json::json!({"ForAllValues:StringNotLike": {"aws:TagKeys": "gwctl:*"}})
}

/// The condition of an EC2 untag: only on the project's resources, and never
/// of gwctl's own tags.
pub(crate) fn untag_of_project(project: &str) -> serde_json::Value {
    serde_json::json!({"StringEquals": {"ec2:ResourceTag/gwctl:project": project}, "ForAllValues:StringNotLike": {"aws:TagKeys": "gwctl:*"}})
}

/// The condition of a tag request: it tags for the project, on a resource
/// that is the project's or carries no project tag yet (one being made), so
/// that no other project's resource can be tagged into this one.
pub(crate) fn tags_for_project(project: &str) -> serde_json::Value {
    serde_json::json!({"StringEquals": {"aws:RequestTag/gwctl:project": project}, "StringEqualsIfExists": {"aws:ResourceTag/gwctl:project": project}})
}

/// Whom a printed IAM policy is for.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum PolicyFor {
    /// Every command but verify.
    Apply,
    /// plan and drift: reads only.
    Drift,
    /// verify: drift's reads and verify's own calls.
    Verify,
}

/// One kind of resource: how the spec's wishes become attributes, and the
/// AWS calls that create, read, update and delete it.
///
/// Contracts every implementation keeps:
/// - `create` is safe to repeat after an interrupted run: it adopts what an
///   earlier attempt made for the same address (token, tags or natural key)
///   and never makes a second one.
/// - `read` maps a resource that no longer exists to `None`, never an error.
/// - `update` changes only what differs between `before` and `after`, and
///   returns the attributes as read back.
/// - `delete` of something already gone succeeds.
pub(crate) trait ResourceKind: Sync {
    fn kind(&self) -> Kind;

    /// The resources of this kind the spec declares, with what each depends on.
    fn nodes(&self, spec: &Spec) -> Vec<Node>;

    /// The attributes whose change makes AWS need a new resource.
    fn force_new(&self) -> &'static [&'static str];

    /// The attributes the spec wants for `node`. Reads, through `env`, only
    /// the resources in `node.deps`: the applier provides just those.
    fn desired(&self, env: &Env, node: &Node) -> Attrs;

    /// Creates the resource; `token` is the idempotency token recorded in the
    /// state before the call.
    fn create<'a>(&'a self, aws: &'a Aws, address: &'a str, want: &'a Attrs, token: &'a str) -> Call<'a, Known>;

    /// Reads many resources of this kind in as few calls as the API allows.
    fn read<'a>(&'a self, aws: &'a Aws, items: &'a [ReadItem]) -> Call<'a, HashMap<String, Option<Attrs>>>;

    fn update<'a>(&'a self, aws: &'a Aws, id: &'a str, before: &'a Attrs, after: &'a Attrs) -> Call<'a, Attrs>;

    fn delete<'a>(&'a self, aws: &'a Aws, id: &'a str, attrs: &'a Attrs) -> Call<'a, ()>;

    /// The resource this project made for `address` that the state does not
    /// record, by name or tags (the caller checks both gwctl tags). Kinds
    /// with a [`Parent`] are matched by natural key instead.
    fn find<'a>(&'a self, _aws: &'a Aws, _address: &'a str, _want: &'a Attrs) -> Call<'a, Option<Known>> {
        Box::pin(async { Ok(None) })
    }

    /// Resources carrying `gwctl:project = project`, as (address, id), that
    /// are not among the `known` ids: what drift reports as unmanaged.
    fn scan_tagged<'a>(&'a self, _aws: &'a Aws, _project: &'a str, _known: &'a HashSet<&'a str>) -> Call<'a, Vec<(String, String)>> {
        Box::pin(async { Ok(Vec::new()) })
    }

    /// For a kind that lives inside another resource: which, and where its id is.
    fn parent(&self) -> Option<Parent> {
        None
    }

    /// Every resource of this kind inside the parent `parent_id`, with the
    /// parent's id among the attributes; `None` when the parent is gone.
    /// `known` are the ids of those the state records there: a kind whose
    /// list gives less than a read may read them beside the list.
    fn list_in<'a>(&'a self, _aws: &'a Aws, _parent_id: &'a str, _known: &'a [String]) -> Call<'a, Option<Vec<(String, Attrs)>>> {
        Box::pin(async { Ok(None) })
    }

    /// What identifies a resource of this kind inside its parent (a route
    /// key, a name); the same value for every one of a kind a parent has once.
    fn natural_key(&self, _attrs: &Attrs) -> Option<String> {
        None
    }

    /// The address shown for a resource of this kind found in the parent at
    /// `parent` that the state does not record.
    fn unmanaged_address(&self, parent: &str, id: &str, attrs: &Attrs) -> String {
        let name = parent.split_once('.').map(|(_, n)| n).unwrap_or(parent);
        let label = self.natural_key(attrs).filter(|k| !k.is_empty()).unwrap_or_else(|| id.to_string());
        format!("{}.{name}[\"{label}\"]", self.kind())
    }

    /// Whether a replacement creates the new resource first, moves what
    /// uses the old one to it, and deletes the old one last (instead of
    /// deleting first). The create then gets the old one's id as `_replaces`
    /// among the wanted attributes, for a kind whose names must be unique.
    fn create_before_destroy(&self) -> bool {
        false
    }

    /// The IAM permissions this kind's calls need for `spec`.
    fn grants(&self, _spec: &Spec) -> Vec<Grant> {
        Vec::new()
    }

    /// Whether `destroy` leaves the resource at `address` in AWS and only
    /// forgets it (what a user would regret losing, such as an audit trail).
    fn retained(&self, _spec: &Spec, _address: &str) -> bool {
        false
    }

    /// The attributes a delete of the resource at `address` gets instead of
    /// `attrs` (what the state records), when the spec changes how it is
    /// deleted (a user pool whose deletion protection the spec lifts).
    fn delete_attrs(&self, _spec: &Spec, _address: &str, _attrs: &Attrs) -> Option<Attrs> {
        None
    }

    /// Why AWS will refuse to delete the resource as `attrs` describe it
    /// (deletion protection), for the plan to say beforehand.
    fn delete_refused(&self, _address: &str, _attrs: &Attrs) -> Option<String> {
        None
    }

    /// Kinds whose updates and deletes must finish before a resource of this
    /// kind that the state does not record is deleted (AWS refuses to delete
    /// what they still use).
    fn delete_waits_on(&self) -> &'static [Kind] {
        &[]
    }

    /// Attributes that AWS changes as a side effect of updating `before` to
    /// `after` (an instance stopped and started for a new type gets a new
    /// public address): unknown until the update ran, so that what is built
    /// from them is planned to change too.
    fn unknown_after_update(&self, _before: &Attrs, _after: &Attrs) -> &'static [&'static str] {
        &[]
    }

    /// Copies into what was just read (`live`) the attributes that only the
    /// state records (gwctl's own bookkeeping, which AWS does not report).
    fn keep_recorded(&self, _recorded: &Attrs, _live: &mut Attrs) {}

    /// Attributes an import needs besides the id, from the spec.
    fn import_attrs(&self, _spec: &Spec, _node: &Node) -> Attrs {
        Attrs::new()
    }

    /// Values looked up before planning that a resource found in AWS pins
    /// (an adopted instance keeps the AMI it runs).
    fn pin(&self, _address: &str, _found: &Known, _lookups: &mut Lookups) {}
}

/// Implements [`ResourceKind`] for a kind whose file has the usual items:
/// `FORCE_NEW` and the functions `nodes`, `desired`, `create`, `read`, `update` and
/// `delete`. `create(aws, address, want, token) => …` says how the trait's
/// create calls the file's; the methods a kind adds follow it.
macro_rules! resource_kind {
    ($ty:ident, $kind:expr, create($aws:ident, $address:ident, $want:ident, $token:ident) => $create:expr $(, $($methods:tt)*)?) => {
        impl $crate::provider::kind::ResourceKind for $ty {
            fn kind(&self) -> $crate::model::Kind {
                $kind
            }

            fn nodes(&self, spec: &$crate::spec::Spec) -> Vec<$crate::graph::Node> {
                nodes(spec)
            }

            fn force_new(&self) -> &'static [&'static str] {
                FORCE_NEW
            }

            fn desired(&self, env: &$crate::provider::common::Env, node: &$crate::graph::Node) -> $crate::model::Attrs {
                desired(env, node)
            }

            fn create<'a>(
                &'a self,
                $aws: &'a $crate::provider::aws::Aws,
                $address: &'a str,
                $want: &'a $crate::model::Attrs,
                $token: &'a str,
            ) -> $crate::provider::kind::Call<'a, $crate::model::Known> {
                Box::pin($create)
            }

            fn read<'a>(
                &'a self,
                aws: &'a $crate::provider::aws::Aws,
                items: &'a [$crate::provider::common::ReadItem],
            ) -> $crate::provider::kind::Call<'a, std::collections::HashMap<String, Option<$crate::model::Attrs>>> {
                Box::pin(read(aws, items))
            }

            fn update<'a>(
                &'a self,
                aws: &'a $crate::provider::aws::Aws,
                id: &'a str,
                before: &'a $crate::model::Attrs,
                after: &'a $crate::model::Attrs,
            ) -> $crate::provider::kind::Call<'a, $crate::model::Attrs> {
                Box::pin(update(aws, id, before, after))
            }

            fn delete<'a>(&'a self, aws: &'a $crate::provider::aws::Aws, id: &'a str, attrs: &'a $crate::model::Attrs) -> $crate::provider::kind::Call<'a, ()> {
                Box::pin(delete(aws, id, attrs))
            }

            $($($methods)*)?
        }
    };
}
pub(crate) use resource_kind;
