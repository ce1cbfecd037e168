//! Unit and property tests of phone numbers: parsing in a country, E.164, display.

use super::*;
use crate::values::country::ISO_3166_ALPHA2;
use proptest::prelude::*;

fn e164(raw: &str, country: Option<&str>) -> Option<String> {
    normalize_phone(raw, country).unwrap().e164
}

#[test]
fn german_numbers() {
    let p = normalize_phone("030 123456", Some("de")).unwrap();
    assert_eq!(p.e164.as_deref(), Some("+4930123456"));
    assert_eq!(p.display, "+49 30 123456");
    assert_eq!(p.country.as_deref(), Some("DE"));
    assert_eq!(
        e164("030/1234567", Some("DE")).as_deref(),
        Some("+49301234567")
    );
    assert_eq!(e164("+49 30 123456", None).as_deref(), Some("+4930123456"));
    assert_eq!(e164("0049 30 123456", None).as_deref(), Some("+4930123456"));
    assert_eq!(
        e164("0049 (30) 123456", Some("FR")).as_deref(),
        Some("+4930123456")
    );
    assert_eq!(
        e164("0171 1234567", Some("DE")).as_deref(),
        Some("+491711234567")
    );
}

#[test]
fn national_prefixes_are_not_stripped_from_international_numbers() {
    // Rome keeps its 0, whatever the default country; Russia's prefix 8 starts numbers too.
    for country in [None, Some("DE"), Some("US"), Some("IT"), Some("RU")] {
        assert_eq!(
            e164("+39 06 6982 1234", country).as_deref(),
            Some("+390669821234"),
            "{country:?}"
        );
        assert_eq!(
            e164("+7 820 000 0000", country).as_deref(),
            Some("+78200000000"),
            "{country:?}"
        );
        assert_eq!(
            e164("0036 1 345 6789", country).as_deref(),
            Some("+3613456789"),
            "{country:?}"
        );
    }
    assert_eq!(
        e164("06 6982 1234", Some("IT")).as_deref(),
        Some("+390669821234")
    );
    assert_eq!(
        e164("8 495 123-45-67", Some("RU")).as_deref(),
        Some("+74951234567")
    );
    // "+44 (0)20 …" is a common way of writing "+44 20 …".
    assert_eq!(
        e164("+44 (0)20 7946 0958", None).as_deref(),
        Some("+442079460958")
    );
}

#[test]
fn us_numbers() {
    let p = normalize_phone("+1 (415) 555-2671", None).unwrap();
    assert_eq!(p.e164.as_deref(), Some("+14155552671"));
    assert_eq!(p.country.as_deref(), Some("US"));
    assert_eq!(p.display, "+1 415-555-2671");
    assert_eq!(
        e164("(415) 555-2671", Some("us")).as_deref(),
        Some("+14155552671")
    );
    assert_eq!(
        e164("415.555.2671", Some("US")).as_deref(),
        Some("+14155552671")
    );
    // The US international prefix, and a number carrying its own code.
    assert_eq!(
        e164("011 49 30 123456", Some("US")).as_deref(),
        Some("+4930123456")
    );
    assert_eq!(
        e164("+49 30 123456", Some("US")).as_deref(),
        Some("+4930123456")
    );
}

#[test]
fn uk_and_french_numbers() {
    let p = normalize_phone("020 7946 0958", Some("GB")).unwrap();
    assert_eq!(p.e164.as_deref(), Some("+442079460958"));
    assert_eq!(p.display, "+44 20 7946 0958");
    assert_eq!(
        e164("+44 20 7946 0958", None).as_deref(),
        Some("+442079460958")
    );
    assert_eq!(
        e164("07911 123456", Some("gb")).as_deref(),
        Some("+447911123456")
    );
    let p = normalize_phone("01 42 68 53 00", Some("FR")).unwrap();
    assert_eq!(p.e164.as_deref(), Some("+33142685300"));
    assert_eq!(p.display, "+33 1 42 68 53 00");
    assert_eq!(p.country.as_deref(), Some("FR"));
    assert_eq!(
        e164("+33 6 12 34 56 78", None).as_deref(),
        Some("+33612345678")
    );
    assert_eq!(
        e164("0033 1.42.68.53.00", None).as_deref(),
        Some("+33142685300")
    );
}

