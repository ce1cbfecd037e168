//! The keys a contact or client search index stores (S1.3: prefix search on name, email and
//! company, case- and accent-insensitive: "mul", "MÜL" and "müller" all find "Müller").
//! Pure functions; property-tested below.
//!
//! A record is indexed under its [`tokens`] (names, company) and [`email_tokens`]; a search
//! text becomes one [`query_prefix`] to look up by prefix, and [`query_words`] that every hit
//! must match ([`matches_all`]).
//!
//! # Tokens in sort keys
//!
//! Every token is made of letters and digits only (Unicode, lower case), plus `@ . + - _` in
//! email tokens; so no token contains `#` or whitespace, and a sort key `{token}#{uuid}` splits
//! unambiguously at its first `#`. A token has at most [`MAX_TOKEN_CHARS`] characters (at most
//! 160 bytes of UTF-8); query words are cut to the same length, so truncation never stops a
//! prefix from matching.
//!
//! # German spellings
//!
//! A word with ä, ö or ü is indexed twice: folded ("muller") and transliterated ("mueller").
//! So "mul", "mül", "MÜL", "muller", "müller" and "mueller" all find "Müller". The reverse does
//! not hold: a record spelt "Mueller" has only the token "mueller", which "mül…"/"mul…" does
//! not find (guessing that "ue" stands for "ü" would make "Manuel" a "manül").

use unicode_normalization::UnicodeNormalization;
use unicode_normalization::char::{decompose_compatible, is_combining_mark};

/// The most characters a token (or query word) keeps; longer ones are cut.
pub const MAX_TOKEN_CHARS: usize = 40;
/// The most tokens one text (or one email) yields.
pub const MAX_TOKENS: usize = 16;

/// The characters an email keeps besides letters and digits.
const EMAIL_PUNCTUATION: &str = "@.+-_";

/// Case- and accent-folds a text for search: lower case, compatibility decomposition (NFKD)
/// without combining marks (é → e, ﬁ → fi, ① → 1), and ß → ss, æ → ae, œ → oe, ø → o, ł → l,
/// đ/ð → d, þ → th, ı → i, ħ → h, ŧ → t, ς → σ for letters that do not decompose. Letters and
/// digits of every script are kept (Cyrillic, Greek, CJK, Hangul syllables, …); anything else
/// separates words. The words come out separated by single spaces, without leading or
/// trailing space.
pub fn fold(s: &str) -> String {
    Folder::new(Mode::Words).fold(s)
}

/// Folds an email address (or the start of one) like [`fold`], keeping `@ . + - _` and
/// dropping everything else that is not a letter or digit, whitespace included:
/// "Ada.Lovelace+CRM@Example.COM" → "ada.lovelace+crm@example.com".
pub fn fold_email(s: &str) -> String {
    Folder::new(Mode::Email).fold(s)
}

/// The German transliteration, folded: ä → ae, ö → oe, ü → ue (and Ä, Ö, Ü) before
/// [`fold`], so "Müller" → "mueller".
pub fn transliterate_de(s: &str) -> String {
    let mut t = String::with_capacity(s.len() + 4);
    for c in s.nfc() {
        match c {
            'ä' => t.push_str("ae"),
            'ö' => t.push_str("oe"),
            'ü' => t.push_str("ue"),
            'Ä' => t.push_str("Ae"),
            'Ö' => t.push_str("Oe"),
            'Ü' => t.push_str("Ue"),
            c => t.push(c),
        }
    }
    fold(&t)
}

/// The index tokens of a text (a name, a company): its folded words, each followed by its
/// German transliteration when that differs; cut to [`MAX_TOKEN_CHARS`], without empty ones
/// or repeats, at most [`MAX_TOKENS`].
pub fn tokens(text: &str) -> Vec<String> {
    let folded = fold(text);
    let german = transliterate_de(text);
    let mut out = Vec::new();
    // Transliteration replaces letters with letters, so the words line up one to one.
    let mut german_words = german.split(' ');
    for word in folded.split(' ') {
        push_token(&mut out, word);
        if let Some(variant) = german_words.next() {
            push_token(&mut out, variant);
        }
    }
    for variant in german_words {
        push_token(&mut out, variant);
    }
    out
}

