//! The ledger state the simulator serves: accounts with their native balance and trust lines,
//! the assets they trust, and the sequence of the latest closed ledger.
//!
//! Like Horizon itself, the state has no history: `/accounts` always reads the current ledger,
//! and a closed ledger (with or without balance churn) changes what the next page sees.

use std::collections::BTreeMap;
use std::fmt;
use std::sync::{Arc, RwLock};

use rand::Rng;
use rand::SeedableRng;
use rand::rngs::StdRng;

use super::strkey::AccountId;

/// Live state shared by the server and the test.
pub type SharedState = Arc<RwLock<HorizonState>>;

/// The mainnet network passphrase (what `GET /` reports by default).
pub const MAINNET_PASSPHRASE: &str = "Public Global Stellar Network ; September 2015";

/// The testnet network passphrase.
pub const TESTNET_PASSPHRASE: &str = "Test SDF Network ; September 2015";

/// The largest amount: int64 stroops, `922337203685.4775807`.
pub const MAX_STROOPS: i64 = i64::MAX;

/// Stroops per unit.
pub const STROOPS_PER_UNIT: i64 = 10_000_000;

/// Writes stroops the way Horizon does: exactly seven decimals.
pub fn format_stroops(stroops: i128) -> String {
    let sign = if stroops < 0 { "-" } else { "" };
    let abs = stroops.unsigned_abs();
    let unit = STROOPS_PER_UNIT as u128;
    format!("{sign}{}.{:07}", abs / unit, abs % unit)
}

/// A classic credit asset.
#[derive(Clone, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct Asset {
    pub code: String,
    pub issuer: String,
}

impl Asset {
    /// Checks the code (1-12 ASCII letters or digits) and the issuer (a valid account id), the way
    /// Horizon validates an `asset` query parameter.
    pub fn new(code: &str, issuer: &str) -> Result<Self, String> {
        if code.is_empty() || code.len() > 12 {
            return Err("Asset code length is invalid".into());
        }
        if !code.bytes().all(|b| b.is_ascii_alphanumeric()) {
            return Err("Asset code must be alphanumeric".into());
        }
        if AccountId::parse(issuer).is_none() {
            return Err("Asset issuer must be a valid account id".into());
        }
        Ok(Self {
            code: code.to_string(),
            issuer: issuer.to_string(),
        })
    }

    /// Horizon's `asset_type`.
    pub fn asset_type(&self) -> &'static str {
        if self.code.len() <= 4 {
            "credit_alphanum4"
        } else {
            "credit_alphanum12"
        }
    }

    /// The `/assets` paging token, `CODE_ISSUER_TYPE`.
    pub fn paging_token(&self) -> String {
        format!("{}_{}_{}", self.code, self.issuer, self.asset_type())
    }
}

/// `CODE:ISSUER`, the `asset` query syntax.
impl fmt::Display for Asset {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}:{}", self.code, self.issuer)
    }
}

impl fmt::Debug for Asset {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "Asset({self})")
    }
}

/// Which of Horizon's three authorization states a trust line is in.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Authorization {
    Authorized,
    AuthorizedToMaintainLiabilities,
    Unauthorized,
}

/// One trust line of an account.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct TrustLine {
    /// Stroops.
    pub balance: i64,
    /// Stroops.
    pub limit: i64,
    pub authorization: Authorization,
    pub clawback_enabled: bool,
    pub last_modified_ledger: u32,
}

impl TrustLine {
    pub fn authorized(balance: i64) -> Self {
        Self {
            balance,
            limit: MAX_STROOPS,
            authorization: Authorization::Authorized,
            clawback_enabled: false,
            last_modified_ledger: 0,
        }
    }
}

/// One account.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Account {
    /// Stroops of XLM.
    pub native: i64,
    pub sequence: i64,
    pub trust_lines: BTreeMap<Asset, TrustLine>,
    pub last_modified_ledger: u32,
}

/// What an issuer set on an asset, and amounts of it held outside accounts.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct AssetSettings {
    pub auth_required: bool,
    pub auth_revocable: bool,
    pub auth_immutable: bool,
    pub auth_clawback_enabled: bool,
    /// Stroops in claimable balances, liquidity pools and contracts (not in any account's
    /// balances, hence in no holder list).
    pub claimable_balances: i64,
    pub liquidity_pools: i64,
    pub contracts: i64,
}

