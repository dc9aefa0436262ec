//! `GET /snapshots/{jobId}/summary`: what the web page's snapshot view
//! draws, aggregated here so a browser never receives every holder.
//!
//! A document can hold millions of holders; a chart needs a few dozen
//! numbers. This route streams the job's stored JSON document once (never
//! holding it in memory: the holders array is folded as it is parsed) and
//! answers the holder count, the resolved point in time, the exact total, the
//! top N holders exactly as the document has them, the cumulative share of
//! the total held by the top 1, 2, 5, 10, 20, 50, ... holders, and a
//! histogram of balances by power of ten (in whole tokens). Every sum is an
//! exact [`Amount`]; shares are exact ratios rounded half-to-even, as the
//! document's own `share`.
//!
//! Authorized exactly like `GET /snapshots/{jobId}`: the caller's own job,
//! any other is a 404.

use std::collections::BTreeMap;
use std::fmt;
use std::io::{BufReader, Read};

use axum::Json;
use axum::extract::rejection::{PathRejection, QueryRejection};
use axum::extract::{Path, Query, State};
use futures::TryStreamExt;
use serde::de::{self, DeserializeSeed, SeqAccess, Visitor};
use serde::{Deserialize, Deserializer, Serialize};
use tokio_util::io::{StreamReader, SyncIoBridge};
use utoipa::{IntoParams, ToSchema};
use utoipa_axum::router::OpenApiRouter;
use utoipa_axum::routes;

use crate::api::auth::Caller;
use crate::api::error::{ApiError, ErrorBody};
use crate::api::openapi::TAG_SNAPSHOTS;
use crate::api::rest::own_document;
use crate::api::state::AppState;
use crate::jobs::documents::DocumentFormat;
use crate::snapshot::Amount;
use crate::snapshot::document::{SHARE_DECIMAL_PLACES, TokenKind};

/// Most top holders one summary lists.
pub const MAX_TOP: usize = 1000;
/// Top holders listed when `top` is absent.
pub const DEFAULT_TOP: usize = 100;

/// The route, registered from its `#[utoipa::path]`.
pub fn router() -> OpenApiRouter<AppState> {
    OpenApiRouter::default().routes(routes!(summary))
}

/// Query of `GET /snapshots/{jobId}/summary`; unknown parameters are
/// refused (400).
#[derive(Debug, Deserialize, IntoParams)]
#[serde(deny_unknown_fields)]
#[into_params(parameter_in = Query)]
struct SummaryQuery {
    /// How many of the largest holders to list.
    #[param(minimum = 1, maximum = 1000, default = 100)]
    top: Option<usize>,
}

/// A completed snapshot, aggregated.
#[derive(Debug, Clone, PartialEq, Serialize, ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct SnapshotSummary {
    pub job_id: String,
    #[schema(example = "hedera")]
    pub chain: String,
    #[schema(example = "mainnet")]
    pub network: String,
    #[schema(example = "0.0.5000")]
    pub token_id: String,
    pub token: TokenSummary,
    /// The ledger point every page of the snapshot was read at.
    #[schema(example = "1700000000.000000000")]
    pub resolved_at: String,
    pub holder_count: u64,
    /// Exact sum of every holder's balance, in the token's smallest unit.
    #[schema(example = "918173542921761099332")]
    pub total_balance: String,
    /// The same in whole tokens (`decimals` applied exactly).
    pub total_balance_formatted: String,
    /// The minimum balance the snapshot kept, if one was asked for.
    pub min_balance: Option<String>,
    /// The largest holders, exactly as the document lists them (at most
    /// `top`).
    pub top: Vec<TopHolder>,
    /// The share of the total held by the top 1, 2, 5, 10, 20, 50, ...
    /// holders; the last entry is every holder.
    pub cumulative: Vec<CumulativeShare>,
    /// Holders by the power of ten of their balance in whole tokens, from
    /// the smallest to the largest populated power, gaps included (count 0).
    /// Holders with a negative balance are counted in `negativeCount`
    /// instead.
    pub histogram: Vec<HistogramBucket>,
    /// Holders with a negative balance (a ledger may report some; they rank
    /// last).
    pub negative_count: u64,
}

