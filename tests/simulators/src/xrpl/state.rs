//! The simulated ledger history: validated ledgers with integer indexes and 64-hex hashes, each a
//! full state of accounts, trust lines, other owner-directory objects, MPT issuances and NFTs.
//!
//! Every object keeps its versions keyed by the ledger index where they took effect, so any
//! retained ledger can be read as it was (what a pinned `ledger_index` sees) while the tip moves.
//! Mutations apply to the **tip** ledger; call [`XrplLedgerState::advance_ledger`] first to
//! leave earlier ledgers untouched (churn always does).

use std::collections::{BTreeMap, BTreeSet, HashMap};
use std::fmt;
use std::sync::{Arc, RwLock};

use anyhow::{Context, Result, bail, ensure};
use num_bigint::BigInt;
use num_traits::Zero;
use rand::rngs::StdRng;
use rand::{Rng, SeedableRng};

use super::address::{AccountId, hex_upper, parse_hex, sha256_parts};
use super::amount::{IouAmount, IouSum, format_units_plain};

/// A ledger sequence number.
pub type LedgerIndex = u32;

/// The state shared between the running server and the test that drives it.
pub type SharedState = Arc<RwLock<XrplLedgerState>>;

/// `lsfDefaultRipple` on an AccountRoot: issuers set it so their IOUs can ripple.
pub const LSF_DEFAULT_RIPPLE: u32 = 0x0080_0000;
/// `lsfRequireAuth`: holders need the issuer's authorization.
pub const LSF_REQUIRE_AUTH: u32 = 0x0004_0000;

/// rippled's owner-directory pages hold 32 entries; the page number is the marker's "hint".
const DIRECTORY_PAGE_SIZE: usize = 32;
/// Reserve-ish XRP balance of generated accounts, in drops.
const DEFAULT_DROPS: u64 = 1_000_000_000;
/// Ripple-epoch close time of the first ledger; ledgers close every 4 s after it.
const FIRST_CLOSE_TIME: u64 = 800_000_000;

/// A currency code: three ASCII characters other than "XRP", or 40 hex digits (kept upper case).
#[derive(Clone, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct Currency(String);

impl Currency {
    pub fn new(code: &str) -> Result<Self> {
        if code.len() == 3 && code.is_ascii() && !code.eq_ignore_ascii_case("XRP") {
            return Ok(Self(code.to_owned()));
        }
        if code.len() == 40 && parse_hex(code).is_some() {
            return Ok(Self(code.to_ascii_uppercase()));
        }
        bail!("not an XRPL currency code: {code:?}")
    }

    pub fn as_str(&self) -> &str {
        &self.0
    }
}

impl fmt::Display for Currency {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

impl fmt::Debug for Currency {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "Currency({})", self.0)
    }
}

/// One account's settings on a trust line.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct LineSide {
    /// The most this account is willing to be owed.
    pub limit: IouAmount,
    pub no_ripple: bool,
    /// This account froze the line.
    pub freeze: bool,
    /// This account authorized the other (meaningful for issuers with `lsfRequireAuth`).
    pub authorized: bool,
    pub quality_in: u32,
    pub quality_out: u32,
}

/// A trust line (RippleState). `issuer` is simply the account whose side `balance` is given
/// from: negative means `issuer` owes `holder`, i.e. `holder` holds `-balance` of the IOU.
#[derive(Debug, Clone, PartialEq)]
pub struct TrustLine {
    pub issuer: AccountId,
    pub holder: AccountId,
    pub currency: Currency,
    pub balance: IouAmount,
    pub issuer_side: LineSide,
    pub holder_side: LineSide,
}

impl TrustLine {
    /// A typical issued-token line: the issuer sets no limit and leaves rippling on; the holder
    /// trusts up to 1e9 (or its amount, when larger) with NoRipple set.
    pub fn new(
        issuer: AccountId,
        holder: AccountId,
        currency: Currency,
        balance: IouAmount,
    ) -> Self {
        let default_limit = IouAmount::parse("1000000000").expect("constant");
        let held = balance.negated();
        let limit = if held.to_units() > default_limit.to_units() {
            held
        } else {
            default_limit
        };
        Self {
            issuer,
            holder,
            currency,
            balance,
            issuer_side: LineSide::default(),
            holder_side: LineSide {
                limit,
                no_ripple: true,
                ..LineSide::default()
            },
        }
    }

    /// What `holder` holds: `-balance`.
    pub fn holder_amount(&self) -> IouAmount {
        self.balance.negated()
    }

    /// The line as `account` sees it (balance sign and sides swapped for the holder).
    pub fn view_from(&self, account: &AccountId) -> LineView<'_> {
        if *account == self.issuer {
            LineView {
                peer: self.holder,
                balance: self.balance,
                mine: &self.issuer_side,
                peers: &self.holder_side,
                line: self,
            }
        } else {
            LineView {
                peer: self.issuer,
                balance: self.balance.negated(),
                mine: &self.holder_side,
                peers: &self.issuer_side,
                line: self,
            }
        }
    }
}

/// A trust line from one account's side, as `account_lines` renders it.
#[derive(Debug, Clone, Copy)]
pub struct LineView<'a> {
    pub peer: AccountId,
    /// Positive = the peer owes the viewing account.
    pub balance: IouAmount,
    pub mine: &'a LineSide,
    pub peers: &'a LineSide,
    pub line: &'a TrustLine,
}

/// Owner-directory objects other than trust lines. They only take up directory slots, which is
/// what makes `account_lines` pages shorter than `limit` (even empty) on a real server.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum OwnerObjectKind {
    Offer,
    Escrow,
    Check,
    Ticket,
    PayChannel,
    NFTokenOffer,
    DepositPreauth,
}

impl OwnerObjectKind {
    const ALL: [Self; 7] = [
        Self::Offer,
        Self::Escrow,
        Self::Check,
        Self::Ticket,
        Self::PayChannel,
        Self::NFTokenOffer,
        Self::DepositPreauth,
    ];

    /// The `LedgerEntryType`.
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Offer => "Offer",
            Self::Escrow => "Escrow",
            Self::Check => "Check",
            Self::Ticket => "Ticket",
            Self::PayChannel => "PayChannel",
            Self::NFTokenOffer => "NFTokenOffer",
            Self::DepositPreauth => "DepositPreauth",
        }
    }
}

/// An AccountRoot.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct AccountRoot {
    pub balance_drops: u64,
    pub flags: u32,
    pub sequence: u32,
    /// Ledger of the last change (`PreviousTxnLgrSeq`).
    pub changed_in: LedgerIndex,
}

