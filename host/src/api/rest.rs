//! The REST routes, as the original library's clients call them.
//!
//! Each handler carries its `#[utoipa::path]`, and [`router`] registers it
//! from there (utoipa-axum), so a route cannot exist without its entry in
//! `GET /openapi.json`, nor at another path or method than documented.

use axum::Json;
use axum::body::{Body, Bytes};
use axum::extract::rejection::{BytesRejection, PathRejection, QueryRejection};
use axum::extract::{Path, Query, State};
use axum::http::{StatusCode, header};
use axum::response::{IntoResponse, Response};
use serde::{Deserialize, Serialize};
use utoipa::openapi::schema::{Object, ObjectBuilder, Type};
use utoipa::{IntoParams, ToSchema};
use utoipa_axum::router::OpenApiRouter;
use utoipa_axum::routes;

use crate::api::auth::Caller;
use crate::api::error::{ApiError, ErrorBody};
use crate::api::openapi::TAG_SNAPSHOTS;
use crate::api::state::AppState;
use crate::jobs::documents::DocumentFormat;
use crate::jobs::events::JobEvent;
use crate::jobs::queue::SnapshotJob;
use crate::jobs::store::{JobRecord, JobStatus};
use crate::jobs::worker::now_ms;
use crate::jobs::{SnapshotError, SnapshotSpec, validate_token};

/// `/snapshots...` routes, each registered from its `#[utoipa::path]`.
pub fn router() -> OpenApiRouter<AppState> {
    OpenApiRouter::default()
        .routes(routes!(generate))
        .routes(routes!(history))
        .routes(routes!(status, cancel))
        .routes(routes!(download))
}

/// Optional body of `POST /snapshots/generate/{tokenId}`. Unknown fields are
/// refused (400).
#[derive(Debug, Default, Deserialize, ToSchema)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct GenerateRequest {
    /// Chain (`hedera`, `xrpl`, ...); detected with the plugins'
    /// `validate-token` when absent.
    #[schema(example = "hedera")]
    pub chain: Option<String>,
    /// Network of the chain (e.g. `mainnet`, `testnet`); the plugin's
    /// default when absent.
    pub network: Option<String>,
    /// Point in time, in the chain's syntax.
    #[schema(example = "1700000000.000000000")]
    pub at: Option<String>,
    /// Smallest balance kept (exact decimal, the unit of `balance`).
    #[schema(example = "100.5")]
    pub min_balance: Option<String>,
}

/// `202` answer to a generate request.
#[derive(Debug, Serialize, ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct JobAccepted {
    /// Id of the queued job (a ULID).
    #[schema(example = "01JD3Q9ZV8W1XKQ5T1M3R7N2PA")]
    pub job_id: String,
}

