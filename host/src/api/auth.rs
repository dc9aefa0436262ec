//! Who is calling: JWT bearer authentication for the REST and WebSocket API.
//!
//! A caller presents `Authorization: Bearer <JWT>`. The token is verified
//! against exactly one configured key and algorithm ([`AuthConfig`]); the
//! wallet id and roles in its claims become a [`Caller`].
//!
//! Choices, so nobody has to rediscover them:
//! - **One key, one algorithm.** The accepted algorithm list is exactly the
//!   configured one, so `alg: none` and HS/RS confusion (an HS256 token
//!   "signed" with the RSA public key text) fail before any signature check.
//!   Setting both `JWT_SECRET` and `JWT_PUBLIC_KEY` is refused as ambiguous.
//! - **`exp` is required**, `nbf` is checked when present, with a 5 s leeway
//!   for clock skew (the library default of 60 s is too generous).
//! - **Issuer / audience** are checked only when configured; once configured
//!   the claim must be present and match. Without `JWT_AUDIENCE`, an `aud`
//!   claim in the token is ignored, as the NestJS service did.
//! - **Wallet id** is the `sub` claim. `walletId` is accepted as a fallback
//!   when `sub` is absent or blank; when both are present, `sub` wins, because
//!   it is the registered claim the issuer vouches for. No usable wallet id → 401.
//! - **Roles** come from `roles` (array or string) and `role` (string or
//!   array), merged. Role names are case-sensitive; `admin` unlocks plugin
//!   management ([`Caller::require_admin`], [`AdminCaller`]).
//! - **Messages** tell the client what is wrong (expired, wrong issuer) but
//!   never why a signature failed or what the key is; the library's reason is
//!   logged at `debug` level.
//! - REST routes read the header only ([`Caller`]); the `?access_token=` query
//!   parameter is accepted only on WebSocket upgrade routes
//!   ([`caller_from_query_or_header`], [`WsCaller`]), because browsers cannot
//!   set headers on a WebSocket. Query strings end up in access logs, so
//!   request logging must not record them.

use std::collections::BTreeSet;
use std::fmt;
use std::path::PathBuf;
use std::sync::Arc;
use std::time::Duration;

use axum::extract::{FromRef, FromRequestParts};
use axum::http::HeaderMap;
use axum::http::header::AUTHORIZATION;
use axum::http::request::Parts;
use jsonwebtoken::errors::ErrorKind;
use jsonwebtoken::{Algorithm, AlgorithmFamily, DecodingKey, Validation};
use serde::{Deserialize, Serialize};

use super::error::ApiError;

/// Clock-skew allowance for `exp` and `nbf`.
pub const DEFAULT_LEEWAY: Duration = Duration::from_secs(5);

/// The role that unlocks plugin management.
pub const ADMIN_ROLE: &str = "admin";

/// The query parameter WebSocket clients put their token in.
pub const ACCESS_TOKEN_QUERY_PARAM: &str = "access_token";

/// An HMAC secret shorter than this is brute-forceable offline from any one
/// token; we warn rather than refuse so an existing deployment keeps working.
const MIN_RECOMMENDED_SECRET_LEN: usize = 32;

/// Every algorithm name `JWT_ALGORITHM` accepts. `none` is deliberately absent.
const ALGORITHM_NAMES: &[(&str, Algorithm)] = &[
    ("HS256", Algorithm::HS256),
    ("HS384", Algorithm::HS384),
    ("HS512", Algorithm::HS512),
    ("RS256", Algorithm::RS256),
    ("RS384", Algorithm::RS384),
    ("RS512", Algorithm::RS512),
    ("PS256", Algorithm::PS256),
    ("PS384", Algorithm::PS384),
    ("PS512", Algorithm::PS512),
    ("ES256", Algorithm::ES256),
    ("ES384", Algorithm::ES384),
    ("EdDSA", Algorithm::EdDSA),
];

/// How tokens are verified: one key, the one algorithm it is used with, and
/// the claim checks. Build it once at start-up and share it as
/// `Arc<AuthConfig>` in the router state.
#[derive(Clone)]
pub struct AuthConfig {
    algorithm: Algorithm,
    key: DecodingKey,
    validation: Validation,
}

/// Why an [`AuthConfig`] could not be built. The server refuses to start on
/// any of these; each message says what to change.
#[derive(Debug, thiserror::Error)]
pub enum AuthConfigError {
    /// Neither `JWT_SECRET` nor `JWT_PUBLIC_KEY` is set.
    #[error(
        "no JWT verification key is configured: set JWT_SECRET (HS256 shared secret) or \
         JWT_PUBLIC_KEY (PEM text, or the path of a PEM file, for RS256/EdDSA), and optionally \
         JWT_ALGORITHM, JWT_ISSUER and JWT_AUDIENCE; for local development only, \
         --insecure-dev accepts tokens signed with a public development secret"
    )]
    NotConfigured,
    /// Both a secret and a public key are set, so which one signs is unclear.
    #[error("both JWT_SECRET and JWT_PUBLIC_KEY are set: set exactly one of them")]
    BothKeysConfigured,
    /// `JWT_ALGORITHM` names no supported algorithm.
    #[error(
        "JWT_ALGORITHM={0:?} is not supported: use one of HS256, HS384, HS512, RS256, RS384, \
         RS512, PS256, PS384, PS512, ES256, ES384, EdDSA"
    )]
    UnknownAlgorithm(String),
    /// The algorithm does not go with the kind of key given.
    #[error("JWT algorithm {algorithm:?} cannot be used with {key}")]
    AlgorithmKeyMismatch {
        /// The configured algorithm.
        algorithm: Algorithm,
        /// What was given instead, e.g. "a shared secret (JWT_SECRET)".
        key: &'static str,
    },
    /// The HMAC secret is empty.
    #[error("the JWT secret is empty")]
    EmptySecret,
    /// A private key was given where the public key belongs.
    #[error(
        "the JWT public key is a private key: configure only its public half \
         (openssl pkey -in private.pem -pubout)"
    )]
    PrivateKeyGiven,
    /// The PEM text does not hold a public key for the algorithm.
    #[error("the JWT public key is not a valid {algorithm:?} public key in PEM form")]
    InvalidPublicKey {
        /// The algorithm the key was meant for.
        algorithm: Algorithm,
    },
    /// A public key was given without `JWT_ALGORITHM` and its type says
    /// nothing definite (EC keys: ES256 or ES384).
    #[error("cannot tell the algorithm from the JWT public key: set JWT_ALGORITHM")]
    AlgorithmNotInferable,
    /// `JWT_PUBLIC_KEY` is a path that cannot be read.
    #[error("cannot read the JWT public key file {}", path.display())]
    ReadPublicKey {
        /// The path from `JWT_PUBLIC_KEY`.
        path: PathBuf,
        /// Why reading failed.
        #[source]
        source: std::io::Error,
    },
}