/// Horizon's statistics of one asset, computed from the trust lines.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct AssetStats {
    pub accounts_authorized: u64,
    pub accounts_authorized_to_maintain_liabilities: u64,
    pub accounts_unauthorized: u64,
    /// Stroops, by authorization state.
    pub balance_authorized: i128,
    pub balance_authorized_to_maintain_liabilities: i128,
    pub balance_unauthorized: i128,
    pub settings: AssetSettings,
}

/// The whole ledger state.
#[derive(Clone, Debug)]
pub struct HorizonState {
    ledger: u32,
    /// Unix seconds the latest ledger closed at (5 s per ledger).
    closed_at: u64,
    network_passphrase: String,
    /// By `G...` text, which is Horizon's account order.
    accounts: BTreeMap<String, Account>,
    assets: BTreeMap<Asset, AssetSettings>,
    seed: u64,
    generated: u64,
}

impl Default for HorizonState {
    fn default() -> Self {
        Self::new()
    }
}

impl HorizonState {
    /// An empty mainnet state at ledger 50,000,000.
    pub fn new() -> Self {
        Self::starting_at(50_000_000, 0)
    }

    /// An empty state at `ledger`, generating account ids from `seed`.
    pub fn starting_at(ledger: u32, seed: u64) -> Self {
        Self {
            ledger,
            closed_at: 1_700_000_000,
            network_passphrase: MAINNET_PASSPHRASE.to_string(),
            accounts: BTreeMap::new(),
            assets: BTreeMap::new(),
            seed,
            generated: 0,
        }
    }

    pub fn into_shared(self) -> SharedState {
        Arc::new(RwLock::new(self))
    }

    pub fn set_network_passphrase(&mut self, passphrase: &str) {
        self.network_passphrase = passphrase.to_string();
    }

    pub fn network_passphrase(&self) -> &str {
        &self.network_passphrase
    }

    /// The latest closed ledger.
    pub fn ledger(&self) -> u32 {
        self.ledger
    }

    pub fn closed_at(&self) -> u64 {
        self.closed_at
    }

    /// Closes a ledger; returns its sequence.
    pub fn close_ledger(&mut self) -> u32 {
        self.ledger += 1;
        self.closed_at += 5;
        self.ledger
    }

    /// A new funded account (10,000 XLM), with a fresh deterministic id.
    pub fn new_account(&mut self) -> String {
        let id = AccountId::from_seed(self.seed, self.generated).encode();
        self.generated += 1;
        self.add_account(&id);
        id
    }

    /// Adds `id` (a valid `G...` id) with 10,000 XLM if it does not exist yet.
    pub fn add_account(&mut self, id: &str) {
        assert!(AccountId::parse(id).is_some(), "{id} is not an account id");
        let ledger = self.ledger;
        self.accounts.entry(id.to_string()).or_insert(Account {
            native: 10_000 * STROOPS_PER_UNIT,
            sequence: i64::from(ledger) << 32,
            trust_lines: BTreeMap::new(),
            last_modified_ledger: ledger,
        });
    }

    /// A new issuer account and its asset `code`.
    pub fn new_asset(&mut self, code: &str) -> Asset {
        let issuer = self.new_account();
        self.add_asset(code, &issuer)
    }

    /// Registers asset `code` of `issuer` (an existing or new account).
    pub fn add_asset(&mut self, code: &str, issuer: &str) -> Asset {
        let asset = Asset::new(code, issuer).expect("a valid asset");
        self.add_account(issuer);
        self.assets.entry(asset.clone()).or_default();
        asset
    }

    pub fn settings_mut(&mut self, asset: &Asset) -> &mut AssetSettings {
        self.assets.get_mut(asset).expect("a registered asset")
    }

    /// Sets `account`'s trust line to `asset` (creating both the account and the line).
    pub fn set_trust_line(&mut self, account: &str, asset: &Asset, line: TrustLine) {
        assert!(self.assets.contains_key(asset), "{asset} is not registered");
        self.add_account(account);
        let ledger = self.ledger;
        let acct = self.accounts.get_mut(account).expect("just added");
        acct.trust_lines.insert(
            asset.clone(),
            TrustLine {
                last_modified_ledger: ledger,
                ..line
            },
        );
        acct.last_modified_ledger = ledger;
    }

    /// Sets an authorized trust line with `stroops`.
    pub fn set_balance(&mut self, account: &str, asset: &Asset, stroops: i64) {
        self.set_trust_line(account, asset, TrustLine::authorized(stroops));
    }