/// Take a snapshot of a token
///
/// Validates the token (with the chain's plugin, or with each plugin in turn
/// when `chain` is absent) before anything is queued, then queues the job.
/// Progress arrives over `GET /snapshots/ws` or socket.io, or by polling
/// `GET /snapshots/{jobId}`.
#[utoipa::path(
    post,
    path = "/snapshots/generate/{tokenId}",
    tag = TAG_SNAPSHOTS,
    params(("tokenId" = String, Path, description = "The token, in its chain's syntax (e.g. `0.0.5000` on Hedera)")),
    request_body(
        content = Option<GenerateRequest>,
        content_type = "application/json",
        description = "Optional: no body (or `null`) takes every default.",
    ),
    responses(
        (status = 202, description = "Validated and queued.", body = JobAccepted),
        (status = 400, description = "Malformed or unknown body field, unknown chain, or a token the plugin refuses (the message says why).", body = ErrorBody),
        (status = 401, description = "Missing, malformed, expired or otherwise invalid bearer token.", body = ErrorBody),
        (status = 408, description = "Validation took longer than the request timeout (60 s). Empty body."),
        (status = 413, description = "Body over 16 KiB.", body = ErrorBody),
        (status = 503, description = "The ledger, the job store or the queue is unreachable; retrying later may succeed.", body = ErrorBody),
    ),
    security(("bearerAuth" = [])),
)]
async fn generate(
    State(state): State<AppState>,
    caller: Caller,
    token_id: Result<Path<String>, PathRejection>,
    body: Result<Bytes, BytesRejection>,
) -> Result<(StatusCode, Json<JobAccepted>), ApiError> {
    let Path(token_id) = token_id?;
    let body = body?;
    // No body, or `null`, takes every default (the documented
    // `Option<GenerateRequest>`).
    let req: GenerateRequest = if body.iter().all(u8::is_ascii_whitespace) {
        GenerateRequest::default()
    } else {
        serde_json::from_slice::<Option<GenerateRequest>>(&body)
            .map_err(|e| ApiError::BadRequest(format!("invalid request body: {e}")))?
            .unwrap_or_default()
    };
    let spec_for = |chain: &str| SnapshotSpec {
        token_id: token_id.clone(),
        network: req.network.clone(),
        endpoint: state.endpoints.get(chain).cloned(),
        at: req.at.clone(),
        min_balance: req.min_balance.clone(),
        ..SnapshotSpec::default()
    };
    // Validate before anything is queued: a bad token is refused at once.
    let chain = match &req.chain {
        Some(chain) => {
            let plugin = state
                .registry
                .for_chain(chain)
                .map_err(|e| ApiError::BadRequest(e.to_string()))?;
            validate_token(&plugin, &spec_for(chain), &state.gateway)
                .await
                .map_err(refusal)?;
            chain.clone()
        }
        None => detect_chain(&state, &spec_for).await?,
    };

    let job = SnapshotJob {
        network: req.network.clone(),
        at: req.at.clone(),
        min_balance: req.min_balance.clone(),
        ..SnapshotJob::new(caller.wallet_id.clone(), token_id.clone(), chain.clone())
    };
    let record = JobRecord {
        job_id: job.job_id.clone(),
        wallet_id: caller.wallet_id,
        token_id,
        chain,
        network: req.network,
        at: req.at,
        min_balance: req.min_balance,
        status: JobStatus::Waiting,
        progress: 0,
        holder_count: None,
        holders_so_far: None,
        resolved_at: None,
        error: None,
        created_at: now_ms(),
        started_at: None,
        completed_at: None,
        attempts: 0,
        host: None,
        document_sha256: None,
        ipfs_cid: None,
        csv_cid: None,
        ipfs_status: None,
        ipfs_url: None,
        csv_url: None,
        plugin: None,
        plugin_sha256: None,
        cancel_requested: false,
    };
    state
        .store
        .insert(&record)
        .await
        .map_err(|e| ApiError::ServiceUnavailable(e.to_string()))?;
    state
        .queue
        .push(job)
        .await
        .map_err(|e| ApiError::ServiceUnavailable(format!("queueing the job failed: {e}")))?;
    state.events.publish(JobEvent::waiting(&record));
    Ok((
        StatusCode::ACCEPTED,
        Json(JobAccepted {
            job_id: record.job_id,
        }),
    ))
}

/// Tries every plugin's `validate-token`; the first that accepts the token
/// takes it. When none does, the answer lists each plugin's reason.
async fn detect_chain(
    state: &AppState,
    spec_for: &(dyn Fn(&str) -> SnapshotSpec + Sync),
) -> Result<String, ApiError> {
    let mut reasons = Vec::new();
    for entry in state.registry.list() {
        let plugin = entry.plugin;
        let Some(chain) = plugin.manifest.plugin.chains.first().cloned() else {
            continue;
        };
        match validate_token(&plugin, &spec_for(&chain), &state.gateway).await {
            Ok(_) => return Ok(chain),
            Err(e @ SnapshotError::BadInput(_)) => reasons.push(format!("{chain}: {e}")),
            Err(e) => return Err(refusal(e)),
        }
    }
    Err(ApiError::BadRequest(format!(
        "no chain recognises this token id ({})",
        reasons.join("; ")
    )))
}

fn refusal(e: SnapshotError) -> ApiError {
    match e {
        SnapshotError::BadInput(m) => ApiError::BadRequest(m),
        other => ApiError::ServiceUnavailable(other.to_string()),
    }
}