/// A 24-byte MPT issuance id: the issuer's sequence (big endian) followed by its account id,
/// as on the real ledger (so it renders as 48 hex digits).
#[derive(Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct MptIssuanceId(pub [u8; 24]);

impl MptIssuanceId {
    pub fn new(sequence: u32, issuer: &AccountId) -> Self {
        let mut id = [0u8; 24];
        id[..4].copy_from_slice(&sequence.to_be_bytes());
        id[4..].copy_from_slice(&issuer.0);
        Self(id)
    }

    pub fn to_hex(&self) -> String {
        hex_upper(&self.0)
    }

    pub fn from_hex(text: &str) -> Option<Self> {
        Some(Self(parse_hex(text)?.try_into().ok()?))
    }
}

impl fmt::Debug for MptIssuanceId {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "MptIssuanceId({})", self.to_hex())
    }
}

/// An MPToken: one holder's balance of an issuance, an integer in the smallest unit.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct MpToken {
    pub amount: u64,
    pub flags: u32,
}

/// An MPTokenIssuance with its holders.
#[derive(Debug, Clone)]
pub struct MptIssuance {
    pub id: MptIssuanceId,
    pub issuer: AccountId,
    pub asset_scale: u8,
    pub flags: u32,
    /// Ledger where it was created; `mpt_holders` at an earlier ledger does not find it.
    pub created_in: LedgerIndex,
    /// `MaximumAmount`; `None` = the protocol maximum (the field is omitted).
    pub maximum_amount: Option<u64>,
    /// `TransferFee` in 1/100 000 units (omitted when 0).
    pub transfer_fee: u16,
    /// `MPTokenMetadata` as hex (omitted when `None`).
    pub metadata: Option<String>,
    /// Amount in escrow (`LockedAmount`, omitted when 0): counted in `OutstandingAmount` but in
    /// no holder's `MPTAmount`. Not versioned: the same at every ledger.
    pub locked_amount: u64,
    holders: BTreeMap<AccountId, History<MpToken>>,
}

impl MptIssuance {
    /// `mptoken_index`: a stable 64-hex key per (issuance, holder).
    pub fn mptoken_index(&self, holder: &AccountId) -> String {
        hex_upper(&sha256_parts(&[b"MPToken", &self.id.0, &holder.0]))
    }

    /// Holders (sorted by account id, Clio's order) with their token at `ledger`.
    pub fn holders_at(&self, ledger: LedgerIndex) -> impl Iterator<Item = (AccountId, MpToken)> {
        self.holders
            .iter()
            .filter_map(move |(account, history)| history.at(ledger).map(|t| (*account, *t)))
    }

    /// `OutstandingAmount` at `ledger`: every holder's amount plus the escrowed
    /// [`Self::locked_amount`] (saturating at `u64::MAX`, above the protocol's `2^63 - 1`).
    pub fn outstanding_at(&self, ledger: LedgerIndex) -> u64 {
        self.holders_at(ledger)
            .fold(self.locked_amount, |sum, (_, token)| {
                sum.saturating_add(token.amount)
            })
    }

    /// The ledger object key: a hash of the space key and the id (rippled uses SHA-512Half of
    /// `0x007E ‖ id`; any stable 256-bit key serves here).
    pub fn index_hex(&self) -> String {
        hex_upper(&sha256_parts(&[b"MPTokenIssuance", &self.id.0]))
    }
}

/// A 32-byte NFToken id in the real layout: flags (2) ‖ transfer fee (2) ‖ issuer (20) ‖
/// scrambled taxon (4) ‖ serial (4).
#[derive(Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct NftId(pub [u8; 32]);

impl NftId {
    pub fn new(flags: u16, transfer_fee: u16, issuer: &AccountId, taxon: u32, serial: u32) -> Self {
        let mut id = [0u8; 32];
        id[..2].copy_from_slice(&flags.to_be_bytes());
        id[2..4].copy_from_slice(&transfer_fee.to_be_bytes());
        id[4..24].copy_from_slice(&issuer.0);
        id[24..28].copy_from_slice(&scramble_taxon(taxon, serial).to_be_bytes());
        id[28..].copy_from_slice(&serial.to_be_bytes());
        Self(id)
    }

    pub fn to_hex(&self) -> String {
        hex_upper(&self.0)
    }

    pub fn from_hex(text: &str) -> Option<Self> {
        Some(Self(parse_hex(text)?.try_into().ok()?))
    }

    /// The unscrambled taxon.
    pub fn taxon(&self) -> u32 {
        let scrambled = u32::from_be_bytes(self.0[24..28].try_into().expect("4 bytes"));
        scramble_taxon(scrambled, self.serial())
    }

    pub fn serial(&self) -> u32 {
        u32::from_be_bytes(self.0[28..].try_into().expect("4 bytes"))
    }
}

impl fmt::Debug for NftId {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "NftId({})", self.to_hex())
    }
}

/// XLS-20 hides the taxon behind a linear congruential generator seeded with the serial, so
/// ids of one taxon do not sort together; the same XOR undoes it.
fn scramble_taxon(taxon: u32, serial: u32) -> u32 {
    taxon ^ 384_160_001u32.wrapping_mul(serial).wrapping_add(2459)
}

/// An NFT as Clio's `nfts_by_issuer` reports it. Burned NFTs stay, with `is_burned`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Nft {
    pub id: NftId,
    pub issuer: AccountId,
    pub owner: AccountId,
    pub taxon: u32,
    pub serial: u32,
    pub flags: u16,
    pub transfer_fee: u16,
    /// Hex, as on the ledger ("" when none).
    pub uri: String,
    pub is_burned: bool,
    /// Ledger of the last change (the reply's per-NFT `ledger_index`).
    pub changed_in: LedgerIndex,
}

/// A closed, validated ledger.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct LedgerHeader {
    pub index: LedgerIndex,
    pub hash: [u8; 32],
    pub parent_hash: [u8; 32],
    /// Seconds since the Ripple epoch (2000-01-01).
    pub close_time: u64,
}

impl LedgerHeader {
    pub fn hash_hex(&self) -> String {
        hex_upper(&self.hash)
    }
}

/// One object of an owner directory as of some ledger.
#[derive(Debug, Clone)]
pub enum DirectoryItem<'a> {
    Line(&'a TrustLine),
    Other(OwnerObjectKind),
}

