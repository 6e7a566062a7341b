//! Where `gancho plugin` keeps precompiled plugins, so that checking or running the same component again
//! loads it in milliseconds instead of compiling it again (20 s for a 12 MB JavaScript component). A
//! directory that cannot be used is skipped with a warning: the cache only ever saves time.

use std::ffi::OsString;
use std::path::{Path, PathBuf};

use clap::Args;

/// The `--cache-dir` option of `plugin check`, `plugin run` and `plugin build`.
#[derive(Args, Debug, Clone, Default)]
pub struct CacheArgs {
    /// Directory for precompiled plugins [default: $XDG_CACHE_HOME/gancho/precompiled, else
    /// ~/.cache/gancho/precompiled]. If it cannot be used, the plugin is compiled without it (a warning).
    #[arg(long, env = "GANCHO_CACHE_DIR", value_name = "DIR")]
    pub cache_dir: Option<PathBuf>,
}

impl CacheArgs {
    /// The directory to keep precompiled plugins in, created if needed; `None`, after a warning on stderr,
    /// when there is none that can be written to.
    pub fn usable_dir(&self) -> Option<PathBuf> {
        let chosen = self.cache_dir.clone().filter(|dir| !dir.as_os_str().is_empty());
        let Some(dir) = chosen.or_else(|| default_dir(|key| std::env::var_os(key))) else {
            eprintln!(
                "warning: no directory for precompiled plugins (neither XDG_CACHE_HOME nor HOME is set); \
                 compiling the plugin, which may take a while; pass --cache-dir or set GANCHO_CACHE_DIR"
            );
            return None;
        };
        match probe(&dir) {
            Ok(()) => Some(dir),
            Err(error) => {
                eprintln!(
                    "warning: cannot use {} for precompiled plugins ({error}); compiling the plugin without \
                     the cache; pass --cache-dir or set GANCHO_CACHE_DIR to a writable directory",
                    dir.display()
                );
                None
            }
        }
    }
}

/// `$XDG_CACHE_HOME/gancho/precompiled`, else `$HOME/.cache/gancho/precompiled` (the XDG base directory
/// rules: a relative `XDG_CACHE_HOME` is ignored).
fn default_dir(env: impl Fn(&str) -> Option<OsString>) -> Option<PathBuf> {
    let xdg = env("XDG_CACHE_HOME").map(PathBuf::from).filter(|dir| dir.is_absolute());
    let home = || env("HOME").filter(|home| !home.is_empty()).map(|home| PathBuf::from(home).join(".cache"));
    Some(xdg.or_else(home)?.join("gancho").join("precompiled"))
}

/// Creates `dir` and writes and removes a file in it: a cache directory that only fails when the compiled
/// plugin is stored would cost a second compilation.
fn probe(dir: &Path) -> std::io::Result<()> {
    std::fs::create_dir_all(dir)?;
    let probe = dir.join(format!(".probe-{}", std::process::id()));
    std::fs::write(&probe, b"")?;
    std::fs::remove_file(&probe)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn env<'a>(vars: &'a [(&str, &str)]) -> impl Fn(&str) -> Option<OsString> + 'a {
        move |key| vars.iter().find(|(k, _)| *k == key).map(|(_, v)| OsString::from(v))
    }

    #[test]
    fn default_dir_follows_xdg_then_home() {
        let both = [("XDG_CACHE_HOME", "/xdg"), ("HOME", "/home/ana")];
        assert_eq!(default_dir(env(&both)), Some(PathBuf::from("/xdg/gancho/precompiled")));
        let relative_xdg = [("XDG_CACHE_HOME", "cache"), ("HOME", "/home/ana")];
        let home = Some(PathBuf::from("/home/ana/.cache/gancho/precompiled"));
        assert_eq!(default_dir(env(&relative_xdg)), home);
        assert_eq!(default_dir(env(&[("HOME", "/home/ana")])), home);
        assert_eq!(default_dir(env(&[("HOME", "")])), None);
        assert_eq!(default_dir(env(&[])), None);
    }

    #[test]
    fn a_file_in_the_way_is_not_usable_and_a_new_dir_is_created() {
        let temp = tempfile::tempdir().unwrap();
        let file = temp.path().join("file");
        std::fs::write(&file, b"x").unwrap();
        assert_eq!(CacheArgs { cache_dir: Some(file.join("cache")) }.usable_dir(), None);
        let dir = temp.path().join("a/b");
        assert_eq!(CacheArgs { cache_dir: Some(dir.clone()) }.usable_dir(), Some(dir.clone()));
        assert_eq!(std::fs::read_dir(&dir).unwrap().count(), 0, "the probe file is removed");
    }
}