/// What the document says about the token.
#[derive(Debug, Clone, PartialEq, Serialize, ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct TokenSummary {
    pub name: String,
    pub symbol: String,
    pub decimals: u32,
    /// `fungible` or `non_fungible`.
    #[schema(example = "fungible")]
    pub kind: String,
    /// Total supply in smallest units, as the ledger reported it.
    pub total_supply: Option<String>,
}

/// One of the largest holders.
#[derive(Debug, Clone, PartialEq, Serialize, ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct TopHolder {
    pub rank: u64,
    pub account: String,
    /// Exact, in smallest units.
    pub balance: String,
    /// Exact, in whole tokens.
    pub balance_formatted: String,
    /// Share of the total, 12 decimal places.
    pub share: String,
}

/// What the `holders` largest holders hold together.
#[derive(Debug, Clone, PartialEq, Serialize, ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct CumulativeShare {
    pub holders: u64,
    /// Exact sum, in smallest units.
    pub balance: String,
    /// Exact sum, in whole tokens.
    pub balance_formatted: String,
    /// Share of the total, 12 decimal places.
    pub share: String,
}

/// Holders whose balance, in whole tokens, is in `[10^exponent,
/// 10^(exponent+1))`.
#[derive(Debug, Clone, PartialEq, Serialize, ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct HistogramBucket {
    #[schema(example = 3)]
    pub exponent: i64,
    pub count: u64,
    /// Exact sum of their balances, in smallest units.
    pub balance: String,
    /// Share of the total, 12 decimal places.
    pub share: String,
}

/// A completed snapshot's aggregates
///
/// Holder count, resolved point in time, exact total, the top holders, the
/// cumulative share of the top 1, 2, 5, 10, ... holders and a histogram of
/// balances by power of ten: what a chart needs, without every row. Another
/// wallet's job is a 404, as on `GET /snapshots/{jobId}`.
#[utoipa::path(
    get,
    path = "/snapshots/{jobId}/summary",
    tag = TAG_SNAPSHOTS,
    params(("jobId" = String, Path, description = "Id of the job"), SummaryQuery),
    responses(
        (status = 200, description = "The aggregates.", body = SnapshotSummary),
        (status = 400, description = "`top` outside 1–1000, or a malformed or unknown query parameter.", body = ErrorBody),
        (status = 401, description = "Missing or invalid bearer token.", body = ErrorBody),
        (status = 404, description = "No such job of the caller's.", body = ErrorBody),
        (status = 408, description = "Longer than the request timeout (60 s). Empty body."),
        (status = 409, description = "The job has not completed.", body = ErrorBody),
        (status = 500, description = "The document could not be read; `correlationId` names the log line.", body = ErrorBody),
        (status = 503, description = "The job store is unreachable, or the document is not stored here and the IPFS node did not provide it.", body = ErrorBody),
    ),
    security(("bearerAuth" = [])),
)]
async fn summary(
    State(state): State<AppState>,
    caller: Caller,
    job_id: Result<Path<String>, PathRejection>,
    query: Result<Query<SummaryQuery>, QueryRejection>,
) -> Result<Json<SnapshotSummary>, ApiError> {
    let Path(job_id) = job_id?;
    let Query(q) = query?;
    let top = q.top.unwrap_or(DEFAULT_TOP);
    if !(1..=MAX_TOP).contains(&top) {
        return Err(ApiError::BadRequest(format!(
            "top must be between 1 and {MAX_TOP}"
        )));
    }
    let (job, body) = own_document(&state, &caller, &job_id, DocumentFormat::Json).await?;
    let cid = job.ipfs_cid.clone().unwrap_or_default();
    // Parse while the bytes stream in, on a blocking thread: memory is the
    // top holders kept, not the document.
    let stream = body.into_data_stream().map_err(std::io::Error::other);
    let reader = SyncIoBridge::new(StreamReader::new(stream));
    let aggregated = tokio::task::spawn_blocking(move || summarize(BufReader::new(reader), top))
        .await
        .map_err(|e| ApiError::Internal(anyhow::anyhow!("summarizing {cid}: {e}")))?
        .map_err(|e| ApiError::Internal(anyhow::anyhow!("summarizing {cid}: {e}")))?;
    Ok(Json(SnapshotSummary {
        job_id,
        ..aggregated
    }))
}

