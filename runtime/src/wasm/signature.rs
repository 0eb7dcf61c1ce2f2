//! Exported functions of a component, written as WIT.

use wit_parser::decoding::{DecodedWasm, decode};
use wit_parser::{Handle, Resolve, Type, TypeDefKind, WorldItem, WorldKey};

/// One exported function and its WIT signature.
#[derive(Clone, Debug, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
pub struct FunctionSignature {
    /// The export name, such as `http-service`.
    pub name: String,
    /// The signature as WIT, such as `http-service: func() -> service`.
    pub wit: String,
    /// The parameter names, in order.
    pub params: Vec<String>,
}

/// The functions a component exports at its top level, in export order.
///
/// Returns `None` when the bytes are not a component with a WIT world.
pub fn exported_functions(bytes: &[u8]) -> Option<Vec<FunctionSignature>> {
    let DecodedWasm::Component(resolve, world) = decode(bytes).ok()? else {
        return None;
    };
    let functions = resolve.worlds[world]
        .exports
        .iter()
        .filter_map(|(key, item)| match (key, item) {
            (WorldKey::Name(name), WorldItem::Function(function)) => Some(FunctionSignature {
                name: name.clone(),
                wit: format!("{name}: {}", function_type(&resolve, function)),
                params: function.params.iter().map(|p| p.name.clone()).collect(),
            }),
            _ => None,
        })
        .collect();
    Some(functions)
}

fn function_type(resolve: &Resolve, function: &wit_parser::Function) -> String {
    let params: Vec<String> = function
        .params
        .iter()
        .map(|param| format!("{}: {}", param.name, type_name(resolve, &param.ty)))
        .collect();
    match &function.result {
        Some(result) => format!(
            "func({}) -> {}",
            params.join(", "),
            type_name(resolve, result)
        ),
        None => format!("func({})", params.join(", ")),
    }
}

/// A type as WIT writes it: named types by name, anonymous ones spelled out.
pub fn type_name(resolve: &Resolve, ty: &Type) -> String {
    let id = match ty {
        Type::Bool => return "bool".into(),
        Type::U8 => return "u8".into(),
        Type::U16 => return "u16".into(),
        Type::U32 => return "u32".into(),
        Type::U64 => return "u64".into(),
        Type::S8 => return "s8".into(),
        Type::S16 => return "s16".into(),
        Type::S32 => return "s32".into(),
        Type::S64 => return "s64".into(),
        Type::F32 => return "f32".into(),
        Type::F64 => return "f64".into(),
        Type::Char => return "char".into(),
        Type::String => return "string".into(),
        Type::ErrorContext => return "error-context".into(),
        Type::Id(id) => *id,
    };
    let def = &resolve.types[id];
    if let Some(name) = &def.name {
        return name.clone();
    }
    let optional = |ty: &Option<Type>| match ty {
        Some(ty) => type_name(resolve, ty),
        None => "_".to_string(),
    };
    match &def.kind {
        TypeDefKind::List(inner) => format!("list<{}>", type_name(resolve, inner)),
        TypeDefKind::FixedLengthList(inner, n) => {
            format!("list<{}, {n}>", type_name(resolve, inner))
        }
        TypeDefKind::Map(k, v) => {
            format!("map<{}, {}>", type_name(resolve, k), type_name(resolve, v))
        }
        TypeDefKind::Option(inner) => format!("option<{}>", type_name(resolve, inner)),
        TypeDefKind::Result(result) => match (&result.ok, &result.err) {
            (None, None) => "result".to_string(),
            (ok, None) => format!("result<{}>", optional(ok)),
            (ok, err) => format!("result<{}, {}>", optional(ok), optional(err)),
        },
        TypeDefKind::Tuple(tuple) => {
            let types: Vec<String> = tuple.types.iter().map(|t| type_name(resolve, t)).collect();
            format!("tuple<{}>", types.join(", "))
        }
        TypeDefKind::Handle(Handle::Own(resource)) => resource_name(resolve, *resource),
        TypeDefKind::Handle(Handle::Borrow(resource)) => {
            format!("borrow<{}>", resource_name(resolve, *resource))
        }
        TypeDefKind::Future(inner) => match inner {
            Some(inner) => format!("future<{}>", type_name(resolve, inner)),
            None => "future".to_string(),
        },
        TypeDefKind::Stream(inner) => match inner {
            Some(inner) => format!("stream<{}>", type_name(resolve, inner)),
            None => "stream".to_string(),
        },
        TypeDefKind::Type(inner) => type_name(resolve, inner),
        _ => "<anonymous>".to_string(),
    }
}

fn resource_name(resolve: &Resolve, id: wit_parser::TypeId) -> String {
    let def = &resolve.types[id];
    match (&def.name, &def.kind) {
        (Some(name), _) => name.clone(),
        (None, TypeDefKind::Type(Type::Id(target))) => resource_name(resolve, *target),
        (None, _) => "resource".to_string(),
    }
}
