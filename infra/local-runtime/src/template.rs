//! Reading `template.yaml` (AWS SAM) for the local runtime: the HTTP routes, S3 and SQS triggers
//! of the functions, their environment, the parameters and the resources to provision. Reading
//! the deployed template (instead of a second, local description of the stack) is what keeps
//! local and cloud from drifting.
//!
//! Intrinsics are supported in both forms (`!Ref X` / `{Ref: X}`, `!GetAtt X.Arn` /
//! `!GetAtt [X, Arn]` / `{Fn::GetAtt: ...}`, `!Sub` / `{Fn::Sub: ...}`, `!Join`, `!Select`,
//! `!Split`); what they resolve to locally comes from [`Resolved`], which the provisioner fills.

use serde_yaml::{Mapping, Value};
use std::collections::{BTreeMap, HashMap};
use std::path::Path;

pub const FUNCTION_TYPE: &str = "AWS::Serverless::Function";
pub const HTTP_API_TYPE: &str = "AWS::Serverless::HttpApi";

/// A parsed SAM template.
#[derive(Debug, Clone)]
pub struct Template {
    root: Value,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct HttpRoute {
    /// Upper-case, e.g. `GET` (or `ANY`).
    pub method: String,
    /// As in the template, e.g. `/contacts/{id}`.
    pub path: String,
    /// Logical id of the function.
    pub function: String,
    /// `Metadata.BuildProperties.Binary`: the cargo binary.
    pub binary: String,
    /// False when the route's `Auth.Authorizer` is `NONE` (or its API has no default authorizer).
    pub authorized: bool,
}

#[derive(Debug, Clone)]
pub struct S3Trigger {
    pub function: String,
    pub binary: String,
    /// Logical id of the bucket.
    pub bucket: String,
    /// e.g. `s3:ObjectCreated:*`.
    pub events: Vec<String>,
    pub prefix: Option<String>,
    pub suffix: Option<String>,
}

#[derive(Debug, Clone)]
pub struct SqsTrigger {
    pub function: String,
    pub binary: String,
    /// Logical id of the queue.
    pub queue: String,
    pub batch_size: i32,
    /// `FunctionResponseTypes` contains `ReportBatchItemFailures`.
    pub report_batch_item_failures: bool,
}

#[derive(Debug, thiserror::Error)]
pub enum TemplateError {
    #[error("cannot read the template {path}: {source}")]
    Io {
        path: String,
        source: std::io::Error,
    },
    #[error("the template is not valid YAML: {0}")]
    Yaml(#[from] serde_yaml::Error),
    #[error("invalid template: {0}")]
    Invalid(String),
    #[error("no function {0} in the template")]
    UnknownFunction(String),
    #[error("cannot resolve {0}: not provisioned locally")]
    Unresolved(String),
    #[error("intrinsic {0} is not supported locally")]
    Unsupported(String),
    #[error("environment variable {variable} of {function}: {source}")]
    Environment {
        function: String,
        variable: String,
        source: Box<TemplateError>,
    },
}

/// What `!Ref` / `!GetAtt X.Arn` / `!Sub` resolve to locally.
#[derive(Debug, Clone, Default)]
pub struct Resolved {
    /// `!Ref X`: resources (physical name or URL) and parameters.
    pub refs: HashMap<String, String>,
    /// `!GetAtt X.Arn`, keyed by `X`; other attributes are keyed by `X.Attribute`.
    pub arns: HashMap<String, String>,
    /// `AWS::Region`, `AWS::AccountId`, ...
    pub pseudo: HashMap<String, String>,
}

impl Template {
    pub fn load(path: &Path) -> Result<Self, TemplateError> {
        let yaml = std::fs::read_to_string(path).map_err(|source| TemplateError::Io {
            path: path.display().to_string(),
            source,
        })?;
        Self::parse(&yaml)
    }

