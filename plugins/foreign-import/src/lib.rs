//! A plugin that imports an interface berth does not provide; berth must refuse to load it.

wit_bindgen::generate!({
    path: ["../../wit", "wit"],
    world: "berth-plugins:foreign-import/foreign-import",
    generate_all,
});

struct ForeignImport;

impl Guest for ForeignImport {
    fn today() -> String {
        berth_plugins::foreign_import::weather::forecast()
    }
}

export!(ForeignImport);
