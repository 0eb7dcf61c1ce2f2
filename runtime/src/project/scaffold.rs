//! `berth new`: a plugin project in one of the languages berth is proven
//! with, whose one export runs a container, ready for `berth build`.

use std::path::{Path, PathBuf};
use std::str::FromStr;

use super::{Error, Project};

/// A language `berth new` writes plugins in.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Language {
    Rust,
    Python,
    JavaScript,
    C,
}

/// One file of a template: where it goes and what it holds, with
/// `{{name}}`, `{{snake}}`, `{{description}}` still to fill in.
type TemplateFile = (&'static str, &'static str);

macro_rules! template {
    ($lang:literal: $($path:literal => $source:literal),* $(,)?) => {
        &[$(($path, include_str!(concat!("../../templates/", $lang, "/", $source)))),*]
    };
}

const COMMON: &[TemplateFile] = template!("common":
    "wit/world.wit" => "world.wit",
    "README.md" => "README.md",
);

/// berth:core itself, so the project builds without this repository.
const BERTH_CORE: TemplateFile = (
    "wit/deps/berth-core/berth.wit",
    include_str!("../../../wit/berth.wit"),
);

impl Language {
    /// The names `--lang` accepts.
    pub const NAMES: [&'static str; 4] = ["rust", "python", "js", "c"];

    fn files(self) -> &'static [TemplateFile] {
        match self {
            Language::Rust => template!("rust":
                "berth-plugin.toml" => "berth-plugin.toml",
                "Cargo.toml" => "Cargo.toml",
                "src/lib.rs" => "src/lib.rs",
                ".gitignore" => "gitignore",
            ),
            Language::Python => template!("python":
                "berth-plugin.toml" => "berth-plugin.toml",
                "app.py" => "app.py",
                ".gitignore" => "gitignore",
            ),
            Language::JavaScript => template!("js":
                "berth-plugin.toml" => "berth-plugin.toml",
                "package.json" => "package.json",
                "plugin.js" => "plugin.js",
                ".gitignore" => "gitignore",
            ),
            Language::C => template!("c":
                "berth-plugin.toml" => "berth-plugin.toml",
                "plugin.c" => "plugin.c",
                ".gitignore" => "gitignore",
            ),
        }
    }

    fn title(self) -> &'static str {
        match self {
            Language::Rust => "Rust",
            Language::Python => "Python",
            Language::JavaScript => "JavaScript",
            Language::C => "C",
        }
    }

    /// What must be installed before `berth build`, as the README says it.
    fn prerequisites(self) -> &'static str {
        match self {
            Language::Rust => {
                "Needs Rust with the wasm32-wasip2 target (`rustup target add wasm32-wasip2`)."
            }
            Language::Python => {
                "Needs componentize-py on the PATH (`pip install componentize-py==0.25.1`)."
            }
            Language::JavaScript => {
                "Needs Node.js and npm; the build installs componentize-js from package.json."
            }
            Language::C => {
                "Needs clang, lld and wasi-libc (Debian: `apt-get install clang lld wasi-libc libclang-rt-dev-wasm32`); berth writes the bindings and makes the component itself."
            }
        }
    }
}

impl FromStr for Language {
    type Err = String;

    fn from_str(text: &str) -> Result<Language, String> {
        match text {
            "rust" => Ok(Language::Rust),
            "python" => Ok(Language::Python),
            "js" | "javascript" => Ok(Language::JavaScript),
            "c" => Ok(Language::C),
            other => Err(format!(
                "`{other}` is not a language berth writes plugins in; choose one of {}",
                Language::NAMES.join(", ")
            )),
        }
    }
}

/// Writes a new plugin project called `name` into `dir`, which must not exist.
///
/// `name` becomes the plugin's name, its WIT package and world, and (in Rust
/// and JavaScript) its package name, so it must be a WIT identifier.
pub fn create(dir: &Path, name: &str, language: Language) -> Result<Project, Error> {
    check_wit_name(name).map_err(|message| Error::BadProjectFile {
        path: dir.join(super::PROJECT_FILE),
        message,
    })?;
    if dir.exists() {
        return Err(Error::Exists(dir.to_path_buf()));
    }
    let description = format!("A berth plugin in {}", language.title());
    let mut files: Vec<TemplateFile> = COMMON.to_vec();
    files.extend_from_slice(language.files());
    for (relative, template) in files.into_iter().chain([BERTH_CORE]) {
        let text = template
            .replace("{{name}}", name)
            .replace("{{snake}}", &name.replace('-', "_"))
            .replace("{{description}}", &description)
            .replace("{{language}}", language.title())
            .replace("{{prerequisites}}", language.prerequisites());
        write(&dir.join(relative), &text)?;
    }
    let project = Project::load(dir)?;
    // The README names the command and component the project file sets.
    let readme = dir.join("README.md");
    let text = std::fs::read_to_string(&readme)
        .map_err(|source| io("reading", &readme, source))?
        .replace("{{command}}", &project.build_steps().command)
        .replace(
            "{{component}}",
            &project.file.component.display().to_string(),
        );
    write(&readme, &text)?;
    Ok(project)
}

/// WIT identifiers: lowercase words of letters and digits joined by `-`, each starting with a letter.
fn check_wit_name(name: &str) -> Result<(), String> {
    let valid = !name.is_empty()
        && name.split('-').all(|word| {
            word.starts_with(|c: char| c.is_ascii_lowercase())
                && word
                    .chars()
                    .all(|c| c.is_ascii_lowercase() || c.is_ascii_digit())
        });
    if valid {
        Ok(())
    } else {
        Err(format!(
            "`{name}` cannot name a plugin project: it becomes the WIT world's name, so use lowercase words of letters and digits joined by `-`, each starting with a letter (such as `my-plugin`)"
        ))
    }
}

fn write(path: &Path, text: &str) -> Result<(), Error> {
    if let Some(parent) = path.parent() {
        std::fs::create_dir_all(parent).map_err(|source| io("creating", parent, source))?;
    }
    std::fs::write(path, text).map_err(|source| io("writing", path, source))
}

fn io(action: &'static str, path: &Path, source: std::io::Error) -> Error {
    Error::Io {
        action,
        path: PathBuf::from(path),
        source,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_language_writes_a_project_that_reads_back() {
        let dir = tempfile::tempdir().unwrap();
        for name in Language::NAMES {
            let language: Language = name.parse().unwrap();
            let project =
                create(&dir.path().join(name), &format!("demo-{name}"), language).unwrap();
            assert_eq!(project.metadata().name, format!("demo-{name}"));
            let readme = std::fs::read_to_string(dir.path().join(name).join("README.md")).unwrap();
            assert!(!readme.contains("{{"), "{readme}");
            assert!(
                dir.path()
                    .join(name)
                    .join("wit/deps/berth-core/berth.wit")
                    .exists()
            );
        }
    }

    #[test]
    fn names_that_are_not_wit_identifiers_and_existing_folders_are_refused() {
        let dir = tempfile::tempdir().unwrap();
        for bad in ["Demo", "1demo", "demo_x", "demo-", ""] {
            assert!(
                create(&dir.path().join("x"), bad, Language::C).is_err(),
                "{bad:?}"
            );
        }
        assert!(matches!(
            create(dir.path(), "demo", Language::C),
            Err(Error::Exists(_))
        ));
    }
}
