//! Charts as inline SVG, drawn on the server: a metric over a project's model versions, a drift
//! statistic per feature, and a live metric over time per model version. They scale with the
//! page (viewBox) and need no script.

use super::html::esc;
use std::fmt::Write;

const W: f64 = 720.0;
const H: f64 = 220.0;
const LEFT: f64 = 56.0;
const RIGHT: f64 = 16.0;
const TOP: f64 = 14.0;
const BOTTOM: f64 = 34.0;

/// A metric's value per model version (model id, value), the serving models drawn apart with
/// a legend of the stages they serve (model id, stage).
pub fn metric_over_versions(metric: &str, points: &[(i64, f64)], stages: &[(i64, String)]) -> String {
    let serving: Vec<i64> = stages.iter().map(|s| s.0).collect();
    if points.is_empty() {
        return format!("<p class=\"none\">No model has a value for {}.</p>", esc(metric));
    }
    let (lo, hi) = range(points.iter().map(|p| p.1));
    let n = points.len();
    let x = |i: usize| {
        if n == 1 {
            LEFT + (W - LEFT - RIGHT) / 2.0
        } else {
            LEFT + (W - LEFT - RIGHT) * i as f64 / (n - 1) as f64
        }
    };
    let y = y_scale(lo, hi);
    let mut out = svg_open(&format!("{metric} by model version"));
    axes(&mut out, lo, hi);
    let path: Vec<String> =
        points.iter().enumerate().map(|(i, p)| format!("{:.1},{:.1}", x(i), y(p.1))).collect();
    let _ = write!(out, "<polyline class=\"line\" points=\"{}\"/>", path.join(" "));
    let label_every = n.div_ceil(12).max(1);
    for (i, (id, v)) in points.iter().enumerate() {
        let class = if serving.contains(id) { "serving" } else { "dot" };
        let r = if class == "serving" { 6 } else { 3 };
        let served: Vec<&str> = stages.iter().filter(|s| s.0 == *id).map(|s| s.1.as_str()).collect();
        let _ = write!(
            out,
            "<circle class=\"{class}\" cx=\"{:.1}\" cy=\"{:.1}\" r=\"{r}\" data-model=\"{id}\"><title>model {id}: {} = {v}{}</title></circle>",
            x(i),
            y(*v),
            esc(metric),
            if served.is_empty() { String::new() } else { format!(" (serving {})", esc(&served.join(", "))) }
        );
        if i % label_every == 0 || class == "serving" {
            let _ = write!(
                out,
                "<text x=\"{:.1}\" y=\"{}\" text-anchor=\"middle\">{id}</text>",
                x(i),
                H - BOTTOM + 16.0
            );
        }
    }
    let legend: Vec<String> = stages.iter().map(|(id, stage)| format!("{stage}: model {id}")).collect();
    if !legend.is_empty() {
        let _ = write!(
            out,
            "<g class=\"legend\"><circle class=\"serving\" cx=\"{}\" cy=\"{}\" r=\"6\"/><text x=\"{}\" y=\"{}\">serving — {}</text></g>",
            LEFT + 12.0,
            TOP + 2.0,
            LEFT + 24.0,
            TOP + 7.0,
            esc(&legend.join(" · "))
        );
    }
    svg_close(out, Some("model id"))
}

/// Curves on the unit square (ROC: false against true positive rate; precision-recall),
/// one per (name, points), with a legend; `diagonal` draws chance's line.
pub fn unit_curves(
    title: &str,
    x_title: &str,
    y_title: &str,
    series: &[(String, Vec<[f32; 2]>)],
    diagonal: bool,
) -> String {
    let (lo, hi) = (0.0, 1.0);
    let x = |v: f64| LEFT + (W - LEFT - RIGHT) * v;
    let y = y_scale(lo, hi);
    let mut out = svg_open(title);
    axes(&mut out, lo, hi);
    if diagonal {
        let _ = write!(
            out,
            "<line class=\"limit\" x1=\"{:.1}\" y1=\"{:.1}\" x2=\"{:.1}\" y2=\"{:.1}\"><title>chance</title></line>",
            x(0.0),
            y(0.0),
            x(1.0),
            y(1.0)
        );
    }
    for (k, (name, points)) in series.iter().enumerate() {
        let class = format!("series s{}", k % 6);
        let path: Vec<String> =
            points.iter().map(|p| format!("{:.1},{:.1}", x(p[0] as f64), y(p[1] as f64))).collect();
        let _ = write!(
            out,
            "<polyline class=\"{class}\" points=\"{}\"><title>{}</title></polyline>",
            path.join(" "),
            esc(name)
        );
        let _ = write!(
            out,
            "<text class=\"{class}\" x=\"{}\" y=\"{}\">{}</text>",
            LEFT + 8.0,
            TOP + 12.0 + 22.0 * k as f64,
            esc(name)
        );
    }
    axis_title(&mut out, y_title);
    svg_close(out, Some(x_title))
}

