//! The simulated mirror-node database: entities, tokens, live `token_account` rows and the
//! historical balance snapshots. Everything is keyed by encoded entity id (`u64`, equal to `num`
//! for `0.0.num`) so that range scans and ordering match the mirror node's SQL.

use std::collections::{BTreeMap, BTreeSet};
use std::ops::RangeInclusive;
use std::sync::{Arc, RwLock};
use std::time::{SystemTime, UNIX_EPOCH};

use rand::rngs::StdRng;
use rand::{Rng, SeedableRng};

use super::ids::EntityId;

/// The state shared between the running server and the test that drives it.
pub type SharedState = Arc<RwLock<MirrorState>>;

/// `FUNGIBLE_COMMON` or `NON_FUNGIBLE_UNIQUE`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum TokenType {
    FungibleCommon,
    NonFungibleUnique,
}

impl TokenType {
    pub fn as_str(self) -> &'static str {
        match self {
            Self::FungibleCommon => "FUNGIBLE_COMMON",
            Self::NonFungibleUnique => "NON_FUNGIBLE_UNIQUE",
        }
    }
}

/// One version of a row of the `token` table. Defaults follow the mirror node's integration test
/// seeding (inferred from the recorded fixtures): name "Token name", decimals 1000, supplies
/// 1 000 000, max supply `i64::MAX`, treasury 0.0.98.
#[derive(Debug, Clone, PartialEq)]
pub struct TokenRecord {
    pub token_id: EntityId,
    pub name: String,
    pub symbol: String,
    pub decimals: i64,
    pub token_type: TokenType,
    pub initial_supply: i64,
    pub total_supply: i64,
    pub max_supply: i64,
    pub supply_type: String,
    pub freeze_default: bool,
    pub treasury_account_id: EntityId,
    pub pause_status: String,
    pub admin_key: Option<Vec<u8>>,
    pub fee_schedule_key: Option<Vec<u8>>,
    pub freeze_key: Option<Vec<u8>>,
    pub kyc_key: Option<Vec<u8>>,
    pub pause_key: Option<Vec<u8>>,
    pub supply_key: Option<Vec<u8>>,
    pub wipe_key: Option<Vec<u8>>,
    pub metadata_key: Option<Vec<u8>>,
    pub metadata: Vec<u8>,
    /// Nanoseconds.
    pub created_timestamp: u64,
    /// Lower bound of this version's `timestamp_range` (nanoseconds).
    pub valid_from: u64,
}

impl TokenRecord {
    /// A fungible token with the mirror node's test defaults.
    pub fn fungible(token_id: EntityId, symbol: &str, decimals: i64) -> Self {
        Self {
            token_id,
            name: "Token name".to_owned(),
            symbol: symbol.to_owned(),
            decimals,
            token_type: TokenType::FungibleCommon,
            initial_supply: 1_000_000,
            total_supply: 1_000_000,
            max_supply: i64::MAX,
            supply_type: "INFINITE".to_owned(),
            freeze_default: false,
            treasury_account_id: EntityId::new(98),
            pause_status: "NOT_APPLICABLE".to_owned(),
            admin_key: None,
            fee_schedule_key: None,
            freeze_key: None,
            kyc_key: None,
            pause_key: None,
            supply_key: None,
            wipe_key: None,
            metadata_key: None,
            metadata: Vec::new(),
            created_timestamp: 0,
            valid_from: 0,
        }
    }

    /// A non-fungible token: decimals and initial supply are 0, as on the ledger.
    pub fn non_fungible(token_id: EntityId, symbol: &str) -> Self {
        Self {
            token_type: TokenType::NonFungibleUnique,
            initial_supply: 0,
            ..Self::fungible(token_id, symbol, 0)
        }
    }
}

/// One version of a row of the `entity` table (accounts and tokens alike).
#[derive(Debug, Clone, PartialEq, Default)]
pub struct EntityRecord {
    pub id: EntityId,
    pub memo: String,
    pub deleted: Option<bool>,
    pub auto_renew_period: Option<i64>,
    pub auto_renew_account_id: Option<EntityId>,
    pub expiration_timestamp: Option<i64>,
    /// Hex, lower case; what `account.publickey` matches.
    pub public_key: Option<String>,
    pub valid_from: u64,
}

/// A fixed custom fee.
#[derive(Debug, Clone, PartialEq, Default)]
pub struct FixedFee {
    pub amount: i64,
    pub collector_account_id: Option<EntityId>,
    pub denominating_token_id: Option<EntityId>,
    pub all_collectors_are_exempt: bool,
}