    /// Adds `n` new accounts trusting `asset` with random balances (about one in twelve zero;
    /// the rest from one stroop to a million units), and gives some of them decoy trust lines:
    /// the same code from another issuer and another code from the same issuer. Returns the new
    /// holders' ids.
    pub fn populate(&mut self, asset: &Asset, n: usize, seed: u64) -> Vec<String> {
        let mut rng = StdRng::seed_from_u64(seed);
        let same_code = self.new_asset(&asset.code);
        let other_code = self.add_asset(
            if asset.code == "DECOY" {
                "OTHER"
            } else {
                "DECOY"
            },
            &asset.issuer,
        );
        let mut ids = Vec::with_capacity(n);
        for _ in 0..n {
            let id = self.new_account();
            let balance = if rng.random_ratio(1, 12) {
                0
            } else if rng.random_ratio(1, 10) {
                rng.random_range(1..1_000)
            } else {
                rng.random_range(1..1_000_000 * STROOPS_PER_UNIT)
            };
            self.set_balance(&id, asset, balance);
            if rng.random_ratio(1, 4) {
                self.set_balance(&id, &same_code, rng.random_range(1..i64::MAX / 4));
            }
            if rng.random_ratio(1, 5) {
                self.set_balance(&id, &other_code, rng.random_range(1..i64::MAX / 4));
            }
            ids.push(id);
        }
        ids
    }

    /// Moves random amounts between random holders of `asset` (`moves` transfers), then closes
    /// a ledger. Returns the new ledger.
    pub fn churn(&mut self, rng: &mut StdRng, asset: &Asset, moves: usize) -> u32 {
        let holders: Vec<String> = self
            .accounts
            .iter()
            .filter(|(_, a)| a.trust_lines.contains_key(asset))
            .map(|(id, _)| id.clone())
            .collect();
        if holders.len() >= 2 {
            let ledger = self.ledger + 1;
            for _ in 0..moves {
                let from = &holders[rng.random_range(0..holders.len())];
                let to = &holders[rng.random_range(0..holders.len())];
                if from == to {
                    continue;
                }
                let available = self.accounts[from].trust_lines[asset].balance;
                let room = MAX_STROOPS - self.accounts[to].trust_lines[asset].balance;
                let amount = available.min(room);
                if amount <= 0 {
                    continue;
                }
                let amount = rng.random_range(1..=amount);
                for (account, delta) in [(from, -amount), (to, amount)] {
                    let acct = self.accounts.get_mut(account).expect("a holder");
                    let line = acct.trust_lines.get_mut(asset).expect("a trust line");
                    line.balance += delta;
                    line.last_modified_ledger = ledger;
                    acct.last_modified_ledger = ledger;
                }
            }
        }
        self.close_ledger()
    }

    pub fn account(&self, id: &str) -> Option<&Account> {
        self.accounts.get(id)
    }

    pub fn accounts(&self) -> &BTreeMap<String, Account> {
        &self.accounts
    }

    /// Accounts with a trust line to `asset` after `cursor` (exclusive) in account order,
    /// ascending or descending, at most `limit`.
    pub fn accounts_trusting(
        &self,
        asset: &Asset,
        cursor: Option<&str>,
        descending: bool,
        limit: usize,
    ) -> Vec<(&String, &Account)> {
        let trusting = |(_, a): &(&String, &Account)| a.trust_lines.contains_key(asset);
        match (cursor, descending) {
            (None, false) => self.accounts.iter().filter(trusting).take(limit).collect(),
            (None, true) => self
                .accounts
                .iter()
                .rev()
                .filter(trusting)
                .take(limit)
                .collect(),
            (Some(c), false) => self
                .accounts
                .range::<str, _>((std::ops::Bound::Excluded(c), std::ops::Bound::Unbounded))
                .filter(trusting)
                .take(limit)
                .collect(),
            (Some(c), true) => self
                .accounts
                .range::<str, _>((std::ops::Bound::Unbounded, std::ops::Bound::Excluded(c)))
                .rev()
                .filter(trusting)
                .take(limit)
                .collect(),
        }
    }

    /// Every account's balance of `asset` (zero balances included), in stroops.
    pub fn trust_lines(&self, asset: &Asset) -> BTreeMap<String, i64> {
        self.accounts
            .iter()
            .filter_map(|(id, a)| a.trust_lines.get(asset).map(|l| (id.clone(), l.balance)))
            .collect()
    }

    /// The holders of `asset`: accounts with a non-zero balance, in stroops.
    pub fn holders(&self, asset: &Asset) -> BTreeMap<String, i64> {
        let mut lines = self.trust_lines(asset);
        lines.retain(|_, b| *b != 0);
        lines
    }

