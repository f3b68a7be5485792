//! The state in an S3 object, for teams (design.md §10): laptops, CI and
//! the cron host share one state.
//!
//! Guarantees:
//! - The lock is the object `<key>.lock`, created with `If-None-Match: *`:
//!   S3 creates it for exactly one of two runs racing for it. Its body says
//!   who holds it. It is deleted with `If-Match: <its ETag>`, so a run never
//!   deletes a lock that is no longer its own.
//! - A lock is never broken automatically (its holder may run on another
//!   host): `gwctl force-unlock ID`.
//! - Every state write is a PutObject with `If-Match: <the ETag last read
//!   or written>` (the first with `If-None-Match: *`): a run that lost its
//!   lock can never overwrite a newer state.

use std::path::PathBuf;
use std::time::{Duration, Instant};

use aws_sdk_s3::primitives::ByteStream;
use aws_smithy_types::error::metadata::ProvideErrorMetadata;

use super::store::{parse, LockInfo, StateError};
use super::State;
use crate::spec::S3StateSpec;

/// `s3://bucket/key`, as messages name the state.
pub fn display(loc: &S3StateSpec) -> PathBuf {
    PathBuf::from(format!("s3://{}/{}", loc.bucket, loc.key))
}

fn lock_key(loc: &S3StateSpec) -> String {
    format!("{}.lock", loc.key)
}

fn lock_display(loc: &S3StateSpec) -> PathBuf {
    PathBuf::from(format!("s3://{}/{}", loc.bucket, lock_key(loc)))
}

/// A client for the bucket's region. An endpoint set in the environment
/// (an S3-compatible store, a VPC endpoint, a local emulator) is addressed
/// path-style, as such endpoints are not wildcard DNS names.
pub async fn client(loc: &S3StateSpec) -> aws_sdk_s3::Client {
    let config = aws_config::defaults(aws_config::BehaviorVersion::latest()).region(aws_config::Region::new(loc.region.clone())).load().await;
    let custom_endpoint = config.endpoint_url().is_some();
    aws_sdk_s3::Client::from_conf(aws_sdk_s3::config::Builder::from(&config).force_path_style(custom_endpoint).interceptor(crate::provider::stats::Recorder).build())
}

/// Runs `f` to completion from synchronous code inside or outside the runtime.
pub fn block<F: std::future::Future>(f: F) -> F::Output {
    match tokio::runtime::Handle::try_current() {
        Ok(handle) => tokio::task::block_in_place(|| handle.block_on(f)),
        Err(_) => match tokio::runtime::Builder::new_current_thread().enable_all().build() {
            Ok(rt) => rt.block_on(f),
            Err(e) => panic!("cannot start an async runtime: {e}"),
        },
    }
}

fn remote<'a, E: ProvideErrorMetadata + std::error::Error + Send + Sync + 'static>(loc: &'a S3StateSpec, operation: &'static str) -> impl Fn(aws_sdk_s3::error::SdkError<E>) -> StateError + 'a {
    move |e| {
        let detail = match e.as_service_error() {
            Some(se) => format!("{}: {}", se.code().unwrap_or("error"), se.message().unwrap_or_default()),
            None => aws_smithy_types::error::display::DisplayErrorContext(&e).to_string(),
        };
        StateError::Remote { path: display(loc), operation, detail }
    }
}

/// The ETag S3 answered with; a store that gives none cannot guard writes.
fn etag_of(loc: &S3StateSpec, etag: Option<&str>) -> Result<String, StateError> {
    match etag.filter(|e| !e.is_empty()) {
        Some(e) => Ok(e.to_string()),
        None => Err(StateError::Remote { path: display(loc), operation: "s3", detail: "the answer carries no ETag, so writes cannot be made conditional".into() }),
    }
}

fn code_of<E: ProvideErrorMetadata>(e: &aws_sdk_s3::error::SdkError<E>) -> Option<String> {
    e.as_service_error().and_then(|se| se.code()).map(str::to_string).or_else(|| e.raw_response().map(|r| r.status().as_u16().to_string()))
}

fn precondition_failed<E: ProvideErrorMetadata>(e: &aws_sdk_s3::error::SdkError<E>) -> bool {
    matches!(code_of(e).as_deref(), Some("PreconditionFailed" | "412" | "ConditionalRequestConflict" | "409"))
}

fn not_found<E: ProvideErrorMetadata>(e: &aws_sdk_s3::error::SdkError<E>) -> bool {
    matches!(code_of(e).as_deref(), Some("NoSuchKey" | "NotFound" | "404"))
}