/// Versions of one object: `(ledger it took effect in, value or None = deleted)`, ascending.
#[derive(Debug, Clone)]
struct History<T> {
    versions: Vec<(LedgerIndex, Option<T>)>,
}

impl<T> History<T> {
    fn new(ledger: LedgerIndex, value: T) -> Self {
        Self {
            versions: vec![(ledger, Some(value))],
        }
    }

    fn at(&self, ledger: LedgerIndex) -> Option<&T> {
        let after = self.versions.partition_point(|(from, _)| *from <= ledger);
        after
            .checked_sub(1)
            .and_then(|i| self.versions[i].1.as_ref())
    }

    /// Records a version at `ledger`, which must be the tip: a second write in the same ledger
    /// replaces the first.
    fn set(&mut self, ledger: LedgerIndex, value: Option<T>) {
        match self.versions.last_mut() {
            Some((from, slot)) if *from == ledger => *slot = value,
            _ => self.versions.push((ledger, value)),
        }
    }

    fn latest(&self) -> Option<&T> {
        self.versions.last().and_then(|(_, v)| v.as_ref())
    }
}

#[derive(Debug, Clone, Copy)]
enum DirObject {
    Line(usize),
    Other(OwnerObjectKind),
}

#[derive(Debug, Clone)]
struct DirEntry {
    key: [u8; 32],
    object: DirObject,
    /// Present from `added` until `removed` (exclusive).
    added: LedgerIndex,
    removed: Option<LedgerIndex>,
}

impl DirEntry {
    fn live_at(&self, ledger: LedgerIndex) -> bool {
        self.added <= ledger && self.removed.is_none_or(|r| ledger < r)
    }
}

/// The simulated ledger history.
#[derive(Debug)]
pub struct XrplLedgerState {
    seed: u64,
    ledgers: BTreeMap<LedgerIndex, LedgerHeader>,
    by_hash: HashMap<[u8; 32], LedgerIndex>,
    tip: LedgerIndex,
    accounts: BTreeMap<AccountId, History<AccountRoot>>,
    lines: Vec<History<TrustLine>>,
    /// (lower account, higher account, currency) → line, like rippled's RippleState key.
    line_ids: HashMap<(AccountId, AccountId, Currency), usize>,
    /// (issuer, currency) → lines, for churn and totals.
    line_groups: BTreeMap<(AccountId, Currency), Vec<usize>>,
    owner_dirs: HashMap<AccountId, Vec<DirEntry>>,
    mpts: BTreeMap<MptIssuanceId, MptIssuance>,
    mpt_sequences: HashMap<AccountId, u32>,
    nfts: BTreeMap<NftId, History<Nft>>,
    /// issuer → (taxon, id): Clio's `nfts_by_issuer` order.
    issuer_nfts: BTreeMap<AccountId, BTreeSet<(u32, NftId)>>,
    nft_serials: HashMap<AccountId, u32>,
    next_account: u64,
    next_object: u64,
}

impl Default for XrplLedgerState {
    fn default() -> Self {
        Self::new()
    }
}

impl XrplLedgerState {
    /// An empty history whose only ledger is 90 000 000 (mainnet-like magnitude).
    pub fn new() -> Self {
        Self::starting_at(90_000_000, 0)
    }

    /// An empty history whose only ledger is `first`; `seed` drives generated addresses and
    /// hashes.
    pub fn starting_at(first: LedgerIndex, seed: u64) -> Self {
        let mut state = Self {
            seed,
            ledgers: BTreeMap::new(),
            by_hash: HashMap::new(),
            tip: first,
            accounts: BTreeMap::new(),
            lines: Vec::new(),
            line_ids: HashMap::new(),
            line_groups: BTreeMap::new(),
            owner_dirs: HashMap::new(),
            mpts: BTreeMap::new(),
            mpt_sequences: HashMap::new(),
            nfts: BTreeMap::new(),
            issuer_nfts: BTreeMap::new(),
            nft_serials: HashMap::new(),
            next_account: 0,
            next_object: 0,
        };
        state.push_header(first, [0; 32], FIRST_CLOSE_TIME);
        state
    }

    pub fn into_shared(self) -> SharedState {
        Arc::new(RwLock::new(self))
    }

    // ----- ledgers -------------------------------------------------------------------------

    /// The newest validated ledger.
    pub fn tip(&self) -> LedgerIndex {
        self.tip
    }

    /// The oldest ledger still available (older ones answer `lgrNotFound`).
    pub fn oldest(&self) -> LedgerIndex {
        *self.ledgers.keys().next().expect("at least one ledger")
    }

    pub fn ledger(&self, index: LedgerIndex) -> Option<&LedgerHeader> {
        self.ledgers.get(&index)
    }

    pub fn ledger_by_hash(&self, hash: &[u8; 32]) -> Option<&LedgerHeader> {
        self.by_hash.get(hash).and_then(|i| self.ledgers.get(i))
    }

    /// Closes the tip and opens the next ledger, a copy of it; returns the new index.
    pub fn advance_ledger(&mut self) -> LedgerIndex {
        let parent = self.ledgers[&self.tip].clone();
        let index = self.tip + 1;
        self.push_header(index, parent.hash, parent.close_time + 4);
        self.tip = index;
        index
    }

    /// Drops ledgers below `index` from the history (like `online_delete`): they answer
    /// `lgrNotFound` afterwards. Object versions stay (they are only reachable through ledgers).
    pub fn forget_ledgers_before(&mut self, index: LedgerIndex) {
        let index = index.min(self.tip);
        let kept = self.ledgers.split_off(&index);
        for header in self.ledgers.values() {
            self.by_hash.remove(&header.hash);
        }
        self.ledgers = kept;
    }

    fn push_header(&mut self, index: LedgerIndex, parent_hash: [u8; 32], close_time: u64) {
        let hash = sha256_parts(&[
            b"ledger",
            &self.seed.to_be_bytes(),
            &index.to_be_bytes(),
            &parent_hash,
        ]);
        self.by_hash.insert(hash, index);
        self.ledgers.insert(
            index,
            LedgerHeader {
                index,
                hash,
                parent_hash,
                close_time,
            },
        );
    }

    fn object_key(&mut self, kind: &[u8], parts: &[&[u8]]) -> [u8; 32] {
        self.next_object += 1;
        let counter = self.next_object.to_be_bytes();
        let seed = self.seed.to_be_bytes();
        let mut all: Vec<&[u8]> = vec![kind, &seed, &counter];
        all.extend_from_slice(parts);
        sha256_parts(&all)
    }

    // ----- accounts ------------------------------------------------------------------------

