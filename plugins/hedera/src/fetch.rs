//! The pinned, sharded walk over `/api/v1/tokens/{id}/balances`.
//!
//! 1. **Probe**: two one-row pages (`order=desc` and `order=asc`) at
//!    `timestamp=lte:<at or now>` give the highest and lowest holder account
//!    and the balance snapshot the mirror node resolved (`resolved_at`).
//! 2. **Shards**: `[lowest, highest]` is cut into account-id ranges
//!    (`account.id=gte:A&account.id=lt:B`, which the API ANDs), each with one
//!    page request in flight through the host's `start` / `wait-any`
//!    imports: as soon as a page comes back, the next page of that range is
//!    started, so the round trip is hidden and throughput follows the host's
//!    rate limit instead of one round trip per page. Every later page is
//!    pinned to `timestamp=lte:<resolved_at>` (so a balance file imported
//!    mid-run cannot move the snapshot) and must report exactly
//!    `resolved_at`.
//! 3. **Rebalance**: when ranges finish unevenly, a range whose page just
//!    came back is split into the free slots when it likely holds at least
//!    two more pages, keeping the target parallelism.
//! 4. Rows are emitted as pages arrive, and the range cursors are recorded as
//!    a checkpoint every few pages, so an interrupted run resumes where it
//!    stopped.
//!
//! A shard ends only when the mirror node's `links.next` is null: a short
//! page does not prove the end (the server may clamp `limit`).

use serde::{Deserialize, Serialize};
use snapshot_plugin_sdk::{Holder, PluginError};

use crate::mirror::{BalancesPage, error_text};
use crate::token_id::EntityId;

/// What the walk needs from the host; the plugin wires it to the WIT imports,
/// tests to an in-memory mirror node.
pub trait Host {
    /// Starts a GET request; the handle comes back from `wait_any`.
    fn start(&mut self, url: &str) -> u64;
    /// Waits for at least one started request; `(handle, (status, body))`
    /// for every finished one; empty when none is in flight.
    fn wait_any(&mut self) -> Vec<(u64, Reply)>;
    fn emit(&mut self, holders: &[Holder]) -> Result<(), PluginError>;
    fn checkpoint(&mut self, state: &str);
    fn progress(&mut self, done: u64, total: Option<u64>);
}

/// A finished request: `(status, body)` or the host's error.
pub type Reply = Result<(u16, Vec<u8>), PluginError>;

/// Pages processed between two checkpoints: fewer means less work redone
/// after a crash, more means a smaller journal.
const CHECKPOINT_EVERY_PAGES: usize = 16;

/// Sends GET requests concurrently and returns the replies in order.
fn get_all(host: &mut dyn Host, urls: &[String]) -> Result<Vec<Reply>, PluginError> {
    let handles: Vec<u64> = urls.iter().map(|u| host.start(u)).collect();
    let mut replies: Vec<Option<Reply>> = urls.iter().map(|_| None).collect();
    let mut missing = urls.len();
    while missing > 0 {
        let done = host.wait_any();
        if done.is_empty() {
            return Err(PluginError::Internal("requests lost in flight".into()));
        }
        for (handle, reply) in done {
            if let Some(i) = handles.iter().position(|h| *h == handle) {
                replies[i] = Some(reply);
                missing -= 1;
            }
        }
    }
    Ok(replies
        .into_iter()
        .map(|r| r.expect("every reply collected"))
        .collect())
}

/// Tunables, from the request options.
#[derive(Clone, Debug)]
pub struct WalkOptions {
    /// Target number of concurrent shards (1 = one cursor).
    pub shards: usize,
    /// Rows per page asked for (the mirror node allows at most 100).
    pub page_size: u32,
    /// Lower bound pushed down as `account.balance=gte:` (else `gt:0`).
    pub min_balance: Option<u64>,
}

impl Default for WalkOptions {
    fn default() -> Self {
        WalkOptions {
            shards: 16,
            page_size: 100,
            min_balance: None,
        }
    }
}

