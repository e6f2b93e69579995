//! The report: results CSV in, a Markdown summary with ratios and PNG plots out.

use crate::stats;
use plotters::prelude::*;
use std::collections::BTreeMap;
use std::fmt::Write as _;
use std::path::Path;

/// One chase row: (gpt, npt, npad, order) -> working set -> median ticks per step.
type ChaseKey = (String, String, String, String);

pub struct Results {
    /// (exit name, device) -> ticks
    pub exits: BTreeMap<(String, String), f64>,
    /// Other rows (touch, overhead, startup), kept as their fields for the summary tables.
    pub other: Vec<Vec<String>>,
    /// guest rows and native rows
    pub guest: BTreeMap<ChaseKey, BTreeMap<u64, f64>>,
    pub native: BTreeMap<(String, String, String), BTreeMap<u64, f64>>,
}

/// Parses the CSV rows the bench prints (other lines are ignored).
pub fn parse(text: &str) -> Results {
    let mut r = Results { exits: BTreeMap::new(), other: Vec::new(), guest: BTreeMap::new(), native: BTreeMap::new() };
    for line in text.lines() {
        let f: Vec<&str> = line.trim().split(',').collect();
        match f.as_slice() {
            ["exit", name, dev, v, ..] => {
                if let Ok(v) = v.parse() {
                    r.exits.insert((name.to_string(), dev.to_string()), v);
                }
            }
            ["chase", what, gpt, npt, npad, order, ws, _min, median, _max] => {
                let (Ok(ws), Ok(m)) = (ws.parse::<u64>(), median.parse::<f64>()) else { continue };
                if *what == "guest" {
                    r.guest.entry((gpt.to_string(), npt.to_string(), npad.to_string(), order.to_string())).or_default().insert(ws, m);
                } else {
                    r.native.entry((gpt.to_string(), npad.to_string(), order.to_string())).or_default().insert(ws, m);
                }
            }
            [kind, ..] if matches!(*kind, "touch" | "overhead" | "startup") => {
                r.other.push(f.iter().map(|s| s.to_string()).collect());
            }
            _ => {}
        }
    }
    r
}

fn human(ws: u64) -> String {
    match ws {
        w if w >= 1 << 20 => format!("{} MiB", w >> 20),
        w if w >= 1 << 10 => format!("{} KiB", w >> 10),
        w => format!("{w} B"),
    }
}

/// The guest/native slowdown (percent) of every guest point with a native reference (the
/// native run with 4 KiB pages, as the article's).
fn slowdowns(r: &Results) -> BTreeMap<ChaseKey, Vec<(u64, f64)>> {
    let mut out = BTreeMap::new();
    for (k, pts) in &r.guest {
        let Some(native) = r.native.get(&("4k".to_string(), k.2.clone(), k.3.clone())) else { continue };
        let v: Vec<(u64, f64)> = pts.iter().filter_map(|(ws, g)| native.get(ws).map(|n| (*ws, stats::slowdown_percent(*g, *n)))).collect();
        out.insert(k.clone(), v);
    }
    out
}

pub const HONESTY: &str = "Under QEMU TCG there is no hardware TLB and no cache model: the \
pointer-chase slowdown measured in the test VM is the emulator's (its software TLB and its \
emulated two-dimensional page walk), not a CPU's. Under -icount the TSC counts instructions, \
so exit costs are exact and comparable between rsvm and kvm_amd, while chase times are \
instruction counts. Run rsvm-bench on a real AMD host for the article's figure.";

