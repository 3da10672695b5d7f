//! Text splitting for `pgml.chunk`: LangChain's `CharacterTextSplitter` ("character") and
//! `RecursiveCharacterTextSplitter` ("recursive_character"), which PostgresML calls, with
//! their defaults and their merge rule, so chunks come out as they did there. Lengths are
//! counted in characters (Python's `len`).

use serde::Deserialize;

use crate::error::{Error, Result};

/// The splitter's options (`kwargs`), LangChain's names and defaults.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ChunkOptions {
    #[serde(default = "default_size")]
    pub chunk_size: usize,
    #[serde(default = "default_overlap")]
    pub chunk_overlap: usize,
    /// The character splitter's separator.
    pub separator: Option<String>,
    /// The recursive splitter's separators, tried in order.
    pub separators: Option<Vec<String>>,
    pub keep_separator: Option<bool>,
    #[serde(default = "yes")]
    pub strip_whitespace: bool,
    #[serde(default)]
    pub is_separator_regex: bool,
}

fn default_size() -> usize {
    4000
}
fn default_overlap() -> usize {
    200
}
fn yes() -> bool {
    true
}

/// LangChain's splitters that need something pgml-rs does not have (a parser or a model).
const NOT_AVAILABLE: [&str; 5] = ["latex", "markdown", "nltk", "python", "spacy"];

/// The chunks of `text`, in order.
pub fn chunk(splitter: &str, text: &str, kwargs: &serde_json::Value) -> Result<Vec<String>> {
    let options: ChunkOptions = serde_json::from_value(kwargs.clone())
        .map_err(|e| Error::invalid(format!("invalid chunk kwargs: {e}")))?;
    if options.chunk_overlap > options.chunk_size {
        return Err(Error::invalid(format!(
            "chunk_overlap {} is larger than chunk_size {}",
            options.chunk_overlap, options.chunk_size
        )));
    }
    if options.chunk_size == 0 {
        return Err(Error::invalid("chunk_size must be at least 1, got 0"));
    }
    if options.is_separator_regex {
        return Err(Error::unsupported("is_separator_regex: separators are literal text here"));
    }
    let merger =
        Merger { size: options.chunk_size, overlap: options.chunk_overlap, strip: options.strip_whitespace };
    match splitter {
        "character" => {
            if options.separators.is_some() {
                return Err(Error::invalid("the character splitter takes \"separator\", not \"separators\""));
            }
            let separator = options.separator.unwrap_or_else(|| "\n\n".into());
            let keep = options.keep_separator.unwrap_or(false);
            let splits = split_keeping(text, &separator, keep);
            Ok(merger.merge(&splits, if keep { "" } else { &separator }))
        }
        "recursive_character" => {
            if options.separator.is_some() {
                return Err(Error::invalid(
                    "the recursive_character splitter takes \"separators\", not \"separator\"",
                ));
            }
            let separators =
                options.separators.unwrap_or_else(|| vec!["\n\n".into(), "\n".into(), " ".into(), "".into()]);
            let mut out = Vec::new();
            merger.recursive(text, &separators, options.keep_separator.unwrap_or(true), &mut out);
            Ok(out)
        }
        other if NOT_AVAILABLE.contains(&other) => Err(Error::unsupported(format!(
            "the \"{other}\" splitter needs LangChain's Python dependencies; use \"character\" or \
             \"recursive_character\""
        ))),
        other => Err(Error::invalid(format!(
            "unknown splitter \"{other}\": use \"character\" or \"recursive_character\""
        ))),
    }
}

fn len(s: &str) -> usize {
    s.chars().count()
}

/// `text` split at `separator`, empty pieces dropped; with `keep`, each separator starts the
/// piece after it (LangChain's keep_separator="start"). An empty separator splits into
/// characters.
fn split_keeping(text: &str, separator: &str, keep: bool) -> Vec<String> {
    let pieces: Vec<String> = if separator.is_empty() {
        text.chars().map(String::from).collect()
    } else if keep {
        let mut out = Vec::new();
        let mut rest = text;
        let mut prefix = "";
        while let Some(at) = rest.find(separator) {
            out.push(format!("{prefix}{}", &rest[..at]));
            prefix = separator;
            rest = &rest[at + separator.len()..];
        }
        out.push(format!("{prefix}{rest}"));
        out
    } else {
        text.split(separator).map(String::from).collect()
    };
    pieces.into_iter().filter(|p| !p.is_empty()).collect()
}

struct Merger {
    size: usize,
    overlap: usize,
    strip: bool,
}

