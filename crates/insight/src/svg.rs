//! Charts drawn on the server as SVG (no script, no CDN): line, horizontal
//! bar, stacked column and donut. Each is an `<svg role="img">` with a
//! `<title>` and `<desc>` and an `aria-label`, a `viewBox` that scales to
//! the width of its container (a phone's included: 320 units wide, 12–13
//! unit text), and a `<title>` on every mark for hover. The pages print the
//! same numbers as a `<table>` beside each chart.

use std::fmt::Write;

/// Colours for series, in order; each ≥ 3:1 against white.
pub const PALETTE: [&str; 8] = [
    "#c8102e", "#0b57d0", "#1a7f37", "#9a6700", "#7c2468", "#0b5e6b", "#8a3b0b", "#59636e",
];

const W: f64 = 320.0;
const INK: &str = "#1f2328";
const MUTED: &str = "#59636e";
const GRID: &str = "#d8dde3";
const LEFT: f64 = 40.0;
const RIGHT: f64 = 312.0;
const TOP: f64 = 12.0;
const BOTTOM: f64 = 150.0;

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Scale {
    /// Fractions 0–1 shown as percentages.
    Percent,
    /// Counts.
    Count,
}

/// One named series; `None` is a gap (no data in that bucket).
#[derive(Clone, Debug)]
pub struct Series {
    pub name: String,
    pub values: Vec<Option<f64>>,
    pub color: &'static str,
}

/// Escapes text for SVG/XML content and attributes.
pub fn esc(s: &str) -> String {
    let mut out = String::with_capacity(s.len());
    for c in s.chars() {
        match c {
            '&' => out.push_str("&amp;"),
            '<' => out.push_str("&lt;"),
            '>' => out.push_str("&gt;"),
            '"' => out.push_str("&quot;"),
            '\'' => out.push_str("&#39;"),
            _ => out.push(c),
        }
    }
    out
}

pub fn fmt_value(v: f64, scale: Scale) -> String {
    match scale {
        Scale::Percent => format!("{:.1}%", v * 100.0),
        Scale::Count => {
            if (v - v.round()).abs() < 1e-9 {
                format!("{}", v.round() as i64)
            } else {
                format!("{v:.1}")
            }
        }
    }
}

fn n(x: f64) -> String {
    let r = (x * 10.0).round() / 10.0;
    if (r - r.round()).abs() < 1e-9 {
        format!("{}", r.round() as i64)
    } else {
        format!("{r:.1}")
    }
}

fn open(id: &str, title: &str, desc: &str, h: f64) -> String {
    format!(
        "<svg xmlns=\"http://www.w3.org/2000/svg\" class=\"chart\" viewBox=\"0 0 {w} {h}\" \
         width=\"100%\" preserveAspectRatio=\"xMinYMin meet\" role=\"img\" aria-label=\"{t}\" \
         aria-describedby=\"{id}-d\" font-family=\"system-ui, -apple-system, 'PingFang SC', 'Noto Sans CJK SC', sans-serif\" \
         font-size=\"13\"><title id=\"{id}-t\">{t}</title><desc id=\"{id}-d\">{d}</desc>",
        w = n(W),
        h = n(h),
        t = esc(title),
        d = esc(desc),
        id = esc(id),
    )
}

/// A round upper bound for a count axis: 1, 2, 5 × 10^k (at least 4 so
/// the four grid steps are whole numbers).
pub fn nice_max(max: f64) -> f64 {
    if max <= 4.0 {
        return 4.0;
    }
    let mag = 10f64.powf(max.log10().floor());
    for m in [1.0, 2.0, 4.0, 5.0, 8.0, 10.0, 12.0, 16.0, 20.0] {
        if m * mag >= max && ((m * mag) / 4.0).fract() == 0.0 {
            return m * mag;
        }
    }
    20.0 * mag
}