/// Points (x, y) of a scatter, with the line y = x (`identity`) or y = 0.
pub fn scatter(title: &str, x_title: &str, y_title: &str, points: &[(f64, f64)], identity: bool) -> String {
    if points.is_empty() {
        return "<p class=\"none\">No points.</p>".to_string();
    }
    let (x0, x1) = range(points.iter().map(|p| p.0));
    let (y0, y1) = if identity {
        range(points.iter().flat_map(|p| [p.0, p.1]))
    } else {
        range(points.iter().map(|p| p.1).chain([0.0]))
    };
    let (x0, x1) = if identity { (y0, y1) } else { (x0, x1) };
    let x = |v: f64| LEFT + (W - LEFT - RIGHT) * (v - x0) / (x1 - x0);
    let y = y_scale(y0, y1);
    let mut out = svg_open(title);
    axes(&mut out, y0, y1);
    let (a, b) = if identity { ((x0, x0), (x1, x1)) } else { ((x0, 0.0), (x1, 0.0)) };
    let _ = write!(
        out,
        "<line class=\"limit\" x1=\"{:.1}\" y1=\"{:.1}\" x2=\"{:.1}\" y2=\"{:.1}\"/>",
        x(a.0),
        y(a.1),
        x(b.0),
        y(b.1)
    );
    for (px, py) in points {
        let _ = write!(out, "<circle class=\"dot\" cx=\"{:.1}\" cy=\"{:.1}\" r=\"2.5\"/>", x(*px), y(*py));
    }
    for v in [x0, (x0 + x1) / 2.0, x1] {
        let _ = write!(
            out,
            "<text x=\"{:.1}\" y=\"{}\" text-anchor=\"middle\">{}</text>",
            x(v),
            H - BOTTOM + 16.0,
            tick(v)
        );
    }
    axis_title(&mut out, y_title);
    svg_close(out, Some(x_title))
}

/// The y axis's title, written along it.
fn axis_title(out: &mut String, title: &str) {
    let _ = write!(
        out,
        "<text x=\"12\" y=\"{}\" text-anchor=\"middle\" transform=\"rotate(-90 12 {})\">{}</text>",
        (TOP + H - BOTTOM) / 2.0,
        (TOP + H - BOTTOM) / 2.0,
        esc(title)
    );
}

