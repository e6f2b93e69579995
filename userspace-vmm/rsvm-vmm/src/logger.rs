//! The `log` facade's backend: one line per record on stderr, "rsvm-vmm: " first, then the
//! level for anything but info ("rsvm-vmm: warning: ...", "rsvm-vmm: error: ...").
//!
//! Hand-written rather than env_logger: the line format is what the tests and users grep
//! ("rsvm-vmm: error:"), each line must leave in one write(2) (several threads log, and the
//! seccomp filters allow write but nothing env_logger might call for colours or time
//! zones), and the level comes from --log-level, not the environment.

use log::{Level, LevelFilter, Log, Metadata, Record};
use std::io::Write;

struct StderrLogger;

static LOGGER: StderrLogger = StderrLogger;

impl Log for StderrLogger {
    fn enabled(&self, m: &Metadata) -> bool {
        m.level() <= log::max_level()
    }

    fn log(&self, r: &Record) {
        if !self.enabled(r.metadata()) {
            return;
        }
        let line = format_line(r.level(), &r.args().to_string());
        // One write: lines from different threads do not interleave. A closed stderr is
        // not the guest's problem.
        let _ = std::io::stderr().lock().write_all(line.as_bytes());
    }

    fn flush(&self) {}
}

/// "rsvm-vmm: [level: ]message\n".
fn format_line(level: Level, msg: &str) -> String {
    let tag = match level {
        Level::Error => "error: ",
        Level::Warn => "warning: ",
        Level::Info => "",
        Level::Debug => "debug: ",
        Level::Trace => "trace: ",
    };
    format!("rsvm-vmm: {tag}{msg}\n")
}

/// Installs the logger at `level` (a second call keeps the first logger, changes the level).
pub fn init(level: LevelFilter) {
    let _ = log::set_logger(&LOGGER);
    log::set_max_level(level);
}

/// --log-level's values.
pub fn parse_level(s: &str) -> Result<LevelFilter, String> {
    s.parse::<LevelFilter>().map_err(|_| format!("'{s}' is not a log level (off, error, warn, info, debug, trace)"))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn lines() {
        assert_eq!(format_line(Level::Info, "the guest powered off"), "rsvm-vmm: the guest powered off\n");
        assert_eq!(format_line(Level::Error, "--disk x: gone"), "rsvm-vmm: error: --disk x: gone\n");
        assert_eq!(format_line(Level::Warn, "w"), "rsvm-vmm: warning: w\n");
        assert_eq!(format_line(Level::Debug, "d"), "rsvm-vmm: debug: d\n");
    }

    #[test]
    fn levels() {
        assert_eq!(parse_level("debug"), Ok(LevelFilter::Debug));
        assert_eq!(parse_level("WARN"), Ok(LevelFilter::Warn));
        assert_eq!(parse_level("off"), Ok(LevelFilter::Off));
        assert_eq!(parse_level("loud").unwrap_err(), "'loud' is not a log level (off, error, warn, info, debug, trace)");
    }
}
