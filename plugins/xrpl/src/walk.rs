//! The pinned, marker-driven walk over an issuer's holders, and the sum
//! check.
//!
//! 1. **Pin.** The first request reads `ledger_index: "validated"` (or the
//!    requested ledger); the integer `ledger_index` of its reply is the
//!    snapshot's ledger, and every later page sends that integer with the
//!    `marker`. A marker is only a position, not bound to a ledger, so
//!    sending it alone would read a newer ledger. Every reply must name the
//!    pinned ledger (and the same hash, when it gives one), or the walk
//!    stops with `upstream`.
//! 2. **Pages.** One method per token kind: `account_lines` (trust lines,
//!    keeping lines of the token's currency whose balance is negative from
//!    the issuer's side), Clio `mpt_holders`, Clio `nfts_by_issuer` (one
//!    entry per NFT, `entry-id` = NFT id). The walk ends only when a reply
//!    has no `marker`: servers return empty pages that still link on. The
//!    next page's request leaves as soon as a reply's envelope names the
//!    marker ([`Host::start`]); the page is decoded, checked and emitted
//!    while that request travels, so only the envelope pass adds to each
//!    round trip.
//! 3. **Durability.** After every page the holders are emitted and a
//!    [`Checkpoint`] (ledger, marker, counts) recorded; a resumed job
//!    continues from the marker at the same ledger.
//! 4. **Sum check.** The ledger's own total at the same ledger
//!    (`gateway_balances` obligations, or an MPT issuance's
//!    `OutstandingAmount`) goes to the host, which compares it with the exact
//!    sum of the holders. Its request is sent once the walk is pinned and
//!    collected after the last page ([`Ahead`]).
//!
//! Backpressure: the host retries HTTP 429/5xx itself. XRPL servers also
//! signal load inside 200 replies: a `"warning": "load"` (the answer is still
//! good: tell the host to [`Host::throttle`] and go on) or a `slowDown` /
//! `tooBusy` error (throttle and send the same request again, a bounded
//! number of times, then `rate-limited`).

use serde::{Deserialize, Serialize};
use serde_json::{Map, Value, json};
use snapshot_plugin_sdk::{FetchSummary, Holder, PluginError, ReportedTotal, TotalCheck};

use crate::amount::{self, Sign};
use crate::rpc::{
    self, AccountLines, GatewayBalances, LedgerMeta, LedgerSel, MPTOKEN_AUTHORIZED, MPTOKEN_LOCKED,
    MptHolders, MptIssuanceEntry, NftsByIssuer, Outcome, Reply, RpcError,
};
use crate::token_id::{Address, Currency, MptIssuanceId, TokenId};

/// Suggested wait (ms) returned with `rate-limited` when the server stays
/// busy.
pub const BUSY_WAIT_MS: u32 = 10_000;

/// Significant digits of XRPL issued-currency amounts (and so of totals).
pub const IOU_SIGNIFICANT_DIGITS: u32 = 16;

/// A request [`Host::start`]ed and not yet collected with [`Host::wait`].
#[derive(Debug)]
pub enum Pending {
    /// Still on the wire: the host's handle.
    InFlight(u64),
    /// Already answered (a host without background requests sends at once).
    Done(Result<(u16, Vec<u8>), PluginError>),
}

/// What the walk needs from the host; the plugin wires it to the WIT imports,
/// tests to an in-memory XRPL server.
pub trait Host {
    /// POSTs a JSON body to `url`; `(status, body)`.
    fn post(&mut self, url: &str, body: Vec<u8>) -> Result<(u16, Vec<u8>), PluginError>;
    /// Starts a POST without waiting for its answer (collect it with
    /// [`Host::wait`]), so that a page is processed while the next one is on
    /// the wire. By default it is sent at once.
    fn start(&mut self, url: &str, body: Vec<u8>) -> Pending {
        Pending::Done(self.post(url, body))
    }
    /// The answer to a started request: `(status, body)`.
    fn wait(&mut self, pending: Pending) -> Result<(u16, Vec<u8>), PluginError> {
        match pending {
            Pending::Done(answer) => answer,
            Pending::InFlight(handle) => Err(PluginError::Internal(format!(
                "request {handle} was started on a host that cannot wait for it"
            ))),
        }
    }
    /// Asks the host to pause requests to `url`'s upstream (its own backoff).
    fn throttle(&mut self, url: &str);
    fn emit(&mut self, holders: &[Holder]) -> Result<(), PluginError>;
    fn checkpoint(&mut self, state: &str);
    fn progress(&mut self, done: u64, total: Option<u64>);
    /// A warning for the job log.
    fn warn(&mut self, message: &str);
}

