//! The one merge renderer (S6.4, S7.2): `{{field}}` placeholders in a subject, a text part and
//! an HTML part, filled from a contact, its custom fields, its owner and the tenant. Messages
//! (`POST /contacts/{id}/messages`), email templates and workflow `send_email` steps all render
//! through it.
//!
//! - `{{first_name}}`, `{{last_name}}`, `{{display_name}}`, `{{email}}`, `{{company}}`,
//!   `{{job_title}}`, `{{phone}}`: the contact's fields;
//! - `{{cf.<key>}}`: a contact custom field (by its key);
//! - `{{owner.name}}`: the contact owner's name in the directory;
//! - `{{tenant.name}}`: the tenant's display name.
//!
//! Spaces inside the braces are ignored (`{{ first_name }}`); a `{{` without a closing `}}` is
//! text. A field that does not exist is a 422 naming the part it is in, when a template or body
//! is saved and again when it is sent (a custom field may have been removed meanwhile). A known
//! field without a value renders as nothing. In the HTML part every merge value is
//! HTML-escaped; the template's own markup is kept as written. A message without an HTML part
//! gets one made from its text (escaped, line breaks as `<br>`).

use crate::FieldError;
use crate::errors::FieldErrors;

/// The contact fields a template may name.
pub const CONTACT_FIELDS: &[&str] = &[
    "first_name",
    "last_name",
    "display_name",
    "email",
    "company",
    "job_title",
    "phone",
];
pub const OWNER_NAME: &str = "owner.name";
pub const TENANT_NAME: &str = "tenant.name";
pub const CUSTOM_PREFIX: &str = "cf.";

/// One piece of a template.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Segment<'a> {
    Text(&'a str),
    /// A placeholder's name, trimmed.
    Field(&'a str),
}

/// A template split into text and placeholders.
pub fn segments(template: &str) -> Vec<Segment<'_>> {
    let mut out = Vec::new();
    let mut rest = template;
    while let Some(start) = rest.find("{{") {
        let after = &rest[start + 2..];
        let Some(end) = after.find("}}") else { break };
        if start > 0 {
            out.push(Segment::Text(&rest[..start]));
        }
        out.push(Segment::Field(after[..end].trim()));
        rest = &after[end + 2..];
    }
    if !rest.is_empty() {
        out.push(Segment::Text(rest));
    }
    out
}

/// The names a template uses, in order, with repeats.
pub fn field_names(template: &str) -> Vec<&str> {
    segments(template)
        .into_iter()
        .filter_map(|s| match s {
            Segment::Field(name) => Some(name),
            Segment::Text(_) => None,
        })
        .collect()
}

/// What a merge field name means.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum MergeField<'a> {
    Contact(&'a str),
    Custom(&'a str),
    OwnerName,
    TenantName,
}

/// The meaning of `name`; `None` for a name no template may use.
pub fn classify(name: &str) -> Option<MergeField<'_>> {
    if CONTACT_FIELDS.contains(&name) {
        return Some(MergeField::Contact(name));
    }
    match name {
        OWNER_NAME => return Some(MergeField::OwnerName),
        TENANT_NAME => return Some(MergeField::TenantName),
        _ => {}
    }
    name.strip_prefix(CUSTOM_PREFIX)
        .filter(|key| crate::values::ids::is_valid_key(key))
        .map(MergeField::Custom)
}

/// Every unknown merge field of `template`, reported on `field`. `custom_exists` answers
/// whether a contact custom field of that key is defined.
pub fn check_fields(
    errors: &mut FieldErrors,
    field: &str,
    template: &str,
    custom_exists: &dyn Fn(&str) -> bool,
) {
    let mut seen: Vec<&str> = Vec::new();
    for name in field_names(template) {
        if seen.contains(&name) {
            continue;
        }
        seen.push(name);
        let known = match classify(name) {
            Some(MergeField::Custom(key)) => custom_exists(key),
            Some(_) => true,
            None => false,
        };
        if !known {
            errors.push(
                field,
                "merge_field",
                format!(
                    "unknown merge field {{{{{name}}}}}; known: {}, {OWNER_NAME}, {TENANT_NAME} \
                     and {CUSTOM_PREFIX}<key> of a contact custom field",
                    CONTACT_FIELDS.join(", ")
                ),
            );
        }
    }
}