/// One account-id range `[start, end)` and how far it has been read.
#[derive(Clone, Debug, Serialize, Deserialize, PartialEq)]
pub struct Shard {
    pub start: u64,
    pub end: u64,
    /// Last account number read; the next page asks for `account.id=gt:after`.
    pub after: Option<u64>,
    /// Holders read from this range so far.
    #[serde(default)]
    pub rows: u64,
    /// Holders per account number expected before this range has read
    /// anything (inherited from the range it was split from).
    #[serde(default = "optimistic_density")]
    pub density_hint: f64,
}

fn optimistic_density() -> f64 {
    1.0
}

impl Shard {
    fn next_start(&self) -> u64 {
        self.after.map_or(self.start, |a| a + 1)
    }

    fn remaining_span(&self) -> u64 {
        self.end.saturating_sub(self.next_start())
    }

    fn fresh(start: u64, end: u64, density_hint: f64) -> Shard {
        Shard {
            start,
            end,
            after: None,
            rows: 0,
            density_hint,
        }
    }

    /// Holders per account number: measured once the range has been read
    /// from, the hint before.
    fn density(&self) -> f64 {
        let covered = self.next_start() - self.start;
        if covered > 0 {
            self.rows as f64 / covered as f64
        } else {
            self.density_hint
        }
    }

    /// A guess of the holders left in the range (planning only).
    fn estimated_rows_left(&self) -> f64 {
        self.remaining_span() as f64 * self.density()
    }
}

/// The resumable state, written after every round.
#[derive(Clone, Debug, Serialize, Deserialize)]
pub struct Checkpoint {
    /// Format version of this state.
    pub v: u32,
    pub token: String,
    /// The `timestamp=lte:` bound of the probe.
    pub pin: String,
    /// The snapshot every page must come from (None: the token had no
    /// holders at `pin`).
    pub resolved_at: Option<String>,
    /// Account-number span covered by the walk, `[lo, hi)`.
    pub lo: u64,
    pub hi: u64,
    pub shards: Vec<Shard>,
    pub rows: u64,
}

/// Result of a finished walk.
#[derive(Debug, PartialEq)]
pub struct WalkResult {
    pub resolved_at: String,
    pub rows: u64,
}

/// Walks every holder of `token` at `pin` (or resumes `resume`).
pub fn walk(
    host: &mut dyn Host,
    base_url: &str,
    token: EntityId,
    pin: &str,
    resume: Option<Checkpoint>,
    opts: &WalkOptions,
) -> Result<WalkResult, PluginError> {
    let target = opts.shards.clamp(1, 256);
    let mut state = match resume {
        Some(cp) => {
            if cp.v != 1 || cp.token != token.to_string() {
                return Err(PluginError::Internal(format!(
                    "checkpoint is for token {} (v{}), not {token}",
                    cp.token, cp.v
                )));
            }
            cp
        }
        None => probe(host, base_url, token, pin, target, opts)?,
    };
    let Some(resolved_at) = state.resolved_at.clone() else {
        return Ok(WalkResult {
            resolved_at: state.pin,
            rows: 0,
        });
    };

    // handle → (start of its range, URL); a range has at most one page in
    // flight, and its start identifies it (ranges partition the space).
    let mut in_flight: std::collections::HashMap<u64, (u64, String)> = Default::default();
    for shard in &state.shards {
        let url = page_url(base_url, token, shard, &resolved_at, opts);
        in_flight.insert(host.start(&url), (shard.start, url));
    }
    let mut pages_since_checkpoint = 0;
    while !in_flight.is_empty() {
        let finished = host.wait_any();
        if finished.is_empty() {
            return Err(PluginError::Internal("requests lost in flight".into()));
        }
        let mut holders = Vec::new();
        for (handle, reply) in finished {
            let (start, url) = in_flight
                .remove(&handle)
                .ok_or_else(|| PluginError::Internal(format!("unknown request {handle}")))?;
            let idx = state
                .shards
                .iter()
                .position(|s| s.start == start)
                .ok_or_else(|| PluginError::Internal(format!("no range starts at {start}")))?;
            let more = read_page(
                &mut state.shards[idx],
                reply,
                &url,
                token,
                &resolved_at,
                &mut holders,
            )?;
            pages_since_checkpoint += 1;
            if !more {
                state.shards.remove(idx);
                continue;
            }
            // This range is idle now: the moment to split it into free slots.
            let free = target.saturating_sub(state.shards.len());
            let tails = split(&mut state.shards[idx], free, opts.page_size);
            for shard in std::iter::once(state.shards[idx].clone()).chain(tails.iter().cloned()) {
                let url = page_url(base_url, token, &shard, &resolved_at, opts);
                in_flight.insert(host.start(&url), (shard.start, url));
            }
            state.shards.extend(tails);
        }
        state.rows += holders.len() as u64;
        host.emit(&holders)?;
        if pages_since_checkpoint >= CHECKPOINT_EVERY_PAGES || in_flight.is_empty() {
            pages_since_checkpoint = 0;
            host.checkpoint(&serde_json::to_string(&state).expect("checkpoint serializes"));
            host.progress(state.rows, estimate_total(&state));
        }
    }
    Ok(WalkResult {
        resolved_at,
        rows: state.rows,
    })
}

