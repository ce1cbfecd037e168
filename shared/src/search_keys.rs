//! STUB (replaced by the search-keys branch): folded search keys.

pub fn fold(s: &str) -> String {
    s.to_lowercase()
        .chars()
        .map(|c| if c.is_alphanumeric() { c } else { ' ' })
        .collect::<String>()
        .split_whitespace()
        .collect::<Vec<_>>()
        .join(" ")
}

pub fn tokens(text: &str) -> Vec<String> {
    let mut t: Vec<String> = fold(text).split(' ').filter(|s| !s.is_empty()).map(str::to_string).collect();
    t.dedup();
    t
}

pub fn email_tokens(email: &str) -> Vec<String> {
    let e = email.to_lowercase();
    let mut t = vec![e.clone()];
    if let Some((local, domain)) = e.split_once('@') {
        t.push(local.to_string());
        t.extend(tokens(local));
        t.push(domain.to_string());
    }
    t.sort();
    t.dedup();
    t
}

pub fn query_prefix(q: &str) -> Option<String> {
    if q.contains('@') {
        return Some(q.trim().to_lowercase());
    }
    query_words(q).into_iter().max_by_key(|w| w.len())
}

pub fn query_words(q: &str) -> Vec<String> {
    tokens(q)
}

pub fn matches_all(words: &[String], haystack_tokens: &[String]) -> bool {
    words.iter().all(|w| haystack_tokens.iter().any(|t| t.starts_with(w.as_str())))
}