fn y_axis(out: &mut String, scale: Scale, top_value: f64) {
    for i in 0..=4 {
        let v = top_value * i as f64 / 4.0;
        let y = BOTTOM - (BOTTOM - TOP) * i as f64 / 4.0;
        let _ = write!(
            out,
            "<line x1=\"{}\" y1=\"{y}\" x2=\"{}\" y2=\"{y}\" stroke=\"{GRID}\" stroke-width=\"1\"/>\
             <text x=\"{}\" y=\"{}\" text-anchor=\"end\" fill=\"{MUTED}\" font-size=\"12\">{}</text>",
            n(LEFT),
            n(RIGHT),
            n(LEFT - 4.0),
            n(y + 4.0),
            match scale {
                Scale::Percent => format!("{}%", (v * 100.0).round() as i64),
                Scale::Count => fmt_value(v, Scale::Count),
            },
            y = n(y),
        );
    }
}

fn x_labels(out: &mut String, labels: &[String], xs: &[f64]) {
    let count = labels.len();
    let step = count.div_ceil(5).max(1);
    for (i, (l, x)) in labels.iter().zip(xs).enumerate() {
        if i % step == 0 || (i + 1 == count && count <= 5) {
            let _ = write!(
                out,
                "<text x=\"{}\" y=\"{}\" text-anchor=\"middle\" fill=\"{MUTED}\" font-size=\"12\">{}</text>",
                n(*x),
                n(BOTTOM + 16.0),
                esc(l)
            );
        }
    }
}

