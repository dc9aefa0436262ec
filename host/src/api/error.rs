//! The one error type of the HTTP API, and how it becomes a response.
//!
//! Every handler returns `Result<_, ApiError>`. The body keeps the shape the
//! NestJS service answered with, so existing clients parse our errors
//! unchanged:
//!
//! ```json
//! {"statusCode": 401, "message": "token expired", "error": "Unauthorized"}
//! ```
//!
//! Internal errors are logged in full at `error` level and answered with only
//! `"internal error"` and a short correlation id that also appears in the log
//! line, so an operator can find the cause without the client ever seeing it.

use axum::Json;
use axum::extract::rejection::{BytesRejection, JsonRejection, PathRejection, QueryRejection};
use axum::extract::ws::rejection::WebSocketUpgradeRejection;
use axum::http::{HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Response};
use serde::Serialize;

use super::auth::AuthError;

/// An error answered to an API client.
///
/// The `String` in each client-facing variant is the `message` of the JSON
/// body: write it for the client, and never put internal detail (paths, SQL,
/// upstream bodies) in it; use [`ApiError::Internal`] for those.
#[derive(Debug, thiserror::Error)]
pub enum ApiError {
    /// 400: the request itself is wrong (bad JSON, bad parameter).
    #[error("{0}")]
    BadRequest(String),
    /// 401: no usable credentials. The response carries
    /// `WWW-Authenticate: Bearer` (RFC 6750).
    #[error("{0}")]
    Unauthorized(String),
    /// 403: authenticated, but not allowed to do this.
    #[error("{0}")]
    Forbidden(String),
    /// 404: no such resource.
    #[error("{0}")]
    NotFound(String),
    /// 409: the request conflicts with the current state (e.g. a duplicate).
    #[error("{0}")]
    Conflict(String),
    /// 413: the request body is over the size limit.
    #[error("payload too large")]
    PayloadTooLarge,
    /// 500: a bug or an unexpected failure. Logged with its whole cause chain;
    /// the client sees only "internal error" and a correlation id.
    #[error(transparent)]
    Internal(#[from] anyhow::Error),
    /// 503: a dependency is down or the service is shutting down; retrying
    /// later may succeed.
    #[error("{0}")]
    ServiceUnavailable(String),
}

impl ApiError {
    /// The HTTP status this error is answered with.
    pub fn status(&self) -> StatusCode {
        match self {
            Self::BadRequest(_) => StatusCode::BAD_REQUEST,
            Self::Unauthorized(_) => StatusCode::UNAUTHORIZED,
            Self::Forbidden(_) => StatusCode::FORBIDDEN,
            Self::NotFound(_) => StatusCode::NOT_FOUND,
            Self::Conflict(_) => StatusCode::CONFLICT,
            Self::PayloadTooLarge => StatusCode::PAYLOAD_TOO_LARGE,
            Self::Internal(_) => StatusCode::INTERNAL_SERVER_ERROR,
            Self::ServiceUnavailable(_) => StatusCode::SERVICE_UNAVAILABLE,
        }
    }