/// A statistic per feature as bars (a drift statistic, a mean |attribution|), marked features
/// (drifted ones) in their own colour, with the threshold line when there is one.
pub fn feature_bars(statistic: &str, bars: &[(String, f64, bool)], threshold: Option<f64>) -> String {
    if bars.is_empty() {
        return "<p class=\"none\">No drift statistic was recorded.</p>".to_string();
    }
    let hi = bars.iter().map(|b| b.1).chain(threshold).fold(0.0f64, f64::max).max(1e-9) * 1.1;
    let (lo, hi) = (0.0, hi);
    let band = (W - LEFT - RIGHT) / bars.len() as f64;
    let y = y_scale(lo, hi);
    let mut out = svg_open(&format!("{statistic} per feature"));
    axes(&mut out, lo, hi);
    for (i, (feature, v, drifted)) in bars.iter().enumerate() {
        let x = LEFT + band * i as f64 + band * 0.15;
        let _ = write!(
            out,
            "<rect class=\"bar{}\" x=\"{x:.1}\" y=\"{:.1}\" width=\"{:.1}\" height=\"{:.1}\"><title>{}: {} = {v}{}</title></rect>",
            if *drifted { " drifted" } else { "" },
            y(*v),
            band * 0.7,
            (y(lo) - y(*v)).max(0.0),
            esc(feature),
            esc(statistic),
            if *drifted { " (drifted)" } else { "" }
        );
        let label: String = feature.chars().take(14).collect();
        let _ = write!(
            out,
            "<text x=\"{:.1}\" y=\"{}\" text-anchor=\"middle\">{}</text>",
            x + band * 0.35,
            H - BOTTOM + 16.0,
            esc(&label)
        );
    }
    if let Some(t) = threshold {
        let _ = write!(
            out,
            "<line class=\"limit\" x1=\"{LEFT}\" x2=\"{}\" y1=\"{:.1}\" y2=\"{:.1}\"><title>threshold {t}</title></line>",
            W - RIGHT,
            y(t),
            y(t)
        );
    }
    svg_close(out, None)
}

/// A live metric over time, one line per model version (model id, [(Unix seconds, value)]),
/// with each model's test-split value as a dashed line of the same series.
pub fn live_over_time(metric: &str, series: &[(i64, Vec<(f64, f64)>)], test_split: &[(i64, f64)]) -> String {
    let points = series.iter().flat_map(|(_, p)| p.iter());
    if series.iter().all(|(_, p)| p.is_empty()) {
        return format!("<p class=\"none\">No labelled live value of {} yet.</p>", esc(metric));
    }
    let (t0, t1) =
        points.clone().fold((f64::INFINITY, f64::NEG_INFINITY), |(a, b), p| (a.min(p.0), b.max(p.0)));
    let shown: Vec<f64> =
        test_split.iter().filter(|(id, _)| series.iter().any(|(s, _)| s == id)).map(|t| t.1).collect();
    let (lo, hi) = range(points.map(|p| p.1).chain(shown));
    let x = |t: f64| {
        if t1 > t0 {
            LEFT + (W - LEFT - RIGHT) * (t - t0) / (t1 - t0)
        } else {
            LEFT + (W - LEFT - RIGHT) / 2.0
        }
    };
    let y = y_scale(lo, hi);
    let mut out = svg_open(&format!("live {metric} by model version over time"));
    axes(&mut out, lo, hi);
    for (k, (id, points)) in series.iter().enumerate() {
        let class = format!("series s{}", k % 6);
        if let Some((_, v)) = test_split.iter().find(|(t, _)| t == id) {
            let _ = write!(
                out,
                "<line class=\"{class} test\" x1=\"{LEFT}\" x2=\"{}\" y1=\"{:.1}\" y2=\"{:.1}\"><title>model {id}: {} on the test split = {v}</title></line>",
                W - RIGHT,
                y(*v),
                y(*v),
                esc(metric)
            );
        }
        let path: Vec<String> = points.iter().map(|(t, v)| format!("{:.1},{:.1}", x(*t), y(*v))).collect();
        let _ = write!(out, "<polyline class=\"{class}\" points=\"{}\"/>", path.join(" "));
        for (t, v) in points {
            let _ = write!(
                out,
                "<circle class=\"{class}\" cx=\"{:.1}\" cy=\"{:.1}\" r=\"3\" data-model=\"{id}\"><title>model {id}: live {} = {v}</title></circle>",
                x(*t),
                y(*v),
                esc(metric)
            );
        }
        let _ = write!(
            out,
            "<text class=\"{class}\" x=\"{}\" y=\"{}\">model {id}</text>",
            LEFT + 8.0 + 90.0 * k as f64,
            TOP + 10.0
        );
    }
    svg_close(out, Some("time (UTC)"))
}

/// Where a value sits on the y axis of a chart spanning [lo, hi].
fn y_scale(lo: f64, hi: f64) -> impl Fn(f64) -> f64 {
    move |v| TOP + (H - TOP - BOTTOM) * (1.0 - (v - lo) / (hi - lo))
}

