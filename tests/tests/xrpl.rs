//! The XRPL plugin, in the real sandbox, against the rippled/Clio simulator.

use std::collections::BTreeMap;
use std::time::Duration;

use ledger_simulators::xrpl::{
    AccountId, CallContext, Currency, DirectoryItem, IouAmount, LedgerAdvance, LedgerTrigger,
    LoadConfig, RunningSimulator, ServerKind, SimulatorConfig, TrustLine, XrplLedgerState,
    XrplSimulator, dispatch,
};
use rand::SeedableRng;
use serde_json::Value;
use snapshot_host::jobs::{SnapshotError, SnapshotSpec, TakenSnapshot};
use snapshot_tests::host::{TestHost, json_bytes};

/// `account_lines` page size the plugin asks for by default (rippled's maximum).
const LINES_PER_PAGE: usize = 400;

async fn simulator(state: XrplLedgerState, config: SimulatorConfig) -> RunningSimulator {
    XrplSimulator::start(config, state.into_shared())
        .await
        .expect("simulator starts")
}

async fn host_for(sim: &RunningSimulator) -> TestHost {
    TestHost::new(&sim.address().to_string(), 1_000, 4).await
}

fn spec(sim: &RunningSimulator, token: &str) -> SnapshotSpec {
    SnapshotSpec {
        token_id: token.to_string(),
        endpoint: Some(sim.base_url()),
        ..SnapshotSpec::default()
    }
}

fn issued(currency: &str, issuer: &AccountId) -> String {
    format!("{currency}.{}", issuer.to_address())
}

/// `account → balance` of the document (plain decimals, as the simulator writes them).
fn holders(taken: &TakenSnapshot) -> BTreeMap<String, String> {
    taken
        .document
        .holders()
        .map(|h| (h.account.to_string(), h.balance.to_string()))
        .collect()
}

/// The attributes of `account`'s row.
fn holder_attributes(taken: &TakenSnapshot, account: &AccountId) -> BTreeMap<String, String> {
    let address = account.to_address();
    let row = taken
        .document
        .holders()
        .find(|h| h.account == address)
        .unwrap_or_else(|| panic!("{address} is in the document"));
    row.attributes
        .map(|a| {
            a.iter()
                .map(|(k, v)| (k.to_string(), v.to_string()))
                .collect()
        })
        .unwrap_or_default()
}

fn meta_attribute<'a>(taken: &'a TakenSnapshot, name: &str) -> Option<&'a str> {
    taken
        .document
        .meta()
        .attributes
        .get(name)
        .map(String::as_str)
}

/// The document as parsed JSON.
fn document_json(taken: &TakenSnapshot) -> Value {
    serde_json::from_slice(&json_bytes(taken)).expect("the document is JSON")
}

/// `account_lines` pages (of `LINES_PER_PAGE` directory objects) that carry no trust line of
/// `issuer` at `ledger`, and the number of pages.
fn line_pages(state: &XrplLedgerState, ledger: u32, issuer: &AccountId) -> (usize, usize) {
    let directory = state.owner_directory_at(ledger, issuer);
    let pages: Vec<_> = directory.chunks(LINES_PER_PAGE).collect();
    let empty = pages
        .iter()
        .filter(|page| {
            !page
                .iter()
                .any(|(_, _, item)| matches!(item, DirectoryItem::Line(_)))
        })
        .count();
    (empty, pages.len())
}

/// `nfts_by_issuer` pages (of the plugin's 100) at `ledger` that list no NFT but link on, and
/// the number of pages, read straight from the simulator's dispatcher.
fn nft_pages(state: &XrplLedgerState, ledger: u32, issuer: &AccountId) -> (usize, usize) {
    let context = CallContext {
        kind: ServerKind::Clio,
        empty_nft_page: false,
    };
    let (mut empty, mut pages) = (0, 0);
    let mut marker: Option<Value> = None;
    loop {
        let mut params = serde_json::Map::new();
        params.insert("issuer".into(), issuer.to_address().into());
        params.insert("ledger_index".into(), ledger.into());
        params.insert("limit".into(), 100.into());
        if let Some(m) = marker.take() {
            params.insert("marker".into(), m);
        }
        let page = dispatch(state, context, "nfts_by_issuer", &params).expect("a page");
        pages += 1;
        marker = page.get("marker").cloned();
        if page["nfts"].as_array().is_some_and(Vec::is_empty) && marker.is_some() {
            empty += 1;
        }
        if marker.is_none() {
            return (empty, pages);
        }
    }
}

