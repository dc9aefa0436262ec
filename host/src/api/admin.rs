//! Plugin management, for callers with the `admin` role: list the loaded
//! plugins, install (upload) one, remove one.
//!
//! An upload goes through exactly what the plugins directory watcher does
//! (manifest, operator grant, compile, link) and is then written atomically
//! into the plugins directory as `<name>.wasm`, so it survives a restart and
//! the watcher finds it already loaded. Every change is a log line and a
//! `plugins_changed` event on admins' `GET /snapshots/ws` connections.

use std::collections::BTreeMap;
use std::time::UNIX_EPOCH;

use axum::Json;
use axum::body::Bytes;
use axum::extract::rejection::{BytesRejection, PathRejection};
use axum::extract::{DefaultBodyLimit, Path, State};
use axum::http::StatusCode;
use serde::Serialize;
use utoipa::ToSchema;
use utoipa_axum::router::OpenApiRouter;
use utoipa_axum::routes;

use crate::api::auth::AdminCaller;
use crate::api::error::{ApiError, ErrorBody};
use crate::api::openapi::TAG_PLUGINS;
use crate::api::state::AppState;
use crate::net::AnyHostGrant;
use crate::registry::{InstallError, PluginAction, PluginOrigin, RegisteredPlugin, UninstallError};

/// Largest component `PUT /plugins/{name}` accepts (the rest of the API
/// takes 16 KiB bodies at most).
pub const MAX_PLUGIN_BYTES: usize = 64 * 1024 * 1024;

/// The `/plugins` routes, each registered from its `#[utoipa::path]`; the
/// upload route with its own body limit.
pub fn router() -> OpenApiRouter<AppState> {
    let upload = OpenApiRouter::default()
        .routes(routes!(install, remove))
        .layer(DefaultBodyLimit::max(MAX_PLUGIN_BYTES));
    OpenApiRouter::default().routes(routes!(list)).merge(upload)
}

/// A loaded plugin, as admins see it.
#[derive(Debug, Serialize, ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct PluginView {
    #[schema(example = "hedera")]
    pub name: String,
    #[schema(example = "0.1.0")]
    pub version: String,
    /// Hex sha256 of the component bytes.
    pub sha256: String,
    /// The WIT version the plugin targets.
    #[schema(example = "0.1.0")]
    pub wit: String,
    pub chains: Vec<String>,
    pub networks: Vec<String>,
    /// `bundled` (compiled into the binary) or `file` (the plugins directory).
    pub origin: PluginOriginView,
    /// The file in the plugins directory, for `file` plugins.
    pub file: Option<String>,
    /// When this version was loaded, ms since the Unix epoch.
    pub loaded_at: i64,
    /// How long reading, compiling (or loading from the compile cache) and
    /// linking took.
    pub load_ms: u64,
    /// Jobs run on this version.
    pub jobs_run: u64,
    /// What the plugin may do: its manifest intersected with the operator's
    /// grant.
    pub capabilities: CapabilitiesView,
}

/// Where a plugin came from.
#[derive(Debug, Serialize, ToSchema)]
#[serde(rename_all = "lowercase")]
pub enum PluginOriginView {
    Bundled,
    File,
}

/// A plugin's effective capabilities.
#[derive(Debug, Serialize, ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct CapabilitiesView {
    /// The manifest's `allowed_hosts`.
    pub allowed_hosts: Vec<String>,
    /// The operator's narrowing list (a request must match both); `null`
    /// when the operator does not narrow.
    pub granted_hosts: Option<Vec<String>>,
    /// Whether the operator granted the bare `*`.
    pub any_host_granted: bool,
    /// Linear memory cap (the smaller of manifest and grant).
    pub memory_mb: u64,
    /// Guest CPU seconds per call (the smaller of manifest and grant).
    pub cpu_seconds: u64,
    /// Per-host limits the plugin brings (manifest, replaced by the grant).
    pub rate_limits: Vec<RateLimitView>,
    /// Config defaults passed to the plugin.
    pub config: BTreeMap<String, String>,
}

#[derive(Debug, Serialize, ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct RateLimitView {
    #[schema(example = "mainnet.mirrornode.hedera.com")]
    pub host: String,
    pub requests_per_second: u32,
    pub max_concurrency: u32,
}