impl AuthConfig {
    /// HS256 with a shared secret (`JWT_SECRET`), as the NestJS service used.
    pub fn hs256(secret: impl AsRef<[u8]>) -> Result<Self, AuthConfigError> {
        Self::hmac(Algorithm::HS256, secret)
    }

    /// RS256 with an RSA public key in PEM form (`PUBLIC KEY` or
    /// `RSA PUBLIC KEY`).
    pub fn rs256_pem(pem: impl AsRef<[u8]>) -> Result<Self, AuthConfigError> {
        Self::public_key_pem(Algorithm::RS256, pem)
    }

    /// EdDSA with an Ed25519 public key in PEM form (`PUBLIC KEY`).
    pub fn eddsa_pem(pem: impl AsRef<[u8]>) -> Result<Self, AuthConfigError> {
        Self::public_key_pem(Algorithm::EdDSA, pem)
    }

    /// Any HMAC algorithm (HS256/384/512) with a shared secret.
    pub fn hmac(algorithm: Algorithm, secret: impl AsRef<[u8]>) -> Result<Self, AuthConfigError> {
        let secret = secret.as_ref();
        if algorithm.family() != AlgorithmFamily::Hmac {
            return Err(AuthConfigError::AlgorithmKeyMismatch {
                algorithm,
                key: "a shared secret (JWT_SECRET)",
            });
        }
        if secret.is_empty() {
            return Err(AuthConfigError::EmptySecret);
        }
        if secret.len() < MIN_RECOMMENDED_SECRET_LEN {
            tracing::warn!(
                len = secret.len(),
                "JWT secret is shorter than {MIN_RECOMMENDED_SECRET_LEN} bytes; tokens can be forged by brute force"
            );
        }
        Ok(Self::new(algorithm, DecodingKey::from_secret(secret)))
    }

    /// Any public-key algorithm (RS*, PS*, ES*, EdDSA) with its public key in
    /// PEM form. A private key is refused: the server only verifies, and a
    /// private key in its environment is one more place to leak it from.
    pub fn public_key_pem(
        algorithm: Algorithm,
        pem: impl AsRef<[u8]>,
    ) -> Result<Self, AuthConfigError> {
        let pem = pem.as_ref();
        let invalid = || AuthConfigError::InvalidPublicKey { algorithm };
        let text = std::str::from_utf8(pem).map_err(|_| invalid())?;
        if text.contains("PRIVATE KEY-----") {
            return Err(AuthConfigError::PrivateKeyGiven);
        }
        let key = match algorithm.family() {
            AlgorithmFamily::Hmac => {
                return Err(AuthConfigError::AlgorithmKeyMismatch {
                    algorithm,
                    key: "a public key (JWT_PUBLIC_KEY)",
                });
            }
            AlgorithmFamily::Rsa => DecodingKey::from_rsa_pem(pem).map_err(|_| invalid())?,
            AlgorithmFamily::Ec => DecodingKey::from_ec_pem(pem).map_err(|_| invalid())?,
            AlgorithmFamily::Ed => {
                let key = DecodingKey::from_ed_pem(pem).map_err(|_| invalid())?;
                // The verifier slices the first 32 bytes without checking the
                // length; a short key must fail here, not panic per request.
                if key.try_get_as_bytes().map(<[u8]>::len).ok() != Some(32) {
                    return Err(invalid());
                }
                key
            }
        };
        Ok(Self::new(algorithm, key))
    }

    fn new(algorithm: Algorithm, key: DecodingKey) -> Self {
        let mut validation = Validation::new(algorithm);
        validation.leeway = DEFAULT_LEEWAY.as_secs();
        validation.validate_exp = true;
        validation.validate_nbf = true;
        // `aud` is checked only once an audience is configured (see module doc).
        validation.validate_aud = false;
        validation.set_required_spec_claims(&["exp"]);
        Self {
            algorithm,
            key,
            validation,
        }
    }

    /// Requires the `iss` claim to be present and equal to `issuer`.
    pub fn with_issuer(mut self, issuer: impl Into<String>) -> Self {
        self.validation.set_issuer(&[issuer.into()]);
        self.validation
            .required_spec_claims
            .insert("iss".to_owned());
        self
    }

    /// Requires the `aud` claim (a string, or an array) to be present and to
    /// contain `audience`.
    pub fn with_audience(mut self, audience: impl Into<String>) -> Self {
        self.validation.set_audience(&[audience.into()]);
        self.validation.validate_aud = true;
        self.validation
            .required_spec_claims
            .insert("aud".to_owned());
        self
    }

    /// Replaces the [`DEFAULT_LEEWAY`] for `exp` / `nbf` (whole seconds).
    pub fn with_leeway(mut self, leeway: Duration) -> Self {
        self.validation.leeway = leeway.as_secs();
        self
    }

    /// The one algorithm tokens must be signed with.
    pub fn algorithm(&self) -> Algorithm {
        self.algorithm
    }

    /// Builds the configuration from the process environment; see
    /// [`AuthConfig::from_lookup`] for the variables.
    pub fn from_env() -> Result<Self, AuthConfigError> {
        Self::from_lookup(|name| std::env::var(name).ok())
    }