/// A message to render: a subject, a text part, optionally an HTML part.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct MailTemplate {
    pub subject: String,
    pub text: String,
    pub html: Option<String>,
}

/// A rendered message.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Rendered {
    pub subject: String,
    pub text: String,
    pub html: String,
}

impl MailTemplate {
    /// Every unknown merge field, each named by the part it is in (`subject`, `text`, `html`).
    pub fn check(&self, custom_exists: &dyn Fn(&str) -> bool) -> Vec<FieldError> {
        let mut errors = FieldErrors::new();
        check_fields(&mut errors, "subject", &self.subject, custom_exists);
        check_fields(&mut errors, "text", &self.text, custom_exists);
        if let Some(html) = &self.html {
            check_fields(&mut errors, "html", html, custom_exists);
        }
        errors.into_vec()
    }

    /// Renders every part. `lookup` gives a field's value: `None` for a field that does not
    /// exist (an error naming the part), `Some("")` for one without a value.
    pub fn render(
        &self,
        lookup: &dyn Fn(&str) -> Option<String>,
    ) -> Result<Rendered, Vec<FieldError>> {
        let mut errors = FieldErrors::new();
        let subject = render_part(&mut errors, "subject", &self.subject, lookup, false, false);
        let text = render_part(&mut errors, "text", &self.text, lookup, false, false);
        let html = match &self.html {
            Some(html) => render_part(&mut errors, "html", html, lookup, true, false),
            None => render_part(&mut errors, "text", &self.text, lookup, true, true),
        };
        let html = if self.html.is_some() {
            html
        } else {
            format!("<!DOCTYPE html><html><body><p>{html}</p></body></html>")
        };
        errors.finish(Rendered {
            subject,
            text,
            html,
        })
    }
}

fn render_part(
    errors: &mut FieldErrors,
    field: &str,
    template: &str,
    lookup: &dyn Fn(&str) -> Option<String>,
    html: bool,
    escape_text: bool,
) -> String {
    let mut out = String::with_capacity(template.len());
    let mut reported: Vec<&str> = Vec::new();
    for segment in segments(template) {
        match segment {
            Segment::Text(t) if escape_text => out.push_str(&text_to_html(t)),
            Segment::Text(t) => out.push_str(t),
            Segment::Field(name) => match lookup(name) {
                Some(value) if html && escape_text => out.push_str(&text_to_html(&value)),
                Some(value) if html => out.push_str(&escape_html(&value)),
                Some(value) => out.push_str(&value),
                None => {
                    if !reported.contains(&name) && !errors.iter().any(|e| e.field == field) {
                        reported.push(name);
                        errors.push(
                            field,
                            "merge_field",
                            format!("unknown merge field {{{{{name}}}}}"),
                        );
                    }
                }
            },
        }
    }
    out
}

/// Text as HTML: escaped, line breaks as `<br>`.
pub fn text_to_html(text: &str) -> String {
    escape_html(text)
        .replace("\r\n", "\n")
        .replace('\n', "<br>\n")
}

/// HTML-escapes `&`, `<`, `>`, `"` and `'`.
pub fn escape_html(value: &str) -> String {
    let mut out = String::with_capacity(value.len());
    for c in value.chars() {
        match c {
            '&' => out.push_str("&amp;"),
            '<' => out.push_str("&lt;"),
            '>' => out.push_str("&gt;"),
            '"' => out.push_str("&quot;"),
            '\'' => out.push_str("&#39;"),
            c => out.push(c),
        }
    }
    out
}

