//! Reading `template.yaml` (AWS SAM) for the local runtime: the HTTP routes, S3, SQS and DynamoDB
//! stream triggers of the functions, the rate schedules that invoke them, their environment, the
//! parameters and the resources to provision. Reading
//! the deployed template (instead of a second, local description of the stack) is what keeps
//! local and cloud from drifting.
//!
//! Only the short intrinsics the template uses where it is read locally are supported: `!Ref X`,
//! `!GetAtt X.Attr` and `!Sub "..."`; what they resolve to comes from [`Resolved`], which the
//! provisioner fills.

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

/// A `DynamoDB` event of a function: Lambda's event source mapping on a table's stream.
#[derive(Debug, Clone)]
pub struct DynamoDbTrigger {
    pub function: String,
    pub binary: String,
    /// `Stream`, e.g. `!GetAtt CrmTable.StreamArn` (resolved once provisioned).
    pub stream: Value,
    /// `TRIM_HORIZON` or `LATEST`.
    pub starting_position: String,
    /// At most this many (matching) records per invocation; 100 unless set.
    pub batch_size: usize,
    /// `FunctionResponseTypes` contains `ReportBatchItemFailures`.
    pub report_batch_item_failures: bool,
    pub bisect_batch_on_function_error: bool,
    /// `MaximumRetryAttempts`; `None`: retried until the records expire (AWS's -1).
    pub maximum_retry_attempts: Option<u32>,
    /// `DestinationConfig.OnFailure.Destination` (an SQS queue ARN, unresolved).
    pub on_failure: Option<Value>,
    /// `FilterCriteria.Filters[].Pattern`: JSON event patterns; a record matching any is
    /// delivered (none: every record).
    pub filter_patterns: Vec<String>,
}