    /// Builds the configuration from named settings (`lookup` returns a
    /// variable's value; empty values count as unset):
    ///
    /// - `JWT_SECRET`: HMAC shared secret (HS256 unless `JWT_ALGORITHM` says
    ///   HS384/HS512).
    /// - `JWT_PUBLIC_KEY`: the verification public key, either the PEM text
    ///   itself (it starts with `-----BEGIN`; `\n` escapes are turned into
    ///   newlines, for platforms that cannot hold multi-line variables) or the
    ///   path of a PEM file (what a mounted secret gives).
    /// - `JWT_ALGORITHM`: optional; with a public key it defaults to RS256
    ///   for RSA keys and EdDSA for Ed25519 keys (EC keys must name it).
    /// - `JWT_ISSUER`, `JWT_AUDIENCE`: optional required `iss` / `aud` values.
    ///
    /// Exactly one of `JWT_SECRET` and `JWT_PUBLIC_KEY` must be set.
    pub fn from_lookup(lookup: impl Fn(&str) -> Option<String>) -> Result<Self, AuthConfigError> {
        let var = |name: &str| lookup(name).filter(|value| !value.trim().is_empty());
        let algorithm = var("JWT_ALGORITHM")
            .map(|name| parse_algorithm(&name))
            .transpose()?;
        let config = match (var("JWT_SECRET"), var("JWT_PUBLIC_KEY")) {
            (None, None) => return Err(AuthConfigError::NotConfigured),
            (Some(_), Some(_)) => return Err(AuthConfigError::BothKeysConfigured),
            (Some(secret), None) => Self::hmac(algorithm.unwrap_or(Algorithm::HS256), secret)?,
            (None, Some(value)) => {
                let pem = load_pem(&value)?;
                let algorithm = match algorithm {
                    Some(algorithm) => algorithm,
                    None => infer_algorithm(&pem)?,
                };
                Self::public_key_pem(algorithm, pem)?
            }
        };
        let config = match var("JWT_ISSUER") {
            Some(issuer) => config.with_issuer(issuer),
            None => config,
        };
        Ok(match var("JWT_AUDIENCE") {
            Some(audience) => config.with_audience(audience),
            None => config,
        })
    }

    /// Verifies a raw JWT (no `Bearer ` prefix) and returns who it speaks for.
    pub fn authenticate(&self, token: &str) -> Result<Caller, AuthError> {
        let data =
            jsonwebtoken::decode::<Claims>(token, &self.key, &self.validation).map_err(|err| {
                tracing::debug!(reason = ?err.kind(), "rejected bearer token");
                AuthError::from_jwt(err.kind())
            })?;
        data.claims.into_caller()
    }
}

/// Never prints the key: configurations end up in start-up logs.
impl fmt::Debug for AuthConfig {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("AuthConfig")
            .field("algorithm", &self.algorithm)
            .field("issuer", &self.validation.iss)
            .field("audience", &self.validation.aud)
            .field("leeway_secs", &self.validation.leeway)
            .finish_non_exhaustive()
    }
}

fn parse_algorithm(name: &str) -> Result<Algorithm, AuthConfigError> {
    let name = name.trim();
    ALGORITHM_NAMES
        .iter()
        .find(|(known, _)| known.eq_ignore_ascii_case(name))
        .map(|&(_, algorithm)| algorithm)
        .ok_or_else(|| AuthConfigError::UnknownAlgorithm(name.to_owned()))
}

/// `JWT_PUBLIC_KEY` holds either PEM text or a path to a PEM file.
fn load_pem(value: &str) -> Result<String, AuthConfigError> {
    let trimmed = value.trim();
    if trimmed.starts_with("-----BEGIN") {
        // Some platforms only hold single-line variables; accept `\n` escapes.
        if !trimmed.contains('\n') && trimmed.contains("\\n") {
            return Ok(trimmed.replace("\\n", "\n"));
        }
        return Ok(trimmed.to_owned());
    }
    let path = PathBuf::from(trimmed);
    std::fs::read_to_string(&path).map_err(|source| AuthConfigError::ReadPublicKey { path, source })
}

/// The algorithm a public key implies when `JWT_ALGORITHM` is unset: RSA keys
/// have been RS256 everywhere we know of, and Ed25519 has only EdDSA.
fn infer_algorithm(pem: &str) -> Result<Algorithm, AuthConfigError> {
    if pem.contains("PRIVATE KEY-----") {
        return Err(AuthConfigError::PrivateKeyGiven);
    }
    if DecodingKey::from_rsa_pem(pem.as_bytes()).is_ok() {
        Ok(Algorithm::RS256)
    } else if DecodingKey::from_ed_pem(pem.as_bytes()).is_ok() {
        Ok(Algorithm::EdDSA)
    } else {
        Err(AuthConfigError::AlgorithmNotInferable)
    }
}

/// The claims we read; the registered time claims are checked by the library.
#[derive(Debug, Deserialize)]
struct Claims {
    #[serde(default)]
    sub: Option<String>,
    #[serde(default, rename = "walletId")]
    wallet_id: Option<String>,
    // Read loosely: an unexpected shape grants nothing instead of locking
    // every caller out.
    #[serde(default)]
    roles: serde_json::Value,
    #[serde(default)]
    role: serde_json::Value,
}

impl Claims {
    fn into_caller(self) -> Result<Caller, AuthError> {
        let usable = |id: &Option<String>| id.as_deref().is_some_and(|id| !id.trim().is_empty());
        let wallet_id = if usable(&self.sub) {
            self.sub
        } else if usable(&self.wallet_id) {
            self.wallet_id
        } else {
            None
        }
        .ok_or(AuthError::MissingWalletId)?;

        let mut roles = BTreeSet::new();
        for value in [&self.roles, &self.role] {
            match value {
                serde_json::Value::String(role) => {
                    roles.insert(role.clone());
                }
                serde_json::Value::Array(items) => {
                    roles.extend(
                        items
                            .iter()
                            .filter_map(|item| item.as_str().map(str::to_owned)),
                    );
                }
                _ => {}
            }
        }
        Ok(Caller {
            wallet_id,
            roles: roles.into_iter().collect(),
        })
    }
}

/// An authenticated caller. Serializes as `{"walletId": …, "roles": […]}`
/// for a "who am I" answer.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct Caller {
    /// The wallet the token speaks for (`sub`, else `walletId`).
    pub wallet_id: String,
    /// Role names from `roles` and `role`, sorted and without duplicates.
    pub roles: Vec<String>,
}

impl Caller {
    /// Whether the caller holds the [`ADMIN_ROLE`].
    pub fn is_admin(&self) -> bool {
        self.roles.iter().any(|role| role == ADMIN_ROLE)
    }

