//! Property tests of custom fields (S3.3, S1.3): whatever the validator accepts round-trips
//! through JSON and DynamoDB unchanged and is accepted again as itself; decimals and amounts
//! never lose precision; the numeric index encoding preserves order and is injective.

use super::tests::field;
use super::*;
use crate::store::Item;
use proptest::prelude::*;
use rust_decimal::Decimal;
use serde_json::{Value, json};
use std::collections::BTreeMap;

/// A definition and a raw value for it: often valid, sometimes not.
fn case() -> impl Strategy<Value = (FieldDefinition, Value)> {
    let options = json!([{"id": "a", "label": "Alpha"}, {"id": "b-2", "label": "Beta Zwei"},
        {"id": "c", "label": "Gamma", "archived": true}]);
    prop_oneof![
        ("\\PC{0,30}", proptest::option::of(1u32..40))
            .prop_map(|(s, max)| (field(json!({"kind": "text", "max_length": max})), json!(s))),
        "[a-z ]{0,12}".prop_map(|s| (
            field(json!({"kind": "text", "regex": "[a-z]+( [a-z]+)*"})),
            json!(s)
        )),
        "[a-zä \r\n\t]{0,40}".prop_map(|s| (field(json!({"kind": "long_text"})), json!(s))),
        any::<i64>().prop_map(|n| (field(json!({"kind": "integer", "min": -1000})), json!(n))),
        (-100_000i64..100_000)
            .prop_map(|n| (field(json!({"kind": "integer"})), json!(n.to_string()))),
        (decimal_text(), 0u32..=10)
            .prop_map(|(s, scale)| (field(json!({"kind": "decimal", "scale": scale})), json!(s))),
        (decimal_text(), "(EUR|eur|JPY|KWD|USD|XYZ)").prop_map(|(amount, currency)| {
            let def = field(json!({"kind": "currency", "currencies": ["EUR", "JPY", "KWD"]}));
            (def, json!({"amount": amount, "currency": currency}))
        }),
        (0i32..10_001, 0u32..14, 0u32..33).prop_map(|(y, m, d)| {
            (
                field(json!({"kind": "date"})),
                json!(format!("{y:04}-{m:02}-{d:02}")),
            )
        }),
        (
            -62_000_000_000i64..253_000_000_000,
            0u32..1_000_000_000,
            -720i32..720
        )
            .prop_map(|(secs, nanos, offset_minutes)| {
                let offset = chrono::FixedOffset::east_opt(offset_minutes * 60).unwrap();
                let text = chrono::DateTime::from_timestamp(secs, nanos)
                    .map(|t| t.with_timezone(&offset).to_rfc3339())
                    .unwrap_or_default();
                (field(json!({"kind": "date_time"})), json!(text))
            }),
        any::<bool>().prop_map(|b| (field(json!({"kind": "boolean"})), json!(b))),
        "(a|b-2|c|alpha|BETA zwei|x)".prop_map({
            let options = options.clone();
            move |s| {
                (
                    field(json!({"kind": "select", "options": options})),
                    json!(s),
                )
            }
        }),
        proptest::collection::vec("(a|b-2|c|gamma|x)", 0..4).prop_map(move |ids| {
            (
                field(json!({"kind": "multi_select", "options": options, "max_items": 2})),
                json!(ids),
            )
        }),
        "[A-Za-z0-9._+-]{1,10}@[A-Za-z0-9-]{1,8}\\.[A-Za-z]{2,4}"
            .prop_map(|s| (field(json!({"kind": "email"})), json!(s))),
        (
            "(\\+49|0|00 49 )?[1-9][0-9 ]{4,12}( ext\\. [0-9]{1,3})?",
            proptest::option::of("(DE|US|FR)")
        )
            .prop_map(|(s, c)| (
                field(json!({"kind": "phone", "default_country": c})),
                json!(s)
            )),
        "https?://[a-z]{1,8}\\.[a-z]{2,3}(/[a-z#?=%]{0,10})?"
            .prop_map(|s| (field(json!({"kind": "url"})), json!(s))),
        "[a-zA-Z0-9|@._-]{1,20}".prop_map(|s| (field(json!({"kind": "user_ref"})), json!(s))),
        any::<[u8; 16]>().prop_map(|b| {
            (
                field(json!({"kind": "contact_ref"})),
                json!(uuid::Uuid::from_bytes(b).to_string()),
            )
        }),
    ]
}