    /// A fresh generated account (valid address) with 1000 XRP.
    pub fn new_account(&mut self) -> AccountId {
        loop {
            let id = AccountId::from_seed(self.seed, self.next_account);
            self.next_account += 1;
            if !self.accounts.contains_key(&id) {
                self.add_account(id, DEFAULT_DROPS);
                return id;
            }
        }
    }

    /// Creates (or re-funds) an account at the tip.
    pub fn add_account(&mut self, id: AccountId, balance_drops: u64) {
        let tip = self.tip;
        let root = match self.accounts.get(&id).and_then(History::latest) {
            Some(root) => AccountRoot {
                balance_drops,
                changed_in: tip,
                ..*root
            },
            None => AccountRoot {
                balance_drops,
                flags: 0,
                sequence: 1,
                changed_in: tip,
            },
        };
        self.accounts
            .entry(id)
            .and_modify(|h| h.set(tip, Some(root)))
            .or_insert_with(|| History::new(tip, root));
    }

    fn ensure_account(&mut self, id: AccountId) {
        if self.accounts.get(&id).and_then(History::latest).is_none() {
            self.add_account(id, DEFAULT_DROPS);
        }
    }

    /// Makes `id` an issuer: creates it if needed and sets `lsfDefaultRipple`.
    pub fn add_issuer(&mut self, id: AccountId) {
        self.ensure_account(id);
        self.update_account_flags(id, LSF_DEFAULT_RIPPLE, true);
    }

    /// A fresh generated issuer.
    pub fn new_issuer(&mut self) -> AccountId {
        let id = self.new_account();
        self.add_issuer(id);
        id
    }

    /// Sets or clears AccountRoot flags at the tip.
    pub fn update_account_flags(&mut self, id: AccountId, flags: u32, set: bool) {
        self.ensure_account(id);
        let tip = self.tip;
        let history = self.accounts.get_mut(&id).expect("ensured");
        let mut root = *history.latest().expect("ensured");
        root.flags = if set {
            root.flags | flags
        } else {
            root.flags & !flags
        };
        root.changed_in = tip;
        history.set(tip, Some(root));
    }

    pub fn account_at(&self, ledger: LedgerIndex, id: &AccountId) -> Option<&AccountRoot> {
        self.accounts.get(id).and_then(|h| h.at(ledger))
    }

    // ----- trust lines and the owner directory ---------------------------------------------

    /// Adds a trust line; `balance` is from `issuer`'s side (negative = `issuer` owes `holder`),
    /// e.g. `"-12.5"` or `"-1e-15"`. Missing accounts are created.
    pub fn add_trust_line(
        &mut self,
        issuer: AccountId,
        holder: AccountId,
        currency: &str,
        balance: &str,
    ) -> Result<()> {
        let balance = IouAmount::parse(balance).context("trust line balance")?;
        let line = TrustLine::new(issuer, holder, Currency::new(currency)?, balance);
        self.insert_trust_line(line)
    }

    /// Adds a fully specified trust line at the tip (both owner directories get an entry).
    pub fn insert_trust_line(&mut self, line: TrustLine) -> Result<()> {
        ensure!(
            line.issuer != line.holder,
            "a trust line needs two accounts"
        );
        let key = line_key(&line.issuer, &line.holder, &line.currency);
        ensure!(
            !self.line_ids.contains_key(&key),
            "trust line {} ↔ {} {} exists; use set_line_balance",
            line.issuer,
            line.holder,
            line.currency
        );
        self.ensure_account(line.issuer);
        self.ensure_account(line.holder);
        let tip = self.tip;
        let id = self.lines.len();
        let object_key = sha256_parts(&[
            b"RippleState",
            &key.0.0,
            &key.1.0,
            key.2.as_str().as_bytes(),
        ]);
        for owner in [line.issuer, line.holder] {
            self.owner_dirs.entry(owner).or_default().push(DirEntry {
                key: object_key,
                object: DirObject::Line(id),
                added: tip,
                removed: None,
            });
        }
        self.line_groups
            .entry((line.issuer, line.currency.clone()))
            .or_default()
            .push(id);
        self.line_ids.insert(key, id);
        self.lines.push(History::new(tip, line));
        Ok(())
    }

    /// Sets a line's balance (from `issuer`'s side) at the tip.
    pub fn set_line_balance(
        &mut self,
        issuer: AccountId,
        holder: AccountId,
        currency: &str,
        balance: &str,
    ) -> Result<()> {
        let id = self.line_id(&issuer, &holder, currency)?;
        let balance = IouAmount::parse(balance)?;
        let tip = self.tip;
        let history = &mut self.lines[id];
        let mut line = history.latest().context("trust line was removed")?.clone();
        line.balance = if line.issuer == issuer {
            balance
        } else {
            balance.negated()
        };
        history.set(tip, Some(line));
        Ok(())
    }

    /// Deletes a line at the tip (it leaves both owner directories).
    pub fn remove_trust_line(
        &mut self,
        issuer: AccountId,
        holder: AccountId,
        currency: &str,
    ) -> Result<()> {
        let id = self.line_id(&issuer, &holder, currency)?;
        let tip = self.tip;
        self.lines[id].set(tip, None);
        for owner in [issuer, holder] {
            for entry in self.owner_dirs.get_mut(&owner).into_iter().flatten() {
                if matches!(entry.object, DirObject::Line(l) if l == id) && entry.removed.is_none()
                {
                    entry.removed = Some(tip);
                }
            }
        }
        Ok(())
    }

    fn line_id(&self, a: &AccountId, b: &AccountId, currency: &str) -> Result<usize> {
        let key = line_key(a, b, &Currency::new(currency)?);
        self.line_ids
            .get(&key)
            .copied()
            .with_context(|| format!("no trust line {a} ↔ {b} {currency}"))
    }

    /// The line between two accounts at `ledger`.
    pub fn trust_line_at(
        &self,
        ledger: LedgerIndex,
        a: &AccountId,
        b: &AccountId,
        currency: &str,
    ) -> Option<&TrustLine> {
        let id = self.line_id(a, b, currency).ok()?;
        self.lines[id].at(ledger)
    }

