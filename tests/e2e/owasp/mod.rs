//! The OWASP API Security Top 10 (2023), one module per item (issue 14 item 3), end to end
//! through the local gateway. The routes come from `template.yaml` (as the gateway reads it),
//! so a route added to the template is probed by BOLA and must have a row in the role × route
//! policy of API5, or the suite fails.

mod api10_unsafe_consumption;
mod api1_bola;
mod api2_authentication;
mod api3_property_authorisation;
mod api4_resource_consumption;
mod api5_function_authorisation;
mod api6_business_flows;
mod api7_ssrf;
mod api8_misconfiguration;
mod api9_inventory;

use crm_e2e_tests::{Stack, json};
use serde_json::Value;
use std::collections::BTreeMap;

/// The tenant whose records the probes aim at.
pub const VICTIM: &str = "acme";

/// Every route of the template as `(method, path, authorized)`, the OpenAPI route excluded
/// where a caller asks for it.
pub fn template_routes(stack: &Stack) -> Vec<(String, String, bool)> {
    stack
        .runtime
        .template
        .http_routes()
        .into_iter()
        .map(|r| (r.method, r.path, r.authorized))
        .collect()
}

/// One real record of every kind a route can name, made by the victim tenant's admin
/// (`alice`, no team, so members do not see them), and the ids the routes' parameters take.
pub struct Seed {
    /// alice's token (admin of [`VICTIM`]).
    pub admin: String,
    /// By kind: `contact`, `client`, `deal`, … (see [`seed`]).
    pub ids: BTreeMap<&'static str, String>,
}

impl Seed {
    pub fn id(&self, kind: &str) -> &str {
        self.ids
            .get(kind)
            .unwrap_or_else(|| panic!("the seed has no {kind}"))
    }

    /// The record kind a path parameter names: the segment before it says which collection
    /// (`/deals/{id}` a deal, `/contacts/{id}/clients/{client_id}` a client).
    pub fn kind_of(path: &str, param: &str) -> Option<&'static str> {
        let segments: Vec<&str> = path.trim_matches('/').split('/').collect();
        let at = segments.iter().position(|s| *s == format!("{{{param}}}"))?;
        let before = if at > 0 { segments[at - 1] } else { "" };
        Some(match (before, param) {
            (_, "entity") => "field_entity",
            (_, "key") if path.starts_with("/custom-field-groups") => "group_key",
            (_, "key") => "field_key",
            (_, "principal") => "principal",
            ("contacts", _) => "contact",
            ("clients", _) => "client",
            ("activities", _) => "activity",
            ("deals", _) => "deal",
            ("pipelines", _) => "pipeline",
            ("stages", _) => "stage",
            ("attachments", _) => "attachment",
            ("jobs", _) => "job",
            ("imports", _) => "import",
            ("exports", _) => "export",
            ("import-templates", _) => "import_template",
            ("workflows", _) => "workflow",
            ("workflow-runs", _) => "run",
            ("teams", _) => "team",
            ("users", _) => "user",
            ("outreach", _) => "outreach",
            ("web-forms", _) => "web_form",
            ("forms", _) => "form_key",
            ("notifications", _) => "notification",
            ("email-templates", _) => "email_template",
            ("unsubscribe", _) => "unsubscribe_token",
            _ => return None,
        })
    }

    /// `path` with every parameter replaced by the seed's record of its kind; `Err` names a
    /// parameter no kind is known for (a new route: give the seed a record of its kind).
    pub fn resolve(&self, path: &str) -> Result<String, String> {
        let mut out = Vec::new();
        for segment in path.trim_matches('/').split('/') {
            match segment.strip_prefix('{').and_then(|s| s.strip_suffix('}')) {
                None => out.push(segment.to_string()),
                Some(param) => {
                    let kind = Self::kind_of(path, param)
                        .ok_or_else(|| format!("{path}: no record kind for {{{param}}}"))?;
                    let id = self
                        .ids
                        .get(kind)
                        .ok_or_else(|| format!("{path}: the seed has no {kind}"))?;
                    out.push(id.clone());
                }
            }
        }
        let path = format!("/{}", out.join("/"));
        // Removing a stage names where its deals go (a query parameter).
        Ok(if segments_end_with(&path, "stages") {
            format!("{path}?move_to={}", self.id("other_stage"))
        } else {
            path
        })
    }

    /// What alice reads of every seeded record: compared before and after probes to show
    /// that nothing changed.
    pub async fn snapshot(&self, stack: &Stack) -> BTreeMap<String, Value> {
        let paths = [
            format!("/contacts/{}", self.id("contact")),
            format!("/contacts/{}/clients", self.id("contact")),
            format!("/contacts/{}/history", self.id("contact")),
            format!("/clients/{}", self.id("client")),
            format!("/activities/{}", self.id("activity")),
            format!("/deals/{}", self.id("deal")),
            format!("/deals/{}/attachments", self.id("deal")),
            format!("/pipelines/{}", self.id("pipeline")),
            format!("/outreach/{}", self.id("outreach")),
            format!("/imports/{}", self.id("import")),
            format!("/import-templates/{}", self.id("import_template")),
            format!("/workflows/{}", self.id("workflow")),
            format!("/workflow-runs/{}", self.id("run")),
            format!("/teams/{}", self.id("team")),
            format!("/users/{}", self.id("user")),
            format!("/custom-fields/contact/{}", self.id("field_key")),
            "/web-forms".to_string(),
            format!("/email-templates/{}", self.id("email_template")),
            "/me/notifications".to_string(),
            "/settings".to_string(),
            "/contacts".to_string(),
        ];
        let mut out = BTreeMap::new();
        for path in paths {
            let r = stack.get(&path, &self.admin).await;
            assert_eq!(r.status, 200, "the owner reads {path}: {:?}", r.body);
            let mut body = r.body;
            // Read-time figures (counted at the time of reading) are not state.
            if let Some(o) = body.as_object_mut() {
                o.remove("touch_counts");
            }
            out.insert(path, body);
        }
        out
    }
}