/// Decimal texts: signs, leading zeros, many fraction digits, some malformed.
fn decimal_text() -> impl Strategy<Value = String> {
    prop_oneof![
        ("-?", "[0-9]{1,19}", proptest::option::of("[0-9]{1,12}")).prop_map(
            |(sign, whole, frac)| {
                match frac {
                    Some(f) => format!("{sign}{whole}.{f}"),
                    None => format!("{sign}{whole}"),
                }
            }
        ),
        "[-+0-9.e ]{0,8}",
    ]
}

fn stored_round_trip(value: &FieldValue) -> FieldValue {
    let json = serde_json::to_string(value).unwrap();
    let back: FieldValue = serde_json::from_str(&json).unwrap();
    let record = BTreeMap::from([("f".to_string(), back)]);
    let item: Item = serde_dynamo::to_item(&record).unwrap();
    let mut read: BTreeMap<String, FieldValue> = serde_dynamo::from_item(item).unwrap();
    read.remove("f").unwrap()
}

/// A decimal with at most 18 integer and `scale` fraction digits.
fn bounded_decimal() -> impl Strategy<Value = Decimal> {
    (0u32..=10).prop_flat_map(|scale| {
        let limit = 10i128.pow(18 + scale) - 1;
        prop_oneof![
            (-limit..=limit),
            (-1000i128..=1000),
            Just(limit),
            Just(-limit),
        ]
        .prop_map(move |m| Decimal::from_i128_with_scale(m, scale))
    })
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(2000))]

    /// S3.3: an accepted value is stored and read back unchanged (JSON and DynamoDB), its
    /// plain JSON shape is accepted again as the same value (normalisation is idempotent),
    /// and its index terms never contain the sort key separator.
    #[test]
    fn accepted_values_round_trip_unchanged((def, raw) in case()) {
        if let Ok(value) = validate(&def, &raw, "custom_fields.f") {
            let stored = stored_round_trip(&value);
            prop_assert_eq!(&stored, &value);
            prop_assert_eq!(stored.to_json(), value.to_json(), "scale kept through storage");
            let again = validate(&def, &value.to_json(), "custom_fields.f");
            prop_assert_eq!(again.as_ref().map(FieldValue::to_json), Ok(value.to_json()));
            prop_assert_eq!(again, Ok(value.clone()));
            prop_assert!(value_survives(&def, &value));
            // What filters read: the value as its index entry carries it.
            let terms = crate::custom_fields::entries::stored_terms(&def, &value);
            let entry = crate::custom_fields::entries::entry_attributes(
                uuid::Uuid::nil(), "f", &value, &terms,
            ).unwrap();
            prop_assert_eq!(&crate::custom_fields::entries::read_entry(&entry).unwrap().value, &value);
            for term in index_terms(&def, &value) {
                prop_assert!(!term.contains('#') && !term.is_empty(), "{}", term);
            }
        }
    }

    /// S3.3: a decimal is never rounded or truncated: the output is the input in canonical
    /// form (no `+`, no leading zeros, no `-0`), and numerically the same.
    #[test]
    fn decimals_never_lose_precision(
        negative in any::<bool>(),
        zeros in "0{0,3}",
        whole in "[1-9][0-9]{0,17}|0",
        frac in proptest::option::of("[0-9]{1,10}"),
    ) {
        let def = field(json!({"kind": "decimal"}));
        let sign = if negative { "-" } else { "" };
        let frac_part = frac.as_ref().map(|f| format!(".{f}")).unwrap_or_default();
        let raw = format!("{sign}{zeros}{whole}{frac_part}");
        let value = validate(&def, &json!(raw), "f").unwrap();
        let out = value.to_json().as_str().unwrap().to_string();
        let is_zero = whole == "0" && frac.as_deref().is_none_or(|f| f.bytes().all(|b| b == b'0'));
        let canonical = format!("{}{whole}{frac_part}", if negative && !is_zero { "-" } else { "" });
        prop_assert_eq!(&out, &canonical);
        prop_assert_eq!(Decimal::from_str_exact(&out).unwrap(), Decimal::from_str_exact(&raw).unwrap());
        prop_assert_eq!(stored_round_trip(&value).to_json(), json!(out));
    }

    /// S3.3: an amount keeps every digit and gains exactly the currency's minor digits.
    #[test]
    fn currency_amounts_never_lose_precision(
        negative in any::<bool>(),
        whole in "[1-9][0-9]{0,17}|0",
        (currency, frac) in prop_oneof![
            Just("JPY").prop_flat_map(|c| (Just(c), "[0-9]{0,0}")),
            Just("EUR").prop_flat_map(|c| (Just(c), "[0-9]{0,2}")),
            Just("KWD").prop_flat_map(|c| (Just(c), "[0-9]{0,3}")),
        ],
    ) {
        let def = field(json!({"kind": "currency"}));
        let raw = if frac.is_empty() { format!("{}{whole}", if negative { "-" } else { "" }) }
            else { format!("{}{whole}.{frac}", if negative { "-" } else { "" }) };
        let value = validate(&def, &json!({"amount": raw, "currency": currency}), "f").unwrap();
        let FieldValue::Currency(money) = &value else { panic!("{value:?}") };
        prop_assert_eq!(money.amount.0, Decimal::from_str_exact(&raw).unwrap());
        prop_assert_eq!(money.amount.scale(), crate::values::currency::minor_digits(currency).unwrap());
        prop_assert_eq!(&stored_round_trip(&value), &value);
        prop_assert_eq!(stored_round_trip(&value).to_json(), value.to_json());
    }

    /// S1.3: lexical order of the encoding is numeric order, equal encodings are equal
    /// numbers, every encoding is 30 characters and decodes to its number.
    #[test]
    fn number_encoding_preserves_order(a in bounded_decimal(), b in bounded_decimal()) {
        let (ea, eb) = (encode_number(a).unwrap(), encode_number(b).unwrap());
        prop_assert_eq!(ea.len(), 30);
        prop_assert_eq!(a.cmp(&b), ea.cmp(&eb), "{} {} / {} {}", a, b, ea, eb);
        prop_assert_eq!(decode_number(&ea), Some(a));
        prop_assert_eq!(decode_number(&ea).map(|d| d.scale()), Some(10));
    }

    /// Near neighbours (the cases a random pair rarely hits): one unit of the last place
    /// apart, across zero, and the scale-only differences that must encode the same.
    #[test]
    fn number_encoding_separates_neighbours(m in -(10i128.pow(28) - 2)..(10i128.pow(28) - 2)) {
        let a = Decimal::from_i128_with_scale(m, 10);
        let b = Decimal::from_i128_with_scale(m + 1, 10);
        prop_assert!(encode_number(a).unwrap() < encode_number(b).unwrap());
        prop_assert_eq!(encode_number(a.normalize()), encode_number(a));
    }

    /// Integers within the JavaScript-safe range sort like their encodings, and an integer
    /// and the equal decimal share a term (integer → decimal keeps the index valid).
    #[test]
    fn integer_terms_sort_numerically(a in -limits::INTEGER_MAX..=limits::INTEGER_MAX, b in -limits::INTEGER_MAX..=limits::INTEGER_MAX) {
        let int = field(json!({"kind": "integer"}));
        let dec = field(json!({"kind": "decimal", "scale": 3}));
        let ta = index_terms(&int, &FieldValue::Integer(a));
        let tb = index_terms(&int, &FieldValue::Integer(b));
        prop_assert_eq!(a.cmp(&b), ta.cmp(&tb));
        let da = validate(&dec, &json!(format!("{a}.000")), "f").unwrap();
        prop_assert_eq!(index_terms(&dec, &da), ta);
    }

    /// Dates and datetimes: term order is time order.
    #[test]
    fn time_terms_sort_chronologically(a in -62_000_000_000_000i64..253_000_000_000_000, b in -62_000_000_000_000i64..253_000_000_000_000) {
        let def = field(json!({"kind": "date_time"}));
        let ta = chrono::DateTime::from_timestamp_millis(a).unwrap();
        let tb = chrono::DateTime::from_timestamp_millis(b).unwrap();
        let ea = index_terms(&def, &FieldValue::DateTime(ta));
        let eb = index_terms(&def, &FieldValue::DateTime(tb));
        prop_assert_eq!(a.cmp(&b), ea.cmp(&eb));
        prop_assert_eq!(ea[0].len(), 24);
    }

    /// The validator never panics, whatever JSON arrives.
    #[test]
    fn validator_never_panics((def, _) in case(), raw in proptest::arbitrary::any::<u8>().prop_flat_map(|_| json_value())) {
        let _ = validate(&def, &raw, "f");
    }
}

fn json_value() -> impl Strategy<Value = Value> {
    let leaf = prop_oneof![
        Just(Value::Null),
        any::<bool>().prop_map(Value::Bool),
        any::<i64>().prop_map(|n| json!(n)),
        any::<f64>().prop_map(|f| json!(f)),
        "\\PC{0,12}".prop_map(Value::String),
    ];
    leaf.prop_recursive(2, 8, 4, |inner| {
        prop_oneof![
            proptest::collection::vec(inner.clone(), 0..4).prop_map(Value::Array),
            proptest::collection::btree_map("(amount|currency|x)", inner, 0..3)
                .prop_map(|m| Value::Object(m.into_iter().collect())),
        ]
    })
}