impl From<&RegisteredPlugin> for PluginView {
    fn from(entry: &RegisteredPlugin) -> Self {
        let p = &entry.plugin;
        let m = &p.manifest;
        let c = &p.capabilities;
        let (origin, file) = match &entry.origin {
            PluginOrigin::Bundled => (PluginOriginView::Bundled, None),
            PluginOrigin::File(path) => (
                PluginOriginView::File,
                path.file_name().map(|n| n.to_string_lossy().into_owned()),
            ),
        };
        PluginView {
            name: m.plugin.name.clone(),
            version: m.plugin.version.clone(),
            sha256: p.sha256.clone(),
            wit: m.plugin.wit.clone(),
            chains: m.plugin.chains.clone(),
            networks: m.networks.iter().map(|n| n.name.clone()).collect(),
            origin,
            file,
            loaded_at: p
                .loaded_at
                .duration_since(UNIX_EPOCH)
                .map_or(0, |d| d.as_millis() as i64),
            load_ms: p.load_time.as_millis() as u64,
            jobs_run: p.jobs_run(),
            capabilities: CapabilitiesView {
                allowed_hosts: c.manifest_hosts.clone(),
                granted_hosts: c.granted_hosts.clone(),
                any_host_granted: c.any_host == AnyHostGrant::Granted,
                memory_mb: c.memory_mb,
                cpu_seconds: c.cpu_seconds,
                rate_limits: c
                    .rate_limits
                    .iter()
                    .map(|(host, limit)| RateLimitView {
                        host: host.clone(),
                        requests_per_second: limit.requests_per_second,
                        max_concurrency: limit.max_concurrency,
                    })
                    .collect(),
                config: c.config.clone(),
            },
        }
    }
}

/// `GET /plugins`.
#[derive(Debug, Serialize, ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct PluginList {
    /// Every loaded plugin, by name.
    pub plugins: Vec<PluginView>,
}

/// The loaded plugins
///
/// Name, version, sha256, WIT version, chains, effective capabilities, load
/// time and jobs run of every plugin serving now.
#[utoipa::path(
    get,
    path = "/plugins",
    tag = TAG_PLUGINS,
    responses(
        (status = 200, description = "The plugins, by name.", body = PluginList),
        (status = 401, description = "Missing or invalid bearer token.", body = ErrorBody),
        (status = 403, description = "The token lacks the `admin` role.", body = ErrorBody),
        (status = 408, description = "Longer than the request timeout (60 s). Empty body."),
    ),
    security(("bearerAuth" = [])),
)]
async fn list(State(state): State<AppState>, _admin: AdminCaller) -> Json<PluginList> {
    Json(PluginList {
        plugins: state.registry.list().iter().map(PluginView::from).collect(),
    })
}

