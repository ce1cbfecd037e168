//! What a resolved filter reads and accepts: the key ranges of the value entries it can be
//! answered from ([`TermRange`]), the exact check of a value, and the order of a sort.

use super::*;

/// A key range of the value entries' sort keys (`{term}#{record id}`).
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum TermRange {
    Prefix(String),
    /// Inclusive.
    Between(String, String),
}

/// Above every term.
const TOP: &str = "\u{10FFFF}";

impl TermRange {
    /// Whether the entry of `term` for `record` lies in the range.
    pub fn holds(&self, term: &str, record: Uuid) -> bool {
        let sk = format!("{term}#{record}");
        match self {
            Self::Prefix(p) => sk.starts_with(p.as_str()),
            Self::Between(lo, hi) => lo.as_str() <= sk.as_str() && sk.as_str() <= hi.as_str(),
        }
    }
}

impl From<&TermRange> for KeyRange {
    fn from(range: &TermRange) -> Self {
        match range {
            TermRange::Prefix(p) => KeyRange::Prefix(p.clone()),
            TermRange::Between(lo, hi) => KeyRange::Between(lo.clone(), hi.clone()),
        }
    }
}

/// The primary term of a value: the one an equality reads (a text's whole-value term).
fn primary_term(def: &FieldDefinition, value: &FieldValue) -> Option<String> {
    let terms = stored_terms(def, value);
    match def.kind() {
        FieldKind::Text
        | FieldKind::LongText
        | FieldKind::Email
        | FieldKind::Phone
        | FieldKind::Url => terms.into_iter().find(|t| t.starts_with("v:")),
        _ => terms.into_iter().next(),
    }
}

fn exact(term: String) -> TermRange {
    TermRange::Prefix(format!("{term}#"))
}

/// The whole term space of a field's values (text kinds: their whole-value terms).
fn all_values(kind: FieldKind) -> TermRange {
    match kind {
        FieldKind::Text
        | FieldKind::LongText
        | FieldKind::Email
        | FieldKind::Phone
        | FieldKind::Url => TermRange::Prefix("v:".into()),
        _ => TermRange::Between("!".into(), TOP.into()),
    }
}

impl FieldFilter {
    /// The entry ranges that hold every record the filter accepts, or `None` when no index
    /// does (the filter is then checked on each candidate's value).
    pub fn ranges(&self) -> Option<Vec<TermRange>> {
        let def = &self.def;
        let kind = def.kind();
        let term = |v: &FieldValue| primary_term(def, v);
        match &self.op {
            Op::Eq(v) => Some(vec![exact(term(v)?)]),
            Op::In(vs) => vs.iter().map(|v| term(v).map(exact)).collect(),
            Op::Lt(v) | Op::Lte(v) | Op::Gt(v) | Op::Gte(v) => {
                let t = term(v)?;
                let (space_lo, space_hi) = match v {
                    FieldValue::Currency(Money { currency, .. }) => {
                        (format!("{currency}:"), format!("{currency}:~"))
                    }
                    _ => ("!".to_string(), TOP.to_string()),
                };
                Some(vec![match &self.op {
                    Op::Lt(_) => TermRange::Between(space_lo, format!("{t}#")),
                    Op::Lte(_) => TermRange::Between(space_lo, format!("{t}#~")),
                    Op::Gt(_) => TermRange::Between(format!("{t}#~"), space_hi),
                    _ => TermRange::Between(format!("{t}#"), space_hi),
                }])
            }
            Op::Contains(Contains::Option(id)) => Some(vec![exact(id.clone())]),
            Op::Contains(Contains::Words(words)) if kind != FieldKind::LongText => {
                let longest = words.iter().max_by_key(|w| w.chars().count())?;
                Some(vec![
                    TermRange::Prefix(format!("w:{longest}")),
                    exact(OVERFLOW_TERM.to_string()),
                ])
            }
            Op::Empty(false) => Some(vec![all_values(kind)]),
            _ => None,
        }
    }

    /// How well the filter narrows a list when it drives it (higher: read it first).
    pub fn selectivity(&self) -> u8 {
        match &self.op {
            Op::Eq(_) | Op::Contains(Contains::Option(_)) => 4,
            Op::In(_) => 3,
            Op::Contains(_) => 2,
            Op::Lt(_) | Op::Lte(_) | Op::Gt(_) | Op::Gte(_) => 2,
            _ => 1,
        }
    }

    /// Whether a record whose value of this field is `value` passes.
    pub fn accepts(&self, value: Option<&FieldValue>) -> bool {
        match (&self.op, value) {
            (Op::Empty(empty), v) => v.is_none() == *empty,
            (Op::Ne(x), v) => v.is_none_or(|v| !equals(v, x)),
            (_, None) => false,
            (Op::Eq(x), Some(v)) => equals(v, x),
            (Op::In(xs), Some(v)) => xs.iter().any(|x| equals(v, x)),
            (Op::Lt(x), Some(v)) => compare(v, x) == Some(Ordering::Less),
            (Op::Lte(x), Some(v)) => {
                matches!(compare(v, x), Some(Ordering::Less | Ordering::Equal))
            }
            (Op::Gt(x), Some(v)) => compare(v, x) == Some(Ordering::Greater),
            (Op::Gte(x), Some(v)) => {
                matches!(compare(v, x), Some(Ordering::Greater | Ordering::Equal))
            }
            (Op::Contains(Contains::Option(id)), Some(FieldValue::MultiSelect(ids))) => {
                ids.contains(id)
            }
            (Op::Contains(Contains::Words(words)), Some(FieldValue::Text(t))) => {
                let tokens = match self.def.kind() {
                    FieldKind::Email => search_keys::email_tokens(t),
                    _ => all_words(t),
                };
                search_keys::matches_all(words, &tokens)
            }
            _ => false,
        }
    }
}