/// Tunables, from the request options.
#[derive(Clone, Debug)]
pub struct Options {
    /// `limit` of `account_lines` (rippled clamps to 10..=400).
    pub lines_limit: u32,
    /// `limit` of `mpt_holders` / `nfts_by_issuer` (Clio's max is 100).
    pub clio_limit: u32,
    /// How often a `slowDown` / `tooBusy` reply is re-sent.
    pub busy_retries: u32,
}

impl Default for Options {
    fn default() -> Self {
        Options {
            lines_limit: 400,
            clio_limit: 100,
            busy_retries: 20,
        }
    }
}

/// Why a call failed: the server's own error, or anything else.
#[derive(Debug)]
pub enum CallError {
    Rpc(RpcError),
    Failed(PluginError),
}

impl From<PluginError> for CallError {
    fn from(e: PluginError) -> Self {
        CallError::Failed(e)
    }
}

/// Sends one JSON-RPC request, handling the server's load signals.
pub fn call(
    host: &mut dyn Host,
    url: &str,
    opts: &Options,
    method: &str,
    params: Map<String, Value>,
) -> Result<Reply, CallError> {
    let body = rpc::request_body(method, params);
    let pending = host.start(url, body.clone());
    complete(host, url, opts, method, &body, pending)
}

/// Waits for `pending`, the request `body` already started, and reads its
/// reply, sending `body` again while the server says it is busy.
fn complete(
    host: &mut dyn Host,
    url: &str,
    opts: &Options,
    method: &str,
    body: &[u8],
    pending: Pending,
) -> Result<Reply, CallError> {
    let mut pending = Some(pending);
    for _ in 0..=opts.busy_retries {
        let sent = pending
            .take()
            .unwrap_or_else(|| host.start(url, body.to_vec()));
        let (status, reply) = host.wait(sent)?;
        match rpc::parse_envelope(&reply) {
            Ok(Outcome::Error(e)) if e.is_busy() => {
                host.throttle(url);
                continue;
            }
            Ok(Outcome::Error(e)) => return Err(CallError::Rpc(e)),
            Ok(Outcome::Success(r)) if status == 200 => {
                if r.load_warning {
                    host.warn(&format!(
                        "{method}: the server reports high load; asking the host to slow down"
                    ));
                    host.throttle(url);
                }
                return Ok(r);
            }
            Ok(Outcome::Success(_)) => {
                return Err(CallError::Failed(PluginError::Upstream(format!(
                    "{method} at {url}: HTTP {status} with a success body"
                ))));
            }
            Err(why) => {
                return Err(CallError::Failed(PluginError::Upstream(format!(
                    "{method} at {url}: HTTP {status}: {why}; body starts with {:?}",
                    preview(&reply)
                ))));
            }
        }
    }
    Err(CallError::Failed(PluginError::RateLimited(BUSY_WAIT_MS)))
}

fn preview(body: &[u8]) -> String {
    String::from_utf8_lossy(&body[..body.len().min(200)]).into_owned()
}

/// Decodes a success reply into its typed shape (in one pass over the
/// reply's text; borrowed fields point into `reply`).
pub fn typed<'a, T: Deserialize<'a>>(method: &str, reply: &'a Reply) -> Result<T, PluginError> {
    reply
        .decode()
        .map_err(|e| PluginError::Upstream(format!("{method}: unexpected reply: {e}")))
}