    pub fn parse(yaml: &str) -> Result<Self, TemplateError> {
        let root: Value = serde_yaml::from_str(yaml)?;
        if !root.is_mapping() {
            return Err(TemplateError::Invalid(
                "the top level is not a mapping".into(),
            ));
        }
        match root.get("Resources") {
            Some(Value::Mapping(_)) => {}
            _ => return Err(TemplateError::Invalid("no Resources mapping".into())),
        }
        let template = Self { root };
        for (id, resource) in template.resources() {
            if !resource.is_mapping() || resource_type(resource).is_none() {
                return Err(TemplateError::Invalid(format!("resource {id} has no Type")));
            }
        }
        Ok(template)
    }

    /// Every HTTP API event of every function, in template order.
    pub fn http_routes(&self) -> Vec<HttpRoute> {
        let mut routes = Vec::new();
        for (function, binary, event) in self.function_events("HttpApi") {
            let props = event.get("Properties").unwrap_or(&Value::Null);
            let path = props
                .get("Path")
                .and_then(scalar_string)
                .unwrap_or_else(|| "/{proxy+}".into());
            let method = props
                .get("Method")
                .and_then(scalar_string)
                .map(|m| m.to_uppercase())
                .unwrap_or_else(|| "ANY".into());
            let explicit = props
                .get("Auth")
                .and_then(|a| a.get("Authorizer"))
                .and_then(scalar_string);
            let authorized = match explicit {
                Some(name) => !name.eq_ignore_ascii_case("NONE"),
                None => self
                    .default_authorizer(props.get("ApiId"))
                    .is_some_and(|n| !n.eq_ignore_ascii_case("NONE")),
            };
            routes.push(HttpRoute {
                method,
                path,
                function: function.clone(),
                binary: binary.clone(),
                authorized,
            });
        }
        routes
    }

    pub fn s3_triggers(&self) -> Vec<S3Trigger> {
        let mut triggers = Vec::new();
        for (function, binary, event) in self.function_events("S3") {
            let props = event.get("Properties").unwrap_or(&Value::Null);
            let Some(bucket) = props.get("Bucket").and_then(referenced_id) else {
                tracing::warn!(function, "S3 event without a bucket reference; ignored");
                continue;
            };
            let events = match props.get("Events") {
                Some(Value::Sequence(s)) => s.iter().filter_map(scalar_string).collect(),
                Some(v) => scalar_string(v).into_iter().collect(),
                None => vec!["s3:ObjectCreated:*".to_string()],
            };
            let mut prefix = None;
            let mut suffix = None;
            let rules = props
                .get("Filter")
                .and_then(|f| f.get("S3Key"))
                .and_then(|k| k.get("Rules"));
            if let Some(Value::Sequence(rules)) = rules {
                for rule in rules {
                    let name = rule.get("Name").and_then(scalar_string).unwrap_or_default();
                    let value = rule.get("Value").and_then(scalar_string);
                    match name.to_ascii_lowercase().as_str() {
                        "prefix" => prefix = value,
                        "suffix" => suffix = value,
                        _ => {}
                    }
                }
            }
            triggers.push(S3Trigger {
                function: function.clone(),
                binary: binary.clone(),
                bucket,
                events,
                prefix,
                suffix,
            });
        }
        triggers
    }

    pub fn sqs_triggers(&self) -> Vec<SqsTrigger> {
        let mut triggers = Vec::new();
        for (function, binary, event) in self.function_events("SQS") {
            let props = event.get("Properties").unwrap_or(&Value::Null);
            let Some(queue) = props.get("Queue").and_then(referenced_id) else {
                tracing::warn!(function, "SQS event without a queue reference; ignored");
                continue;
            };
            let batch_size = props
                .get("BatchSize")
                .and_then(|v| {
                    v.as_i64()
                        .or_else(|| scalar_string(v).and_then(|s| s.parse().ok()))
                })
                .map(|n| n as i32)
                .unwrap_or(10);
            let report_batch_item_failures = match props.get("FunctionResponseTypes") {
                Some(Value::Sequence(types)) => types
                    .iter()
                    .filter_map(scalar_string)
                    .any(|t| t == "ReportBatchItemFailures"),
                _ => false,
            };
            triggers.push(SqsTrigger {
                function: function.clone(),
                binary: binary.clone(),
                queue,
                batch_size,
                report_batch_item_failures,
            });
        }
        triggers
    }

