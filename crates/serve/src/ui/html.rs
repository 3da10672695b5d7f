//! HTML written on the server: escaping, the page around every view, and the small pieces
//! (tables, forms, badges) the views share. No template engine and no JavaScript: every
//! value passes through `esc`, every form carries the session's CSRF token.

use std::fmt::Write;

/// Text as HTML (also inside attribute values, which are always double-quoted).
pub fn esc(text: &str) -> String {
    let mut out = String::with_capacity(text.len());
    for c in text.chars() {
        match c {
            '&' => out.push_str("&amp;"),
            '<' => out.push_str("&lt;"),
            '>' => out.push_str("&gt;"),
            '"' => out.push_str("&quot;"),
            '\'' => out.push_str("&#39;"),
            c => out.push(c),
        }
    }
    out
}

/// A path segment, percent-encoded (project names may hold spaces, slashes, anything).
pub fn seg(text: &str) -> String {
    let mut out = String::new();
    for b in text.bytes() {
        match b {
            b'A'..=b'Z' | b'a'..=b'z' | b'0'..=b'9' | b'-' | b'_' | b'.' | b'~' => out.push(b as char),
            _ => {
                let _ = write!(out, "%{b:02X}");
            }
        }
    }
    out
}

/// A message shown at the top of a page once (after an action).
pub struct Flash {
    pub error: bool,
    pub text: String,
}

/// Who is looking, for the header and the forms.
pub struct Viewer<'a> {
    pub role: &'a str,
    pub csrf: &'a str,
}

/// The page around a view: title, navigation, the flash message, sign out.
pub fn page(title: &str, viewer: Option<&Viewer>, flash: Option<&Flash>, body: &str) -> String {
    let mut out = String::with_capacity(body.len() + 1024);
    let _ = write!(
        out,
        "<!DOCTYPE html><html lang=\"en\"><head><meta charset=\"utf-8\">\
         <meta name=\"viewport\" content=\"width=device-width, initial-scale=1\">\
         <title>{} · pgml-rs</title><link rel=\"stylesheet\" href=\"/ui/style.css\">\
         <link rel=\"icon\" href=\"data:,\"></head><body><header><a class=\"brand\" href=\"/ui\">pgml-rs</a>",
        esc(title)
    );
    if let Some(v) = viewer {
        let _ = write!(
            out,
            "<nav><a href=\"/ui\">Projects</a></nav><span class=\"who\">{}</span>{}",
            esc(v.role),
            form("/ui/signout", v, "", "Sign out", "link")
        );
    }
    out.push_str("</header><main>");
    if let Some(f) = flash {
        let _ = write!(
            out,
            "<p class=\"flash {}\" role=\"{}\">{}</p>",
            if f.error { "error" } else { "ok" },
            if f.error { "alert" } else { "status" },
            esc(&f.text)
        );
    }
    out.push_str(body);
    out.push_str("</main></body></html>");
    out
}

/// A POST form with the CSRF token, `fields` (HTML of inputs) and a submit button.
pub fn form(action: &str, viewer: &Viewer, fields: &str, button: &str, class: &str) -> String {
    format!(
        "<form method=\"post\" action=\"{}\" class=\"{class}\"><input type=\"hidden\" name=\"csrf\" value=\"{}\">{fields}\
         <button type=\"submit\">{}</button></form>",
        esc(action),
        esc(viewer.csrf),
        esc(button)
    )
}

/// A table: header cells, then rows of cells already in HTML.
pub fn table(headers: &[&str], rows: &[Vec<String>], id: &str) -> String {
    let headers: Vec<String> = headers.iter().map(|h| esc(h)).collect();
    table_html(&headers, rows, id)
}

/// A table whose header cells are HTML too (sorting links).
pub fn table_html(headers: &[String], rows: &[Vec<String>], id: &str) -> String {
    if rows.is_empty() {
        return "<p class=\"none\">None.</p>".to_string();
    }
    let mut out = format!("<div class=\"scroll\"><table id=\"{}\"><thead><tr>", esc(id));
    for h in headers {
        let _ = write!(out, "<th>{h}</th>");
    }
    out.push_str("</tr></thead><tbody>");
    for row in rows {
        out.push_str("<tr>");
        for cell in row {
            let _ = write!(out, "<td>{cell}</td>");
        }
        out.push_str("</tr>");
    }
    out.push_str("</tbody></table></div>");
    out
}

/// An optional value, escaped; a dash for none.
pub fn opt(value: Option<impl std::fmt::Display>) -> String {
    value.map_or_else(|| "–".to_string(), |v| esc(&v.to_string()))
}

/// A metric value, rounded for reading.
pub fn num(value: Option<f64>) -> String {
    match value {
        Some(v) if v.is_finite() && v.abs() >= 1000.0 => format!("{v:.0}"),
        Some(v) if v.is_finite() => format!("{v:.4}"),
        _ => "–".to_string(),
    }
}

/// The style sheet (served at /ui/style.css, so the pages need no inline style).
pub const STYLE: &str = include_str!("style.css");

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn text_and_path_segments_are_escaped() {
        assert_eq!(esc("<a href=\"x\">'&'</a>"), "&lt;a href=&quot;x&quot;&gt;&#39;&amp;&#39;&lt;/a&gt;");
        assert_eq!(seg("Iris Flowers/v2?"), "Iris%20Flowers%2Fv2%3F");
        assert_eq!(seg("ça"), "%C3%A7a");
    }

    #[test]
    fn every_form_carries_the_csrf_token() {
        let v = Viewer { role: "r", csrf: "t0k\"en" };
        let f = form("/ui/x", &v, "<input name=\"a\">", "Go", "inline");
        assert!(f.contains("name=\"csrf\" value=\"t0k&quot;en\""), "{f}");
        assert!(f.starts_with("<form method=\"post\" action=\"/ui/x\""));
    }
}
