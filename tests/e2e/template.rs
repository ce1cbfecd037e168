//! The deployable template (issue 14 items 0 and 8): how `sam build` packages every function,
//! and what operations get from the stack — an errors and a throttles alarm and a log group with
//! retention per function, a depth alarm per dead-letter queue, the HTTP API's 5xx rate and the
//! table's throttles, all notifying the alarm topic parameter; deletion protection on the table;
//! import sources expiring. Reads template.yaml only (no AWS endpoint).

use serde_yaml::{Mapping, Value};
use std::collections::BTreeSet;

fn template() -> Value {
    let path = concat!(env!("CARGO_MANIFEST_DIR"), "/../template.yaml");
    let text = std::fs::read_to_string(path).expect("template.yaml");
    serde_yaml::from_str(&text).expect("template.yaml parses")
}

fn yaml(text: &str) -> Value {
    serde_yaml::from_str(text).expect("test yaml")
}

fn resources(t: &Value) -> &Mapping {
    t["Resources"].as_mapping().expect("Resources")
}

/// `(logical id, resource)` of every resource of type `ty`.
fn of_type<'a>(t: &'a Value, ty: &str) -> Vec<(String, &'a Value)> {
    resources(t)
        .iter()
        .filter(|(_, r)| r["Type"].as_str() == Some(ty))
        .map(|(id, r)| (id.as_str().expect("logical id").to_string(), r))
        .collect()
}

fn functions(t: &Value) -> Vec<(String, &Value)> {
    let functions = of_type(t, "AWS::Serverless::Function");
    assert!(functions.len() >= 18, "the template's functions");
    functions
}

fn alarms(t: &Value) -> Vec<(String, &Value)> {
    of_type(t, "AWS::CloudWatch::Alarm")
}

/// `(namespace, metric name, dimensions as (name, value))`.
type Watched = (String, String, Vec<(String, Value)>);

/// Every metric an alarm watches (its own, or each `MetricStat` of its metric math):
/// `(namespace, metric name, dimensions)`.
fn watched(alarm: &Value) -> Vec<Watched> {
    let props = &alarm["Properties"];
    let dims = |m: &Value| {
        m["Dimensions"]
            .as_sequence()
            .map(|ds| {
                ds.iter()
                    .map(|d| {
                        (
                            d["Name"].as_str().unwrap_or("").to_string(),
                            d["Value"].clone(),
                        )
                    })
                    .collect()
            })
            .unwrap_or_default()
    };
    let one = |m: &Value| {
        (
            m["Namespace"].as_str().unwrap_or("").to_string(),
            m["MetricName"].as_str().unwrap_or("").to_string(),
            dims(m),
        )
    };
    let mut out = Vec::new();
    if props["MetricName"].is_string() {
        out.push(one(props));
    }
    for query in props["Metrics"].as_sequence().into_iter().flatten() {
        let metric = &query["MetricStat"]["Metric"];
        if metric.is_mapping() {
            out.push(one(metric));
        }
    }
    out
}

/// The alarms watching `namespace`/`metric` with dimension `dimension` = `value`.
fn alarms_on<'a>(
    t: &'a Value,
    namespace: &str,
    metric: &str,
    dimension: &str,
    value: &Value,
) -> Vec<(String, &'a Value)> {
    alarms(t)
        .into_iter()
        .filter(|(_, a)| {
            watched(a).iter().any(|(ns, m, dims)| {
                ns == namespace
                    && m == metric
                    && dims.iter().any(|(n, v)| n == dimension && v == value)
            })
        })
        .collect()
}

/// Fires on any occurrence: `> 0` (or `>= 1`).
fn fires_above_zero(alarm: &Value) -> bool {
    let p = &alarm["Properties"];
    let threshold = p["Threshold"].as_f64();
    match p["ComparisonOperator"].as_str() {
        Some("GreaterThanThreshold") => threshold == Some(0.0),
        Some("GreaterThanOrEqualToThreshold") => threshold == Some(1.0),
        _ => false,
    }
}

#[test]
fn every_function_is_packaged_from_its_release_bootstrap_by_the_deploy_makefile() {
    let t = template();
    let makefile = concat!(env!("CARGO_MANIFEST_DIR"), "/../infra/deploy/Makefile");
    let makefile = std::fs::read_to_string(makefile).expect("infra/deploy/Makefile");
    assert!(makefile.contains("build-%:"), "a build-<LogicalId> rule");
    let mut binaries = BTreeSet::new();
    for (id, f) in functions(&t) {
        let meta = &f["Metadata"];
        assert_eq!(meta["BuildMethod"].as_str(), Some("makefile"), "{id}");
        let binary = meta["BuildProperties"]["Binary"]
            .as_str()
            .unwrap_or_else(|| panic!("{id}: Metadata.BuildProperties.Binary"));
        assert!(binaries.insert(binary.to_string()), "{id}: {binary} twice");
        let crate_dir = format!("{}/../functions/{binary}", env!("CARGO_MANIFEST_DIR"));
        assert!(
            std::path::Path::new(&crate_dir).is_dir(),
            "{id}: no crate {crate_dir}"
        );
        // SAM copies CodeUri for every function: the small deploy folder, never the workspace.
        assert_eq!(
            f["Properties"]["CodeUri"].as_str(),
            Some("infra/deploy"),
            "{id}: CodeUri"
        );
    }
}