/// An `AWS::Scheduler::Schedule` with a `rate(...)` expression whose target is a function of the
/// template.
#[derive(Debug, Clone)]
pub struct RateSchedule {
    /// Logical id of the schedule.
    pub name: String,
    /// Logical id of the target function.
    pub function: String,
    pub binary: String,
    pub period: chrono::TimeDelta,
    /// `Target.Input`: the event the function is invoked with (`{}` when absent).
    pub input: String,
    /// `State` is not `DISABLED`.
    pub enabled: bool,
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
        let template = Self {
            root: serde_yaml::from_str(yaml)?,
        };
        let Some(Value::Mapping(resources)) = template.root.get("Resources") else {
            return Err(TemplateError::Invalid("no Resources mapping".into()));
        };
        for (id, resource) in resources {
            if resource_type(resource).is_none() {
                return Err(TemplateError::Invalid(format!(
                    "resource {id:?} has no Type"
                )));
            }
        }
        Ok(template)
    }

    /// Every HTTP API event of every function, in template order.
    pub fn http_routes(&self) -> Vec<HttpRoute> {
        let mut routes = Vec::new();
        for (function, binary, props) in self.function_events("HttpApi") {
            let authorizer = props
                .get("Auth")
                .and_then(|a| a.get("Authorizer"))
                .and_then(scalar_string)
                .or_else(|| self.default_authorizer(props.get("ApiId")));
            routes.push(HttpRoute {
                method: props
                    .get("Method")
                    .and_then(scalar_string)
                    .map_or("ANY".into(), |m| m.to_uppercase()),
                path: props
                    .get("Path")
                    .and_then(scalar_string)
                    .unwrap_or_else(|| "/{proxy+}".into()),
                function,
                binary,
                authorized: authorizer.is_some_and(|n| !n.eq_ignore_ascii_case("NONE")),
            });
        }
        routes
    }

    pub fn s3_triggers(&self) -> Vec<S3Trigger> {
        let mut triggers = Vec::new();
        for (function, binary, props) in self.function_events("S3") {
            let Some(bucket) = props.get("Bucket").and_then(referenced_id) else {
                tracing::warn!(function, "S3 event without a bucket reference; ignored");
                continue;
            };
            let events = match props.get("Events") {
                Some(Value::Sequence(s)) => s.iter().filter_map(scalar_string).collect(),
                Some(v) => scalar_string(v).into_iter().collect(),
                None => vec!["s3:ObjectCreated:*".to_string()],
            };
            let rules = props
                .get("Filter")
                .and_then(|f| f.get("S3Key"))
                .and_then(|k| k.get("Rules"));
            let rule = |name: &str| {
                sequence(rules)
                    .iter()
                    .find(|r| r.get("Name").and_then(Value::as_str) == Some(name))
                    .and_then(|r| r.get("Value"))
                    .and_then(scalar_string)
            };
            triggers.push(S3Trigger {
                prefix: rule("prefix"),
                suffix: rule("suffix"),
                function,
                binary,
                bucket,
                events,
            });
        }
        triggers
    }

    pub fn sqs_triggers(&self) -> Vec<SqsTrigger> {
        let mut triggers = Vec::new();
        for (function, binary, props) in self.function_events("SQS") {
            let Some(queue) = props.get("Queue").and_then(referenced_id) else {
                tracing::warn!(function, "SQS event without a queue reference; ignored");
                continue;
            };
            triggers.push(SqsTrigger {
                batch_size: props.get("BatchSize").and_then(Value::as_i64).unwrap_or(10) as i32,
                report_batch_item_failures: sequence(props.get("FunctionResponseTypes"))
                    .iter()
                    .any(|t| t.as_str() == Some("ReportBatchItemFailures")),
                function,
                binary,
                queue,
            });
        }
        triggers
    }

    pub fn dynamodb_triggers(&self) -> Vec<DynamoDbTrigger> {
        let mut triggers = Vec::new();
        for (function, binary, props) in self.function_events("DynamoDB") {
            let Some(stream) = props.get("Stream").cloned() else {
                tracing::warn!(function, "DynamoDB event without a stream; ignored");
                continue;
            };
            let text = |key: &str| props.get(key).and_then(scalar_string);
            let retries = props.get("MaximumRetryAttempts").and_then(Value::as_i64);
            triggers.push(DynamoDbTrigger {
                stream,
                starting_position: text("StartingPosition").unwrap_or_else(|| "LATEST".into()),
                batch_size: props
                    .get("BatchSize")
                    .and_then(Value::as_u64)
                    .unwrap_or(100) as usize,
                report_batch_item_failures: sequence(props.get("FunctionResponseTypes"))
                    .iter()
                    .any(|t| t.as_str() == Some("ReportBatchItemFailures")),
                bisect_batch_on_function_error: props
                    .get("BisectBatchOnFunctionError")
                    .and_then(Value::as_bool)
                    .unwrap_or(false),
                maximum_retry_attempts: retries.filter(|r| *r >= 0).map(|r| r as u32),
                on_failure: props
                    .get("DestinationConfig")
                    .and_then(|d| d.get("OnFailure"))
                    .and_then(|o| o.get("Destination"))
                    .cloned(),
                filter_patterns: sequence(
                    props.get("FilterCriteria").and_then(|f| f.get("Filters")),
                )
                .iter()
                .filter_map(|f| f.get("Pattern").and_then(scalar_string))
                .collect(),
                function,
                binary,
            });
        }
        triggers
    }

    /// Every `AWS::Scheduler::Schedule` whose expression is `rate(...)` and whose target is a
    /// function of the template (`Arn: !GetAtt F.Arn`), in template order.
    pub fn rate_schedules(&self) -> Vec<RateSchedule> {
        let mut schedules = Vec::new();
        for (name, props) in self.resources_of_type("AWS::Scheduler::Schedule") {
            let Some(period) = props
                .get("ScheduleExpression")
                .and_then(Value::as_str)
                .and_then(crate::scheduler::parse_rate_expression)
            else {
                continue;
            };
            let target = props.get("Target");
            let Some(function) = target.and_then(|t| t.get("Arn")).and_then(referenced_id) else {
                continue;
            };
            let Some(binary) = self.function_binary(&function) else {
                continue;
            };
            schedules.push(RateSchedule {
                input: target
                    .and_then(|t| t.get("Input"))
                    .and_then(scalar_string)
                    .unwrap_or_else(|| "{}".into()),
                enabled: props.get("State").and_then(Value::as_str) != Some("DISABLED"),
                name,
                function,
                binary,
                period,
            });
        }
        schedules
    }

    /// The cargo binary of function `function` (logical id); `None` if it is not a function.
    pub fn function_binary(&self, function: &str) -> Option<String> {
        self.resources()
            .find(|(id, r)| *id == function && resource_type(r) == Some(FUNCTION_TYPE))
            .map(|(id, r)| binary_of(id, r))
    }

    /// The `CorsConfiguration` of the HTTP API (the first `AWS::Serverless::HttpApi` that has
    /// one, else `Globals.HttpApi`'s), unresolved; `None` when CORS is not configured.
    pub fn http_api_cors(&self) -> Option<Value> {
        self.resources_of_type(HTTP_API_TYPE)
            .into_iter()
            .find_map(|(_, props)| props.get("CorsConfiguration").cloned())
            .or_else(|| {
                self.root
                    .get("Globals")?
                    .get("HttpApi")?
                    .get("CorsConfiguration")
                    .cloned()
            })
    }

    /// The parameters that have a `Default`, with it.
    pub fn parameter_defaults(&self) -> HashMap<String, String> {
        let Some(Value::Mapping(parameters)) = self.root.get("Parameters") else {
            return HashMap::new();
        };
        parameters
            .iter()
            .filter_map(|(k, p)| Some((k.as_str()?.to_string(), scalar_string(p.get("Default")?)?)))
            .collect()
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
            .ok_or_else(|| TemplateError::UnknownFunction(function.to_string()))?
            .1;
        let global = self.root.get("Globals").and_then(|g| g.get("Function"));
        let mut env = BTreeMap::new();
        for props in [global, resource.get("Properties")].into_iter().flatten() {
            let Some(Value::Mapping(variables)) =
                props.get("Environment").and_then(|e| e.get("Variables"))
            else {
                continue;
            };
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
                let props = r.get("Properties").cloned().unwrap_or(Value::Null);
                (id.to_string(), props)
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
        self.root
            .get("Resources")
            .and_then(Value::as_mapping)
            .into_iter()
            .flat_map(Mapping::iter)
            .filter_map(|(k, v)| Some((k.as_str()?, v)))
    }

    /// `(function, binary, event Properties)` for every event of the given `Type` of every
    /// function.
    fn function_events(&self, event_type: &str) -> Vec<(String, String, &Value)> {
        let mut out = Vec::new();
        for (id, resource) in self.resources() {
            if resource_type(resource) != Some(FUNCTION_TYPE) {
                continue;
            }
            let binary = binary_of(id, resource);
            let events = resource.get("Properties").and_then(|p| p.get("Events"));
            for event in events
                .and_then(Value::as_mapping)
                .into_iter()
                .flat_map(Mapping::values)
            {
                if event.get("Type").and_then(Value::as_str) == Some(event_type) {
                    let props = event.get("Properties").unwrap_or(&Value::Null);
                    out.push((id.to_string(), binary.clone(), props));
                }
            }
        }
        out
    }

    /// The default authorizer of the HTTP API an event attaches to: `ApiId: !Ref X` names an
    /// explicit `AWS::Serverless::HttpApi`; without `ApiId` SAM uses the implicit API, which only
    /// `Globals.HttpApi` configures.
    fn default_authorizer(&self, api_id: Option<&Value>) -> Option<String> {
        let default = |api: Option<&Value>| {
            api?.get("Auth")?
                .get("DefaultAuthorizer")
                .and_then(scalar_string)
        };
        let global = default(self.root.get("Globals").and_then(|g| g.get("HttpApi")));
        let Some(api) = api_id.and_then(referenced_id) else {
            return global;
        };
        let explicit = self
            .resources()
            .find(|(id, _)| *id == api)
            .and_then(|(_, r)| default(r.get("Properties")));
        explicit.or(global)
    }
}