/// Folds a JSON snapshot document (as `CanonicalSnapshot::write_json`
/// writes it) into its summary, listing `top` holders. `jobId` is left
/// empty. Fails on a malformed document, or one whose holders do not add up
/// to its own `holder_count` and `total_balance`.
pub fn summarize(reader: impl Read, top: usize) -> Result<SnapshotSummary, SummaryError> {
    let document: Document = serde_json::from_reader(reader).map_err(SummaryError::Parse)?;
    let folded = document.holders;
    if folded.count != document.holder_count {
        return Err(SummaryError::Inconsistent(format!(
            "holder_count is {} but the document lists {} holders",
            document.holder_count, folded.count
        )));
    }
    if folded.sum != document.total_balance {
        return Err(SummaryError::Inconsistent(format!(
            "total_balance is {} but the holders add up to {}",
            document.total_balance, folded.sum
        )));
    }
    let total = &document.total_balance;
    let decimals = document.token.decimals;
    let share = |part: &Amount| Amount::ratio_string(part, total, SHARE_DECIMAL_PLACES);

    let mut cumulative: Vec<CumulativeShare> = folded
        .cumulative
        .iter()
        .map(|(holders, sum)| CumulativeShare {
            holders: *holders,
            balance: sum.to_string(),
            balance_formatted: sum.scaled_down(decimals).to_string(),
            share: share(sum),
        })
        .collect();
    if folded.count > 0 && cumulative.last().is_none_or(|c| c.holders != folded.count) {
        cumulative.push(CumulativeShare {
            holders: folded.count,
            balance: total.to_string(),
            balance_formatted: total.scaled_down(decimals).to_string(),
            share: share(total),
        });
    }

    // Every power between the smallest and largest populated one, so a
    // chart's x axis has no holes.
    let histogram = match (
        folded.buckets.keys().next(),
        folded.buckets.keys().next_back(),
    ) {
        (Some(&low), Some(&high)) => (low..=high)
            .map(|raw| {
                let (count, sum) = folded
                    .buckets
                    .get(&raw)
                    .cloned()
                    .unwrap_or((0, Amount::zero()));
                HistogramBucket {
                    exponent: raw - i64::from(decimals),
                    count,
                    share: share(&sum),
                    balance: sum.to_string(),
                }
            })
            .collect(),
        _ => Vec::new(),
    };

    let mut top_holders = folded.top;
    top_holders.truncate(top);
    Ok(SnapshotSummary {
        job_id: String::new(),
        chain: document.chain,
        network: document.network,
        token_id: document.token_id,
        token: TokenSummary {
            name: document.token.name,
            symbol: document.token.symbol,
            decimals,
            kind: document.token.kind.as_str().to_string(),
            total_supply: document.token.total_supply,
        },
        resolved_at: document.resolved_at,
        holder_count: folded.count,
        total_balance: total.to_string(),
        total_balance_formatted: document.total_balance_formatted,
        min_balance: document.min_balance.map(|m| m.to_string()),
        top: top_holders,
        cumulative,
        histogram,
        negative_count: folded.negative,
    })
}

/// Why a stored document could not be summarized (a 500: we wrote it).
#[derive(Debug, thiserror::Error)]
pub enum SummaryError {
    #[error("not a snapshot document: {0}")]
    Parse(serde_json::Error),
    #[error("inconsistent document: {0}")]
    Inconsistent(String),
}

/// The document's fields the summary uses; `holders` is folded while parsed.
#[derive(Deserialize)]
struct Document {
    chain: String,
    network: String,
    token_id: String,
    token: DocumentToken,
    resolved_at: String,
    holder_count: u64,
    total_balance: Amount,
    total_balance_formatted: String,
    min_balance: Option<Amount>,
    holders: Folded,
}

#[derive(Deserialize)]
struct DocumentToken {
    name: String,
    symbol: String,
    decimals: u32,
    kind: TokenKind,
    total_supply: Option<String>,
}

