//! Command-line text to typed component values, and results back to text.

use std::collections::BTreeMap;

use wasmtime::Store;
use wasmtime::component::{ResourceAny, ResourceType, Type, Val};

use super::Error;
use super::plugin::CallOutput;
use super::state::CallState;
use crate::spec::{ContainerSpec, ServiceSpec};
use crate::wasm::bindings::berth::core::types::{self, ErrorKind, PortForward, Protocol};

/// How results other than strings are written.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Default)]
pub enum OutputFormat {
    /// WAVE, the WebAssembly value encoding (`some(1)`, `[a, b]`, `{x: 1}`).
    #[default]
    Wave,
    /// JSON.
    Json,
}

/// Splits `--name value`, `--name=value` and bare `--flag` into pairs.
pub fn split_flags(args: &[String]) -> Result<Vec<(String, Option<String>)>, Error> {
    let mut pairs = Vec::new();
    let mut rest = args.iter().peekable();
    while let Some(arg) = rest.next() {
        let Some(flag) = arg.strip_prefix("--").filter(|f| !f.is_empty()) else {
            return Err(Error::BadArgument(arg.clone()));
        };
        match flag.split_once('=') {
            Some((name, value)) => pairs.push((name.to_string(), Some(value.to_string()))),
            None => {
                let value = rest.next_if(|next| !next.starts_with("--")).cloned();
                pairs.push((flag.to_string(), value));
            }
        }
    }
    Ok(pairs)
}

/// Turns `--name value` arguments into the values `params` asks for.
///
/// Strings are taken as they are; a bool is a switch (`--flag`, or
/// `--flag false`); numbers, chars and enums as their
/// text; an option is `none` when its flag is absent; a list takes one element
/// per repetition of its flag (or a whole WAVE list); records, variants,
/// tuples, flags and results are WAVE text. A `container` is an image address.
pub fn parse_arguments(
    function: &str,
    args: &[String],
    params: &[(String, Type)],
    store: &mut Store<CallState>,
) -> Result<Vec<Val>, Error> {
    let mut given: BTreeMap<String, Vec<Option<String>>> = BTreeMap::new();
    for (name, value) in split_flags(args)? {
        let name = name.replace('_', "-");
        if !params.iter().any(|(param, _)| *param == name) {
            return Err(Error::UnknownParameter {
                function: function.to_string(),
                name,
                valid: params.iter().map(|(p, _)| p.clone()).collect(),
            });
        }
        given.entry(name).or_default().push(value);
    }
    params
        .iter()
        .map(|(name, ty)| {
            let values = given.remove(name).unwrap_or_default();
            parameter_value(function, name, ty, &values, store)
        })
        .collect()
}

fn parameter_value(
    function: &str,
    name: &str,
    ty: &Type,
    values: &[Option<String>],
    store: &mut Store<CallState>,
) -> Result<Val, Error> {
    match ty {
        Type::Option(inner) if values.is_empty() => {
            let _ = inner;
            Ok(Val::Option(None))
        }
        Type::Option(inner) => Ok(Val::Option(Some(Box::new(parameter_value(
            function,
            name,
            &inner.ty(),
            values,
            store,
        )?)))),
        Type::List(list) if !(values.len() == 1 && is_wave_list(&values[0])) => {
            let element = list.ty();
            values
                .iter()
                .map(|value| {
                    let text = value
                        .as_deref()
                        .ok_or_else(|| missing(function, name, ty))?;
                    single_value(name, &element, text, store)
                })
                .collect::<Result<Vec<_>, _>>()
                .map(Val::List)
        }
        // A bool is a switch: absent is false, a bare flag is true.
        Type::Bool if values.is_empty() => Ok(Val::Bool(false)),
        Type::Bool if values == [None] => Ok(Val::Bool(true)),
        _ => match values {
            [] | [None] => Err(missing(function, name, ty)),
            [Some(text)] => single_value(name, ty, text, store),
            _ => Err(Error::BadValue {
                name: name.to_string(),
                value: values
                    .iter()
                    .flatten()
                    .cloned()
                    .collect::<Vec<_>>()
                    .join(" "),
                ty: describe(ty),
                message: "given more than once".into(),
            }),
        },
    }
}