/// The usual meaning of a server error while reading `token`.
pub fn rpc_failure(method: &str, token: &TokenId, at: Option<u32>, e: &RpcError) -> PluginError {
    match e.error.as_str() {
        "actNotFound" => PluginError::NotFound(format!(
            "issuer {} does not exist{} ({method}: {e})",
            token.issuer(),
            at.map(|a| format!(" in ledger {a}")).unwrap_or_default()
        )),
        "entryNotFound" | "objectNotFound" => {
            PluginError::NotFound(format!("{token} does not exist ({method}: {e})"))
        }
        "lgrNotFound" if at.is_some() => PluginError::NotFound(format!(
            "ledger {} is not available on this server ({method}: {e}); ask a full-history server",
            at.unwrap_or_default()
        )),
        "unknownCmd" | "notSupported" if method == "mpt_holders" || method == "nfts_by_issuer" => {
            PluginError::Upstream(format!(
                "{method}: {e}; this method is served by Clio, point the endpoint at a Clio server"
            ))
        }
        _ => PluginError::Upstream(format!("{method}: {e}")),
    }
}

/// Which method a walk pages through.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum WalkKind {
    TrustLines,
    MptHolders,
    Nfts,
}

impl WalkKind {
    pub fn of(token: &TokenId) -> WalkKind {
        match token {
            TokenId::Issued { .. } => WalkKind::TrustLines,
            TokenId::Mpt(_) => WalkKind::MptHolders,
            TokenId::Nft { .. } => WalkKind::Nfts,
        }
    }

    pub fn method(self) -> &'static str {
        match self {
            WalkKind::TrustLines => "account_lines",
            WalkKind::MptHolders => "mpt_holders",
            WalkKind::Nfts => "nfts_by_issuer",
        }
    }
}

/// The resumable state, written after every page.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct Checkpoint {
    /// Format version of this state.
    pub v: u32,
    /// Canonical token id.
    pub token: String,
    pub kind: WalkKind,
    /// The pinned ledger.
    pub ledger_index: u32,
    #[serde(default)]
    pub ledger_hash: Option<String>,
    /// Where the next page starts; `None` once `done`.
    #[serde(default)]
    pub marker: Option<Value>,
    /// Every page has been read (only the sum check is left).
    #[serde(default)]
    pub done: bool,
    pub pages: u64,
    /// Holder entries emitted so far.
    pub emitted: u64,
}

/// The ledger every reply of one snapshot must come from.
#[derive(Debug, Default)]
struct Pin {
    ledger: Option<u32>,
    hash: Option<String>,
}

impl Pin {
    fn selector(&self) -> LedgerSel {
        self.ledger.map_or(LedgerSel::Validated, LedgerSel::Index)
    }

    /// Checks a reply against the pin (and pins on the first one).
    fn check(&mut self, method: &str, meta: &LedgerMeta) -> Result<u32, PluginError> {
        let Some(rpc::LedgerIndex(index)) = meta.ledger_index else {
            return Err(PluginError::Upstream(format!(
                "{method}: the reply does not say which ledger it read (no `ledger_index`); \
                 the snapshot cannot be pinned"
            )));
        };
        if meta.validated == Some(false) {
            return Err(PluginError::Upstream(format!(
                "{method}: ledger {index} is not validated"
            )));
        }
        match self.ledger {
            Some(pinned) if pinned != index => {
                return Err(PluginError::Upstream(format!(
                    "{method}: inconsistent snapshot: the reply is from ledger {index}, \
                     the walk is pinned at ledger {pinned}"
                )));
            }
            _ => self.ledger = Some(index),
        }
        if let Some(hash) = &meta.ledger_hash {
            match &self.hash {
                Some(known) if !known.eq_ignore_ascii_case(hash) => {
                    return Err(PluginError::Upstream(format!(
                        "{method}: ledger {index} has hash {hash} here but {known} before"
                    )));
                }
                _ => self.hash = Some(hash.to_ascii_uppercase()),
            }
        }
        Ok(index)
    }
}

/// Result of a finished walk.
#[derive(Debug, PartialEq)]
pub struct WalkResult {
    pub ledger_index: u32,
    pub ledger_hash: Option<String>,
    pub emitted: u64,
    pub pages: u64,
}

