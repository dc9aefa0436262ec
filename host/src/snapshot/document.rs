//! [`CanonicalSnapshot`]: the ranked, totalled holder list and its
//! deterministic JSON and CSV writers.
//!
//! Same holders and metadata → same bytes → same content hash (CID). So:
//! holders are sorted by balance descending then account ascending (byte
//! order), fields are written in one fixed order, maps are sorted, numbers
//! are exact decimal strings, and nothing time-dependent (like the moment the
//! document was generated) is written — that belongs in job metadata.
//!
//! Both writers stream: memory is the holder list already held, not the size
//! of the output.

use std::collections::BTreeMap;
use std::fmt::Write as _;
use std::io::{self, Write};

use sha2::{Digest, Sha256};

use super::amount::Amount;
use super::holders::{Attributes, HolderRecord, HolderSet, StringArena};

/// Fractional digits of each holder's `share` of the total balance.
///
/// Twelve digits resolve one part in 10^12: a token with a trillion holders'
/// worth of units still gets a non-zero share for any holder owning at
/// least a millionth of a millionth of the supply, and the string stays
/// short. The exact balance is always in the document alongside it.
pub const SHARE_DECIMAL_PLACES: u32 = 12;

/// Whether the token is fungible.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, serde::Serialize, serde::Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum TokenKind {
    /// Interchangeable units (`"fungible"`).
    Fungible,
    /// Distinct items such as NFT serials (`"non_fungible"`).
    NonFungible,
}

impl TokenKind {
    /// The name written in the document.
    pub fn as_str(self) -> &'static str {
        match self {
            TokenKind::Fungible => "fungible",
            TokenKind::NonFungible => "non_fungible",
        }
    }
}

/// What the ledger says about the token.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
pub struct TokenMeta {
    /// Token name.
    pub name: String,
    /// Ticker symbol.
    pub symbol: String,
    /// Digits between the smallest unit and one whole token.
    pub decimals: u32,
    /// Fungible or not.
    pub kind: TokenKind,
    /// Total supply in smallest units as the ledger reports it, if it does.
    pub total_supply: Option<String>,
}

/// The plugin that produced the holders.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
pub struct PluginMeta {
    /// Plugin name.
    pub name: String,
    /// Plugin version.
    pub version: String,
    /// Hex sha256 of the plugin component.
    pub sha256: String,
}

/// Everything in the document besides the holders.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
pub struct SnapshotMeta {
    /// Chain name (`hedera`, `xrpl`).
    pub chain: String,
    /// Network (`mainnet`, `testnet`).
    pub network: String,
    /// The token id as requested.
    pub token_id: String,
    /// Token facts.
    pub token: TokenMeta,
    /// The ledger point in time every page was read at (Hedera `secs.nanos`,
    /// XRPL ledger index).
    pub resolved_at: String,
    /// The producing plugin.
    pub plugin: PluginMeta,
    /// Facts of the fetch (e.g. the plugin's sum check), written sorted.
    pub attributes: BTreeMap<String, String>,
}

/// One holder of a [`CanonicalSnapshot`], borrowed.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct RankedHolder<'a> {
    /// 1 for the largest balance.
    pub rank: u64,
    /// Ledger account id.
    pub account: &'a str,
    /// Exact balance in smallest units.
    pub balance: &'a Amount,
    /// Merged attributes, `None` when there are none.
    pub attributes: Option<&'a Attributes>,
}

/// The canonical holder list of one snapshot: zero balances dropped,
/// optionally filtered by a minimum balance, ranked, totalled.
pub struct CanonicalSnapshot {
    meta: SnapshotMeta,
    min_balance: Option<Amount>,
    accounts: StringArena,
    /// Sorted: balance descending, then account ascending.
    holders: Vec<HolderRecord>,
    total_balance: Amount,
}

impl std::fmt::Debug for CanonicalSnapshot {
    /// A summary: the holder list can have millions of entries.
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("CanonicalSnapshot")
            .field("meta", &self.meta)
            .field("min_balance", &self.min_balance)
            .field("holder_count", &self.holders.len())
            .field("total_balance", &self.total_balance)
            .finish_non_exhaustive()
    }
}

