//! Unit and property tests of tenant settings: base currency changes, rate rules and conversion (S2.4).

use super::*;
use proptest::prelude::*;
use rust_decimal::Decimal;
use serde_json::json;

fn settings(base: &str, rates: &[(&str, &str)]) -> TenantSettings {
    TenantSettings {
        base_currency: base.into(),
        exchange_rates: rates
            .iter()
            .map(|(c, r)| (c.to_string(), r.to_string()))
            .collect(),
        ..Default::default()
    }
}

fn patch(body: Value) -> SettingsPatch {
    serde_json::from_value(body).unwrap()
}

fn broken(
    result: Result<(String, BTreeMap<String, String>), Vec<FieldError>>,
) -> Vec<(String, String)> {
    result
        .unwrap_err()
        .into_iter()
        .map(|e| (e.field, e.rule))
        .collect()
}

fn pair(field: &str, rule: &str) -> (String, String) {
    (field.to_string(), rule.to_string())
}

#[test]
fn s2_4_defaults_are_eur_without_rates_at_version_0() {
    let d = TenantSettings::default();
    assert_eq!((d.base_currency.as_str(), d.version), ("EUR", 0));
    assert!(d.exchange_rates.is_empty());
    assert_eq!(d.etag(), "\"0\"");
    assert_eq!(
        serde_json::to_value(&d).unwrap(),
        json!({"base_currency": "EUR", "exchange_rates": {}, "version": 0})
    );
}

#[test]
fn s2_4_rates_are_exact_positive_decimals_stored_without_redundant_zeros() {
    assert_eq!(normalize_rate("0.9200").as_deref(), Some("0.92"));
    assert_eq!(normalize_rate("007").as_deref(), Some("7"));
    assert_eq!(normalize_rate("2.000").as_deref(), Some("2"));
    assert_eq!(
        normalize_rate("0.000000000001").as_deref(),
        Some("0.000000000001")
    );
    assert_eq!(
        normalize_rate("999999999999.999999999999").as_deref(),
        Some("999999999999.999999999999")
    );
    for bad in [
        "0",
        "0.000",
        "-1",
        "+1",
        "1.",
        ".5",
        "1e3",
        "1,5",
        "1_000",
        "",
        "0.0000000000001",
        "1000000000000",
        " 1",
    ] {
        assert_eq!(normalize_rate(bad), None, "{bad:?}");
    }
}

#[test]
fn s2_4_rates_merge_entry_by_entry() {
    let current = settings("EUR", &[("USD", "0.9"), ("GBP", "1.17")]);
    let (base, rates) =
        patch(json!({"exchange_rates": {"usd": "0.9200", "GBP": null, "CHF": "1.05"}}))
            .apply(&current)
            .unwrap();
    assert_eq!(base, "EUR");
    assert_eq!(
        rates,
        BTreeMap::from([("CHF".into(), "1.05".into()), ("USD".into(), "0.92".into())])
    );
    let (_, cleared) = patch(json!({"exchange_rates": null}))
        .apply(&current)
        .unwrap();
    assert!(cleared.is_empty());
    let (_, kept) = patch(json!({})).apply(&current).unwrap();
    assert_eq!(kept, current.exchange_rates);
}

#[test]
fn s2_4_every_broken_rate_rule_is_named() {
    let got = broken(
        patch(json!({"base_currency": "EURO", "exchange_rates": {
            "XYZ": "1", "USD": "0", "GBP": 1.17, "EUR": "1", "CHF": "1.0000000000001"
        }}))
        .apply(&TenantSettings::default()),
    );
    for expected in [
        pair("base_currency", "iso_4217"),
        pair("exchange_rates.XYZ", "iso_4217"),
        pair("exchange_rates.USD", "rate"),
        pair("exchange_rates.GBP", "decimal_string"),
        pair("exchange_rates.CHF", "rate"),
    ] {
        assert!(got.contains(&expected), "{expected:?} in {got:?}");
    }
    assert_eq!(
        broken(patch(json!({"exchange_rates": {"EUR": "1"}})).apply(&TenantSettings::default())),
        vec![pair("exchange_rates.EUR", "not_base")]
    );
    assert_eq!(
        broken(patch(json!({"base_currency": null})).apply(&TenantSettings::default())),
        vec![pair("base_currency", "required")]
    );
    assert_eq!(
        broken(
            patch(json!({"exchange_rates": {"USD": "1", "usd": "2"}}))
                .apply(&TenantSettings::default())
        ),
        vec![pair("exchange_rates.usd", "duplicate")]
    );
}