fn is_wave_list(value: &Option<String>) -> bool {
    value
        .as_deref()
        .is_some_and(|v| v.trim_start().starts_with('['))
}

fn missing(function: &str, name: &str, ty: &Type) -> Error {
    Error::MissingParameter {
        function: function.to_string(),
        name: name.to_string(),
        ty: describe(ty),
    }
}

fn single_value(
    name: &str,
    ty: &Type,
    text: &str,
    store: &mut Store<CallState>,
) -> Result<Val, Error> {
    let bad = |message: String| Error::BadValue {
        name: name.to_string(),
        value: text.to_string(),
        ty: describe(ty),
        message,
    };
    match ty {
        Type::String => Ok(Val::String(text.to_string())),
        Type::Borrow(resource) | Type::Own(resource) => {
            resource_from_text(resource, text, store).map_err(bad)
        }
        _ => wasm_wave::from_str::<Val>(ty, text).map_err(|e| bad(e.to_string())),
    }
}

/// A `container` from an image address, or a `service` from a host address.
pub(super) fn resource_from_text(
    resource: &ResourceType,
    text: &str,
    store: &mut Store<CallState>,
) -> Result<Val, String> {
    let handle = if *resource == ResourceType::host::<ContainerSpec>() {
        let handle = store
            .data_mut()
            .table
            .push(ContainerSpec::new(text))
            .map_err(|e| e.to_string())?;
        ResourceAny::try_from_resource(handle, &mut *store)
    } else if *resource == ResourceType::host::<ServiceSpec>() {
        let service = service_from_address(text)?;
        // A host service given as an argument reaches only what the guest's own could.
        if let ServiceSpec::Host { host, .. } = &service {
            store.data().host.policy.host.check_service(host)?;
        }
        let handle = store
            .data_mut()
            .table
            .push(service)
            .map_err(|e| e.to_string())?;
        ResourceAny::try_from_resource(handle, &mut *store)
    } else {
        return Err("this resource cannot be given as an argument".into());
    };
    handle.map(Val::Resource).map_err(|e| e.to_string())
}

/// A short name of a type, for messages.
pub(super) fn describe(ty: &Type) -> String {
    match ty {
        Type::Bool => "bool".into(),
        Type::S8 => "s8".into(),
        Type::U8 => "u8".into(),
        Type::S16 => "s16".into(),
        Type::U16 => "u16".into(),
        Type::S32 => "s32".into(),
        Type::U32 => "u32".into(),
        Type::S64 => "s64".into(),
        Type::U64 => "u64".into(),
        Type::Float32 => "f32".into(),
        Type::Float64 => "f64".into(),
        Type::Char => "char".into(),
        Type::String => "string".into(),
        Type::List(list) => format!("list<{}>", describe(&list.ty())),
        Type::Option(inner) => format!("option<{}>", describe(&inner.ty())),
        Type::Enum(cases) => format!("enum of {}", cases.names().collect::<Vec<_>>().join(", ")),
        Type::Record(_) => "record (WAVE, like {a: 1})".into(),
        Type::Variant(_) => "variant (WAVE, like case(1))".into(),
        Type::Tuple(_) => "tuple (WAVE, like (1, 2))".into(),
        Type::Flags(_) => "flags (WAVE, like {a, b})".into(),
        Type::Result(_) => "result (WAVE, like ok(1))".into(),
        Type::Borrow(_) | Type::Own(_) => "resource".into(),
        _ => "value".into(),
    }
}

/// The result of a call, ready to show.
pub async fn render(
    value: Val,
    ty: &Type,
    format: OutputFormat,
    store: &mut Store<CallState>,
) -> Result<CallOutput, Error> {
    if let (Type::Result(result_type), Val::Result(result)) = (ty, &value)
        && result_type.err().as_ref().is_some_and(is_berth_error)
    {
        return match result {
            Err(Some(error)) => Ok(CallOutput::Failed(berth_error(error))),
            Err(None) => Ok(CallOutput::Failed(types::Error::new(
                ErrorKind::Backend,
                "failed",
            ))),
            Ok(None) => Ok(CallOutput::Nothing),
            Ok(Some(ok)) => match result_type.ok() {
                Some(ok_type) => Box::pin(render((**ok).clone(), &ok_type, format, store)).await,
                None => Ok(CallOutput::Nothing),
            },
        };
    }
    match (value, format) {
        (Val::String(text), OutputFormat::Wave) => Ok(CallOutput::Value(text)),
        (Val::Resource(resource), _) => returned_resource(resource, store),
        (value, OutputFormat::Wave) => wasm_wave::to_string(&value)
            .map(CallOutput::Value)
            .map_err(|e| Error::Engine(format!("writing the result: {e}"))),
        (value, OutputFormat::Json) => Ok(CallOutput::Value(to_json(&value).to_string())),
    }
}