    pub fn parameter_default(&self, name: &str) -> Option<String> {
        self.root
            .get("Parameters")?
            .get(name)?
            .get("Default")
            .and_then(scalar_string)
    }

    /// The template's parameter names, in order.
    pub fn parameter_names(&self) -> Vec<String> {
        match self.root.get("Parameters") {
            Some(Value::Mapping(m)) => m
                .keys()
                .filter_map(Value::as_str)
                .map(str::to_string)
                .collect(),
            _ => Vec::new(),
        }
    }

    /// `Globals.Function.Environment.Variables` merged with the function's own (function wins),
    /// intrinsics resolved with `resolved`.
    pub fn function_environment(
        &self,
        function: &str,
        resolved: &Resolved,
    ) -> Result<BTreeMap<String, String>, TemplateError> {
        let resource = self
            .resources()
            .find(|(id, r)| *id == function && resource_type(r) == Some(FUNCTION_TYPE))
            .map(|(_, r)| r)
            .ok_or_else(|| TemplateError::UnknownFunction(function.to_string()))?;
        let global = self
            .root
            .get("Globals")
            .and_then(|g| g.get("Function"))
            .and_then(environment_variables);
        let own = resource.get("Properties").and_then(environment_variables);
        let mut env = BTreeMap::new();
        for variables in [global, own].into_iter().flatten() {
            for (key, value) in variables {
                let Some(key) = scalar_string(key) else {
                    continue;
                };
                let value = resolved
                    .resolve(value)
                    .map_err(|e| TemplateError::Environment {
                        function: function.to_string(),
                        variable: key.clone(),
                        source: Box::new(e),
                    })?;
                env.insert(key, value);
            }
        }
        Ok(env)
    }

    /// `(logical id, Properties or Null)` of every resource of type `ty`, in template order.
    pub fn resources_of_type(&self, ty: &str) -> Vec<(String, Value)> {
        self.resources()
            .filter(|(_, r)| resource_type(r) == Some(ty))
            .map(|(id, r)| {
                (
                    id.to_string(),
                    r.get("Properties").cloned().unwrap_or(Value::Null),
                )
            })
            .collect()
    }

    /// `(logical id, type)` of every resource, in template order.
    pub fn resource_types(&self) -> Vec<(String, String)> {
        self.resources()
            .filter_map(|(id, r)| Some((id.to_string(), resource_type(r)?.to_string())))
            .collect()
    }

    fn resources(&self) -> impl Iterator<Item = (&str, &Value)> {
        let resources = match self.root.get("Resources") {
            Some(Value::Mapping(m)) => Some(m),
            _ => None,
        };
        resources
            .into_iter()
            .flat_map(Mapping::iter)
            .filter_map(|(k, v)| Some((k.as_str()?, v)))
    }

    /// `(function, binary, event)` for every event of the given `Type` of every function.
    fn function_events(&self, event_type: &str) -> Vec<(String, String, &Value)> {
        let mut out = Vec::new();
        for (id, resource) in self.resources() {
            if resource_type(resource) != Some(FUNCTION_TYPE) {
                continue;
            }
            let binary = function_binary(id, resource);
            let Some(Value::Mapping(events)) =
                resource.get("Properties").and_then(|p| p.get("Events"))
            else {
                continue;
            };
            for event in events.values() {
                if event.get("Type").and_then(Value::as_str) == Some(event_type) {
                    out.push((id.to_string(), binary.clone(), event));
                }
            }
        }
        out
    }

