//! Parsers for the options that take a list of key=value pairs (--disk, --net).

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

/// One --net.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct NetSpec {
    pub tap: String,
    /// None: the VMM picks 52:54:00:12:34:5N (N = the device's index).
    pub mac: Option<[u8; 6]>,
}

/// "tap=NAME[,mac=52:54:00:12:34:56]".
pub fn parse_net(s: &str) -> Result<NetSpec, String> {
    let mut tap = None;
    let mut mac = None;
    for kv in s.split(',') {
        match kv.split_once('=') {
            Some(("tap", n)) => {
                if n.is_empty() || n.len() > crate::tap::IFNAME_MAX || n.contains('/') || n.chars().any(char::is_whitespace) {
                    return Err(format!("tap={n}: an interface name is 1 to {} characters, no '/' or spaces", crate::tap::IFNAME_MAX));
                }
                tap = Some(n.to_string());
            }
            Some(("mac", m)) => mac = Some(parse_mac(m)?),
            _ => return Err(format!("'{kv}': expected tap=NAME or mac=MAC")),
        }
    }
    Ok(NetSpec { tap: tap.ok_or("tap=NAME is required")?, mac })
}

/// "52:54:00:12:34:56": six hex bytes, a unicast address.
pub fn parse_mac(m: &str) -> Result<[u8; 6], String> {
    let bad = || format!("mac={m}: expected six hex bytes like 52:54:00:12:34:56");
    let mut mac = [0u8; 6];
    let mut parts = m.split(':');
    for b in &mut mac {
        let p = parts.next().ok_or_else(bad)?;
        if p.len() != 2 {
            return Err(bad());
        }
        *b = u8::from_str_radix(p, 16).map_err(|_| bad())?;
    }
    if parts.next().is_some() {
        return Err(bad());
    }
    if mac[0] & 1 != 0 {
        return Err(format!("mac={m}: a multicast address (the first byte is odd)"));
    }
    Ok(mac)
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

    #[test]
    fn nets() {
        assert_eq!(parse_net("tap=tap0"), Ok(NetSpec { tap: "tap0".into(), mac: None }));
        assert_eq!(
            parse_net("tap=t1,mac=52:54:00:ab:CD:0f"),
            Ok(NetSpec { tap: "t1".into(), mac: Some([0x52, 0x54, 0, 0xab, 0xcd, 0x0f]) })
        );
        assert_eq!(parse_net("mac=52:54:00:00:00:01").unwrap_err(), "tap=NAME is required");
        assert_eq!(parse_net("tap=").unwrap_err(), "tap=: an interface name is 1 to 15 characters, no '/' or spaces");
        assert!(parse_net("tap=a-very-long-interface").is_err());
        assert_eq!(parse_net("tap=t,mac=01:00:5e:00:00:01").unwrap_err(), "mac=01:00:5e:00:00:01: a multicast address (the first byte is odd)");
        for m in ["52:54:00:00:00", "52:54:00:00:00:01:02", "5:54:00:00:00:01", "zz:54:00:00:00:01"] {
            assert_eq!(parse_mac(m).unwrap_err(), format!("mac={m}: expected six hex bytes like 52:54:00:12:34:56"));
        }
        assert_eq!(parse_net("tap=t,queues=2").unwrap_err(), "'queues=2': expected tap=NAME or mac=MAC");
    }
}