/// Whether the segment before the last of `path` is `segment`.
fn segments_end_with(path: &str, segment: &str) -> bool {
    let parts: Vec<&str> = path.rsplit('/').collect();
    parts.get(1) == Some(&segment)
}

/// The victim tenant with one record of each kind (see [`Seed`]).
pub async fn seed(stack: &Stack) -> Seed {
    seed_in(stack, VICTIM).await
}

/// One record of each kind in `tenant`, made by its admin alice, a member of its team Sales
/// (her records are the team's; mia, a member outside it, sees none of them).
pub async fn seed_in(stack: &Stack, tenant: &str) -> Seed {
    let admin = stack.token(tenant, "alice", "admin");
    let bob = stack.token(tenant, "bob", "admin");
    let p = &stack.prefix;
    let mut ids: BTreeMap<&'static str, String> = BTreeMap::new();
    let sales = stack.create_team(&bob, "Sales").await;
    stack
        .put_user(
            &bob,
            "alice",
            json!({"role": "admin", "teams": [sales], "email": format!("alice-{tenant}-{p}@example.com")}),
        )
        .await;
    for user in ["mia", "zed"] {
        stack.put_user(&bob, user, json!({"role": "member"})).await;
    }
    ids.insert("team", sales);
    ids.insert("user", "alice".into());
    let contact = stack
        .create_contact(
            &admin,
            json!({"first_name": "Victim", "last_name": "Contact",
                   "email": format!("victim-{tenant}-{p}@example.com"), "lifecycle_status": "customer"}),
        )
        .await;
    let client = stack
        .create_client(&admin, json!({"name": "Victim Co"}))
        .await;
    stack
        .link_contact(&admin, &contact, &client, json!({"role": "billing"}))
        .await;
    stack
        .share_contact(&admin, &contact, json!({"user": "zed"}))
        .await;
    ids.insert("principal", "user:zed".into());
    ids.insert(
        "activity",
        stack
            .create(
                "/activities",
                &admin,
                json!({"type": "note", "text": "secret", "contact_ids": [contact]}),
            )
            .await,
    );
    let r = stack
        .call(
            "POST",
            "/pipelines",
            &admin,
            Some(json!({"name": "Sales", "stages": [
                {"name": "Lead", "probability": "20"},
                {"name": "Won", "kind": "won"}, {"name": "Lost", "kind": "lost"}]})),
        )
        .await;
    assert_eq!(r.status, 201, "{:?}", r.body);
    let pipeline = r.body["id"].as_str().unwrap().to_string();
    ids.insert(
        "stage",
        r.body["stages"][0]["id"].as_str().unwrap().to_string(),
    );
    ids.insert(
        "other_stage",
        r.body["stages"][1]["id"].as_str().unwrap().to_string(),
    );
    let deal = stack
        .create(
            "/deals",
            &admin,
            json!({"title": "Victim deal", "pipeline_id": pipeline, "contact_ids": [contact]}),
        )
        .await;
    let r = stack
        .call(
            "POST",
            &format!("/deals/{deal}/attachments"),
            &admin,
            Some(json!({"file_name": "offer.pdf", "content_type": "application/pdf", "size": 100})),
        )
        .await;
    assert_eq!(r.status, 201, "{:?}", r.body);
    ids.insert(
        "attachment",
        r.body["attachment"]["id"].as_str().unwrap().to_string(),
    );
    ids.insert(
        "outreach",
        stack
            .create(
                "/outreach",
                &admin,
                json!({"contact_id": contact, "type": "call",
                       "phone_number": "+49 30 1234567", "direction": "outbound"}),
            )
            .await,
    );
    ids.insert("import", stack.start_import(&admin, "victim.csv").await.0);
    let r = stack
        .call(
            "POST",
            "/exports",
            &admin,
            Some(json!({"entity": "contacts"})),
        )
        .await;
    assert_eq!(r.status, 202, "{:?}", r.body);
    ids.insert("export", r.body["id"].as_str().unwrap().to_string());
    ids.insert(
        "import_template",
        stack
            .create(
                "/import-templates",
                &admin,
                json!({"name": "people", "mapping": {"columns": [{"column": "Mail", "target": "email"}]}}),
            )
            .await,
    );
    let workflow = stack
        .create(
            "/workflows",
            &admin,
            json!({"name": "Welcome", "steps": [{"type": "wait", "minutes": 60}]}),
        )
        .await;
    ids.insert(
        "run",
        stack
            .create(
                &format!("/workflows/{workflow}/runs"),
                &admin,
                json!({"contact_id": contact}),
            )
            .await,
    );
    let r = stack
        .call(
            "POST",
            &format!("/workflows/{workflow}/enrollments"),
            &admin,
            Some(json!({"filter": {"tag": "nobody"}})),
        )
        .await;
    assert_eq!(r.status, 202, "{:?}", r.body);
    let job = r.body["id"]
        .as_str()
        .or(r.body["job"]["id"].as_str())
        .or(r.body["job_id"].as_str())
        .unwrap_or_else(|| panic!("a job id in {:?}", r.body));
    ids.insert("job", job.to_string());
    stack
        .create_field(
            &admin,
            json!({"key": "homepage", "entity": "contact", "label": "Homepage", "type": {"kind": "url"}}),
        )
        .await;
    ids.insert("field_entity", "contact".into());
    ids.insert("field_key", "homepage".into());
    let r = stack
        .call(
            "POST",
            "/custom-field-groups",
            &admin,
            Some(json!({"key": "general", "entity": "contact", "label": "General", "order": 5})),
        )
        .await;
    assert_eq!(r.status, 201, "{:?}", r.body);
    ids.insert("group_key", "general".into());
    let r = stack
        .call(
            "PUT",
            "/lead-sources",
            &admin,
            Some(json!({"sources": [{"key": "web", "label": "Website", "kind": "web_form"}]})),
        )
        .await;
    assert_eq!(r.status, 200, "{:?}", r.body);
    let r = stack
        .call(
            "POST",
            "/web-forms",
            &admin,
            Some(json!({"name": "Contact us", "lead_source": "web"})),
        )
        .await;
    assert_eq!(r.status, 201, "{:?}", r.body);
    ids.insert("web_form", r.body["id"].as_str().unwrap().to_string());
    ids.insert("form_key", r.body["form_key"].as_str().unwrap().to_string());
    ids.insert(
        "email_template",
        stack
            .create(
                "/email-templates",
                &admin,
                json!({"name": "Plan", "subject": "Hi {{first_name}}", "text": "Hello"}),
            )
            .await,
    );
    // A new lead bob makes for alice: alice's notification.
    stack
        .create_contact(&bob, json!({"first_name": "Lead", "owner": "alice"}))
        .await;
    let notes = stack.get("/me/notifications", &admin).await;
    ids.insert(
        "notification",
        notes.body["items"][0]["id"]
            .as_str()
            .unwrap_or_else(|| panic!("alice has a notification: {:?}", notes.body))
            .to_string(),
    );
    ids.insert("contact", contact);
    ids.insert("client", client);
    ids.insert("deal", deal);
    ids.insert("pipeline", pipeline);
    ids.insert("workflow", workflow);
    // A well-formed unsubscribe token is a signed capability; a made-up one stands in.
    ids.insert("unsubscribe_token", "eyJ0IjoiYWNtZSJ9.forged".into());
    Seed { admin, ids }
}

