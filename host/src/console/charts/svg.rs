//! Drawing charts as inline SVG from numbers: a value scale with round ticks, stacked bars (with an
//! optional limit line), lines with gaps, and horizontal bars. Words come from the caller; each chart is
//! an image whose `<title>` (and `aria-label`) says its figures, and each bar or point has a `<title>` of
//! its own, so a screen reader reads the numbers. Colours are CSS classes (`series-<key>`), never inline
//! styles (the console's content policy forbids them).

use maud::{Markup, html};

const WIDTH: f64 = 640.0;
const HEIGHT: f64 = 200.0;
const LEFT: f64 = 56.0;
const RIGHT: f64 = 8.0;
const TOP: f64 = 10.0;
const BOTTOM: f64 = 24.0;

/// A linear scale from 0 to a round maximum at or above the largest value, with its ticks.
#[derive(Debug, Clone, PartialEq)]
pub struct Scale {
    pub max: f64,
    pub ticks: Vec<f64>,
}

impl Scale {
    /// Four steps of 1, 2 or 5 times a power of ten; whole steps for counts (`whole`).
    pub fn up_to(largest: f64, whole: bool) -> Scale {
        let largest = if largest.is_finite() && largest > 0.0 { largest } else { 1.0 };
        let rough = largest / 4.0;
        let magnitude = 10f64.powf(rough.log10().floor());
        let mut step = [1.0, 2.0, 5.0, 10.0]
            .into_iter()
            .map(|m| m * magnitude)
            .find(|step| *step >= rough)
            .unwrap_or(10.0 * magnitude);
        if whole {
            step = step.max(1.0).round();
        }
        let steps = (largest / step).ceil().max(1.0) as usize;
        let ticks = (0..=steps).map(|n| n as f64 * step).collect();
        Scale { max: steps as f64 * step, ticks }
    }

    /// The height on the plot of `value` (0 at the bottom).
    fn y(&self, value: f64) -> f64 {
        let plot = HEIGHT - TOP - BOTTOM;
        HEIGHT - BOTTOM - (value / self.max).clamp(0.0, 1.0) * plot
    }
}

/// One series of a chart: its CSS key, its name and its values (one per bucket).
pub struct Bars<'a> {
    pub key: &'a str,
    pub label: &'a str,
    pub values: &'a [u64],
}

/// One line: values per bucket, `None` where there is nothing to draw.
pub struct Line<'a> {
    pub key: &'a str,
    pub label: &'a str,
    pub values: &'a [Option<i64>],
}

/// What every chart has: its element id, the sentence with its figures, and the buckets' names (the x
/// axis shows every `tick_every`th, counted back from the last).
pub struct Frame<'a> {
    pub id: &'a str,
    pub summary: &'a str,
    pub buckets: &'a [String],
    pub tick_every: usize,
}

fn x_of(frame: &Frame<'_>, index: usize) -> (f64, f64) {
    let slot = (WIDTH - LEFT - RIGHT) / frame.buckets.len().max(1) as f64;
    (LEFT + slot * index as f64, slot)
}

fn fmt(value: f64) -> String {
    format!("{value:.1}").trim_end_matches('0').trim_end_matches('.').to_owned()
}

/// The chart's frame: title, y grid with labels, x labels, then `plot`.
fn chart(frame: &Frame<'_>, scale: &Scale, label: &dyn Fn(f64) -> String, plot: Markup) -> Markup {
    let bottom = HEIGHT - BOTTOM;
    let count = frame.buckets.len();
    html! {
        svg.chart id=(frame.id) viewBox={ "0 0 " (WIDTH) " " (HEIGHT) } role="img" aria-label=(frame.summary)
            xmlns="http://www.w3.org/2000/svg" {
            title { (frame.summary) }
            g.grid aria-hidden="true" {
                @for tick in &scale.ticks {
                    @let y = fmt(scale.y(*tick));
                    line x1=(LEFT) x2=(WIDTH - RIGHT) y1=(y) y2=(y) {}
                    text.y-label x=(LEFT - 4.0) y=(y) dy="4" text-anchor="end" { (label(*tick)) }
                }
                @for (index, name) in frame.buckets.iter().enumerate() {
                    // Counted back from the last bucket (now), which is always named.
                    @if (count - 1 - index).is_multiple_of(frame.tick_every.max(1)) {
                        @let (x, slot) = x_of(frame, index);
                        text.x-label x=(fmt(x + slot / 2.0)) y=(bottom + 16.0) text-anchor="middle" { (name) }
                    }
                }
                line.axis x1=(LEFT) x2=(WIDTH - RIGHT) y1=(bottom) y2=(bottom) {}
            }
            (plot)
        }
    }
}

