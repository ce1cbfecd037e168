//! The rules of contacts on the in-memory store: the record engine's use cases as a contact
//! gets them (S1.2, S1.4, S6.5), and lists checked against every stored record (S1.3).

use super::*;
use crate::access::visibility::Principal;
use crate::contacts::{Contact, ContactKind, ContactPatch, Contacts, LifecycleStatus, NewContact};
use crate::directory;
use crate::records::query::RecordQuery;
use crate::values::search;
use serde_json::{Value, json};
use std::collections::BTreeMap;

fn contacts() -> Contacts {
    Catalog::new(Table::in_memory()).contacts()
}

fn fields(v: Value) -> NewContact {
    serde_json::from_value(v).expect("a contact body")
}

async fn create(contacts: &Contacts, caller: &Caller, v: Value) -> Result<Contact, CrmError> {
    contacts.create(caller, fields(v), None).await
}

/// A member of the tenant's directory, in these teams.
async fn member(dir: &directory::Directory, user: &str, teams: Vec<Uuid>) -> Caller {
    let input = serde_json::from_value(json!({"role": "member", "teams": teams})).unwrap();
    directory::put_user(dir, &admin(), user, input, None)
        .await
        .unwrap();
    Caller {
        teams,
        ..Caller::new("acme", user, Role::Member)
    }
}

fn query(params: &[(&str, &str)]) -> RecordQuery {
    let params: BTreeMap<String, String> = (params.iter())
        .map(|(k, v)| (k.to_string(), v.to_string()))
        .collect();
    RecordQuery::parse(ContactKind::schema(), &params).expect("a valid query")
}

/// Every page of a list, checking that each page but the last is full.
async fn list_all(contacts: &Contacts, caller: &Caller, q: &RecordQuery, limit: i32) -> Vec<Uuid> {
    let (mut ids, mut cursor) = (Vec::new(), None::<String>);
    loop {
        let page = (contacts.list(caller, q, limit, cursor.as_deref()).await).expect("a page");
        if page.next_cursor.is_some() {
            assert_eq!(
                page.items.len(),
                limit as usize,
                "a short page while more match"
            );
        }
        ids.extend(page.items.iter().map(|s| s.id));
        match page.next_cursor {
            Some(next) => cursor = Some(next),
            None => return ids,
        }
    }
}

#[tokio::test]
async fn s1_2_a_contact_is_normalised_owned_by_its_creator_and_audited() {
    let contacts = contacts();
    let body = json!({"first_name": " Ada ", "last_name": "Lovelace",
        "emails": [{"address": "Ada@Example.COM"}], "phones": [{"number": "030 1234567", "country": "DE"}]});
    let c = create(&contacts, &admin(), body).await.unwrap();
    assert_eq!(c.display_name, "Ada Lovelace");
    assert_eq!(c.email.as_deref(), Some("ada@example.com"));
    assert_eq!(c.fields.phones[0].e164.as_deref(), Some("+49301234567"));
    assert_eq!((c.fields.owner.as_deref(), c.version), (Some("alice"), 1));
    let history = contacts.history(&admin(), c.id, 10, None).await.unwrap();
    assert_eq!(history.items.len(), 1);
    assert_eq!(contacts.get(&admin(), c.id).await.unwrap(), c);
}

#[tokio::test]
async fn s1_2_an_email_address_belongs_to_one_live_contact() {
    let contacts = contacts();
    let first = json!({"first_name": "Ada", "emails": [{"address": "ada@example.com"}]});
    let ada = create(&contacts, &admin(), first).await.unwrap();
    let again = json!({"first_name": "Other", "emails": [{"address": "ADA@example.com"}]});
    let refused = create(&contacts, &admin(), again.clone())
        .await
        .unwrap_err();
    assert!(matches!(refused, CrmError::Conflict { .. }), "{refused:?}");
    // In the trash, the address is free again; restoring the first then collides.
    contacts.delete(&admin(), ada.id, None).await.unwrap();
    create(&contacts, &admin(), again).await.unwrap();
    let restore = contacts.restore(&admin(), ada.id).await.unwrap_err();
    assert!(matches!(restore, CrmError::Conflict { .. }), "{restore:?}");
}

