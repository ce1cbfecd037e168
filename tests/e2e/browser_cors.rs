//! CORS for real browsers (issue 14 item 4): headless Chromium (Debian's `chromium`; `CHROMIUM`
//! names another binary) loads a page from another local origin whose script creates a contact
//! (POST with Idempotency-Key), reads it (the ETag header read from JS: only exposed headers
//! are readable), and patches it with If-Match, through the local gateway with the page's
//! origin in the template's `AllowedOrigins` parameter. A page from an origin not in the list
//! is blocked by the browser, and its write never reaches the API. Without a browser: the
//! gateway's own answers to preflights and actual requests.
//!
//! Chromium runs with `--dump-dom --virtual-time-budget`: it loads the page, runs its script to
//! the end (virtual time stops while requests are in flight) and prints the DOM, into which the
//! script wrote its findings (base64 JSON), then exits.

use base64::Engine as _;
use crm_e2e_tests::{Stack, json};
use serde_json::Value;
use std::collections::HashMap;
use tokio::io::{AsyncReadExt, AsyncWriteExt};

/// The headless browser: `CHROMIUM`, else Debian's `chromium`.
fn chromium() -> String {
    if let Ok(path) = std::env::var("CHROMIUM") {
        return path;
    }
    for path in ["/usr/bin/chromium", "/usr/bin/chromium-browser"] {
        if std::path::Path::new(path).exists() {
            return path.to_string();
        }
    }
    panic!(
        "the browser CORS test needs headless Chromium: `apt-get install -y chromium` \
         (.ci/run installs it), or set CHROMIUM to a Chromium binary"
    );
}

/// A port of its own for a page: another origin than the API's. The origin is known before
/// the stack starts (so the stack can allow it) and the page after (it names the stack's URL).
async fn page_origin() -> (tokio::net::TcpListener, String) {
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let origin = format!("http://{}", listener.local_addr().unwrap());
    (listener, origin)
}

/// Serves `html` to every request on `listener`.
fn serve_page(listener: tokio::net::TcpListener, html: String) {
    tokio::spawn(async move {
        while let Ok((mut socket, _)) = listener.accept().await {
            let html = html.clone();
            tokio::spawn(async move {
                let mut request = Vec::new();
                let mut buf = [0u8; 4096];
                while !request.windows(4).any(|w| w == b"\r\n\r\n") {
                    match socket.read(&mut buf).await {
                        Ok(0) | Err(_) => return,
                        Ok(n) => request.extend_from_slice(&buf[..n]),
                    }
                }
                let response = format!(
                    "HTTP/1.1 200 OK\r\ncontent-type: text/html; charset=utf-8\r\n\
                     content-length: {}\r\ncache-control: no-store\r\nconnection: close\r\n\r\n{html}",
                    html.len()
                );
                let _ = socket.write_all(response.as_bytes()).await;
            });
        }
    });
}

/// A page whose `script` (an async function body that fills `out`) runs once, then writes
/// `out` into the DOM for `--dump-dom`.
fn page(api: &str, token: &str, script: &str) -> String {
    format!(
        r#"<!doctype html><html><head><meta charset="utf-8"><title>CORS</title></head><body>
<pre id="out">pending</pre>
<script>
const API = {api:?};
const AUTH = "Bearer " + {token:?};
(async () => {{
  const out = {{}};
  try {{
{script}
  }} catch (e) {{
    out.error = String(e);
  }}
  document.getElementById("out").textContent = "RESULT:" + btoa(JSON.stringify(out)) + ":END";
}})();
</script></body></html>"#
    )
}

/// Loads `url` in headless Chromium; the `out` object its page wrote.
async fn run_page(url: &str) -> Value {
    let profile = std::env::temp_dir().join(format!("crm-chromium-{}", uuid::Uuid::now_v7()));
    let mut args: Vec<String> = [
        "--headless",
        "--no-sandbox",
        "--disable-gpu",
        "--no-first-run",
        "--no-default-browser-check",
        "--disable-extensions",
        "--disable-background-networking",
        "--dump-dom",
        "--virtual-time-budget=30000",
    ]
    .map(String::from)
    .to_vec();
    args.push(format!("--user-data-dir={}", profile.display()));
    args.push(url.to_string());
    // coreutils' timeout bounds the browser (2 minutes, then killed).
    let browser = chromium();
    let output = tokio::task::spawn_blocking(move || {
        std::process::Command::new("timeout")
            .args(["-k", "5", "120", &browser])
            .args(&args)
            .output()
    })
    .await
    .expect("the browser's thread")
    .expect("Chromium starts");
    let _ = std::fs::remove_dir_all(&profile);
    let dom = String::from_utf8_lossy(&output.stdout);
    let encoded = dom
        .split("RESULT:")
        .nth(1)
        .and_then(|rest| rest.split(":END").next())
        .unwrap_or_else(|| {
            panic!(
                "the page wrote no result; DOM: {dom}\nstderr: {}",
                String::from_utf8_lossy(&output.stderr)
            )
        });
    let json = base64::engine::general_purpose::STANDARD
        .decode(encoded)
        .expect("base64 result");
    serde_json::from_slice(&json).expect("JSON result")
}