    /// Maps an axum extractor rejection: its text describes the client's
    /// input (which field, which line), so it is safe to show; a 5xx
    /// rejection is a wiring bug on our side and is treated as internal.
    fn from_rejection(status: StatusCode, text: String) -> Self {
        match status {
            StatusCode::PAYLOAD_TOO_LARGE => Self::PayloadTooLarge,
            StatusCode::UNSUPPORTED_MEDIA_TYPE | StatusCode::UNPROCESSABLE_ENTITY => {
                // NestJS answered every malformed body with 400; keep that.
                Self::BadRequest(text)
            }
            s if s.is_server_error() => {
                Self::Internal(anyhow::anyhow!("extractor rejection: {text}"))
            }
            _ => Self::BadRequest(text),
        }
    }
}

/// The NestJS error body, the one shape of every error the API answers.
#[derive(Debug, Serialize, utoipa::ToSchema)]
#[serde(rename_all = "camelCase")]
#[schema(example = json!({"statusCode": 404, "message": "no snapshot job 01J0000000000000000000000", "error": "Not Found"}))]
pub struct ErrorBody {
    /// The HTTP status, repeated.
    #[schema(example = 404)]
    status_code: u16,
    /// What went wrong, written for the client.
    message: String,
    /// The status reason phrase, e.g. "Unauthorized".
    #[schema(example = "Not Found")]
    error: &'static str,
    /// Only on 500s: the id of the log line that holds the cause.
    #[serde(skip_serializing_if = "Option::is_none")]
    correlation_id: Option<String>,
}

impl IntoResponse for ApiError {
    fn into_response(self) -> Response {
        let status = self.status();
        let (message, correlation_id) = match &self {
            Self::Internal(err) => {
                // Eight hex digits: short enough to read over the phone,
                // unique enough to grep one log line.
                let id = format!("{:08x}", rand::random::<u32>());
                tracing::error!(correlation_id = %id, error = format!("{err:#}"), "internal error");
                ("internal error".to_owned(), Some(id))
            }
            other => (other.to_string(), None),
        };
        let body = ErrorBody {
            status_code: status.as_u16(),
            message,
            error: status.canonical_reason().unwrap_or("Error"),
            correlation_id,
        };
        let mut response = (status, Json(body)).into_response();
        if status == StatusCode::UNAUTHORIZED {
            response
                .headers_mut()
                .insert(header::WWW_AUTHENTICATE, HeaderValue::from_static("Bearer"));
        }
        if status == StatusCode::PAYLOAD_TOO_LARGE {
            // The oversized body was left unread, so this connection cannot
            // carry another request: say so, or a pooling client reuses it
            // and its next request fails with a reset instead of an answer.
            response
                .headers_mut()
                .insert(header::CONNECTION, HeaderValue::from_static("close"));
        }
        response
    }
}

impl From<AuthError> for ApiError {
    fn from(err: AuthError) -> Self {
        match err {
            AuthError::AdminRequired => Self::Forbidden(err.to_string()),
            other => Self::Unauthorized(other.to_string()),
        }
    }
}

impl From<JsonRejection> for ApiError {
    fn from(rejection: JsonRejection) -> Self {
        Self::from_rejection(rejection.status(), rejection.body_text())
    }
}

impl From<QueryRejection> for ApiError {
    fn from(rejection: QueryRejection) -> Self {
        Self::from_rejection(rejection.status(), rejection.body_text())
    }
}

impl From<PathRejection> for ApiError {
    fn from(rejection: PathRejection) -> Self {
        Self::from_rejection(rejection.status(), rejection.body_text())
    }
}

impl From<BytesRejection> for ApiError {
    fn from(rejection: BytesRejection) -> Self {
        Self::from_rejection(rejection.status(), rejection.body_text())
    }
}

/// Not a WebSocket handshake: a 400 (any 4xx of the rejection) in the same
/// shape as every other error.
impl From<WebSocketUpgradeRejection> for ApiError {
    fn from(rejection: WebSocketUpgradeRejection) -> Self {
        Self::from_rejection(rejection.status(), rejection.body_text())
    }
}

#[cfg(test)]
mod tests {
    use axum::Router;
    use axum::body::{Body, to_bytes};
    use axum::http::Request;
    use axum::routing::post;
    use serde_json::{Value, json};
    use tower::ServiceExt;

    use super::*;

    async fn body_of(response: Response) -> Value {
        let bytes = to_bytes(response.into_body(), 64 * 1024).await.unwrap();
        serde_json::from_slice(&bytes).unwrap()
    }

    #[tokio::test]
    async fn each_client_error_has_the_nestjs_shape() {
        let cases = [
            (
                ApiError::BadRequest("bad token id".into()),
                400,
                "bad token id",
                "Bad Request",
            ),
            (
                ApiError::Unauthorized("token expired".into()),
                401,
                "token expired",
                "Unauthorized",
            ),
            (
                ApiError::Forbidden("admin role required".into()),
                403,
                "admin role required",
                "Forbidden",
            ),
            (
                ApiError::NotFound("no such job".into()),
                404,
                "no such job",
                "Not Found",
            ),
            (
                ApiError::Conflict("plugin exists".into()),
                409,
                "plugin exists",
                "Conflict",
            ),
            (
                ApiError::PayloadTooLarge,
                413,
                "payload too large",
                "Payload Too Large",
            ),
            (
                ApiError::ServiceUnavailable("shutting down".into()),
                503,
                "shutting down",
                "Service Unavailable",
            ),
        ];
        for (err, status, message, error) in cases {
            let response = err.into_response();
            assert_eq!(response.status().as_u16(), status);
            assert_eq!(
                response.headers()[header::CONTENT_TYPE],
                "application/json",
                "status {status}"
            );
            assert_eq!(
                body_of(response).await,
                json!({"statusCode": status, "message": message, "error": error})
            );
        }
    }