/// Renders one string with `lookup`, an unknown field as nothing (for callers that checked the
/// template when it was saved).
pub fn render_lenient(template: &str, lookup: &dyn Fn(&str) -> Option<String>) -> String {
    let mut out = String::with_capacity(template.len());
    for segment in segments(template) {
        match segment {
            Segment::Text(t) => out.push_str(t),
            Segment::Field(name) => out.push_str(&lookup(name).unwrap_or_default()),
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    fn lookup(name: &str) -> Option<String> {
        match name {
            "first_name" => Some("Ada".into()),
            "company" => Some("<b>ACME</b> & Co".into()),
            "cf.tier" => Some("gold".into()),
            "owner.name" => Some("Bob".into()),
            "tenant.name" => Some("Acme GmbH".into()),
            "last_name" => Some(String::new()),
            _ => None,
        }
    }

    fn template(subject: &str, text: &str, html: Option<&str>) -> MailTemplate {
        MailTemplate {
            subject: subject.into(),
            text: text.into(),
            html: html.map(str::to_string),
        }
    }

    #[test]
    fn s6_4_fields_render_in_every_part_and_html_values_are_escaped() {
        let t = template(
            "Hi {{ first_name }}{{last_name}}",
            "{{company}} / {{cf.tier}} / {{owner.name}} / {{tenant.name}}",
            Some("<p>{{company}}</p>"),
        );
        let r = t.render(&lookup).unwrap();
        assert_eq!(r.subject, "Hi Ada");
        assert_eq!(r.text, "<b>ACME</b> & Co / gold / Bob / Acme GmbH");
        assert_eq!(r.html, "<p>&lt;b&gt;ACME&lt;/b&gt; &amp; Co</p>");
    }

    #[test]
    fn s6_4_without_an_html_part_one_is_made_from_the_text() {
        let r = template("s", "a < b\n{{company}}", None)
            .render(&lookup)
            .unwrap();
        assert!(r.html.contains("a &lt; b<br>\n&lt;b&gt;ACME"), "{}", r.html);
    }

    #[test]
    fn s6_4_unknown_fields_are_named_by_their_part() {
        let t = template(
            "{{nope}}",
            "{{cf.missing}} {{cf.tier}}",
            Some("{{owner.email}}"),
        );
        let errs = t.check(&|key| key == "tier");
        let got: Vec<_> = errs
            .iter()
            .map(|e| (e.field.as_str(), e.rule.as_str()))
            .collect();
        assert_eq!(
            got,
            vec![
                ("subject", "merge_field"),
                ("text", "merge_field"),
                ("html", "merge_field")
            ]
        );
        assert!(errs[1].message.contains("{{cf.missing}}"));
        let rendered = t.render(&lookup).unwrap_err();
        assert_eq!(rendered.len(), 3);
    }

    #[test]
    fn unterminated_braces_are_text() {
        assert_eq!(
            segments("a {{b"),
            vec![Segment::Text("a {{b")],
            "an unclosed placeholder stays as it is"
        );
        assert_eq!(field_names("{{a}} {{ b }} {{c"), vec!["a", "b"]);
    }

    proptest! {
        // Text without braces renders to itself in subject and text.
        #[test]
        fn text_without_placeholders_is_unchanged(t in "[^{}]{0,200}") {
            let r = template(&t, &t, None).render(&lookup).unwrap();
            prop_assert_eq!(&r.subject, &t);
            prop_assert_eq!(&r.text, &t);
        }

        // Whatever a value holds, the HTML part never gets markup from it.
        #[test]
        fn html_values_never_add_markup(value in "\\PC{0,80}") {
            let v = value.clone();
            let r = template("s", "t", Some("<p>{{first_name}}</p>"))
                .render(&move |_| Some(v.clone()))
                .unwrap();
            let inner = &r.html[3..r.html.len() - 4];
            prop_assert!(!inner.contains('<') && !inner.contains('>') && !inner.contains('"'));
            prop_assert_eq!(
                inner.replace("&lt;", "<").replace("&gt;", ">").replace("&quot;", "\"")
                    .replace("&#39;", "'").replace("&amp;", "&"),
                value
            );
        }

        // Every placeholder is either rendered or reported; rendering never panics.
        #[test]
        fn placeholders_render_or_are_reported(t in "[a-z {}.]{0,80}") {
            let tpl = template(&t, "x", None);
            let known = field_names(&t).iter().all(|n| lookup(n).is_some());
            prop_assert_eq!(tpl.render(&lookup).is_ok(), known);
        }
    }
}