    /// Appends `n` non-line objects to `owner`'s directory, each at a deterministic
    /// pseudo-random position, so they are interleaved with its trust lines as on a real ledger
    /// (where directory pages are sorted by object key).
    pub fn add_owner_objects(&mut self, owner: AccountId, n: usize) {
        self.ensure_account(owner);
        for i in 0..n {
            let kind = OwnerObjectKind::ALL[i % OwnerObjectKind::ALL.len()];
            let key = self.object_key(b"Other", &[&owner.0]);
            let len = self.owner_dirs.get(&owner).map_or(0, Vec::len);
            let position = (u64::from_be_bytes(key[..8].try_into().expect("8 bytes"))
                % (len as u64 + 1)) as usize;
            self.insert_dir_entry(owner, position, key, kind);
        }
    }

    /// Inserts `n` non-line objects together at `position` of `owner`'s directory (clamped to its
    /// length), e.g. to force an `account_lines` page with no lines at all.
    pub fn add_owner_objects_at(&mut self, owner: AccountId, position: usize, n: usize) {
        self.ensure_account(owner);
        for i in 0..n {
            let kind = OwnerObjectKind::ALL[i % OwnerObjectKind::ALL.len()];
            let key = self.object_key(b"Other", &[&owner.0]);
            let len = self.owner_dirs.get(&owner).map_or(0, Vec::len);
            self.insert_dir_entry(owner, (position + i).min(len), key, kind);
        }
    }

    fn insert_dir_entry(
        &mut self,
        owner: AccountId,
        position: usize,
        key: [u8; 32],
        kind: OwnerObjectKind,
    ) {
        let tip = self.tip;
        self.owner_dirs.entry(owner).or_default().insert(
            position,
            DirEntry {
                key,
                object: DirObject::Other(kind),
                added: tip,
                removed: None,
            },
        );
    }

    /// `owner`'s directory at `ledger`: (object key, directory page, item), in directory order.
    pub fn owner_directory_at(
        &self,
        ledger: LedgerIndex,
        owner: &AccountId,
    ) -> Vec<([u8; 32], usize, DirectoryItem<'_>)> {
        let Some(entries) = self.owner_dirs.get(owner) else {
            return Vec::new();
        };
        let mut directory = Vec::with_capacity(entries.len());
        for entry in entries.iter().filter(|e| e.live_at(ledger)) {
            let item = match entry.object {
                DirObject::Line(id) => match self.lines[id].at(ledger) {
                    Some(line) => DirectoryItem::Line(line),
                    None => continue,
                },
                DirObject::Other(kind) => DirectoryItem::Other(kind),
            };
            let page = directory.len() / DIRECTORY_PAGE_SIZE;
            directory.push((entry.key, page, item));
        }
        directory
    }

    /// Up to `max` objects of `owner`'s directory at `ledger` that follow the object keyed
    /// `after` (from the start when `None`), each with its directory page: a window of
    /// [`Self::owner_directory_at`] found without building the whole directory, so a page of a
    /// large directory costs one pass over its keys rather than a copy of every object. `None`
    /// when `after` is not in the directory at `ledger`.
    pub fn owner_directory_from(
        &self,
        ledger: LedgerIndex,
        owner: &AccountId,
        after: Option<&[u8; 32]>,
        max: usize,
    ) -> Option<Vec<([u8; 32], usize, DirectoryItem<'_>)>> {
        let entries = self.owner_dirs.get(owner).map_or(&[][..], Vec::as_slice);
        // A line's directory entry is live exactly while the line exists (both change together
        // in `insert_trust_line` / `remove_trust_line`), so `live_at` alone numbers the objects
        // the way `owner_directory_at` does.
        let mut live = entries.iter().filter(|e| e.live_at(ledger)).enumerate();
        if let Some(after) = after {
            live.find(|(_, e)| e.key == *after)?;
        }
        let mut window = Vec::with_capacity(max.min(1_024));
        for (position, entry) in live.take(max) {
            let item = match entry.object {
                DirObject::Line(id) => match self.lines[id].at(ledger) {
                    Some(line) => DirectoryItem::Line(line),
                    None => continue,
                },
                DirObject::Other(kind) => DirectoryItem::Other(kind),
            };
            window.push((entry.key, position / DIRECTORY_PAGE_SIZE, item));
        }
        Some(window)
    }

    /// Number of objects in `owner`'s directory at `ledger` (AccountRoot `OwnerCount`).
    pub fn owner_count_at(&self, ledger: LedgerIndex, owner: &AccountId) -> usize {
        self.owner_directory_at(ledger, owner).len()
    }

    /// Every holder of `issuer`'s `currency` at `ledger`: address → exact plain decimal of what
    /// the holder holds (`-balance` from the issuer's side). Every line is listed, zero and
    /// negative amounts included (a negative amount: the issuer holds the other's IOU).
    pub fn holders_at(
        &self,
        ledger: LedgerIndex,
        issuer: &AccountId,
        currency: &str,
    ) -> BTreeMap<String, String> {
        self.lines_of_group_at(ledger, issuer, currency)
            .map(|line| {
                (
                    line.holder.to_address(),
                    line.holder_amount().to_plain_decimal(),
                )
            })
            .collect()
    }

    /// Like [`Self::holders_at`], restricted to strictly positive holdings.
    pub fn positive_holders_at(
        &self,
        ledger: LedgerIndex,
        issuer: &AccountId,
        currency: &str,
    ) -> BTreeMap<String, String> {
        self.lines_of_group_at(ledger, issuer, currency)
            .filter(|line| line.holder_amount().is_positive())
            .map(|line| {
                (
                    line.holder.to_address(),
                    line.holder_amount().to_plain_decimal(),
                )
            })
            .collect()
    }