impl Merger {
    /// LangChain's `_merge_splits`: packs pieces, joined by `separator`, into chunks of at most
    /// `size` characters (a single longer piece stays whole), each starting with up to
    /// `overlap` characters of the previous chunk's last pieces.
    fn merge(&self, splits: &[String], separator: &str) -> Vec<String> {
        let sep = len(separator);
        let mut docs = Vec::new();
        let mut current: std::collections::VecDeque<&str> = std::collections::VecDeque::new();
        let mut total = 0usize;
        for piece in splits {
            let n = len(piece);
            let joined =
                |current: &std::collections::VecDeque<&str>| if current.is_empty() { 0 } else { sep };
            if total + n + joined(&current) > self.size && !current.is_empty() {
                if let Some(doc) = self.join(&current, separator) {
                    docs.push(doc);
                }
                while total > self.overlap || (total + n + joined(&current) > self.size && total > 0) {
                    let first = current.pop_front().expect("total > 0 means a piece");
                    total -= len(first) + if current.is_empty() { 0 } else { sep };
                }
            }
            current.push_back(piece);
            total += n + if current.len() > 1 { sep } else { 0 };
        }
        if let Some(doc) = self.join(&current, separator) {
            docs.push(doc);
        }
        docs
    }

    fn join(&self, pieces: &std::collections::VecDeque<&str>, separator: &str) -> Option<String> {
        let text = pieces.iter().copied().collect::<Vec<_>>().join(separator);
        let text = if self.strip { text.trim().to_string() } else { text };
        (!text.is_empty()).then_some(text)
    }

    /// LangChain's `RecursiveCharacterTextSplitter._split_text`.
    fn recursive(&self, text: &str, separators: &[String], keep: bool, out: &mut Vec<String>) {
        let (at, separator) = separators
            .iter()
            .enumerate()
            .find(|(_, s)| s.is_empty() || text.contains(s.as_str()))
            .map_or((separators.len(), ""), |(i, s)| (i + 1, s.as_str()));
        let rest = &separators[at.min(separators.len())..];
        let join_with = if keep { "" } else { separator };
        let mut good: Vec<String> = Vec::new();
        for piece in split_keeping(text, separator, keep) {
            if len(&piece) < self.size {
                good.push(piece);
                continue;
            }
            if !good.is_empty() {
                out.extend(self.merge(&good, join_with));
                good.clear();
            }
            if rest.is_empty() {
                out.push(piece);
            } else {
                self.recursive(&piece, rest, keep, out);
            }
        }
        if !good.is_empty() {
            out.extend(self.merge(&good, join_with));
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn run(splitter: &str, text: &str, kwargs: serde_json::Value) -> Vec<String> {
        chunk(splitter, text, &kwargs).unwrap()
    }

    #[test]
    fn character_splits_at_paragraphs_and_overlaps_whole_pieces() {
        let text = "aaa bbb\n\nccc\n\nddd eee\n\nfff";
        assert_eq!(run("character", text, json!({})), vec![text.to_string()], "one chunk under 4000");
        // Pieces 7, 3, 7, 3 characters joined by a 2-character separator, at most 12 per
        // chunk, the last piece of each chunk repeated when it fits in the overlap of 3.
        assert_eq!(
            run("character", text, json!({"chunk_size": 12, "chunk_overlap": 3})),
            vec!["aaa bbb\n\nccc", "ccc\n\nddd eee", "fff"]
        );
        assert_eq!(
            run(
                "character",
                "one two three four",
                json!({"separator": " ", "chunk_size": 9, "chunk_overlap": 0})
            ),
            vec!["one two", "three", "four"]
        );
    }

    #[test]
    fn recursive_falls_back_to_smaller_separators() {
        let text = "Hello world.\nThis is a longer line of text.\n\nSecond paragraph.";
        let chunks = run("recursive_character", text, json!({"chunk_size": 20, "chunk_overlap": 0}));
        assert_eq!(chunks, vec!["Hello world.", "This is a longer", "line of text.", "Second paragraph."]);
        for c in &chunks {
            assert!(c.chars().count() <= 20);
        }
        // PostgresML's chunking.sql's settings. Each expected list here is what
        // langchain-text-splitters 1.x returns for the same call.
        let chunks =
            run("recursive_character", "It was the best", json!({"chunk_size": 2, "chunk_overlap": 2}));
        assert_eq!(chunks, vec!["It", "w", "wa", "as", "t", "th", "he", "b", "be", "es", "st"]);
    }

    #[test]
    fn mistakes_are_named() {
        let err = |s: &str, k: serde_json::Value| chunk(s, "text", &k).unwrap_err().to_string();
        assert!(err("character", json!({"chunk_size": 10, "chunk_overlap": 20}))
            .contains("chunk_overlap 20 is larger than chunk_size 10"));
        assert!(err("sentences", json!({})).contains("unknown splitter \"sentences\""));
        assert!(err("character", json!({"chunk_sise": 10})).contains("chunk_sise"));
        assert!(matches!(chunk("markdown", "x", &json!({})), Err(Error::Unsupported { .. })));
    }
}