    /// `Ok` for admins, else [`AuthError::AdminRequired`] (a 403).
    pub fn require_admin(&self) -> Result<(), AuthError> {
        if self.is_admin() {
            Ok(())
        } else {
            Err(AuthError::AdminRequired)
        }
    }
}

/// Why a request was not authenticated (401) or not authorised (403).
///
/// The `Display` text is the client-facing message.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum AuthError {
    /// No token at all.
    #[error("missing bearer token")]
    MissingToken,
    /// An `Authorization` header that is not `Bearer <token>` (e.g. Basic).
    #[error("the Authorization header must be `Bearer <token>`")]
    MalformedAuthorization,
    /// Not a JWT, bad signature, or an algorithm other than the configured one.
    #[error("invalid token")]
    InvalidToken,
    /// `exp` is in the past.
    #[error("token expired")]
    Expired,
    /// `nbf` is in the future.
    #[error("token not yet valid")]
    NotYetValid,
    /// No `exp` claim: tokens that never expire are not accepted.
    #[error("token has no expiry (`exp` claim)")]
    MissingExpiry,
    /// `iss` missing or not the configured issuer.
    #[error("token issuer not accepted")]
    WrongIssuer,
    /// `aud` missing or not containing the configured audience.
    #[error("token audience not accepted")]
    WrongAudience,
    /// Neither `sub` nor `walletId` holds a wallet id.
    #[error("token has no wallet id (`sub` claim)")]
    MissingWalletId,
    /// Authenticated, but the route needs the `admin` role (403).
    #[error("admin role required")]
    AdminRequired,
}

impl AuthError {
    fn from_jwt(kind: &ErrorKind) -> Self {
        match kind {
            ErrorKind::ExpiredSignature => Self::Expired,
            ErrorKind::ImmatureSignature => Self::NotYetValid,
            ErrorKind::InvalidIssuer => Self::WrongIssuer,
            ErrorKind::InvalidAudience => Self::WrongAudience,
            ErrorKind::MissingRequiredClaim(claim) => match claim.as_str() {
                "exp" => Self::MissingExpiry,
                "iss" => Self::WrongIssuer,
                "aud" => Self::WrongAudience,
                _ => Self::InvalidToken,
            },
            // Signature, algorithm and format failures all look alike to the
            // client: distinguishing them only helps an attacker probe.
            _ => Self::InvalidToken,
        }
    }
}

impl axum::response::IntoResponse for AuthError {
    fn into_response(self) -> axum::response::Response {
        ApiError::from(self).into_response()
    }
}

/// The token from `Authorization: Bearer <token>` (scheme case-insensitive,
/// RFC 7235). More than one `Authorization` header is refused as ambiguous.
pub fn bearer_token(headers: &HeaderMap) -> Result<&str, AuthError> {
    let mut values = headers.get_all(AUTHORIZATION).iter();
    let value = values.next().ok_or(AuthError::MissingToken)?;
    if values.next().is_some() {
        return Err(AuthError::MalformedAuthorization);
    }
    let value = value
        .to_str()
        .map_err(|_| AuthError::MalformedAuthorization)?;
    let (scheme, token) = value
        .trim()
        .split_once(' ')
        .ok_or(AuthError::MalformedAuthorization)?;
    let token = token.trim();
    if !scheme.eq_ignore_ascii_case("bearer") || token.is_empty() {
        return Err(AuthError::MalformedAuthorization);
    }
    Ok(token)
}

/// The caller from the `Authorization` header only (REST routes).
pub fn caller_from_header(parts: &Parts, auth: &AuthConfig) -> Result<Caller, AuthError> {
    auth.authenticate(bearer_token(&parts.headers)?)
}

/// The caller for a WebSocket upgrade: the `Authorization` header when there
/// is one (a bad header is not rescued by the query), else the
/// `?access_token=` query parameter, since browsers cannot set headers on a
/// WebSocket.
pub fn caller_from_query_or_header(parts: &Parts, auth: &AuthConfig) -> Result<Caller, AuthError> {
    if parts.headers.contains_key(AUTHORIZATION) {
        return caller_from_header(parts, auth);
    }
    let token = parts
        .uri
        .query()
        .and_then(|query| {
            url::form_urlencoded::parse(query.as_bytes())
                .find(|(name, _)| name == ACCESS_TOKEN_QUERY_PARAM)
                .map(|(_, value)| value.into_owned())
        })
        .filter(|token| !token.is_empty())
        .ok_or(AuthError::MissingToken)?;
    auth.authenticate(&token)
}

/// Extracts the caller from the `Authorization` header; rejects with 401.
impl<S> FromRequestParts<S> for Caller
where
    Arc<AuthConfig>: FromRef<S>,
    S: Send + Sync,
{
    type Rejection = ApiError;

    async fn from_request_parts(parts: &mut Parts, state: &S) -> Result<Self, Self::Rejection> {
        let auth = Arc::<AuthConfig>::from_ref(state);
        Ok(caller_from_header(parts, &auth)?)
    }
}

/// An authenticated caller holding the `admin` role: 401 without a valid
/// token, 403 without the role. For plugin management routes.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct AdminCaller(pub Caller);

impl<S> FromRequestParts<S> for AdminCaller
where
    Arc<AuthConfig>: FromRef<S>,
    S: Send + Sync,
{
    type Rejection = ApiError;

    async fn from_request_parts(parts: &mut Parts, state: &S) -> Result<Self, Self::Rejection> {
        let caller = Caller::from_request_parts(parts, state).await?;
        caller.require_admin()?;
        Ok(Self(caller))
    }
}

/// The caller of a WebSocket upgrade route, from the header or
/// `?access_token=` ([`caller_from_query_or_header`]); rejects with 401
/// before the upgrade.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct WsCaller(pub Caller);

impl<S> FromRequestParts<S> for WsCaller
where
    Arc<AuthConfig>: FromRef<S>,
    S: Send + Sync,
{
    type Rejection = ApiError;

    async fn from_request_parts(parts: &mut Parts, state: &S) -> Result<Self, Self::Rejection> {
        let auth = Arc::<AuthConfig>::from_ref(state);
        Ok(Self(caller_from_query_or_header(parts, &auth)?))
    }
}