#[test]
fn s2_4_changing_the_base_restates_or_clears_every_rate() {
    let current = settings("EUR", &[("USD", "0.92"), ("GBP", "1.17")]);
    // Carried over silently: refused, naming each stale rate (and the new base's own rate).
    assert_eq!(
        broken(patch(json!({"base_currency": "USD"})).apply(&current)),
        vec![
            pair("exchange_rates.GBP", "restate_on_base_change"),
            pair("exchange_rates.USD", "not_base"),
        ]
    );
    assert_eq!(
        broken(
            patch(json!({"base_currency": "USD", "exchange_rates": {"USD": null}})).apply(&current)
        ),
        vec![pair("exchange_rates.GBP", "restate_on_base_change")]
    );
    // Restated in the new base: accepted.
    let (base, rates) = patch(json!({"base_currency": "usd",
        "exchange_rates": {"USD": null, "GBP": "1.27", "EUR": "1.087"}}))
    .apply(&current)
    .unwrap();
    assert_eq!(base, "USD");
    assert_eq!(
        rates,
        BTreeMap::from([
            ("EUR".into(), "1.087".into()),
            ("GBP".into(), "1.27".into())
        ])
    );
    // Or all cleared.
    let (_, rates) = patch(json!({"base_currency": "USD", "exchange_rates": null}))
        .apply(&current)
        .unwrap();
    assert!(rates.is_empty());
    // Restating the same base changes nothing about the rule.
    assert!(
        patch(json!({"base_currency": "eur"}))
            .apply(&current)
            .is_ok()
    );
}

#[test]
fn s2_4_conversion_goes_through_the_base_and_rounds_half_away_from_zero() {
    let s = settings("EUR", &[("USD", "0.92"), ("JPY", "0.0061"), ("KWD", "3")]);
    assert_eq!(convert("100", "USD", "EUR", &s).unwrap(), "92.00");
    assert_eq!(convert("92", "EUR", "USD", &s).unwrap(), "100.00");
    assert_eq!(convert("1", "EUR", "USD", &s).unwrap(), "1.09"); // 1.0869…
    assert_eq!(convert("10000", "JPY", "EUR", &s).unwrap(), "61.00");
    assert_eq!(convert("1", "EUR", "JPY", &s).unwrap(), "164"); // 163.93…
    assert_eq!(convert("1", "EUR", "KWD", &s).unwrap(), "0.333");
    // USD → JPY through EUR, unrounded in between: 100 × 0.92 / 0.0061 = 15081.967…
    assert_eq!(convert("100", "USD", "JPY", &s).unwrap(), "15082");
    // Half away from zero, on both signs.
    assert_eq!(convert("0.005", "EUR", "EUR", &s).unwrap(), "0.01");
    assert_eq!(convert("-0.005", "EUR", "EUR", &s).unwrap(), "-0.01");
    assert_eq!(convert("0.0049", "EUR", "EUR", &s).unwrap(), "0.00");
    assert_eq!(convert("-0.001", "EUR", "EUR", &s).unwrap(), "0.00");
    assert_eq!(convert("2.5", "JPY", "JPY", &s).unwrap(), "3");
    assert_eq!(convert("5", "EUR", "EUR", &s).unwrap(), "5.00");
}

#[test]
fn s2_4_conversion_errors_name_what_is_missing() {
    let s = settings("EUR", &[("USD", "0.92")]);
    assert_eq!(
        convert("1", "GBP", "EUR", &s),
        Err(ConversionError::MissingRate("GBP".into()))
    );
    assert_eq!(
        convert("1", "USD", "CHF", &s),
        Err(ConversionError::MissingRate("CHF".into()))
    );
    assert_eq!(
        convert("1", "EURO", "EUR", &s),
        Err(ConversionError::UnknownCurrency("EURO".into()))
    );
    for bad in [
        "",
        "1e3",
        "1.",
        ".5",
        "+1",
        "--1",
        "1,5",
        "1_0",
        "NaN",
        "12345678901234567",
    ] {
        assert_eq!(
            convert(bad, "EUR", "EUR", &s),
            Err(ConversionError::InvalidAmount(bad.into())),
            "{bad:?}"
        );
    }
    let extreme = settings("EUR", &[("USD", "999999999999"), ("JPY", "0.000000000001")]);
    assert_eq!(
        convert("9999999999999999", "USD", "JPY", &extreme),
        Err(ConversionError::Overflow)
    );
    // Representable, but not with the two decimals of USD.
    assert_eq!(
        convert(
            "9999999999999999",
            "EUR",
            "USD",
            &settings("EUR", &[("USD", "0.000000000001")])
        ),
        Err(ConversionError::Overflow)
    );
    let e: CrmError = ConversionError::MissingRate("GBP".into()).into();
    assert!(
        matches!(e, CrmError::Validation(ref v) if v[0].field == "exchange_rates.GBP" && v[0].rule == "rate_missing")
    );
}

/// Codes with their minor digits, for the property tests.
fn code() -> impl Strategy<Value = &'static str> {
    prop::sample::select(vec!["EUR", "USD", "JPY", "KWD", "GBP", "CLP", "BHD", "CHF"])
}

/// A rate as the API stores it, from 0.000000000001 to 999999, over every magnitude.
fn rate() -> impl Strategy<Value = String> {
    (1i64..1_000_000, 0u32..=12).prop_map(|(mantissa, scale)| {
        normalize_rate(&Decimal::new(mantissa, scale).to_string()).expect("a valid rate")
    })
}