/// `Metadata.BuildProperties.Binary` of a function resource (its logical id when absent).
fn binary_of(id: &str, resource: &Value) -> String {
    resource
        .get("Metadata")
        .and_then(|m| m.get("BuildProperties"))
        .and_then(|b| b.get("Binary"))
        .and_then(scalar_string)
        .unwrap_or_else(|| id.to_string())
}

fn resource_type(resource: &Value) -> Option<&str> {
    resource.get("Type").and_then(Value::as_str)
}

fn sequence(v: Option<&Value>) -> &[Value] {
    v.and_then(Value::as_sequence).map_or(&[], Vec::as_slice)
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

/// A short-form intrinsic as `(name without "!", argument)`.
fn intrinsic(v: &Value) -> Option<(String, &Value)> {
    let Value::Tagged(t) = v else { return None };
    Some((
        t.tag.to_string().trim_start_matches('!').to_string(),
        &t.value,
    ))
}

/// The logical id a `!Ref X` or `!GetAtt X.Attr` points at (or a plain string, taken as the id).
fn referenced_id(v: &Value) -> Option<String> {
    match intrinsic(v) {
        Some((name, arg)) if name == "Ref" || name == "GetAtt" => {
            let s = arg.as_str()?;
            Some(s.split('.').next().unwrap_or(s).to_string())
        }
        Some(_) => None,
        None => v.as_str().map(str::to_string),
    }
}

impl Resolved {
    /// A value of the template as the string it becomes once deployed.
    pub fn resolve(&self, v: &Value) -> Result<String, TemplateError> {
        let Some((name, arg)) = intrinsic(v) else {
            return match v {
                Value::Null => Ok(String::new()),
                _ => scalar_string(v).ok_or_else(|| {
                    TemplateError::Invalid(format!("expected a scalar, found {v:?}"))
                }),
            };
        };
        let text = arg
            .as_str()
            .ok_or_else(|| TemplateError::Invalid(format!("!{name} of a non-string: {arg:?}")))?;
        match name.as_str() {
            "Ref" => self.reference(text),
            "GetAtt" => {
                let (id, attribute) = text
                    .split_once('.')
                    .ok_or_else(|| TemplateError::Invalid(format!("malformed !GetAtt {text}")))?;
                self.attribute(id, attribute)
            }
            "Sub" => self.substitute(text),
            other => Err(TemplateError::Unsupported(format!("!{other}"))),
        }
    }

    /// A `!Ref` target: a pseudo parameter, a parameter or a resource.
    fn reference(&self, name: &str) -> Result<String, TemplateError> {
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
    fn attribute(&self, id: &str, attribute: &str) -> Result<String, TemplateError> {
        self.arns
            .get(&format!("{id}.{attribute}"))
            .or_else(|| self.arns.get(id).filter(|_| attribute == "Arn"))
            .cloned()
            .ok_or_else(|| TemplateError::Unresolved(format!("!GetAtt {id}.{attribute}")))
    }

    /// `${Name}`, `${Res.Attr}`, `${AWS::Region}`; `${!Literal}` stays `${Literal}`.
    fn substitute(&self, text: &str) -> Result<String, TemplateError> {
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
                out.push_str(&format!("${{{literal}}}"));
            } else if let Some((id, attribute)) =
                name.split_once('.').filter(|_| !name.starts_with("AWS::"))
            {
                out.push_str(&self.attribute(id, attribute)?);
            } else {
                out.push_str(&self.reference(name)?);
            }
            rest = &after[end + 1..];
        }
        out.push_str(rest);
        Ok(out)
    }
}

#[cfg(test)]
mod tests;