/// The index tokens of an email address: the whole folded address (so "ada@ex" finds it), its
/// local part, the local part's words (split at `.`, `_`, `-`, `+`) and its domain. Cut to
/// [`MAX_TOKEN_CHARS`], without empty ones or repeats, at most [`MAX_TOKENS`].
///
/// "ada.lovelace+crm@Example.COM" → `ada.lovelace+crm@example.com`, `ada.lovelace+crm`, `ada`,
/// `lovelace`, `crm`, `example.com`.
pub fn email_tokens(email: &str) -> Vec<String> {
    let whole = fold_email(email);
    let (local, domain) = match whole.rsplit_once('@') {
        Some((local, domain)) => (local, Some(domain)),
        None => (whole.as_str(), None),
    };
    let mut out = Vec::new();
    push_token(&mut out, &whole);
    push_token(&mut out, local);
    // Room is kept for the domain however many words the local part has.
    let room = MAX_TOKENS - usize::from(domain.is_some());
    for word in local.split(['.', '_', '-', '+']) {
        if out.len() < room {
            push_token(&mut out, word);
        }
    }
    if let Some(domain) = domain {
        push_token(&mut out, domain);
    }
    out
}

/// The words of a user's search text, folded as the index is: with an `@`, or a single word
/// with a dot inside (a domain such as `acme.ex`), the whole text is one word folded as an
/// email ([`fold_email`]); otherwise the words of [`fold`]. Cut to [`MAX_TOKEN_CHARS`], without
/// repeats. A hit must match all of them ([`matches_all`]).
pub fn query_words(q: &str) -> Vec<String> {
    let q = q.trim();
    let mut out = Vec::new();
    let domain_like = !q.contains(char::is_whitespace)
        && q.trim_matches('.').contains('.')
        && fold_email(q).contains('.');
    if q.contains('@') || domain_like {
        push_query_word(&mut out, &fold_email(q));
    } else {
        for word in fold(q).split(' ') {
            push_query_word(&mut out, word);
        }
    }
    out
}

/// The one prefix to look the search text up by: the longest of its [`query_words`] (the
/// first of equally long ones), the most selective; `None` when nothing searchable is left.
/// The caller checks the other words on the hits with [`matches_all`].
pub fn query_prefix(q: &str) -> Option<String> {
    query_words(q).into_iter().reduce(|best, w| {
        if w.chars().count() > best.chars().count() {
            w
        } else {
            best
        }
    })
}

/// Whether every query word is a prefix of one of the record's tokens. True for no words.
pub fn matches_all(words: &[String], haystack_tokens: &[String]) -> bool {
    words
        .iter()
        .all(|w| haystack_tokens.iter().any(|t| t.starts_with(w.as_str())))
}

fn truncate(word: &str) -> &str {
    match word.char_indices().nth(MAX_TOKEN_CHARS) {
        Some((end, _)) => &word[..end],
        None => word,
    }
}

fn push_token(out: &mut Vec<String>, word: &str) {
    if out.len() < MAX_TOKENS {
        push_query_word(out, word);
    }
}

fn push_query_word(out: &mut Vec<String>, word: &str) {
    let word = truncate(word);
    if !word.is_empty() && !out.iter().any(|t| t == word) {
        out.push(word.to_string());
    }
}

#[derive(Clone, Copy, PartialEq, Eq)]
enum Mode {
    /// Non-alphanumerics separate words.
    Words,
    /// `@ . + - _` are kept; other non-alphanumerics are dropped.
    Email,
}

struct Folder {
    mode: Mode,
    out: String,
    /// A separator is due before the next kept character.
    separator: bool,
}

impl Folder {
    fn new(mode: Mode) -> Self {
        Self {
            mode,
            out: String::new(),
            separator: false,
        }
    }

    fn fold(mut self, s: &str) -> String {
        // ASCII (most names, tags and addresses) needs no normalisation: each character is
        // kept lower-cased, or separates or is dropped, as below.
        if s.is_ascii() {
            for c in s.chars() {
                self.finish(c.to_ascii_lowercase());
            }
            return self.out;
        }
        self.fold_unicode(s)
    }

    fn fold_unicode(mut self, s: &str) -> String {
        for c in s.nfc() {
            self.push(c, 0);
        }
        // Compatibility jamo (ㄱ, ㅏ) decompose to conjoining ones: compose those into the
        // syllables Hangul text is written in. Nothing else composes once the marks are gone.
        self.out.nfc().collect()
    }

