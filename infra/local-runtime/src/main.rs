//! `crm-local`: run the CRM locally against moto (see the README's Quick start).
//!
//! - `crm-local dev [--port 3000] [--prefix crm-dev] [--allowed-origins O1,O2]`: provision, serve
//!   the API (CORS for the page origins given, else the template's `AllowedOrigins` default),
//!   deliver events.
//! - `crm-local token --tenant T --user U --role R [--ttl-seconds N]`: print a dev token.
//! - `crm-local openapi`: print the OpenAPI document.

use crm_local::{LocalRuntime, Options};
use std::collections::HashMap;

fn flags(args: &[String]) -> Result<HashMap<String, String>, String> {
    let mut map = HashMap::new();
    let mut it = args.iter();
    while let Some(flag) = it.next() {
        let name = flag
            .strip_prefix("--")
            .ok_or_else(|| format!("unexpected argument {flag}"))?;
        let value = it.next().ok_or_else(|| format!("--{name} needs a value"))?;
        map.insert(name.to_string(), value.clone());
    }
    Ok(map)
}

#[tokio::main]
async fn main() -> Result<(), crm_local::Error> {
    let args: Vec<String> = std::env::args().skip(1).collect();
    let (command, rest) = args
        .split_first()
        .map(|(c, r)| (c.as_str(), r))
        .unwrap_or(("", &[]));
    let flags = flags(rest)?;
    match command {
        "dev" => {
            tracing_subscriber::fmt().with_env_filter(tracing_subscriber::EnvFilter::try_from_default_env().unwrap_or_else(|_| "info".into())).init();
            let port: u16 = flags.get("port").map(|p| p.parse()).transpose()?.unwrap_or(3000);
            let prefix = flags.get("prefix").cloned().unwrap_or_else(|| "crm-dev".into());
            let mut options = Options::from_env(&prefix)?;
            // The page origins CORS allows (the template's AllowedOrigins parameter, as
            // `sam deploy --parameter-overrides` sets it per stage).
            if let Some(origins) = flags.get("allowed-origins") {
                options.parameter_overrides.insert("AllowedOrigins".into(), origins.clone());
            }
            let runtime = LocalRuntime::start(options).await?;
            let (addr, server) = runtime.serve(([127, 0, 0, 1], port).into()).await?;
            tokio::spawn(runtime.clone().run_event_loop(std::time::Duration::from_millis(500)));
            println!("CRM API on http://{addr}  (OpenAPI: http://{addr}/openapi.json)");
            println!("Get a token: make token TENANT=acme USER=alice ROLE=admin");
            server.await?;
            Ok(())
        }
        "token" => {
            let get = |k: &str| flags.get(k).cloned().ok_or_else(|| format!("--{k} is required"));
            let ttl: i64 = flags.get("ttl-seconds").map(|t| t.parse()).transpose()?.unwrap_or(8 * 3600);
            let token = crm_local::authorizer::DevAuthorizer::default().mint(&get("tenant")?, &get("user")?, &get("role")?, ttl);
            println!("{token}");
            Ok(())
        }
        "openapi" => {
            println!("{}", openapi_api::document_json());
            Ok(())
        }
        _ => Err("usage: crm-local dev [--port N] [--prefix P] [--allowed-origins O1,O2] | token --tenant T --user U --role R [--ttl-seconds N] | openapi".into()),
    }
}
