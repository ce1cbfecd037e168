//! Free text as the CRM keeps it: trimmed, inner whitespace collapsed, no control characters,
//! at most a given number of characters. Pure; property-tested below.

/// Why a text value was refused.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum TextRule {
    MaxLength,
    NoControlCharacters,
}

impl TextRule {
    pub fn code(self) -> &'static str {
        match self {
            Self::MaxLength => "max_length",
            Self::NoControlCharacters => "no_control_characters",
        }
    }

    pub fn message(self, max: usize) -> String {
        match self {
            Self::MaxLength => format!("must be at most {max} characters"),
            Self::NoControlCharacters => "must not contain control characters".into(),
        }
    }
}

/// Trims and collapses inner whitespace; empty becomes `None`.
pub fn normalize_text(raw: &str, max_chars: usize) -> Result<Option<String>, TextRule> {
    if raw.chars().any(|c| c.is_control() && !c.is_whitespace()) {
        return Err(TextRule::NoControlCharacters);
    }
    // Most text is already tidy: single spaces between words, none around them.
    let tidy = !raw.starts_with(' ')
        && !raw.ends_with(' ')
        && !raw.contains("  ")
        && !raw.chars().any(|c| c.is_whitespace() && c != ' ');
    let collapsed = if tidy {
        raw.to_string()
    } else {
        raw.split_whitespace().collect::<Vec<_>>().join(" ")
    };
    if collapsed.chars().count() > max_chars {
        return Err(TextRule::MaxLength);
    }
    Ok(if collapsed.is_empty() {
        None
    } else {
        Some(collapsed)
    })
}

impl TextRule {
    /// The refusal as an [`super::Invalid`], for a limit of `max` characters.
    pub fn invalid(self, max: usize) -> super::Invalid {
        super::Invalid::new(self.code(), self.message(max))
    }
}

/// [`normalize_text`] with the refusal as an [`super::Invalid`].
pub fn text(raw: &str, max_chars: usize) -> Result<Option<String>, super::Invalid> {
    normalize_text(raw, max_chars).map_err(|rule| rule.invalid(max_chars))
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    #[test]
    fn text() {
        assert_eq!(
            normalize_text("  Ada \t  Lovelace ", 100),
            Ok(Some("Ada Lovelace".into()))
        );
        assert_eq!(normalize_text("   ", 100), Ok(None));
        assert_eq!(normalize_text("abc", 2), Err(TextRule::MaxLength));
        assert_eq!(
            normalize_text("a\u{7}", 10),
            Err(TextRule::NoControlCharacters)
        );
    }

    proptest! {
        // Tidy text (the shortcut) comes out as the collapsing path makes it.
        #[test]
        fn tidy_text_is_kept_as_collapsing_would(raw in "[ a-zA-Zä\u{a0}\t]{0,30}") {
            let collapsed = raw.split_whitespace().collect::<Vec<_>>().join(" ");
            let expected = (!collapsed.is_empty()).then_some(collapsed);
            prop_assert_eq!(normalize_text(&raw, 100), Ok(expected));
        }

        // Normalised text has no leading/trailing or doubled whitespace and is a fixed point.
        #[test]
        fn text_normalisation_is_idempotent(raw in "[ a-zA-ZäöüÄÖÜß\t]{0,60}") {
            if let Ok(Some(t)) = normalize_text(&raw, 100) {
                prop_assert_eq!(t.trim(), t.as_str());
                prop_assert!(!t.contains("  "));
                prop_assert_eq!(normalize_text(&t, 100), Ok(Some(t.clone())));
            }
        }

        #[test]
        fn normalised_text_is_never_longer_than_its_limit(raw in "\\PC{0,80}", max in 0usize..40) {
            if let Ok(Some(t)) = normalize_text(&raw, max) {
                prop_assert!(t.chars().count() <= max);
                prop_assert!(!t.chars().any(|c| c.is_control()));
            }
        }
    }
}