/// One holder row of the document (its `attributes` are skipped).
#[derive(Deserialize)]
struct Row {
    rank: u64,
    account: String,
    balance: Amount,
    balance_formatted: String,
    share: String,
}

/// The holders array, folded row by row.
#[derive(Default)]
struct Folded {
    count: u64,
    sum: Amount,
    /// The first [`MAX_TOP`] rows (the document is in rank order).
    top: Vec<TopHolder>,
    /// `(n, sum of the first n balances)` at n = 1, 2, 5, 10, 20, 50, ...
    cumulative: Vec<(u64, Amount)>,
    /// Power of ten of the balance in smallest units → (holders, sum).
    buckets: BTreeMap<i64, (u64, Amount)>,
    negative: u64,
}

impl Folded {
    fn add(&mut self, row: Row) -> Result<(), String> {
        self.count += 1;
        if row.rank != self.count {
            return Err(format!(
                "holder {} has rank {}, not {}",
                row.account, row.rank, self.count
            ));
        }
        self.sum += &row.balance;
        if is_one_two_five(self.count) {
            self.cumulative.push((self.count, self.sum.clone()));
        }
        match decimal_exponent(&row.balance) {
            Some(exponent) => {
                let bucket = self.buckets.entry(exponent).or_default();
                bucket.0 += 1;
                bucket.1 += &row.balance;
            }
            None => self.negative += 1,
        }
        if self.top.len() < MAX_TOP {
            self.top.push(TopHolder {
                rank: row.rank,
                account: row.account,
                balance: row.balance.to_string(),
                balance_formatted: row.balance_formatted,
                share: row.share,
            });
        }
        Ok(())
    }
}

impl<'de> Deserialize<'de> for Folded {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        deserializer.deserialize_seq(FoldVisitor)
    }
}

struct FoldVisitor;

impl<'de> Visitor<'de> for FoldVisitor {
    type Value = Folded;

    fn expecting(&self, f: &mut fmt::Formatter) -> fmt::Result {
        f.write_str("an array of holder rows")
    }

    fn visit_seq<A: SeqAccess<'de>>(self, mut seq: A) -> Result<Folded, A::Error> {
        let mut folded = Folded::default();
        while let Some(row) = seq.next_element_seed(RowSeed)? {
            folded.add(row).map_err(de::Error::custom)?;
        }
        Ok(folded)
    }
}

/// Reads one [`Row`] (a seed only so that the visitor reads rows one at a
/// time without a `Vec`).
struct RowSeed;

impl<'de> DeserializeSeed<'de> for RowSeed {
    type Value = Row;

    fn deserialize<D: Deserializer<'de>>(self, deserializer: D) -> Result<Row, D::Error> {
        Row::deserialize(deserializer)
    }
}

/// Whether `n` is 1, 2 or 5 times a power of ten.
fn is_one_two_five(n: u64) -> bool {
    let mut n = n;
    while n >= 10 && n.is_multiple_of(10) {
        n /= 10;
    }
    matches!(n, 1 | 2 | 5)
}

/// `floor(log10(amount))` for a positive amount, exactly (from its plain
/// decimal text); none for zero or a negative amount.
fn decimal_exponent(amount: &Amount) -> Option<i64> {
    if amount.is_negative() || amount.is_zero() {
        return None;
    }
    let text = amount.to_string();
    let (integer, fraction) = text.split_once('.').unwrap_or((&text, ""));
    if integer != "0" {
        return Some(integer.len() as i64 - 1);
    }
    let zeros = fraction.bytes().take_while(|b| *b == b'0').count();
    Some(-(zeros as i64) - 1)
}

#[cfg(test)]
mod tests {
    use std::collections::BTreeMap;

    use super::*;
    use crate::snapshot::document::{CanonicalSnapshot, PluginMeta, SnapshotMeta, TokenMeta};
    use crate::snapshot::holders::{EmittedHolder, HolderSet};

