//! Time zones: an IANA zone by name (read straight from its zone file) and the system's zone.
//! It owns how `TZ`/`TZDIR` are read (through [`super::env`]); it never decides which zone a
//! setting names (that is `settings`' job).

use std::path::PathBuf;

use jiff::tz::TimeZone;

/// Where the system's zone files are (`TZDIR`, as the C library reads it).
fn zoneinfo_dir() -> PathBuf {
    super::env::var_os("TZDIR").map_or_else(|| PathBuf::from("/usr/share/zoneinfo"), PathBuf::from)
}

/// The IANA zone `name`, read straight from its zone file. jiff's look-up by name first lists
/// every folder of the zoneinfo database, a tenth of a `cclive statusline` run; one file is all
/// a zone needs. Falls back to jiff's look-up (which also knows its bundled database).
pub fn zone_named(name: &str) -> Option<TimeZone> {
    if matches!(
        name,
        "UTC" | "Etc/UTC" | "Etc/UCT" | "UCT" | "Zulu" | "Etc/Zulu"
    ) {
        return Some(TimeZone::UTC);
    }
    let plain = !name.is_empty()
        && !name.starts_with('/')
        && name
            .split('/')
            .all(|part| !part.is_empty() && part != "." && part != "..")
        && name
            .chars()
            .all(|c| c.is_ascii_alphanumeric() || matches!(c, '/' | '_' | '-' | '+'));
    plain
        .then(|| std::fs::read(zoneinfo_dir().join(name)).ok())
        .flatten()
        .and_then(|bytes| TimeZone::tzif(name, &bytes).ok())
        .or_else(|| TimeZone::get(name).ok())
}

/// The system's zone (`TZ`, else `/etc/localtime`), read the way [`zone_named`] reads one, once
/// per process.
pub fn system_zone() -> TimeZone {
    static ZONE: std::sync::OnceLock<TimeZone> = std::sync::OnceLock::new();
    ZONE.get_or_init(read_system_zone).clone()
}

fn read_system_zone() -> TimeZone {
    let from_env = match super::env::var_raw("TZ") {
        Ok(tz) if tz.is_empty() => Some(TimeZone::UTC),
        Ok(tz) => {
            let tz = tz.strip_prefix(':').unwrap_or(&tz);
            match tz.rfind("zoneinfo/") {
                Some(at) => zone_named(&tz[at + "zoneinfo/".len()..]),
                // A POSIX rule (`EST5EDT,M3.2.0,M11.1.0`) or a relative path: jiff knows those.
                None if tz.contains(',') || tz.contains('.') => None,
                None => zone_named(tz),
            }
        }
        Err(_) => std::fs::read_link("/etc/localtime")
            .ok()
            .and_then(|target| {
                let target = target.to_string_lossy();
                let at = target.rfind("zoneinfo/")?;
                zone_named(&target[at + "zoneinfo/".len()..])
            }),
    };
    from_env.unwrap_or_else(TimeZone::system)
}