/// Ends the chart, under its x axis's title when it has one.
fn svg_close(mut out: String, x_title: Option<&str>) -> String {
    if let Some(title) = x_title {
        let _ = write!(
            out,
            "<text x=\"{}\" y=\"{}\" text-anchor=\"middle\">{}</text>",
            (W + LEFT) / 2.0,
            H - 4.0,
            esc(title)
        );
    }
    out.push_str("</svg>");
    out
}

fn svg_open(label: &str) -> String {
    format!(
        "<svg class=\"chart\" viewBox=\"0 0 {W} {H}\" role=\"img\" aria-label=\"{}\" xmlns=\"http://www.w3.org/2000/svg\">",
        esc(label)
    )
}

/// The y axis with three ticks, and the x axis.
fn axes(out: &mut String, lo: f64, hi: f64) {
    let y = y_scale(lo, hi);
    let _ =
        write!(out, "<line class=\"axis\" x1=\"{LEFT}\" x2=\"{LEFT}\" y1=\"{TOP}\" y2=\"{}\"/>", H - BOTTOM);
    let _ = write!(
        out,
        "<line class=\"axis\" x1=\"{LEFT}\" x2=\"{}\" y1=\"{}\" y2=\"{}\"/>",
        W - RIGHT,
        H - BOTTOM,
        H - BOTTOM
    );
    for v in [lo, (lo + hi) / 2.0, hi] {
        let _ = write!(
            out,
            "<text x=\"{}\" y=\"{:.1}\" text-anchor=\"end\">{}</text>",
            LEFT - 6.0,
            y(v) + 4.0,
            tick(v)
        );
    }
}

fn tick(v: f64) -> String {
    if v.abs() >= 1000.0 {
        format!("{v:.0}")
    } else if v.abs() >= 10.0 {
        format!("{v:.1}")
    } else {
        format!("{v:.3}")
    }
}

/// The values' range, widened a little (and made non-empty for a single value).
fn range(values: impl Iterator<Item = f64>) -> (f64, f64) {
    let (lo, hi) = values.fold((f64::INFINITY, f64::NEG_INFINITY), |(lo, hi), v| (lo.min(v), hi.max(v)));
    let pad = ((hi - lo) * 0.08).max(hi.abs().max(1e-3) * 0.01);
    (lo - pad, hi + pad)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_serving_model_is_marked_and_every_version_plotted() {
        let svg = metric_over_versions("f1", &[(1, 0.9), (2, 0.95), (5, 0.93)], &[(2, "production".into())]);
        assert_eq!(svg.matches("data-model").count(), 3);
        assert_eq!(svg.matches("class=\"serving\" cx").count(), 2, "the serving model and its legend's mark");
        assert!(svg.contains("data-model=\"2\"><title>model 2: f1 = 0.95 (serving production)</title>"));
        assert!(svg.contains("serving — production: model 2"), "{svg}");
        // a lone value still draws, inside the box
        let one = metric_over_versions("r2", &[(7, 0.5)], &[]);
        assert!(one.contains("cx=\"380.0\""), "{one}");
    }

    #[test]
    fn live_lines_per_model_with_their_test_split_value() {
        let svg = live_over_time(
            "f1",
            &[(1, vec![(0.0, 0.9), (3600.0, 0.5)]), (2, vec![(3600.0, 0.95)])],
            &[(1, 0.93), (3, 0.2)],
        );
        assert_eq!(svg.matches("<polyline").count(), 2);
        assert_eq!(svg.matches("data-model=\"1\"").count(), 2);
        assert_eq!(svg.matches("class=\"series s0 test\"").count(), 1, "model 3 has no live values: no line");
        assert!(live_over_time("r2", &[(1, vec![])], &[]).contains("No labelled live value"));
    }

    #[test]
    fn drifted_features_are_marked_and_names_escaped() {
        let svg = feature_bars("psi", &[("a<b".into(), 0.3, true), ("c".into(), 0.01, false)], Some(0.2));
        assert_eq!(svg.matches("class=\"bar drifted\"").count(), 1);
        assert!(svg.contains("a&lt;b"));
        assert!(svg.contains("class=\"limit\""));
    }
}