fn bad_input(result: Result<TakenSnapshot, SnapshotError>, what: &str) -> String {
    match result {
        Err(SnapshotError::BadInput(message)) => message,
        Err(other) => panic!("{what}: expected bad input, got {other}"),
        Ok(taken) => panic!(
            "{what}: expected bad input, got a snapshot of {} holders",
            taken.document.holder_count()
        ),
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_snapshot_pinned_at_ledger_n_equals_the_simulator_state_at_n_while_ledgers_advance_and_balances_churn()
 {
    let mut state = XrplLedgerState::new();
    let issuer = state.new_issuer();
    state
        .populate_trust_lines(issuer, "USD", 3_000, 7)
        .expect("lines");
    // Offers, escrows, ... interleaved with the lines: pages hold fewer than 400 lines, and a
    // stretch of 420 objects makes one page that holds none at all but still has a marker.
    state.add_owner_objects(issuer, 700);
    state.add_owner_objects_at(issuer, 2 * LINES_PER_PAGE, 420);
    let pinned = state.tip();
    let (empty_pages, pages) = line_pages(&state, pinned, &issuer);
    assert!(empty_pages >= 1, "the set-up makes an empty page");
    let config = SimulatorConfig {
        ledger_advance: Some(LedgerAdvance {
            trigger: LedgerTrigger::EveryRequests(2),
            churn_moves: 40,
        }),
        seed: 3,
        ..SimulatorConfig::default()
    };
    let sim = simulator(state, config).await;
    let host = host_for(&sim).await;

    let taken = host
        .snapshot("xrpl", &spec(&sim, &issued("USD", &issuer)))
        .await
        .unwrap();

    let doc = &taken.document;
    assert_eq!(doc.meta().resolved_at, pinned.to_string());
    assert!(
        sim.stats().ledgers_closed() >= 4,
        "ledgers must close during the run ({} closed)",
        sim.stats().ledgers_closed()
    );
    let served = sim.stats().served_per_method();
    assert_eq!(
        served.get("account_lines").copied(),
        Some(pages as u64),
        "one request per page, the empty one included"
    );
    let state = sim.state().read().unwrap();
    assert!(state.tip() > pinned);
    let expected = state.positive_holders_at(pinned, &issuer, "USD");
    assert!(expected.len() > 2_500);
    assert_eq!(holders(&taken), expected);
    assert_ne!(
        state.positive_holders_at(state.tip(), &issuer, "USD"),
        expected,
        "the tip moved on; the snapshot did not"
    );
    assert_eq!(meta_attribute(&taken, "sum_check"), Some("passed"));
    assert_eq!(meta_attribute(&taken, "method"), Some("account_lines"));
    let hash = state.ledger(pinned).unwrap().hash_hex();
    assert_eq!(meta_attribute(&taken, "ledger_hash"), Some(hash.as_str()));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_same_token_by_40_hex_and_by_3_character_currency_gives_the_same_document() {
    let mut state = XrplLedgerState::new();
    let issuer = state.new_issuer();
    state
        .populate_trust_lines(issuer, "USD", 600, 11)
        .expect("lines");
    let sim = simulator(state, SimulatorConfig::default()).await;
    let host = host_for(&sim).await;

    let by_code = host
        .snapshot("xrpl", &spec(&sim, &issued("USD", &issuer)))
        .await
        .unwrap();
    let by_hex = host
        .snapshot(
            "xrpl",
            &spec(
                &sim,
                &issued("0000000000000000000000005553440000000000", &issuer),
            ),
        )
        .await
        .unwrap();

    assert_eq!(holders(&by_code), holders(&by_hex));
    assert!(json_bytes(&by_code) == json_bytes(&by_hex), "same bytes");
    assert_eq!(by_hex.document.meta().token_id, issued("USD", &issuer));
    let expected = sim.state().read().unwrap().positive_holders_at(
        by_code.document.meta().resolved_at.parse().unwrap(),
        &issuer,
        "USD",
    );
    assert_eq!(holders(&by_code), expected);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn other_currencies_of_the_same_issuer_and_other_issuers_are_excluded() {
    const HEX: &str = "015841551A748AD2C1F76FF6ECB0CCCD00000000";
    let mut state = XrplLedgerState::new();
    let issuer = state.new_issuer();
    let other_issuer = state.new_issuer();
    let usd = state
        .populate_trust_lines(issuer, "USD", 120, 1)
        .expect("lines");
    state
        .populate_trust_lines(issuer, "EUR", 80, 2)
        .expect("lines");
    state
        .populate_trust_lines(issuer, HEX, 50, 3)
        .expect("lines");
    // The same holders hold EUR and the other issuer's USD too.
    for (i, holder) in usd.iter().take(30).enumerate() {
        state
            .add_trust_line(issuer, *holder, "EUR", &format!("-{}", i + 1))
            .unwrap();
        state
            .add_trust_line(other_issuer, *holder, "USD", &format!("-{}.5", i + 7))
            .unwrap();
    }
    // The issuer holding someone else's USD IOU (positive from its side) is no holding.
    let counterparty = state.new_account();
    state
        .add_trust_line(issuer, counterparty, "USD", "25")
        .unwrap();
    let sim = simulator(state, SimulatorConfig::default()).await;
    let host = host_for(&sim).await;

    let mut hex_documents = Vec::new();
    for (currency, token) in [
        ("USD", issued("USD", &issuer)),
        ("EUR", issued("EUR", &issuer)),
        (HEX, issued(HEX, &issuer)),
        // Hex digits in either case name the same currency.
        (HEX, issued(&HEX.to_lowercase(), &issuer)),
    ] {
        let taken = host.snapshot("xrpl", &spec(&sim, &token)).await.unwrap();
        if currency == HEX {
            hex_documents.push(json_bytes(&taken));
        }
        let at: u32 = taken.document.meta().resolved_at.parse().unwrap();
        let expected = sim
            .state()
            .read()
            .unwrap()
            .positive_holders_at(at, &issuer, currency);
        assert!(!expected.is_empty());
        assert_eq!(holders(&taken), expected, "{currency}");
        assert!(!holders(&taken).contains_key(&counterparty.to_address()));
        assert_eq!(
            meta_attribute(&taken, "sum_check"),
            Some("passed"),
            "{currency}"
        );
    }
    assert!(hex_documents[0] == hex_documents[1], "same bytes");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn exponent_amounts_come_out_exact_in_plain_decimal() {
    let cases = [
        ("-1e-15", "0.000000000000001"),
        (
            "-9999999999999999e80",
            "999999999999999900000000000000000000000000000000000000000000000000000000000000000000000000000000",
        ),
        (
            "-1234567890123456e-96",
            "0.000000000000000000000000000000000000000000000000000000000000000000000000000000001234567890123456",
        ),
        ("-5444166510000000e-26", "0.0000000000544416651"),
        ("-1000000000000000e-15", "1"),
        ("-4.2e3", "4200"),
        ("-0.1", "0.1"),
    ];
    let mut state = XrplLedgerState::new();
    let issuer = state.new_issuer();
    let mut accounts = Vec::new();
    for (balance, _) in cases {
        let holder = state.new_account();
        state
            .add_trust_line(issuer, holder, "USD", balance)
            .unwrap();
        accounts.push(holder);
    }
    let sim = simulator(state, SimulatorConfig::default()).await;
    let host = host_for(&sim).await;

    let taken = host
        .snapshot("xrpl", &spec(&sim, &issued("USD", &issuer)))
        .await
        .unwrap();

    let json = document_json(&taken);
    let rows: BTreeMap<&str, &Value> = json["holders"]
        .as_array()
        .unwrap()
        .iter()
        .map(|h| (h["account"].as_str().unwrap(), h))
        .collect();
    for ((balance, plain), account) in cases.iter().zip(&accounts) {
        let row = rows[account.to_address().as_str()];
        assert_eq!(row["balance"], *plain, "{balance}");
        assert_eq!(row["balance_formatted"], *plain, "{balance}");
    }
    for row in rows.values() {
        let text = row["balance"].as_str().unwrap();
        assert!(!text.contains(['e', 'E']), "{text}");
    }
    let total = json["total_balance"].as_str().unwrap();
    assert!(!total.contains(['e', 'E']));
    assert_eq!(
        holders(&taken),
        sim.state().read().unwrap().positive_holders_at(
            taken.document.meta().resolved_at.parse().unwrap(),
            &issuer,
            "USD"
        )
    );
    // The ledger's total is rounded to 16 digits; the holders' sum is exact: they agree to 16.
    assert_eq!(meta_attribute(&taken, "sum_check"), Some("passed"));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_sum_check_passes_against_gateway_balances_at_the_same_ledger_or_is_unavailable() {
    let mut state = XrplLedgerState::new();
    let issuer = state.new_issuer();
    state
        .populate_trust_lines(issuer, "USD", 900, 5)
        .expect("lines");
    // Totals move on after the pinned ledger: the check must read the pinned one.
    let config = SimulatorConfig {
        ledger_advance: Some(LedgerAdvance {
            trigger: LedgerTrigger::EveryRequests(1),
            churn_moves: 5,
        }),
        ..SimulatorConfig::default()
    };
    let pinned = state.tip();
    let sim = simulator(state, config).await;
    let host = host_for(&sim).await;

    let taken = host
        .snapshot("xrpl", &spec(&sim, &issued("USD", &issuer)))
        .await
        .unwrap();

    let resolved: u32 = taken.document.meta().resolved_at.parse().unwrap();
    assert!(resolved > pinned, "account_info closed a ledger first");
    assert_eq!(meta_attribute(&taken, "sum_check"), Some("passed"));
    let source = meta_attribute(&taken, "sum_check_source").unwrap();
    assert!(
        source.starts_with("gateway_balances.obligations"),
        "{source}"
    );
    {
        let state = sim.state().read().unwrap();
        let exact = state.obligations_exact_at(resolved, &issuer);
        let reported: snapshot_host::snapshot::Amount =
            meta_attribute(&taken, "sum_check_reported_total")
                .unwrap()
                .parse()
                .unwrap();
        let rounded = state.obligations_at(resolved, &issuer)["USD"].to_plain_decimal();
        // obligations + frozen balances (the plugin adds those back), exactly as rippled rounds.
        let frozen: snapshot_host::snapshot::Amount = state
            .positive_holders_at(resolved, &issuer, "USD")
            .into_iter()
            .filter(|(account, _)| {
                let holder = AccountId::from_address(account).unwrap();
                state
                    .trust_line_at(resolved, &issuer, &holder, "USD")
                    .is_some_and(|l| l.issuer_side.freeze || l.holder_side.freeze)
            })
            .map(|(_, v)| v.parse::<snapshot_host::snapshot::Amount>().unwrap())
            .sum();
        let want = rounded.parse::<snapshot_host::snapshot::Amount>().unwrap() + frozen;
        assert_eq!(reported, want);
        assert_eq!(
            meta_attribute(&taken, "sum_check_holders_total").unwrap(),
            taken.document.total_balance().to_string()
        );
        let total_exact: snapshot_host::snapshot::Amount = exact["USD"].parse().unwrap();
        assert!(taken.document.total_balance() >= &total_exact);
    }

    // Without gateway_balances the snapshot still completes, the check is `unavailable`.
    let mut state = XrplLedgerState::new();
    let issuer = state.new_issuer();
    state
        .populate_trust_lines(issuer, "USD", 300, 6)
        .expect("lines");
    let config = SimulatorConfig {
        disabled_methods: ["gateway_balances".to_string()].into(),
        ..SimulatorConfig::default()
    };
    let sim = simulator(state, config).await;
    let host = host_for(&sim).await;
    let taken = host
        .snapshot("xrpl", &spec(&sim, &issued("USD", &issuer)))
        .await
        .unwrap();
    assert_eq!(meta_attribute(&taken, "sum_check"), Some("unavailable"));
    let reason = meta_attribute(&taken, "sum_check_reason").unwrap();
    assert!(reason.contains("unknownCmd"), "{reason}");
    assert_eq!(
        holders(&taken),
        sim.state().read().unwrap().positive_holders_at(
            taken.document.meta().resolved_at.parse().unwrap(),
            &issuer,
            "USD"
        )
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn freeze_and_authorized_flags_reach_the_document() {
    let mut state = XrplLedgerState::new();
    let issuer = state.new_issuer();
    let usd = Currency::new("USD").unwrap();
    let line = |holder: AccountId, amount: &str| {
        TrustLine::new(
            issuer,
            holder,
            usd.clone(),
            IouAmount::parse(amount).unwrap(),
        )
    };
    let (frozen, peer_frozen, authorized, plain) = (
        state.new_account(),
        state.new_account(),
        state.new_account(),
        state.new_account(),
    );
    let mut l = line(frozen, "-10");
    l.issuer_side.freeze = true;
    state.insert_trust_line(l).unwrap();
    let mut l = line(peer_frozen, "-20");
    l.holder_side.freeze = true;
    state.insert_trust_line(l).unwrap();
    let mut l = line(authorized, "-30");
    l.issuer_side.authorized = true;
    l.holder_side.authorized = true;
    state.insert_trust_line(l).unwrap();
    state.insert_trust_line(line(plain, "-40")).unwrap();
    let sim = simulator(state, SimulatorConfig::default()).await;
    let host = host_for(&sim).await;

    let taken = host
        .snapshot("xrpl", &spec(&sim, &issued("USD", &issuer)))
        .await
        .unwrap();

    let t = |pairs: &[(&str, &str)]| -> BTreeMap<String, String> {
        pairs
            .iter()
            .map(|(k, v)| (k.to_string(), v.to_string()))
            .collect()
    };
    assert_eq!(holder_attributes(&taken, &frozen), t(&[("freeze", "true")]));
    assert_eq!(
        holder_attributes(&taken, &peer_frozen),
        t(&[("freeze_peer", "true")])
    );
    assert_eq!(
        holder_attributes(&taken, &authorized),
        t(&[("authorized", "true")])
    );
    assert_eq!(holder_attributes(&taken, &plain), t(&[]));
    let json = document_json(&taken);
    let row = json["holders"]
        .as_array()
        .unwrap()
        .iter()
        .find(|h| h["account"] == frozen.to_address())
        .unwrap();
    assert_eq!(row["attributes"]["freeze"], "true");
    // Frozen lines are outside gateway_balances' obligations; the plugin adds them back.
    assert_eq!(meta_attribute(&taken, "sum_check"), Some("passed"));
    assert_eq!(
        meta_attribute(&taken, "sum_check_source"),
        Some("gateway_balances.obligations+frozen_balances")
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn mpt_holders_carry_the_asset_scale_in_balance_formatted() {
    let mut state = XrplLedgerState::new();
    let issuer = state.new_issuer();
    let id = state.add_mpt_issuance(issuer, 2);
    let (a, b, zero) = (
        state.new_account(),
        state.new_account(),
        state.new_account(),
    );
    state.set_mpt_holder(id, a, 1_234).unwrap();
    state.set_mpt_holder(id, b, 5).unwrap();
    state.set_mpt_holder(id, zero, 0).unwrap();
    // Enough holders for three mpt_holders pages of 100.
    for i in 0..250u64 {
        let holder = state.new_account();
        state.set_mpt_holder(id, holder, 100 + i * 37).unwrap();
    }
    {
        let issuance = state.mpt_issuance_mut(&id).unwrap();
        let metadata = r#"{"ticker":"TBILL","name":"T-Bill Yield Token"}"#;
        issuance.metadata = Some(metadata.bytes().map(|b| format!("{b:02X}")).collect());
        issuance.maximum_amount = Some(1_000_000_000);
        issuance.transfer_fee = 50;
        issuance.flags = 0x20;
        issuance.locked_amount = 66;
    }
    let pinned = state.tip();
    let config = SimulatorConfig {
        ledger_advance: Some(LedgerAdvance {
            trigger: LedgerTrigger::EveryRequests(2),
            churn_moves: 10,
        }),
        ..SimulatorConfig::default()
    };
    let sim = simulator(state, config).await;
    let host = host_for(&sim).await;

    let taken = host
        .snapshot("xrpl", &spec(&sim, &format!("mpt:{}", id.to_hex())))
        .await
        .unwrap();

    let doc = &taken.document;
    let resolved: u32 = doc.meta().resolved_at.parse().unwrap();
    assert!(resolved >= pinned);
    let state = sim.state().read().unwrap();
    let expected: BTreeMap<String, String> = state
        .mpt_holders_at(resolved, &id)
        .into_iter()
        .filter(|(_, amount)| amount != "0")
        .collect();
    assert_eq!(expected.len(), 252);
    assert_eq!(holders(&taken), expected);
    assert_ne!(
        state.mpt_holders_at(state.tip(), &id),
        state.mpt_holders_at(resolved, &id),
        "balances churned after the pin"
    );
    let meta = doc.meta();
    assert_eq!(meta.token.decimals, 2);
    assert_eq!(meta.token.symbol, "TBILL");
    assert_eq!(meta.token.name, "T-Bill Yield Token");
    let outstanding = state.mpt_issuance(&id).unwrap().outstanding_at(resolved);
    assert_eq!(meta.token.total_supply, Some(outstanding.to_string()));
    assert_eq!(meta_attribute(&taken, "sum_check"), Some("passed"));
    assert_eq!(
        meta_attribute(&taken, "sum_check_source"),
        Some("ledger_entry.MPTokenIssuance.OutstandingAmount-LockedAmount")
    );
    assert_eq!(
        meta_attribute(&taken, "sum_check_reported_total"),
        Some((outstanding - 66).to_string().as_str())
    );
    let json = document_json(&taken);
    let formatted: BTreeMap<&str, (&str, &str)> = json["holders"]
        .as_array()
        .unwrap()
        .iter()
        .map(|h| {
            (
                h["account"].as_str().unwrap(),
                (
                    h["balance"].as_str().unwrap(),
                    h["balance_formatted"].as_str().unwrap(),
                ),
            )
        })
        .collect();
    for (account, (raw, shown)) in &formatted {
        let units: u64 = raw.parse().unwrap();
        let want = format!("{}.{:02}", units / 100, units % 100);
        let want = want.trim_end_matches('0').trim_end_matches('.');
        assert_eq!(shown, &want, "{account}");
    }
    assert!(!formatted.contains_key(zero.to_address().as_str()));
    let served = sim.stats().served_per_method();
    assert_eq!(served.get("ledger_entry").copied(), Some(2), "{served:?}");
    assert!(served.get("mpt_holders").copied().unwrap_or(0) >= 3);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_unknown_mpt_issuance_is_not_found() {
    let mut state = XrplLedgerState::new();
    let issuer = state.new_issuer();
    let id = state.add_mpt_issuance(issuer, 0);
    let sim = simulator(state, SimulatorConfig::default()).await;
    let host = host_for(&sim).await;
    let mut unknown = id;
    unknown.0[3] += 1;

    let message = bad_input(
        host.snapshot("xrpl", &spec(&sim, &format!("mpt:{}", unknown.to_hex())))
            .await,
        "unknown issuance",
    );
    assert!(message.contains("not found"), "{message}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn nft_holders_get_one_row_per_owner_with_the_count_without_burned_nfts() {
    let mut state = XrplLedgerState::new();
    let issuer = state.new_issuer();
    let owners: Vec<AccountId> = (0..40).map(|_| state.new_account()).collect();
    // 230 NFTs over three taxons (three nfts_by_issuer pages of 100), some burned.
    let mut burned = 0;
    for i in 0..230usize {
        let owner = owners[(i * 7) % owners.len()];
        let taxon = (i % 3) as u32;
        let nft = state.add_nft(issuer, owner, taxon, 0);
        if i % 11 == 0 {
            state.burn_nft(nft).unwrap();
            burned += 1;
        }
    }
    // An owner whose only NFT is burned is no holder.
    let gone = state.new_account();
    let nft = state.add_nft(issuer, gone, 1, 0);
    state.burn_nft(nft).unwrap();
    let sim = simulator(state, SimulatorConfig::default()).await;
    let host = host_for(&sim).await;

    let all = host
        .snapshot("xrpl", &spec(&sim, &format!("nft:{}", issuer.to_address())))
        .await
        .unwrap();
    let taxon_1 = host
        .snapshot(
            "xrpl",
            &spec(&sim, &format!("nft:{}:1", issuer.to_address())),
        )
        .await
        .unwrap();

    let at: u32 = all.document.meta().resolved_at.parse().unwrap();
    let state = sim.state().read().unwrap();
    let expected: BTreeMap<String, String> = state
        .nft_counts_at(at, &issuer)
        .into_iter()
        .map(|(owner, count)| (owner, count.to_string()))
        .collect();
    assert_eq!(holders(&all), expected);
    assert_eq!(all.document.holder_count(), owners.len());
    assert_eq!(
        all.document.total_balance().to_string(),
        (230 - burned).to_string()
    );
    assert!(!holders(&all).contains_key(&gone.to_address()));
    assert_eq!(all.document.meta().token.kind.as_str(), "non_fungible");
    assert_eq!(meta_attribute(&all, "method"), Some("nfts_by_issuer"));

    let mut expected_1: BTreeMap<String, u64> = BTreeMap::new();
    for nft in state.nfts_of_issuer_at(at, &issuer, Some(1)) {
        if !nft.is_burned {
            *expected_1.entry(nft.owner.to_address()).or_default() += 1;
        }
    }
    let expected_1: BTreeMap<String, String> = expected_1
        .into_iter()
        .map(|(owner, count)| (owner, count.to_string()))
        .collect();
    assert_eq!(holders(&taxon_1), expected_1);
    assert_ne!(holders(&taxon_1), expected);
    assert_eq!(
        taxon_1.document.meta().token_id,
        format!("nft:{}:1", issuer.to_address())
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_nft_walk_crosses_empty_pages_that_link_on_and_gets_exactly_the_holders() {
    let mut state = XrplLedgerState::new();
    let issuer = state.new_issuer();
    let owners: Vec<AccountId> = (0..30).map(|_| state.new_account()).collect();
    for i in 0..240usize {
        let nft = state.add_nft(
            issuer,
            owners[(i * 7) % owners.len()],
            [0, 1, 2, 9][i % 4],
            0,
        );
        if i % 13 == 0 {
            state.burn_nft(nft).unwrap();
        }
    }
    let pinned = state.tip();
    state.advance_ledger();
    // Minted after the snapshot's ledger: Clio's index lists them, the ledger does not. 450 rows
    // of taxon 5, between taxons 2 and 9, make pages of 100 that hold no NFT but link on; 150 more
    // among the taxon-1 rows make short pages.
    for i in 0..600usize {
        let taxon = if i < 450 { 5 } else { 1 };
        state.add_nft(issuer, owners[i % owners.len()], taxon, 0);
    }
    let (empty_pages, pages) = nft_pages(&state, pinned, &issuer);
    assert!(
        empty_pages >= 3,
        "the set-up makes pages without NFTs ({empty_pages} of {pages})"
    );
    let config = SimulatorConfig {
        // And an empty page on every third call besides.
        nft_empty_page_every: Some(3),
        ..SimulatorConfig::default()
    };
    let sim = simulator(state, config).await;
    let host = host_for(&sim).await;
    let token = format!("nft:{}", issuer.to_address());

    let taken = host
        .snapshot(
            "xrpl",
            &SnapshotSpec {
                at: Some(pinned.to_string()),
                ..spec(&sim, &token)
            },
        )
        .await
        .unwrap();

    let state = sim.state().read().unwrap();
    let expected: BTreeMap<String, String> = state
        .nft_counts_at(pinned, &issuer)
        .into_iter()
        .map(|(owner, count)| (owner, count.to_string()))
        .collect();
    assert_eq!(taken.document.meta().resolved_at, pinned.to_string());
    assert_eq!(holders(&taken), expected);
    let unburned = state
        .nfts_of_issuer_at(pinned, &issuer, None)
        .iter()
        .filter(|nft| !nft.is_burned)
        .count();
    assert_eq!(
        taken.document.total_balance().to_string(),
        unburned.to_string()
    );
    // 840 index rows read 100 at a time, plus the injected empty pages (and `validate-token`).
    let calls = sim.stats().served_per_method()["nfts_by_issuer"];
    assert!(calls >= 12, "{calls} nfts_by_issuer calls");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_historical_snapshot_at_a_ledger_index_equals_the_holders_of_that_ledger() {
    let mut state = XrplLedgerState::new();
    let issuer = state.new_issuer();
    state
        .populate_trust_lines(issuer, "USD", 800, 9)
        .expect("lines");
    let old = state.tip();
    let mut rng = rand::rngs::StdRng::seed_from_u64(4);
    for _ in 0..5 {
        state.advance_ledger();
        state.churn(&mut rng, 60);
    }
    let middle = old + 2;
    let late = state.tip();
    let holder = state.new_account();
    state.add_trust_line(issuer, holder, "USD", "-77").unwrap();
    let sim = simulator(state, SimulatorConfig::default()).await;
    let host = host_for(&sim).await;

    let mut results = BTreeMap::new();
    for at in [old, middle, late] {
        let mut s = spec(&sim, &issued("USD", &issuer));
        s.at = Some(at.to_string());
        let taken = host.snapshot("xrpl", &s).await.unwrap();
        assert_eq!(taken.document.meta().resolved_at, at.to_string());
        let expected = sim
            .state()
            .read()
            .unwrap()
            .positive_holders_at(at, &issuer, "USD");
        assert_eq!(holders(&taken), expected, "at {at}");
        results.insert(at, holders(&taken));
    }
    assert_ne!(results[&old], results[&late], "churn changed balances");
    assert!(results[&late].contains_key(&holder.to_address()));
    assert!(!results[&old].contains_key(&holder.to_address()));

    // A ledger the server no longer has is "not found", and so is one not closed yet.
    for at in [old - 1, late + 1_000] {
        let mut s = spec(&sim, &issued("USD", &issuer));
        s.at = Some(at.to_string());
        let message = bad_input(host.snapshot("xrpl", &s).await, "missing ledger");
        assert!(message.contains("not found"), "{at}: {message}");
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_unknown_issuer_with_a_valid_checksum_is_not_found() {
    let mut state = XrplLedgerState::new();
    let issuer = state.new_issuer();
    state
        .populate_trust_lines(issuer, "USD", 10, 1)
        .expect("lines");
    let stranger = AccountId::from_seed(0xDEAD_BEEF, 1);
    assert!(state.account_at(state.tip(), &stranger).is_none());
    let sim = simulator(state, SimulatorConfig::default()).await;
    let host = host_for(&sim).await;

    let message = bad_input(
        host.snapshot("xrpl", &spec(&sim, &issued("USD", &stranger)))
            .await,
        "unknown issuer",
    );

    assert!(message.contains("not found"), "{message}");
    assert!(message.contains(&stranger.to_address()), "{message}");
    assert_eq!(
        sim.stats().requests(),
        1,
        "only the account_info that found nothing"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn malformed_token_ids_are_rejected_before_any_request() {
    let mut state = XrplLedgerState::new();
    let issuer = state.new_issuer();
    state
        .populate_trust_lines(issuer, "USD", 10, 1)
        .expect("lines");
    let sim = simulator(state, SimulatorConfig::default()).await;
    let host = host_for(&sim).await;
    let address = issuer.to_address();
    // One character changed: still base58, wrong checksum.
    let mut bad_checksum = address.clone().into_bytes();
    let last = bad_checksum.len() - 1;
    bad_checksum[last] = if bad_checksum[last] == b'a' {
        b'b'
    } else {
        b'a'
    };
    let bad_checksum = String::from_utf8(bad_checksum).unwrap();
    let mpt_hex = "00000001".to_string() + &issuer.to_hex();
    assert_eq!(mpt_hex.len(), 48);

    let bad_ids = [
        String::new(),
        "USD".to_string(),
        format!("USD.{bad_checksum}"),
        format!("USD.{}", &address[..address.len() - 1]),
        format!("USD.X{}", &address[1..]),
        format!("US.{address}"),
        format!("USDT.{address}"),
        format!("U D.{address}"),
        format!("XRP.{address}"),
        format!("{}.{address}", "0".repeat(40)),
        format!("{}.{address}", "0".repeat(39)),
        format!("{}.{address}", "G".repeat(40)),
        "mpt:".to_string(),
        "mpt:ZZ".to_string(),
        format!("mpt:{}", &mpt_hex[1..]),
        format!("mpt:{}X", &mpt_hex[1..]),
        format!("nft:{bad_checksum}"),
        format!("nft:{address}:abc"),
        format!("nft:{address}:-1"),
        format!("nft:{address}:4294967296"),
        format!("nft:{address}:"),
    ];
    for bad in &bad_ids {
        let message = bad_input(host.snapshot("xrpl", &spec(&sim, bad)).await, bad);
        assert!(message.contains("invalid token id"), "{bad:?}: {message}");
    }
    assert_eq!(sim.stats().requests(), 0, "no request reached the server");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn under_load_503s_slow_downs_and_load_warnings_still_give_the_exact_holders() {
    let mut state = XrplLedgerState::new();
    let issuer = state.new_issuer();
    state
        .populate_trust_lines(issuer, "USD", 1_500, 13)
        .expect("lines");
    let config = SimulatorConfig {
        load: Some(LoadConfig {
            rate: 40.0,
            burst: Some(4.0),
            warn_below: 0.6,
            refuse_with_503: 0.5,
        }),
        seed: 17,
        ..SimulatorConfig::default()
    };
    let sim = simulator(state, config).await;
    // The host may send far more than the server accepts; its retries and the plugin's
    // throttles are what keep the run going. Short pauses keep the test fast.
    let host = TestHost::with_net(&sim.address().to_string(), 1_000, 4, |net| {
        net.retry.max_attempts = 12;
        net.retry.base_delay = Duration::from_millis(10);
        net.retry.max_delay = Duration::from_millis(200);
        // Throttles (load warnings, slowDown) pause for less than a token takes to refill,
        // so the bucket does run dry.
        net.retry.max_retry_after = Duration::from_millis(5);
    })
    .await;
    let mut s = spec(&sim, &issued("USD", &issuer));
    // 30 pages of 50 lines.
    s.options = vec![("account_lines_limit".into(), "50".into())];

    let taken = host.snapshot("xrpl", &s).await.unwrap();

    let stats = sim.stats();
    let counts = format!(
        "503: {}, slowDown: {}, load warnings: {}, requests: {}",
        stats.http_503(),
        stats.slow_downs(),
        stats.load_warnings(),
        stats.requests()
    );
    println!("{counts}");
    assert!(stats.http_503() > 0, "some 503s; {counts}");
    assert!(stats.slow_downs() > 0, "some slowDown errors; {counts}");
    assert!(stats.load_warnings() > 0, "some load warnings; {counts}");
    let expected = sim.state().read().unwrap().positive_holders_at(
        taken.document.meta().resolved_at.parse().unwrap(),
        &issuer,
        "USD",
    );
    assert_eq!(holders(&taken), expected);
    assert_eq!(meta_attribute(&taken, "sum_check"), Some("passed"));
}

/// The XRPL benchmark (`tests/src/xrpl_bench.rs`), in release:
/// `cargo test --release -p snapshot-tests --test xrpl -- --ignored --nocapture`.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
#[ignore = "a benchmark: run in release with --ignored --nocapture"]
async fn xrpl_benchmark_report() {
    let trust_lines = std::env::var("XRPL_BENCH_LINES")
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(100_000);
    let latency_ms = std::env::var("XRPL_BENCH_LATENCY_MS")
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(20);
    let result =
        snapshot_tests::xrpl_bench::run(trust_lines, Duration::from_millis(latency_ms)).await;
    println!("{result}");
    println!(
        "{}",
        snapshot_tests::xrpl_bench::XrplBenchResult::MARKDOWN_HEADER
    );
    println!("{}", result.markdown_row());
}