fn amount_in(code: &str, whole: u64, frac: u64, negative: bool) -> String {
    let digits = currency::minor_digits(code).unwrap() as usize;
    let sign = if negative { "-" } else { "" };
    if digits == 0 {
        format!("{sign}{whole}")
    } else {
        let frac = frac % 10u64.pow(digits as u32);
        format!("{sign}{whole}.{frac:0digits$}")
    }
}

proptest! {
    #[test]
    fn converting_to_the_same_currency_is_identity(
        c in code(), whole in 0u64..10_000_000_000_000_000, frac in 0u64..1000, negative: bool,
    ) {
        let amount = amount_in(c, whole, frac, negative);
        let zero = amount.trim_start_matches('-').bytes().all(|b| b == b'0' || b == b'.');
        prop_assume!(!(negative && zero)); // "-0.00" is written "0.00"
        prop_assert_eq!(convert(&amount, c, c, &TenantSettings::default()), Ok(amount.clone()));
    }

    #[test]
    fn converting_never_panics(
        amount in "-?[0-9]{0,20}(\\.[0-9]{0,14})?|\\PC{0,12}",
        from in code(), to in code(), base in code(),
        rates in prop::collection::btree_map(code(), rate(), 0..8),
    ) {
        let settings = TenantSettings {
            base_currency: base.to_string(),
            exchange_rates: rates.into_iter().map(|(c, r)| (c.to_string(), r)).collect(),
            ..Default::default()
        };
        let _ = convert(&amount, from, to, &settings);
    }

    /// base → X → base loses at most one minor unit of the base when one minor unit of X is
    /// worth at most one of the base. (When it is worth more, no rounding to X can do
    /// better than half an X minor unit: 1 GBP penny is about 18 KRW.)
    #[test]
    fn a_base_round_trip_stays_within_one_minor_unit(
        base in code(), x in code(), r in rate(), whole in 0u64..1_000_000_000, frac in 0u64..1000,
    ) {
        prop_assume!(base != x);
        let (db, dx) = (currency::minor_digits(base).unwrap(), currency::minor_digits(x).unwrap());
        let rate = Decimal::from_str_exact(&r).unwrap();
        // Value in base minor units of one minor unit of X: rate × 10^(db − dx).
        let minor_of_x = rate * Decimal::from(10u64.pow(db)) / Decimal::from(10u64.pow(dx));
        prop_assume!(minor_of_x <= Decimal::ONE);
        let settings = TenantSettings {
            base_currency: base.to_string(),
            exchange_rates: BTreeMap::from([(x.to_string(), r.clone())]),
            ..Default::default()
        };
        let amount = amount_in(base, whole, frac, false);
        let there = convert(&amount, base, x, &settings).unwrap();
        // A tiny rate can make the amount in X longer than an amount may be.
        prop_assume!(money::parse_amount(&there).is_some());
        let back = convert(&there, x, base, &settings).unwrap();
        let diff = (Decimal::from_str_exact(&back).unwrap() - Decimal::from_str_exact(&amount).unwrap()).abs();
        let one_minor = Decimal::ONE / Decimal::from(10u64.pow(db));
        prop_assert!(diff <= one_minor, "{amount} {base} → {x} → {back} {base}");
    }
}

#[tokio::test]
async fn s2_4_settings_are_saved_with_their_audit_entry_and_guarded_by_version() {
    let table = Table::in_memory();
    let repo = SettingsStore::new(table.clone());
    let admin = Caller::new("t", "a", crate::Role::Admin);
    let member = Caller::new("t", "m", crate::Role::Member);
    assert_eq!(
        get(&repo, &member).await.unwrap(),
        TenantSettings::default()
    );
    let rates = |v: serde_json::Value| serde_json::from_value::<SettingsPatch>(v).unwrap();
    assert!(matches!(
        super::patch(&repo, &member, rates(json!({"base_currency": "USD"})), None).await,
        Err(CrmError::Forbidden(_))
    ));
    let saved = super::patch(
        &repo,
        &admin,
        rates(json!({"exchange_rates": {"USD": "0.92"}})),
        Some(0),
    )
    .await
    .unwrap();
    assert_eq!(saved.version, 1);
    assert!(matches!(
        super::patch(
            &repo,
            &admin,
            rates(json!({"exchange_rates": {"USD": "0.93"}})),
            Some(0)
        )
        .await,
        Err(CrmError::PreconditionFailed)
    ));
    let (history, _) = crate::audit::history(&table, settings_pk("t"), 10, None)
        .await
        .unwrap();
    assert_eq!(history.len(), 1);
    assert_eq!(history[0].changes[0].field, "exchange_rates");
    assert_eq!(get(&repo, &member).await.unwrap(), saved);
    let portal = Caller::new("t", "p", crate::Role::Portal);
    assert!(matches!(
        get(&repo, &portal).await,
        Err(CrmError::Forbidden(_))
    ));
}
