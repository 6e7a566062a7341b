//! The languages a plugin can be written in, and how a plugin directory says which it is.

use std::path::Path;

/// A plugin's language, as `gancho plugin new --lang` takes it.
#[derive(Debug, Clone, Copy, PartialEq, Eq, clap::ValueEnum)]
pub enum Language {
    /// A Rust crate with gancho-sdk (Cargo.toml).
    Rust,
    /// A JavaScript module with @gancho/plugin-sdk (package.json), built with QuickJS.
    Js,
    /// A Python module with gancho_sdk (plugin.py), built with componentize-py.
    Python,
}

impl Language {
    /// The language of the plugin in `dir`: a Cargo.toml, a package.json or a plugin.py says it.
    pub fn of_dir(dir: &Path) -> Result<Language, String> {
        if dir.join("Cargo.toml").is_file() {
            Ok(Language::Rust)
        } else if dir.join("package.json").is_file() {
            Ok(Language::Js)
        } else if dir.join("plugin.py").is_file() {
            Ok(Language::Python)
        } else {
            Err(format!(
                "{}: no Cargo.toml there, nor a package.json or plugin.py; pass the directory of a plugin \\
                 (`gancho plugin new NAME --lang rust|js|python` makes one)",
                dir.display()
            ))
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_directory_says_its_language_by_its_files() {
        let temp = tempfile::tempdir().unwrap();
        assert!(Language::of_dir(temp.path()).unwrap_err().contains("no Cargo.toml there"));
        std::fs::write(temp.path().join("plugin.py"), "").unwrap();
        assert_eq!(Language::of_dir(temp.path()), Ok(Language::Python));
        std::fs::write(temp.path().join("package.json"), "{}").unwrap();
        assert_eq!(Language::of_dir(temp.path()), Ok(Language::Js));
        std::fs::write(temp.path().join("Cargo.toml"), "").unwrap();
        assert_eq!(Language::of_dir(temp.path()), Ok(Language::Rust));
    }
}
