//! Where the shipped default models are, wherever the binary runs from.
//!
//! Search order for a model named `name` (e.g. `vocals`):
//! 1. `$SAEX_MODELS/<name>` when `SAEX_MODELS` is set (a folder of model folders);
//! 2. the binary's own models, the first of these that is a folder:
//!    - `<folder of the executable>/models/<name>` (a release archive: binary and models/ side
//!      by side);
//!    - `<folder of the executable>/../share/saex/models/<name>` (an install under a prefix);
//! 3. only for a binary that has no models of its own (a build: `target/release/saex`, the
//!    tests, the Python module): `<folder of the executable>/../../models/<name>` (the
//!    checkout's `target/release/saex`) and the `models/<name>` of the source tree it was built
//!    from, once each. An installed copy never falls back to the checkout it was built in.

use crate::error::{Error, Result};
use std::path::{Path, PathBuf};

/// The name of the default model for `saex extract`.
pub const DEFAULT_MODEL: &str = "vocals";

/// `SAEX_MODELS`, when it is set and not empty (an empty value is as good as unset, as
/// shells' `SAEX_MODELS= saex ...` means).
fn models_root() -> Option<PathBuf> {
    std::env::var_os("SAEX_MODELS")
        .filter(|root| !root.is_empty())
        .map(PathBuf::from)
}

/// The folders of model folders that ship with this binary, in order (see the module docs):
/// its own (`exe_dir/models` or `exe_dir/../share/saex/models`) when it has them, else those of
/// the `checkout` it was built in; a folder reached twice is listed once.
pub fn shipped_roots(exe_dir: Option<&Path>, checkout: &Path) -> Vec<PathBuf> {
    let tidy = |p: PathBuf| p.canonicalize().unwrap_or(p);
    if let Some(dir) = exe_dir {
        for own in [dir.join("models"), dir.join("../share/saex/models")] {
            if own.is_dir() {
                return vec![tidy(own)];
            }
        }
    }
    let mut roots: Vec<PathBuf> = Vec::new();
    let build = exe_dir.map(|dir| dir.join("../../models"));
    for root in build.into_iter().chain([checkout.join("models")]) {
        let root = tidy(root);
        if !roots.contains(&root) {
            roots.push(root);
        }
    }
    roots
}

/// The folders of model folders searched, in order: `SAEX_MODELS` when set, then
/// [`shipped_roots`] of this binary.
fn model_roots() -> Vec<PathBuf> {
    let exe_dir = std::env::current_exe()
        .ok()
        .and_then(|exe| exe.canonicalize().ok())
        .and_then(|exe| exe.parent().map(Path::to_path_buf));
    models_root()
        .into_iter()
        .chain(shipped_roots(
            exe_dir.as_deref(),
            Path::new(env!("CARGO_MANIFEST_DIR")),
        ))
        .collect()
}

/// The folders searched for a model by name, in order.
pub fn model_search_path(name: &str) -> Vec<PathBuf> {
    model_roots().iter().map(|root| root.join(name)).collect()
}

/// The first folder of [`model_search_path`] that holds a `config.json`. A `SAEX_MODELS` that
/// is not a folder is an error (a typo there would otherwise fall back silently).
pub fn find_model(name: &str) -> Result<PathBuf> {
    if let Some(root) = models_root() {
        if !root.is_dir() {
            return Err(Error::Invalid(format!(
                "SAEX_MODELS={}: no such folder (it should hold model folders such as {name}/)",
                Path::new(&root).display()
            )));
        }
    }
    let places = model_search_path(name);
    places
        .iter()
        .find(|p| p.join("config.json").is_file())
        // `target/release/../../models/vocals` reads better as the folder it is.
        .map(|p| p.canonicalize().unwrap_or_else(|_| p.clone()))
        .ok_or_else(|| {
            let list: Vec<String> = places.iter().map(|p| p.display().to_string()).collect();
            let mut there = match shipped_models().as_slice() {
                [] => "no shipped models were found".to_string(),
                names => format!("the shipped models are {}", names.join(", ")),
            };
            if let Some(root) = models_root() {
                let names = names_in(&root);
                there += &format!(
                    "; SAEX_MODELS holds {}",
                    if names.is_empty() {
                        "none".to_string()
                    } else {
                        names.join(", ")
                    }
                );
            }
            Error::Invalid(format!(
                "the shipped model {name:?} was not found: {there} (pass --model DIR, or set \
                 SAEX_MODELS to a folder of model folders; looked in {})",
                list.join(", ")
            ))
        })
}

