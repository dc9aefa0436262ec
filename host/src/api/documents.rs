//! Finished documents by content: `GET /snapshots/by-cid/{cid}`, and the
//! one way every route reads a stored document.
//!
//! A CID names exact bytes that are public on IPFS once pinned, so any
//! authenticated caller may fetch a document by its CID; listing and job
//! routes stay per wallet.

use axum::body::Body;
use axum::extract::{Path, State};
use axum::http::header;
use axum::response::{IntoResponse, Response};
use utoipa_axum::router::OpenApiRouter;
use utoipa_axum::routes;

use super::AppState;
use super::auth::Caller;
use super::error::{ApiError, ErrorBody};
use super::openapi::TAG_SNAPSHOTS;
use crate::artifacts::parse_cid;

/// The route, registered from its `#[utoipa::path]` (so it is in
/// `GET /openapi.json`).
pub fn router() -> OpenApiRouter<AppState> {
    OpenApiRouter::default().routes(routes!(by_cid))
}

/// The bytes of `cid`: streamed from the local store, else fetched from
/// the IPFS node and checked against the CID. None when neither has them.
pub async fn open(state: &AppState, cid: &str) -> Result<Option<Body>, ApiError> {
    let cid = parse_cid(cid).map_err(ApiError::BadRequest)?;
    let path = state.artifacts.local().path(&cid);
    match tokio::fs::File::open(&path).await {
        Ok(file) => {
            return Ok(Some(Body::from_stream(tokio_util::io::ReaderStream::new(
                file,
            ))));
        }
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => {}
        Err(e) => {
            return Err(ApiError::Internal(anyhow::anyhow!(
                "opening {}: {e}",
                path.display()
            )));
        }
    }
    match state.artifacts.get(&cid).await {
        Ok(bytes) => Ok(bytes.map(Body::from)),
        Err(e) => Err(ApiError::ServiceUnavailable(format!(
            "document {cid} is not stored here and the IPFS node did not provide it: {e}"
        ))),
    }
}

/// A document by its CID
///
/// Any authenticated caller may fetch a document by CID (the bytes are
/// public on IPFS once pinned). Served from the local store, else from the
/// IPFS node after checking the bytes against the CID.
#[utoipa::path(
    get,
    path = "/snapshots/by-cid/{cid}",
    tag = TAG_SNAPSHOTS,
    params(("cid" = String, Path, description = "CID of the JSON or CSV document, as a job's `ipfsCid` / `csvCid`")),
    responses(
        (status = 200, description = "The document; immutable, cacheable for a year (`ETag` is the CID).",
            content(("application/json"), ("text/csv; charset=utf-8"))),
        (status = 400, description = "Not a CID.", body = ErrorBody),
        (status = 401, description = "Missing or invalid bearer token.", body = ErrorBody),
        (status = 404, description = "Neither the local store nor the IPFS node has it.", body = ErrorBody),
        (status = 408, description = "Longer than the request timeout (60 s). Empty body."),
        (status = 500, description = "The stored document could not be read; `correlationId` names the log line.", body = ErrorBody),
        (status = 503, description = "Not stored here and the IPFS node did not provide it.", body = ErrorBody),
    ),
    security(("bearerAuth" = [])),
)]
async fn by_cid(
    State(state): State<AppState>,
    _caller: Caller,
    Path(cid): Path<String>,
) -> Result<Response, ApiError> {
    let body = open(&state, &cid)
        .await?
        .ok_or_else(|| ApiError::NotFound(format!("no document with CID {cid}")))?;
    // Our documents are canonical JSON (an object) or CSV; the first byte
    // tells which without reading the rest.
    let (body, json) = sniff(body).await?;
    let content_type = if json {
        "application/json"
    } else {
        "text/csv; charset=utf-8"
    };
    Ok((
        [
            (header::CONTENT_TYPE, content_type.to_string()),
            (
                header::CACHE_CONTROL,
                "public, max-age=31536000, immutable".to_string(),
            ),
            (header::ETAG, format!("\"{cid}\"")),
        ],
        body,
    )
        .into_response())
}

/// Whether `body` starts with `{`, and the body unchanged.
async fn sniff(body: Body) -> Result<(Body, bool), ApiError> {
    use futures::StreamExt;
    let mut stream = body.into_data_stream();
    let mut head = Vec::new();
    // Skip empty frames; the first non-empty one decides.
    let first = loop {
        match stream.next().await {
            Some(Ok(chunk)) if chunk.is_empty() => continue,
            Some(Ok(chunk)) => break Some(chunk),
            Some(Err(e)) => {
                return Err(ApiError::Internal(anyhow::anyhow!(
                    "reading a document: {e}"
                )));
            }
            None => break None,
        }
    };
    let json = first.as_ref().is_some_and(|c| c.first() == Some(&b'{'));
    if let Some(chunk) = first {
        head.push(Ok::<_, axum::Error>(chunk));
    }
    let rest = futures::stream::iter(head).chain(stream);
    Ok((Body::from_stream(rest), json))
}