    /// Folds one character. `depth` bounds the re-folding of decompositions (which are final
    /// after one step in practice: a decomposed capital is lower-cased once more).
    fn push(&mut self, c: char, depth: u8) {
        for l in c.to_lowercase() {
            if let Some(replacement) = fold_letter(l) {
                replacement.chars().for_each(|r| self.keep(r));
            } else if is_hangul_syllable(l) {
                // NFKD would split a syllable into jamo; the syllable is the letter people type.
                self.keep(l);
            } else {
                decompose_compatible(l, |d| {
                    if d != l && depth < 3 {
                        self.push(d, depth + 1);
                    } else {
                        self.finish(d);
                    }
                });
            }
        }
    }

    /// A character that no longer decomposes: kept, dropped or a separator.
    fn finish(&mut self, c: char) {
        // Capitals without a lower case (U+1F150 🅐) are not kept as letters.
        let letter_or_digit = c.is_alphanumeric() && !c.is_uppercase();
        let email_punctuation = self.mode == Mode::Email && EMAIL_PUNCTUATION.contains(c);
        if is_combining_mark(c) {
            // é decomposed is e + U+0301: the mark goes, the word stays whole.
        } else if letter_or_digit || email_punctuation {
            self.keep(c);
        } else if self.mode == Mode::Words {
            self.separator = !self.out.is_empty();
        }
    }

    fn keep(&mut self, c: char) {
        if self.separator {
            self.out.push(' ');
            self.separator = false;
        }
        self.out.push(c);
    }
}

/// Letters that do not decompose but have a plain spelling (lower case in, as `fold` runs).
fn fold_letter(c: char) -> Option<&'static str> {
    Some(match c {
        'ß' => "ss",
        'æ' => "ae",
        'œ' => "oe",
        'ø' => "o",
        'ł' => "l",
        'đ' | 'ð' => "d",
        'þ' => "th",
        'ı' => "i",
        'ħ' => "h",
        'ŧ' => "t",
        // The final sigma: "ΟΔΥΣΣΕΥΣ" lower-cases letter by letter to "οδυσσευσ".
        'ς' => "σ",
        _ => return None,
    })
}