/// Legend rows of two below the plot, from `y`; returns the height used.
fn legend(out: &mut String, names: &[(&str, &'static str)], y: f64) -> f64 {
    let per_row = 2;
    for (i, (name, color)) in names.iter().enumerate() {
        let x = 8.0 + (i % per_row) as f64 * 156.0;
        let yy = y + (i / per_row) as f64 * 20.0;
        let _ = write!(
            out,
            "<rect x=\"{}\" y=\"{}\" width=\"10\" height=\"10\" rx=\"2\" fill=\"{color}\"/>\
             <text x=\"{}\" y=\"{}\" fill=\"{INK}\">{}</text>",
            n(x),
            n(yy),
            n(x + 14.0),
            n(yy + 9.5),
            esc(name)
        );
    }
    (names.len().div_ceil(per_row)) as f64 * 20.0
}

fn xs_for(count: usize, band: bool) -> Vec<f64> {
    let w = RIGHT - LEFT;
    (0..count)
        .map(|i| {
            if band {
                LEFT + w * (i as f64 + 0.5) / count as f64
            } else if count == 1 {
                LEFT + w / 2.0
            } else {
                LEFT + w * i as f64 / (count - 1) as f64
            }
        })
        .collect()
}

/// Lines over time (the indicators' trend, or counts).
pub fn line_chart(
    id: &str,
    title: &str,
    labels: &[String],
    series: &[Series],
    scale: Scale,
) -> String {
    let top_value = match scale {
        Scale::Percent => 1.0,
        Scale::Count => nice_max(
            series
                .iter()
                .flat_map(|s| s.values.iter().flatten())
                .cloned()
                .fold(0.0, f64::max),
        ),
    };
    let names: Vec<(&str, &'static str)> =
        series.iter().map(|s| (s.name.as_str(), s.color)).collect();
    let legend_h = names.len().div_ceil(2) as f64 * 20.0;
    let h = BOTTOM + 30.0 + legend_h;
    let desc = format!(
        "{}:{}",
        labels.first().cloned().unwrap_or_default(),
        labels.last().cloned().unwrap_or_default()
    );
    let mut out = open(id, title, &desc, h);
    y_axis(&mut out, scale, top_value);
    let xs = xs_for(labels.len(), false);
    x_labels(&mut out, labels, &xs);
    let y_of = |v: f64| BOTTOM - (BOTTOM - TOP) * (v / top_value).clamp(0.0, 1.0);
    for s in series {
        // One polyline per run without gaps.
        let mut run: Vec<String> = Vec::new();
        let flush = |run: &mut Vec<String>, out: &mut String| {
            if run.len() > 1 {
                let _ = write!(
                    out,
                    "<polyline fill=\"none\" stroke=\"{}\" stroke-width=\"2\" stroke-linejoin=\"round\" points=\"{}\"/>",
                    s.color,
                    run.join(" ")
                );
            }
            run.clear();
        };
        for (i, v) in s.values.iter().enumerate() {
            match v {
                Some(v) => run.push(format!("{},{}", n(xs[i]), n(y_of(*v)))),
                None => flush(&mut run, &mut out),
            }
        }
        flush(&mut run, &mut out);
        if labels.len() <= 40 {
            for (i, v) in s.values.iter().enumerate() {
                if let Some(v) = v {
                    let _ = write!(
                        out,
                        "<circle cx=\"{}\" cy=\"{}\" r=\"2.5\" fill=\"{}\"><title>{} {}: {}</title></circle>",
                        n(xs[i]),
                        n(y_of(*v)),
                        s.color,
                        esc(&s.name),
                        esc(&labels[i]),
                        fmt_value(*v, scale)
                    );
                }
            }
        }
    }
    legend(&mut out, &names, BOTTOM + 28.0);
    out.push_str("</svg>");
    out
}

/// Horizontal bars, one row per label (long Chinese names fit on a phone).
pub fn bar_chart(
    id: &str,
    title: &str,
    rows: &[(String, f64)],
    scale: Scale,
    color: &'static str,
) -> String {
    let row_h = 24.0;
    let h = (rows.len().max(1) as f64) * row_h + 8.0;
    let max = match scale {
        Scale::Percent => 1.0,
        Scale::Count => rows.iter().map(|r| r.1).fold(0.0, f64::max).max(1.0),
    };
    let desc = rows
        .iter()
        .map(|(l, v)| format!("{l} {}", fmt_value(*v, scale)))
        .collect::<Vec<_>>()
        .join(";");
    let mut out = open(id, title, &desc, h);
    let (x0, x1) = (100.0, 272.0);
    for (i, (label, v)) in rows.iter().enumerate() {
        let y = 4.0 + i as f64 * row_h;
        let w = (x1 - x0) * (v / max).clamp(0.0, 1.0);
        let short: String = if label.chars().count() > 7 {
            label.chars().take(6).collect::<String>() + "…"
        } else {
            label.clone()
        };
        let _ = write!(
            out,
            "<text x=\"{}\" y=\"{}\" text-anchor=\"end\" fill=\"{INK}\">{}</text>\
             <rect x=\"{}\" y=\"{}\" width=\"{}\" height=\"16\" fill=\"#eef0f3\"/>\
             <rect x=\"{}\" y=\"{}\" width=\"{}\" height=\"16\" rx=\"2\" fill=\"{color}\"><title>{}: {}</title></rect>\
             <text x=\"{}\" y=\"{}\" fill=\"{INK}\">{}</text>",
            n(x0 - 6.0),
            n(y + 12.5),
            esc(&short),
            n(x0),
            n(y),
            n(x1 - x0),
            n(x0),
            n(y),
            n(w),
            esc(label),
            fmt_value(*v, scale),
            n(x1 + 6.0),
            n(y + 12.5),
            fmt_value(*v, scale),
        );
    }
    if rows.is_empty() {
        let _ = write!(
            out,
            "<text x=\"{}\" y=\"20\" text-anchor=\"middle\" fill=\"{MUTED}\">—</text>",
            n(W / 2.0)
        );
    }
    out.push_str("</svg>");
    out
}

/// Columns over time, stacked by series (volume by category).
pub fn stacked_chart(id: &str, title: &str, labels: &[String], series: &[Series]) -> String {
    let totals: Vec<f64> = (0..labels.len())
        .map(|i| series.iter().map(|s| s.values[i].unwrap_or(0.0)).sum())
        .collect();
    let top_value = nice_max(totals.iter().cloned().fold(0.0, f64::max));
    let names: Vec<(&str, &'static str)> =
        series.iter().map(|s| (s.name.as_str(), s.color)).collect();
    let legend_h = names.len().div_ceil(2) as f64 * 20.0;
    let h = BOTTOM + 30.0 + legend_h;
    let total: f64 = totals.iter().sum();
    let mut out = open(id, title, &fmt_value(total, Scale::Count), h);
    y_axis(&mut out, Scale::Count, top_value);
    let xs = xs_for(labels.len(), true);
    x_labels(&mut out, labels, &xs);
    let band = (RIGHT - LEFT) / labels.len().max(1) as f64;
    let bw = (band * 0.7).max(1.0);
    for (i, x) in xs.iter().enumerate() {
        let mut acc = 0.0;
        for s in series {
            let v = s.values[i].unwrap_or(0.0);
            if v <= 0.0 {
                continue;
            }
            let y0 = BOTTOM - (BOTTOM - TOP) * (acc / top_value);
            let y1 = BOTTOM - (BOTTOM - TOP) * ((acc + v) / top_value);
            let _ = write!(
                out,
                "<rect x=\"{}\" y=\"{}\" width=\"{}\" height=\"{}\" fill=\"{}\"><title>{} {}: {}</title></rect>",
                n(x - bw / 2.0),
                n(y1),
                n(bw),
                n(y0 - y1),
                s.color,
                esc(&labels[i]),
                esc(&s.name),
                fmt_value(v, Scale::Count)
            );
            acc += v;
        }
    }
    legend(&mut out, &names, BOTTOM + 28.0);
    out.push_str("</svg>");
    out
}

/// A donut of shares with its legend to the right (channels).
pub fn donut_chart(id: &str, title: &str, slices: &[(String, f64, &'static str)]) -> String {
    let total: f64 = slices.iter().map(|s| s.1).sum();
    let rows = slices.len().max(1) as f64;
    let h = (rows * 22.0 + 16.0).max(160.0);
    let desc = slices
        .iter()
        .map(|(l, v, _)| format!("{l} {}", fmt_value(*v, Scale::Count)))
        .collect::<Vec<_>>()
        .join(";");
    let mut out = open(id, title, &desc, h);
    let (cx, cy, r) = (72.0, h / 2.0, 52.0);
    let c = 2.0 * std::f64::consts::PI * r;
    let _ = write!(
        out,
        "<circle cx=\"{}\" cy=\"{}\" r=\"{}\" fill=\"none\" stroke=\"#eef0f3\" stroke-width=\"24\"/>",
        n(cx),
        n(cy),
        n(r)
    );
    let mut offset = 0.0;
    if total > 0.0 {
        for (label, v, color) in slices {
            if *v <= 0.0 {
                continue;
            }
            let len = c * v / total;
            let _ = write!(
                out,
                "<circle cx=\"{}\" cy=\"{}\" r=\"{}\" fill=\"none\" stroke=\"{color}\" stroke-width=\"24\" \
                 stroke-dasharray=\"{} {}\" stroke-dashoffset=\"{}\" transform=\"rotate(-90 {} {})\">\
                 <title>{}: {} ({:.1}%)</title></circle>",
                n(cx),
                n(cy),
                n(r),
                n(len),
                n(c - len),
                n(-offset),
                n(cx),
                n(cy),
                esc(label),
                fmt_value(*v, Scale::Count),
                v / total * 100.0
            );
            offset += len;
        }
    }
    let _ = write!(
        out,
        "<text x=\"{}\" y=\"{}\" text-anchor=\"middle\" fill=\"{INK}\" font-size=\"20\" font-weight=\"600\">{}</text>",
        n(cx),
        n(cy + 7.0),
        fmt_value(total, Scale::Count)
    );
    let y0 = cy - rows * 22.0 / 2.0;
    for (i, (label, v, color)) in slices.iter().enumerate() {
        let y = y0 + i as f64 * 22.0;
        let share = if total > 0.0 { v / total * 100.0 } else { 0.0 };
        let _ = write!(
            out,
            "<rect x=\"152\" y=\"{}\" width=\"12\" height=\"12\" rx=\"2\" fill=\"{color}\"/>\
             <text x=\"170\" y=\"{}\" fill=\"{INK}\">{} {} ({:.1}%)</text>",
            n(y + 4.0),
            n(y + 14.5),
            esc(label),
            fmt_value(*v, Scale::Count),
            share
        );
    }
    out.push_str("</svg>");
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    fn parses(svg: &str) -> roxmltree::Document<'_> {
        let doc = roxmltree::Document::parse(svg).unwrap_or_else(|e| panic!("{e}: {svg}"));
        let root = doc.root_element();
        assert_eq!(root.tag_name().name(), "svg");
        assert_eq!(root.attribute("role"), Some("img"));
        assert!(root.attribute("aria-label").is_some_and(|a| !a.is_empty()));
        assert!(root
            .attribute("viewBox")
            .is_some_and(|v| v.starts_with("0 0 320 ")));
        let title = root.children().find(|c| c.has_tag_name("title")).unwrap();
        assert!(title.text().is_some_and(|t| !t.is_empty()));
        doc
    }

    fn labels(k: usize) -> Vec<String> {
        (1..=k).map(|i| format!("03-{i:02}")).collect()
    }

    #[test]
    fn line_chart_is_accessible_and_breaks_at_gaps() {
        let s = vec![
            Series {
                name: "满意率 <&>".into(),
                values: vec![Some(0.5), Some(1.0), None, Some(0.25), Some(0.75)],
                color: PALETTE[0],
            },
            Series {
                name: "按期结案率".into(),
                values: vec![None; 5],
                color: PALETTE[1],
            },
        ];
        let svg = line_chart("trend", "指标趋势", &labels(5), &s, Scale::Percent);
        let doc = parses(&svg);
        let lines = doc
            .descendants()
            .filter(|n| n.has_tag_name("polyline"))
            .count();
        assert_eq!(lines, 2, "a gap splits the line: {svg}");
        let dots = doc
            .descendants()
            .filter(|n| n.has_tag_name("circle"))
            .count();
        assert_eq!(dots, 4);
        assert!(svg.contains("满意率 &lt;&amp;&gt;"));
        assert!(svg.contains("100%") && svg.contains(">0%<"));
    }

    #[test]
    fn bars_columns_and_donut_parse() {
        let rows = vec![
            ("漏水".to_string(), 5.0),
            ("邻里纠纷调解很长的名字".to_string(), 2.0),
        ];
        let svg = bar_chart("top", "类别", &rows, Scale::Count, PALETTE[1]);
        let doc = parses(&svg);
        assert!(svg.contains("邻里纠纷调解…"));
        assert!(doc
            .descendants()
            .any(|n| n.has_tag_name("title") && n.text() == Some("邻里纠纷调解很长的名字: 2")));

        let s = vec![
            Series {
                name: "漏水".into(),
                values: vec![Some(1.0), Some(0.0), Some(3.0)],
                color: PALETTE[0],
            },
            Series {
                name: "噪音".into(),
                values: vec![Some(2.0), None, Some(0.0)],
                color: PALETTE[1],
            },
        ];
        let svg = stacked_chart("vol", "诉求量", &labels(3), &s);
        let doc = parses(&svg);
        // Zero segments are not drawn: 1 + 3 + 2 = three rects plus two legend keys.
        assert_eq!(
            doc.descendants().filter(|n| n.has_tag_name("rect")).count(),
            5
        );

        let svg = donut_chart(
            "ch",
            "渠道",
            &[
                ("网上".into(), 3.0, PALETTE[0]),
                ("电话".into(), 1.0, PALETTE[1]),
                ("网格".into(), 0.0, PALETTE[2]),
            ],
        );
        let doc = parses(&svg);
        assert!(svg.contains("网上 3 (75.0%)"));
        // Background ring + two non-empty slices.
        assert_eq!(
            doc.descendants()
                .filter(|n| n.has_tag_name("circle"))
                .count(),
            3
        );
        parses(&donut_chart("e", "空", &[]));
        parses(&bar_chart("e2", "空", &[], Scale::Percent, PALETTE[0]));
        parses(&line_chart("e3", "空", &[], &[], Scale::Count));
        parses(&stacked_chart("e4", "空", &[], &[]));
    }

    #[test]
    fn nice_maxima() {
        assert_eq!(nice_max(0.0), 4.0);
        assert_eq!(nice_max(3.0), 4.0);
        assert_eq!(nice_max(7.0), 8.0);
        assert_eq!(nice_max(9.0), 12.0);
        assert_eq!(nice_max(20.0), 20.0);
        assert_eq!(nice_max(33.0), 40.0);
        assert_eq!(nice_max(130.0), 200.0);
        assert_eq!(fmt_value(0.4286, Scale::Percent), "42.9%");
        assert_eq!(fmt_value(3.0, Scale::Count), "3");
    }
}