/// The state and its ETag; `None` when there is no state object.
pub async fn read(client: &aws_sdk_s3::Client, loc: &S3StateSpec) -> Result<Option<(State, String)>, StateError> {
    let out = match client.get_object().bucket(&loc.bucket).key(&loc.key).send().await {
        Ok(out) => out,
        Err(e) if not_found(&e) => return Ok(None),
        Err(e) if code_of(&e).as_deref() == Some("AccessDenied") => {
            return Err(StateError::Remote {
                path: display(loc),
                operation: "s3:GetObject",
                detail: "AccessDenied (a state that does not exist yet reads as AccessDenied without s3:ListBucket on the bucket; `gwctl iam-policy` lists what each role needs)".into(),
            })
        }
        Err(e) => return Err(remote(loc, "s3:GetObject")(e)),
    };
    let etag = etag_of(loc, out.e_tag())?;
    let body = out.body.collect().await.map_err(|e| StateError::Remote { path: display(loc), operation: "s3:GetObject", detail: e.to_string() })?;
    let bytes = body.into_bytes();
    if bytes.len() as u64 > crate::files::STATE_MAX {
        return Err(StateError::Corrupt { path: display(loc), detail: format!("{} bytes, more than a state may be", bytes.len()) });
    }
    let text = String::from_utf8(bytes.to_vec()).map_err(|e| StateError::Corrupt { path: display(loc), detail: e.to_string() })?;
    Ok(Some((parse(&display(loc), &text)?, etag)))
}

async fn read_lock(client: &aws_sdk_s3::Client, loc: &S3StateSpec) -> Result<Option<(LockInfo, String)>, StateError> {
    let out = match client.get_object().bucket(&loc.bucket).key(lock_key(loc)).send().await {
        Ok(out) => out,
        Err(e) if not_found(&e) => return Ok(None),
        Err(e) => return Err(remote(loc, "s3:GetObject")(e)),
    };
    let etag = out.e_tag().unwrap_or_default().to_string();
    let body = out.body.collect().await.map_err(|e| StateError::BadLock { path: lock_display(loc), detail: e.to_string() })?.into_bytes();
    let info = serde_json::from_slice(&body).map_err(|e| StateError::BadLock { path: lock_display(loc), detail: e.to_string() })?;
    Ok(Some((info, etag)))
}

/// A state in S3, locked for writing. The lock is released on drop.
pub struct S3Store {
    client: aws_sdk_s3::Client,
    loc: S3StateSpec,
    lock_id: String,
    lock_etag: String,
    /// The ETag of the state as last read or written; `None` while there is none.
    etag: Option<String>,
}

impl S3Store {
    /// Takes the lock (polling up to `timeout`) and reads the state.
    pub async fn open(loc: &S3StateSpec, command: &str, timeout: Duration) -> Result<(S3Store, State), StateError> {
        let client = client(loc).await;
        let info = LockInfo::mine(command);
        let body = serde_json::to_vec_pretty(&info).unwrap_or_default();
        let deadline = Instant::now() + timeout;
        let lock_etag = loop {
            let put = client
                .put_object()
                .bucket(&loc.bucket)
                .key(lock_key(loc))
                .if_none_match("*")
                .content_type("application/json")
                .body(ByteStream::from(body.clone()))
                .send()
                .await;
            match put {
                Ok(out) => break etag_of(loc, out.e_tag())?,
                Err(e) if precondition_failed(&e) => {
                    // An earlier attempt of this very request made it, and its answer was lost.
                    if let Some((holder, etag)) = read_lock(&client, loc).await? {
                        if holder.id == info.id {
                            break etag;
                        }
                    }
                    if Instant::now() >= deadline {
                        return match read_lock(&client, loc).await? {
                            Some((holder, _)) => Err(StateError::LockedRemote { path: lock_display(loc), holder }),
                            // Released meanwhile: one more try.
                            None => continue,
                        };
                    }
                    tokio::time::sleep(Duration::from_millis(500)).await;
                }
                Err(e) => return Err(remote(loc, "s3:PutObject")(e)),
            }
        };
        let mut store = S3Store { client, loc: loc.clone(), lock_id: info.id, lock_etag, etag: None };
        match read(&store.client, loc).await {
            Ok(Some((state, etag))) => {
                store.etag = Some(etag);
                Ok((store, state))
            }
            Ok(None) => Ok((store, State::new())),
            Err(e) => Err(e),
        }
    }

    /// Writes the state, only over the version this run read or wrote last.
    pub async fn write(&mut self, state: &State) -> Result<(), StateError> {
        let body = serde_json::to_vec_pretty(state).map_err(|e| StateError::Write { path: display(&self.loc), source: std::io::Error::other(e) })?;
        let mut attempt = 0;
        loop {
            attempt += 1;
            let put = self.client.put_object().bucket(&self.loc.bucket).key(&self.loc.key).content_type("application/json").body(ByteStream::from(body.clone()));
            let put = match &self.etag {
                Some(etag) => put.if_match(etag),
                None => put.if_none_match("*"),
            };
            match put.send().await {
                Ok(out) => {
                    self.etag = Some(etag_of(&self.loc, out.e_tag())?);
                    return Ok(());
                }
                // S3: another conditional write to the key was in flight; retry.
                Err(e) if code_of(&e).as_deref().is_some_and(|c| c == "ConditionalRequestConflict" || c == "409") && attempt < 4 => {
                    tokio::time::sleep(Duration::from_millis(200 * attempt)).await;
                }
                Err(e) if precondition_failed(&e) || (self.etag.is_some() && not_found(&e)) => {
                    // A retried request whose first attempt wrote this very body, its answer lost.
                    if let Some((current, etag)) = self.current().await {
                        if current == body {
                            self.etag = Some(etag);
                            return Ok(());
                        }
                    }
                    return Err(StateError::Overtaken {
                        path: display(&self.loc),
                        detail: match (&self.etag, not_found(&e)) {
                            (Some(_), true) => "it was deleted".into(),
                            (Some(etag), false) => format!("its ETag is no longer {etag}"),
                            (None, _) => "it was created meanwhile".into(),
                        },
                    });
                }
                Err(e) => return Err(remote(&self.loc, "s3:PutObject")(e)),
            }
        }
    }

