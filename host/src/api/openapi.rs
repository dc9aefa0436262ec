//! `GET /openapi.json`: the OpenAPI 3.1 document of the whole API.
//!
//! Nothing in it is written by hand twice: every route is registered from
//! its handler's `#[utoipa::path]` (utoipa-axum's `routes!`), so a route
//! exists only where the document says, and every schema is derived from
//! the type the handler really (de)serializes. This module adds what no
//! handler knows: the document's title, tags and security schemes. The
//! document is built once, when [`crate::api::app`] builds the router, and
//! served from memory without authentication.

use axum::Extension;
use axum::body::Bytes;
use axum::http::header;
use axum::response::IntoResponse;
use utoipa::openapi::security::{ApiKey, ApiKeyValue, HttpAuthScheme, HttpBuilder, SecurityScheme};
use utoipa::{Modify, OpenApi};
use utoipa_axum::router::OpenApiRouter;
use utoipa_axum::routes;

use crate::api::auth::ACCESS_TOKEN_QUERY_PARAM;
use crate::api::error::ErrorBody;
use crate::api::state::AppState;

/// Security scheme of every authenticated route: `Authorization: Bearer
/// <JWT>`. (`#[utoipa::path(security(...))]` takes only literals: the
/// handlers spell it out and a unit test checks they name this scheme.)
pub const BEARER: &str = "bearerAuth";
/// The same JWT as `?access_token=`, accepted on the WebSocket upgrade only.
pub const ACCESS_TOKEN_QUERY: &str = "accessTokenQuery";

pub const TAG_SNAPSHOTS: &str = "snapshots";
pub const TAG_EVENTS: &str = "events";
pub const TAG_OPERATIONS: &str = "operations";
pub const TAG_PLUGINS: &str = "plugins";

/// What the handlers do not say: title, tags, the error schema every route
/// shares, the security schemes.
#[derive(OpenApi)]
#[openapi(
    info(
        title = "snapshot-host",
        description = "Exact, consistent, point-in-time token-holder snapshots through WebAssembly ledger \
plugins. A snapshot is queued with `POST /snapshots/generate/{tokenId}`, followed over `GET /snapshots/ws` \
(or the socket.io namespace `/snapshots`, handshake `auth: {accessToken}`, event `snapshots_events`; socket.io \
is not described here) and downloaded once completed. Every error, on every route, has the body \
`{statusCode, message, error}` (the NestJS shape), with `correlationId` on 500s.",
    ),
    tags(
        (name = TAG_SNAPSHOTS, description = "Snapshot jobs of the calling wallet (the JWT's `sub`): another wallet's job is a 404."),
        (name = TAG_EVENTS, description = "Job events pushed to the caller."),
        (name = TAG_OPERATIONS, description = "Health, metrics and this document; no token needed."),
        (name = TAG_PLUGINS, description = "Plugin management: a JWT with the `admin` role (`roles: [\"admin\"]`); other callers get 403. Changes are also announced to admins over `GET /snapshots/ws` as `plugins_changed` events."),
    ),
    components(schemas(ErrorBody)),
    modifiers(&SecuritySchemes),
)]
pub struct ApiDoc;

struct SecuritySchemes;

impl Modify for SecuritySchemes {
    fn modify(&self, openapi: &mut utoipa::openapi::OpenApi) {
        let components = openapi.components.get_or_insert_with(Default::default);
        components.add_security_scheme(
            BEARER,
            SecurityScheme::Http(
                HttpBuilder::new()
                    .scheme(HttpAuthScheme::Bearer)
                    .bearer_format("JWT")
                    .description(Some(
                        "A JWT signed with HS256 (`JWT_SECRET`) or RS256 / EdDSA (`JWT_PUBLIC_KEY`). \
`exp` is required; `iss` and `aud` are checked when configured. The wallet is `sub` (else `walletId`).",
                    ))
                    .build(),
            ),
        );
        components.add_security_scheme(
            ACCESS_TOKEN_QUERY,
            SecurityScheme::ApiKey(ApiKey::Query(ApiKeyValue::with_description(
                ACCESS_TOKEN_QUERY_PARAM,
                "The same JWT in the query, for browsers, which cannot set headers on a WebSocket. \
Accepted on `GET /snapshots/ws` only.",
            ))),
        );
    }
}

