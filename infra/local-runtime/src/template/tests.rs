//! Unit tests of the template reader: routes, functions, resources and their references.

use super::*;

const YAML: &str = r#"
AWSTemplateFormatVersion: "2010-09-09"
Transform: AWS::Serverless-2016-10-31
Parameters:
  Stage:
    Type: String
    Default: dev
  MaxRetries:
    Type: Number
    Default: 5
Globals:
  Function:
    Environment:
      Variables:
        TABLE_NAME: !Ref CrmTable
        STAGE: !Ref Stage
        SHARED: global
Resources:
  CrmTable:
    Type: AWS::DynamoDB::Table
    Properties:
      BillingMode: PAY_PER_REQUEST
  StepQueue:
    Type: AWS::SQS::Queue
  ImportsBucket:
    Type: AWS::S3::Bucket
  HttpApi:
    Type: AWS::Serverless::HttpApi
    Properties:
      Auth:
        DefaultAuthorizer: JwtAuthorizer
  ContactsFunction:
    Type: AWS::Serverless::Function
    Metadata:
      BuildMethod: rust-cargolambda
      BuildProperties:
        Binary: contacts-api
    Properties:
      Environment:
        Variables:
          SHARED: own
          QUEUE_ARN: !GetAtt StepQueue.Arn
          QUEUE_URL: !Ref StepQueue
          SUB: !Sub "arn:${AWS::Partition}:s3:::${ImportsBucket}/x-${Stage}-${AWS::Region}-${AWS::AccountId}.${AWS::URLSuffix} ${!Literal} ${StepQueue.Arn}"
          RETRIES: !Ref MaxRetries
          NUMBER: 42
      Events:
        List:
          Type: HttpApi
          Properties:
            ApiId: !Ref HttpApi
            Path: /contacts
            Method: get
        Get:
          Type: HttpApi
          Properties:
            ApiId: !Ref HttpApi
            Path: /contacts/{id}
            Method: GET
        Health:
          Type: HttpApi
          Properties:
            ApiId: !Ref HttpApi
            Path: /health
            Method: get
            Auth:
              Authorizer: NONE
  ImportProcessorFunction:
    Type: AWS::Serverless::Function
    Metadata:
      BuildProperties:
        Binary: import-processor
    Properties:
      Events:
        Upload:
          Type: S3
          Properties:
            Bucket: !Ref ImportsBucket
            Events: s3:ObjectCreated:*
            Filter:
              S3Key:
                Rules:
                  - Name: prefix
                    Value: imports/
                  - Name: suffix
                    Value: .csv
  StepExecutorFunction:
    Type: AWS::Serverless::Function
    Metadata:
      BuildProperties:
        Binary: step-executor
    Properties:
      Events:
        Steps:
          Type: SQS
          Properties:
            Queue: !GetAtt StepQueue.Arn
            BatchSize: 5
            FunctionResponseTypes: [ReportBatchItemFailures]
"#;

fn resolved(template: &Template) -> Resolved {
    let mut r = Resolved::default();
    r.refs.extend(template.parameter_defaults());
    r.refs.insert("CrmTable".into(), "t1-CrmTable".into());
    r.refs.insert(
        "StepQueue".into(),
        "http://127.0.0.1:5101/123456789012/t1-StepQueue".into(),
    );
    r.arns.insert(
        "StepQueue".into(),
        "arn:aws:sqs:eu-central-1:123456789012:t1-StepQueue".into(),
    );
    r.refs
        .insert("ImportsBucket".into(), "t1-importsbucket".into());
    r.pseudo.insert("AWS::Region".into(), "eu-central-1".into());
    r.pseudo
        .insert("AWS::AccountId".into(), "123456789012".into());
    r.pseudo.insert("AWS::Partition".into(), "aws".into());
    r.pseudo
        .insert("AWS::URLSuffix".into(), "amazonaws.com".into());
    r
}

#[test]
fn routes() {
    let t = Template::parse(YAML).unwrap();
    let routes = t.http_routes();
    let route = |method: &str, path: &str, authorized: bool| HttpRoute {
        method: method.into(),
        path: path.into(),
        function: "ContactsFunction".into(),
        binary: "contacts-api".into(),
        authorized,
    };
    assert_eq!(
        routes,
        vec![
            route("GET", "/contacts", true),
            route("GET", "/contacts/{id}", true),
            route("GET", "/health", false)
        ]
    );
}

#[test]
fn routes_without_an_api_id_use_the_implicit_api() {
    let yaml = YAML.replace("            ApiId: !Ref HttpApi\n", "");
    let t = Template::parse(&yaml).unwrap();
    assert!(t.http_routes().iter().all(|r| !r.authorized));
    let yaml = yaml.replace(
        "Globals:\n",
        "Globals:\n  HttpApi:\n    Auth:\n      DefaultAuthorizer: Jwt\n",
    );
    let t = Template::parse(&yaml).unwrap();
    assert_eq!(
        t.http_routes()
            .iter()
            .map(|r| r.authorized)
            .collect::<Vec<_>>(),
        vec![true, true, false]
    );
}