    fn document(balances: &[(&str, &str)], decimals: u32) -> Vec<u8> {
        let mut set = HolderSet::new();
        set.insert_batch(
            balances
                .iter()
                .map(|(account, balance)| EmittedHolder {
                    account: account.to_string(),
                    balance: balance.to_string(),
                    ..EmittedHolder::default()
                })
                .collect(),
        )
        .unwrap();
        let meta = SnapshotMeta {
            chain: "hedera".into(),
            network: "mainnet".into(),
            token_id: "0.0.1234".into(),
            token: TokenMeta {
                name: "Test".into(),
                symbol: "TT".into(),
                decimals,
                kind: TokenKind::Fungible,
                total_supply: Some("1000".into()),
            },
            resolved_at: "1700000000.000000001".into(),
            plugin: PluginMeta {
                name: "hedera".into(),
                version: "0.1.0".into(),
                sha256: "ab".repeat(32),
            },
            attributes: BTreeMap::new(),
        };
        let mut bytes = Vec::new();
        CanonicalSnapshot::build(set, meta, None)
            .write_json(&mut bytes)
            .unwrap();
        bytes
    }

    #[test]
    fn one_two_five_points() {
        let points: Vec<u64> = (1..=1000).filter(|n| is_one_two_five(*n)).collect();
        assert_eq!(points, [1, 2, 5, 10, 20, 50, 100, 200, 500, 1000]);
    }

    #[test]
    fn decimal_exponents_are_exact() {
        let exp = |s: &str| decimal_exponent(&s.parse().unwrap());
        assert_eq!(exp("1"), Some(0));
        assert_eq!(exp("9.999"), Some(0));
        assert_eq!(exp("10"), Some(1));
        assert_eq!(exp("99999999999999999999999999999999999999999"), Some(40));
        assert_eq!(exp("0.1"), Some(-1));
        assert_eq!(exp("0.0099"), Some(-3));
        assert_eq!(exp("1e-96"), Some(-96));
        assert_eq!(exp("0"), None);
        assert_eq!(exp("-5"), None);
    }

    #[test]
    fn summarizes_exactly() {
        // Balances beyond 2^64, so any float would lose units.
        let doc = document(
            &[
                ("0.0.1", "100000000000000000000001"),
                ("0.0.2", "5000"),
                ("0.0.3", "999"),
                ("0.0.4", "10"),
                ("0.0.5", "1"),
                ("0.0.6", "0"),
            ],
            2,
        );
        let s = summarize(doc.as_slice(), 2).unwrap();
        assert_eq!(s.holder_count, 5);
        assert_eq!(s.resolved_at, "1700000000.000000001");
        assert_eq!(s.total_balance, "100000000000000000006011");
        assert_eq!(s.total_balance_formatted, "1000000000000000000060.11");
        assert_eq!(s.token.decimals, 2);
        assert_eq!(s.token.kind, "fungible");
        assert_eq!(s.top.len(), 2);
        assert_eq!(s.top[0].account, "0.0.1");
        assert_eq!(s.top[0].balance, "100000000000000000000001");
        assert_eq!(s.top[0].balance_formatted, "1000000000000000000000.01");
        assert_eq!(s.top[1].rank, 2);
        let points: Vec<(u64, &str)> = s
            .cumulative
            .iter()
            .map(|c| (c.holders, c.balance.as_str()))
            .collect();
        assert_eq!(
            points,
            [
                (1, "100000000000000000000001"),
                (2, "100000000000000000005001"),
                (5, "100000000000000000006011"),
            ]
        );
        assert_eq!(s.cumulative.last().unwrap().share, "1");
        // 1 - 6.01e-20, rounded to 12 places.
        assert_eq!(s.cumulative[0].share, "1");
        assert_eq!(s.cumulative[1].share, "1");
        // Whole tokens (2 decimals): 0.01 (1e-2), 0.1 (1e-1), 9.99 (1e0),
        // 50 (1e1), ~1e21; the powers between are empty buckets.
        let buckets: Vec<(i64, u64)> = s.histogram.iter().map(|b| (b.exponent, b.count)).collect();
        let mut expected = vec![(-2, 1), (-1, 1), (0, 1), (1, 1)];
        expected.extend((2..21).map(|e| (e, 0)));
        expected.push((21, 1));
        assert_eq!(buckets, expected);
        assert_eq!(s.histogram[2].balance, "999");
        assert_eq!(s.negative_count, 0);
    }