    /// The default authorizer of the HTTP API an event attaches to: `ApiId: !Ref X` names an
    /// explicit `AWS::Serverless::HttpApi`; without `ApiId` SAM uses the implicit API, which only
    /// `Globals.HttpApi` configures.
    fn default_authorizer(&self, api_id: Option<&Value>) -> Option<String> {
        let global = self
            .root
            .get("Globals")
            .and_then(|g| g.get("HttpApi"))
            .and_then(|a| a.get("Auth"))
            .and_then(|a| a.get("DefaultAuthorizer"))
            .and_then(scalar_string);
        let Some(api) = api_id.and_then(referenced_id) else {
            return global;
        };
        let explicit = self
            .resources()
            .find(|(id, _)| *id == api)
            .and_then(|(_, r)| r.get("Properties"))
            .and_then(|p| p.get("Auth"))
            .and_then(|a| a.get("DefaultAuthorizer"))
            .and_then(scalar_string);
        explicit.or(global)
    }
}

fn resource_type(resource: &Value) -> Option<&str> {
    resource.get("Type").and_then(Value::as_str)
}

fn function_binary(id: &str, resource: &Value) -> String {
    resource
        .get("Metadata")
        .and_then(|m| m.get("BuildProperties"))
        .and_then(|b| b.get("Binary"))
        .and_then(scalar_string)
        .or_else(|| {
            resource
                .get("Properties")
                .and_then(|p| p.get("Handler"))
                .and_then(scalar_string)
        })
        .unwrap_or_else(|| id.to_string())
}

fn environment_variables(properties: &Value) -> Option<&Mapping> {
    match properties.get("Environment")?.get("Variables")? {
        Value::Mapping(m) => Some(m),
        _ => None,
    }
}

/// A scalar as a string (`true`, `5`, `text`); `None` for null, sequences, mappings and tags.
fn scalar_string(v: &Value) -> Option<String> {
    match v {
        Value::String(s) => Some(s.clone()),
        Value::Number(n) => Some(n.to_string()),
        Value::Bool(b) => Some(b.to_string()),
        _ => None,
    }
}

/// An intrinsic as `(name without "!"/"Fn::", argument)`: `!Ref X`, `{Ref: X}`, `!GetAtt ...`,
/// `{"Fn::GetAtt": ...}`, ...
fn intrinsic(v: &Value) -> Option<(String, &Value)> {
    match v {
        Value::Tagged(t) => {
            let tag = t.tag.to_string();
            Some((tag.trim_start_matches('!').to_string(), &t.value))
        }
        Value::Mapping(m) if m.len() == 1 => {
            let (k, arg) = m.iter().next()?;
            let k = k.as_str()?;
            if k == "Ref" {
                Some(("Ref".into(), arg))
            } else {
                k.strip_prefix("Fn::").map(|name| (name.to_string(), arg))
            }
        }
        _ => None,
    }
}

/// `(logical id, attribute)` of a `GetAtt` argument: `X.Arn` or `[X, Arn]`.
fn get_att_parts(arg: &Value) -> Option<(String, String)> {
    match arg {
        Value::String(s) => s
            .split_once('.')
            .map(|(r, a)| (r.to_string(), a.to_string())),
        Value::Sequence(parts) if parts.len() == 2 => {
            Some((parts[0].as_str()?.to_string(), scalar_string(&parts[1])?))
        }
        _ => None,
    }
}

/// The logical id a `!Ref X` or `!GetAtt X.Attr` points at (or a plain string, taken as the id).
fn referenced_id(v: &Value) -> Option<String> {
    match intrinsic(v) {
        Some((name, arg)) if name == "Ref" => arg.as_str().map(str::to_string),
        Some((name, arg)) if name == "GetAtt" => get_att_parts(arg).map(|(id, _)| id),
        Some(_) => None,
        None => v.as_str().map(str::to_string),
    }
}

impl Resolved {
    /// A value of the template as the string it becomes once deployed.
    pub fn resolve(&self, v: &Value) -> Result<String, TemplateError> {
        if let Some((name, arg)) = intrinsic(v) {
            return self.resolve_intrinsic(&name, arg);
        }
        match v {
            Value::String(s) => Ok(s.clone()),
            Value::Number(n) => Ok(n.to_string()),
            Value::Bool(b) => Ok(b.to_string()),
            Value::Null => Ok(String::new()),
            Value::Sequence(_) | Value::Mapping(_) => Err(TemplateError::Invalid(format!(
                "expected a scalar, found {v:?}"
            ))),
            Value::Tagged(t) => Err(TemplateError::Unsupported(t.tag.to_string())),
        }
    }