/// A job as the API shows it: its record and, once completed, where to
/// download its documents.
#[derive(Debug, Serialize, ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct JobView {
    #[serde(flatten)]
    pub record: JobRecord,
    /// Download links, once completed; `null` before.
    pub links: Option<JobLinks>,
}

/// Where a completed job's documents are.
#[derive(Debug, Serialize, ToSchema)]
pub struct JobLinks {
    #[schema(example = "/snapshots/01JD3Q9ZV8W1XKQ5T1M3R7N2PA/download?format=json")]
    pub json: String,
    #[schema(example = "/snapshots/01JD3Q9ZV8W1XKQ5T1M3R7N2PA/download?format=csv")]
    pub csv: String,
}

impl From<JobRecord> for JobView {
    fn from(record: JobRecord) -> Self {
        let links = (record.status == JobStatus::Completed).then(|| JobLinks {
            json: format!("/snapshots/{}/download?format=json", record.job_id),
            csv: format!("/snapshots/{}/download?format=csv", record.job_id),
        });
        JobView { record, links }
    }
}

/// The caller's own job, or 404 (another wallet's job does not exist for
/// them).
pub(crate) async fn own_job(
    state: &AppState,
    caller: &Caller,
    job_id: &str,
) -> Result<JobRecord, ApiError> {
    match state.store.get(job_id).await {
        Ok(Some(job)) if job.wallet_id == caller.wallet_id => Ok(job),
        Ok(_) => Err(ApiError::NotFound(format!("no snapshot job {job_id}"))),
        Err(e) => Err(ApiError::ServiceUnavailable(e.to_string())),
    }
}

/// One of the caller's completed jobs, and its document in `format` as it
/// streams from the store (or the IPFS node). A job not completed is a
/// 409; a completed one whose document cannot be found is a 500.
pub(crate) async fn own_document(
    state: &AppState,
    caller: &Caller,
    job_id: &str,
    format: DocumentFormat,
) -> Result<(JobRecord, Body), ApiError> {
    let job = own_job(state, caller, job_id).await?;
    if job.status != JobStatus::Completed {
        return Err(ApiError::Conflict(format!(
            "snapshot job {job_id} is {}, not completed",
            job.status.as_str()
        )));
    }
    let cid = match format {
        DocumentFormat::Json => job.ipfs_cid.as_deref(),
        DocumentFormat::Csv => job.csv_cid.as_deref(),
    }
    .ok_or_else(|| {
        ApiError::Internal(anyhow::anyhow!(
            "completed job {job_id} has no document CID"
        ))
    })?;
    let body = super::documents::open(state, cid).await?.ok_or_else(|| {
        ApiError::Internal(anyhow::anyhow!("document {cid} of job {job_id} is missing"))
    })?;
    Ok((job, body))
}

/// One job of the caller's
///
/// Another wallet's job is a 404, as if it did not exist.
#[utoipa::path(
    get,
    path = "/snapshots/{jobId}",
    tag = TAG_SNAPSHOTS,
    params(("jobId" = String, Path, description = "Id of the job, as `POST /snapshots/generate/{tokenId}` answered")),
    responses(
        (status = 200, description = "The job.", body = JobView),
        (status = 400, description = "Malformed path.", body = ErrorBody),
        (status = 401, description = "Missing or invalid bearer token.", body = ErrorBody),
        (status = 404, description = "No such job of the caller's.", body = ErrorBody),
        (status = 408, description = "The job store took longer than the request timeout (60 s). Empty body."),
        (status = 503, description = "The job store is unreachable.", body = ErrorBody),
    ),
    security(("bearerAuth" = [])),
)]
async fn status(
    State(state): State<AppState>,
    caller: Caller,
    job_id: Result<Path<String>, PathRejection>,
) -> Result<Json<JobView>, ApiError> {
    let Path(job_id) = job_id?;
    Ok(Json(own_job(&state, &caller, &job_id).await?.into()))
}