/// Walks every holder of `token` at ledger `at` (or the latest validated
/// ledger), or resumes `resume`. Once the ledger is pinned, the sum check's
/// request is sent too, into `total` (see [`Ahead`]).
pub fn walk(
    host: &mut dyn Host,
    url: &str,
    token: &TokenId,
    at: Option<u32>,
    resume: Option<Checkpoint>,
    opts: &Options,
    total: &mut Option<Ahead>,
) -> Result<WalkResult, PluginError> {
    let kind = WalkKind::of(token);
    let mut state = match resume {
        Some(cp) => {
            if cp.v != 1 || cp.token != token.to_string() || cp.kind != kind {
                return Err(PluginError::Internal(format!(
                    "checkpoint is for {} {:?} (v{}), not {token}",
                    cp.token, cp.kind, cp.v
                )));
            }
            if let Some(a) = at
                && a != cp.ledger_index
            {
                return Err(PluginError::Internal(format!(
                    "checkpoint is pinned at ledger {} but the request asks for ledger {a}",
                    cp.ledger_index
                )));
            }
            cp
        }
        None => Checkpoint {
            v: 1,
            token: token.to_string(),
            kind,
            ledger_index: at.unwrap_or(0),
            ledger_hash: None,
            marker: None,
            done: false,
            pages: 0,
            emitted: 0,
        },
    };
    let mut pin = Pin {
        ledger: (state.pages > 0 || at.is_some()).then_some(state.ledger_index),
        hash: state.ledger_hash.clone(),
    };

    let method = kind.method();
    // The request for the page at `state.marker`, when it is already on the
    // wire: each page's request leaves as soon as the previous reply's
    // envelope names the marker, and that page is decoded, checked and
    // emitted while the next one travels. The walk stays one marker chain;
    // only the plugin's and the host's own work leaves the round trip.
    let mut next: Option<Pending> = None;
    while !state.done {
        let body = rpc::request_body(
            method,
            page_params(token, pin.selector(), state.marker.as_ref(), opts),
        );
        let pending = next.take().unwrap_or_else(|| host.start(url, body.clone()));
        let reply = match complete(host, url, opts, method, &body, pending) {
            Ok(r) => r,
            // Only a ledger the caller asked for (`at`) is "not found" when
            // the server lacks it; a pinned "validated" ledger missing on a
            // later page is a server problem worth a retry.
            Err(CallError::Rpc(e)) => return Err(rpc_failure(method, token, at, &e)),
            Err(CallError::Failed(e)) => return Err(e),
        };
        state.ledger_index = pin.check(method, &reply.head.meta)?;
        state.ledger_hash = pin.hash.clone();
        let marker = reply.head.marker.clone();
        if marker.is_some() && marker == state.marker {
            return Err(PluginError::Upstream(format!(
                "{method}: the server returned the marker it was sent ({}); refusing to loop",
                state
                    .marker
                    .as_ref()
                    .map(Value::to_string)
                    .unwrap_or_default()
            )));
        }
        if let Some(m) = &marker {
            let params = page_params(token, pin.selector(), Some(m), opts);
            next = Some(host.start(url, rpc::request_body(method, params)));
        }
        if total.is_none() {
            *total = Ahead::total(host, url, token, state.ledger_index);
        }
        let holders = read_page(kind, token, &reply)?;
        host.emit(&holders)?;
        state.emitted += holders.len() as u64;
        state.pages += 1;
        state.done = marker.is_none();
        state.marker = marker;
        host.checkpoint(&serde_json::to_string(&state).expect("checkpoint serializes"));
        host.progress(state.emitted, None);
    }
    Ok(WalkResult {
        ledger_index: state.ledger_index,
        ledger_hash: state.ledger_hash,
        emitted: state.emitted,
        pages: state.pages,
    })
}

fn page_params(
    token: &TokenId,
    ledger: LedgerSel,
    marker: Option<&Value>,
    opts: &Options,
) -> Map<String, Value> {
    let mut p = Map::new();
    match token {
        // Never `ignore_default`: from the issuer's side nearly every line is
        // in its default state, so it would hide the holders.
        TokenId::Issued { issuer, .. } => {
            p.insert("account".into(), json!(issuer.to_string()));
            p.insert("limit".into(), json!(opts.lines_limit));
        }
        TokenId::Mpt(id) => {
            p.insert("mpt_issuance_id".into(), json!(id.to_string()));
            p.insert("limit".into(), json!(opts.clio_limit));
        }
        TokenId::Nft { issuer, taxon } => {
            p.insert("issuer".into(), json!(issuer.to_string()));
            if let Some(t) = taxon {
                p.insert("nft_taxon".into(), json!(t));
            }
            p.insert("limit".into(), json!(opts.clio_limit));
        }
    }
    p.insert("ledger_index".into(), ledger.to_json());
    if let Some(m) = marker {
        p.insert("marker".into(), m.clone());
    }
    p
}