fn is_hangul_syllable(c: char) -> bool {
    ('\u{AC00}'..='\u{D7A3}').contains(&c)
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    fn strings(v: &[&str]) -> Vec<String> {
        v.iter().map(|s| s.to_string()).collect()
    }

    #[test]
    fn folding() {
        assert_eq!(fold("Müller"), "muller");
        assert_eq!(fold("  José   García-López "), "jose garcia lopez");
        assert_eq!(fold("Łukasz Ørsted"), "lukasz orsted");
        assert_eq!(fold("Straße"), "strasse");
        assert_eq!(fold("STRASSE"), "strasse");
        assert_eq!(fold("ẞ"), "ss");
        assert_eq!(
            fold("Æsir Œuvre Đorđe Þór Iıİ"),
            "aesir oeuvre dorde thor iii"
        );
        assert_eq!(fold("Ħal Ŧ"), "hal t");
        assert_eq!(fold("ﬁne ①② ℌ"), "fine 12 h");
        assert_eq!(fold("Ａｃｍｅ"), "acme");
        // Decomposed input folds as composed input does.
        assert_eq!(fold("Mu\u{308}ller"), "muller");
        // Other scripts keep their letters, lower-cased.
        assert_eq!(fold("Иванов ПЁТР"), "иванов петр");
        assert_eq!(fold("ΟΔΥΣΣΕΥΣ Ὀδυσσεύς"), "οδυσσευσ οδυσσευσ");
        assert_eq!(fold("株式会社 東京"), "株式会社 東京");
        assert_eq!(fold("삼성전자"), "삼성전자");
        assert_eq!(fold("ㄱㅏ"), "가");
        // Everything else separates.
        assert_eq!(fold("a#b  c@d.e/f_g'h"), "a b c d e f g h");
        assert_eq!(fold("#!? "), "");
    }

    #[test]
    fn german_variant() {
        assert_eq!(transliterate_de("Müller"), "mueller");
        assert_eq!(
            transliterate_de("MÜLLER Öztürk Ärger"),
            "mueller oeztuerk aerger"
        );
        assert_eq!(transliterate_de("Mu\u{308}ller"), "mueller");
        assert_eq!(transliterate_de("Straße"), "strasse");
    }

    #[test]
    fn muller_is_found_every_way() {
        let t = tokens("Müller");
        assert_eq!(t, strings(&["muller", "mueller"]));
        for q in [
            "mul", "MÜL", "müller", "mueller", "Mü", "m", "MUELL", "muller",
        ] {
            let p = query_prefix(q).unwrap();
            assert!(t.iter().any(|tok| tok.starts_with(&p)), "{q}");
            assert!(matches_all(&query_words(q), &t), "{q}");
        }
        for q in ["mulx", "müllerin", "möller"] {
            assert!(!matches_all(&query_words(q), &t), "{q}");
        }
        // The reverse is not guessed: "Mueller" is found by "mue…" only.
        let t = tokens("Mueller");
        assert_eq!(t, strings(&["mueller"]));
        assert!(!matches_all(&query_words("Mül"), &t));
        assert!(matches_all(&query_words("Müe"), &t));
        assert!(matches_all(&query_words("muell"), &t));
    }

    #[test]
    fn name_tokens() {
        assert_eq!(tokens("Łukasz Ørsted"), strings(&["lukasz", "orsted"]));
        assert_eq!(
            tokens("José García-López"),
            strings(&["jose", "garcia", "lopez"])
        );
        assert_eq!(
            tokens("Jörg Müller-Lüdenscheidt GmbH"),
            strings(&[
                "jorg",
                "joerg",
                "muller",
                "mueller",
                "ludenscheidt",
                "luedenscheidt",
                "gmbh"
            ])
        );
        assert_eq!(tokens("ACME acme Acme"), strings(&["acme"]));
        assert_eq!(tokens("  "), Vec::<String>::new());
        assert_eq!(
            tokens("#1 Müller & Co."),
            strings(&["1", "muller", "mueller", "co"])
        );
        let long = "a".repeat(100);
        assert_eq!(tokens(&long), vec!["a".repeat(MAX_TOKEN_CHARS)]);
        let many = (0..30)
            .map(|i| format!("w{i}"))
            .collect::<Vec<_>>()
            .join(" ");
        let t = tokens(&many);
        assert_eq!(t.len(), MAX_TOKENS);
        assert_eq!(t[0], "w0");
    }

    #[test]
    fn queries() {
        assert_eq!(query_prefix("  Ada   LOVELACE "), Some("lovelace".into()));
        assert_eq!(
            query_words("  Ada   LOVELACE "),
            strings(&["ada", "lovelace"])
        );
        assert_eq!(query_prefix("Ada Bob"), Some("ada".into()));
        assert_eq!(query_prefix(" - # "), None);
        assert_eq!(query_prefix(""), None);
        assert_eq!(query_words("#"), Vec::<String>::new());
        assert_eq!(query_prefix("Ada@EX"), Some("ada@ex".into()));
        assert_eq!(
            query_words(" Ada.Lovelace@Example.com "),
            strings(&["ada.lovelace@example.com"])
        );
        assert_eq!(query_prefix("@"), Some("@".into()));
        let t = tokens("Ada Lovelace");
        assert!(matches_all(&query_words("love ad"), &t));
        assert!(!matches_all(&query_words("love bob"), &t));
        assert!(matches_all(&[], &t));
        let long = format!("{}xyz", "a".repeat(MAX_TOKEN_CHARS));
        assert!(matches_all(&query_words(&long), &tokens(&long)));
    }

    #[test]
    fn email_keys() {
        assert_eq!(
            email_tokens("ada.lovelace+crm@Example.COM"),
            strings(&[
                "ada.lovelace+crm@example.com",
                "ada.lovelace+crm",
                "ada",
                "lovelace",
                "crm",
                "example.com"
            ])
        );
        assert_eq!(
            email_tokens("ada@x.de"),
            strings(&["ada@x.de", "ada", "x.de"])
        );
        assert_eq!(
            email_tokens("Jürgen@Beispiel.de"),
            strings(&["jurgen@beispiel.de", "jurgen", "beispiel.de"])
        );
        assert_eq!(
            email_tokens("first_last-x@a.b"),
            strings(&[
                "first_last-x@a.b",
                "first_last-x",
                "first",
                "last",
                "x",
                "a.b"
            ])
        );
        let t = email_tokens("ada.lovelace+crm@Example.COM");
        for q in [
            "ada.lovelace+crm@",
            "ada.love",
            "Ada.Lovelace+CRM@exa",
            "lovel",
            "crm",
            "example.c",
            "ada lovelace",
        ] {
            assert!(matches_all(&query_words(q), &t), "{q}");
        }
        assert!(!matches_all(&query_words("ada@other"), &t));
        assert!(matches_all(
            &query_words("ada@ex"),
            &email_tokens("ada@example.com")
        ));
        assert_eq!(email_tokens(""), Vec::<String>::new());
        let many = (0..30)
            .map(|i| format!("w{i}"))
            .collect::<Vec<_>>()
            .join(".");
        let t = email_tokens(&format!("{many}@example.com"));
        assert_eq!(t.len(), MAX_TOKENS);
        assert_eq!(t.last().map(String::as_str), Some("example.com"));
    }

    fn word_of_letters() -> impl Strategy<Value = String> {
        prop_oneof![
            "[a-zA-ZäöüÄÖÜßéèêçñáíóúàøØłŁæÆœŒđĐþÞıİ]{1,60}",
            "\\p{L}{1,50}",
        ]
    }

    fn no_forbidden_chars(t: &str) -> bool {
        !t.is_empty() && !t.contains('#') && !t.chars().any(char::is_whitespace)
    }

    proptest! {
        #![proptest_config(ProptestConfig::with_cases(512))]

        // The ASCII shortcut folds as the whole Unicode path does, in both modes.
        #[test]
        fn ascii_shortcut_folds_as_the_unicode_path(s in "[ -~\t\n]{0,40}") {
            prop_assert_eq!(fold(&s), Folder::new(Mode::Words).fold_unicode(&s));
            prop_assert_eq!(fold_email(&s), Folder::new(Mode::Email).fold_unicode(&s));
        }

        #[test]
        fn fold_is_idempotent(s in "\\PC{0,60}") {
            let f = fold(&s);
            prop_assert_eq!(fold(&f), f.clone());
            prop_assert_eq!(fold_email(&fold_email(&s)), fold_email(&s));
            prop_assert_eq!(fold(&transliterate_de(&s)), transliterate_de(&s));
        }

        #[test]
        fn fold_has_no_capitals_or_marks(s in "\\PC{0,60}") {
            for f in [fold(&s), fold_email(&s), transliterate_de(&s)] {
                prop_assert!(!f.chars().any(|c| c.is_uppercase() || is_combining_mark(c)), "{f:?}");
                prop_assert_eq!(f.trim(), f.as_str());
                prop_assert!(!f.contains("  "));
            }
        }

        // A word is indexed as its folded form, and every prefix of that finds it.
        #[test]
        fn every_prefix_of_a_word_finds_it(w in word_of_letters()) {
            let t = tokens(&w);
            let folded = fold(&w);
            // Letters that fold to separators (rare) could make more words than are indexed.
            prop_assume!(folded.split(' ').count() * 2 <= MAX_TOKENS);
            for word in folded.split(' ').filter(|w| !w.is_empty()) {
                let token = truncate(word);
                prop_assert!(t.iter().any(|x| x == token), "{token} not in {t:?}");
                for (end, _) in token.char_indices().skip(1).chain([(token.len(), ' ')]) {
                    let prefix = token[..end].to_string();
                    prop_assert!(matches_all(std::slice::from_ref(&prefix), &t), "{prefix}");
                    prop_assert!(matches_all(&query_words(&prefix), &t), "{prefix}");
                }
            }
        }

        // What a user types, cut anywhere, finds the word: "M", "Mü", "Mül", …
        #[test]
        fn every_typed_prefix_finds_the_word(w in "[a-zA-ZäöüÄÖÜßéèçñøØłŁæœđþ]{1,50}") {
            let t = tokens(&w);
            for (end, _) in w.char_indices().skip(1).chain([(w.len(), ' ')]) {
                let typed = &w[..end];
                let words = query_words(typed);
                prop_assert!(matches_all(&words, &t), "{typed} -> {words:?} in {t:?}");
                let p = query_prefix(typed).unwrap();
                prop_assert!(t.iter().any(|x| x.starts_with(&p)));
            }
        }

        #[test]
        fn tokens_fit_in_a_sort_key(s in "\\PC{0,80}", email in "[a-zA-Z0-9.+_#-]{1,30}@[a-zA-Z0-9.#-]{1,30}") {
            let all = tokens(&s).into_iter().chain(email_tokens(&email)).chain(email_tokens(&s));
            for t in all {
                prop_assert!(no_forbidden_chars(&t), "{t:?}");
                prop_assert!(t.chars().count() <= MAX_TOKEN_CHARS);
            }
            prop_assert!(tokens(&s).len() <= MAX_TOKENS);
            for q in query_words(&s) {
                prop_assert!(no_forbidden_chars(&q), "{q:?}");
            }
        }
    }
}