/// Writes `summary.md`, `chase.png` and `exits.png` into `dir`.
pub fn write(r: &Results, dir: &Path, font: Option<&Path>) -> Result<(), String> {
    std::fs::create_dir_all(dir).map_err(|e| e.to_string())?;
    let mut md = String::new();
    let _ = writeln!(md, "# rsvm: the cost of virtualization, measured\n");
    let _ = writeln!(md, "## Exit costs (ticks per round trip)\n");
    let _ = writeln!(md, "| exit | rsvm | kvm_amd | rsvm / kvm_amd |\n| --- | ---: | ---: | ---: |");
    let names: Vec<String> = r.exits.keys().map(|(n, _)| n.clone()).collect::<std::collections::BTreeSet<_>>().into_iter().collect();
    for n in &names {
        let a = r.exits.get(&(n.clone(), "rsvm".into()));
        let b = r.exits.get(&(n.clone(), "kvm".into()));
        let ratio = match (a, b) {
            (Some(a), Some(b)) if *b > 0.0 => format!("{:.2}", a / b),
            _ => "-".into(),
        };
        let f = |v: Option<&f64>| v.map(|v| format!("{v:.0}")).unwrap_or("-".into());
        let _ = writeln!(md, "| {n} | {} | {} | {ratio} |", f(a), f(b));
    }
    fn rows<'a>(r: &'a Results, kind: &'a str) -> impl Iterator<Item = &'a Vec<String>> + 'a {
        r.other.iter().filter(move |f| f.first().map(|k| k == kind).unwrap_or(false))
    }
    if rows(r, "touch").next().is_some() {
        let _ = writeln!(md, "\n## Touching all guest memory once (guest 2 MiB pages)\n");
        let _ = writeln!(md, "| device | NPT backing | bytes | ticks | nested page faults | exits | 4 KiB leaves | 2 MiB leaves |\n| --- | --- | ---: | ---: | ---: | ---: | ---: | ---: |");
        for f in rows(r, "touch") {
            let _ = writeln!(md, "| {} |", f.get(1..).map(|v| v.join(" | ")).unwrap_or_default());
        }
    }
    if rows(r, "overhead").next().is_some() || rows(r, "startup").next().is_some() {
        let _ = writeln!(md, "\n## Memory and startup\n\n| device | what | value |\n| --- | --- | ---: |");
        for f in rows(r, "overhead").chain(rows(r, "startup")) {
            let _ = writeln!(md, "| {} |", f.get(1..).map(|v| v.join(" | ")).unwrap_or_default());
        }
    }
    let sd = slowdowns(r);
    let _ = writeln!(md, "\n## Pointer chase: guest slowdown over native, percent (median)\n");
    let _ = writeln!(md, "{HONESTY}\n");
    let _ = writeln!(md, "![slowdown](chase.png)\n");
    let _ = writeln!(md, "| guest pages / NPT pages, NPAD, order | working set | guest | native | slowdown |\n| --- | ---: | ---: | ---: | ---: |");
    for (k, pts) in &r.guest {
        let native = r.native.get(&("4k".to_string(), k.2.clone(), k.3.clone()));
        for (ws, g) in pts {
            let n = native.and_then(|n| n.get(ws));
            let s = n.map(|n| format!("{:+.1}%", stats::slowdown_percent(*g, *n))).unwrap_or("-".into());
            let _ = writeln!(md, "| {}/{}, {}, {} | {} | {g:.2} | {} | {s} |", k.0, k.1, k.2, k.3, human(*ws), n.map(|n| format!("{n:.2}")).unwrap_or("-".into()));
        }
    }
    std::fs::write(dir.join("summary.md"), md).map_err(|e| e.to_string())?;
    if let Some(font) = font {
        let bytes = std::fs::read(font).map_err(|e| format!("{}: {e}", font.display()))?;
        let bytes: &'static [u8] = Box::leak(bytes.into_boxed_slice());
        plotters::style::register_font("sans-serif", FontStyle::Normal, bytes).map_err(|_| "bad font".to_string())?;
        plot_chase(&sd, &dir.join("chase.png")).map_err(|e| format!("chase.png: {e}"))?;
        plot_exits(r, &names, &dir.join("exits.png")).map_err(|e| format!("exits.png: {e}"))?;
    }
    Ok(())
}

/// The article's figure 2: slowdown vs working set, one line per page-size combination (guest
/// page tables / NPT backing), one panel per NPAD and list order.
fn plot_chase(sd: &BTreeMap<ChaseKey, Vec<(u64, f64)>>, path: &Path) -> Result<(), Box<dyn std::error::Error>> {
    let root = BitMapBackend::new(path, (1200, 900)).into_drawing_area();
    root.fill(&WHITE)?;
    let (title, body) = root.split_vertically(40);
    title.titled("Pointer chase: guest slowdown vs. native (median); legend: guest pages / NPT pages", ("sans-serif", 22))?;
    let mut panels: Vec<(String, String)> = sd.keys().map(|k| (k.2.clone(), k.3.clone())).collect();
    panels.sort();
    panels.dedup();
    let all: Vec<f64> = sd.values().flatten().map(|p| p.1).collect();
    let (lo, hi) = all.iter().fold((0f64, 10f64), |(a, b), v| (a.min(*v), b.max(*v)));
    let xs: Vec<f64> = sd.values().flatten().map(|p| (p.0 as f64).log2()).collect();
    let (x0, x1) = xs.iter().fold((f64::MAX, f64::MIN), |(a, b), v| (a.min(*v), b.max(*v)));
    let (x0, x1) = if x0 < x1 { (x0, x1) } else { (10.0, 28.0) };
    let areas = body.split_evenly((2, 2));
    for ((npad, order), area) in panels.iter().zip(areas.iter()) {
        let mut c = ChartBuilder::on(area)
            .caption(format!("NPAD {npad}, {order} order"), ("sans-serif", 18))
            .margin(10)
            .x_label_area_size(35)
            .y_label_area_size(55)
            .build_cartesian_2d(x0..x1, (lo - 5.0)..(hi + 5.0))?;
        c.configure_mesh().x_desc("working set, log2 bytes").y_desc("slowdown %").draw()?;
        for (i, (k, pts)) in sd.iter().filter(|(k, _)| &k.2 == npad && &k.3 == order).enumerate() {
            let color = Palette99::pick(i).to_rgba();
            c.draw_series(LineSeries::new(pts.iter().map(|(w, s)| ((*w as f64).log2(), *s)), color.stroke_width(2)))?
                .label(format!("{} / {}", k.0, k.1))
                .legend(move |(x, y)| PathElement::new(vec![(x, y), (x + 20, y)], color.stroke_width(2)));
        }
        c.configure_series_labels().background_style(WHITE.mix(0.8)).border_style(BLACK).draw()?;
    }
    root.present()?;
    Ok(())
}