/// The holders of one page (its ledger and marker are read, with the
/// envelope, into `reply.head`).
fn read_page(kind: WalkKind, token: &TokenId, reply: &Reply) -> Result<Vec<Holder>, PluginError> {
    let method = kind.method();
    let bad = |what: String| PluginError::Upstream(format!("{method}: {what}"));
    // A checksum-verified classic address has exactly one spelling, so the
    // server's text is the canonical one: no need to encode it again.
    let holder_address = |text: &str| {
        Address::parse(text)
            .map(|_| text.to_string())
            .map_err(|e| bad(format!("bad holder account in reply: {e}")))
    };
    match (kind, token) {
        (WalkKind::TrustLines, TokenId::Issued { currency, issuer }) => {
            let page: AccountLines = typed(method, reply)?;
            if page.account != issuer.to_string() {
                return Err(bad(format!(
                    "asked for the lines of {issuer}, got those of {}",
                    page.account
                )));
            }
            let mut holders = Vec::with_capacity(page.lines.len());
            for line in &page.lines {
                if Currency::from_reply(&line.currency) != Some(*currency) {
                    continue;
                }
                let sign = amount::sign(&line.balance)
                    .map_err(|e| bad(format!("balance of {}: {e}", line.account)))?;
                // Positive: the issuer holds the peer's IOU, not a holding.
                if sign != Sign::Negative {
                    continue;
                }
                let balance = amount::negate(&line.balance).map_err(bad)?;
                let mut h = Holder::new(holder_address(&line.account)?, balance);
                for (set, name) in [
                    (line.freeze, "freeze"),
                    (line.deep_freeze, "deep_freeze"),
                    (line.freeze_peer, "freeze_peer"),
                    (line.deep_freeze_peer, "deep_freeze_peer"),
                    (line.authorized, "authorized"),
                ] {
                    if set {
                        h.attributes.push((name.into(), "true".into()));
                    }
                }
                holders.push(h);
            }
            Ok(holders)
        }
        (WalkKind::MptHolders, TokenId::Mpt(id)) => {
            let page: MptHolders = typed(method, reply)?;
            if !page.mpt_issuance_id.eq_ignore_ascii_case(&id.to_string()) {
                return Err(bad(format!(
                    "asked for issuance {id}, got {}",
                    page.mpt_issuance_id
                )));
            }
            let mut holders = Vec::new();
            for t in &page.mptokens {
                let raw = t.mpt_amount.as_deref().unwrap_or("0");
                let value =
                    parse_u64(raw).map_err(|e| bad(format!("mpt_amount of {}: {e}", t.account)))?;
                if value == 0 {
                    continue;
                }
                let mut h = Holder::new(holder_address(&t.account)?, value.to_string());
                if t.flags & MPTOKEN_LOCKED != 0 {
                    h.attributes.push(("locked".into(), "true".into()));
                }
                if t.flags & MPTOKEN_AUTHORIZED != 0 {
                    h.attributes.push(("authorized".into(), "true".into()));
                }
                if let Some(locked) = &t.locked_amount {
                    let locked = parse_u64(locked)
                        .map_err(|e| bad(format!("locked_amount of {}: {e}", t.account)))?;
                    if locked > 0 {
                        h.attributes
                            .push(("locked_amount".into(), locked.to_string()));
                    }
                }
                holders.push(h);
            }
            Ok(holders)
        }
        (WalkKind::Nfts, TokenId::Nft { issuer, taxon }) => {
            let page: NftsByIssuer = typed(method, reply)?;
            let issuer_text = issuer.to_string();
            if page.issuer != issuer_text {
                return Err(bad(format!(
                    "asked for the NFTs of {issuer}, got those of {}",
                    page.issuer
                )));
            }
            let mut holders = Vec::new();
            for nft in &page.nfts {
                if nft.issuer != issuer_text {
                    return Err(bad(format!(
                        "NFT {} is issued by {}, not {issuer}",
                        nft.nft_id, nft.issuer
                    )));
                }
                if nft.is_burned || taxon.is_some_and(|t| t != nft.nft_taxon) {
                    continue;
                }
                if nft.nft_id.len() != 64 || !nft.nft_id.bytes().all(|b| b.is_ascii_hexdigit()) {
                    return Err(bad(format!("NFT id {:?} is not 64 hex digits", nft.nft_id)));
                }
                let mut h = Holder::new(holder_address(&nft.owner)?, "1");
                h.entry_id = Some(nft.nft_id.to_ascii_uppercase());
                holders.push(h);
            }
            Ok(holders)
        }
        _ => Err(PluginError::Internal(format!(
            "walk {kind:?} does not fit token {token}"
        ))),
    }
}