/// The model folder a `--model` argument names: a folder holding `config.json` as given, or
/// else, for a bare name such as `bass`, the shipped model of that name ([`find_model`]), even
/// when the current folder happens to hold something called `bass` that is not a model (write
/// `./bass` to mean that folder).
pub fn resolve_model(arg: &Path) -> Result<PathBuf> {
    if arg.join("config.json").is_file() {
        return Ok(arg.to_path_buf());
    }
    let bare = matches!(
        arg.components().collect::<Vec<_>>().as_slice(),
        [std::path::Component::Normal(_)]
    );
    match arg.to_str() {
        Some(name) if bare && !arg.exists() => find_model(name),
        Some(name) if bare => Ok(find_model(name).unwrap_or_else(|_| arg.to_path_buf())),
        _ => Ok(arg.to_path_buf()),
    }
}

/// Whether `dir` is a shipped or installed model: one of the folders that [`find_model`]
/// searches for its name (the checkout's `models/`, `PREFIX/share/saex/models/`, ...), which
/// commands should not rewrite as a side effect.
pub fn is_shipped(dir: &Path) -> bool {
    let (Ok(dir), Some(name)) = (dir.canonicalize(), dir.file_name()) else {
        return false;
    };
    model_search_path(&name.to_string_lossy())
        .iter()
        .filter_map(|p| p.canonicalize().ok())
        .any(|p| p == dir)
}

/// The names of the shipped models (e.g. `bass`, `drums`, `vocals`), sorted: the model folders
/// of the binary's own models, or of its checkout (not those of `SAEX_MODELS`).
pub fn shipped_models() -> Vec<String> {
    let roots: Vec<PathBuf> = model_roots()
        .into_iter()
        .skip(usize::from(models_root().is_some()))
        .collect();
    names_of(&roots)
}

/// Every model that `--model NAME` finds: those of `SAEX_MODELS` and the shipped ones, sorted.
pub fn models_by_name() -> Vec<String> {
    names_of(&model_roots())
}

/// The names of the model folders (holding `config.json`) in `root`, sorted.
pub fn names_in(root: &Path) -> Vec<String> {
    names_of(&[root.to_path_buf()])
}

fn names_of(roots: &[PathBuf]) -> Vec<String> {
    let mut names: Vec<String> = roots
        .iter()
        .filter_map(|root| std::fs::read_dir(root).ok())
        .flatten()
        .flatten()
        .filter(|e| e.path().join("config.json").is_file())
        .map(|e| e.file_name().to_string_lossy().into_owned())
        .collect();
    names.sort();
    names.dedup();
    names
}

/// `SAEX_MODELS` as set (not empty), for messages.
pub fn models_env() -> Option<PathBuf> {
    models_root()
}

/// saex's cache folder: `$SAEX_CACHE`, else `$XDG_CACHE_HOME/saex`, else `$HOME/.cache/saex`
/// (where the scripts put LibTorch and the corpus).
fn cache_dir() -> Option<PathBuf> {
    if let Some(dir) = std::env::var_os("SAEX_CACHE") {
        return Some(PathBuf::from(dir));
    }
    if let Some(dir) = std::env::var_os("XDG_CACHE_HOME") {
        return Some(PathBuf::from(dir).join("saex"));
    }
    std::env::var_os("HOME").map(|home| PathBuf::from(home).join(".cache/saex"))
}

