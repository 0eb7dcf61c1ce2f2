//! Function arguments from JSON (`berth serve`): an object from parameter
//! names to values, each written as `--json` writes results of its type.
//!
//! Records are objects, lists and tuples arrays, enums strings, a variant
//! case `"case"` or `{"case": payload}`, a result `{"ok": v}` or `{"err": v}`,
//! flags an array of names, an option `null` or its value, a `container` an
//! image address and a `service` a host address (`tcp://HOST:PORT`).

use serde_json::{Map, Value};
use wasmtime::Store;
use wasmtime::component::{Type, Val};

use super::Error;
use super::state::CallState;
use super::values::{describe, resource_from_text};

/// The values `params` asks for, from a JSON object of arguments.
pub fn json_arguments(
    function: &str,
    args: &Map<String, Value>,
    params: &[(String, Type)],
    store: &mut Store<CallState>,
) -> Result<Vec<Val>, Error> {
    if let Some(unknown) = args
        .keys()
        .find(|name| !params.iter().any(|(p, _)| p == *name))
    {
        return Err(Error::UnknownParameter {
            function: function.to_string(),
            name: unknown.clone(),
            valid: params.iter().map(|(p, _)| p.clone()).collect(),
        });
    }
    params
        .iter()
        .map(|(name, ty)| match (args.get(name), ty) {
            (None | Some(Value::Null), Type::Option(_)) => Ok(Val::Option(None)),
            (None, _) => Err(Error::MissingParameter {
                function: function.to_string(),
                name: name.clone(),
                ty: describe(ty),
            }),
            (Some(value), _) => from_json(name, ty, value, store),
        })
        .collect()
}