fn probe(
    host: &mut dyn Host,
    base_url: &str,
    token: EntityId,
    pin: &str,
    target: usize,
    opts: &WalkOptions,
) -> Result<Checkpoint, PluginError> {
    let balance = balance_filter(opts);
    let urls: Vec<String> = ["desc", "asc"]
        .iter()
        .map(|order| {
            format!(
                "{base_url}/api/v1/tokens/{token}/balances?{balance}&limit=1&order={order}&timestamp=lte:{pin}"
            )
        })
        .collect();
    let mut pages = Vec::new();
    for (reply, url) in get_all(host, &urls)?.into_iter().zip(&urls) {
        pages.push(parse_page(reply, url)?);
    }
    let (highest, lowest) = (&pages[0], &pages[1]);
    let mut cp = Checkpoint {
        v: 1,
        token: token.to_string(),
        pin: pin.to_string(),
        resolved_at: None,
        lo: 0,
        hi: 0,
        shards: Vec::new(),
        rows: 0,
    };
    let (Some(hi_row), Some(lo_row)) = (highest.balances.first(), lowest.balances.first()) else {
        return Ok(cp);
    };
    let resolved = highest.timestamp.clone().ok_or_else(|| {
        PluginError::Upstream(format!("{}: rows without a snapshot timestamp", urls[0]))
    })?;
    check_snapshot(lowest, &resolved, &urls[1])?;
    let parse = |row: &crate::mirror::BalanceRow| {
        EntityId::parse(&row.account)
            .map_err(|e| PluginError::Upstream(format!("bad account in probe reply: {e}")))
    };
    let highest = parse(hi_row)?.num;
    let hi = highest.checked_add(1).ok_or_else(|| {
        PluginError::Upstream(format!(
            "{}: account number {highest} leaves no room for a range end",
            urls[0]
        ))
    })?;
    let lo = parse(lo_row)?.num;
    if lo >= hi {
        return Err(PluginError::Upstream(format!(
            "probe replies disagree: lowest holder {lo} is not below highest {hi}"
        )));
    }
    cp.resolved_at = Some(resolved);
    cp.lo = lo;
    cp.hi = hi;
    let n = (target as u64).min(hi - lo);
    cp.shards = (0..n)
        .map(|i| {
            Shard::fresh(
                cut(lo, hi - lo, i, n),
                cut(lo, hi - lo, i + 1, n),
                optimistic_density(),
            )
        })
        .collect();
    Ok(cp)
}

fn balance_filter(opts: &WalkOptions) -> String {
    match opts.min_balance {
        Some(min) if min > 0 => format!("account.balance=gte:{min}"),
        _ => "account.balance=gt:0".to_string(),
    }
}