impl CanonicalSnapshot {
    /// Builds the canonical list from de-duplicated holders.
    ///
    /// Holders with a zero balance are dropped; with `min_balance`, only
    /// holders whose balance is `>= min_balance` (in smallest units) are
    /// kept. Negative balances, if a ledger reports any, are kept and sort
    /// last. `total_balance` is the exact sum of the kept holders.
    pub fn build(holders: HolderSet, meta: SnapshotMeta, min_balance: Option<Amount>) -> Self {
        let (accounts, mut records) = holders.into_parts();
        records.retain(|record| {
            !record.balance.is_zero()
                && min_balance
                    .as_ref()
                    .is_none_or(|minimum| record.balance >= *minimum)
        });
        // Accounts are unique, so this is a total order and an unstable sort
        // is deterministic.
        records.sort_unstable_by(|a, b| {
            b.balance
                .cmp(&a.balance)
                .then_with(|| accounts.get(a.account).cmp(accounts.get(b.account)))
        });
        records.shrink_to_fit();
        let total_balance = records.iter().map(|record| &record.balance).sum();
        Self {
            meta,
            min_balance,
            accounts,
            holders: records,
            total_balance,
        }
    }

    /// The metadata given to [`CanonicalSnapshot::build`].
    pub fn meta(&self) -> &SnapshotMeta {
        &self.meta
    }

    /// Number of holders in the document.
    pub fn holder_count(&self) -> usize {
        self.holders.len()
    }

    /// Exact sum of all holders' balances, in smallest units.
    pub fn total_balance(&self) -> &Amount {
        &self.total_balance
    }

    /// The minimum balance filter, if one was applied.
    pub fn min_balance(&self) -> Option<&Amount> {
        self.min_balance.as_ref()
    }