    #[test]
    fn cumulative_ends_with_every_holder() {
        let balances: Vec<(String, String)> = (1..=23)
            .map(|i| (format!("0.0.{i}"), (i * 10).to_string()))
            .collect();
        let refs: Vec<(&str, &str)> = balances
            .iter()
            .map(|(a, b)| (a.as_str(), b.as_str()))
            .collect();
        let s = summarize(document(&refs, 0).as_slice(), 1000).unwrap();
        assert_eq!(s.top.len(), 23);
        let holders: Vec<u64> = s.cumulative.iter().map(|c| c.holders).collect();
        assert_eq!(holders, [1, 2, 5, 10, 20, 23]);
        assert_eq!(s.cumulative.last().unwrap().balance, s.total_balance);
        assert_eq!(s.cumulative.last().unwrap().share, "1");
        // 10..90 in 1e1, 100..230 in 1e2.
        let buckets: Vec<(i64, u64)> = s.histogram.iter().map(|b| (b.exponent, b.count)).collect();
        assert_eq!(buckets, [(1, 9), (2, 14)]);
    }

    #[test]
    fn negative_balances_are_counted_apart() {
        let s = summarize(
            document(&[("a", "5"), ("b", "-2"), ("c", "20")], 0).as_slice(),
            10,
        )
        .unwrap();
        assert_eq!(s.holder_count, 3);
        assert_eq!(s.negative_count, 1);
        assert_eq!(s.total_balance, "23");
        let counted: u64 = s.histogram.iter().map(|b| b.count).sum();
        assert_eq!(counted, 2);
    }

    #[test]
    fn an_empty_snapshot_has_empty_aggregates() {
        let s = summarize(document(&[], 6).as_slice(), 10).unwrap();
        assert_eq!(s.holder_count, 0);
        assert_eq!(s.total_balance, "0");
        assert!(s.top.is_empty() && s.cumulative.is_empty() && s.histogram.is_empty());
    }

    #[test]
    fn a_document_that_does_not_add_up_is_refused() {
        let doc = String::from_utf8(document(&[("a", "5"), ("b", "7")], 0)).unwrap();
        let wrong_total = doc.replace("\"total_balance\":\"12\"", "\"total_balance\":\"13\"");
        assert!(matches!(
            summarize(wrong_total.as_bytes(), 10),
            Err(SummaryError::Inconsistent(_))
        ));
        let wrong_count = doc.replace("\"holder_count\":2", "\"holder_count\":3");
        assert!(matches!(
            summarize(wrong_count.as_bytes(), 10),
            Err(SummaryError::Inconsistent(_))
        ));
        let wrong_rank = doc.replace("\"rank\":2", "\"rank\":7");
        assert!(matches!(
            summarize(wrong_rank.as_bytes(), 10),
            Err(SummaryError::Parse(_))
        ));
        assert!(matches!(
            summarize(&b"{\"chain\":"[..], 10),
            Err(SummaryError::Parse(_))
        ));
    }

    #[test]
    fn large_snapshots_fold_without_keeping_rows() {
        let balances: Vec<(String, String)> = (1..=5000)
            .map(|i| (format!("0.0.{i}"), (i * 7 + 1).to_string()))
            .collect();
        let refs: Vec<(&str, &str)> = balances
            .iter()
            .map(|(a, b)| (a.as_str(), b.as_str()))
            .collect();
        let s = summarize(document(&refs, 3).as_slice(), 1000).unwrap();
        assert_eq!(s.holder_count, 5000);
        assert_eq!(s.top.len(), MAX_TOP);
        assert_eq!(s.top[999].rank, 1000);
        let expected: u64 = (1..=5000u64).map(|i| i * 7 + 1).sum();
        assert_eq!(s.total_balance, expected.to_string());
        let counted: u64 = s.histogram.iter().map(|b| b.count).sum();
        assert_eq!(counted, 5000);
        assert_eq!(s.cumulative.last().unwrap().holders, 5000);
    }
}