/// A fractional custom fee (fungible tokens).
#[derive(Debug, Clone, PartialEq, Default)]
pub struct FractionalFee {
    pub numerator: i64,
    pub denominator: i64,
    pub minimum: i64,
    pub maximum: Option<i64>,
    pub net_of_transfers: bool,
    pub collector_account_id: Option<EntityId>,
    pub all_collectors_are_exempt: bool,
}

/// A royalty custom fee (non-fungible tokens).
#[derive(Debug, Clone, PartialEq, Default)]
pub struct RoyaltyFee {
    pub numerator: i64,
    pub denominator: i64,
    pub fallback_fee: Option<FixedFee>,
    pub collector_account_id: Option<EntityId>,
    pub all_collectors_are_exempt: bool,
}

/// One version of a token's custom fee schedule.
#[derive(Debug, Clone, PartialEq, Default)]
pub struct CustomFeeSchedule {
    pub valid_from: u64,
    pub fixed_fees: Vec<FixedFee>,
    pub fractional_fees: Vec<FractionalFee>,
    pub royalty_fees: Vec<RoyaltyFee>,
}

/// A live `token_account` row.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct TokenAccount {
    pub balance: i64,
    /// Consensus time of the last balance change (nanoseconds).
    pub balance_timestamp: u64,
    /// Dissociated rows stay in the table but the balances route does not list them.
    pub associated: bool,
}

/// The balances of one token as a snapshot pinned at some time saw them.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct BalanceSnapshot {
    /// The snapshot's consensus timestamp (nanoseconds), the reply's `timestamp`.
    pub timestamp: u64,
    /// Encoded account id (= num for `0.0.num`) → balance. Accounts whose balance is zero are
    /// **included** with 0, because the mirror node lists them too.
    pub balances: BTreeMap<u64, i64>,
}

/// The simulated database.
#[derive(Debug, Default)]
pub struct MirrorState {
    /// Entity versions by encoded id, sorted by `valid_from`.
    entities: BTreeMap<u64, Vec<EntityRecord>>,
    /// Token versions by encoded id, sorted by `valid_from`.
    tokens: BTreeMap<u64, Vec<TokenRecord>>,
    custom_fees: BTreeMap<u64, Vec<CustomFeeSchedule>>,
    /// token → account → live row.
    token_accounts: BTreeMap<u64, BTreeMap<u64, TokenAccount>>,
    /// token → account → (timestamp → balance). Rows are written only when a balance changed,
    /// like the mirror node's deduplicated `token_balance` table, so a historical query takes, per
    /// account, the newest row at or before the snapshot time.
    token_balance_history: BTreeMap<u64, BTreeMap<u64, BTreeMap<u64, i64>>>,
    /// Times at which a complete balance snapshot exists. The mirror node finds them through the
    /// treasury account's (0.0.2) `account_balance` rows; the seed loader does the same.
    snapshot_times: BTreeSet<u64>,
    /// Last timestamp handed out by [`MirrorState::next_timestamp`].
    clock: u64,
}

impl MirrorState {
    pub fn new() -> Self {
        Self::default()
    }

    /// Wraps the state for sharing with a running simulator.
    pub fn into_shared(self) -> SharedState {
        Arc::new(RwLock::new(self))
    }

    /// A strictly increasing consensus timestamp: wall-clock nanoseconds, bumped past every
    /// timestamp already used so snapshots never share or reverse time.
    pub fn next_timestamp(&mut self) -> u64 {
        let now = SystemTime::now()
            .duration_since(UNIX_EPOCH)
            .map_or(0, |d| u64::try_from(d.as_nanos()).unwrap_or(u64::MAX));
        let last = self
            .clock
            .max(self.latest_snapshot_timestamp().unwrap_or(0));
        self.clock = now.max(last + 1);
        self.clock
    }

    // ----- entities and tokens -------------------------------------------------------------

    /// Adds an entity version (keeps history ordered by `valid_from`).
    pub fn add_entity(&mut self, entity: EntityRecord) {
        let versions = self.entities.entry(entity.id.encoded()).or_default();
        versions.push(entity);
        versions.sort_by_key(|e| e.valid_from);
    }

    /// Adds an account with an optional hex public key.
    pub fn add_account(&mut self, id: EntityId, public_key: Option<&str>) {
        self.add_entity(EntityRecord {
            id,
            public_key: public_key.map(str::to_ascii_lowercase),
            ..EntityRecord::default()
        });
    }