/// A stack whose CORS allows exactly `origin`.
async fn stack_allowing(origin: &str) -> Stack {
    Stack::start_with(HashMap::from([(
        "AllowedOrigins".to_string(),
        origin.to_string(),
    )]))
    .await
}

#[tokio::test]
async fn a_page_of_an_allowed_origin_creates_reads_and_patches_a_contact_in_chromium() {
    let (listener, origin) = page_origin().await;
    let stack = stack_allowing(&origin).await;
    let token = stack.token("cors-ok", "alice", "admin");
    let script = r#"
    const key = "browser-create-1";
    const body = JSON.stringify({ first_name: "Ada", last_name: "Browser", email: "ada.browser@example.com" });
    const create = () => fetch(API + "/contacts", {
      method: "POST",
      headers: { "Authorization": AUTH, "Content-Type": "application/json", "Idempotency-Key": key },
      body,
    });
    let r = await create();
    const created = await r.json();
    out.create = { status: r.status, etag: r.headers.get("ETag"), location: r.headers.get("Location"), id: created.id };
    r = await create();
    out.replay = { status: r.status, replayed: r.headers.get("Idempotent-Replayed"), id: (await r.json()).id };
    r = await fetch(API + "/contacts/" + created.id, { headers: { "Authorization": AUTH } });
    const etag = r.headers.get("ETag");
    out.get = { status: r.status, etag, last_name: (await r.json()).last_name };
    r = await fetch(API + "/contacts/" + created.id, {
      method: "PATCH",
      headers: { "Authorization": AUTH, "Content-Type": "application/json", "If-Match": etag },
      body: JSON.stringify({ last_name: "Lovelace" }),
    });
    out.patch = { status: r.status, etag: r.headers.get("ETag"), last_name: (await r.json()).last_name };
    r = await fetch(API + "/contacts/" + created.id, {
      method: "PATCH",
      headers: { "Authorization": AUTH, "Content-Type": "application/json", "If-Match": etag },
      body: JSON.stringify({ last_name: "Stale" }),
    });
    out.stale = { status: r.status };
"#;
    serve_page(listener, page(&stack.base_url, &token, script));
    let out = run_page(&format!("{origin}/")).await;
    assert_eq!(out.get("error"), None, "{out}");
    assert_eq!(out["create"]["status"], 201, "{out}");
    let id = out["create"]["id"]
        .as_str()
        .expect("created id")
        .to_string();
    assert!(out["create"]["etag"].is_string(), "ETag readable: {out}");
    assert!(
        out["create"]["location"]
            .as_str()
            .is_some_and(|l| l.ends_with(&id)),
        "Location readable: {out}"
    );
    assert_eq!(out["replay"]["id"], id.as_str(), "{out}");
    assert_eq!(out["replay"]["replayed"], "true", "{out}");
    assert_eq!(out["get"]["status"], 200, "{out}");
    assert_eq!(out["get"]["etag"], out["create"]["etag"], "{out}");
    assert_eq!(out["patch"]["status"], 200, "{out}");
    assert_eq!(out["patch"]["last_name"], "Lovelace", "{out}");
    assert_ne!(out["patch"]["etag"], out["get"]["etag"], "{out}");
    // The stale tag is refused (and the refusal readable by the page).
    let stale = out["stale"]["status"].as_u64().unwrap_or(0);
    assert!((400..500).contains(&stale), "{out}");

    let admin = stack.token("cors-ok", "alice", "admin");
    let stored = stack
        .send(stack.request("GET", &format!("/contacts/{id}"), Some(&admin)))
        .await;
    assert_eq!(stored.body["last_name"], "Lovelace");
}