fn page_url(
    base_url: &str,
    token: EntityId,
    shard: &Shard,
    resolved_at: &str,
    opts: &WalkOptions,
) -> String {
    let lower = match shard.after {
        Some(after) => format!("gt:{}", token.with_num(after)),
        None => format!("gte:{}", token.with_num(shard.start)),
    };
    format!(
        "{base_url}/api/v1/tokens/{token}/balances?account.id={lower}&account.id=lt:{}&{}&limit={}&order=asc&timestamp=lte:{resolved_at}",
        token.with_num(shard.end),
        balance_filter(opts),
        opts.page_size.clamp(1, 100),
    )
}

fn parse_page(
    reply: Result<(u16, Vec<u8>), PluginError>,
    url: &str,
) -> Result<BalancesPage, PluginError> {
    let (status, body) = reply?;
    if status != 200 {
        return Err(PluginError::Upstream(format!(
            "{url}: HTTP {status}: {}",
            error_text(&body)
        )));
    }
    serde_json::from_slice(&body)
        .map_err(|e| PluginError::Upstream(format!("{url}: malformed balances page: {e}")))
}

/// Every page must come from the pinned snapshot; an empty page may carry no
/// timestamp at all (the mirror node answers `null` for an empty range).
fn check_snapshot(page: &BalancesPage, resolved_at: &str, url: &str) -> Result<(), PluginError> {
    match &page.timestamp {
        Some(ts) if ts != resolved_at => Err(PluginError::Upstream(format!(
            "{url}: inconsistent snapshot: page is from {ts}, the walk is pinned at {resolved_at}"
        ))),
        None if !page.balances.is_empty() => Err(PluginError::Upstream(format!(
            "{url}: rows without a snapshot timestamp"
        ))),
        _ => Ok(()),
    }
}

/// Reads one page of `shard` into `holders`; false when the range is done.
fn read_page(
    shard: &mut Shard,
    reply: Reply,
    url: &str,
    token: EntityId,
    resolved_at: &str,
    holders: &mut Vec<Holder>,
) -> Result<bool, PluginError> {
    let page = parse_page(reply, url)?;
    check_snapshot(&page, resolved_at, url)?;
    let mut last = shard.after;
    for row in &page.balances {
        let account = EntityId::parse(&row.account)
            .map_err(|e| PluginError::Upstream(format!("{url}: bad account in reply: {e}")))?;
        let in_order = last.is_none_or(|l| account.num > l);
        if account.shard != token.shard
            || account.realm != token.realm
            || account.num < shard.next_start()
            || account.num >= shard.end
            || !in_order
        {
            return Err(PluginError::Upstream(format!(
                "{url}: account {account} is outside the requested range or out of order"
            )));
        }
        if row.balance < 0 {
            return Err(PluginError::Upstream(format!(
                "{url}: negative balance {} for {account}",
                row.balance
            )));
        }
        last = Some(account.num);
        shard.rows += 1;
        if row.balance > 0 {
            holders.push(Holder::new(account.to_string(), row.balance.to_string()));
        }
    }
    match (&page.links.next, last == shard.after) {
        (None, _) => Ok(false),
        (Some(next), true) => Err(PluginError::Upstream(format!(
            "{url}: an empty page links to {next}; refusing to loop"
        ))),
        (Some(_), false) => {
            shard.after = last;
            Ok(true)
        }
    }
}

/// Splits what is left of `shard` into up to `free + 1` equal ranges (the
/// first stays `shard`), when it likely holds at least two pages per part:
/// each split costs one extra partly-filled page. Returns the new ranges.
fn split(shard: &mut Shard, free: usize, page_size: u32) -> Vec<Shard> {
    let pages_left = shard.estimated_rows_left() / f64::from(page_size.max(1));
    if free == 0 || pages_left < 2.0 || shard.remaining_span() < 2 {
        return Vec::new();
    }
    let parts = ((free + 1) as u64)
        .min((pages_left / 2.0) as u64)
        .min(shard.remaining_span())
        .max(2);
    let (from, span, density) = (shard.next_start(), shard.remaining_span(), shard.density());
    let cut = |i: u64| cut(from, span, i, parts);
    shard.end = cut(1);
    (1..parts)
        .map(|i| Shard::fresh(cut(i), cut(i + 1), density))
        .collect()
}