/// A returned container or service, as a value the caller can act on.
fn returned_resource(
    resource: ResourceAny,
    store: &mut Store<CallState>,
) -> Result<CallOutput, Error> {
    if resource.ty() == ResourceType::host::<ContainerSpec>() {
        Ok(CallOutput::Container(host_value(resource, store)?))
    } else if resource.ty() == ResourceType::host::<ServiceSpec>() {
        Ok(CallOutput::Service(host_value(resource, store)?))
    } else {
        Ok(CallOutput::Value("<resource>".to_string()))
    }
}

/// The host value behind a resource the guest returned.
fn host_value<T: Clone + Send + 'static>(
    resource: ResourceAny,
    store: &mut Store<CallState>,
) -> Result<T, Error> {
    let handle = resource
        .try_into_resource::<T>(&mut *store)
        .map_err(|e| Error::Engine(e.to_string()))?;
    store
        .data()
        .table
        .get(&handle)
        .cloned()
        .map_err(|e| Error::Engine(e.to_string()))
}

/// Whether `ty` is berth's `types.error` record.
fn is_berth_error(ty: &Type) -> bool {
    let Type::Record(record) = ty else {
        return false;
    };
    let names: Vec<&str> = record.fields().map(|f| f.name).collect();
    names == ["kind", "message", "exit-code", "stdout", "stderr"]
}

fn berth_error(value: &Val) -> types::Error {
    let mut error = types::Error::new(ErrorKind::Backend, "");
    let Val::Record(fields) = value else {
        return error;
    };
    let text = |v: &Val| match v {
        Val::Option(Some(inner)) => match &**inner {
            Val::String(s) => Some(s.clone()),
            _ => None,
        },
        _ => None,
    };
    for (name, value) in fields {
        match (name.as_str(), value) {
            ("kind", Val::Enum(kind)) => error.kind = error_kind(kind),
            ("message", Val::String(message)) => error.message = message.clone(),
            ("exit-code", Val::Option(Some(code))) => {
                if let Val::S32(code) = **code {
                    error.exit_code = Some(code);
                }
            }
            ("stdout", v) => error.stdout = text(v),
            ("stderr", v) => error.stderr = text(v),
            _ => {}
        }
    }
    error
}

fn error_kind(name: &str) -> ErrorKind {
    match name {
        "invalid-argument" => ErrorKind::InvalidArgument,
        "not-allowed" => ErrorKind::NotAllowed,
        "limit-exceeded" => ErrorKind::LimitExceeded,
        "image-not-found" => ErrorKind::ImageNotFound,
        "exec-failed" => ErrorKind::ExecFailed,
        "unhealthy" => ErrorKind::Unhealthy,
        "service-exited" => ErrorKind::ServiceExited,
        "timeout" => ErrorKind::Timeout,
        _ => ErrorKind::Backend,
    }
}

/// A value as JSON: records are objects, variants `{"case": payload}`, options null or the value.
pub fn to_json(value: &Val) -> serde_json::Value {
    use serde_json::{Value, json};
    match value {
        Val::Bool(b) => json!(b),
        Val::S8(n) => json!(n),
        Val::U8(n) => json!(n),
        Val::S16(n) => json!(n),
        Val::U16(n) => json!(n),
        Val::S32(n) => json!(n),
        Val::U32(n) => json!(n),
        Val::S64(n) => json!(n),
        Val::U64(n) => json!(n),
        Val::Float32(n) => json!(n),
        Val::Float64(n) => json!(n),
        Val::Char(c) => json!(c.to_string()),
        Val::String(s) => json!(s),
        Val::List(items) | Val::Tuple(items) => Value::Array(items.iter().map(to_json).collect()),
        Val::Record(fields) => Value::Object(
            fields
                .iter()
                .map(|(name, value)| (name.clone(), to_json(value)))
                .collect(),
        ),
        Val::Variant(case, payload) => match payload {
            Some(payload) => json!({ case.clone(): to_json(payload) }),
            None => json!(case),
        },
        Val::Enum(case) => json!(case),
        Val::Option(None) => Value::Null,
        Val::Option(Some(inner)) => to_json(inner),
        Val::Result(Ok(ok)) => json!({ "ok": ok.as_deref().map(to_json) }),
        Val::Result(Err(err)) => json!({ "err": err.as_deref().map(to_json) }),
        Val::Flags(names) => json!(names),
        _ => json!("<resource>"),
    }
}