#[tokio::test]
async fn s1_2_a_stale_if_match_or_a_broken_rule_changes_nothing() {
    let (contacts, admin) = (contacts(), admin());
    let ada = create(&contacts, &admin, json!({"first_name": "Ada"})).await;
    let ada = ada.unwrap();
    let patch = |v: Value| serde_json::from_value::<ContactPatch>(v).unwrap();
    let rename = || patch(json!({"last_name": "L"}));
    let stale = contacts
        .patch(&admin, ada.id, rename(), None, Some(0))
        .await;
    assert!(matches!(stale, Err(CrmError::PreconditionFailed)));
    let bad = patch(json!({"emails": [{"address": "not an address"}]}));
    let refused = contacts.patch(&admin, ada.id, bad, None, Some(1)).await;
    let Err(CrmError::Validation(errors)) = refused else {
        panic!("{refused:?}")
    };
    assert_eq!(errors[0].field, "emails[0].address");
    assert_eq!(contacts.get(&admin, ada.id).await.unwrap(), ada);
    let changed = contacts
        .patch(&admin, ada.id, rename(), None, Some(1))
        .await;
    assert_eq!(changed.unwrap().version, 2);
}

#[tokio::test]
async fn s1_2_a_deleted_contact_is_gone_from_reads_until_restored() {
    let contacts = contacts();
    let ada = create(&contacts, &admin(), json!({"first_name": "Ada"}))
        .await
        .unwrap();
    contacts.delete(&admin(), ada.id, Some(1)).await.unwrap();
    assert!(matches!(
        contacts.get(&admin(), ada.id).await,
        Err(CrmError::NotFound)
    ));
    assert!(
        list_all(&contacts, &admin(), &query(&[]), 10)
            .await
            .is_empty()
    );
    let restored = contacts.restore(&admin(), ada.id).await.unwrap();
    assert_eq!(restored.version, 3, "delete and restore are versions");
    assert_eq!(
        list_all(&contacts, &admin(), &query(&[]), 10).await,
        vec![ada.id]
    );
}

#[tokio::test]
async fn s1_4_members_see_their_own_their_teams_and_what_is_shared_with_them() {
    let (catalog, dir, sales) = tenant_with_sales_team().await;
    let contacts = catalog.contacts();
    let (bob, carol, dave) = (
        member(&dir, "bob", vec![sales]).await,
        member(&dir, "carol", vec![sales]).await,
        member(&dir, "dave", vec![]).await,
    );
    let teams = create(&contacts, &bob, json!({"first_name": "Team"}))
        .await
        .unwrap();
    let private = json!({"first_name": "Private", "visibility": "private"});
    let private = create(&contacts, &bob, private).await.unwrap();
    let own = create(&contacts, &dave, json!({"first_name": "Own"}))
        .await
        .unwrap();
    let shared = create(&contacts, &dave, json!({"first_name": "Shared"}))
        .await
        .unwrap();
    let to_carol = Principal::User("carol".into());
    contacts.share(&dave, shared.id, to_carol).await.unwrap();
    let mut seen = list_all(&contacts, &carol, &query(&[]), 2).await;
    seen.sort();
    let mut expected = vec![teams.id, shared.id];
    expected.sort();
    assert_eq!(seen, expected);
    for hidden in [private.id, own.id] {
        assert!(matches!(
            contacts.get(&carol, hidden).await,
            Err(CrmError::NotFound)
        ));
    }
    let other_tenant = Caller::new("globex", "alice", Role::Owner);
    assert!(matches!(
        contacts.get(&other_tenant, teams.id).await,
        Err(CrmError::NotFound)
    ));
    assert!(
        list_all(&contacts, &other_tenant, &query(&[]), 10)
            .await
            .is_empty()
    );
}

/// A small deterministic mix of contacts: names from short lists, tags, statuses, sources,
/// owners, a team and private ones spread unevenly, as real data is.
fn population(n: usize, team: Uuid) -> Vec<Value> {
    let firsts = [
        "Ada", "Adam", "Alan", "Grace", "Linus", "Mara", "Ole", "Zoë",
    ];
    let lasts = [
        "Müller", "Mueller", "Lovelace", "Hopper", "Schmidt", "Schulz", "Turing",
    ];
    let statuses = ["lead", "prospect", "customer", "inactive"];
    let sources = ["web", "fair", "referral"];
    let owners = ["alice", "bob", "carol"];
    let mut seed: u64 = 42;
    let mut next = |m: usize| {
        seed = seed
            .wrapping_mul(6364136223846793005)
            .wrapping_add(1442695040888963407);
        (seed >> 33) as usize % m
    };
    (0..n)
        .map(|_| {
            let tags: Vec<&str> = ["vip", "newsletter", "partner"]
                .into_iter()
                .filter(|_| next(3) == 0)
                .collect();
            let mut c = json!({
                "first_name": firsts[next(firsts.len())],
                "last_name": lasts[next(lasts.len())],
                "tags": tags,
                "lifecycle_status": statuses[next(statuses.len()).min(next(statuses.len()))],
                "lead_source": sources[next(sources.len())],
                "owner": owners[next(owners.len())],
            });
            if next(2) == 0 {
                c["team"] = json!(team);
            }
            if next(4) == 0 {
                c["visibility"] = json!("private");
            }
            c
        })
        .collect()
}