/// A body a probe of `method path` sends: valid enough that the record is looked up (so the
/// answer is about the record, not the body).
pub fn probe_body(method: &str, path: &str, seed: &Seed) -> Option<Value> {
    let last = path.rsplit('/').next().unwrap_or("");
    let collection = path.trim_matches('/').split('/').next().unwrap_or("");
    Some(match (method, last) {
        ("PATCH", _) => match collection {
            "contacts" => json!({"job_title": "pwned"}),
            "clients" => json!({"industry": "pwned"}),
            "activities" => json!({"text": "pwned"}),
            "deals" => json!({"title": "pwned"}),
            "outreach" => json!({"notes": "pwned"}),
            "custom-fields" | "custom-field-groups" => json!({"label": "pwned"}),
            _ => json!({"name": "pwned"}),
        },
        ("PUT", "{user_id}") => json!({"role": "viewer"}),
        ("PUT", "{client_id}") => json!({"role": "billing"}),
        ("POST", "shares") => json!({"user": "intruder"}),
        ("POST", "move") => json!({"stage_id": seed.id("stage")}),
        ("POST", "attachments") => {
            json!({"file_name": "x.pdf", "content_type": "application/pdf", "size": 10})
        }
        ("POST", "runs") => json!({"contact_id": seed.id("contact")}),
        ("POST", "enrollments") => json!({"filter": {}}),
        ("POST", "messages") => json!({"subject": "pwned", "text": "pwned"}),
        ("POST", "start") => json!({}),
        ("POST", "submissions") => json!({"name": "x", "email": "x@example.com"}),
        _ => return None,
    })
}

/// Sets `tenant`'s counter of `quota` in the current window to `used` (as if that many had
/// happened: the window's last slots are then taken by real requests).
pub async fn use_quota(stack: &Stack, quota: &crm_shared::quotas::Quota, tenant: &str, used: u64) {
    use crm_shared::store::{key, n};
    let (pk, sk, ends) = quota.counter_key(tenant, chrono::Utc::now());
    let mut item = key(pk, sk);
    item.insert("count".into(), n(used));
    item.insert("expires_at".into(), n(ends + quota.window_seconds));
    stack
        .table()
        .put(item)
        .await
        .expect("the quota counter is stored");
}

/// A 429 with `Retry-After` (seconds, within the window) and problem+json.
pub fn assert_rate_limited(r: &crm_e2e_tests::Reply, window_seconds: i64, what: &str) {
    assert_eq!(r.status, 429, "{what}: {:?}", r.body);
    assert_eq!(r.header("content-type"), Some("application/problem+json"));
    let retry: i64 = r
        .header("retry-after")
        .unwrap_or_else(|| panic!("{what}: a Retry-After header"))
        .parse()
        .expect("Retry-After in seconds");
    assert!(
        (1..=window_seconds).contains(&retry),
        "{what}: Retry-After {retry}"
    );
}