/// Every word of a text, folded and transliterated: unlike the index tokens, not capped, so
/// a long value's last words are checked too.
fn all_words(text: &str) -> Vec<String> {
    let mut words: Vec<String> = search_keys::fold(text)
        .split(' ')
        .chain(search_keys::transliterate_de(text).split(' '))
        .filter(|w| !w.is_empty())
        .map(str::to_string)
        .collect();
    words.sort();
    words.dedup();
    words
}

/// Equality as filters mean it (module comment).
fn equals(v: &FieldValue, x: &FieldValue) -> bool {
    match (v, x) {
        (FieldValue::Text(a), FieldValue::Text(b)) => {
            search_keys::fold(a) == search_keys::fold(b) || a.eq_ignore_ascii_case(b)
        }
        (FieldValue::MultiSelect(have), FieldValue::MultiSelect(want)) => {
            want.iter().all(|w| have.contains(w))
        }
        (FieldValue::MultiSelect(have), FieldValue::Select(w)) => have.contains(w),
        (FieldValue::Integer(a), FieldValue::Decimal(b))
        | (FieldValue::Decimal(b), FieldValue::Integer(a)) => {
            rust_decimal::Decimal::from(*a) == b.0
        }
        (FieldValue::Decimal(a), FieldValue::Decimal(b)) => a.0 == b.0,
        (FieldValue::Currency(a), FieldValue::Currency(b)) => {
            a.currency == b.currency && a.amount.0 == b.amount.0
        }
        _ => v == x,
    }
}

/// The order of two values of one ordered type; `None` across types or currencies.
fn compare(v: &FieldValue, x: &FieldValue) -> Option<Ordering> {
    use rust_decimal::Decimal;
    let number = |f: &FieldValue| match f {
        FieldValue::Integer(n) => Some(Decimal::from(*n)),
        FieldValue::Decimal(d) => Some(d.0),
        _ => None,
    };
    match (v, x) {
        (FieldValue::Currency(a), FieldValue::Currency(b)) if a.currency == b.currency => {
            Some(a.amount.0.cmp(&b.amount.0))
        }
        (FieldValue::Date(a), FieldValue::Date(b)) => Some(a.cmp(b)),
        (FieldValue::DateTime(a), FieldValue::DateTime(b)) => Some(a.cmp(b)),
        _ => Some(number(v)?.cmp(&number(x)?)),
    }
}

/// A sort by a custom field: `sort=cf.{key}`; records without a value follow those with one.
#[derive(Debug, Clone, PartialEq)]
pub struct FieldSort {
    pub def: FieldDefinition,
    pub descending: bool,
}

impl FieldSort {
    pub fn range(&self) -> TermRange {
        all_values(self.def.kind())
    }
}

/// Whether an entry of a (possibly multi-valued) record is the one the record is listed at:
/// the first of its terms, in the read order, that lies in one of the ranges read. A record
/// with several matching terms is returned once.
pub fn is_first_match(
    term: &str,
    record: Uuid,
    terms: &[String],
    ranges: &[TermRange],
    descending: bool,
) -> bool {
    let in_ranges = terms
        .iter()
        .filter(|t| ranges.iter().any(|r| r.holds(t, record)));
    let first = if descending {
        in_ranges.max()
    } else {
        in_ranges.min()
    };
    first.map(String::as_str) == Some(term)
}

/// The ranges of the filters on one field, intersected when they are single ranges (`100 ≤
/// score < 150` reads only that slice); else the ranges of the most selective one.
pub fn narrowest(filters: &[FieldFilter], key: &str) -> Option<Vec<TermRange>> {
    let on_field: Vec<Vec<TermRange>> = filters
        .iter()
        .filter(|f| f.def.key == key)
        .filter_map(FieldFilter::ranges)
        .collect();
    let between: Option<Vec<(&String, &String)>> = on_field
        .iter()
        .map(|r| match r.as_slice() {
            [TermRange::Between(lo, hi)] => Some((lo, hi)),
            _ => None,
        })
        .collect();
    match between {
        Some(b) if b.len() > 1 => {
            let lo = b.iter().map(|(lo, _)| *lo).max()?.clone();
            let hi = b.iter().map(|(_, hi)| *hi).min()?.clone();
            Some(vec![TermRange::Between(lo, hi)])
        }
        _ => filters
            .iter()
            .filter(|f| f.def.key == key)
            .filter_map(|f| f.ranges().map(|r| (f.selectivity(), r)))
            .max_by_key(|(s, _)| *s)
            .map(|(_, r)| r),
    }
}

/// The filters of a list, by field key, for the values of one record.
pub fn accepts_all(filters: &[FieldFilter], values: &BTreeMap<String, FieldValue>) -> bool {
    filters.iter().all(|f| f.accepts(values.get(&f.def.key)))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn s3_5_a_multi_valued_record_is_listed_once() {
        let id = crate::values::new_id();
        let terms = vec!["a".to_string(), "b".to_string(), "c".to_string()];
        let ranges = vec![exact("b".into()), exact("c".into())];
        assert!(is_first_match("b", id, &terms, &ranges, false));
        assert!(!is_first_match("c", id, &terms, &ranges, false));
        assert!(is_first_match("c", id, &terms, &ranges, true));
    }
}
