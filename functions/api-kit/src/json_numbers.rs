//! JSON has one number type: `3.0` and `3` are the same number, and a JSON Schema `integer`
//! admits both. serde reads `3.0` as a float and refuses it for an integer field, so a body is
//! read as a JSON value first and every integral float within the 64-bit range becomes an
//! integer before the body's type is deserialised.

use serde_json::{Number, Value};

/// Integers a float holds exactly (±(2^53 − 1)). A literal beyond them that serde read as a
/// float (`-9223372036854775809`, `1e20`) is no longer the number written: it stays a float,
/// and an integer field refuses it rather than taking a rounded neighbour.
const EXACT_IN_FLOAT: f64 = 9_007_199_254_740_991.0;

/// Rewrites integral floats (`3.0`, `-2e3`) as integers, in place, at any depth.
pub fn integral_floats_as_integers(value: &mut Value) {
    match value {
        Value::Number(n) if n.is_f64() => {
            let f = n.as_f64().unwrap_or(f64::NAN);
            if f.fract() == 0.0 && f.abs() <= EXACT_IN_FLOAT {
                *n = if f >= 0.0 {
                    Number::from(f as u64)
                } else {
                    Number::from(f as i64)
                };
            }
        }
        Value::Array(items) => items.iter_mut().for_each(integral_floats_as_integers),
        Value::Object(map) => map.values_mut().for_each(integral_floats_as_integers),
        _ => {}
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn integral_floats_become_integers_and_others_stay() {
        let mut v: Value =
            serde_json::from_str(r#"{"a": 3.0, "b": [-2e3, 1.5], "c": {"d": 1e300}, "e": "4.0"}"#)
                .unwrap();
        integral_floats_as_integers(&mut v);
        assert_eq!(
            v,
            json!({"a": 3, "b": [-2000, 1.5], "c": {"d": 1e300}, "e": "4.0"})
        );
        assert!(v["a"].is_u64() && v["b"][0].is_i64());
        let n: u32 = serde_json::from_value(v["a"].clone()).unwrap();
        assert_eq!(n, 3);
    }

    #[test]
    fn literals_beyond_the_exact_range_stay_floats() {
        let mut v: Value =
            serde_json::from_str(r#"[-9223372036854775809, 18446744073709551616, 1e15]"#).unwrap();
        integral_floats_as_integers(&mut v);
        assert!(v[0].is_f64() && v[1].is_f64());
        assert_eq!(v[2], json!(1_000_000_000_000_000_u64));
        assert!(serde_json::from_value::<i64>(v[0].clone()).is_err());
    }
}