    /// Adds a token version. A token without an entity row gets one (memo = "", not deleted), and
    /// one without a fee schedule gets an empty schedule from its creation time, as the mirror
    /// node always has both for a real token.
    pub fn add_token(&mut self, token: TokenRecord) {
        let id = token.token_id.encoded();
        if !self.entities.contains_key(&id) {
            self.add_entity(EntityRecord {
                id: token.token_id,
                deleted: Some(false),
                valid_from: token.valid_from,
                ..EntityRecord::default()
            });
        }
        if !self.custom_fees.contains_key(&id) {
            self.add_custom_fees(
                token.token_id,
                CustomFeeSchedule {
                    valid_from: token.created_timestamp,
                    ..CustomFeeSchedule::default()
                },
            );
        }
        let versions = self.tokens.entry(id).or_default();
        versions.push(token);
        versions.sort_by_key(|t| t.valid_from);
    }

    /// Adds a custom fee schedule version for a token.
    pub fn add_custom_fees(&mut self, token: EntityId, schedule: CustomFeeSchedule) {
        let versions = self.custom_fees.entry(token.encoded()).or_default();
        versions.push(schedule);
        versions.sort_by_key(|s| s.valid_from);
    }

    /// The token version in force at `at` (nanoseconds; `u64::MAX` for the current one).
    pub fn token_at(&self, token: EntityId, at: u64) -> Option<&TokenRecord> {
        newest_at(self.tokens.get(&token.encoded())?, at, |t| t.valid_from)
    }

    /// The current token version.
    pub fn token(&self, token: EntityId) -> Option<&TokenRecord> {
        self.token_at(token, u64::MAX)
    }

    pub fn entity_at(&self, id: EntityId, at: u64) -> Option<&EntityRecord> {
        newest_at(self.entities.get(&id.encoded())?, at, |e| e.valid_from)
    }

    pub fn custom_fees_at(&self, token: EntityId, at: u64) -> Option<&CustomFeeSchedule> {
        newest_at(self.custom_fees.get(&token.encoded())?, at, |s| {
            s.valid_from
        })
    }

    /// Current public key of an account (hex, lower case).
    pub fn public_key(&self, account: u64) -> Option<&str> {
        self.entities.get(&account)?.last()?.public_key.as_deref()
    }

    // ----- live balances ---------------------------------------------------------------------

    /// Sets a live balance, stamped with a fresh consensus timestamp (returned).
    pub fn set_balance(&mut self, token: EntityId, account: EntityId, balance: i64) -> u64 {
        let at = self.next_timestamp();
        self.set_balance_at(token, account, balance, at);
        at
    }

    /// Sets a live balance with an explicit `balance_timestamp`.
    pub fn set_balance_at(&mut self, token: EntityId, account: EntityId, balance: i64, at: u64) {
        self.put_token_account(
            token,
            account,
            TokenAccount {
                balance,
                balance_timestamp: at,
                associated: true,
            },
        );
    }

    /// Inserts or replaces a live `token_account` row.
    pub fn put_token_account(&mut self, token: EntityId, account: EntityId, row: TokenAccount) {
        self.clock = self.clock.max(row.balance_timestamp);
        self.token_accounts
            .entry(token.encoded())
            .or_default()
            .insert(account.encoded(), row);
    }

    /// Live rows of a token in account order, including dissociated ones.
    pub fn token_accounts(&self, token: EntityId) -> Option<&BTreeMap<u64, TokenAccount>> {
        self.token_accounts.get(&token.encoded())
    }

    /// Live balances of associated accounts (encoded account id → balance).
    pub fn live_balances(&self, token: EntityId) -> BTreeMap<u64, i64> {
        self.token_accounts(token)
            .into_iter()
            .flatten()
            .filter(|(_, row)| row.associated)
            .map(|(&account, row)| (account, row.balance))
            .collect()
    }

    // ----- snapshots -------------------------------------------------------------------------

    /// Records raw historical rows at `timestamp` (what a seed's `balances` entry holds).
    /// `complete` marks a snapshot time (the mirror node's treasury row); rows recorded at other
    /// times still count as "the newest balance ≤ T" for later snapshots.
    pub fn record_historical_balances(
        &mut self,
        timestamp: u64,
        complete: bool,
        rows: impl IntoIterator<Item = (EntityId, EntityId, i64)>,
    ) {
        for (token, account, balance) in rows {
            self.token_balance_history
                .entry(token.encoded())
                .or_default()
                .entry(account.encoded())
                .or_default()
                .insert(timestamp, balance);
        }
        if complete {
            self.snapshot_times.insert(timestamp);
        }
        self.clock = self.clock.max(timestamp);
    }