/// A host service from `tcp://HOST:PORT` (several ports: `tcp://HOST:PORT,PORT`).
pub fn service_from_address(address: &str) -> Result<ServiceSpec, String> {
    let rest = match address.split_once("://") {
        Some(("tcp", rest)) => rest,
        Some((scheme, _)) => {
            return Err(format!(
                "`{scheme}://` is not supported; use tcp://HOST:PORT"
            ));
        }
        None => return Err("expected tcp://HOST:PORT".into()),
    };
    let (host, ports) = match rest.strip_prefix('[') {
        // [v6 address]:ports
        Some(v6) => v6.split_once("]:").ok_or("expected tcp://[ADDRESS]:PORT")?,
        None => rest.rsplit_once(':').ok_or("expected tcp://HOST:PORT")?,
    };
    let ports = ports
        .split(',')
        .map(|port| match port.trim().parse::<u32>() {
            Ok(number @ 1..=65535) => Ok(PortForward {
                frontend: None,
                backend: number as u16,
                protocol: Protocol::Tcp,
            }),
            Ok(number) => Err(format!("port {number} is out of range (1 to 65535)")),
            Err(_) => Err(format!("`{port}` is not a port number")),
        })
        .collect::<Result<Vec<_>, _>>()?;
    super::host::host_service(host, &ports)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn strings(args: &[&str]) -> Vec<String> {
        args.iter().map(|a| a.to_string()).collect()
    }

    #[test]
    fn flags_split_every_way() {
        let pairs = split_flags(&strings(&["--a", "1", "--b=2", "--c", "--d", "x"])).unwrap();
        assert_eq!(
            pairs,
            vec![
                ("a".to_string(), Some("1".to_string())),
                ("b".to_string(), Some("2".to_string())),
                ("c".to_string(), None),
                ("d".to_string(), Some("x".to_string())),
            ]
        );
    }

    #[test]
    fn service_addresses_parse_and_check_ports() {
        let ports = |address: &str| match service_from_address(address) {
            Ok(ServiceSpec::Host { host, ports }) => {
                Ok((host, ports.iter().map(|p| p.backend).collect::<Vec<_>>()))
            }
            Ok(_) => Err("not a host service".to_string()),
            Err(e) => Err(e),
        };
        assert_eq!(
            ports("tcp://localhost:3306"),
            Ok(("localhost".to_string(), vec![3306]))
        );
        assert_eq!(
            ports("tcp://10.0.0.1:80,443"),
            Ok(("10.0.0.1".to_string(), vec![80, 443]))
        );
        assert_eq!(
            ports("tcp://[::1]:8080"),
            Ok(("::1".to_string(), vec![8080]))
        );
        assert!(
            ports("tcp://localhost:70000")
                .unwrap_err()
                .contains("out of range")
        );
        assert!(
            ports("tcp://localhost:0")
                .unwrap_err()
                .contains("out of range")
        );
        assert!(ports("udp://localhost:53").is_err());
        assert!(ports("localhost:80").is_err());
    }

    #[test]
    fn a_stray_word_is_an_error() {
        assert!(split_flags(&strings(&["word"])).is_err());
    }

    #[test]
    fn json_of_nested_values() {
        let value = Val::Record(vec![
            ("a".into(), Val::Option(Some(Box::new(Val::U32(1))))),
            ("b".into(), Val::Variant("x".into(), None)),
        ]);
        assert_eq!(to_json(&value).to_string(), r#"{"a":1,"b":"x"}"#);
    }
}