/// Query of `GET /snapshots`; unknown parameters are refused (400).
#[derive(Debug, Deserialize, IntoParams)]
#[serde(deny_unknown_fields)]
#[into_params(parameter_in = Query)]
struct HistoryQuery {
    /// Jobs per page.
    #[param(minimum = 1, maximum = 100, default = 20)]
    limit: Option<usize>,
    /// `nextCursor` of the previous page.
    cursor: Option<String>,
}

/// One page of the caller's jobs, newest first.
#[derive(Debug, Serialize, ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct HistoryView {
    pub items: Vec<JobView>,
    /// Pass back as `cursor` for the next page; `null` on the last page.
    pub next_cursor: Option<String>,
}

/// The caller's jobs, newest first
#[utoipa::path(
    get,
    path = "/snapshots",
    tag = TAG_SNAPSHOTS,
    params(HistoryQuery),
    responses(
        (status = 200, description = "One page of jobs.", body = HistoryView),
        (status = 400, description = "`limit` outside 1–100, or a malformed or unknown query parameter.", body = ErrorBody),
        (status = 401, description = "Missing or invalid bearer token.", body = ErrorBody),
        (status = 408, description = "The job store took longer than the request timeout (60 s). Empty body."),
        (status = 503, description = "The job store is unreachable.", body = ErrorBody),
    ),
    security(("bearerAuth" = [])),
)]
async fn history(
    State(state): State<AppState>,
    caller: Caller,
    query: Result<Query<HistoryQuery>, QueryRejection>,
) -> Result<Json<HistoryView>, ApiError> {
    let Query(q) = query?;
    let limit = q.limit.unwrap_or(20);
    if !(1..=100).contains(&limit) {
        return Err(ApiError::BadRequest(
            "limit must be between 1 and 100".into(),
        ));
    }
    let page = state
        .store
        .history(&caller.wallet_id, limit, q.cursor.as_deref())
        .await
        .map_err(|e| ApiError::ServiceUnavailable(e.to_string()))?;
    Ok(Json(HistoryView {
        items: page.jobs.into_iter().map(JobView::from).collect(),
        next_cursor: page.next_cursor,
    }))
}

/// `202` answer to a cancellation.
#[derive(Debug, Serialize, ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct CancelAccepted {
    pub job_id: String,
    /// `cancelled` for a job no worker held yet; `active` for a running one,
    /// which its worker ends within a quarter of a second.
    pub status: JobStatus,
    /// Always `true`.
    pub cancel_requested: bool,
}

/// Cancel a job
///
/// A waiting job ends at once; a running one when its worker next polls
/// the job (every 250 ms), which ends the plugin's call even while it
/// waits on its upstream (its events then say `cancelled`).
#[utoipa::path(
    delete,
    path = "/snapshots/{jobId}",
    tag = TAG_SNAPSHOTS,
    params(("jobId" = String, Path, description = "Id of the job")),
    responses(
        (status = 202, description = "Cancellation recorded.", body = CancelAccepted),
        (status = 400, description = "Malformed path.", body = ErrorBody),
        (status = 401, description = "Missing or invalid bearer token.", body = ErrorBody),
        (status = 404, description = "No such job of the caller's.", body = ErrorBody),
        (status = 408, description = "The job store took longer than the request timeout (60 s). Empty body."),
        (status = 409, description = "The job has already ended (completed, failed or cancelled).", body = ErrorBody),
        (status = 503, description = "The job store is unreachable.", body = ErrorBody),
    ),
    security(("bearerAuth" = [])),
)]
async fn cancel(
    State(state): State<AppState>,
    caller: Caller,
    job_id: Result<Path<String>, PathRejection>,
) -> Result<(StatusCode, Json<CancelAccepted>), ApiError> {
    let Path(job_id) = job_id?;
    let job = own_job(&state, &caller, &job_id).await?;
    if job.status.is_finished() {
        return Err(ApiError::Conflict(format!(
            "snapshot job {job_id} is already {}",
            job.status.as_str()
        )));
    }
    let updated = state
        .store
        .update(&job_id, &|r| {
            if r.status.is_finished() {
                return;
            }
            r.cancel_requested = true;
            // A job no worker holds yet ends here; a running one within a
            // poll of its worker (its plugin's call is ended).
            if r.status == JobStatus::Waiting {
                r.status = JobStatus::Cancelled;
                r.error = Some("cancelled".into());
                r.completed_at = Some(now_ms());
            }
        })
        .await
        .map_err(|e| ApiError::ServiceUnavailable(e.to_string()))?
        .ok_or_else(|| ApiError::NotFound(format!("no snapshot job {job_id}")))?;
    if updated.status == JobStatus::Cancelled {
        state.events.publish(JobEvent::failed(&updated));
    }
    Ok((
        StatusCode::ACCEPTED,
        Json(CancelAccepted {
            job_id,
            status: updated.status,
            cancel_requested: true,
        }),
    ))
}

