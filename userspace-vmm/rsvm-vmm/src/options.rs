//! Parsers for the options that take a list of key=value pairs (--disk).

use std::path::PathBuf;

/// One --disk.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct DiskSpec {
    pub path: PathBuf,
    pub read_only: bool,
}

/// "FILE", or "path=FILE[,ro=on|off]".
pub fn parse_disk(s: &str) -> Result<DiskSpec, String> {
    if !s.starts_with("path=") {
        if s.is_empty() {
            return Err("empty file name".into());
        }
        return Ok(DiskSpec { path: s.into(), read_only: false });
    }
    let mut d = DiskSpec { path: PathBuf::new(), read_only: false };
    for kv in s.split(',') {
        match kv.split_once('=') {
            Some(("path", p)) if !p.is_empty() => d.path = p.into(),
            Some(("ro", v)) => d.read_only = parse_bool(v).ok_or_else(|| format!("ro={v}: expected on or off"))?,
            _ => return Err(format!("'{kv}': expected path=FILE or ro=on|off")),
        }
    }
    Ok(d)
}

fn parse_bool(v: &str) -> Option<bool> {
    match v {
        "on" | "true" | "1" | "yes" => Some(true),
        "off" | "false" | "0" | "no" => Some(false),
        _ => None,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn disks() {
        assert_eq!(parse_disk("a.img"), Ok(DiskSpec { path: "a.img".into(), read_only: false }));
        assert_eq!(parse_disk("path=/x/b.img,ro=on"), Ok(DiskSpec { path: "/x/b.img".into(), read_only: true }));
        assert_eq!(parse_disk("path=c,ro=off"), Ok(DiskSpec { path: "c".into(), read_only: false }));
        assert_eq!(parse_disk("path=c,ro=maybe").unwrap_err(), "ro=maybe: expected on or off");
        assert_eq!(parse_disk("path=c,cache=none").unwrap_err(), "'cache=none': expected path=FILE or ro=on|off");
        assert_eq!(parse_disk("path=").unwrap_err(), "'path=': expected path=FILE or ro=on|off");
        assert!(parse_disk("").is_err());
    }
}
