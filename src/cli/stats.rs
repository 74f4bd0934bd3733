//! `fazt stats`: a site's (or every site's) requests, page views, unique visitors, status mix,
//! top pages and referrers, with a text sparkline — read straight from fazt.db, so it works
//! on the server without a token and while `serve` runs.

use pico_args::Arguments;

use super::common::{finish, open_existing_db, opt, wants_help, CliError, Help};
use super::status::human;
use crate::analytics::dates::{day_floor, format_date, format_minute, DAY};
use crate::analytics::stats::{compute, Granularity, Stats, Top};
use crate::hosting::valid_site_name;

const HELP: Help = Help("stats");

/// One character per value, `▁` (zero) to `█` (the maximum).
pub fn sparkline(values: &[i64]) -> String {
    const BARS: [char; 8] = ['▁', '▂', '▃', '▄', '▅', '▆', '▇', '█'];
    let max = values.iter().copied().max().unwrap_or(0).max(0);
    values
        .iter()
        .map(|&v| {
            if v <= 0 || max == 0 {
                BARS[0]
            } else {
                // 1..=7: any non-zero value is visibly above zero.
                let level = 1 + (i128::from(v) * 7 - 1) / i128::from(max);
                BARS[usize::try_from(level.clamp(1, 7)).unwrap_or(7)]
            }
        })
        .collect()
}

fn top_label(t: &Top, all_sites: bool) -> String {
    if all_sites && !t.site.is_empty() {
        format!("{} {}", t.site, t.value)
    } else {
        t.value.clone()
    }
}

fn print_top(title: &str, unit: &str, rows: &[Top], all_sites: bool) {
    if rows.is_empty() {
        return;
    }
    println!();
    println!("{title:<48} {unit:>8}");
    for t in rows {
        let label = top_label(t, all_sites);
        let label: String = if label.chars().count() > 48 {
            label.chars().take(47).chain(['…']).collect()
        } else {
            label
        };
        println!("{label:<48} {:>8}", t.hits);
    }
}

fn render(s: &Stats, days: i64) {
    let t = &s.totals;
    let last = s.to - 1;
    let unit = match s.granularity {
        Granularity::Hour => "hour",
        Granularity::Day => "day",
    };
    println!(
        "site:        {}",
        s.site.as_deref().unwrap_or("(all sites)")
    );
    let (a, b) = match s.granularity {
        Granularity::Hour => (format_minute(s.from), format_minute(last)),
        Granularity::Day => (format_date(s.from), format_date(last)),
    };
    println!(
        "period:      {a} → {b} UTC ({days} day{}, by {unit})",
        if days == 1 { "" } else { "s" }
    );
    println!(
        "requests:    {}   page views: {}   visitors: {}   bots: {}   sent: {}",
        t.requests,
        t.pageviews,
        t.visitors,
        t.bots,
        human(u64::try_from(t.bytes).unwrap_or(0))
    );
    println!(
        "status:      2xx {}   3xx {}   4xx {}   5xx {}",
        t.status[0], t.status[1], t.status[2], t.status[3]
    );
    let views: Vec<i64> = s.series.iter().map(|p| p.pageviews).collect();
    let peak = views.iter().copied().max().unwrap_or(0);
    println!("page views:  {}  (peak {peak}/{unit})", sparkline(&views));
    let all = s.site.is_none();
    print_top("TOP PAGES", "VIEWS", &s.top_paths, all);
    print_top("TOP REFERRERS", "VIEWS", &s.top_referrers, all);
    if !s.events.is_empty() {
        println!();
        println!("{:<48} {:>8}", "EVENTS", "COUNT");
        for e in &s.events {
            println!("{:<48} {:>8}", format!("{}/{}", e.source, e.kind), e.count);
        }
    }
}

pub fn run(mut args: Arguments) -> Result<(), CliError> {
    if wants_help(&mut args, HELP) {
        return Ok(());
    }
    let db_flag = opt(&mut args, "--db")?;
    let days = match opt(&mut args, "--days")? {
        None => 7,
        Some(v) => match v.parse::<i64>() {
            Ok(n) if (1..=3_650).contains(&n) => n,
            _ => {
                return Err(CliError::usage(format!(
                    "--days: '{v}' is not a number of days from 1 to 3650"
                )))
            }
        },
    };
    let site: Option<String> = args
        .opt_free_from_str()
        .map_err(|e| CliError::usage(format!("SITE: {e}")))?;
    finish(args, "stats")?;
    let site = match site {
        None => None,
        Some(s) => {
            let s = s.trim().to_ascii_lowercase();
            if !valid_site_name(&s) {
                return Err(CliError::usage(format!("'{s}' is not a valid site name")));
            }
            Some(s)
        }
    };
    let (db, path) = open_existing_db(db_flag)?;
    let now = crate::kernel::db::now();
    let from = day_floor(now) - (days - 1) * DAY;
    let stats = db
        .read(|c| Ok(compute(c, site.as_deref(), from, now + 1)))
        .map_err(|e| CliError::fail(format!("reading {}: {e}", path.display())))?
        .map_err(|e| CliError::fail(format!("{}: {e}", path.display())))?;
    render(&stats, days);
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn sparklines() {
        assert_eq!(sparkline(&[]), "");
        assert_eq!(sparkline(&[0, 0]), "▁▁");
        assert_eq!(sparkline(&[0, 1, 7]), "▁▂█");
        assert_eq!(sparkline(&[1, 1000]), "▂█");
        assert_eq!(sparkline(&[-5, 3]), "▁█");
        assert_eq!(sparkline(&[i64::MAX, 1]), "█▂");
    }
}