    /// A `!Ref` target: a pseudo parameter, a parameter or a resource.
    pub fn reference(&self, name: &str) -> Result<String, TemplateError> {
        let found = if name.starts_with("AWS::") {
            self.pseudo.get(name)
        } else {
            self.refs.get(name)
        };
        found
            .cloned()
            .ok_or_else(|| TemplateError::Unresolved(format!("!Ref {name}")))
    }

    /// A `!GetAtt` target: `Arn` from `arns[id]`, any attribute from `arns["id.Attribute"]`.
    pub fn attribute(&self, id: &str, attribute: &str) -> Result<String, TemplateError> {
        self.arns
            .get(&format!("{id}.{attribute}"))
            .or_else(|| {
                if attribute == "Arn" {
                    self.arns.get(id)
                } else {
                    None
                }
            })
            .cloned()
            .ok_or_else(|| TemplateError::Unresolved(format!("!GetAtt {id}.{attribute}")))
    }

    fn resolve_intrinsic(&self, name: &str, arg: &Value) -> Result<String, TemplateError> {
        match name {
            "Ref" => {
                let target = arg.as_str().ok_or_else(|| {
                    TemplateError::Invalid(format!("!Ref of a non-string: {arg:?}"))
                })?;
                self.reference(target)
            }
            "GetAtt" => {
                let (id, attribute) = get_att_parts(arg)
                    .ok_or_else(|| TemplateError::Invalid(format!("malformed !GetAtt {arg:?}")))?;
                self.attribute(&id, &attribute)
            }
            "Sub" => match arg {
                Value::Sequence(parts) if parts.len() == 2 => {
                    let text = parts[0].as_str().ok_or_else(|| {
                        TemplateError::Invalid("!Sub text is not a string".into())
                    })?;
                    let mut variables = HashMap::new();
                    if let Value::Mapping(m) = &parts[1] {
                        for (k, v) in m {
                            if let Some(k) = k.as_str() {
                                variables.insert(k.to_string(), self.resolve(v)?);
                            }
                        }
                    }
                    self.substitute(text, &variables)
                }
                Value::String(text) => self.substitute(text, &HashMap::new()),
                _ => Err(TemplateError::Invalid(format!("malformed !Sub {arg:?}"))),
            },
            "Join" => {
                let Value::Sequence(parts) = arg else {
                    return Err(TemplateError::Invalid(format!("malformed !Join {arg:?}")));
                };
                let [delimiter, Value::Sequence(items)] = parts.as_slice() else {
                    return Err(TemplateError::Invalid(format!("malformed !Join {arg:?}")));
                };
                let delimiter = self.resolve(delimiter)?;
                let items = items
                    .iter()
                    .map(|i| self.resolve(i))
                    .collect::<Result<Vec<_>, _>>()?;
                Ok(items.join(&delimiter))
            }
            "Select" => {
                let Value::Sequence(parts) = arg else {
                    return Err(TemplateError::Invalid(format!("malformed !Select {arg:?}")));
                };
                let [index, list] = parts.as_slice() else {
                    return Err(TemplateError::Invalid(format!("malformed !Select {arg:?}")));
                };
                let index: usize = self
                    .resolve(index)?
                    .parse()
                    .map_err(|_| TemplateError::Invalid("!Select index is not a number".into()))?;
                let items = self.resolve_list(list)?;
                items
                    .into_iter()
                    .nth(index)
                    .ok_or_else(|| TemplateError::Invalid("!Select index out of range".into()))
            }
            other => Err(TemplateError::Unsupported(format!("!{other}"))),
        }
    }