/// Bars stacked per bucket; `limit` draws a dashed line at that value, named.
pub fn stacked_bars(frame: &Frame<'_>, series: &[Bars<'_>], limit: Option<(u64, &str)>) -> Markup {
    let totals: Vec<u64> = (0..frame.buckets.len())
        .map(|i| series.iter().map(|s| s.values.get(i).copied().unwrap_or(0)).sum())
        .collect();
    let largest = totals.iter().copied().max().unwrap_or(0).max(limit.map_or(0, |(l, _)| l));
    let scale = Scale::up_to(largest as f64, true);
    // Each bucket's segments, bottom up: (series key, top, height).
    let stacks: Vec<Vec<(&str, f64, f64)>> = (0..frame.buckets.len())
        .map(|index| {
            let mut below = 0u64;
            let mut segments = Vec::new();
            for s in series {
                let value = s.values.get(index).copied().unwrap_or(0);
                if value > 0 {
                    let top = scale.y((below + value) as f64);
                    segments.push((s.key, top, scale.y(below as f64) - top));
                }
                below += value;
            }
            segments
        })
        .collect();
    let plot = html! {
        @for (index, name) in frame.buckets.iter().enumerate() {
            @let (x, slot) = x_of(frame, index);
            @let width = (slot * 0.7).max(1.0);
            g.bucket data-bucket=(index) {
                title { (name) ": " (series.iter().map(|s| format!("{} {}", s.label, s.values.get(index).copied().unwrap_or(0))).collect::<Vec<_>>().join(", ")) }
                @for (key, top, height) in &stacks[index] {
                    rect class={ "series-" (key) } x=(fmt(x + (slot - width) / 2.0)) y=(fmt(*top)) width=(fmt(width)) height=(fmt(*height)) {}
                }
            }
        }
        @if let Some((limit, name)) = limit {
            @let y = fmt(scale.y(limit as f64));
            line.limit x1=(LEFT) x2=(WIDTH - RIGHT) y1=(y) y2=(y) { title { (name) } }
        }
    };
    chart(frame, &scale, &|tick| fmt(tick), plot)
}

/// Lines with a point per bucket that has a value; `label` writes a value (ticks and points' titles).
pub fn lines(frame: &Frame<'_>, series: &[Line<'_>], label: &dyn Fn(i64) -> String) -> Markup {
    let largest = series.iter().flat_map(|s| s.values.iter().flatten()).copied().max().unwrap_or(0);
    let scale = Scale::up_to(largest as f64, false);
    let point = |index: usize, value: i64| {
        let (x, slot) = x_of(frame, index);
        (fmt(x + slot / 2.0), fmt(scale.y(value as f64)))
    };
    let plot = html! {
        // Each series' points are smaller than the one's before, so that equal values show both.
        @for (order, s) in series.iter().enumerate() {
            @let radius = fmt((4.5 - 1.5 * order as f64).max(2.0));
            g class={ "line series-" (s.key) } {
                // One polyline per run of buckets with values: a bucket without is a gap, not a zero.
                @for run in runs(s.values) {
                    polyline fill="none" points=(run.iter().map(|(i, v)| { let (x, y) = point(*i, *v); format!("{x},{y}") }).collect::<Vec<_>>().join(" ")) {}
                }
                @for (index, value) in s.values.iter().enumerate() {
                    @if let Some(value) = value {
                        @let (x, y) = point(index, *value);
                        circle cx=(x) cy=(y) r=(radius) { title { (frame.buckets[index]) ": " (s.label) " " (label(*value)) } }
                    }
                }
            }
        }
    };
    chart(frame, &scale, &|tick| label(tick as i64), plot)
}

/// The runs of consecutive values, with their bucket index.
fn runs(values: &[Option<i64>]) -> Vec<Vec<(usize, i64)>> {
    let mut runs: Vec<Vec<(usize, i64)>> = Vec::new();
    let mut current = Vec::new();
    for (index, value) in values.iter().enumerate() {
        match value {
            Some(value) => current.push((index, *value)),
            None if !current.is_empty() => runs.push(std::mem::take(&mut current)),
            None => {}
        }
    }
    if !current.is_empty() {
        runs.push(current);
    }
    runs
}

