//! The console's charts of a window's deliveries (read from the API's `…/stats`): deliveries by outcome,
//! latency from event to delivery, plugin errors by version, and each destination's pacing against its
//! budget; in the page's language, with a switch between windows. Drawn by [`svg`], server-side.

pub mod svg;
pub mod texts;

use maud::{Markup, html};

use super::Ctx;
use crate::api::stats::{StatsQuery, StatsView, WINDOWS};
use svg::{Bars, Frame, Line};

/// The window a page asked for (`?window=`), for the stats API.
pub fn query(window: &Option<String>) -> StatsQuery {
    StatsQuery { window: window.clone().filter(|w| WINDOWS.iter().any(|(known, _, _)| *known == w.as_str())) }
}

/// A latency in the unit that reads best.
pub fn duration(ms: i64) -> String {
    if ms < 1_000 {
        format!("{ms} ms")
    } else if ms < 60_000 {
        format!("{} s", trim(ms as f64 / 1_000.0))
    } else if ms < 3_600_000 {
        format!("{} min", trim(ms as f64 / 60_000.0))
    } else if ms < 86_400_000 {
        format!("{} h", trim(ms as f64 / 3_600_000.0))
    } else {
        format!("{} d", trim(ms as f64 / 86_400_000.0))
    }
}

fn trim(value: f64) -> String {
    format!("{value:.1}").trim_end_matches('0').trim_end_matches('.').to_owned()
}

/// Each bucket's name: `now` for the one under way, else how long before it (`−3 h`, `−15 min`).
fn bucket_names(ctx: &Ctx, stats: &StatsView) -> Vec<String> {
    let count = stats.buckets.len() as i64;
    (0..count)
        .map(|index| match count - 1 - index {
            0 => ctx.lang.t("chart.now").to_owned(),
            before => format!("−{}", duration(before * stats.bucket_secs * 1000)),
        })
        .collect()
}

/// The charts' section: a window switch (links to `link` followed by `window=…`: the page's address
/// ending in `?` or `&`), and the four charts.
pub fn section(ctx: &Ctx, stats: &StatsView, link: &str) -> Markup {
    let t = |key: &str| ctx.lang.t(key);
    let window_words = t(&format!("chart.window_{}", stats.window));
    let names = bucket_names(ctx, stats);
    let tick_every = (names.len() / 6).max(1);
    html! {
        section.card.charts #charts data-window=(stats.window) {
            div.charts-head {
                h2 { (t("chart.title")) ", " (window_words) }
                nav.window-switch aria-label=(t("chart.window")) {
                    @for (name, _, _) in WINDOWS {
                        @if name == stats.window {
                            span.current { (t(&format!("chart.window_{name}"))) }
                        } @else {
                            a href={ (link) "window=" (name) } { (t(&format!("chart.window_{name}"))) }
                        }
                    }
                }
            }
            div.chart-grid {
                (deliveries(ctx, stats, &names, tick_every, window_words))
                (latency(ctx, stats, &names, tick_every, window_words))
                (plugin_errors(ctx, stats, window_words))
                @for (index, destination) in stats.destinations.iter().enumerate() {
                    (pacing(ctx, stats, destination, index, &names, tick_every, window_words))
                }
            }
        }
    }
}

const OUTCOMES: [&str; 5] = ["succeeded", "retrying", "failed", "dead", "plugin_error"];

fn deliveries(ctx: &Ctx, stats: &StatsView, names: &[String], tick_every: usize, window: &str) -> Markup {
    let t = |key: &str| ctx.lang.t(key);
    let column = |outcome: &str| -> Vec<u64> {
        stats
            .buckets
            .iter()
            .map(|b| match outcome {
                "succeeded" => b.deliveries.succeeded,
                "retrying" => b.deliveries.retrying,
                "failed" => b.deliveries.failed,
                "dead" => b.deliveries.dead,
                _ => b.deliveries.plugin_error,
            })
            .collect()
    };
    let columns: Vec<(&str, &str, Vec<u64>)> =
        OUTCOMES.iter().map(|o| (*o, t(&format!("chart.{o}")), column(o))).collect();
    let totals = &stats.totals;
    let figures = [totals.succeeded, totals.retrying, totals.failed, totals.dead, totals.plugin_error];
    let summary = format!(
        "{}, {window}: {}",
        t("chart.deliveries"),
        columns
            .iter()
            .zip(figures)
            .map(|((_, label, _), n)| format!("{n} {label}"))
            .collect::<Vec<_>>()
            .join(", ")
    );
    let series: Vec<Bars<'_>> =
        columns.iter().map(|(key, label, values)| Bars { key, label, values }).collect();
    let frame = Frame { id: "chart-deliveries", summary: &summary, buckets: names, tick_every };
    html! {
        figure.chart-box {
            figcaption { (t("chart.deliveries")) }
            (svg::stacked_bars(&frame, &series, None))
            (svg::legend(&columns.iter().map(|(key, label, _)| (*key, *label)).collect::<Vec<_>>()))
        }
    }
}