    fn resolve_list(&self, v: &Value) -> Result<Vec<String>, TemplateError> {
        if let Some((_, arg)) = intrinsic(v).filter(|(name, _)| name == "Split") {
            let Value::Sequence(parts) = arg else {
                return Err(TemplateError::Invalid(format!("malformed !Split {arg:?}")));
            };
            let [delimiter, source] = parts.as_slice() else {
                return Err(TemplateError::Invalid(format!("malformed !Split {arg:?}")));
            };
            let delimiter = self.resolve(delimiter)?;
            return Ok(self
                .resolve(source)?
                .split(delimiter.as_str())
                .map(str::to_string)
                .collect());
        }
        match v {
            Value::Sequence(items) => items.iter().map(|i| self.resolve(i)).collect(),
            _ => Err(TemplateError::Invalid(format!(
                "expected a list, found {v:?}"
            ))),
        }
    }

    /// `${Name}`, `${Res.Attr}`, `${AWS::Region}`; `${!Literal}` stays `${Literal}`.
    fn substitute(
        &self,
        text: &str,
        variables: &HashMap<String, String>,
    ) -> Result<String, TemplateError> {
        let mut out = String::with_capacity(text.len());
        let mut rest = text;
        while let Some(start) = rest.find("${") {
            out.push_str(&rest[..start]);
            let after = &rest[start + 2..];
            let end = after.find('}').ok_or_else(|| {
                TemplateError::Invalid(format!("unterminated ${{ in !Sub {text:?}"))
            })?;
            let name = after[..end].trim();
            if let Some(literal) = name.strip_prefix('!') {
                out.push_str("${");
                out.push_str(literal);
                out.push('}');
            } else if let Some(value) = variables.get(name) {
                out.push_str(value);
            } else if name.starts_with("AWS::") || !name.contains('.') {
                out.push_str(&self.reference(name)?);
            } else {
                let (id, attribute) = name.split_once('.').expect("contains a dot");
                out.push_str(&self.attribute(id, attribute)?);
            }
            rest = &after[end + 1..];
        }
        out.push_str(rest);
        Ok(out)
    }
}

#[cfg(test)]
mod tests {
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
          QUEUE_ARN_LIST: !GetAtt [StepQueue, Arn]
          QUEUE_URL: !Ref StepQueue
          SUB: !Sub "arn:${AWS::Partition}:s3:::${ImportsBucket}/x-${Stage}-${AWS::Region}-${AWS::AccountId}.${AWS::URLSuffix} ${!Literal} ${StepQueue.Arn}"
          SUB_VARS: !Sub ["${A}-${Stage}", { A: !Ref ImportsBucket }]
          LONG_FORM: { "Fn::GetAtt": ["StepQueue", "Arn"] }
          JOINED: !Join ["-", [a, !Ref Stage]]
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
        for p in template.parameter_names() {
            r.refs
                .insert(p.clone(), template.parameter_default(&p).unwrap());
        }
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
        assert_eq!(t.parameter_default("Stage").as_deref(), Some("dev"));
        assert_eq!(t.parameter_default("MaxRetries").as_deref(), Some("5"));
        assert_eq!(t.parameter_default("Nope"), None);
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
            get("QUEUE_ARN_LIST"),
            "arn:aws:sqs:eu-central-1:123456789012:t1-StepQueue"
        );
        assert_eq!(
            get("LONG_FORM"),
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
        assert_eq!(get("SUB_VARS"), "t1-importsbucket-dev");
        assert_eq!(get("JOINED"), "a-dev");
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
}
