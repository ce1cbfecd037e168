//! The suites every record kind passes, over HTTP through the real gateway: contacts,
//! clients, and the test-only widgets prove the engine gives each kind the same behaviour.
//!
//! - [`role_by_route_matrix`]: what each role may do on each route (S1.4, S9.4);
//! - [`cross_tenant_probe`]: another tenant gets 404 on every route and sees nothing;
//! - [`audit_trail`]: every change in the history, newest first, old → new (S6.5);
//! - [`trash_and_restore`]: the trash and restore, or deletion with a tombstone;
//! - [`custom_fields`]: values set, validated, filtered and hidden by field visibility (S3);
//! - [`lists`]: cursors, a facet filter, a sort, bad parameters named.

use crate::{Stack, json};
use serde_json::Value;

/// A JSON value made fresh for each use.
pub type Body = fn() -> Value;

/// What a suite needs to know of a kind.
pub struct KindUnderTest {
    /// `contacts`: the routes are `/{plural}…`.
    pub plural: &'static str,
    /// The custom field entity.
    pub entity: &'static str,
    /// Deleted records go to the trash (else they are removed, leaving a tombstone).
    pub trash: bool,
    /// A valid new record named after `name`.
    pub new: fn(name: &str) -> Value,
    /// A change: the body, the field it changes and its new value.
    pub change: (Body, &'static str, Body),
    /// A body that breaks a rule, and the field and rule named.
    pub invalid: (Body, &'static str, &'static str),
    /// A facet filter (`tag=vip`) and what a body adds to match it.
    pub facet: Option<(&'static str, Body)>,
    /// A sort (`name`) ordering records as their names.
    pub sort: Option<&'static str>,
    /// What the tenant needs before records of the kind can be made (a deal needs a
    /// pipeline): a `POST` to this path with this body, as an admin of `acme`.
    pub setup: Option<(&'static str, Body)>,
}

/// Makes what the kind needs in tenant `acme` (see [`KindUnderTest::setup`]).
pub async fn prepare(stack: &Stack, kind: &KindUnderTest) {
    if let Some((path, body)) = &kind.setup {
        let admin = stack.token("acme", "alice", "admin");
        let r = stack.call("POST", path, &admin, Some(body())).await;
        assert_eq!(r.status, 201, "setup POST {path}: {:?}", r.body);
    }
}

impl KindUnderTest {
    fn path(&self, id: &str) -> String {
        format!("/{}/{id}", self.plural)
    }

    fn collection(&self) -> String {
        format!("/{}", self.plural)
    }

    fn new_matching(&self, name: &str) -> Value {
        let mut body = (self.new)(name);
        if let Some((_, extra)) = &self.facet {
            for (k, v) in extra().as_object().expect("an object") {
                body[k] = v.clone();
            }
        }
        body
    }
}

/// Every role against every route of the kind, each on a fresh record owned by an admin
/// outside any team: what each may do, 404 where it may not see.
pub async fn role_by_route_matrix(stack: &Stack, kind: &KindUnderTest) {
    prepare(stack, kind).await;
    let admin = stack.token("acme", "alice", "admin");
    let partners = stack.create_team(&admin, "Partners").await;
    let roles = ["owner", "admin", "manager", "member", "viewer", "portal"];
    type Row = (&'static str, &'static str, Option<Value>, [u16; 6]);
    let mut routes: Vec<Row> = vec![
        (
            "POST",
            "",
            Some((kind.new)("New")),
            [201, 201, 201, 201, 403, 403],
        ),
        ("GET", "", None, [200; 6]),
        ("GET", "{id}", None, [200, 200, 404, 404, 200, 404]),
        ("GET", "{id}/history", None, [200, 200, 404, 404, 200, 404]),
        (
            "PATCH",
            "{id}",
            Some((kind.change.0)()),
            [200, 200, 404, 404, 403, 404],
        ),
        (
            "POST",
            "{id}/shares",
            Some(json!({"team": partners})),
            [200, 200, 404, 404, 403, 404],
        ),
        (
            "DELETE",
            "{id}/shares/team:{team}",
            None,
            [200, 200, 404, 404, 403, 404],
        ),
        ("DELETE", "{id}", None, [204, 204, 404, 404, 403, 404]),
    ];
    if kind.trash {
        routes.push(("POST", "{id}/restore", None, [200, 200, 404, 404, 403, 404]));
    }
    for (i, role) in roles.iter().enumerate() {
        let token = stack.token("acme", &format!("{role}-user"), role);
        let id = stack
            .create(
                &kind.collection(),
                &admin,
                (kind.new)(&format!("Matrix {role}")),
            )
            .await;
        for (method, route, body, expected) in &routes {
            let path = match *route {
                "" => kind.collection(),
                r => kind.path(&r.replace("{id}", &id).replace("{team}", &partners)),
            };
            let r = stack.call(method, &path, &token, body.clone()).await;
            assert_eq!(
                r.status, expected[i],
                "{role}: {method} {path}: {:?}",
                r.body
            );
        }
    }
}

/// Another tenant's owner: 404 on every route naming a record, nothing in the lists, and a
/// cursor of this tenant is refused.
pub async fn cross_tenant_probe(stack: &Stack, kind: &KindUnderTest) {
    prepare(stack, kind).await;
    let admin = stack.token("acme", "alice", "admin");
    let id = stack
        .create(&kind.collection(), &admin, (kind.new)("Probe"))
        .await;
    stack
        .create(&kind.collection(), &admin, (kind.new)("Probe two"))
        .await;
    // Well-formed requests, so that only the tenant can be the reason for the 404.
    let mut routes = vec![
        ("GET", kind.path(&id), None),
        ("GET", format!("{}/history", kind.path(&id)), None),
        ("PATCH", kind.path(&id), Some(json!({}))),
        ("DELETE", kind.path(&id), None),
        (
            "POST",
            format!("{}/shares", kind.path(&id)),
            Some(json!({"user": "intruder"})),
        ),
        (
            "DELETE",
            format!("{}/shares/user:alice", kind.path(&id)),
            None,
        ),
    ];
    if kind.trash {
        routes.push((
            "POST",
            format!("{}/restore", kind.path(&id)),
            Some(json!({})),
        ));
    }
    let mut lists = vec![kind.collection()];
    if let Some((facet, _)) = kind.facet {
        lists.push(format!("{}?{facet}", kind.collection()));
    }
    let lists: Vec<&str> = lists.iter().map(String::as_str).collect();
    stack.assert_hidden_from_other_tenant(&routes, &lists).await;
    let page = stack
        .call(
            "GET",
            &format!("{}?limit=1", kind.collection()),
            &admin,
            None,
        )
        .await;
    let cursor = page.body["next_cursor"]
        .as_str()
        .expect("a second page")
        .to_string();
    let foreign = stack.token("other-tenant", "intruder", "owner");
    let stolen = format!("{}?limit=1&cursor={cursor}", kind.collection());
    let r = stack.call("GET", &stolen, &foreign, None).await;
    assert_eq!(
        (r.status, r.problem_field().1),
        (400, "valid_cursor".into())
    );
}

/// Create, change, share: three entries, newest first, with actor, action and old → new.
pub async fn audit_trail(stack: &Stack, kind: &KindUnderTest) {
    prepare(stack, kind).await;
    let admin = stack.token("acme", "alice", "admin");
    let bob = stack.token("acme", "bob", "admin");
    let id = stack
        .create(&kind.collection(), &admin, (kind.new)("Audited"))
        .await;
    let (change, field, value) = (kind.change.0(), kind.change.1, kind.change.2());
    let changed = stack
        .call("PATCH", &kind.path(&id), &bob, Some(change))
        .await;
    assert_eq!(changed.status, 200, "{:?}", changed.body);
    let team = stack.create_team(&admin, "Auditors").await;
    let share = json!({"team": team});
    let shared = stack
        .call(
            "POST",
            &format!("{}/shares", kind.path(&id)),
            &admin,
            Some(share),
        )
        .await;
    assert_eq!(shared.status, 200, "{:?}", shared.body);
    let history = stack
        .list_all(&format!("{}/history?limit=1", kind.path(&id)), &admin)
        .await;
    let actions: Vec<&str> = history
        .iter()
        .map(|e| e["action"].as_str().unwrap())
        .collect();
    assert_eq!(actions, ["shared", "updated", "created"]);
    let versions: Vec<u64> = history
        .iter()
        .map(|e| e["version"].as_u64().unwrap())
        .collect();
    assert_eq!(versions, [3, 2, 1]);
    assert_eq!(history[1]["actor"], "bob");
    let change = history[1]["changes"].as_array().unwrap();
    let entry = change
        .iter()
        .find(|c| c["field"] == field)
        .expect("the changed field");
    assert_eq!(entry["new"], value, "{change:?}");
    assert_ne!(entry["old"], value);
    assert!(
        history[2]["changes"]
            .as_array()
            .unwrap()
            .iter()
            .all(|c| c["old"].is_null())
    );
}

/// Deleted: gone from reads and lists; with a trash, restored within its days (the history
/// says so), else its trail stays readable for owners and admins only.
pub async fn trash_and_restore(stack: &Stack, kind: &KindUnderTest) {
    prepare(stack, kind).await;
    let admin = stack.token("acme", "alice", "admin");
    let member = stack.token("acme", "mia", "member");
    let id = stack
        .create(&kind.collection(), &admin, (kind.new)("Deleted"))
        .await;
    let keep = stack
        .create(&kind.collection(), &admin, (kind.new)("Kept"))
        .await;
    let deleted = stack.call("DELETE", &kind.path(&id), &admin, None).await;
    assert_eq!(deleted.status, 204, "{:?}", deleted.body);
    assert_eq!(
        stack
            .call("GET", &kind.path(&id), &admin, None)
            .await
            .status,
        404
    );
    assert_eq!(
        stack.ids(&kind.collection(), &admin).await,
        vec![keep.clone()]
    );
    let history = format!("{}/history", kind.path(&id));
    if !kind.trash {
        assert_eq!(stack.call("GET", &history, &admin, None).await.status, 200);
        assert_eq!(stack.call("GET", &history, &member, None).await.status, 404);
        return;
    }
    let restored = stack
        .call("POST", &format!("{}/restore", kind.path(&id)), &admin, None)
        .await;
    assert_eq!(restored.status, 200, "{:?}", restored.body);
    assert_eq!(restored.body["version"], 3);
    assert_eq!(restored.header("etag"), Some("\"3\""));
    let mut listed = stack.ids(&kind.collection(), &admin).await;
    listed.sort();
    let mut expected = vec![id.clone(), keep];
    expected.sort();
    assert_eq!(listed, expected);
    let entries = stack.list_all(&history, &admin).await;
    let actions: Vec<&str> = entries
        .iter()
        .map(|e| e["action"].as_str().unwrap())
        .collect();
    assert_eq!(actions, ["restored", "deleted", "created"]);
}

/// A select field of the kind: set on create, refused outside its options (naming it),
/// filtered by, and absent for a role it is not shown to.
pub async fn custom_fields(stack: &Stack, kind: &KindUnderTest) {
    prepare(stack, kind).await;
    let admin = stack.token("acme", "alice", "admin");
    let viewer = stack.token("acme", "vic", "viewer");
    let tier = json!({"key": "tier", "entity": kind.entity, "label": "Tier",
        "type": {"kind": "select", "options": [{"id": "gold", "label": "Gold"}, {"id": "silver", "label": "Silver"}]}});
    assert_eq!(stack.define_field(&admin, tier).await.status, 201);
    let secret = json!({"key": "secret", "entity": kind.entity, "label": "Secret", "type": {"kind": "text"},
        "visibility": {"kind": "restricted", "roles": ["admin"]}});
    assert_eq!(stack.define_field(&admin, secret).await.status, 201);
    let with = |name: &str, tier: &str| {
        let mut body = (kind.new)(name);
        body["custom_fields"] = json!({"tier": tier, "secret": "s3"});
        body
    };
    let gold = stack
        .create(&kind.collection(), &admin, with("Golden", "Gold"))
        .await;
    stack
        .create(&kind.collection(), &admin, with("Silvery", "silver"))
        .await;
    let read = stack.call("GET", &kind.path(&gold), &admin, None).await;
    assert_eq!(
        read.body["custom_fields"],
        json!({"tier": "gold", "secret": "s3"})
    );
    let seen = stack.call("GET", &kind.path(&gold), &viewer, None).await;
    assert_eq!(seen.body["custom_fields"], json!({"tier": "gold"}));
    let bad = stack
        .call(
            "POST",
            &kind.collection(),
            &admin,
            Some(with("Bad", "bronze")),
        )
        .await;
    assert_eq!(
        (bad.status, bad.problem_field()),
        (422, ("custom_fields.tier".into(), "option".into()))
    );
    let filtered = stack
        .ids(&format!("{}?cf.tier=gold", kind.collection()), &admin)
        .await;
    assert_eq!(filtered, vec![gold]);
    let hidden = stack
        .call(
            "GET",
            &format!("{}?cf.secret=s3", kind.collection()),
            &viewer,
            None,
        )
        .await;
    assert_eq!(
        (hidden.status, hidden.problem_field().1),
        (422, "unknown_field".into())
    );
}

/// Pages of two add up to every record once; a facet filter and a sort do what they say;
/// an unknown parameter is named.
pub async fn lists(stack: &Stack, kind: &KindUnderTest) {
    prepare(stack, kind).await;
    let admin = stack.token("acme", "alice", "admin");
    let names = ["Delta", "Alpha", "Echo", "Charlie", "Bravo"];
    let mut ids = Vec::new();
    for (i, name) in names.iter().enumerate() {
        let body = if i % 2 == 0 {
            kind.new_matching(name)
        } else {
            (kind.new)(name)
        };
        ids.push(stack.create(&kind.collection(), &admin, body).await);
    }
    let paged = stack
        .ids(&format!("{}?limit=2", kind.collection()), &admin)
        .await;
    let newest_first: Vec<String> = ids.iter().rev().cloned().collect();
    assert_eq!(paged, newest_first);
    if let Some((facet, _)) = kind.facet {
        let matching = stack
            .ids(&format!("{}?{facet}&limit=1", kind.collection()), &admin)
            .await;
        assert_eq!(
            matching,
            vec![ids[4].clone(), ids[2].clone(), ids[0].clone()]
        );
    }
    if let Some(sort) = kind.sort {
        let sorted = stack
            .list_all(
                &format!("{}?sort={sort}&limit=2", kind.collection()),
                &admin,
            )
            .await;
        let by_name: Vec<String> = sorted
            .iter()
            .map(|r| r["id"].as_str().unwrap().to_string())
            .collect();
        assert_eq!(
            by_name,
            [&ids[1], &ids[4], &ids[3], &ids[0], &ids[2]].map(|s| s.clone())
        );
    }
    let bad = stack
        .call(
            "GET",
            &format!("{}?bogus=1", kind.collection()),
            &admin,
            None,
        )
        .await;
    assert_eq!(
        (bad.status, bad.problem_field()),
        (422, ("bogus".into(), "unknown_parameter".into()))
    );
}