#[cfg(test)]
mod tests {
    use axum::body::{Body, to_bytes};
    use axum::http::{Request, StatusCode, header};
    use axum::routing::get;
    use axum::{Json, Router};
    use base64::Engine;
    use base64::engine::general_purpose::URL_SAFE_NO_PAD;
    use jsonwebtoken::{EncodingKey, Header, encode, get_current_timestamp};
    use serde_json::{Value, json};
    use tower::ServiceExt;

    use super::*;

    const SECRET: &str = "a-test-secret-that-is-long-enough-for-hs256";
    const RSA_PRIVATE: &str = include_str!("testdata/rsa_private.pem");
    const RSA_PUBLIC: &str = include_str!("testdata/rsa_public.pem");
    const RSA_OTHER_PRIVATE: &str = include_str!("testdata/rsa_other_private.pem");
    const ED_PRIVATE: &str = include_str!("testdata/ed25519_private.pem");
    const ED_PUBLIC: &str = include_str!("testdata/ed25519_public.pem");

    fn now() -> u64 {
        get_current_timestamp()
    }

    /// Claims of a token valid for ten minutes.
    fn claims(sub: &str) -> Value {
        json!({"sub": sub, "exp": now() + 600})
    }

    fn sign(alg: Algorithm, key: &EncodingKey, claims: &Value) -> String {
        encode(&Header::new(alg), claims, key).unwrap()
    }

    fn hs256_token(claims: &Value) -> String {
        sign(
            Algorithm::HS256,
            &EncodingKey::from_secret(SECRET.as_bytes()),
            claims,
        )
    }

    fn rs256_token(private_pem: &str, claims: &Value) -> String {
        let key = EncodingKey::from_rsa_pem(private_pem.as_bytes()).unwrap();
        sign(Algorithm::RS256, &key, claims)
    }

    fn eddsa_token(claims: &Value) -> String {
        let key = EncodingKey::from_ed_pem(ED_PRIVATE.as_bytes()).unwrap();
        sign(Algorithm::EdDSA, &key, claims)
    }

    fn hs256() -> AuthConfig {
        AuthConfig::hs256(SECRET).unwrap()
    }

    fn app(auth: AuthConfig) -> Router {
        async fn me(caller: Caller) -> Json<Caller> {
            Json(caller)
        }
        async fn plugins(AdminCaller(caller): AdminCaller) -> Json<Value> {
            Json(json!({"admin": caller.wallet_id}))
        }
        async fn ws(WsCaller(caller): WsCaller) -> Json<Value> {
            Json(json!({"walletId": caller.wallet_id}))
        }
        Router::new()
            .route("/me", get(me))
            .route("/plugins", get(plugins))
            .route("/ws", get(ws))
            .with_state(Arc::new(auth))
    }

    /// Sends `GET uri` with the given `Authorization` header value, if any.
    async fn get_with(
        auth: AuthConfig,
        uri: &str,
        authorization: Option<&str>,
    ) -> (StatusCode, Value) {
        let mut request = Request::get(uri);
        if let Some(value) = authorization {
            request = request.header(header::AUTHORIZATION, value);
        }
        let response = app(auth)
            .oneshot(request.body(Body::empty()).unwrap())
            .await
            .unwrap();
        let status = response.status();
        if status == StatusCode::UNAUTHORIZED {
            assert_eq!(response.headers()[header::WWW_AUTHENTICATE], "Bearer");
        }
        let bytes = to_bytes(response.into_body(), 64 * 1024).await.unwrap();
        (status, serde_json::from_slice(&bytes).unwrap())
    }

    async fn get_me(auth: AuthConfig, token: &str) -> (StatusCode, Value) {
        get_with(auth, "/me", Some(&format!("Bearer {token}"))).await
    }

    /// Asserts a 401 in the NestJS shape with exactly `message`.
    async fn assert_rejected(auth: AuthConfig, token: &str, message: &str) {
        let (status, body) = get_me(auth, token).await;
        assert_eq!(status, StatusCode::UNAUTHORIZED, "{body}");
        assert_eq!(
            body,
            json!({"statusCode": 401, "message": message, "error": "Unauthorized"})
        );
    }

    #[tokio::test]
    async fn valid_hs256_token_yields_the_wallet_id_from_sub() {
        let (status, body) = get_me(hs256(), &hs256_token(&claims("0.0.1234"))).await;
        assert_eq!(status, StatusCode::OK);
        assert_eq!(body, json!({"walletId": "0.0.1234", "roles": []}));
    }

    #[tokio::test]
    async fn wallet_id_claim_is_used_when_sub_is_absent() {
        let token = hs256_token(&json!({"walletId": "0.0.77", "exp": now() + 600}));
        let (status, body) = get_me(hs256(), &token).await;
        assert_eq!(status, StatusCode::OK);
        assert_eq!(body["walletId"], "0.0.77");
    }

    #[test]
    fn sub_wins_over_wallet_id_and_blank_sub_falls_back() {
        let auth = hs256();
        let both = json!({"sub": "0.0.1", "walletId": "0.0.2", "exp": now() + 600});
        assert_eq!(
            auth.authenticate(&hs256_token(&both)).unwrap().wallet_id,
            "0.0.1"
        );
        let blank_sub = json!({"sub": " ", "walletId": "0.0.2", "exp": now() + 600});
        assert_eq!(
            auth.authenticate(&hs256_token(&blank_sub))
                .unwrap()
                .wallet_id,
            "0.0.2"
        );
    }

    #[tokio::test]
    async fn token_without_a_usable_wallet_id_is_rejected() {
        let empty_sub = hs256_token(&json!({"sub": "", "exp": now() + 600}));
        assert_rejected(hs256(), &empty_sub, "token has no wallet id (`sub` claim)").await;
        let none = hs256_token(&json!({"exp": now() + 600}));
        assert_rejected(hs256(), &none, "token has no wallet id (`sub` claim)").await;
    }