/// The serialized document, put in the request extensions by
/// [`crate::api::app`].
#[derive(Clone)]
pub struct Document(Bytes);

impl Document {
    pub fn new(openapi: &utoipa::openapi::OpenApi) -> Self {
        Document(Bytes::from(
            serde_json::to_vec(openapi).expect("an OpenAPI document serializes"),
        ))
    }
}

/// `GET /openapi.json`, registered from its `#[utoipa::path]` like the rest.
pub fn router() -> OpenApiRouter<AppState> {
    OpenApiRouter::default().routes(routes!(openapi_json))
}

/// This document
///
/// The OpenAPI 3.1 description of every route above.
#[utoipa::path(
    get,
    path = "/openapi.json",
    tag = TAG_OPERATIONS,
    responses((status = 200, description = "The OpenAPI 3.1 document.", body = Object, content_type = "application/json")),
)]
async fn openapi_json(Extension(Document(json)): Extension<Document>) -> impl IntoResponse {
    ([(header::CONTENT_TYPE, "application/json")], json)
}

#[cfg(test)]
mod tests {
    use serde_json::Value;

    use super::*;

    fn document() -> Value {
        serde_json::to_value(crate::api::openapi()).unwrap()
    }

    #[test]
    fn is_openapi_3_1_with_the_bearer_jwt_scheme() {
        let doc = document();
        assert!(doc["openapi"].as_str().unwrap().starts_with("3.1"), "{doc}");
        let bearer = &doc["components"]["securitySchemes"][BEARER];
        assert_eq!(bearer["type"], "http");
        assert_eq!(bearer["scheme"], "bearer");
        assert_eq!(bearer["bearerFormat"], "JWT");
    }

    #[test]
    fn every_security_requirement_names_a_defined_scheme() {
        let doc = document();
        let schemes = doc["components"]["securitySchemes"].as_object().unwrap();
        let mut seen = 0;
        for (path, item) in doc["paths"].as_object().unwrap() {
            for (method, op) in item.as_object().unwrap() {
                for requirement in op["security"].as_array().into_iter().flatten() {
                    for name in requirement.as_object().unwrap().keys() {
                        assert!(schemes.contains_key(name), "{method} {path}: {name}");
                        seen += 1;
                    }
                }
            }
        }
        assert!(seen > 0);
    }

    #[test]
    fn routes_without_a_token_have_no_security_requirement() {
        let doc = document();
        for path in ["/healthz", "/readyz", "/metrics", "/openapi.json"] {
            let op = &doc["paths"][path]["get"];
            assert!(op.is_object(), "{path} is documented");
            assert!(op.get("security").is_none(), "{path}: {op}");
        }
    }

    #[test]
    fn every_error_response_is_the_nestjs_body() {
        let doc = document();
        let error = &doc["components"]["schemas"]["ErrorBody"];
        let mut required: Vec<&str> = error["required"]
            .as_array()
            .unwrap()
            .iter()
            .map(|v| v.as_str().unwrap())
            .collect();
        required.sort();
        assert_eq!(required, ["error", "message", "statusCode"]);
        assert!(error["properties"]["correlationId"].is_object());
        for (path, item) in doc["paths"].as_object().unwrap() {
            for (method, op) in item.as_object().unwrap() {
                for (status, response) in op["responses"].as_object().unwrap() {
                    let code: u16 = status.parse().unwrap();
                    // 408 comes from the timeout layer with an empty body;
                    // /readyz answers its 503 in plain text.
                    if code < 400 || code == 408 || path == "/readyz" {
                        continue;
                    }
                    assert_eq!(
                        response["content"]["application/json"]["schema"]["$ref"],
                        "#/components/schemas/ErrorBody",
                        "{method} {path} {status}"
                    );
                }
            }
        }
    }
}