    /// The holders in rank order.
    pub fn holders(&self) -> impl ExactSizeIterator<Item = RankedHolder<'_>> {
        self.holders
            .iter()
            .enumerate()
            .map(|(index, record)| RankedHolder {
                rank: index as u64 + 1,
                account: self.accounts.get(record.account),
                balance: &record.balance,
                attributes: record.attributes.as_deref(),
            })
    }

    /// `amount` in whole tokens (divided by 10^decimals), exact.
    fn formatted(&self, amount: &Amount) -> Amount {
        amount.scaled_down(self.meta.token.decimals)
    }

    /// `holder`'s share of the total, see [`SHARE_DECIMAL_PLACES`].
    fn share(&self, balance: &Amount) -> String {
        Amount::ratio_string(balance, &self.total_balance, SHARE_DECIMAL_PLACES)
    }

    /// Writes the JSON document: compact, fixed field order, one trailing
    /// newline. Output is buffered internally; the same snapshot always
    /// gives the same bytes.
    ///
    /// # Errors
    /// Any error of `out`.
    pub fn write_json<W: Write>(&self, mut out: W) -> io::Result<()> {
        self.write_documents(Some(&mut out), None)
    }

    /// Writes the CSV table: header `rank,account,balance,balance_formatted,share`,
    /// one row per holder in rank order, `\n` line ends, RFC 4180 quoting of
    /// the account when it needs it (numbers never do).
    ///
    /// # Errors
    /// Any error of `out`.
    pub fn write_csv<W: Write>(&self, mut out: W) -> io::Result<()> {
        self.write_documents(None, Some(&mut out))
    }

    /// Writes the JSON document ([`Self::write_json`]) and the CSV table
    /// ([`Self::write_csv`]) in one pass over the holders, each holder's
    /// numbers formatted once for both. Either may be left out. Output is
    /// buffered internally.
    ///
    /// # Errors
    /// Any error of either writer.
    pub fn write_documents(
        &self,
        json: Option<&mut dyn Write>,
        csv: Option<&mut dyn Write>,
    ) -> io::Result<()> {
        let mut json = json.map(|out| io::BufWriter::with_capacity(64 * 1024, out));
        let mut csv = csv.map(|out| io::BufWriter::with_capacity(64 * 1024, out));
        if let Some(out) = &mut json {
            self.write_json_head(out)?;
        }
        if let Some(out) = &mut csv {
            out.write_all(b"rank,account,balance,balance_formatted,share\n")?;
        }
        // balance, formatted balance and share, one after the other.
        let mut numbers = String::with_capacity(96);
        for holder in self.holders() {
            numbers.clear();
            write!(numbers, "{}", holder.balance).map_err(io::Error::other)?;
            let balance_end = numbers.len();
            write!(numbers, "{}", self.formatted(holder.balance)).map_err(io::Error::other)?;
            let formatted_end = numbers.len();
            numbers.push_str(&self.share(holder.balance));
            let balance = &numbers[..balance_end];
            let formatted = &numbers[balance_end..formatted_end];
            let share = &numbers[formatted_end..];
            if let Some(out) = &mut json {
                if holder.rank > 1 {
                    out.write_all(b",")?;
                }
                write!(out, "{{\"rank\":{},\"account\":", holder.rank)?;
                write_json_string(out, holder.account)?;
                write!(
                    out,
                    ",\"balance\":\"{balance}\",\"balance_formatted\":\"{formatted}\",\"share\":\"{share}\""
                )?;
                if let Some(attributes) = holder.attributes.filter(|map| !map.is_empty()) {
                    out.write_all(b",\"attributes\":")?;
                    serde_json::to_writer(&mut *out, attributes)?;
                }
                out.write_all(b"}")?;
            }
            if let Some(out) = &mut csv {
                write!(out, "{},", holder.rank)?;
                write_csv_field(out, holder.account)?;
                writeln!(out, ",{balance},{formatted},{share}")?;
            }
        }
        if let Some(mut out) = json {
            out.write_all(b"]}\n")?;
            out.flush()?;
        }
        if let Some(mut out) = csv {
            out.flush()?;
        }
        Ok(())
    }

    /// The JSON document up to the opening of its `holders` list.
    fn write_json_head(&self, out: &mut impl Write) -> io::Result<()> {
        let meta = &self.meta;
        let token = &meta.token;
        out.write_all(b"{\"chain\":")?;
        write_json_string(out, &meta.chain)?;
        out.write_all(b",\"network\":")?;
        write_json_string(out, &meta.network)?;
        out.write_all(b",\"token_id\":")?;
        write_json_string(out, &meta.token_id)?;
        out.write_all(b",\"token\":{\"name\":")?;
        write_json_string(out, &token.name)?;
        out.write_all(b",\"symbol\":")?;
        write_json_string(out, &token.symbol)?;
        write!(
            out,
            ",\"decimals\":{},\"kind\":\"{}\",\"total_supply\":",
            token.decimals,
            token.kind.as_str()
        )?;
        match &token.total_supply {
            Some(total_supply) => write_json_string(out, total_supply)?,
            None => out.write_all(b"null")?,
        }
        out.write_all(b"},\"resolved_at\":")?;
        write_json_string(out, &meta.resolved_at)?;
        write!(
            out,
            ",\"holder_count\":{},\"total_balance\":\"{}\",\"total_balance_formatted\":\"{}\",\"min_balance\":",
            self.holders.len(),
            self.total_balance,
            self.formatted(&self.total_balance)
        )?;
        match &self.min_balance {
            Some(minimum) => write!(out, "\"{minimum}\"")?,
            None => out.write_all(b"null")?,
        }
        out.write_all(b",\"attributes\":")?;
        serde_json::to_writer(&mut *out, &meta.attributes)?;
        out.write_all(b",\"plugin\":{\"name\":")?;
        write_json_string(out, &meta.plugin.name)?;
        out.write_all(b",\"version\":")?;
        write_json_string(out, &meta.plugin.version)?;
        out.write_all(b",\"sha256\":")?;
        write_json_string(out, &meta.plugin.sha256)?;
        out.write_all(b"},\"holders\":[")
    }
}

/// `text` as a JSON string literal (quotes, escapes), via serde_json.
fn write_json_string(out: &mut impl Write, text: &str) -> io::Result<()> {
    serde_json::to_writer(out, text).map_err(io::Error::from)
}

/// `field` as one CSV field: quoted, with inner quotes doubled, when it
/// contains a comma, quote or line break (RFC 4180); as is otherwise.
fn write_csv_field(out: &mut impl Write, field: &str) -> io::Result<()> {
    if !field.contains([',', '"', '\n', '\r']) {
        return out.write_all(field.as_bytes());
    }
    out.write_all(b"\"")?;
    for (index, part) in field.split('"').enumerate() {
        if index > 0 {
            out.write_all(b"\"\"")?;
        }
        out.write_all(part.as_bytes())?;
    }
    out.write_all(b"\"")
}

/// Lower-case hex sha256 of `bytes`.
pub fn sha256_hex(bytes: &[u8]) -> String {
    hex::encode(Sha256::digest(bytes))
}

