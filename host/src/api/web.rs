//! The operator and user web page: `GET /` and `GET /assets/{file}`.
//!
//! Plain HTML, CSS and ES modules from `host/web/`, compiled into the binary
//! (no build step, no CDN: the page works offline and the binary still needs
//! no other file). The page talks to the same API as any client, with the
//! JWT the user pastes (kept in the tab's session storage only).
//!
//! These routes are not part of the API, so they are not in
//! `GET /openapi.json`: they need no token, take no parameters and return
//! static files. Every answer carries a strict Content-Security-Policy
//! (scripts, styles and connections to this origin only; no inline script or
//! style, no frames) and an `ETag`; assets are revalidated (`no-cache`), since
//! their names carry no content hash.

use std::sync::OnceLock;

use axum::Router;
use axum::extract::Path;
use axum::http::{HeaderMap, HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Response};
use axum::routing::get;
use sha2::{Digest, Sha256};

/// One embedded file.
struct Asset {
    name: &'static str,
    content_type: &'static str,
    bytes: &'static [u8],
}

macro_rules! asset {
    ($name:literal, $content_type:literal) => {
        Asset {
            name: $name,
            content_type: $content_type,
            bytes: include_bytes!(concat!("../../web/", $name)),
        }
    };
}

/// The page, served at `/`.
const INDEX: Asset = asset!("index.html", "text/html; charset=utf-8");

/// Everything under `/assets/`.
const ASSETS: &[Asset] = &[
    asset!("app.js", "text/javascript; charset=utf-8"),
    asset!("api.js", "text/javascript; charset=utf-8"),
    asset!("charts.js", "text/javascript; charset=utf-8"),
    asset!("format.js", "text/javascript; charset=utf-8"),
    asset!("style.css", "text/css; charset=utf-8"),
    asset!("icon.svg", "image/svg+xml"),
];

/// What the page may load and connect to: this origin only (`'self'` also
/// covers the same-origin WebSocket), nothing inline, no frames, no forms
/// posted elsewhere. Downloads are `blob:` URLs made by the page.
pub const CONTENT_SECURITY_POLICY: &str = "default-src 'none'; script-src 'self'; \
style-src 'self'; img-src 'self' data: blob:; connect-src 'self'; \
base-uri 'none'; form-action 'self'; frame-ancestors 'none'";

/// `/` and `/assets/{file}`, without OpenAPI entries (see the module doc).
pub fn router<S: Clone + Send + Sync + 'static>() -> Router<S> {
    Router::new()
        .route(
            "/",
            get(|headers: HeaderMap| async move { serve(&INDEX, &headers) }),
        )
        .route(
            "/assets/{file}",
            get(|Path(file): Path<String>, headers: HeaderMap| async move {
                match ASSETS.iter().find(|a| a.name == file) {
                    Some(asset) => serve(asset, &headers),
                    None => (
                        StatusCode::NOT_FOUND,
                        [(header::CONTENT_TYPE, "text/plain; charset=utf-8")],
                        "no such asset",
                    )
                        .into_response(),
                }
            }),
        )
}

/// The strong `ETag` of `asset`: its sha256, computed once per file.
fn etag(asset: &Asset) -> &'static str {
    static TAGS: OnceLock<Vec<(&'static str, String)>> = OnceLock::new();
    let tags = TAGS.get_or_init(|| {
        std::iter::once(&INDEX)
            .chain(ASSETS)
            .map(|a| {
                let digest = Sha256::digest(a.bytes);
                (a.name, format!("\"{}\"", hex::encode(&digest[..16])))
            })
            .collect()
    });
    tags.iter()
        .find(|(name, _)| *name == asset.name)
        .map(|(_, tag)| tag.as_str())
        .expect("every asset has a tag")
}