/// An unsigned 64-bit integer in decimal text, exactly.
fn parse_u64(text: &str) -> Result<u64, String> {
    if !amount::is_plain_unsigned_integer(text) {
        return Err(format!("{text:?} is not an unsigned integer"));
    }
    text.parse::<u64>()
        .map_err(|_| format!("{text:?} is above 2^64"))
}

/// A request sent before its answer is needed: the sum check's, sent as
/// soon as the walk has pinned its ledger, so that its round trip (and the
/// server's work on it) overlaps the walk instead of following it.
#[derive(Debug)]
pub struct Ahead {
    method: &'static str,
    /// The ledger it reads.
    ledger: u32,
    body: Vec<u8>,
    pending: Pending,
}

impl Ahead {
    /// Sends the sum check's request for `token` at `ledger` (none for an
    /// NFT collection, whose total no ledger method reports).
    pub fn total(host: &mut dyn Host, url: &str, token: &TokenId, ledger: u32) -> Option<Ahead> {
        let (method, params) = total_request(token, ledger)?;
        let body = rpc::request_body(method, params);
        let pending = host.start(url, body.clone());
        Some(Ahead {
            method,
            ledger,
            body,
            pending,
        })
    }
}

/// The method and params that ask the ledger for `token`'s total at
/// `ledger`.
fn total_request(token: &TokenId, ledger: u32) -> Option<(&'static str, Map<String, Value>)> {
    match token {
        TokenId::Issued { issuer, .. } => {
            let mut p = Map::new();
            p.insert("account".into(), json!(issuer.to_string()));
            p.insert("strict".into(), json!(true));
            p.insert("ledger_index".into(), json!(ledger));
            Some(("gateway_balances", p))
        }
        TokenId::Mpt(id) => Some((
            "ledger_entry",
            mpt_entry_params(id, LedgerSel::Index(ledger)),
        )),
        TokenId::Nft { .. } => None,
    }
}

/// The reply to the sum check's request at `ledger`: the one sent ahead
/// when it is that request, else one sent now.
fn total_reply(
    host: &mut dyn Host,
    url: &str,
    opts: &Options,
    token: &TokenId,
    ledger: u32,
    ahead: Option<Ahead>,
) -> Option<Result<Reply, CallError>> {
    let (method, params) = total_request(token, ledger)?;
    Some(
        match ahead.filter(|a| a.ledger == ledger && a.method == method) {
            Some(a) => complete(host, url, opts, a.method, &a.body, a.pending),
            None => call(host, url, opts, method, params),
        },
    )
}

/// The ledger's own total, and the ledger hash its reply named.
#[derive(Debug)]
pub struct Total {
    pub check: Option<TotalCheck>,
    pub ledger_hash: Option<String>,
}