/// A writer that passes bytes through to `inner` and hashes them on the
/// way, so a document can be streamed to its destination and content-hashed
/// in one pass.
#[derive(Debug)]
pub struct Sha256Writer<W> {
    inner: W,
    hasher: Sha256,
}

impl<W: Write> Sha256Writer<W> {
    /// Wraps `inner`.
    pub fn new(inner: W) -> Self {
        Self {
            inner,
            hasher: Sha256::new(),
        }
    }

    /// The inner writer and the lower-case hex sha256 of everything written.
    pub fn finish(self) -> (W, String) {
        (self.inner, hex::encode(self.hasher.finalize()))
    }
}

impl<W: Write> Write for Sha256Writer<W> {
    fn write(&mut self, buf: &[u8]) -> io::Result<usize> {
        let written = self.inner.write(buf)?;
        self.hasher.update(&buf[..written]);
        Ok(written)
    }

    fn flush(&mut self) -> io::Result<()> {
        self.inner.flush()
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::snapshot::holders::EmittedHolder;
    use proptest::prelude::*;

    fn meta() -> SnapshotMeta {
        SnapshotMeta {
            chain: "hedera".into(),
            network: "mainnet".into(),
            token_id: "0.0.1234".into(),
            token: TokenMeta {
                name: "Test \"Token\"".into(),
                symbol: "TT".into(),
                decimals: 2,
                kind: TokenKind::Fungible,
                total_supply: Some("1000".into()),
            },
            resolved_at: "1700000000.000000001".into(),
            plugin: PluginMeta {
                name: "hedera".into(),
                version: "0.1.0".into(),
                sha256: "ab".repeat(32),
            },
            attributes: BTreeMap::from([
                ("sum_check".to_string(), "ok".to_string()),
                ("pages".to_string(), "3".to_string()),
            ]),
        }
    }

    fn holder(account: &str, balance: &str) -> EmittedHolder {
        EmittedHolder {
            account: account.into(),
            balance: balance.into(),
            ..EmittedHolder::default()
        }
    }

    fn set_of(entries: Vec<EmittedHolder>) -> HolderSet {
        let mut set = HolderSet::new();
        set.insert_batch(entries).unwrap();
        set
    }

    fn json(snapshot: &CanonicalSnapshot) -> String {
        let mut bytes = Vec::new();
        snapshot.write_json(&mut bytes).unwrap();
        String::from_utf8(bytes).unwrap()
    }

    fn csv(snapshot: &CanonicalSnapshot) -> String {
        let mut bytes = Vec::new();
        snapshot.write_csv(&mut bytes).unwrap();
        String::from_utf8(bytes).unwrap()
    }

    #[test]
    fn json_document_has_the_fixed_layout() {
        let mut entries = vec![
            holder("0.0.5", "500"),
            holder("0.0.7", "250"),
            holder("0.0.6", "250"),
            holder("0.0.9", "0"),
        ];
        entries[0].attributes = vec![("kyc".into(), "yes".into())];
        let snapshot = CanonicalSnapshot::build(set_of(entries), meta(), None);
        let expected = concat!(
            r#"{"chain":"hedera","network":"mainnet","token_id":"0.0.1234","#,
            r#""token":{"name":"Test \"Token\"","symbol":"TT","decimals":2,"kind":"fungible","total_supply":"1000"},"#,
            r#""resolved_at":"1700000000.000000001","holder_count":3,"total_balance":"1000","#,
            r#""total_balance_formatted":"10","min_balance":null,"#,
            r#""attributes":{"pages":"3","sum_check":"ok"},"#,
            r#""plugin":{"name":"hedera","version":"0.1.0","sha256":"abababababababababababababababababababababababababababababababab"},"#,
            r#""holders":["#,
            r#"{"rank":1,"account":"0.0.5","balance":"500","balance_formatted":"5","share":"0.5","attributes":{"kyc":"yes"}},"#,
            r#"{"rank":2,"account":"0.0.6","balance":"250","balance_formatted":"2.5","share":"0.25"},"#,
            r#"{"rank":3,"account":"0.0.7","balance":"250","balance_formatted":"2.5","share":"0.25"}"#,
            "]}\n"
        );
        assert_eq!(json(&snapshot), expected);
        let parsed: serde_json::Value = serde_json::from_str(&json(&snapshot)).unwrap();
        assert_eq!(parsed["holders"][0]["account"], "0.0.5");
    }

    #[test]
    fn empty_snapshot_is_a_valid_document() {
        let mut meta = meta();
        meta.token.total_supply = None;
        meta.token.kind = TokenKind::NonFungible;
        let snapshot = CanonicalSnapshot::build(HolderSet::new(), meta, None);
        let text = json(&snapshot);
        let parsed: serde_json::Value = serde_json::from_str(&text).unwrap();
        assert_eq!(parsed["holder_count"], 0);
        assert_eq!(parsed["total_balance"], "0");
        assert_eq!(parsed["token"]["kind"], "non_fungible");
        assert!(parsed["token"]["total_supply"].is_null());
        assert!(text.ends_with("\"holders\":[]}\n"));
        assert_eq!(
            csv(&snapshot),
            "rank,account,balance,balance_formatted,share\n"
        );
    }

    #[test]
    fn ties_are_broken_by_account_in_byte_order() {
        let entries = vec![
            holder("b", "10"),
            holder("B", "10"),
            holder("a", "10"),
            holder("ä", "10"),
            holder("aa", "10"),
            holder("z", "11"),
            holder("y", "-1"),
        ];
        let snapshot = CanonicalSnapshot::build(set_of(entries), meta(), None);
        let order: Vec<&str> = snapshot.holders().map(|h| h.account).collect();
        assert_eq!(order, ["z", "B", "a", "aa", "b", "ä", "y"]);
        let ranks: Vec<u64> = snapshot.holders().map(|h| h.rank).collect();
        assert_eq!(ranks, [1, 2, 3, 4, 5, 6, 7]);
    }

    #[test]
    fn decimal_balances_sort_numerically() {
        let entries = vec![
            holder("r1", "9.99"),
            holder("r2", "10"),
            holder("r3", "1e-96"),
            holder("r4", "9999999999999999e80"),
            holder("r5", "10.000"),
        ];
        let snapshot = CanonicalSnapshot::build(set_of(entries), meta(), None);
        let order: Vec<&str> = snapshot.holders().map(|h| h.account).collect();
        assert_eq!(order, ["r4", "r2", "r5", "r1", "r3"]);
    }

    #[test]
    fn min_balance_keeps_holders_at_or_above_it() {
        let entries = vec![
            holder("a", "5"),
            holder("b", "10"),
            holder("c", "11"),
            holder("d", "0"),
        ];
        let snapshot =
            CanonicalSnapshot::build(set_of(entries), meta(), Some(Amount::from_i64(10)));
        let kept: Vec<&str> = snapshot.holders().map(|h| h.account).collect();
        assert_eq!(kept, ["c", "b"]);
        assert_eq!(snapshot.total_balance(), &Amount::from_i64(21));
        assert!(json(&snapshot).contains(r#""holder_count":2,"total_balance":"21","total_balance_formatted":"0.21","min_balance":"10","#));
        // A non-positive minimum still drops zero balances.
        let entries = vec![holder("a", "5"), holder("d", "0")];
        let snapshot = CanonicalSnapshot::build(set_of(entries), meta(), Some(Amount::zero()));
        assert_eq!(snapshot.holder_count(), 1);
    }

    #[test]
    fn shares_are_rounded_half_to_even_to_twelve_places() {
        let entries = vec![holder("a", "1"), holder("b", "1"), holder("c", "1")];
        let snapshot = CanonicalSnapshot::build(set_of(entries), meta(), None);
        let text = csv(&snapshot);
        assert_eq!(
            text,
            "rank,account,balance,balance_formatted,share\n\
             1,a,1,0.01,0.333333333333\n\
             2,b,1,0.01,0.333333333333\n\
             3,c,1,0.01,0.333333333333\n"
        );
        // Total 2e12: 3 units are 1.5e-12 and the rest 0.9999999999985,
        // both exactly halfway at 12 places; ties go to the even digit.
        let entries = vec![holder("a", "3"), holder("b", "1999999999997")];
        let snapshot = CanonicalSnapshot::build(set_of(entries), meta(), None);
        let shares: Vec<String> = snapshot
            .holders()
            .map(|h| snapshot.share(h.balance))
            .collect();
        assert_eq!(shares, ["0.999999999998", "0.000000000002"]);
    }

    #[test]
    fn csv_quotes_accounts_that_need_it() {
        let entries = vec![
            holder("plain", "4"),
            holder("with,comma", "3"),
            holder("with \"quote\"", "2"),
            holder("line\nbreak", "1"),
        ];
        let snapshot = CanonicalSnapshot::build(set_of(entries), meta(), None);
        let text = csv(&snapshot);
        let rows: Vec<&str> = text.split_inclusive('\n').collect();
        assert_eq!(rows[1], "1,plain,4,0.04,0.4\n");
        assert_eq!(rows[2], "2,\"with,comma\",3,0.03,0.3\n");
        assert_eq!(rows[3], "3,\"with \"\"quote\"\"\",2,0.02,0.2\n");
        assert_eq!(rows[4], "4,\"line\n");
        assert_eq!(rows[5], "break\",1,0.01,0.1\n");
    }

    #[test]
    fn json_strings_are_escaped() {
        let mut meta = meta();
        meta.token.symbol = "\\\u{1}\n".into();
        let snapshot = CanonicalSnapshot::build(set_of(vec![holder("\"evil\"", "1")]), meta, None);
        let text = json(&snapshot);
        let parsed: serde_json::Value = serde_json::from_str(&text).unwrap();
        assert_eq!(parsed["token"]["symbol"], "\\\u{1}\n");
        assert_eq!(parsed["holders"][0]["account"], "\"evil\"");
    }

    #[test]
    fn big_and_negative_balances_are_written_exactly() {
        let entries = vec![
            holder("a", "9223372036854775807"),
            holder("b", "9223372036854775807"),
            holder("c", "-1"),
        ];
        let snapshot = CanonicalSnapshot::build(set_of(entries), meta(), None);
        assert_eq!(snapshot.total_balance().to_string(), "18446744073709551613");
        let text = csv(&snapshot);
        assert!(text.ends_with("3,c,-1,-0.01,0\n"), "{text}");
        assert!(
            text.contains("1,a,9223372036854775807,92233720368547758.07,0.5\n"),
            "{text}"
        );
    }

    #[test]
    fn sha256_writer_hashes_what_passes_through() {
        let snapshot = CanonicalSnapshot::build(set_of(vec![holder("a", "1")]), meta(), None);
        let mut hashing = Sha256Writer::new(Vec::new());
        snapshot.write_json(&mut hashing).unwrap();
        let (bytes, digest) = hashing.finish();
        assert_eq!(digest, sha256_hex(&bytes));
        assert_eq!(
            sha256_hex(b"abc"),
            "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad"
        );
    }

    proptest! {
        #![proptest_config(ProptestConfig::with_cases(64))]

        #[test]
        fn insertion_order_and_batching_do_not_change_the_bytes(
            balances in proptest::collection::vec((0u8..40, -5i64..1_000_000, 0u32..4), 1..60),
            seed in any::<u64>(),
            batch_size in 1usize..10,
        ) {
            // Distinct accounts; balances with a few scales and ties.
            let entries: Vec<EmittedHolder> = balances
                .iter()
                .enumerate()
                .map(|(index, (tie, units, scale))| {
                    let amount = Amount::from_i64(*units % 3 * i64::from(*tie)).scaled_down(*scale);
                    holder(&format!("acct-{}", index * 7919 % 1000), &amount.to_string())
                })
                .collect();
            // Drop accidental duplicate accounts (they would conflict).
            let mut seen = std::collections::HashSet::new();
            let entries: Vec<EmittedHolder> =
                entries.into_iter().filter(|e| seen.insert(e.account.clone())).collect();

            let mut shuffled = entries.clone();
            let mut state = seed | 1;
            for index in (1..shuffled.len()).rev() {
                state ^= state << 13;
                state ^= state >> 7;
                state ^= state << 17;
                shuffled.swap(index, (state % (index as u64 + 1)) as usize);
            }
            // Re-emit a prefix too: at-least-once delivery.
            shuffled.extend(entries.iter().take(entries.len() / 2).cloned());

            let mut one_batch = HolderSet::new();
            one_batch.insert_batch(entries).unwrap();
            let mut batched = HolderSet::new();
            for chunk in shuffled.chunks(batch_size) {
                batched.insert_batch(chunk.to_vec()).unwrap();
            }
            let first = CanonicalSnapshot::build(one_batch, meta(), None);
            let second = CanonicalSnapshot::build(batched, meta(), None);
            prop_assert_eq!(json(&first), json(&second));
            prop_assert_eq!(csv(&first), csv(&second));
        }
    }
}