/// Exit costs as bars, rsvm and kvm_amd side by side.
fn plot_exits(r: &Results, names: &[String], path: &Path) -> Result<(), Box<dyn std::error::Error>> {
    let root = BitMapBackend::new(path, (800, 480)).into_drawing_area();
    root.fill(&WHITE)?;
    let max = r.exits.values().fold(1f64, |a, v| a.max(*v));
    let n = names.len().max(1) as f64;
    let mut c = ChartBuilder::on(&root)
        .caption("Exit costs (ticks per round trip; instructions under -icount)", ("sans-serif", 20))
        .margin(12)
        .x_label_area_size(40)
        .y_label_area_size(70)
        .build_cartesian_2d(0f64..3.0 * n, 0f64..max * 1.15)?;
    c.configure_mesh()
        .disable_x_mesh()
        .x_labels(3 * names.len().max(1) + 1)
        .x_label_formatter(&|x| {
            let i = (x / 3.0).floor() as usize;
            if (x - 3.0 * i as f64 - 1.0).abs() < 0.01 { names.get(i).cloned().unwrap_or_default() } else { String::new() }
        })
        .y_desc("ticks")
        .draw()?;
    for (d, (dev, color)) in [("rsvm", BLUE), ("kvm", RED)].into_iter().enumerate() {
        let bars: Vec<_> = names
            .iter()
            .enumerate()
            .filter_map(|(i, n)| {
                r.exits.get(&(n.clone(), dev.to_string())).map(|v| {
                    let x = 3.0 * i as f64 + 0.5 + d as f64;
                    Rectangle::new([(x, 0.0), (x + 0.9, *v)], color.filled())
                })
            })
            .collect();
        c.draw_series(bars)?.label(dev).legend(move |(x, y)| Rectangle::new([(x, y - 5), (x + 10, y + 5)], color.filled()));
    }
    c.configure_series_labels().background_style(WHITE.mix(0.8)).border_style(BLACK).draw()?;
    root.present()?;
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    const SAMPLE: &str = "noise\nexit,cpuid,rsvm,3600\nexit,cpuid,kvm,10464\ntouch,rsvm,2m,4194304,1000,3,5,0,2\n\
chase,native,4k,4k,0,random,1024,9.00,10.00,11.00\n\
chase,guest,4k,4k,0,random,1024,10.00,12.00,20.00\n\
chase,guest,2m,2m,0,random,1024,9.50,10.50,12.00\n";

    #[test]
    fn parses_rows_and_computes_slowdowns() {
        let r = parse(SAMPLE);
        assert_eq!(r.exits.get(&("cpuid".into(), "rsvm".into())), Some(&3600.0));
        let sd = slowdowns(&r);
        let k = ("4k".to_string(), "4k".to_string(), "0".to_string(), "random".to_string());
        assert_eq!(sd.get(&k).map(|v| v[0].1.round()), Some(20.0));
        let k2 = ("2m".to_string(), "2m".to_string(), "0".to_string(), "random".to_string());
        assert_eq!(sd.get(&k2).map(|v| v[0].1.round()), Some(5.0));
    }

    #[test]
    fn writes_summary() {
        let dir = std::env::temp_dir().join(format!("rsvm-report-{}", std::process::id()));
        write(&parse(SAMPLE), &dir, None).unwrap();
        let md = std::fs::read_to_string(dir.join("summary.md")).unwrap();
        assert!(md.contains("| cpuid | 3600 | 10464 | 0.34 |"), "{md}");
        assert!(md.contains("+20.0%"), "{md}");
        assert!(md.contains("no hardware TLB"));
        assert!(md.contains("| rsvm | 2m | 4194304 | 1000 | 3 | 5 | 0 | 2 |"), "{md}");
        let _ = std::fs::remove_dir_all(dir);
    }
}