#[test]
fn every_function_logs_to_its_own_group_with_retention() {
    let t = template();
    let retention = &t["Parameters"]["LogRetentionDays"];
    assert_eq!(retention["Type"].as_str(), Some("Number"));
    assert!(retention["Default"].as_u64().is_some_and(|d| d > 0));
    let res = resources(&t);
    for (id, f) in functions(&t) {
        let binary = f["Metadata"]["BuildProperties"]["Binary"].as_str().unwrap();
        let props = &f["Properties"];
        let name = yaml(&format!("!Sub ${{AWS::StackName}}-{binary}"));
        assert_eq!(props["FunctionName"], name, "{id}: FunctionName");
        let Value::Tagged(link) = &props["LoggingConfig"]["LogGroup"] else {
            panic!("{id}: LoggingConfig.LogGroup is not a !Ref");
        };
        assert_eq!(link.tag, "Ref", "{id}");
        let group_id = link.value.as_str().unwrap();
        let group = &res[group_id];
        assert_eq!(group["Type"].as_str(), Some("AWS::Logs::LogGroup"), "{id}");
        assert_eq!(
            group["Properties"]["LogGroupName"],
            yaml(&format!("!Sub /aws/lambda/${{AWS::StackName}}-{binary}")),
            "{id}: the group Lambda would name after the function"
        );
        assert_eq!(
            group["Properties"]["RetentionInDays"],
            yaml("!Ref LogRetentionDays"),
            "{id}: retention"
        );
    }
    for (id, group) in of_type(&t, "AWS::Logs::LogGroup") {
        assert!(
            !group["Properties"]["RetentionInDays"].is_null(),
            "{id}: log group without retention"
        );
    }
}