    fn lines_of_group_at<'a>(
        &'a self,
        ledger: LedgerIndex,
        issuer: &AccountId,
        currency: &str,
    ) -> impl Iterator<Item = &'a TrustLine> + 'a {
        let ids = Currency::new(currency)
            .ok()
            .and_then(|c| self.line_groups.get(&(*issuer, c)))
            .map(Vec::as_slice)
            .unwrap_or(&[]);
        ids.iter().filter_map(move |&id| self.lines[id].at(ledger))
    }

    /// Exact sum of what `issuer` owes per currency at `ledger` (over lines where its balance is
    /// negative), in units of 10^-96. `excluded` holders (hot wallets) and frozen lines are left
    /// out, as `gateway_balances` reports them separately.
    pub fn obligation_units_at(
        &self,
        ledger: LedgerIndex,
        issuer: &AccountId,
        excluded: &BTreeSet<AccountId>,
    ) -> BTreeMap<Currency, BigInt> {
        let mut sums: BTreeMap<Currency, IouSum> = BTreeMap::new();
        for (_, _, item) in self.owner_directory_at(ledger, issuer) {
            let DirectoryItem::Line(line) = item else {
                continue;
            };
            let view = line.view_from(issuer);
            if !view.balance.is_negative()
                || excluded.contains(&view.peer)
                || view.mine.freeze
                || view.peers.freeze
            {
                continue;
            }
            let owed = view.balance.negated();
            match sums.get_mut(&line.currency) {
                Some(sum) => sum.add(&owed),
                None => sums.entry(line.currency.clone()).or_default().add(&owed),
            }
        }
        sums.into_iter()
            .map(|(currency, sum)| (currency, sum.to_units()))
            .collect()
    }

    /// `gateway_balances` `obligations`: the exact sums rounded **once** to 16 significant
    /// digits (half to even). rippled accumulates with `STAmount` additions, each of which rounds;
    /// on sums whose terms differ by more than 16 orders of magnitude the two can differ in the
    /// last digit.
    pub fn obligations_at(
        &self,
        ledger: LedgerIndex,
        issuer: &AccountId,
    ) -> BTreeMap<String, IouAmount> {
        self.obligation_units_at(ledger, issuer, &BTreeSet::new())
            .into_iter()
            .map(|(currency, units)| {
                let total = IouAmount::from_units_rounded(&units)
                    .expect("generated totals stay below the IOU maximum");
                (currency.0, total)
            })
            .collect()
    }

    /// The exact (unrounded) obligations as plain decimals.
    pub fn obligations_exact_at(
        &self,
        ledger: LedgerIndex,
        issuer: &AccountId,
    ) -> BTreeMap<String, String> {
        self.obligation_units_at(ledger, issuer, &BTreeSet::new())
            .into_iter()
            .map(|(currency, units)| (currency.0, format_units_plain(&units)))
            .collect()
    }

    /// `n` new holders of `issuer`'s `currency`, with amounts drawn from `seed`: mostly plain
    /// values with 1–16 significant digits, plus tiny (down to 1e-30) and huge (up to 1e40)
    /// magnitudes that rippled prints in exponent notation, some zero lines, a few frozen or
    /// authorized lines. Returns the holders in directory order.
    pub fn populate_trust_lines(
        &mut self,
        issuer: AccountId,
        currency: &str,
        n: usize,
        seed: u64,
    ) -> Result<Vec<AccountId>> {
        let currency = Currency::new(currency)?;
        self.add_issuer(issuer);
        let mut rng = StdRng::seed_from_u64(seed);
        let mut holders = Vec::with_capacity(n);
        for _ in 0..n {
            let holder = self.new_account();
            let amount = random_amount(&mut rng);
            let mut line = TrustLine::new(issuer, holder, currency.clone(), amount.negated());
            line.holder_side.no_ripple = rng.random_bool(0.8);
            line.issuer_side.freeze = rng.random_ratio(1, 50);
            line.issuer_side.authorized = rng.random_ratio(1, 10);
            line.holder_side.quality_in = if rng.random_ratio(1, 40) {
                1_000_000_000
            } else {
                0
            };
            self.insert_trust_line(line)?;
            holders.push(holder);
        }
        Ok(holders)
    }

    // ----- MPTs ----------------------------------------------------------------------------

    /// A new MPT issuance of `issuer` at the tip.
    pub fn add_mpt_issuance(&mut self, issuer: AccountId, asset_scale: u8) -> MptIssuanceId {
        self.ensure_account(issuer);
        let sequence = self.mpt_sequences.entry(issuer).or_insert(0);
        *sequence += 1;
        let id = MptIssuanceId::new(*sequence, &issuer);
        self.mpts.insert(
            id,
            MptIssuance {
                id,
                issuer,
                asset_scale,
                flags: 0,
                created_in: self.tip,
                maximum_amount: None,
                transfer_fee: 0,
                metadata: None,
                locked_amount: 0,
                holders: BTreeMap::new(),
            },
        );
        id
    }

    /// Sets `holder`'s balance of an issuance at the tip (creating its MPToken).
    pub fn set_mpt_holder(
        &mut self,
        id: MptIssuanceId,
        holder: AccountId,
        amount: u64,
    ) -> Result<()> {
        self.ensure_account(holder);
        let tip = self.tip;
        let issuance = self.mpts.get_mut(&id).context("unknown MPT issuance")?;
        let token = MpToken { amount, flags: 0 };
        issuance
            .holders
            .entry(holder)
            .and_modify(|h| h.set(tip, Some(token)))
            .or_insert_with(|| History::new(tip, token));
        Ok(())
    }

    pub fn mpt_issuance(&self, id: &MptIssuanceId) -> Option<&MptIssuance> {
        self.mpts.get(id)
    }

    /// The issuance, to set its flags, `MaximumAmount`, `TransferFee`, metadata or escrowed
    /// amount. These fields are not versioned: a change shows at every ledger.
    pub fn mpt_issuance_mut(&mut self, id: &MptIssuanceId) -> Option<&mut MptIssuance> {
        self.mpts.get_mut(id)
    }

    /// Holder address → amount (integer string) at `ledger`; zero balances included.
    pub fn mpt_holders_at(
        &self,
        ledger: LedgerIndex,
        id: &MptIssuanceId,
    ) -> BTreeMap<String, String> {
        self.mpts
            .get(id)
            .filter(|i| i.created_in <= ledger)
            .map(|issuance| {
                issuance
                    .holders_at(ledger)
                    .map(|(account, token)| (account.to_address(), token.amount.to_string()))
                    .collect()
            })
            .unwrap_or_default()
    }

    // ----- NFTs ----------------------------------------------------------------------------

    /// Mints an NFT of `issuer` owned by `owner` at the tip (flags 8 = transferable, serial from
    /// the issuer's counter).
    pub fn add_nft(
        &mut self,
        issuer: AccountId,
        owner: AccountId,
        taxon: u32,
        transfer_fee: u16,
    ) -> NftId {
        self.ensure_account(issuer);
        self.ensure_account(owner);
        let serial = self.nft_serials.entry(issuer).or_insert(0);
        let this_serial = *serial;
        *serial += 1;
        let flags = 8;
        let id = NftId::new(flags, transfer_fee, &issuer, taxon, this_serial);
        let nft = Nft {
            id,
            issuer,
            owner,
            taxon,
            serial: this_serial,
            flags,
            transfer_fee,
            uri: String::new(),
            is_burned: false,
            changed_in: self.tip,
        };
        self.nfts.insert(id, History::new(self.tip, nft));
        self.issuer_nfts
            .entry(issuer)
            .or_default()
            .insert((taxon, id));
        id
    }

    /// Burns an NFT at the tip (Clio keeps listing it with `is_burned: true`).
    pub fn burn_nft(&mut self, id: NftId) -> Result<()> {
        self.update_nft(id, |nft| nft.is_burned = true)
    }

    pub fn transfer_nft(&mut self, id: NftId, new_owner: AccountId) -> Result<()> {
        self.ensure_account(new_owner);
        self.update_nft(id, |nft| nft.owner = new_owner)
    }

    fn update_nft(&mut self, id: NftId, change: impl FnOnce(&mut Nft)) -> Result<()> {
        let tip = self.tip;
        let history = self.nfts.get_mut(&id).context("unknown NFT")?;
        let mut nft = history.latest().context("unknown NFT")?.clone();
        change(&mut nft);
        nft.changed_in = tip;
        history.set(tip, Some(nft));
        Ok(())
    }

    /// `issuer`'s NFTs at `ledger` in Clio's order (taxon, then id), burned ones included,
    /// optionally one taxon only.
    pub fn nfts_of_issuer_at(
        &self,
        ledger: LedgerIndex,
        issuer: &AccountId,
        taxon: Option<u32>,
    ) -> Vec<&Nft> {
        let Some(ids) = self.issuer_nfts.get(issuer) else {
            return Vec::new();
        };
        ids.iter()
            .filter(|(t, _)| taxon.is_none_or(|want| *t == want))
            .filter_map(|(_, id)| self.nfts.get(id).and_then(|h| h.at(ledger)))
            .collect()
    }

    /// Clio's NFT index of `issuer`: every NFT it ever minted (also those minted after any given
    /// ledger), as (taxon, id) in Clio's order, optionally one taxon only.
    pub fn nft_index_of_issuer(&self, issuer: &AccountId, taxon: Option<u32>) -> Vec<(u32, NftId)> {
        self.issuer_nfts.get(issuer).map_or_else(Vec::new, |ids| {
            ids.iter()
                .filter(|(t, _)| taxon.is_none_or(|want| *t == want))
                .copied()
                .collect()
        })
    }

    /// NFT `id` as of `ledger` (burned ones included); `None` before it was minted.
    pub fn nft_at(&self, ledger: LedgerIndex, id: &NftId) -> Option<&Nft> {
        self.nfts.get(id).and_then(|h| h.at(ledger))
    }

    /// Unburned NFTs of `issuer` per owner address at `ledger`.
    pub fn nft_counts_at(&self, ledger: LedgerIndex, issuer: &AccountId) -> BTreeMap<String, u64> {
        let mut counts = BTreeMap::new();
        for nft in self.nfts_of_issuer_at(ledger, issuer, None) {
            if !nft.is_burned {
                *counts.entry(nft.owner.to_address()).or_insert(0) += 1;
            }
        }
        counts
    }

    // ----- churn ---------------------------------------------------------------------------

    /// Applies `moves` random transfers at the tip: IOU amounts between holders of the same
    /// issuer and currency (the issuer's total obligation stays exactly the same, and every new
    /// balance is exactly representable), MPT amounts between holders of an issuance, and NFTs
    /// changing owner. Call after [`Self::advance_ledger`] so earlier ledgers stay as they were.
    pub fn churn(&mut self, rng: &mut impl Rng, moves: usize) {
        let groups: Vec<Vec<usize>> = self
            .line_groups
            .values()
            .filter(|ids| ids.len() >= 2)
            .cloned()
            .collect();
        let mpts: Vec<MptIssuanceId> = self
            .mpts
            .values()
            .filter(|i| i.holders.len() >= 2)
            .map(|i| i.id)
            .collect();
        let nfts: Vec<NftId> = self.nfts.keys().copied().collect();
        for _ in 0..moves {
            if !groups.is_empty() {
                let group = &groups[rng.random_range(0..groups.len())];
                self.move_iou(rng, group);
            }
            if !mpts.is_empty() {
                let pick = mpts[rng.random_range(0..mpts.len())];
                self.move_mpt(rng, pick);
            }
            if nfts.len() >= 2 && rng.random_ratio(1, 4) {
                self.move_nft(rng, &nfts);
            }
        }
    }

    fn move_iou(&mut self, rng: &mut impl Rng, group: &[usize]) {
        let tip = self.tip;
        for _attempt in 0..8 {
            let from = group[rng.random_range(0..group.len())];
            let to = group[rng.random_range(0..group.len())];
            let (Some(a), Some(b)) = (self.lines[from].at(tip), self.lines[to].at(tip)) else {
                continue;
            };
            // Frozen lines cannot move funds (and gateway_balances counts them apart).
            let frozen = |l: &TrustLine| l.issuer_side.freeze || l.holder_side.freeze;
            if from == to || !a.holder_amount().is_positive() || frozen(a) || frozen(b) {
                continue;
            }
            let held = a.holder_amount().to_units();
            // A random share of the holding, or all of it; keep the candidate only if both new
            // balances are exact 16-digit amounts, so the issuer's total is preserved exactly.
            let share = rng.random_range(1..=100u32);
            let Ok(amount) = IouAmount::from_units_rounded(&(&held * share / 100u32)) else {
                continue;
            };
            let amount = amount.to_units();
            let new_a = IouAmount::from_units_exact(&(a.balance.to_units() + &amount));
            let new_b = IouAmount::from_units_exact(&(b.balance.to_units() - &amount));
            if let (Some(new_a), Some(new_b)) = (new_a, new_b)
                && !amount.is_zero()
            {
                let mut a = a.clone();
                let mut b = b.clone();
                a.balance = new_a;
                b.balance = new_b;
                self.lines[from].set(tip, Some(a));
                self.lines[to].set(tip, Some(b));
                return;
            }
        }
    }

    fn move_mpt(&mut self, rng: &mut impl Rng, id: MptIssuanceId) {
        let tip = self.tip;
        let issuance = self.mpts.get_mut(&id).expect("listed issuance");
        let holders: Vec<(AccountId, MpToken)> = issuance.holders_at(tip).collect();
        let (from, to) = (
            holders[rng.random_range(0..holders.len())],
            holders[rng.random_range(0..holders.len())],
        );
        if from.0 == to.0 || from.1.amount == 0 {
            return;
        }
        let amount = rng.random_range(1..=from.1.amount);
        let Some(new_to) = to.1.amount.checked_add(amount) else {
            return;
        };
        for (account, value) in [(from.0, from.1.amount - amount), (to.0, new_to)] {
            let token = MpToken {
                amount: value,
                ..issuance.holders[&account]
                    .latest()
                    .copied()
                    .expect("live holder")
            };
            issuance
                .holders
                .get_mut(&account)
                .expect("listed holder")
                .set(tip, Some(token));
        }
    }

    fn move_nft(&mut self, rng: &mut impl Rng, nfts: &[NftId]) {
        let tip = self.tip;
        let pick = nfts[rng.random_range(0..nfts.len())];
        let other = nfts[rng.random_range(0..nfts.len())];
        let (Some(nft), Some(other)) = (
            self.nfts[&pick].at(tip).cloned(),
            self.nfts[&other].at(tip).cloned(),
        ) else {
            return;
        };
        if nft.is_burned || nft.owner == other.owner {
            return;
        }
        let _ = self.transfer_nft(nft.id, other.owner);
    }
}