/// `path` as recorded in a model's config.json: under the [`cache_dir`] it is written
/// `$SAEX_CACHE/...`, so that a model names its corpus by how it is made, not by where it lay
/// on the machine that trained it; any other path as given.
pub fn portable_path(path: &Path) -> String {
    let portable = cache_dir().and_then(|cache| {
        let rest = path.strip_prefix(&cache).ok()?;
        Some(Path::new("$SAEX_CACHE").join(rest))
    });
    portable.as_deref().unwrap_or(path).display().to_string()
}

/// The path that [`portable_path`] wrote: `$SAEX_CACHE/...` under this machine's [`cache_dir`],
/// any other text as a path (a relative one stays relative). `None` when it names the cache and
/// there is none.
pub fn resolve_portable(text: &str) -> Option<PathBuf> {
    match text.strip_prefix("$SAEX_CACHE") {
        Some(rest) if rest.is_empty() || rest.starts_with('/') => {
            Some(cache_dir()?.join(rest.trim_start_matches('/')))
        }
        _ => Some(PathBuf::from(text)),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn portable_paths_resolve_back() {
        let cache = cache_dir().unwrap();
        let path = cache.join("corpus-v2");
        assert_eq!(portable_path(&path), "$SAEX_CACHE/corpus-v2");
        assert_eq!(resolve_portable(&portable_path(&path)).unwrap(), path);
        assert_eq!(
            resolve_portable("data/stems").unwrap(),
            PathBuf::from("data/stems")
        );
        assert_eq!(
            resolve_portable("$SAEX_CACHEX").unwrap(),
            PathBuf::from("$SAEX_CACHEX")
        );
    }

    #[test]
    fn bare_names_find_shipped_models_and_folders_stay() {
        let dir = tempfile::tempdir().unwrap();
        assert_eq!(resolve_model(dir.path()).unwrap(), dir.path());
        assert!(resolve_model(Path::new("vocals"))
            .unwrap()
            .join("config.json")
            .is_file());
        assert!(shipped_models().contains(&"vocals".to_string()));
    }

    #[test]
    fn paths_under_the_cache_are_written_portably() {
        let cache = cache_dir().expect("HOME is set");
        assert_eq!(
            portable_path(&cache.join("corpus-v1/test")),
            "$SAEX_CACHE/corpus-v1/test"
        );
        assert_eq!(portable_path(Path::new("data/x")), "data/x");
    }

    /// An installed binary (PREFIX/bin/saex beside PREFIX/share/saex/models) or a release
    /// archive (saex beside models/) searches its own models only, never the checkout it was
    /// built in; a build searches the checkout's once (was: the checkout listed twice, and an
    /// installed copy fell back to it).
    #[test]
    fn an_installed_binary_uses_its_own_models_only() {
        let dir = tempfile::tempdir().unwrap();
        let root = dir.path().canonicalize().unwrap();
        let checkout = root.join("checkout");
        std::fs::create_dir_all(checkout.join("models/bass")).unwrap();
        std::fs::create_dir_all(checkout.join("target/release")).unwrap();
        let prefix = root.join("prefix");
        std::fs::create_dir_all(prefix.join("bin")).unwrap();
        std::fs::create_dir_all(prefix.join("share/saex/models")).unwrap();
        let archive = root.join("archive");
        std::fs::create_dir_all(archive.join("models")).unwrap();

        assert_eq!(
            shipped_roots(Some(&prefix.join("bin")), &checkout),
            [prefix.join("share/saex/models")]
        );
        assert_eq!(
            shipped_roots(Some(&archive), &checkout),
            [archive.join("models")]
        );
        assert_eq!(
            shipped_roots(Some(&checkout.join("target/release")), &checkout),
            [checkout.join("models")]
        );
        // A test binary (target/release/deps) and an unknown executable: the checkout's.
        assert_eq!(shipped_roots(None, &checkout), [checkout.join("models")]);
    }
}