#[test]
fn triggers() {
    let t = Template::parse(YAML).unwrap();
    let s3 = t.s3_triggers();
    assert_eq!(s3.len(), 1);
    assert_eq!(s3[0].function, "ImportProcessorFunction");
    assert_eq!(s3[0].binary, "import-processor");
    assert_eq!(s3[0].bucket, "ImportsBucket");
    assert_eq!(s3[0].events, vec!["s3:ObjectCreated:*"]);
    assert_eq!(s3[0].prefix.as_deref(), Some("imports/"));
    assert_eq!(s3[0].suffix.as_deref(), Some(".csv"));
    let sqs = t.sqs_triggers();
    assert_eq!(sqs.len(), 1);
    assert_eq!(sqs[0].queue, "StepQueue");
    assert_eq!(sqs[0].binary, "step-executor");
    assert_eq!(sqs[0].batch_size, 5);
    assert!(sqs[0].report_batch_item_failures);
}

#[test]
fn parameters_and_resources() {
    let t = Template::parse(YAML).unwrap();
    let defaults = t.parameter_defaults();
    assert_eq!(defaults["Stage"], "dev");
    assert_eq!(defaults["MaxRetries"], "5");
    assert_eq!(defaults.len(), 2);
    let tables = t.resources_of_type("AWS::DynamoDB::Table");
    assert_eq!(tables.len(), 1);
    assert_eq!(tables[0].0, "CrmTable");
    assert_eq!(
        tables[0].1.get("BillingMode").and_then(Value::as_str),
        Some("PAY_PER_REQUEST")
    );
    let queues = t.resources_of_type("AWS::SQS::Queue");
    assert_eq!(queues, vec![("StepQueue".to_string(), Value::Null)]);
}

#[test]
fn environment() {
    let t = Template::parse(YAML).unwrap();
    let env = t
        .function_environment("ContactsFunction", &resolved(&t))
        .unwrap();
    let get = |k: &str| {
        env.get(k)
            .map(String::as_str)
            .unwrap_or_else(|| panic!("{k} missing"))
    };
    assert_eq!(get("TABLE_NAME"), "t1-CrmTable");
    assert_eq!(get("STAGE"), "dev");
    assert_eq!(get("SHARED"), "own");
    assert_eq!(
        get("QUEUE_ARN"),
        "arn:aws:sqs:eu-central-1:123456789012:t1-StepQueue"
    );
    assert_eq!(
        get("QUEUE_URL"),
        "http://127.0.0.1:5101/123456789012/t1-StepQueue"
    );
    assert_eq!(
        get("SUB"),
        "arn:aws:s3:::t1-importsbucket/x-dev-eu-central-1-123456789012.amazonaws.com ${Literal} arn:aws:sqs:eu-central-1:123456789012:t1-StepQueue"
    );
    assert_eq!(get("RETRIES"), "5");
    assert_eq!(get("NUMBER"), "42");
    let other = t
        .function_environment("StepExecutorFunction", &resolved(&t))
        .unwrap();
    assert_eq!(other.get("SHARED").map(String::as_str), Some("global"));
    assert_eq!(other.len(), 3);
}

#[test]
fn errors() {
    let t = Template::parse(YAML).unwrap();
    assert!(matches!(
        t.function_environment("Nope", &Resolved::default()),
        Err(TemplateError::UnknownFunction(_))
    ));
    let err = t
        .function_environment("ContactsFunction", &Resolved::default())
        .unwrap_err();
    assert!(matches!(err, TemplateError::Environment { .. }), "{err}");
    assert!(Template::parse("Resources: [1]").is_err());
    assert!(Template::parse("Resources:\n  X:\n    Properties: {}\n").is_err());
    let unsupported = serde_yaml::from_str::<Value>("!GetAZs ''").unwrap();
    assert!(matches!(
        Resolved::default().resolve(&unsupported),
        Err(TemplateError::Unsupported(_))
    ));
}

#[test]
fn stream_triggers_and_rate_schedules_of_the_template() {
    let template = Template::load(
        &std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("../../template.yaml"),
    )
    .unwrap();
    let triggers = template.dynamodb_triggers();
    let trigger = triggers
        .iter()
        .find(|t| t.binary == "workflow-triggers")
        .expect("workflow-triggers reads the table's stream");
    assert_eq!(trigger.function, "WorkflowTriggersFunction");
    assert_eq!(referenced_id(&trigger.stream).as_deref(), Some("CrmTable"));
    assert_eq!(trigger.starting_position, "LATEST");
    assert_eq!(trigger.batch_size, 100);
    assert!(trigger.report_batch_item_failures && trigger.bisect_batch_on_function_error);
    assert_eq!(trigger.maximum_retry_attempts, Some(10));
    assert_eq!(
        trigger
            .on_failure
            .as_ref()
            .and_then(referenced_id)
            .as_deref(),
        Some("WorkflowTriggersDeadLetterQueue")
    );
    assert_eq!(trigger.filter_patterns.len(), 2);
    let schedules = template.rate_schedules();
    let sweep = schedules
        .iter()
        .find(|s| s.name == "StepSweepSchedule")
        .expect("the sweep's rate schedule");
    assert_eq!(sweep.binary, "step-executor");
    assert_eq!(sweep.period, chrono::TimeDelta::minutes(1));
    assert_eq!(
        sweep.input,
        r#"{"sweep":{"at":"<aws.scheduler.scheduled-time>"}}"#
    );
    assert!(sweep.enabled);
    assert_eq!(
        template.function_binary("StepExecutorFunction").as_deref(),
        Some("step-executor")
    );
    assert_eq!(template.function_binary("CrmTable"), None);
}