/// The formats a document is downloaded in, named as `?format=` takes them.
const FORMATS: [DocumentFormat; 2] = [DocumentFormat::Json, DocumentFormat::Csv];

/// Query of `GET /snapshots/{jobId}/download`; unknown parameters are
/// refused (400).
#[derive(Debug, Deserialize, IntoParams)]
#[serde(deny_unknown_fields)]
#[into_params(parameter_in = Query)]
struct DownloadQuery {
    /// Document format; `json` when absent.
    #[param(schema_with = format_schema)]
    format: Option<String>,
}

fn format_schema() -> Object {
    ObjectBuilder::new()
        .schema_type(Type::String)
        .enum_values(Some(FORMATS.map(DocumentFormat::extension)))
        .default(Some(DocumentFormat::Json.extension().into()))
        .build()
}

/// A completed job's document
///
/// The JSON document or its CSV rendering, as `snapshot-host snapshot`
/// writes them, byte for byte.
#[utoipa::path(
    get,
    path = "/snapshots/{jobId}/download",
    tag = TAG_SNAPSHOTS,
    params(("jobId" = String, Path, description = "Id of the job"), DownloadQuery),
    responses(
        (status = 200, description = "The document, as an attachment (`Content-Disposition`).",
            headers(("Content-Disposition" = String, description = "`attachment; filename=\"snapshot-<token>-<resolvedAt>.<json|csv>\"`")),
            content(
                ("application/json"),
                ("text/csv; charset=utf-8"),
            )),
        (status = 400, description = "`format` other than json or csv, or a malformed or unknown query parameter.", body = ErrorBody),
        (status = 401, description = "Missing or invalid bearer token.", body = ErrorBody),
        (status = 404, description = "No such job of the caller's.", body = ErrorBody),
        (status = 408, description = "The job store took longer than the request timeout (60 s). Empty body."),
        (status = 409, description = "The job has not completed.", body = ErrorBody),
        (status = 500, description = "The document could not be read; `correlationId` names the log line.", body = ErrorBody),
        (status = 503, description = "The job store is unreachable, or the document is not stored here and the IPFS node did not provide it.", body = ErrorBody),
    ),
    security(("bearerAuth" = [])),
)]
async fn download(
    State(state): State<AppState>,
    caller: Caller,
    job_id: Result<Path<String>, PathRejection>,
    query: Result<Query<DownloadQuery>, QueryRejection>,
) -> Result<Response, ApiError> {
    let Path(job_id) = job_id?;
    let Query(q) = query?;
    let requested = q
        .format
        .as_deref()
        .unwrap_or(DocumentFormat::Json.extension());
    let Some(format) = FORMATS.into_iter().find(|f| f.extension() == requested) else {
        return Err(ApiError::BadRequest(format!(
            "format must be json or csv, not {requested:?}"
        )));
    };
    let (job, body) = own_document(&state, &caller, &job_id, format).await?;
    let name = format!(
        "snapshot-{}-{}.{}",
        job.token_id
            .replace(|c: char| !c.is_ascii_alphanumeric() && c != '.', "_"),
        job.resolved_at.unwrap_or_default(),
        format.extension()
    );
    Ok((
        [
            (header::CONTENT_TYPE, format.content_type().to_string()),
            (
                header::CONTENT_DISPOSITION,
                format!("attachment; filename=\"{name}\""),
            ),
        ],
        body,
    )
        .into_response())
}
