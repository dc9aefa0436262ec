//! The REST routes, as the original library's clients call them.

use axum::Json;
use axum::Router;
use axum::body::Bytes;
use axum::extract::{Path, Query, State};
use axum::http::{StatusCode, header};
use axum::response::{IntoResponse, Response};
use axum::routing::{get, post};
use serde::{Deserialize, Serialize};
use serde_json::{Value, json};

use crate::api::auth::Caller;
use crate::api::error::ApiError;
use crate::api::state::AppState;
use crate::jobs::documents::DocumentFormat;
use crate::jobs::events::JobEvent;
use crate::jobs::queue::SnapshotJob;
use crate::jobs::store::{JobRecord, JobStatus};
use crate::jobs::worker::now_ms;
use crate::jobs::{SnapshotError, SnapshotSpec, validate_token};

/// `/snapshots...` routes.
pub fn router() -> Router<AppState> {
    Router::new()
        .route("/snapshots/generate/{token_id}", post(generate))
        .route("/snapshots", get(history))
        .route("/snapshots/{job_id}", get(status).delete(cancel))
        .route("/snapshots/{job_id}/download", get(download))
}

/// Optional body of `POST /snapshots/generate/{tokenId}`.
#[derive(Debug, Default, Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct GenerateRequest {
    /// Chain (`hedera`, `xrpl`, ...); detected with the plugins'
    /// `validate-token` when absent.
    pub chain: Option<String>,
    pub network: Option<String>,
    /// Point in time, in the chain's syntax.
    pub at: Option<String>,
    /// Smallest balance kept (exact decimal, the unit of `balance`).
    pub min_balance: Option<String>,
}

async fn generate(
    State(state): State<AppState>,
    caller: Caller,
    Path(token_id): Path<String>,
    body: Bytes,
) -> Result<(StatusCode, Json<Value>), ApiError> {
    let req: GenerateRequest = if body.iter().all(u8::is_ascii_whitespace) {
        GenerateRequest::default()
    } else {
        serde_json::from_slice(&body)
            .map_err(|e| ApiError::BadRequest(format!("invalid request body: {e}")))?
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
        resolved_at: None,
        error: None,
        created_at: now_ms(),
        started_at: None,
        completed_at: None,
        attempts: 0,
        document_sha256: None,
        ipfs_cid: None,
        csv_cid: None,
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
        Json(json!({ "jobId": record.job_id })),
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

/// A job as the API shows it.
#[derive(Debug, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct JobView {
    #[serde(flatten)]
    pub record: JobRecord,
    /// Download links, once completed.
    pub links: Option<Value>,
}

impl From<JobRecord> for JobView {
    fn from(record: JobRecord) -> Self {
        let links = (record.status == JobStatus::Completed).then(|| {
            json!({
                "json": format!("/snapshots/{}/download?format=json", record.job_id),
                "csv": format!("/snapshots/{}/download?format=csv", record.job_id),
            })
        });
        JobView { record, links }
    }
}

/// The caller's own job, or 404 (another wallet's job does not exist for
/// them).
async fn own_job(state: &AppState, caller: &Caller, job_id: &str) -> Result<JobRecord, ApiError> {
    match state.store.get(job_id).await {
        Ok(Some(job)) if job.wallet_id == caller.wallet_id => Ok(job),
        Ok(_) => Err(ApiError::NotFound(format!("no snapshot job {job_id}"))),
        Err(e) => Err(ApiError::ServiceUnavailable(e.to_string())),
    }
}

async fn status(
    State(state): State<AppState>,
    caller: Caller,
    Path(job_id): Path<String>,
) -> Result<Json<JobView>, ApiError> {
    Ok(Json(own_job(&state, &caller, &job_id).await?.into()))
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct HistoryQuery {
    limit: Option<usize>,
    cursor: Option<String>,
}

async fn history(
    State(state): State<AppState>,
    caller: Caller,
    Query(q): Query<HistoryQuery>,
) -> Result<Json<Value>, ApiError> {
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
    let items: Vec<JobView> = page.jobs.into_iter().map(JobView::from).collect();
    Ok(Json(
        json!({ "items": items, "nextCursor": page.next_cursor }),
    ))
}

async fn cancel(
    State(state): State<AppState>,
    caller: Caller,
    Path(job_id): Path<String>,
) -> Result<(StatusCode, Json<Value>), ApiError> {
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
            // A job no worker holds yet ends here; a running one ends at
            // its plugin's next emit.
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
        Json(
            json!({ "jobId": job_id, "status": updated.status.as_str(), "cancelRequested": true }),
        ),
    ))
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct DownloadQuery {
    format: Option<String>,
}

async fn download(
    State(state): State<AppState>,
    caller: Caller,
    Path(job_id): Path<String>,
    Query(q): Query<DownloadQuery>,
) -> Result<Response, ApiError> {
    let format = match q.format.as_deref().unwrap_or("json") {
        "json" => DocumentFormat::Json,
        "csv" => DocumentFormat::Csv,
        other => {
            return Err(ApiError::BadRequest(format!(
                "format must be json or csv, not {other:?}"
            )));
        }
    };
    let job = own_job(&state, &caller, &job_id).await?;
    if job.status != JobStatus::Completed {
        return Err(ApiError::Conflict(format!(
            "snapshot job {job_id} is {}, not completed",
            job.status.as_str()
        )));
    }
    let path = state.documents.path(&job_id, format);
    let file = tokio::fs::File::open(&path)
        .await
        .map_err(|e| ApiError::Internal(anyhow::anyhow!("opening {}: {e}", path.display())))?;
    let body = axum::body::Body::from_stream(tokio_util::io::ReaderStream::new(file));
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
