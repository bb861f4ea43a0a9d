//! Which scripts may read their own folder.
//!
//! A script may always read the folder its file is in (Rumble scripts load
//! modules and data from beside themselves), unless that folder, or anything
//! beneath it, holds what no script may read: rumble.conf, the DataFolder
//! (the store with password hashes, the TLS key made there), the
//! StorageFolder, the CacheFolder, a configured TLS certificate or key, a
//! domain's mail folder, or another script's folder below it. Such a script
//! is confined to its own file: the host hands it its source and mounts no
//! part of the folder. The operator is told to lay scripts out as
//! `plugins/<name>/<name>.lua`.

use std::path::{Path, PathBuf};

use super::script::FolderAccess;
use crate::config::{ScriptSpec, Settings};

/// A path no script may read through its own folder, and what it is.
#[derive(Debug, Clone)]
pub struct Secret {
    pub path: PathBuf,
    pub what: String,
}

/// What the server keeps secret from scripts' folders, from the settings,
/// the config file and the domains' mail folders.
pub fn secrets(settings: &Settings, config_file: &Path, domain_folders: &[PathBuf]) -> Vec<Secret> {
    let mut list = vec![
        secret(config_file, "the config file"),
        secret(&settings.data_folder, "the DataFolder"),
        secret(&settings.storage_folder, "the StorageFolder"),
        secret(&settings.cache_folder, "the CacheFolder"),
    ];
    list.extend(settings.tls_certificate.iter().map(|p| secret(p, "the TLS certificate")));
    list.extend(settings.tls_key.iter().map(|p| secret(p, "the TLS key")));
    list.extend(domain_folders.iter().map(|p| secret(p, "a domain's mail folder")));
    list
}

fn secret(path: &Path, what: &str) -> Secret {
    Secret { path: real_path(path), what: format!("{what} ({})", path.display()) }
}

/// Whether `spec` may read its folder, given the secrets and every script.
pub fn folder_access(spec: &ScriptSpec, scripts: &[ScriptSpec], secrets: &[Secret]) -> FolderAccess {
    let dir = real_path(&script_folder(spec));
    if let Some(s) = secrets.iter().find(|s| s.path.starts_with(&dir)) {
        return FolderAccess::Confined(s.what.clone());
    }
    let nested = scripts.iter().filter(|other| other.name != spec.name).find(|other| {
        let theirs = real_path(&script_folder(other));
        theirs != dir && theirs.starts_with(&dir)
    });
    match nested {
        Some(other) => FolderAccess::Confined(format!("script \"{}\"'s folder", other.name)),
        None => FolderAccess::Readable,
    }
}

/// The folder holding the script.
pub fn script_folder(spec: &ScriptSpec) -> PathBuf {
    spec.path.parent().map(PathBuf::from).unwrap_or_else(|| PathBuf::from("/"))
}

/// `path` with symlinks resolved as far as it exists, the rest lexically
/// normalised, so a secret that does not exist yet (a DataFolder made at
/// start) or sits behind a symlink is still found.
pub fn real_path(path: &Path) -> PathBuf {
    let abs = std::path::absolute(path).unwrap_or_else(|_| path.to_path_buf());
    let mut existing = abs.as_path();
    let mut rest: Vec<&std::ffi::OsStr> = Vec::new();
    loop {
        if let Ok(real) = existing.canonicalize() {
            let mut out = real;
            for part in rest.iter().rev() {
                match part.to_str() {
                    Some("..") => {
                        out.pop();
                    }
                    Some(".") => {}
                    _ => out.push(part),
                }
            }
            return out;
        }
        match (existing.parent(), existing.file_name()) {
            (Some(parent), Some(name)) => {
                rest.push(name);
                existing = parent;
            }
            _ => return abs,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::config::{GrantSet, ScriptLimits};

    fn spec(name: &str, path: PathBuf) -> ScriptSpec {
        ScriptSpec {
            name: name.into(),
            path_written: path.display().to_string(),
            path,
            line: 1,
            grants: GrantSet::default(),
            limits: ScriptLimits::default(),
        }
    }

    #[test]
    fn a_script_beside_the_config_is_confined() {
        let dir = tempfile::tempdir().unwrap();
        let conf = dir.path().join("rumble.conf");
        std::fs::write(&conf, "").unwrap();
        let evil = spec("evil", dir.path().join("evil.lua"));
        let secrets = vec![secret(&conf, "the config file"), secret(&dir.path().join("data"), "the DataFolder")];
        let access = folder_access(&evil, std::slice::from_ref(&evil), &secrets);
        assert!(matches!(&access, FolderAccess::Confined(w) if w.contains("config file")), "{access:?}");
    }

    #[test]
    fn a_plugin_folder_of_its_own_is_readable() {
        let dir = tempfile::tempdir().unwrap();
        let good = spec("good", dir.path().join("plugins/good/good.lua"));
        let other = spec("other", dir.path().join("plugins/other/other.lua"));
        let secrets = vec![secret(&dir.path().join("rumble.conf"), "the config file")];
        let all = [good.clone(), other];
        assert_eq!(folder_access(&good, &all, &secrets), FolderAccess::Readable);
    }

    #[test]
    fn a_folder_above_another_script_is_confined() {
        let dir = tempfile::tempdir().unwrap();
        let top = spec("top", dir.path().join("plugins/top.lua"));
        let inner = spec("inner", dir.path().join("plugins/inner/inner.lua"));
        let all = [top.clone(), inner.clone()];
        assert!(matches!(folder_access(&top, &all, &[]), FolderAccess::Confined(w) if w.contains("inner")));
        assert_eq!(folder_access(&inner, &all, &[]), FolderAccess::Readable);
    }

    #[test]
    fn secrets_behind_symlinks_and_not_yet_made_are_found() {
        let dir = tempfile::tempdir().unwrap();
        let real = dir.path().join("real");
        std::fs::create_dir(&real).unwrap();
        std::os::unix::fs::symlink(&real, dir.path().join("link")).unwrap();
        let s = secret(&dir.path().join("link/data/db"), "the DataFolder");
        assert_eq!(s.path, real.canonicalize().unwrap().join("data/db"));
        let script = spec("s", real.join("s.lua"));
        assert!(matches!(folder_access(&script, std::slice::from_ref(&script), &[s]), FolderAccess::Confined(_)));
    }
}