#[test]
fn without_a_country_the_number_is_kept_as_entered() {
    let p = normalize_phone("  030   123 456 ", None).unwrap();
    assert_eq!(
        p,
        NormalizedPhone {
            e164: None,
            display: "030 123 456".into(),
            country: None,
            extension: None,
        }
    );
    assert_eq!(
        normalize_phone("(415) 555-2671", Some(" ")).unwrap().e164,
        None
    );
    // A real ISO code without a numbering plan of its own: as if none was given.
    assert_eq!(normalize_phone("12345", Some("AQ")).unwrap().e164, None);
    assert_eq!(
        normalize_phone("+49 30 123456", Some("AQ"))
            .unwrap()
            .e164
            .as_deref(),
        Some("+4930123456")
    );
}

#[test]
fn extensions_are_kept() {
    let p = normalize_phone("+49 30 123456 ext. 12", None).unwrap();
    assert_eq!(p.e164.as_deref(), Some("+4930123456"));
    assert_eq!(p.extension.as_deref(), Some("12"));
    assert_eq!(p.display, "+49 30 123456 ext. 12");
    let p = normalize_phone("(415) 555-2671 x12", Some("US")).unwrap();
    assert_eq!(p.e164.as_deref(), Some("+14155552671"));
    assert_eq!(p.extension.as_deref(), Some("12"));
    let p = normalize_phone("415 555 2671x7", Some("US")).unwrap();
    assert_eq!(p.extension.as_deref(), Some("7"));
    let p = normalize_phone("030 123456 Ext: 99", None).unwrap();
    assert_eq!(p.display, "030 123456 Ext: 99");
    assert_eq!(p.extension.as_deref(), Some("99"));
    let p = normalize_phone("030 123456 extension 4567", Some("DE")).unwrap();
    assert_eq!(p.display, "+49 30 123456 ext. 4567");
    // Not an extension: no marker, or a marker glued to a letter.
    assert_eq!(
        normalize_phone("030 123456 12", None).unwrap().extension,
        None
    );
    assert_eq!(
        normalize_phone("030 123456 fax 12", None),
        Err(PhoneRule::Format)
    );
    assert_eq!(
        normalize_phone("030 123456 ext. 12345678901", None),
        Err(PhoneRule::Format)
    );
}

#[test]
fn garbage_is_refused() {
    for bad in [
        "",
        "   ",
        "abc",
        "call me",
        "12",
        "+1",
        "030 123456 789 123456 789 123",
        "030-12345a",
        "030 (123",
        "030) 123",
        "((030)) 123",
        "+49 +30 123",
        "030 123456\u{0}",
        "030 123456 #12",
        "tel:+4930123456",
    ] {
        assert_eq!(
            normalize_phone(bad, None).map_err(PhoneRule::code),
            Err("format"),
            "{bad:?}"
        );
    }
    for bad in [
        "+49 12",
        "0049",
        "+999 123 456 789",
        "123",
        "+1 415 555 267",
        "07700 900123",
    ] {
        let country = if bad.starts_with('+') {
            None
        } else {
            Some("GB")
        };
        assert_eq!(
            normalize_phone(bad, country).map_err(PhoneRule::code),
            Err("invalid_number"),
            "{bad:?}"
        );
    }
    // Longer than E.164 allows, though libphonenumber takes it.
    assert_eq!(
        normalize_phone("+49 30 1234567890123", None),
        Err(PhoneRule::InvalidNumber)
    );
    for country in ["XX", "UK", "DEU", "1", "XK"] {
        assert_eq!(
            normalize_phone("030 123456", Some(country)),
            Err(PhoneRule::UnknownCountry)
        );
    }
    assert!(!PhoneRule::Format.message().is_empty());
    assert!(!PhoneRule::InvalidNumber.message().is_empty());
    assert!(!PhoneRule::UnknownCountry.message().is_empty());
}

