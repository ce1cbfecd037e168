//! Emulation of Lambda's event filtering (`FilterCriteria` of an event source mapping): the
//! subset of the event pattern syntax the template uses. A pattern is a JSON object whose keys
//! name fields of the record, nested as in the record; a leaf is an array of values, and the
//! record's field matches when it equals one of them (or, when the field is an array, when one
//! of its elements does). `"$or": [pattern, ...]` matches when any alternative does. Every key of
//! a pattern must match. Other operators (`prefix`, `anything-but`, `numeric`, `exists`, ...)
//! are refused when the pattern is read, so a template that starts using them fails loudly here
//! instead of filtering otherwise than Lambda.

use serde_json::{Map, Value};

#[derive(Debug, Clone, PartialEq)]
pub struct EventPattern {
    root: Node,
}

#[derive(Debug, Clone, PartialEq)]
enum Node {
    /// Every field must match; then, if there are alternatives, one of them.
    Fields {
        fields: Vec<(String, Node)>,
        or: Vec<Node>,
    },
    /// The field equals one of these values.
    Equals(Vec<Value>),
}

impl EventPattern {
    pub fn parse(pattern: &str) -> Result<Self, String> {
        let value: Value =
            serde_json::from_str(pattern).map_err(|e| format!("filter pattern {pattern}: {e}"))?;
        let root = node(&value).map_err(|e| format!("filter pattern {pattern}: {e}"))?;
        match root {
            Node::Fields { .. } => Ok(Self { root }),
            Node::Equals(_) => Err(format!("filter pattern {pattern}: not an object")),
        }
    }

    /// Whether `record` (the record as the function receives it) matches.
    pub fn matches(&self, record: &Value) -> bool {
        matches(&self.root, Some(record))
    }
}

/// Lambda's rule for a mapping's filters: a record is delivered when it matches any pattern
/// (every record when there is none).
pub fn matches_any(patterns: &[EventPattern], record: &Value) -> bool {
    patterns.is_empty() || patterns.iter().any(|p| p.matches(record))
}

fn node(value: &Value) -> Result<Node, String> {
    match value {
        Value::Object(map) => fields(map),
        Value::Array(values) => {
            if let Some(operator) = values.iter().find(|v| v.is_object() || v.is_array()) {
                return Err(format!(
                    "unsupported matcher {operator} (only exact values are emulated)"
                ));
            }
            Ok(Node::Equals(values.clone()))
        }
        other => Err(format!(
            "{other} is neither an object nor an array of values"
        )),
    }
}

fn fields(map: &Map<String, Value>) -> Result<Node, String> {
    let mut fields = Vec::new();
    let mut or = Vec::new();
    for (key, value) in map {
        if key == "$or" {
            let alternatives = value
                .as_array()
                .filter(|a| a.len() >= 2)
                .ok_or("$or needs an array of at least two patterns")?;
            for alternative in alternatives {
                match node(alternative)? {
                    n @ Node::Fields { .. } => or.push(n),
                    Node::Equals(_) => return Err("an alternative of $or must be an object".into()),
                }
            }
        } else {
            fields.push((key.clone(), node(value)?));
        }
    }
    if fields.is_empty() && or.is_empty() {
        return Err("an empty pattern".into());
    }
    Ok(Node::Fields { fields, or })
}

fn matches(node: &Node, value: Option<&Value>) -> bool {
    match node {
        Node::Equals(accepted) => match value {
            Some(Value::Array(elements)) => elements.iter().any(|e| accepted.contains(e)),
            Some(v) => accepted.contains(v),
            None => false,
        },
        Node::Fields { fields, or } => {
            let Some(Value::Object(object)) = value else {
                return false;
            };
            fields.iter().all(|(key, n)| matches(n, object.get(key)))
                && (or.is_empty() || or.iter().any(|n| matches(n, value)))
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn record(new: Option<&str>, old: Option<&str>) -> Value {
        let image = |entity: &str| json!({"PK": {"S": "T#a#X"}, "entity": {"S": entity}});
        let mut dynamodb = json!({"Keys": {"PK": {"S": "T#a#X"}}});
        if let Some(e) = new {
            dynamodb["NewImage"] = image(e);
        }
        if let Some(e) = old {
            dynamodb["OldImage"] = image(e);
        }
        json!({"eventName": "INSERT", "dynamodb": dynamodb})
    }

    #[test]
    fn the_templates_patterns_pass_contacts_deals_and_activities_only() {
        let template = crate::template::Template::load(
            &std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("../../template.yaml"),
        )
        .unwrap();
        let trigger = template
            .dynamodb_triggers()
            .into_iter()
            .find(|t| t.binary == "workflow-triggers")
            .expect("workflow-triggers has a DynamoDB event");
        let patterns: Vec<EventPattern> = trigger
            .filter_patterns
            .iter()
            .map(|p| EventPattern::parse(p).unwrap())
            .collect();
        assert_eq!(patterns.len(), 2);
        for entity in ["contact", "deal", "activity"] {
            assert!(
                matches_any(&patterns, &record(Some(entity), None)),
                "created {entity}"
            );
            assert!(matches_any(&patterns, &record(Some(entity), Some(entity))));
            assert!(
                matches_any(&patterns, &record(None, Some(entity))),
                "removed {entity}"
            );
        }
        for entity in ["contact_audit", "audit", "claim", "Contact", "workflow_run"] {
            assert!(
                !matches_any(&patterns, &record(Some(entity), Some(entity))),
                "{entity}"
            );
        }
        // An item that stops being a contact is still seen (its old image matches).
        assert!(matches_any(
            &patterns,
            &record(Some("contact_tombstone"), Some("contact"))
        ));
    }

    #[test]
    fn exact_values_nested_keys_arrays_and_or() {
        let p = EventPattern::parse(
            r#"{"a": {"b": ["x", 1, true, null]}, "$or": [{"c": ["y"]}, {"d": {"e": ["z"]}}]}"#,
        )
        .unwrap();
        assert!(p.matches(&json!({"a": {"b": "x"}, "c": "y"})));
        assert!(p.matches(&json!({"a": {"b": 1}, "d": {"e": "z"}})));
        assert!(p.matches(&json!({"a": {"b": true}, "c": ["q", "y"]})));
        assert!(p.matches(&json!({"a": {"b": null}, "c": "y"})));
        assert!(!p.matches(&json!({"a": {"b": "x"}})), "no alternative");
        assert!(!p.matches(&json!({"a": {"b": "w"}, "c": "y"})));
        assert!(!p.matches(&json!({"a": "x", "c": "y"})), "not nested");
        assert!(!p.matches(&json!({"c": "y"})), "a missing key");
        assert!(
            !p.matches(&json!({"a": {"b": "1"}, "c": "y"})),
            "1 is not \"1\""
        );
        assert!(matches_any(&[], &json!({})), "no filter: every record");
    }

    #[test]
    fn unsupported_patterns_are_refused() {
        for bad in [
            r#"{"a": [{"prefix": "x"}]}"#,
            r#"{"a": [{"anything-but": ["x"]}]}"#,
            r#"{"a": "x"}"#,
            r#"["x"]"#,
            r#"{}"#,
            r#"{"$or": [{"a": ["x"]}]}"#,
            "not json",
        ] {
            assert!(EventPattern::parse(bad).is_err(), "{bad}");
        }
    }
}