fn latency(ctx: &Ctx, stats: &StatsView, names: &[String], tick_every: usize, window: &str) -> Markup {
    let t = |key: &str| ctx.lang.t(key);
    let p50: Vec<Option<i64>> = stats.buckets.iter().map(|b| b.latency_p50_ms).collect();
    let p99: Vec<Option<i64>> = stats.buckets.iter().map(|b| b.latency_p99_ms).collect();
    let worst = |values: &[Option<i64>]| values.iter().flatten().copied().max();
    let summary = match (worst(&p50), worst(&p99)) {
        (Some(p50), Some(p99)) => format!(
            "{}, {window}: {} {}; {} {}; {} {}",
            t("chart.latency"),
            stats.totals.succeeded,
            t("chart.succeeded"),
            t("chart.worst_p50"),
            duration(p50),
            t("chart.worst_p99"),
            duration(p99)
        ),
        _ => format!("{}, {window}: {}", t("chart.latency"), t("chart.nothing_delivered")),
    };
    let series = [
        Line { key: "p50", label: t("chart.p50"), values: &p50 },
        Line { key: "p99", label: t("chart.p99"), values: &p99 },
    ];
    let frame = Frame { id: "chart-latency", summary: &summary, buckets: names, tick_every };
    html! {
        figure.chart-box {
            figcaption { (t("chart.latency")) }
            (svg::lines(&frame, &series, &duration))
            (svg::legend(&[("p50", t("chart.p50")), ("p99", t("chart.p99"))]))
        }
    }
}

fn plugin_errors(ctx: &Ctx, stats: &StatsView, window: &str) -> Markup {
    let t = |key: &str| ctx.lang.t(key);
    let rows: Vec<(String, u64, String)> = stats
        .plugin_errors
        .iter()
        .map(|p| {
            let kinds: Vec<String> = p.kinds.iter().map(|(kind, n)| format!("{kind} {n}")).collect();
            (p.plugin.clone(), p.count, format!("{} {} ({})", p.plugin, p.count, kinds.join(", ")))
        })
        .collect();
    let listed = if rows.is_empty() {
        t("chart.none").to_owned()
    } else {
        rows.iter().map(|(_, _, title)| title.as_str()).collect::<Vec<_>>().join("; ")
    };
    let summary = format!("{}, {window}: {listed}", t("chart.plugin_errors"));
    html! {
        figure.chart-box {
            figcaption { (t("chart.plugin_errors")) }
            @if rows.is_empty() {
                p.empty #chart-plugin-errors role="img" aria-label=(summary) { (t("chart.none")) }
            } @else {
                (svg::horizontal_bars("chart-plugin-errors", &summary, "plugin_error", &rows))
            }
        }
    }
}

fn pacing(
    ctx: &Ctx,
    stats: &StatsView,
    destination: &crate::api::stats::PacingView,
    index: usize,
    names: &[String],
    tick_every: usize,
    window: &str,
) -> Markup {
    let t = |key: &str| ctx.lang.t(key);
    let sent: u64 = destination.sent.iter().sum();
    let budget = match (&destination.budget, destination.budget_per_bucket) {
        (Some(budget), Some(per_bucket)) => format!(
            "{} {} / {} ({} {} {})",
            t("chart.budget"),
            budget.requests,
            duration(i64::from(budget.per_secs) * 1000),
            per_bucket,
            t("chart.per_bucket"),
            duration(stats.bucket_secs * 1000)
        ),
        _ => t("chart.no_budget").to_owned(),
    };
    let summary = format!(
        "{} {}, {window}: {sent} {}; {budget}",
        t("chart.pacing"),
        destination.destination,
        t("chart.sent")
    );
    let id = format!("chart-pacing-{index}");
    let frame = Frame { id: &id, summary: &summary, buckets: names, tick_every };
    let series = [Bars { key: "sent", label: t("chart.sent"), values: &destination.sent }];
    // A budget far above what was sent would flatten the bars: the line is drawn when it is within reach
    // (the legend and the accessible name say it either way).
    let most = destination.sent.iter().copied().max().unwrap_or(0);
    let limit = destination
        .budget_per_bucket
        .filter(|limit| *limit <= most.max(1) * 4)
        .map(|limit| (limit, budget.as_str()));
    html! {
        figure.chart-box.pacing data-destination=(destination.destination) {
            figcaption { (t("chart.pacing")) " " code { (destination.destination) } }
            (svg::stacked_bars(&frame, &series, limit))
            (svg::legend(&[("sent", t("chart.sent")), ("limit", budget.as_str())]))
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn durations_read_in_their_unit() {
        assert_eq!(duration(250), "250 ms");
        assert_eq!(duration(2_500), "2.5 s");
        assert_eq!(duration(300_000), "5 min");
        assert_eq!(duration(3_600_000), "1 h");
        assert_eq!(duration(604_800_000), "7 d");
    }
}