    /// Copies every live balance into a new complete snapshot at `timestamp`, which must be later
    /// than every existing snapshot (the ledger never rewrites the past). Only changed balances are
    /// stored; a dissociated account with a remembered non-zero balance is recorded as 0.
    pub fn take_snapshot(&mut self, timestamp: u64) -> anyhow::Result<()> {
        if let Some(last) = self.latest_snapshot_timestamp() {
            anyhow::ensure!(
                timestamp > last,
                "snapshot timestamp {timestamp} is not after the latest snapshot {last}"
            );
        }
        for (&token, rows) in &self.token_accounts {
            let history = self.token_balance_history.entry(token).or_default();
            for (&account, row) in rows {
                let balance = if row.associated { row.balance } else { 0 };
                let per_account = history.entry(account).or_default();
                let previous = per_account.values().next_back().copied();
                let unseen_dissociated = previous.is_none() && !row.associated;
                if previous != Some(balance) && !unseen_dissociated {
                    per_account.insert(timestamp, balance);
                }
            }
        }
        self.snapshot_times.insert(timestamp);
        self.clock = self.clock.max(timestamp);
        Ok(())
    }

    /// Takes a snapshot at [`MirrorState::next_timestamp`] and returns its time.
    pub fn take_snapshot_now(&mut self) -> u64 {
        let at = self.next_timestamp();
        self.take_snapshot(at)
            .expect("next_timestamp is after every snapshot");
        at
    }

    pub fn latest_snapshot_timestamp(&self) -> Option<u64> {
        self.snapshot_times.last().copied()
    }

    /// The newest snapshot time within `range`.
    pub fn snapshot_time_in(&self, range: RangeInclusive<u64>) -> Option<u64> {
        if range.is_empty() {
            return None;
        }
        self.snapshot_times.range(range).next_back().copied()
    }

    /// Historical balance of one account as of snapshot time `at`.
    pub fn historical_balance(&self, token: u64, account: u64, at: u64) -> Option<i64> {
        let rows = self.token_balance_history.get(&token)?.get(&account)?;
        rows.range(..=at).next_back().map(|(_, &balance)| balance)
    }