/// Whether every word of `q` starts a word of the contact's name (the search of S1.3, on
/// contacts without company or email).
fn name_matches(c: &Contact, q: &str) -> bool {
    let name = search::fold(&c.display_name);
    search::query_words(q)
        .iter()
        .all(|w| name.split(' ').any(|n| n.starts_with(w.as_str())))
}

type Matches = Box<dyn Fn(&Contact) -> bool>;

/// Filters and what they mean for one contact.
fn filters() -> Vec<(Vec<(&'static str, &'static str)>, Matches)> {
    let tagged = |c: &Contact, t: &str| c.fields.tags.iter().any(|x| x == t);
    let status = |c: &Contact| c.fields.lifecycle_status;
    vec![
        (
            vec![("tag", "vip"), ("status", "customer")],
            Box::new(move |c| tagged(c, "vip") && status(c) == LifecycleStatus::Customer),
        ),
        (
            vec![("tag", "partner"), ("lead_source", "fair")],
            Box::new(move |c| {
                tagged(c, "partner") && c.fields.lead_source.as_deref() == Some("fair")
            }),
        ),
        (
            vec![("owner", "bob"), ("status", "lead")],
            Box::new(move |c| {
                c.fields.owner.as_deref() == Some("bob") && status(c) == LifecycleStatus::Lead
            }),
        ),
        (
            vec![("status", "inactive")],
            Box::new(move |c| status(c) == LifecycleStatus::Inactive),
        ),
        (vec![], Box::new(|_| true)),
    ]
}

/// The same ids, each once.
fn assert_same_once(mut listed: Vec<Uuid>, mut expected: Vec<Uuid>, what: &str) {
    let count = listed.len();
    listed.sort();
    expected.sort();
    listed.dedup();
    assert_eq!(listed.len(), count, "{what}: a record listed twice");
    assert_eq!(listed, expected, "{what}");
}

#[tokio::test]
async fn s1_3_lists_hold_exactly_the_matching_records_once_in_full_pages() {
    let (catalog, dir, sales) = tenant_with_sales_team().await;
    let contacts = catalog.contacts();
    let bob = member(&dir, "bob", vec![sales]).await;
    member(&dir, "carol", vec![]).await;
    let mut all = Vec::new();
    for (i, body) in population(150, sales).into_iter().enumerate() {
        let mut c = create(&contacts, &admin(), body).await.unwrap();
        if i % 11 == 0 {
            let to_bob = Principal::User("bob".into());
            c = contacts.share(&admin(), c.id, to_bob).await.unwrap();
        }
        all.push(c);
    }
    all.reverse(); // newest first, the lists' default order
    let sees = |c: &&Contact| bob.sees(&crate::records::Record::access(*c));
    assert!(
        all.iter().filter(sees).count() < all.len(),
        "bob does not see everything"
    );
    for (params, matches) in filters() {
        let expected: Vec<Uuid> = all.iter().filter(|c| matches(c)).map(|c| c.id).collect();
        assert!(!expected.is_empty(), "{params:?} matches some");
        let listed = list_all(&contacts, &admin(), &query(&params), 4).await;
        assert_eq!(listed, expected, "{params:?}");
        // A member's list: what they own, their team's, then what is shared with them.
        let expected = (all.iter().filter(sees))
            .filter(|c| matches(c))
            .map(|c| c.id);
        let listed = list_all(&contacts, &bob, &query(&params), 4).await;
        assert_same_once(listed, expected.collect(), &format!("bob: {params:?}"));
    }
    // Searches list every match once; whole-name matches need not come newest first.
    for q in [
        "ada",
        "ada mül",
        "mü ada",
        "grace hopper",
        "ole s",
        "zoe",
        "sch",
    ] {
        let expected: Vec<Uuid> = all
            .iter()
            .filter(|c| name_matches(c, q))
            .map(|c| c.id)
            .collect();
        assert!(!expected.is_empty(), "{q} matches some");
        let listed = list_all(&contacts, &admin(), &query(&[("q", q)]), 4).await;
        assert_same_once(listed, expected, q);
        let expected = (all.iter().filter(sees))
            .filter(|c| name_matches(c, q))
            .map(|c| c.id);
        let listed = list_all(&contacts, &bob, &query(&[("q", q)]), 4).await;
        assert_same_once(listed, expected.collect(), &format!("bob: {q}"));
    }
}