/// Asks the ledger for its own total at the pinned ledger (collecting the
/// request sent `ahead` during the walk, when there is one). A failure here
/// is recorded as `unavailable` rather than failing the job: every holder
/// is already emitted and exact, and the document says the check was not
/// made (only a cancellation stops the job).
pub fn total_check(
    host: &mut dyn Host,
    url: &str,
    token: &TokenId,
    walked: &WalkResult,
    opts: &Options,
    ahead: Option<Ahead>,
) -> Result<Total, PluginError> {
    let ledger = walked.ledger_index;
    let unavailable = |why: String| {
        Ok(Total {
            check: Some(TotalCheck::Unavailable(why)),
            ledger_hash: None,
        })
    };
    match token {
        TokenId::Issued { currency, .. } => {
            let reply = total_reply(host, url, opts, token, ledger, ahead)
                .expect("issued tokens have a sum-check request");
            let g: GatewayBalances = match reply {
                Ok(reply) => match typed("gateway_balances", &reply) {
                    Ok(g) => g,
                    Err(e) => return unavailable(error_text(&e)),
                },
                Err(CallError::Failed(PluginError::Cancelled)) => {
                    return Err(PluginError::Cancelled);
                }
                Err(CallError::Rpc(e)) => {
                    return unavailable(format!("gateway_balances failed: {e}"));
                }
                Err(CallError::Failed(e)) => {
                    return unavailable(format!("gateway_balances failed: {}", error_text(&e)));
                }
            };
            if g.meta.ledger_index != Some(rpc::LedgerIndex(ledger)) {
                return unavailable(format!(
                    "gateway_balances answered for ledger {:?}, not the snapshot's {ledger}",
                    g.meta.ledger_index.map(|l| l.0)
                ));
            }
            if let (Some(ours), Some(theirs)) = (&walked.ledger_hash, &g.meta.ledger_hash)
                && !ours.eq_ignore_ascii_case(theirs)
            {
                return unavailable(format!(
                    "gateway_balances read ledger {ledger} with hash {theirs}, the walk {ours}"
                ));
            }
            Ok(Total {
                check: Some(issued_total(&g, currency, walked.emitted)),
                ledger_hash: g.meta.ledger_hash.map(|h| h.to_ascii_uppercase()),
            })
        }
        TokenId::Mpt(_) => Ok(Total {
            check: Some(mpt_total(host, url, token, ledger, opts, ahead)?),
            ledger_hash: None,
        }),
        // No ledger method reports a count of a collection's NFTs.
        TokenId::Nft { .. } => Ok(Total {
            check: None,
            ledger_hash: None,
        }),
    }
}

fn issued_total(g: &GatewayBalances, currency: &Currency, emitted: u64) -> TotalCheck {
    let unavailable = TotalCheck::Unavailable;
    let obligations = g
        .obligations
        .iter()
        .find(|(c, _)| Currency::from_reply(c) == Some(*currency))
        .map(|(_, v)| v.clone());
    // gateway_balances leaves lines the issuer froze out of `obligations`
    // (they are listed per holder in `frozen_balances`), but they are holders
    // all the same: add them back, exactly.
    let mut frozen: Option<String> = None;
    for values in g.frozen_balances.values() {
        for v in values {
            if Currency::from_reply(&v.currency) != Some(*currency) {
                continue;
            }
            let sum = amount::add(frozen.as_deref().unwrap_or("0"), &v.value);
            match sum {
                Ok(s) => frozen = Some(s),
                Err(e) => return unavailable(format!("gateway_balances.frozen_balances: {e}")),
            }
        }
    }
    let (value, source) = match (obligations, frozen) {
        (Some(o), None) => (o, "gateway_balances.obligations"),
        (Some(o), Some(f)) => match amount::add(&o, &f) {
            Ok(s) => (s, "gateway_balances.obligations+frozen_balances"),
            Err(e) => return unavailable(format!("gateway_balances.obligations: {e}")),
        },
        (None, Some(f)) => (f, "gateway_balances.frozen_balances"),
        (None, None) if emitted == 0 => ("0".to_string(), "gateway_balances.obligations"),
        (None, None) => {
            return unavailable(format!(
                "gateway_balances reports no obligations in {currency} although {emitted} \
                 holders were found"
            ));
        }
    };
    if let Err(e) = amount::check(&value) {
        return unavailable(format!("gateway_balances: {e}"));
    }
    TotalCheck::Reported(ReportedTotal {
        value,
        significant_digits: IOU_SIGNIFICANT_DIGITS,
        source: source.into(),
    })
}