#[test]
fn every_alarm_notifies_the_alarm_topic_parameter() {
    let t = template();
    let parameter = &t["Parameters"]["AlarmTopicArn"];
    assert_eq!(parameter["Type"].as_str(), Some("String"));
    assert_eq!(parameter["Default"].as_str(), Some(""), "optional");
    assert_eq!(
        t["Conditions"]["CreateAlarmTopic"],
        yaml(r#"!Equals [!Ref AlarmTopicArn, ""]"#)
    );
    let topic = &resources(&t)["AlarmTopic"];
    assert_eq!(topic["Type"].as_str(), Some("AWS::SNS::Topic"));
    assert_eq!(topic["Condition"].as_str(), Some("CreateAlarmTopic"));
    let target = yaml("!If [CreateAlarmTopic, !Ref AlarmTopic, !Ref AlarmTopicArn]");
    let all = alarms(&t);
    assert!(!all.is_empty());
    for (id, alarm) in all {
        for actions in ["AlarmActions", "OKActions"] {
            assert_eq!(
                alarm["Properties"][actions].as_sequence(),
                Some(&vec![target.clone()]),
                "{id}: {actions}"
            );
        }
    }
}

#[test]
fn every_function_has_an_errors_and_a_throttles_alarm() {
    let t = template();
    for (id, _) in functions(&t) {
        let function = yaml(&format!("!Ref {id}"));
        for metric in ["Errors", "Throttles"] {
            let found = alarms_on(&t, "AWS/Lambda", metric, "FunctionName", &function);
            assert!(
                found.iter().any(|(_, a)| fires_above_zero(a)),
                "{id}: no {metric} > 0 alarm"
            );
        }
    }
}

#[test]
fn every_dead_letter_queue_has_a_depth_alarm() {
    let t = template();
    // Queues named as a redrive target or as a failure destination (async invocations, streams).
    let mut dlqs = BTreeSet::new();
    let target_of = |v: &Value| match v {
        Value::Tagged(g) if g.tag == "GetAtt" => g
            .value
            .as_str()
            .and_then(|s| s.strip_suffix(".Arn"))
            .map(str::to_string),
        _ => None,
    };
    for (_, q) in of_type(&t, "AWS::SQS::Queue") {
        if let Some(id) = target_of(&q["Properties"]["RedrivePolicy"]["deadLetterTargetArn"]) {
            dlqs.insert(id);
        }
    }
    for (_, f) in functions(&t) {
        let props = &f["Properties"];
        let on_failure = &props["EventInvokeConfig"]["DestinationConfig"]["OnFailure"];
        if let Some(id) = target_of(&on_failure["Destination"]) {
            dlqs.insert(id);
        }
        for event in props["Events"]
            .as_mapping()
            .into_iter()
            .flat_map(Mapping::values)
        {
            let on_failure = &event["Properties"]["DestinationConfig"]["OnFailure"];
            if let Some(id) = target_of(&on_failure["Destination"]) {
                dlqs.insert(id);
            }
        }
    }
    assert!(
        dlqs.len() >= 6,
        "the template's dead-letter queues: {dlqs:?}"
    );
    for q in dlqs {
        let name = yaml(&format!("!GetAtt {q}.QueueName"));
        let found = alarms_on(
            &t,
            "AWS/SQS",
            "ApproximateNumberOfMessagesVisible",
            "QueueName",
            &name,
        );
        assert!(
            found.iter().any(|(_, a)| fires_above_zero(a)),
            "{q}: no depth > 0 alarm"
        );
    }
}

#[test]
fn the_api_5xx_rate_and_the_table_throttles_have_alarms() {
    let t = template();
    let api = yaml("!Ref HttpApi");
    let five = alarms_on(&t, "AWS/ApiGateway", "5xx", "ApiId", &api);
    let rate = five
        .iter()
        .find(|(_, a)| {
            // A rate: 5xx over the request count of the same API.
            watched(a).iter().any(|(ns, m, d)| {
                ns == "AWS/ApiGateway" && m == "Count" && d.iter().any(|(_, v)| v == &api)
            })
        })
        .expect("an alarm on the HTTP API's 5xx rate");
    assert!(rate.1["Properties"]["Threshold"].as_f64().is_some());

    let table = yaml("!Ref CrmTable");
    for metric in ["ReadThrottleEvents", "WriteThrottleEvents"] {
        let found = alarms_on(&t, "AWS/DynamoDB", metric, "TableName", &table);
        assert!(
            found.iter().any(|(_, a)| fires_above_zero(a)),
            "no {metric} > 0 alarm on the table"
        );
    }
}

#[test]
fn the_table_is_protected_from_deletion() {
    let t = template();
    let tables = of_type(&t, "AWS::DynamoDB::Table");
    assert!(!tables.is_empty());
    for (id, table) in tables {
        assert_eq!(
            table["Properties"]["DeletionProtectionEnabled"].as_bool(),
            Some(true),
            "{id}"
        );
        assert_eq!(table["DeletionPolicy"].as_str(), Some("Retain"), "{id}");
        assert_eq!(
            table["UpdateReplacePolicy"].as_str(),
            Some("Retain"),
            "{id}"
        );
    }
}

#[test]
fn import_sources_expire() {
    let t = template();
    // Uploaded files: the prefix the import processor is notified of.
    let processor = &resources(&t)["ImportProcessorFunction"]["Properties"]["Events"];
    let upload = processor
        .as_mapping()
        .into_iter()
        .flat_map(Mapping::values)
        .find(|e| {
            e["Type"].as_str() == Some("S3")
                && e["Properties"]["Bucket"] == yaml("!Ref ImportsBucket")
        })
        .expect("the import processor's S3 event");
    let prefix = upload["Properties"]["Filter"]["S3Key"]["Rules"]
        .as_sequence()
        .into_iter()
        .flatten()
        .find(|r| r["Name"].as_str() == Some("prefix"))
        .and_then(|r| r["Value"].as_str())
        .expect("an upload prefix");
    let bucket = &resources(&t)["ImportsBucket"];
    let rules = bucket["Properties"]["LifecycleConfiguration"]["Rules"]
        .as_sequence()
        .expect("lifecycle rules");
    let expiring = rules.iter().find(|r| {
        let rule_prefix = r["Prefix"].as_str().or(r["Filter"]["Prefix"].as_str());
        r["Status"].as_str() == Some("Enabled")
            && rule_prefix.is_some_and(|p| prefix.starts_with(p))
            && r["ExpirationInDays"].as_u64().is_some_and(|d| d > 0)
    });
    assert!(expiring.is_some(), "no rule expires {prefix}");
    // The files made from them, and exports, expire too.
    for derived in ["converted/", "errors/", "exports/"] {
        assert!(
            rules.iter().any(|r| r["Prefix"].as_str() == Some(derived)
                && r["ExpirationInDays"].as_u64().is_some_and(|d| d > 0)),
            "no rule expires {derived}"
        );
    }
}