fn line_key(a: &AccountId, b: &AccountId, currency: &Currency) -> (AccountId, AccountId, Currency) {
    let (low, high) = if a < b { (*a, *b) } else { (*b, *a) };
    (low, high, currency.clone())
}

/// A holder amount for generated lines: see [`XrplLedgerState::populate_trust_lines`].
fn random_amount(rng: &mut impl Rng) -> IouAmount {
    let kind = rng.random_range(0..100u32);
    if kind < 5 {
        return IouAmount::ZERO;
    }
    let digits = rng.random_range(1..=16u32);
    let mantissa = rng.random_range(10u64.pow(digits - 1)..10u64.pow(digits));
    let exponent = match kind {
        // Tiny: rippled prints these as `mmmm…e-30` and the like.
        5..=14 => rng.random_range(-30..=-11) - digits as i32 + 1,
        // Huge: 1e11 and up, again exponent notation.
        15..=19 => rng.random_range(11..=40) - digits as i32 + 1,
        // Ordinary: 0.0001 .. 10^7.
        _ => rng.random_range(-4..=7) - digits as i32 + 1,
    };
    IouAmount::new(false, mantissa, exponent).expect("≤16 digits within range")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn nft_ids_have_the_real_layout() {
        // The recorded `nfts_by_issuer` reply: taxon 1, serial 1531, flags 8.
        let id =
            NftId::from_hex("00080000479C76BC5174816A938ABF667E67D851140BFE03F068FA97000005FB")
                .unwrap();
        assert_eq!(id.serial(), 1531);
        assert_eq!(id.taxon(), 1);
        let issuer = AccountId::from_address("rfXeQv31yWMrhhPxMHZRzQqhw5mQrcuici").unwrap();
        assert_eq!(NftId::new(8, 0, &issuer, 1, 1531), id);
    }

    #[test]
    fn a_pinned_ledger_keeps_its_balances_while_the_tip_churns() {
        let mut state = XrplLedgerState::starting_at(100, 1);
        let issuer = state.new_issuer();
        state.populate_trust_lines(issuer, "USD", 50, 2).unwrap();
        let first = state.tip();
        let before = state.holders_at(first, &issuer, "USD");
        let exact_before = state.obligations_exact_at(first, &issuer);
        let mut rng = StdRng::seed_from_u64(3);
        for _ in 0..20 {
            state.advance_ledger();
            state.churn(&mut rng, 5);
        }
        assert_eq!(state.holders_at(first, &issuer, "USD"), before);
        assert_ne!(state.holders_at(state.tip(), &issuer, "USD"), before);
        assert_eq!(
            state.obligations_exact_at(state.tip(), &issuer),
            exact_before
        );
    }

    #[test]
    fn directory_windows_match_the_whole_directory() {
        let mut state = XrplLedgerState::starting_at(10, 5);
        let issuer = state.new_issuer();
        let holders = state.populate_trust_lines(issuer, "USD", 120, 4).unwrap();
        state.add_owner_objects(issuer, 30);
        let first = state.tip();
        state.advance_ledger();
        state.remove_trust_line(issuer, holders[7], "USD").unwrap();
        state.add_owner_objects_at(issuer, 50, 5);
        for ledger in [first, state.tip()] {
            let whole = state.owner_directory_at(ledger, &issuer);
            let keys = |items: &[([u8; 32], usize, DirectoryItem<'_>)]| -> Vec<([u8; 32], usize)> {
                items.iter().map(|(k, p, _)| (*k, *p)).collect()
            };
            let from_start = state
                .owner_directory_from(ledger, &issuer, None, 40)
                .unwrap();
            assert_eq!(keys(&from_start), keys(&whole[..40]));
            let after = whole[63].0;
            let window = state
                .owner_directory_from(ledger, &issuer, Some(&after), 40)
                .unwrap();
            assert_eq!(keys(&window), keys(&whole[64..104]));
            let tail = state
                .owner_directory_from(ledger, &issuer, Some(&whole[whole.len() - 2].0), 40)
                .unwrap();
            assert_eq!(keys(&tail), keys(&whole[whole.len() - 1..]));
            assert!(
                state
                    .owner_directory_from(ledger, &issuer, Some(&[7; 32]), 40)
                    .is_none()
            );
        }
        // A line removed later is no marker in the newer ledger.
        let removed_key = state
            .owner_directory_at(first, &issuer)
            .into_iter()
            .find(|(_, _, item)| matches!(item, DirectoryItem::Line(l) if l.holder == holders[7]))
            .unwrap()
            .0;
        assert!(
            state
                .owner_directory_from(first, &issuer, Some(&removed_key), 1)
                .is_some()
        );
        assert!(
            state
                .owner_directory_from(state.tip(), &issuer, Some(&removed_key), 1)
                .is_none()
        );
    }

    #[test]
    fn lines_added_later_are_invisible_in_earlier_ledgers() {
        let mut state = XrplLedgerState::starting_at(10, 0);
        let issuer = state.new_issuer();
        let holder = state.new_account();
        let first = state.tip();
        state.advance_ledger();
        state.add_trust_line(issuer, holder, "EUR", "-3").unwrap();
        assert!(state.holders_at(first, &issuer, "EUR").is_empty());
        assert_eq!(state.holders_at(state.tip(), &issuer, "EUR").len(), 1);
        assert_eq!(state.owner_count_at(first, &issuer), 0);
        state.advance_ledger();
        state.remove_trust_line(issuer, holder, "EUR").unwrap();
        assert!(state.holders_at(state.tip(), &issuer, "EUR").is_empty());
        assert_eq!(state.holders_at(state.tip() - 1, &issuer, "EUR").len(), 1);
    }
}