/// The `i`-th of `parts` equal cuts of `[from, from + span)`: `from +
/// span * i / parts`, computed wide so that no account-id range, however
/// large a reply made it, overflows.
fn cut(from: u64, span: u64, i: u64, parts: u64) -> u64 {
    from + (u128::from(span) * u128::from(i) / u128::from(parts)) as u64
}

fn covered_span(state: &Checkpoint) -> u64 {
    let remaining: u64 = state.shards.iter().map(Shard::remaining_span).sum();
    (state.hi - state.lo).saturating_sub(remaining)
}

/// Holders seen so far scaled by the share of the account space covered: a
/// rough total for a progress bar, never used for the result.
fn estimate_total(state: &Checkpoint) -> Option<u64> {
    let covered = covered_span(state);
    if covered == 0 {
        return None;
    }
    if state.shards.is_empty() {
        return Some(state.rows);
    }
    let span = state.hi - state.lo;
    Some(((state.rows as u128 * span as u128) / covered as u128) as u64)
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::collections::BTreeMap;

    /// An in-memory mirror node answering the URLs the walk builds.
    struct FakeMirror {
        snapshot: String,
        balances: BTreeMap<u64, i64>,
        requests: usize,
        emitted: Vec<Holder>,
        checkpoints: Vec<String>,
        /// Most requests in flight at once.
        max_batch: usize,
        /// Requests started and not yet answered: (handle, url).
        pending: Vec<(u64, String)>,
        next_handle: u64,
        /// `wait_any` calls: the walk's sequential depth, since every call
        /// answers everything in flight.
        waits: usize,
    }

    impl FakeMirror {
        fn new(holders: impl IntoIterator<Item = (u64, i64)>) -> Self {
            FakeMirror {
                snapshot: "1700000000.000000000".into(),
                balances: holders.into_iter().collect(),
                requests: 0,
                emitted: Vec::new(),
                checkpoints: Vec::new(),
                max_batch: 0,
                pending: Vec::new(),
                next_handle: 0,
                waits: 0,
            }
        }

        fn answer(&self, url: &str) -> String {
            let query = url.split_once('?').unwrap().1;
            let (mut lo, mut hi, mut limit, mut desc) = (0u64, u64::MAX, 25usize, false);
            for pair in query.split('&') {
                let (k, v) = pair.split_once('=').unwrap();
                let num = |v: &str| v.rsplit('.').next().unwrap().parse::<u64>().unwrap();
                match (k, v.split_once(':')) {
                    ("account.id", Some(("gte", x))) => lo = lo.max(num(x)),
                    ("account.id", Some(("gt", x))) => lo = lo.max(num(x) + 1),
                    ("account.id", Some(("lt", x))) => hi = hi.min(num(x)),
                    ("limit", _) => limit = v.parse::<usize>().unwrap().min(100),
                    ("order", _) => desc = v == "desc",
                    _ => {}
                }
            }
            let mut rows: Vec<(u64, i64)> = self
                .balances
                .range(lo..hi)
                .filter(|(_, b)| **b > 0)
                .map(|(a, b)| (*a, *b))
                .collect();
            if desc {
                rows.reverse();
            }
            let full = rows.len() > limit;
            rows.truncate(limit);
            let next = if full || rows.len() == limit {
                format!(
                    "\"/api/v1/next?account.id=gt:0.0.{}\"",
                    rows.last().unwrap().0
                )
            } else {
                "null".into()
            };
            let ts = if rows.is_empty() {
                "null".to_string()
            } else {
                format!("\"{}\"", self.snapshot)
            };
            let body: Vec<String> = rows
                .iter()
                .map(|(a, b)| format!(r#"{{"account":"0.0.{a}","balance":{b},"decimals":2}}"#))
                .collect();
            format!(
                r#"{{"timestamp":{ts},"balances":[{}],"links":{{"next":{next}}}}}"#,
                body.join(",")
            )
        }
    }

    impl Host for FakeMirror {
        fn start(&mut self, url: &str) -> u64 {
            self.requests += 1;
            self.next_handle += 1;
            self.pending.push((self.next_handle, url.to_string()));
            self.max_batch = self.max_batch.max(self.pending.len());
            self.next_handle
        }
        fn wait_any(&mut self) -> Vec<(u64, Reply)> {
            self.waits += 1;
            std::mem::take(&mut self.pending)
                .into_iter()
                .map(|(h, u)| (h, Ok((200, self.answer(&u).into_bytes()))))
                .collect()
        }
        fn emit(&mut self, holders: &[Holder]) -> Result<(), PluginError> {
            self.emitted.extend_from_slice(holders);
            Ok(())
        }
        fn checkpoint(&mut self, state: &str) {
            self.checkpoints.push(state.to_string());
        }
        fn progress(&mut self, _: u64, _: Option<u64>) {}
    }

    fn token() -> EntityId {
        EntityId::parse("0.0.1000").unwrap()
    }

    fn emitted_map(h: &[Holder]) -> BTreeMap<String, String> {
        h.iter()
            .map(|h| (h.account.clone(), h.balance.clone()))
            .collect()
    }

    fn expected(m: &FakeMirror) -> BTreeMap<String, String> {
        m.balances
            .iter()
            .filter(|(_, b)| **b > 0)
            .map(|(a, b)| (format!("0.0.{a}"), b.to_string()))
            .collect()
    }

    /// Skewed ids: dense low accounts, sparse high ones, some zero balances.
    fn skewed(n: u64) -> Vec<(u64, i64)> {
        (0..n)
            .map(|i| {
                let account = if i % 10 == 0 {
                    5_000_000 + i * 997
                } else {
                    1_000 + i
                };
                let balance = if i % 13 == 0 { 0 } else { (i as i64 + 1) * 7 };
                (account, balance)
            })
            .chain([(9_999_999, i64::MAX)])
            .collect()
    }

    #[test]
    fn sharded_walk_returns_every_holder_once() {
        let mut m = FakeMirror::new(skewed(5_000));
        let r = walk(
            &mut m,
            "http://x",
            token(),
            "2000000000.0",
            None,
            &WalkOptions::default(),
        )
        .unwrap();
        assert_eq!(r.resolved_at, "1700000000.000000000");
        assert_eq!(m.emitted.len(), expected(&m).len(), "no duplicates");
        assert_eq!(emitted_map(&m.emitted), expected(&m));
        assert_eq!(m.max_batch, 16);
    }

    #[test]
    fn one_cursor_walk_matches_the_sharded_one() {
        let mut m = FakeMirror::new(skewed(1_000));
        let opts = WalkOptions {
            shards: 1,
            ..WalkOptions::default()
        };
        walk(&mut m, "http://x", token(), "2000000000.0", None, &opts).unwrap();
        assert_eq!(emitted_map(&m.emitted), expected(&m));
        assert_eq!(m.max_batch, 2, "probe pair, then one page at a time");
    }

    #[test]
    fn shards_are_rebalanced_when_one_range_holds_most_holders() {
        // All holders in the first 1/16 of the span: without splitting, one
        // shard would do all the work.
        let holders = (0..3_000u64).map(|i| (10 + i, 5)).chain([(1_000_000, 1)]);
        let mut m = FakeMirror::new(holders);
        walk(
            &mut m,
            "http://x",
            token(),
            "2000000000.0",
            None,
            &WalkOptions::default(),
        )
        .unwrap();
        assert_eq!(emitted_map(&m.emitted), expected(&m));
        let rounds = m.waits;
        assert!(
            rounds < 12,
            "30 pages should take few rounds, took {rounds}"
        );
    }

    #[test]
    fn resuming_from_any_checkpoint_gives_the_same_holders() {
        let mut full = FakeMirror::new(skewed(2_000));
        walk(
            &mut full,
            "http://x",
            token(),
            "2000000000.0",
            None,
            &WalkOptions::default(),
        )
        .unwrap();
        for cp in full.checkpoints.iter().step_by(3) {
            let cp: Checkpoint = serde_json::from_str(cp).unwrap();
            let mut resumed = FakeMirror::new(skewed(2_000));
            resumed.emitted = full.emitted[..cp.rows as usize].to_vec();
            walk(
                &mut resumed,
                "http://x",
                token(),
                "ignored",
                Some(cp),
                &WalkOptions::default(),
            )
            .unwrap();
            assert_eq!(emitted_map(&resumed.emitted), expected(&resumed));
        }
    }

    #[test]
    fn a_page_from_another_snapshot_fails_loudly() {
        struct Drifting(FakeMirror);
        impl Host for Drifting {
            fn start(&mut self, url: &str) -> u64 {
                self.0.start(url)
            }
            fn wait_any(&mut self) -> Vec<(u64, Reply)> {
                let r = self.0.wait_any();
                self.0.snapshot = "1700000900.000000000".into();
                r
            }
            fn emit(&mut self, h: &[Holder]) -> Result<(), PluginError> {
                self.0.emit(h)
            }
            fn checkpoint(&mut self, s: &str) {
                self.0.checkpoint(s)
            }
            fn progress(&mut self, d: u64, t: Option<u64>) {
                self.0.progress(d, t)
            }
        }
        let mut m = Drifting(FakeMirror::new(skewed(500)));
        let err = walk(
            &mut m,
            "http://x",
            token(),
            "2000000000.0",
            None,
            &WalkOptions::default(),
        )
        .unwrap_err();
        assert!(
            matches!(&err, PluginError::Upstream(m) if m.contains("inconsistent snapshot")),
            "{err:?}"
        );
    }

    #[test]
    fn a_token_without_holders_resolves_to_the_pin() {
        let mut m = FakeMirror::new([(5, 0)]);
        let r = walk(
            &mut m,
            "http://x",
            token(),
            "1234.000000000",
            None,
            &WalkOptions::default(),
        )
        .unwrap();
        assert_eq!(
            r,
            WalkResult {
                resolved_at: "1234.000000000".into(),
                rows: 0
            }
        );
        assert!(m.emitted.is_empty());
    }

    // ----- hostile replies: the walk never panics and never loops -----
    //
    // A mirror node that answers like `FakeMirror`, then spoils its replies
    // in turn: cut short, a byte changed, another status, another body, a
    // transport error, a number swapped for an extreme one. Whatever it
    // says, `walk` returns: `Ok` with exactly the holders when nothing was
    // spoiled, otherwise `Ok` or an error, and never a panic or an endless
    // walk. 256 cases; `PROPTEST_CASES=20000 cargo test -p
    // snapshot-plugin-hedera hostile` for a longer run.

    use proptest::prelude::*;
    use snapshot_plugin_sdk::hostile;

    /// How one reply is spoiled; [`hostile::Spoil::Value`] is `(n, text)`:
    /// the `n`-th number of the body replaced by `text`.
    type Spoil = hostile::Spoil<(usize, String)>;

    fn spoil() -> impl Strategy<Value = Spoil> {
        let extreme = prop_oneof![
            Just("18446744073709551615".to_string()),
            Just("18446744073709551616".to_string()),
            Just("9223372036854775807".to_string()),
            Just("9223372036854775808".to_string()),
            Just("-9223372036854775808".to_string()),
            Just("-1".to_string()),
            Just("0".to_string()),
            Just("1e400".to_string()),
            Just("1.5".to_string()),
            Just("\"0\"".to_string()),
            Just("null".to_string()),
            any::<u64>().prop_map(|n| n.to_string()),
        ];
        hostile::spoil(
            prop_oneof![Just(400u16), Just(404), Just(429), Just(500), any::<u16>()],
            prop_oneof![
                Just(String::new()),
                Just("null".to_string()),
                Just("[]".to_string()),
                Just(r#"{"timestamp":null,"balances":[],"links":{"next":"/again"}}"#.to_string()),
                Just(r#"{"_status":{"messages":[{"message":"hostile"}]}}"#.to_string()),
                "\\PC{0,40}",
            ],
            (any::<usize>(), extreme),
        )
    }

    /// Replaces the `n`-th (mod count) run of digits in `body` by `text`.
    fn swap_number(body: &str, n: usize, text: &str) -> String {
        let bytes = body.as_bytes();
        let mut runs = Vec::new();
        let mut i = 0;
        while i < bytes.len() {
            if bytes[i].is_ascii_digit() {
                let start = i;
                while i < bytes.len() && bytes[i].is_ascii_digit() {
                    i += 1;
                }
                runs.push((start, i));
            } else {
                i += 1;
            }
        }
        match runs.get(n % runs.len().max(1)) {
            Some(&(start, end)) => format!("{}{text}{}", &body[..start], &body[end..]),
            None => body.to_string(),
        }
    }

    /// Requests answered before the hostile mirror fails everything: a
    /// walk still going then is looping.
    const REQUEST_BUDGET: usize = 5_000;

    struct HostileMirror {
        fake: FakeMirror,
        spoils: Vec<Spoil>,
        answered: usize,
    }

    impl HostileMirror {
        fn reply(&mut self, url: &str) -> Reply {
            self.answered += 1;
            if self.answered > REQUEST_BUDGET {
                return Err(PluginError::Upstream("request budget spent".into()));
            }
            // The fake itself may choke on what a spoiled reply led the walk
            // to ask; that is the fake's limit, answered as a server error.
            let body = match std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| {
                self.fake.answer(url)
            })) {
                Ok(body) => body,
                Err(_) => return Ok((500, b"fake mirror cannot answer".to_vec())),
            };
            let spoil = &self.spoils[(self.answered - 1) % self.spoils.len()];
            hostile::apply(spoil, (200, body.into_bytes()), |body, (n, text)| {
                swap_number(body, *n, text)
            })
        }
    }

    impl Host for HostileMirror {
        fn start(&mut self, url: &str) -> u64 {
            self.fake.start(url)
        }
        fn wait_any(&mut self) -> Vec<(u64, Reply)> {
            let pending = std::mem::take(&mut self.fake.pending);
            pending
                .into_iter()
                .map(|(h, url)| (h, self.reply(&url)))
                .collect()
        }
        fn emit(&mut self, holders: &[Holder]) -> Result<(), PluginError> {
            self.fake.emit(holders)
        }
        fn checkpoint(&mut self, state: &str) {
            self.fake.checkpoint(state)
        }
        fn progress(&mut self, done: u64, total: Option<u64>) {
            self.fake.progress(done, total)
        }
    }

    proptest! {
        #[test]
        fn hostile_replies_end_the_walk_with_an_answer_never_a_panic(
            holders in proptest::collection::btree_map(1u64..100_000, 0i64..i64::MAX, 0..120),
            spoils in proptest::collection::vec(spoil(), 1..12),
            shards in 1usize..20,
            page_size in 1u32..30,
        ) {
            let clean = spoils.iter().all(|s| matches!(s, Spoil::Nothing));
            let mut mirror = HostileMirror {
                fake: FakeMirror::new(holders),
                spoils,
                answered: 0,
            };
            let opts = WalkOptions { shards, page_size, min_balance: None };
            let outcome = walk(&mut mirror, "http://x", token(), "2000000000.0", None, &opts);
            prop_assert!(mirror.answered <= REQUEST_BUDGET, "the walk kept asking");
            if clean {
                let result = outcome.map_err(|e| TestCaseError::fail(format!("{e:?}")))?;
                prop_assert_eq!(result.rows as usize, expected(&mirror.fake).len());
                prop_assert_eq!(emitted_map(&mirror.fake.emitted), expected(&mirror.fake));
            }
        }
    }
}