    /// Accounts with any historical row for a token, within `accounts` (encoded ids).
    pub fn historical_accounts(
        &self,
        token: u64,
        accounts: RangeInclusive<u64>,
    ) -> impl DoubleEndedIterator<Item = u64> + '_ {
        self.token_balance_history
            .get(&token)
            .into_iter()
            .flat_map(move |history| history.range(accounts.clone()).map(|(&a, _)| a))
    }

    /// What a client that pins `timestamp=lte:<at>` must see: the newest snapshot at or before
    /// `at`, with every account's newest balance at or before that snapshot (zeros included).
    pub fn snapshot(&self, token: EntityId, at: u64) -> Option<BalanceSnapshot> {
        let timestamp = self.snapshot_time_in(0..=at)?;
        let token = token.encoded();
        let balances = self
            .historical_accounts(token, 0..=u64::MAX)
            .filter_map(|account| {
                self.historical_balance(token, account, timestamp)
                    .map(|b| (account, b))
            })
            .collect();
        Some(BalanceSnapshot {
            timestamp,
            balances,
        })
    }

    /// Balances (encoded account id → balance, zero balances included) of the snapshot a client
    /// pinned at `at` must reproduce; empty when no snapshot exists at or before `at`.
    pub fn balances_at(&self, token: EntityId, at: u64) -> BTreeMap<u64, i64> {
        self.snapshot(token, at)
            .map(|s| s.balances)
            .unwrap_or_default()
    }

    // ----- generated data --------------------------------------------------------------------

    /// Creates `holders` accounts (numbered after every existing entity, from 0.0.1001) holding
    /// `token`, then takes a snapshot and returns its timestamp. The token is created (6 decimals)
    /// if missing. Balances are deterministic for a `seed`: about 10% zero, about 10% above 2^53
    /// (including 2^53 + 1 and `i64::MAX` whenever there are at least 3 holders), the rest up to
    /// 10^12. The sum can exceed `i64::MAX`: clients must add in wider integers.
    pub fn populate(&mut self, token: EntityId, holders: usize, seed: u64) -> u64 {
        if self.token(token).is_none() {
            let mut record = TokenRecord::fungible(token, "SIM", 6);
            record.created_timestamp = self.next_timestamp();
            record.valid_from = record.created_timestamp;
            self.add_token(record);
        }
        let mut rng = StdRng::seed_from_u64(seed);
        let first = self
            .entities
            .keys()
            .chain(self.token_accounts.values().flat_map(|rows| rows.keys()))
            .map(|&id| EntityId::from_encoded(id).num + 1)
            .max()
            .unwrap_or(0)
            .max(1001);
        let at = self.next_timestamp();
        for index in 0..holders {
            let account = EntityId::new(first + index as u64);
            let key: [u8; 32] = rng.random();
            let key: String = key.iter().map(|b| format!("{b:02x}")).collect();
            self.add_account(account, Some(&key));
            let balance = match (index, rng.random_range(0..10)) {
                (0, _) => i64::MAX,
                (1, _) => (1 << 53) + 1,
                (2, _) => 0,
                (_, 0) => 0,
                (_, 1) => rng.random_range((1 << 53) + 2..=i64::MAX),
                _ => rng.random_range(1..=1_000_000_000_000),
            };
            self.set_balance_at(token, account, balance, at);
        }
        self.take_snapshot_now()
    }

    /// Moves amounts between `moves` random pairs of holders of every token (totals are kept),
    /// stamps the changed rows and takes a new snapshot, whose timestamp is returned. This is what
    /// makes unpinned pagination inconsistent.
    pub fn churn(&mut self, rng: &mut impl Rng, moves: usize) -> u64 {
        let at = self.next_timestamp();
        for rows in self.token_accounts.values_mut() {
            let holders: Vec<u64> = rows
                .iter()
                .filter(|(_, row)| row.associated)
                .map(|(&account, _)| account)
                .collect();
            if holders.len() < 2 {
                continue;
            }
            for _ in 0..moves {
                let from = holders[rng.random_range(0..holders.len())];
                let to = holders[rng.random_range(0..holders.len())];
                let (from_balance, to_balance) = (rows[&from].balance, rows[&to].balance);
                // Cap so the receiver never overflows i64.
                let max_amount = from_balance.min(i64::MAX - to_balance);
                if from == to || max_amount <= 0 {
                    continue;
                }
                let amount = rng.random_range(1..=max_amount);
                for (account, delta) in [(from, -amount), (to, amount)] {
                    let row = rows.get_mut(&account).expect("holder listed above");
                    row.balance += delta;
                    row.balance_timestamp = at;
                }
            }
        }
        self.take_snapshot(at)
            .expect("next_timestamp is after every snapshot");
        at
    }
}

/// The newest version whose `valid_from` is at or before `at`. The mirror node picks historical
/// rows by lower bound alone (a fee schedule closed at T is still chosen for T if no newer one
/// started), which the token-info fixtures confirm.
fn newest_at<T>(versions: &[T], at: u64, valid_from: impl Fn(&T) -> u64) -> Option<&T> {
    versions.iter().rev().find(|v| valid_from(v) <= at)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn populate_includes_extremes_and_snapshot_matches_live() {
        let token = EntityId::new(5000);
        let mut state = MirrorState::new();
        let at = state.populate(token, 200, 7);
        let live = state.live_balances(token);
        assert_eq!(live.len(), 200);
        assert!(live.values().any(|&b| b == i64::MAX));
        assert!(live.values().any(|&b| b == (1 << 53) + 1));
        assert!(live.values().any(|&b| b == 0));
        assert_eq!(state.balances_at(token, at), live);
        assert!(state.balances_at(token, at - 1).is_empty());
    }

    #[test]
    fn churn_keeps_totals_and_history() {
        let token = EntityId::new(5000);
        let mut state = MirrorState::new();
        let first = state.populate(token, 50, 1);
        let before = state.live_balances(token);
        let mut rng = StdRng::seed_from_u64(3);
        let second = state.churn(&mut rng, 5);
        assert!(second > first);
        let after = state.live_balances(token);
        let total = |m: &BTreeMap<u64, i64>| m.values().map(|&b| i128::from(b)).sum::<i128>();
        assert_eq!(total(&before), total(&after));
        assert_ne!(before, after);
        assert_eq!(state.balances_at(token, first), before);
        assert_eq!(state.balances_at(token, second), after);
        assert!(state.take_snapshot(second).is_err());
    }
}