    #[tokio::test]
    async fn internal_error_hides_its_cause_behind_a_correlation_id() {
        let cause = anyhow::anyhow!("connection refused to 10.1.2.3:5432")
            .context("loading plugin table from /var/lib/secret/db");
        let response = ApiError::Internal(cause).into_response();
        assert_eq!(response.status(), StatusCode::INTERNAL_SERVER_ERROR);
        let body = body_of(response).await;
        assert_eq!(body["statusCode"], 500);
        assert_eq!(body["message"], "internal error");
        assert_eq!(body["error"], "Internal Server Error");
        let id = body["correlationId"].as_str().unwrap();
        assert_eq!(id.len(), 8);
        assert!(id.chars().all(|c| c.is_ascii_hexdigit()));
        let text = body.to_string();
        assert!(
            !text.contains("10.1.2.3") && !text.contains("/var/lib"),
            "{text}"
        );
    }

    #[test]
    fn anyhow_errors_convert_with_question_mark() {
        fn handler_body() -> Result<(), ApiError> {
            Err(anyhow::anyhow!("boom"))?;
            Ok(())
        }
        assert!(matches!(handler_body(), Err(ApiError::Internal(_))));
    }

    #[test]
    fn only_unauthorized_carries_a_bearer_challenge() {
        let response = ApiError::Unauthorized("missing bearer token".into()).into_response();
        assert_eq!(response.headers()[header::WWW_AUTHENTICATE], "Bearer");
        let response = ApiError::Forbidden("admin role required".into()).into_response();
        assert!(response.headers().get(header::WWW_AUTHENTICATE).is_none());
    }

    #[test]
    fn auth_errors_are_401_except_the_missing_admin_role_which_is_403() {
        assert_eq!(
            ApiError::from(AuthError::AdminRequired).status(),
            StatusCode::FORBIDDEN
        );
        for err in [
            AuthError::MissingToken,
            AuthError::MalformedAuthorization,
            AuthError::InvalidToken,
            AuthError::Expired,
            AuthError::NotYetValid,
            AuthError::MissingExpiry,
            AuthError::WrongIssuer,
            AuthError::WrongAudience,
            AuthError::MissingWalletId,
        ] {
            let message = err.to_string();
            let api = ApiError::from(err);
            assert_eq!(api.status(), StatusCode::UNAUTHORIZED);
            assert_eq!(api.to_string(), message);
        }
    }

    async fn echo(payload: Result<Json<Value>, JsonRejection>) -> Result<Json<Value>, ApiError> {
        let Json(value) = payload?;
        Ok(Json(value))
    }

    #[tokio::test]
    async fn malformed_json_body_is_a_400_in_the_same_shape() {
        let app = Router::new().route("/echo", post(echo));
        let request = Request::post("/echo")
            .header(header::CONTENT_TYPE, "application/json")
            .body(Body::from("{\"tokenId\": "))
            .unwrap();
        let response = app.oneshot(request).await.unwrap();
        assert_eq!(response.status(), StatusCode::BAD_REQUEST);
        let body = body_of(response).await;
        assert_eq!(body["statusCode"], 400);
        assert_eq!(body["error"], "Bad Request");
        assert!(body["message"].as_str().unwrap().contains("JSON"), "{body}");
    }

    #[tokio::test]
    async fn body_without_json_content_type_is_a_400_not_a_415() {
        let app = Router::new().route("/echo", post(echo));
        let request = Request::post("/echo").body(Body::from("{}")).unwrap();
        let response = app.oneshot(request).await.unwrap();
        assert_eq!(response.status(), StatusCode::BAD_REQUEST);
    }
}
