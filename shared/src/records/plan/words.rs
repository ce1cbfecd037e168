//! Search words as key ranges: whole-word prefixes of index tokens, and the two words a
//! several-word search drives by.

use super::super::keys;
use crate::store::KeyRange;

/// The ranges a token prefix `w` has when it must be a whole word of a token: the token is `w`
/// itself, or `w` followed by a digit or a letter (not by `.`, `@`, … of an email address).
pub fn word_ranges(w: &str) -> Vec<KeyRange> {
    vec![
        KeyRange::Prefix(format!("{w}#")),
        KeyRange::Between(format!("{w}0"), format!("{w}9\u{10FFFF}")),
        KeyRange::Between(format!("{w}a"), format!("{w}\u{10FFFF}")),
    ]
}

/// Whether `w` is a prefix of a token's first word (its letters and digits up to the first
/// punctuation).
pub fn word_prefix(w: &str, token: &str) -> bool {
    token
        .strip_prefix(w)
        .is_some_and(|rest| rest.chars().next().is_none_or(char::is_alphanumeric))
}

/// The two words a several-word search drives by: the longest one of at least three
/// characters (a pair's head), and the longest other one. Words that are prefixes of other
/// words add nothing and are left out.
pub fn pair_words(words: &[String]) -> Option<(String, String)> {
    let distinct: Vec<&String> = words
        .iter()
        .filter(|w| !words.iter().any(|o| o != *w && o.starts_with(w.as_str())))
        .collect();
    // The longest, the first of equally long ones (the order the words were typed in).
    fn longest(words: Vec<&String>) -> Option<&String> {
        words.into_iter().fold(None, |best, w| match best {
            Some(b) if b.chars().count() >= w.chars().count() => Some(b),
            _ => Some(w),
        })
    }
    let first = longest(
        distinct
            .iter()
            .copied()
            .filter(|w| w.chars().count() >= keys::PAIR_PREFIX_CHARS)
            .collect(),
    )?;
    let second = longest(distinct.iter().copied().filter(|w| *w != first).collect())?;
    Some((first.clone(), second.clone()))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn pair_words_take_the_longest_words_that_add_something() {
        let w = |v: &[&str]| v.iter().map(|s| s.to_string()).collect::<Vec<_>>();
        assert_eq!(
            pair_words(&w(&["ada", "mul"])),
            Some(("ada".into(), "mul".into()))
        );
        assert_eq!(
            pair_words(&w(&["lovelace", "ad"])),
            Some(("lovelace".into(), "ad".into()))
        );
        assert_eq!(pair_words(&w(&["al", "tu"])), None);
        assert_eq!(
            pair_words(&w(&["ada", "adam"])),
            None,
            "ada adds nothing to adam"
        );
        assert_eq!(pair_words(&w(&["ada"])), None);
    }

    #[test]
    fn a_word_matches_the_first_word_of_a_token() {
        assert!(word_prefix("ada", "ada"));
        assert!(word_prefix("ada", "adams"));
        assert!(word_prefix("ada", "ada1"));
        assert!(!word_prefix("ada", "ada.lovelace@example.com"));
        assert!(!word_prefix("ada", "mada"));
        let ranges = word_ranges("ada");
        for token in ["ada", "adams", "ada1", "adaé"] {
            let sk = format!("{token}#id");
            assert!(ranges.iter().any(|r| r.holds(&sk)), "{token}");
        }
        assert!(!ranges.iter().any(|r| r.holds("ada.x@y.z#id")));
    }
}