    /// Deletes the lock if it is still this run's; says so when that fails.
    async fn release(&self) {
        let delete = self.client.delete_object().bucket(&self.loc.bucket).key(lock_key(&self.loc)).if_match(&self.lock_etag).send();
        let why = match tokio::time::timeout(Duration::from_secs(10), delete).await {
            Ok(Ok(_)) => return,
            // Not ours any more (force-unlocked, replaced): nothing to release.
            Ok(Err(e)) if precondition_failed(&e) || not_found(&e) => return,
            Ok(Err(e)) => remote(&self.loc, "s3:DeleteObject")(e).to_string(),
            Err(_) => "no answer in 10 s".into(),
        };
        eprintln!("warning: could not remove the state lock {} ({why}); if no run holds it: gwctl force-unlock {}", lock_display(&self.loc).display(), self.lock_id);
    }

    /// The state object's bytes and ETag as S3 has them now.
    async fn current(&self) -> Option<(Vec<u8>, String)> {
        let out = self.client.get_object().bucket(&self.loc.bucket).key(&self.loc.key).send().await.ok()?;
        let etag = out.e_tag()?.to_string();
        Some((out.body.collect().await.ok()?.into_bytes().to_vec(), etag))
    }

    /// Whether a state object exists (read or written by this run).
    pub fn exists(&self) -> bool {
        self.etag.is_some()
    }
}

impl Drop for S3Store {
    fn drop(&mut self) {
        block(self.release());
    }
}

/// Deletes the lock if its id is `id`.
pub async fn force_unlock(loc: &S3StateSpec, id: &str) -> Result<LockInfo, StateError> {
    let client = client(loc).await;
    let Some((current, etag)) = read_lock(&client, loc).await? else {
        return Err(StateError::UnlockMismatch { path: lock_display(loc), id: id.into(), current: None });
    };
    if current.id != id {
        return Err(StateError::UnlockMismatch { path: lock_display(loc), id: id.into(), current: Some(current) });
    }
    client.delete_object().bucket(&loc.bucket).key(lock_key(loc)).if_match(etag).send().await.map_err(remote(loc, "s3:DeleteObject"))?;
    Ok(current)
}

/// Whether the bucket keeps old versions and encrypts by default, as
/// (versioning, encryption); `None` for what could not be read.
pub async fn bucket_safety(loc: &S3StateSpec) -> (Option<bool>, Option<bool>) {
    let client = client(loc).await;
    let (versioning, encryption) = futures::join!(
        client.get_bucket_versioning().bucket(&loc.bucket).send(),
        client.get_bucket_encryption().bucket(&loc.bucket).send()
    );
    let versioning = versioning.ok().map(|v| v.status().is_some_and(|s| s.as_str() == "Enabled"));
    let encryption = match encryption {
        Ok(e) => Some(e.server_side_encryption_configuration().is_some_and(|c| !c.rules().is_empty())),
        Err(e) if code_of(&e).as_deref() == Some("ServerSideEncryptionConfigurationNotFoundError") => Some(false),
        Err(_) => None,
    };
    (versioning, encryption)
}

/// The state of another project written for this spec file beside the key
/// (same folder of the bucket): what a renamed `[project] name` left.
pub async fn find_renamed(loc: &S3StateSpec, project: &str, spec_file: &str) -> Result<Option<(PathBuf, State)>, StateError> {
    let client = client(loc).await;
    let prefix = loc.key.rsplit_once('/').map(|(dir, _)| format!("{dir}/")).unwrap_or_default();
    let listed = client.list_objects_v2().bucket(&loc.bucket).prefix(&prefix).max_keys(100).send().await.map_err(remote(loc, "s3:ListObjectsV2"))?;
    let keys: Vec<String> = listed
        .contents()
        .iter()
        .filter_map(|o| o.key())
        .filter(|k| k.ends_with(".json") && *k != loc.key && !k[prefix.len()..].contains('/'))
        .map(str::to_string)
        .collect();
    for key in keys {
        let other = S3StateSpec { key, ..loc.clone() };
        if let Ok(Some((state, _))) = read(&client, &other).await {
            if !state.resources.is_empty() && state.project != project && state.spec == spec_file {
                return Ok(Some((display(&other), state)));
            }
        }
    }
    Ok(None)
}