fn mpt_total(
    host: &mut dyn Host,
    url: &str,
    token: &TokenId,
    ledger: u32,
    opts: &Options,
    ahead: Option<Ahead>,
) -> Result<TotalCheck, PluginError> {
    let unavailable = |why: String| Ok(TotalCheck::Unavailable(why));
    let reply =
        total_reply(host, url, opts, token, ledger, ahead).expect("MPTs have a sum-check request");
    let entry: MptIssuanceEntry = match reply {
        Ok(reply) => match typed("ledger_entry", &reply) {
            Ok(e) => e,
            Err(e) => return unavailable(error_text(&e)),
        },
        Err(CallError::Failed(PluginError::Cancelled)) => return Err(PluginError::Cancelled),
        Err(CallError::Rpc(e)) => return unavailable(format!("ledger_entry failed: {e}")),
        Err(CallError::Failed(e)) => {
            return unavailable(format!("ledger_entry failed: {}", error_text(&e)));
        }
    };
    if entry.meta.ledger_index != Some(rpc::LedgerIndex(ledger)) {
        return unavailable(format!(
            "ledger_entry answered for ledger {:?}, not the snapshot's {ledger}",
            entry.meta.ledger_index.map(|l| l.0)
        ));
    }
    let outstanding = match entry.node.outstanding_amount.as_deref().map(parse_u64) {
        None => 0,
        Some(Ok(v)) => v,
        Some(Err(e)) => return unavailable(format!("OutstandingAmount: {e}")),
    };
    // Amounts in escrow stay in OutstandingAmount but leave the holders'
    // MPTAmount.
    let locked = match entry.node.locked_amount.as_deref().map(parse_u64) {
        None => 0,
        Some(Ok(v)) => v,
        Some(Err(e)) => return unavailable(format!("LockedAmount: {e}")),
    };
    let Some(value) = outstanding.checked_sub(locked) else {
        return unavailable(format!(
            "LockedAmount {locked} is above OutstandingAmount {outstanding}"
        ));
    };
    Ok(TotalCheck::Reported(ReportedTotal {
        value: value.to_string(),
        significant_digits: 0,
        source: if locked > 0 {
            "ledger_entry.MPTokenIssuance.OutstandingAmount-LockedAmount".into()
        } else {
            "ledger_entry.MPTokenIssuance.OutstandingAmount".into()
        },
    }))
}

/// `ledger_entry` params for an MPT issuance.
pub fn mpt_entry_params(id: &MptIssuanceId, ledger: LedgerSel) -> Map<String, Value> {
    let mut p = Map::new();
    p.insert("mpt_issuance".into(), json!(id.to_string()));
    p.insert("ledger_index".into(), ledger.to_json());
    p
}

fn error_text(e: &PluginError) -> String {
    match e {
        PluginError::InvalidToken(m)
        | PluginError::NotFound(m)
        | PluginError::Upstream(m)
        | PluginError::Timeout(m)
        | PluginError::Denied(m)
        | PluginError::Internal(m) => m.clone(),
        PluginError::RateLimited(ms) => {
            format!("the server stayed busy (retry in {ms} ms)")
        }
        PluginError::Cancelled => "cancelled".into(),
    }
}

/// The whole `fetch-all-token-balances`: the walk, then the sum check.
pub fn fetch(
    host: &mut dyn Host,
    url: &str,
    token: &TokenId,
    at: Option<u32>,
    resume: Option<Checkpoint>,
    opts: &Options,
) -> Result<FetchSummary, PluginError> {
    let mut ahead = None;
    let walked = walk(host, url, token, at, resume, opts, &mut ahead)?;
    let total = total_check(host, url, token, &walked, opts, ahead)?;
    let mut attributes = vec![(
        "method".to_string(),
        WalkKind::of(token).method().to_string(),
    )];
    if let Some(hash) = walked.ledger_hash.or(total.ledger_hash) {
        attributes.push(("ledger_hash".into(), hash));
    }
    Ok(FetchSummary {
        resolved_at: walked.ledger_index.to_string(),
        holders_emitted: walked.emitted,
        total_check: total.check,
        attributes,
    })
}

#[cfg(test)]
pub(crate) mod fake;

#[cfg(test)]
mod tests;

#[cfg(test)]
mod hostile;