    #[test]
    fn admin_role_is_read_from_roles_array_or_role_string() {
        let auth = hs256();
        let forms = [
            json!({"roles": ["user", "admin"]}),
            json!({"role": "admin"}),
            json!({"roles": "admin"}),
            json!({"role": ["admin"]}),
        ];
        for extra in forms {
            let mut claims = claims("0.0.5");
            claims
                .as_object_mut()
                .unwrap()
                .extend(extra.as_object().unwrap().clone());
            let caller = auth.authenticate(&hs256_token(&claims)).unwrap();
            assert!(caller.is_admin(), "{claims}");
            assert_eq!(caller.require_admin(), Ok(()));
        }
        for not_admin in [
            json!({"roles": ["user"]}),
            json!({"role": "Admin"}),
            json!({"roles": [{"name": "admin"}]}),
            json!({"admin": true}),
        ] {
            let mut claims = claims("0.0.5");
            claims
                .as_object_mut()
                .unwrap()
                .extend(not_admin.as_object().unwrap().clone());
            let caller = auth.authenticate(&hs256_token(&claims)).unwrap();
            assert!(!caller.is_admin(), "{claims}");
            assert_eq!(caller.require_admin(), Err(AuthError::AdminRequired));
        }
    }

    #[test]
    fn roles_are_merged_sorted_and_deduplicated() {
        let claims =
            json!({"sub": "0.0.5", "exp": now() + 600, "roles": ["b", "admin"], "role": "b"});
        let caller = hs256().authenticate(&hs256_token(&claims)).unwrap();
        assert_eq!(caller.roles, ["admin", "b"]);
    }

    #[tokio::test]
    async fn plugin_management_needs_the_admin_role() {
        let user = hs256_token(&claims("0.0.9"));
        let (status, body) = get_with(hs256(), "/plugins", Some(&format!("Bearer {user}"))).await;
        assert_eq!(status, StatusCode::FORBIDDEN);
        assert_eq!(
            body,
            json!({"statusCode": 403, "message": "admin role required", "error": "Forbidden"})
        );

        let mut admin = claims("0.0.9");
        admin["roles"] = json!(["admin"]);
        let admin = hs256_token(&admin);
        let (status, body) = get_with(hs256(), "/plugins", Some(&format!("Bearer {admin}"))).await;
        assert_eq!(status, StatusCode::OK);
        assert_eq!(body, json!({"admin": "0.0.9"}));

        let (status, _) = get_with(hs256(), "/plugins", None).await;
        assert_eq!(status, StatusCode::UNAUTHORIZED);
    }

    #[tokio::test]
    async fn expired_token_is_rejected() {
        let token = hs256_token(&json!({"sub": "0.0.1", "exp": now() - 60}));
        assert_rejected(hs256(), &token, "token expired").await;
    }

    #[test]
    fn expiry_leeway_is_a_few_seconds_not_a_minute() {
        let auth = hs256();
        let just_expired = hs256_token(&json!({"sub": "0.0.1", "exp": now() - 2}));
        assert!(auth.authenticate(&just_expired).is_ok());
        let expired_30s = hs256_token(&json!({"sub": "0.0.1", "exp": now() - 30}));
        assert_eq!(auth.authenticate(&expired_30s), Err(AuthError::Expired));
    }

    #[tokio::test]
    async fn token_with_nbf_in_the_future_is_rejected() {
        let token = hs256_token(&json!({"sub": "0.0.1", "exp": now() + 7200, "nbf": now() + 3600}));
        assert_rejected(hs256(), &token, "token not yet valid").await;
    }

    #[tokio::test]
    async fn token_without_exp_is_rejected() {
        let token = hs256_token(&json!({"sub": "0.0.1"}));
        assert_rejected(hs256(), &token, "token has no expiry (`exp` claim)").await;
    }

    #[tokio::test]
    async fn token_signed_with_another_secret_is_rejected() {
        let key = EncodingKey::from_secret(b"another-secret-of-reasonable-length!!");
        let token = sign(Algorithm::HS256, &key, &claims("0.0.1"));
        assert_rejected(hs256(), &token, "invalid token").await;
    }

    #[tokio::test]
    async fn token_with_a_tampered_payload_is_rejected() {
        let token = hs256_token(&claims("0.0.1"));
        let mut parts: Vec<&str> = token.split('.').collect();
        let forged = URL_SAFE_NO_PAD.encode(claims("0.0.2").to_string());
        parts[1] = &forged;
        assert_rejected(hs256(), &parts.join("."), "invalid token").await;
    }