/// A WebAssembly component (`wasm32-wasip2`) with its embedded `plugin.toml`.
#[derive(ToSchema)]
#[schema(value_type = String, format = Binary)]
pub struct WasmComponent(#[allow(dead_code)] Vec<u8>);

/// Install or replace a plugin
///
/// The body is the component. It is validated as the plugins directory
/// watcher does (a component carrying a valid `plugin.toml` whose `name` is
/// `{name}`, for a WIT line this host serves, asking for nothing the
/// operator does not grant, whose imports this host provides and which
/// exports the plugin world), then written atomically to
/// `<plugins dir>/{name}.wasm` and swapped in: running jobs finish on the
/// version they started with, new jobs use this one. On any error nothing
/// changes.
#[utoipa::path(
    put,
    path = "/plugins/{name}",
    tag = TAG_PLUGINS,
    params(("name" = String, Path, description = "The plugin's name, as its manifest states it (1-64 of a-z, 0-9, -)")),
    request_body(content = WasmComponent, content_type = "application/wasm", description = "The component, at most 64 MiB."),
    responses(
        (status = 200, description = "Replaced the plugin of that name.", body = PluginView),
        (status = 201, description = "Added a plugin of a new name.", body = PluginView),
        (status = 400, description = "Not a valid plugin name, or the component was refused (the message says why: not a component, bad manifest, another name, unsupported WIT line, missing import, another world, a capability not granted).", body = ErrorBody),
        (status = 401, description = "Missing or invalid bearer token.", body = ErrorBody),
        (status = 403, description = "The token lacks the `admin` role.", body = ErrorBody),
        (status = 408, description = "Longer than the request timeout (60 s). Empty body."),
        (status = 409, description = "Another file already provides this plugin, or another plugin handles one of its chains.", body = ErrorBody),
        (status = 413, description = "Body over 64 MiB.", body = ErrorBody),
        (status = 500, description = "Writing the file failed; `correlationId` names the log line.", body = ErrorBody),
        (status = 503, description = "This host has no plugins directory.", body = ErrorBody),
    ),
    security(("bearerAuth" = [])),
)]
async fn install(
    State(state): State<AppState>,
    AdminCaller(admin): AdminCaller,
    name: Result<Path<String>, PathRejection>,
    body: Result<Bytes, BytesRejection>,
) -> Result<(StatusCode, Json<PluginView>), ApiError> {
    let Path(name) = name?;
    let body = body?;
    let (entry, changes) =
        state
            .registry
            .install(&name, body.to_vec())
            .await
            .map_err(|e| match e {
                InstallError::BadName(_)
                | InstallError::Invalid(_)
                | InstallError::NameMismatch { .. } => ApiError::BadRequest(e.to_string()),
                InstallError::Conflict(m) => ApiError::Conflict(m),
                InstallError::NoDirectory => ApiError::ServiceUnavailable(e.to_string()),
                InstallError::Io(e) => ApiError::Internal(e),
            })?;
    tracing::info!(admin = %admin.wallet_id, plugin = %entry.plugin.id(), "plugin installed through the API");
    let status = if changes
        .iter()
        .any(|c| c.action == PluginAction::Added && c.name.as_deref() == Some(name.as_str()))
    {
        StatusCode::CREATED
    } else {
        StatusCode::OK
    };
    Ok((status, Json(PluginView::from(&entry))))
}

/// `DELETE /plugins/{name}`.
#[derive(Debug, Serialize, ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct PluginRemoved {
    pub name: String,
    /// `removed` (nothing serves the name now) or `restored` (the bundled
    /// plugin of that name serves again).
    #[schema(example = "restored")]
    pub action: String,
    /// The plugin serving the name now (the bundled one), if any.
    pub serving: Option<PluginView>,
}

/// Remove a plugin
///
/// Deletes the plugin's file from the plugins directory and unloads it;
/// running jobs finish on the version they hold. A bundled plugin of the
/// same name serves again. Bundled plugins themselves cannot be removed.
#[utoipa::path(
    delete,
    path = "/plugins/{name}",
    tag = TAG_PLUGINS,
    params(("name" = String, Path, description = "The plugin's name")),
    responses(
        (status = 200, description = "Removed.", body = PluginRemoved),
        (status = 400, description = "Not a valid plugin name.", body = ErrorBody),
        (status = 401, description = "Missing or invalid bearer token.", body = ErrorBody),
        (status = 403, description = "The token lacks the `admin` role.", body = ErrorBody),
        (status = 404, description = "No plugin of that name is loaded.", body = ErrorBody),
        (status = 408, description = "Longer than the request timeout (60 s). Empty body."),
        (status = 409, description = "The plugin is bundled in the binary (only a file overriding it can be removed).", body = ErrorBody),
        (status = 500, description = "Deleting the file failed; `correlationId` names the log line.", body = ErrorBody),
    ),
    security(("bearerAuth" = [])),
)]
async fn remove(
    State(state): State<AppState>,
    AdminCaller(admin): AdminCaller,
    name: Result<Path<String>, PathRejection>,
) -> Result<Json<PluginRemoved>, ApiError> {
    let Path(name) = name?;
    let change = state.registry.uninstall(&name).await.map_err(|e| match e {
        UninstallError::BadName(_) => ApiError::BadRequest(e.to_string()),
        UninstallError::NotFound(_) => ApiError::NotFound(e.to_string()),
        UninstallError::Bundled(_) => ApiError::Conflict(e.to_string()),
        UninstallError::Io(e) => ApiError::Internal(e),
    })?;
    tracing::info!(admin = %admin.wallet_id, plugin = %name, "plugin removed through the API");
    let action = match change.action {
        PluginAction::Restored => "restored",
        _ => "removed",
    };
    Ok(Json(PluginRemoved {
        serving: state.registry.get(&name).as_ref().map(PluginView::from),
        name,
        action: action.to_string(),
    }))
}