fn serve(asset: &Asset, request: &HeaderMap) -> Response {
    let tag = etag(asset);
    let fresh = request
        .get(header::IF_NONE_MATCH)
        .and_then(|v| v.to_str().ok())
        .is_some_and(|v| v.split(',').any(|t| t.trim() == tag || t.trim() == "*"));
    let mut response = if fresh {
        StatusCode::NOT_MODIFIED.into_response()
    } else {
        ([(header::CONTENT_TYPE, asset.content_type)], asset.bytes).into_response()
    };
    let headers = response.headers_mut();
    headers.insert(header::ETAG, HeaderValue::from_static(tag));
    headers.insert(header::CACHE_CONTROL, HeaderValue::from_static("no-cache"));
    headers.insert(
        header::CONTENT_SECURITY_POLICY,
        HeaderValue::from_static(CONTENT_SECURITY_POLICY),
    );
    headers.insert(
        header::X_CONTENT_TYPE_OPTIONS,
        HeaderValue::from_static("nosniff"),
    );
    headers.insert(
        header::REFERRER_POLICY,
        HeaderValue::from_static("no-referrer"),
    );
    headers.insert(header::X_FRAME_OPTIONS, HeaderValue::from_static("DENY"));
    response
}

#[cfg(test)]
mod tests {
    use axum::body::Body;
    use axum::http::Request;
    use tower::ServiceExt;

    use super::*;

    async fn get(path: &str, if_none_match: Option<&str>) -> Response {
        let mut request = Request::get(path);
        if let Some(tag) = if_none_match {
            request = request.header(header::IF_NONE_MATCH, tag);
        }
        router::<()>()
            .oneshot(request.body(Body::empty()).unwrap())
            .await
            .unwrap()
    }

    #[tokio::test]
    async fn the_page_is_served_with_a_strict_policy() {
        let resp = get("/", None).await;
        assert_eq!(resp.status(), 200);
        let h = resp.headers();
        assert_eq!(h[header::CONTENT_TYPE], "text/html; charset=utf-8");
        assert_eq!(h[header::CONTENT_SECURITY_POLICY], CONTENT_SECURITY_POLICY);
        assert_eq!(h[header::X_CONTENT_TYPE_OPTIONS], "nosniff");
        assert_eq!(h[header::CACHE_CONTROL], "no-cache");
        assert!(CONTENT_SECURITY_POLICY.contains("script-src 'self';"));
        assert!(!CONTENT_SECURITY_POLICY.contains("unsafe"));
    }

    #[tokio::test]
    async fn assets_have_their_types_and_revalidate() {
        for asset in ASSETS {
            let resp = get(&format!("/assets/{}", asset.name), None).await;
            assert_eq!(resp.status(), 200, "{}", asset.name);
            assert_eq!(resp.headers()[header::CONTENT_TYPE], asset.content_type);
            let tag = resp.headers()[header::ETAG].to_str().unwrap().to_string();
            let again = get(&format!("/assets/{}", asset.name), Some(&tag)).await;
            assert_eq!(again.status(), 304, "{}", asset.name);
            assert_eq!(again.headers()[header::ETAG], tag.as_str());
        }
        assert_eq!(get("/assets/nope.js", None).await.status(), 404);
        assert_eq!(get("/assets/..%2Fweb.rs", None).await.status(), 404);
    }

    /// Whether `html` has an attribute like ` onclick=`.
    fn has_inline_handler(html: &str) -> bool {
        html.match_indices(" on").any(|(at, _)| {
            let rest = &html[at + 3..];
            let name = rest.bytes().take_while(u8::is_ascii_lowercase).count();
            name > 0 && rest[name..].starts_with('=')
        })
    }

    /// Every module the page imports is embedded (a missing one would only
    /// show in a browser), and nothing inline would trip the policy.
    #[test]
    fn the_page_loads_only_embedded_files_and_nothing_inline() {
        let names: Vec<&str> = ASSETS.iter().map(|a| a.name).collect();
        for file in std::iter::once(&INDEX).chain(ASSETS) {
            let text = std::str::from_utf8(file.bytes).unwrap();
            for quoted in text.split(['"', '\'']).filter(|s| {
                (s.starts_with("./") || s.starts_with("/assets/"))
                    && (s.ends_with(".js") || s.ends_with(".css") || s.ends_with(".svg"))
            }) {
                let name = quoted.rsplit('/').next().unwrap();
                assert!(names.contains(&name), "{} refers to {quoted}", file.name);
            }
        }
        let html = std::str::from_utf8(INDEX.bytes).unwrap();
        assert!(!html.contains("style=\""), "inline style in index.html");
        assert!(!has_inline_handler(html), "inline handler in index.html");
        assert!(!html.contains("<script>"), "inline script in index.html");
    }
}