/// One horizontal bar per row: its name, length by its count, the count written after it, and a title.
pub fn horizontal_bars(id: &str, summary: &str, key: &str, rows: &[(String, u64, String)]) -> Markup {
    const ROW: f64 = 26.0;
    const NAME: f64 = 200.0;
    let height = (rows.len().max(1) as f64) * ROW + 8.0;
    let largest = rows.iter().map(|(_, count, _)| *count).max().unwrap_or(0).max(1) as f64;
    let room = WIDTH - NAME - 60.0;
    html! {
        svg.chart.rows id=(id) viewBox={ "0 0 " (WIDTH) " " (height) } role="img" aria-label=(summary)
            xmlns="http://www.w3.org/2000/svg" {
            title { (summary) }
            @for (index, (name, count, title)) in rows.iter().enumerate() {
                @let y = 4.0 + index as f64 * ROW;
                @let width = (*count as f64 / largest * room).max(1.0);
                g.row {
                    title { (title) }
                    text.row-label x=(NAME - 8.0) y=(fmt(y + 16.0)) text-anchor="end" { (name) }
                    rect class={ "series-" (key) } x=(NAME) y=(fmt(y + 3.0)) width=(fmt(width)) height="16" {}
                    text.row-count x=(fmt(NAME + width + 6.0)) y=(fmt(y + 16.0)) { (count) }
                }
            }
        }
    }
}

/// The legend under a chart: each series' colour and name.
pub fn legend(entries: &[(&str, &str)]) -> Markup {
    html! {
        ul.legend {
            @for (key, label) in entries {
                li { span class={ "swatch series-" (key) } aria-hidden="true" {} (label) }
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn frame<'a>(buckets: &'a [String]) -> Frame<'a> {
        Frame { id: "c", summary: "Deliveries: 3 succeeded", buckets, tick_every: 2 }
    }

    #[test]
    fn scales_end_on_a_round_number_at_or_above_the_largest() {
        assert_eq!(Scale::up_to(7.0, true), Scale { max: 8.0, ticks: vec![0.0, 2.0, 4.0, 6.0, 8.0] });
        assert_eq!(Scale::up_to(100.0, true).max, 100.0);
        assert_eq!(Scale::up_to(1.0, true), Scale { max: 1.0, ticks: vec![0.0, 1.0] });
        assert_eq!(Scale::up_to(0.0, true).max, 1.0, "an empty chart still has an axis");
        assert_eq!(Scale::up_to(2_500.0, false).max, 3_000.0);
        let scale = Scale::up_to(10.0, true);
        assert_eq!(scale.y(0.0), HEIGHT - BOTTOM);
        assert_eq!(scale.y(10.0), TOP);
        assert_eq!(scale.y(99.0), TOP, "values beyond the scale stay on the plot");
    }

    #[test]
    fn empty_data_draws_axes_and_says_so() {
        let svg = stacked_bars(&frame(&[]), &[], None).into_string();
        assert!(svg.contains(r#"aria-label="Deliveries: 3 succeeded""#));
        assert!(svg.contains("<title>Deliveries: 3 succeeded</title>"));
        assert!(!svg.contains("<rect"));
        let svg = lines(&frame(&[]), &[], &|v| v.to_string()).into_string();
        assert!(!svg.contains("<polyline"));
        let svg = horizontal_bars("p", "No plugin errors", "error", &[]).into_string();
        assert!(svg.contains("No plugin errors"));
    }

    #[test]
    fn one_bucket_fills_the_plot_and_titles_its_numbers() {
        let buckets = vec!["now".to_owned()];
        let succeeded = [3];
        let dead = [1];
        let series = [
            Bars { key: "succeeded", label: "succeeded", values: &succeeded },
            Bars { key: "dead", label: "dead", values: &dead },
        ];
        let svg = stacked_bars(&frame(&buckets), &series, Some((5, "budget"))).into_string();
        assert!(svg.contains("<title>now: succeeded 3, dead 1</title>"), "{svg}");
        assert_eq!(svg.matches("<rect").count(), 2);
        assert!(svg.contains(r#"class="series-dead""#));
        assert!(svg.contains("<title>budget</title>"));
        assert!(svg.contains(">now</text>"), "the only bucket is named on the axis");
    }

    #[test]
    fn lines_break_where_a_bucket_has_no_value() {
        let buckets: Vec<String> = (0..4).map(|n| n.to_string()).collect();
        let values = [Some(100), None, Some(250), Some(500)];
        let series = [Line { key: "p50", label: "p50", values: &values }];
        let svg = lines(&frame(&buckets), &series, &|v| format!("{v} ms")).into_string();
        assert_eq!(svg.matches("<polyline").count(), 2);
        assert_eq!(svg.matches("<circle").count(), 3);
        assert!(svg.contains("<title>2: p50 250 ms</title>"));
        assert_eq!(runs(&[None, None]), Vec::<Vec<(usize, i64)>>::new());
    }
}