#[tokio::test]
async fn a_page_of_another_origin_is_blocked_by_the_browser_and_writes_nothing() {
    let stack = stack_allowing("http://localhost:5173").await;
    let token = stack.token("cors-blocked", "mallory", "admin");
    let script = r#"
    try {
      const r = await fetch(API + "/contacts", {
        method: "POST",
        headers: { "Authorization": AUTH, "Content-Type": "application/json", "Idempotency-Key": "blocked-1" },
        body: JSON.stringify({ first_name: "Eve", last_name: "Blocked", email: "eve@example.com" }),
      });
      out.post = "read " + r.status;
    } catch (e) { out.post = "blocked: " + e.name; }
    try {
      // No preflight for a simple GET: it is sent, but its answer carries no CORS header.
      const r = await fetch(API + "/openapi.json");
      out.simple = "read " + r.status;
    } catch (e) { out.simple = "blocked: " + e.name; }
"#;
    let (listener, origin) = page_origin().await;
    serve_page(listener, page(&stack.base_url, &token, script));
    let out = run_page(&format!("{origin}/")).await;
    assert_eq!(out["post"], "blocked: TypeError", "{out}");
    assert_eq!(out["simple"], "blocked: TypeError", "{out}");
    let listed = stack
        .send(stack.request("GET", "/contacts", Some(&token)))
        .await;
    assert_eq!(listed.status, 200);
    assert_eq!(
        listed.body["items"],
        json!([]),
        "the preflight stopped the write"
    );
}

#[tokio::test]
async fn the_gateway_answers_preflights_and_marks_answers_as_the_template_says() {
    let allowed = "http://127.0.0.1:5173";
    let stack = stack_allowing(allowed).await;
    let preflight = |origin: &str, method: &str, headers: &str| {
        stack
            .request(
                "OPTIONS",
                "/contacts/0190c1d2-0000-7000-8000-000000000001",
                None,
            )
            .header("origin", origin)
            .header("access-control-request-method", method)
            .header("access-control-request-headers", headers)
    };
    // No token: the gateway answers preflights before the authorizer.
    let ok = stack
        .send(preflight(
            allowed,
            "PATCH",
            "authorization,content-type,if-match",
        ))
        .await;
    assert_eq!(ok.status, 204);
    assert_eq!(ok.header("access-control-allow-origin"), Some(allowed));
    assert!(
        ok.header("access-control-allow-methods")
            .is_some_and(|m| m.split(',').any(|m| m == "PUT"))
    );
    assert!(
        ok.header("access-control-allow-headers")
            .is_some_and(|h| h.contains("idempotency-key") && h.contains("if-match"))
    );
    assert!(ok.header("access-control-max-age").is_some());

    let other = stack
        .send(preflight("http://127.0.0.1:5174", "PATCH", "authorization"))
        .await;
    assert_eq!(other.status, 204);
    assert_eq!(other.header("access-control-allow-origin"), None);
    assert_eq!(other.header("access-control-allow-methods"), None);

    // An actual answer, the authorizer's 401 included, names the allowed origin only.
    let refused = stack
        .send(
            stack
                .request("GET", "/contacts", None)
                .header("origin", allowed),
        )
        .await;
    assert_eq!(refused.status, 401);
    assert_eq!(refused.header("access-control-allow-origin"), Some(allowed));
    let token = stack.token("cors-gw", "u1", "admin");
    let created = stack
        .send(
            stack
                .request("POST", "/contacts", Some(&token))
                .header("origin", allowed)
                .json(&json!({"first_name": "Grace", "email": "grace.cors@example.com"})),
        )
        .await;
    assert_eq!(created.status, 201, "{:?}", created.body);
    assert_eq!(created.header("access-control-allow-origin"), Some(allowed));
    let exposed = created
        .header("access-control-expose-headers")
        .unwrap_or("");
    for header in ["etag", "location", "retry-after"] {
        assert!(exposed.split(',').any(|h| h == header), "{exposed}");
    }
    assert!(
        created
            .headers
            .get_all("vary")
            .iter()
            .any(|v| v == "Origin")
    );
    let foreign = stack
        .send(
            stack
                .request("GET", "/contacts", Some(&token))
                .header("origin", "http://evil.example"),
        )
        .await;
    assert_eq!(
        foreign.status, 200,
        "CORS is the browser's check, not an authorization"
    );
    assert_eq!(foreign.header("access-control-allow-origin"), None);
}