    #[tokio::test]
    async fn unsigned_alg_none_token_is_rejected() {
        let payload = URL_SAFE_NO_PAD.encode(claims("0.0.1").to_string());
        for alg in ["none", "None", "NONE"] {
            let header = URL_SAFE_NO_PAD.encode(format!(r#"{{"alg":"{alg}","typ":"JWT"}}"#));
            let token = format!("{header}.{payload}.");
            assert_rejected(hs256(), &token, "invalid token").await;
        }
    }

    #[tokio::test]
    async fn hs256_token_keyed_with_the_rsa_public_key_is_rejected_when_rs256_is_configured() {
        let key = EncodingKey::from_secret(RSA_PUBLIC.as_bytes());
        let token = sign(Algorithm::HS256, &key, &claims("0.0.1"));
        assert_rejected(
            AuthConfig::rs256_pem(RSA_PUBLIC).unwrap(),
            &token,
            "invalid token",
        )
        .await;
    }

    #[tokio::test]
    async fn rs256_token_is_rejected_when_hs256_is_configured_even_with_the_public_key_as_secret() {
        let token = rs256_token(RSA_PRIVATE, &claims("0.0.1"));
        assert_rejected(hs256(), &token, "invalid token").await;
        let confused = AuthConfig::hs256(RSA_PUBLIC).unwrap();
        assert_rejected(confused, &token, "invalid token").await;
    }

    #[tokio::test]
    async fn hs256_token_keyed_with_the_ed25519_public_key_is_rejected_when_eddsa_is_configured() {
        let key = EncodingKey::from_secret(ED_PUBLIC.as_bytes());
        let token = sign(Algorithm::HS256, &key, &claims("0.0.1"));
        assert_rejected(
            AuthConfig::eddsa_pem(ED_PUBLIC).unwrap(),
            &token,
            "invalid token",
        )
        .await;
    }

    #[tokio::test]
    async fn valid_rs256_and_eddsa_tokens_are_accepted_by_their_own_key_only() {
        let rs = rs256_token(RSA_PRIVATE, &claims("0.0.10"));
        let (status, body) = get_me(AuthConfig::rs256_pem(RSA_PUBLIC).unwrap(), &rs).await;
        assert_eq!(
            (status, &body["walletId"]),
            (StatusCode::OK, &json!("0.0.10"))
        );

        let ed = eddsa_token(&claims("0.0.11"));
        let (status, body) = get_me(AuthConfig::eddsa_pem(ED_PUBLIC).unwrap(), &ed).await;
        assert_eq!(
            (status, &body["walletId"]),
            (StatusCode::OK, &json!("0.0.11"))
        );

        // Right algorithm, wrong key: a bad signature.
        let other = rs256_token(RSA_OTHER_PRIVATE, &claims("0.0.10"));
        assert_rejected(
            AuthConfig::rs256_pem(RSA_PUBLIC).unwrap(),
            &other,
            "invalid token",
        )
        .await;
        // Wrong algorithm for the configured key.
        assert_rejected(
            AuthConfig::eddsa_pem(ED_PUBLIC).unwrap(),
            &rs,
            "invalid token",
        )
        .await;
        assert_rejected(
            AuthConfig::rs256_pem(RSA_PUBLIC).unwrap(),
            &ed,
            "invalid token",
        )
        .await;
    }

    #[tokio::test]
    async fn issuer_is_required_and_checked_once_configured() {
        let auth = || hs256().with_issuer("snapshot-auth");
        let mut good = claims("0.0.1");
        good["iss"] = json!("snapshot-auth");
        let (status, _) = get_me(auth(), &hs256_token(&good)).await;
        assert_eq!(status, StatusCode::OK);

        let mut wrong = claims("0.0.1");
        wrong["iss"] = json!("someone-else");
        assert_rejected(auth(), &hs256_token(&wrong), "token issuer not accepted").await;
        assert_rejected(
            auth(),
            &hs256_token(&claims("0.0.1")),
            "token issuer not accepted",
        )
        .await;
    }

    #[tokio::test]
    async fn audience_is_required_and_checked_once_configured() {
        let auth = || hs256().with_audience("snapshot-host");
        for aud in [json!("snapshot-host"), json!(["other", "snapshot-host"])] {
            let mut good = claims("0.0.1");
            good["aud"] = aud;
            let (status, body) = get_me(auth(), &hs256_token(&good)).await;
            assert_eq!(status, StatusCode::OK, "{body}");
        }
        let mut wrong = claims("0.0.1");
        wrong["aud"] = json!("billing");
        assert_rejected(auth(), &hs256_token(&wrong), "token audience not accepted").await;
        assert_rejected(
            auth(),
            &hs256_token(&claims("0.0.1")),
            "token audience not accepted",
        )
        .await;
    }

    #[test]
    fn audience_claim_is_ignored_when_no_audience_is_configured() {
        let mut claims = claims("0.0.1");
        claims["aud"] = json!("anything");
        assert!(hs256().authenticate(&hs256_token(&claims)).is_ok());
    }

    #[tokio::test]
    async fn missing_or_non_bearer_authorization_is_rejected() {
        let (status, body) = get_with(hs256(), "/me", None).await;
        assert_eq!(status, StatusCode::UNAUTHORIZED);
        assert_eq!(
            body,
            json!({"statusCode": 401, "message": "missing bearer token", "error": "Unauthorized"})
        );
        let token = hs256_token(&claims("0.0.1"));
        for value in [
            "Basic dXNlcjpwYXNz".to_owned(),
            "Bearer".to_owned(),
            "Bearer    ".to_owned(),
            token.clone(),
            format!("Token {token}"),
        ] {
            let (status, body) = get_with(hs256(), "/me", Some(&value)).await;
            assert_eq!(status, StatusCode::UNAUTHORIZED, "{value}");
            assert_eq!(
                body["message"],
                "the Authorization header must be `Bearer <token>`"
            );
        }
    }

    #[tokio::test]
    async fn bearer_with_garbage_is_an_invalid_token() {
        for garbage in ["garbage", "a.b.c", "eyJhbGciOiJIUzI1NiJ9.!!!.xyz", "...."] {
            assert_rejected(hs256(), garbage, "invalid token").await;
        }
    }

    #[tokio::test]
    async fn bearer_scheme_is_case_insensitive() {
        let token = hs256_token(&claims("0.0.1"));
        let (status, _) = get_with(hs256(), "/me", Some(&format!("bearer {token}"))).await;
        assert_eq!(status, StatusCode::OK);
    }

    #[test]
    fn two_authorization_headers_are_refused() {
        let mut headers = HeaderMap::new();
        headers.append(AUTHORIZATION, "Bearer a".parse().unwrap());
        headers.append(AUTHORIZATION, "Bearer b".parse().unwrap());
        assert_eq!(
            bearer_token(&headers),
            Err(AuthError::MalformedAuthorization)
        );
    }

    #[tokio::test]
    async fn rest_routes_ignore_the_access_token_query_parameter() {
        let token = hs256_token(&claims("0.0.1"));
        let (status, body) = get_with(hs256(), &format!("/me?access_token={token}"), None).await;
        assert_eq!(status, StatusCode::UNAUTHORIZED);
        assert_eq!(body["message"], "missing bearer token");
    }

    #[tokio::test]
    async fn websocket_routes_accept_the_token_from_the_query_or_the_header() {
        let token = hs256_token(&claims("0.0.3"));
        let (status, body) =
            get_with(hs256(), &format!("/ws?x=1&access_token={token}"), None).await;
        assert_eq!(
            (status, &body["walletId"]),
            (StatusCode::OK, &json!("0.0.3"))
        );

        let (status, _) = get_with(hs256(), "/ws", Some(&format!("Bearer {token}"))).await;
        assert_eq!(status, StatusCode::OK);

        let (status, body) = get_with(hs256(), "/ws?access_token=", None).await;
        assert_eq!(
            (status, &body["message"]),
            (StatusCode::UNAUTHORIZED, &json!("missing bearer token"))
        );

        // A header is authoritative: a bad one is not rescued by the query.
        let uri = format!("/ws?access_token={token}");
        let (status, _) = get_with(hs256(), &uri, Some("Basic dXNlcjpwYXNz")).await;
        assert_eq!(status, StatusCode::UNAUTHORIZED);

        let expired = hs256_token(&json!({"sub": "0.0.3", "exp": now() - 60}));
        let (status, body) = get_with(hs256(), &format!("/ws?access_token={expired}"), None).await;
        assert_eq!(
            (status, &body["message"]),
            (StatusCode::UNAUTHORIZED, &json!("token expired"))
        );
    }

    fn lookup<'a>(vars: &'a [(&'a str, &'a str)]) -> impl Fn(&str) -> Option<String> + 'a {
        move |name| {
            vars.iter()
                .find(|(key, _)| *key == name)
                .map(|(_, value)| (*value).to_owned())
        }
    }