    /// Registered assets matching the optional code and issuer filters, in paging-token order.
    pub fn assets_matching(&self, code: Option<&str>, issuer: Option<&str>) -> Vec<Asset> {
        let mut assets: Vec<Asset> = self
            .assets
            .keys()
            .filter(|a| code.is_none_or(|c| a.code == c) && issuer.is_none_or(|i| a.issuer == i))
            .filter(|a| self.is_listed(a))
            .cloned()
            .collect();
        assets.sort_by_key(Asset::paging_token);
        assets
    }

    /// Horizon lists an asset while anything of it exists: a trust line or an amount in a
    /// claimable balance, liquidity pool or contract.
    fn is_listed(&self, asset: &Asset) -> bool {
        let s = &self.assets[asset];
        s.claimable_balances != 0
            || s.liquidity_pools != 0
            || s.contracts != 0
            || self
                .accounts
                .values()
                .any(|a| a.trust_lines.contains_key(asset))
    }

    /// The statistics Horizon's `/assets` reports for `asset`.
    pub fn asset_stats(&self, asset: &Asset) -> Option<AssetStats> {
        let settings = self.assets.get(asset)?.clone();
        let mut stats = AssetStats {
            accounts_authorized: 0,
            accounts_authorized_to_maintain_liabilities: 0,
            accounts_unauthorized: 0,
            balance_authorized: 0,
            balance_authorized_to_maintain_liabilities: 0,
            balance_unauthorized: 0,
            settings,
        };
        for line in self
            .accounts
            .values()
            .filter_map(|a| a.trust_lines.get(asset))
        {
            let balance = i128::from(line.balance);
            match line.authorization {
                Authorization::Authorized => {
                    stats.accounts_authorized += 1;
                    stats.balance_authorized += balance;
                }
                Authorization::AuthorizedToMaintainLiabilities => {
                    stats.accounts_authorized_to_maintain_liabilities += 1;
                    stats.balance_authorized_to_maintain_liabilities += balance;
                }
                Authorization::Unauthorized => {
                    stats.accounts_unauthorized += 1;
                    stats.balance_unauthorized += balance;
                }
            }
        }
        Some(stats)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn amounts_have_seven_decimals() {
        assert_eq!(format_stroops(1), "0.0000001");
        assert_eq!(format_stroops(i128::from(i64::MAX)), "922337203685.4775807");
        assert_eq!(format_stroops(0), "0.0000000");
    }

    #[test]
    fn populate_adds_holders_zeros_and_decoys() {
        let mut state = HorizonState::new();
        let usdc = state.new_asset("USDC");
        let ids = state.populate(&usdc, 500, 3);
        assert_eq!(state.trust_lines(&usdc).len(), 500);
        let holders = state.holders(&usdc);
        assert!(
            holders.len() < 500 && holders.len() > 400,
            "{}",
            holders.len()
        );
        assert!(ids.iter().all(|id| state.account(id).is_some()));
        let decoys = state.assets_matching(Some("USDC"), None);
        assert_eq!(decoys.len(), 2, "the asset and a same-code decoy");
    }

    #[test]
    fn paging_by_cursor_visits_every_trusting_account_once() {
        let mut state = HorizonState::new();
        let asset = state.new_asset("ABC");
        state.populate(&asset, 333, 1);
        let mut seen = Vec::new();
        let mut cursor: Option<String> = None;
        loop {
            let page = state.accounts_trusting(&asset, cursor.as_deref(), false, 50);
            if page.is_empty() {
                break;
            }
            cursor = Some(page.last().unwrap().0.clone());
            seen.extend(page.into_iter().map(|(id, _)| id.clone()));
        }
        let expected: Vec<String> = state.trust_lines(&asset).into_keys().collect();
        assert_eq!(seen, expected);
        let back = state.accounts_trusting(&asset, Some(&expected[10]), true, 5);
        let back: Vec<&String> = back.into_iter().map(|(id, _)| id).collect();
        assert_eq!(back, expected[5..10].iter().rev().collect::<Vec<_>>());
    }

    #[test]
    fn churn_keeps_the_total_and_closes_a_ledger() {
        let mut state = HorizonState::new();
        let asset = state.new_asset("ABC");
        state.populate(&asset, 100, 1);
        let total: i128 = state
            .trust_lines(&asset)
            .values()
            .map(|b| i128::from(*b))
            .sum();
        let before = state.ledger();
        let mut rng = StdRng::seed_from_u64(5);
        let after = state.churn(&mut rng, &asset, 50);
        assert_eq!(after, before + 1);
        let moved: i128 = state
            .trust_lines(&asset)
            .values()
            .map(|b| i128::from(*b))
            .sum();
        assert_eq!(moved, total);
    }
}