#[test]
fn countries() {
    assert_eq!(validate_country("de").as_deref(), Some("DE"));
    assert_eq!(validate_country(" Us ").as_deref(), Some("US"));
    assert_eq!(validate_country("GB").as_deref(), Some("GB"));
    assert_eq!(validate_country("AQ").as_deref(), Some("AQ"));
    for bad in ["", "D", "DEU", "UK", "XK", "EU", "d1", "ÄÖ", "zz"] {
        assert_eq!(validate_country(bad), None, "{bad}");
    }
    assert!(ISO_3166_ALPHA2.windows(2).all(|w| w[0] < w[1]));
    assert!(
        ISO_3166_ALPHA2
            .iter()
            .all(|c| c.len() == 2 && c.bytes().all(|b| b.is_ascii_uppercase()))
    );
    // Every code libphonenumber knows a plan for, except its few non-ISO ones, is ISO.
    let non_iso = ["AC", "TA", "XK"];
    let with_plan = ISO_3166_ALPHA2
        .iter()
        .filter(|c| c.parse::<Id>().is_ok())
        .count();
    assert_eq!(with_plan, 249 - 7);
    for c in non_iso {
        assert!(c.parse::<Id>().is_ok() && validate_country(c).is_none());
    }
}

#[test]
fn e164_shape() {
    assert!(is_e164("+4930123456"));
    assert!(!is_e164("4930123456"));
    assert!(!is_e164("+0930123456"));
    assert!(!is_e164("+123456"));
    assert!(!is_e164("+1234567890123456"));
    assert!(!is_e164("+49 30 123456"));
}

/// A number in one of a few common national or international formats.
fn phone_like() -> impl Strategy<Value = (String, Option<&'static str>)> {
    let country = proptest::option::of(proptest::sample::select(vec![
        "DE", "US", "GB", "FR", "CH", "AT", "IT", "NL", "JP", "IN",
    ]));
    let number = prop_oneof![
        "\\+[1-9][0-9]{6,14}",
        "0[1-9][0-9]{5,11}",
        "00[1-9][0-9]{6,13}",
        "[2-9][0-9]{2}[ .-][0-9]{3}[ .-][0-9]{4}",
        "\\+[1-9][0-9]{0,2} \\(?[0-9]{2,4}\\)? [0-9]{3,8}",
    ];
    (number, country)
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(512))]

    // Normalising an E.164 result again, with no country, gives the same number; and every
    // E.164 result has the E.164 shape `^\+[1-9]\d{6,14}$`.
    #[test]
    fn e164_is_a_fixed_point((raw, country) in phone_like()) {
        if let Ok(p) = normalize_phone(&raw, country) {
            if let Some(e) = &p.e164 {
                prop_assert!(is_e164(e), "{e}");
                let again = normalize_phone(e, None).unwrap();
                prop_assert_eq!(again.e164.as_ref(), Some(e));
                prop_assert_eq!(again.country, p.country);
            } else {
                prop_assert!(country.is_none() && !raw.starts_with('+') && !raw.starts_with("00"));
            }
        }
    }

    #[test]
    fn at_most_two_digits_are_refused(
        raw in "[+]?[ ()./-]{0,3}[0-9]{0,2}[ ()./-]{0,3}",
        country in proptest::option::of(proptest::sample::select(vec!["DE", "US", "GB"])),
    ) {
        prop_assert_eq!(normalize_phone(&raw, country), Err(PhoneRule::Format));
    }

    #[test]
    fn never_panics_and_e164_is_well_shaped(raw in "\\PC{0,40}", country in proptest::option::of("[A-Za-z]{2}")) {
        if let Ok(p) = normalize_phone(&raw, country.as_deref()) {
            if let Some(e) = &p.e164 {
                prop_assert!(is_e164(e), "{e}");
            }
            prop_assert!(!p.display.is_empty());
        }
    }
}