fn from_json(
    name: &str,
    ty: &Type,
    json: &Value,
    store: &mut Store<CallState>,
) -> Result<Val, Error> {
    let bad = |message: &str| Error::BadValue {
        name: name.to_string(),
        value: json.to_string(),
        ty: describe(ty),
        message: message.to_string(),
    };
    let text = || json.as_str().ok_or_else(|| bad("expected a JSON string"));
    let signed = || json.as_i64().ok_or_else(|| bad("expected an integer"));
    let unsigned = || {
        json.as_u64()
            .ok_or_else(|| bad("expected a non-negative integer"))
    };
    let range = |_| bad("out of range");
    let array = || json.as_array().ok_or_else(|| bad("expected a JSON array"));
    Ok(match ty {
        Type::Bool => Val::Bool(
            json.as_bool()
                .ok_or_else(|| bad("expected true or false"))?,
        ),
        Type::S8 => Val::S8(signed()?.try_into().map_err(range)?),
        Type::S16 => Val::S16(signed()?.try_into().map_err(range)?),
        Type::S32 => Val::S32(signed()?.try_into().map_err(range)?),
        Type::S64 => Val::S64(signed()?),
        Type::U8 => Val::U8(unsigned()?.try_into().map_err(range)?),
        Type::U16 => Val::U16(unsigned()?.try_into().map_err(range)?),
        Type::U32 => Val::U32(unsigned()?.try_into().map_err(range)?),
        Type::U64 => Val::U64(unsigned()?),
        Type::Float32 => {
            Val::Float32(json.as_f64().ok_or_else(|| bad("expected a number"))? as f32)
        }
        Type::Float64 => Val::Float64(json.as_f64().ok_or_else(|| bad("expected a number"))?),
        Type::Char => {
            let mut chars = text()?.chars();
            match (chars.next(), chars.next()) {
                (Some(c), None) => Val::Char(c),
                _ => return Err(bad("expected a string of one character")),
            }
        }
        Type::String => Val::String(text()?.to_string()),
        Type::List(list) => Val::List(
            array()?
                .iter()
                .map(|item| from_json(name, &list.ty(), item, store))
                .collect::<Result<_, _>>()?,
        ),
        Type::Tuple(tuple) => {
            let items = array()?;
            let types: Vec<Type> = tuple.types().collect();
            if items.len() != types.len() {
                return Err(bad(&format!("expected an array of {}", types.len())));
            }
            Val::Tuple(
                items
                    .iter()
                    .zip(&types)
                    .map(|(item, ty)| from_json(name, ty, item, store))
                    .collect::<Result<_, _>>()?,
            )
        }
        Type::Record(record) => {
            let object = json
                .as_object()
                .ok_or_else(|| bad("expected a JSON object"))?;
            let fields: Vec<_> = record
                .fields()
                .map(|f| (f.name.to_string(), f.ty))
                .collect();
            if let Some(unknown) = object.keys().find(|k| !fields.iter().any(|(f, _)| f == *k)) {
                return Err(bad(&format!("the record has no field `{unknown}`")));
            }
            let mut values = Vec::new();
            for (field, ty) in fields {
                let value = match (object.get(&field), &ty) {
                    (None | Some(Value::Null), Type::Option(_)) => Val::Option(None),
                    (None, _) => return Err(bad(&format!("field `{field}` is missing"))),
                    (Some(value), _) => from_json(name, &ty, value, store)?,
                };
                values.push((field, value));
            }
            Val::Record(values)
        }
        Type::Enum(cases) => {
            let case = text()?;
            if !cases.names().any(|c| c == case) {
                return Err(bad("not one of the enum's cases"));
            }
            Val::Enum(case.to_string())
        }
        Type::Variant(variant) => {
            let (case, payload) = match json {
                Value::String(case) => (case.as_str(), None),
                Value::Object(object) if object.len() == 1 => {
                    let (case, payload) = object.iter().next().ok_or_else(|| bad("empty"))?;
                    (case.as_str(), Some(payload))
                }
                _ => return Err(bad("expected \"case\" or {\"case\": payload}")),
            };
            let known = variant
                .cases()
                .find(|c| c.name == case)
                .ok_or_else(|| bad(&format!("no case `{case}`")))?;
            let payload = match (known.ty, payload) {
                (Some(ty), Some(payload)) => Some(Box::new(from_json(name, &ty, payload, store)?)),
                (None, None) => None,
                (Some(_), None) => return Err(bad(&format!("case `{case}` needs a payload"))),
                (None, Some(_)) => return Err(bad(&format!("case `{case}` has no payload"))),
            };
            Val::Variant(case.to_string(), payload)
        }
        Type::Option(inner) => match json {
            Value::Null => Val::Option(None),
            value => Val::Option(Some(Box::new(from_json(name, &inner.ty(), value, store)?))),
        },
        Type::Result(result) => {
            let object = json
                .as_object()
                .filter(|o| o.len() == 1)
                .ok_or_else(|| bad("expected {\"ok\": v} or {\"err\": v}"))?;
            let side = |ty: Option<Type>, value: &Value, store: &mut Store<CallState>| match ty {
                Some(ty) => from_json(name, &ty, value, store).map(|v| Some(Box::new(v))),
                None => Ok(None),
            };
            match (object.get("ok"), object.get("err")) {
                (Some(value), None) => Val::Result(Ok(side(result.ok(), value, store)?)),
                (None, Some(value)) => Val::Result(Err(side(result.err(), value, store)?)),
                _ => return Err(bad("expected {\"ok\": v} or {\"err\": v}")),
            }
        }
        Type::Flags(flags) => {
            let mut set = Vec::new();
            for item in array()? {
                let flag = item
                    .as_str()
                    .ok_or_else(|| bad("expected an array of flag names"))?;
                if !flags.names().any(|f| f == flag) {
                    return Err(bad(&format!("no flag `{flag}`")));
                }
                set.push(flag.to_string());
            }
            Val::Flags(set)
        }
        Type::Borrow(resource) | Type::Own(resource) => {
            resource_from_text(resource, text()?, store).map_err(|m| bad(&m))?
        }
        _ => return Err(bad("this type cannot be given as JSON")),
    })
}
