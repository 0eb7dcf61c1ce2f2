//! Host bindings generated from `wit/`.

wasmtime::component::bindgen!({
    path: "../wit",
    world: "berth:core/plugin",
    imports: { default: async | trappable },
    with: {
        "berth:core/containers.container": crate::wasm::state::ContainerHandle,
        "berth:core/containers.service": crate::wasm::state::ServiceHandle,
        "berth:core/containers.directory": crate::wasm::state::DirectoryHandle,
    },
});