    #[test]
    fn nothing_configured_refuses_to_start_and_says_what_to_set() {
        let err = AuthConfig::from_lookup(lookup(&[("JWT_SECRET", "  ")])).unwrap_err();
        assert!(matches!(err, AuthConfigError::NotConfigured));
        let message = err.to_string();
        for needle in ["JWT_SECRET", "JWT_PUBLIC_KEY", "--insecure-dev"] {
            assert!(message.contains(needle), "{message}");
        }
    }

    #[test]
    fn secret_and_public_key_together_are_refused() {
        let vars = [("JWT_SECRET", SECRET), ("JWT_PUBLIC_KEY", RSA_PUBLIC)];
        let err = AuthConfig::from_lookup(lookup(&vars)).unwrap_err();
        assert!(matches!(err, AuthConfigError::BothKeysConfigured));
    }

    #[test]
    fn env_secret_with_issuer_and_audience_builds_a_strict_hs256_config() {
        let vars = [
            ("JWT_SECRET", SECRET),
            ("JWT_ISSUER", "snapshot-auth"),
            ("JWT_AUDIENCE", "snapshot-host"),
        ];
        let auth = AuthConfig::from_lookup(lookup(&vars)).unwrap();
        assert_eq!(auth.algorithm(), Algorithm::HS256);
        let mut claims = claims("0.0.1");
        claims["iss"] = json!("snapshot-auth");
        claims["aud"] = json!("snapshot-host");
        assert!(auth.authenticate(&hs256_token(&claims)).is_ok());
        claims["iss"] = json!("other");
        assert_eq!(
            auth.authenticate(&hs256_token(&claims)),
            Err(AuthError::WrongIssuer)
        );
    }

    #[test]
    fn public_key_algorithm_is_inferred_from_the_key_type() {
        let auth = AuthConfig::from_lookup(lookup(&[("JWT_PUBLIC_KEY", RSA_PUBLIC)])).unwrap();
        assert_eq!(auth.algorithm(), Algorithm::RS256);
        let auth = AuthConfig::from_lookup(lookup(&[("JWT_PUBLIC_KEY", ED_PUBLIC)])).unwrap();
        assert_eq!(auth.algorithm(), Algorithm::EdDSA);
        assert!(auth.authenticate(&eddsa_token(&claims("0.0.1"))).is_ok());
    }

    #[test]
    fn public_key_may_be_a_file_path_or_single_line_pem() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("jwt.pem");
        std::fs::write(&path, RSA_PUBLIC).unwrap();
        let path = path.to_str().unwrap();
        let auth = AuthConfig::from_lookup(lookup(&[("JWT_PUBLIC_KEY", path)])).unwrap();
        assert!(
            auth.authenticate(&rs256_token(RSA_PRIVATE, &claims("0.0.1")))
                .is_ok()
        );

        let one_line = RSA_PUBLIC.trim().replace('\n', "\\n");
        let auth = AuthConfig::from_lookup(lookup(&[("JWT_PUBLIC_KEY", &one_line)])).unwrap();
        assert_eq!(auth.algorithm(), Algorithm::RS256);

        let missing = dir.path().join("absent.pem");
        let vars = [("JWT_PUBLIC_KEY", missing.to_str().unwrap())];
        let err = AuthConfig::from_lookup(lookup(&vars)).unwrap_err();
        assert!(
            matches!(err, AuthConfigError::ReadPublicKey { .. }),
            "{err}"
        );
    }

    #[test]
    fn misconfigured_keys_and_algorithms_are_refused() {
        let refuse = |vars: &[(&str, &str)]| AuthConfig::from_lookup(lookup(vars)).unwrap_err();
        assert!(matches!(
            refuse(&[("JWT_SECRET", SECRET), ("JWT_ALGORITHM", "none")]),
            AuthConfigError::UnknownAlgorithm(_)
        ));
        assert!(matches!(
            refuse(&[("JWT_SECRET", SECRET), ("JWT_ALGORITHM", "RS256")]),
            AuthConfigError::AlgorithmKeyMismatch { .. }
        ));
        assert!(matches!(
            refuse(&[("JWT_PUBLIC_KEY", RSA_PUBLIC), ("JWT_ALGORITHM", "HS256")]),
            AuthConfigError::AlgorithmKeyMismatch { .. }
        ));
        assert!(matches!(
            refuse(&[("JWT_PUBLIC_KEY", RSA_PUBLIC), ("JWT_ALGORITHM", "EdDSA")]),
            AuthConfigError::InvalidPublicKey { .. }
        ));
        assert!(matches!(
            refuse(&[("JWT_PUBLIC_KEY", RSA_PRIVATE)]),
            AuthConfigError::PrivateKeyGiven
        ));
        assert!(matches!(
            AuthConfig::rs256_pem(RSA_PRIVATE).unwrap_err(),
            AuthConfigError::PrivateKeyGiven
        ));
        assert!(matches!(
            AuthConfig::rs256_pem("-----BEGIN PUBLIC KEY-----\nnope\n-----END PUBLIC KEY-----\n")
                .unwrap_err(),
            AuthConfigError::InvalidPublicKey { .. }
        ));
        let hs384 = AuthConfig::from_lookup(lookup(&[
            ("JWT_SECRET", SECRET),
            ("JWT_ALGORITHM", "hs384"),
        ]));
        assert_eq!(hs384.unwrap().algorithm(), Algorithm::HS384);
    }

    #[test]
    fn debug_output_never_shows_the_secret() {
        let shown = format!("{:?}", hs256().with_issuer("iss"));
        assert!(!shown.contains(SECRET), "{shown}");
        assert!(shown.contains("HS256"), "{shown}");
    }
}
