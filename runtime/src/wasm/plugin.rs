use std::sync::Arc;

use tracing::instrument;
use wasmtime::Store;
use wasmtime::component::types::ComponentItem;
use wasmtime::component::{Component, InstancePre, ResourceTableError, Val};

use super::Error;
use super::json_args;
use super::runtime::Runtime;
use super::signature::FunctionSignature;
use super::state::{CallState, HostContext};
use super::values::{self, OutputFormat};
use crate::budget::CallBudget;
use crate::wasm::bindings::berth::core::types;

/// Import names a plugin may use: berth's own contract and the WASI berth links.
const ALLOWED_IMPORT_PREFIXES: &[&str] = &["berth:core/", "wasi:"];

/// A loaded, validated and linked plugin.
pub struct Plugin {
    name: String,
    pre: InstancePre<CallState>,
    functions: Vec<FunctionSignature>,
    imports: Vec<String>,
}

/// A call's arguments as they arrive.
enum Arguments<'a> {
    /// `--name value` from the command line.
    Flags(&'a [String]),
    /// A JSON object, from `berth serve`.
    Json(&'a serde_json::Map<String, serde_json::Value>),
}

/// What a call produced, ready to show.
#[derive(Debug)]
pub enum CallOutput {
    /// The result as text (a string as it is, other values as WAVE or JSON).
    Value(String),
    /// The function returned `result::err` with a berth error.
    Failed(types::Error),
    /// The function returns nothing.
    Nothing,
    /// The function returned a service.
    Service(crate::spec::ServiceSpec),
    /// The function returned a container.
    Container(crate::spec::ContainerSpec),
}

impl Plugin {
    /// Validates, compiles (or loads from cache) and links `bytes`; `name`
    /// (a path, or `NAME@VERSION` from the store) is what errors call it.
    pub(super) fn new(runtime: &Runtime, name: &str, bytes: &[u8]) -> Result<Plugin, Error> {
        let plugin = name.to_string();
        if !wasmparser::Parser::is_component(bytes) {
            return Err(if wasmparser::Parser::is_core_wasm(bytes) {
                Error::CoreModule { plugin }
            } else {
                Error::NotWasm { plugin }
            });
        }
        let (component, functions) = runtime
            .component_cache()
            .load(runtime.engine(), bytes)
            .map_err(|e| Error::InvalidComponent {
                plugin: plugin.clone(),
                message: format!("{e:#}"),
            })?;
        let imports = checked_imports(&plugin, runtime, &component)?;
        let pre = runtime
            .linker()
            .instantiate_pre(&component)
            .map_err(|e| Error::Link {
                plugin: plugin.clone(),
                message: format!("{e:#}"),
            })?;
        Ok(Plugin {
            name: plugin,
            pre,
            functions,
            imports,
        })
    }

    /// What the plugin was loaded as: its path, or `NAME@VERSION`.
    pub fn name(&self) -> &str {
        &self.name
    }

    /// The interfaces the component imports (berth:core and WASI only).
    pub fn imports(&self) -> &[String] {
        &self.imports
    }

    /// The exported functions with their WIT signatures.
    pub fn functions(&self) -> &[FunctionSignature] {
        &self.functions
    }

    /// The signature of `function`, or an error listing the functions there are.
    pub fn signature(&self, function: &str) -> Result<&FunctionSignature, Error> {
        self.functions
            .iter()
            .find(|f| f.name == function)
            .ok_or_else(|| Error::UnknownFunction {
                name: function.to_string(),
                plugin: self.name.clone(),
                available: self.functions.iter().map(|f| f.name.clone()).collect(),
            })
    }

    /// Calls `function` with `--name value` arguments, within the policy's deadline.
    pub async fn call(
        &self,
        host: Arc<HostContext>,
        function: &str,
        args: &[String],
        format: OutputFormat,
    ) -> Result<CallOutput, Error> {
        self.call_with(host, function, Arguments::Flags(args), format)
            .await
    }

    /// Calls `function` with a JSON object of arguments, within the policy's deadline.
    pub async fn call_json(
        &self,
        host: Arc<HostContext>,
        function: &str,
        args: &serde_json::Map<String, serde_json::Value>,
        format: OutputFormat,
    ) -> Result<CallOutput, Error> {
        self.call_with(host, function, Arguments::Json(args), format)
            .await
    }

    #[instrument(skip(self, host, args), fields(plugin = %self.name), err(level = "debug"))]
    async fn call_with(
        &self,
        host: Arc<HostContext>,
        function: &str,
        args: Arguments<'_>,
        format: OutputFormat,
    ) -> Result<CallOutput, Error> {
        self.signature(function)?;
        let timeout = host.policy.limits.timeout;
        let resources = host.policy.limits.resources;
        let budget = CallBudget::new(&host.policy.limits);
        let mut store = Store::new(self.pre.engine(), CallState::new(host, function));
        store.limiter(|state| &mut state.limits);
        store.epoch_deadline_async_yield_and_update(1);
        let trap = |e: wasmtime::Error| trapped(function, &e, resources);
        let call = async {
            let instance = self.pre.instantiate_async(&mut store).await.map_err(trap)?;
            let func = instance
                .get_func(&mut store, function)
                .ok_or_else(|| Error::Trap {
                    function: function.to_string(),
                    message: "the component's type lists it but the instance does not export it"
                        .into(),
                })?;
            let ty = func.ty(&store);
            let params: Vec<_> = ty
                .params()
                .map(|(name, ty)| (name.to_string(), ty))
                .collect();
            let arguments = match args {
                Arguments::Flags(flags) => {
                    values::parse_arguments(function, flags, &params, &mut store)?
                }
                Arguments::Json(object) => {
                    json_args::json_arguments(function, object, &params, &mut store)?
                }
            };
            let result_type = ty.results().next();
            let mut results = vec![Val::Bool(false); ty.results().len()];
            func.call_async(&mut store, &arguments, &mut results)
                .await
                .map_err(trap)?;
            match (results.pop(), result_type) {
                (Some(value), Some(ty)) => values::render(value, &ty, format, &mut store).await,
                _ => Ok(CallOutput::Nothing),
            }
        };
        let call = budget.scope(crate::pipeline::failed_steps::scope(call));
        let outcome = tokio::time::timeout(timeout, call).await;
        let limits = &store.data().host.policy.limits;
        match outcome {
            Ok(Err(Error::Trap { .. })) if store.data().limits.memory_refused() => {
                Err(Error::MemoryLimit {
                    function: function.to_string(),
                    limit: limits.memory,
                })
            }
            Ok(output) => output,
            Err(_) => Err(Error::Timeout {
                function: function.to_string(),
                seconds: timeout.as_secs_f64(),
            }),
        }
    }
}

/// A trap as one line, its cause; the wasm backtrace goes to the debug log (`-v`).
fn trapped(function: &str, error: &wasmtime::Error, resources: u32) -> Error {
    tracing::debug!(function, "trap: {error:?}");
    let table_full = error
        .chain()
        .any(|cause| matches!(cause.downcast_ref(), Some(ResourceTableError::Full)));
    if table_full {
        return Error::ResourceLimit {
            function: function.to_string(),
            limit: resources,
        };
    }
    Error::Trap {
        function: function.to_string(),
        message: error.root_cause().to_string(),
    }
}

/// The component's imports, refused unless each is one berth provides.
fn checked_imports(
    plugin: &str,
    runtime: &Runtime,
    component: &Component,
) -> Result<Vec<String>, Error> {
    let ty = component.component_type();
    let mut imports = Vec::new();
    for (name, import) in ty.imports(runtime.engine()) {
        // A world-level `use` imports a type under a bare name; it names a type
        // of an allowed interface and brings no capability of its own.
        if matches!(
            import.ty,
            ComponentItem::Type(_) | ComponentItem::Resource(_)
        ) {
            continue;
        }
        if !ALLOWED_IMPORT_PREFIXES.iter().any(|p| name.starts_with(p)) {
            return Err(Error::ForeignImport {
                plugin: plugin.to_string(),
                import: name.to_string(),
            });
        }
        imports.push(name.to_string());
    }
    Ok(imports)
}
