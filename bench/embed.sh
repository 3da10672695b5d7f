#!/usr/bin/env bash
# pgml.embed against sentence-transformers (PyTorch, CPU), in one run, on the same 1,000
# headlines (the clickbait dataset, cycled), the same model files and the same thread count
# (EMBED_THREADS, default: every core). Prints sentences per second and the ratios, and the
# memory of a backend that has embedded. Not a test: timings on a shared machine vary.
# Usage: make bench-embed
set -euo pipefail
source "$(dirname "$0")/../scripts/lib.sh"
machine
cd "$ROOT"
THREADS=${EMBED_THREADS:-$(nproc)}
DB=pgml_bench_embed
TMP=$(mktemp -d)
trap 'rm -rf "$TMP"' EXIT
source bench/embed/venv.sh >/dev/null
PGOPTIONS="-c client_min_messages=warning" psql -X -q -d postgres -c "DROP DATABASE IF EXISTS $DB" -c "CREATE DATABASE $DB"
q() { psql -X -q -At -v ON_ERROR_STOP=1 -d "$DB" "$@"; }
PGOPTIONS="-c client_min_messages=warning" q -c "CREATE EXTENSION pgml" -c "SELECT pgml.load_dataset('clickbait')" >/dev/null
q -c "CREATE TABLE titles AS SELECT i AS id, (SELECT title FROM pgml.clickbait ORDER BY title OFFSET (i % 289) LIMIT 1) AS title FROM generate_series(0, 999) i"
q -c "COPY (SELECT title FROM titles ORDER BY id) TO STDOUT" > "$TMP/titles.txt"

# One session: warm the model, then time each form (seconds from clock_timestamp()).
q <<SQL > "$TMP/pg.txt"
SET pgml.embed_threads = $THREADS;
SELECT count(*) FROM pgml.embed('all-MiniLM-L6-v2', ARRAY['warm up']);
CREATE TEMP TABLE t (form text, seconds float8);
DO \$\$
DECLARE s timestamptz;
BEGIN
  s := clock_timestamp();
  PERFORM count(*) FROM pgml.embed('all-MiniLM-L6-v2', (SELECT array_agg(title ORDER BY id) FROM titles));
  INSERT INTO t VALUES ('batch', extract(epoch FROM clock_timestamp() - s));
  s := clock_timestamp();
  PERFORM count(pgml.embed('all-MiniLM-L6-v2', title)) FROM titles;
  INSERT INTO t VALUES ('rows', extract(epoch FROM clock_timestamp() - s));
END \$\$;
SELECT form || ' ' || round((1000 / seconds)::numeric, 1) FROM t;
SQL
batch=$(awk '$1 == "batch" {print $2}' "$TMP/pg.txt")
rows=$(awk '$1 == "rows" {print $2}' "$TMP/pg.txt")
"$VENV/bin/python" bench/embed/peer.py "$THREADS" "$TMP/titles.txt" > "$TMP/st.txt" 2>/dev/null
st32=$(awk '$2 == 32 {print $3}' "$TMP/st.txt")
st1=$(awk '$2 == 1 {print $3}' "$TMP/st.txt")
echo "== embedding 1,000 headlines with all-MiniLM-L6-v2, $THREADS thread(s), sentences per second"
printf "   %-52s %8s\n" "pgml.embed, batch form (one call, 1,000 texts)" "$batch"
printf "   %-52s %8s\n" "sentence-transformers encode, batch_size=32" "$st32"
printf "   %-52s %8s   %sx (target >= 1.0)\n" "  ratio" "" "$(ratio "$batch" "$st32")"
printf "   %-52s %8s\n" "pgml.embed row by row (SELECT ... FROM titles)" "$rows"
printf "   %-52s %8s\n" "sentence-transformers encode, batch_size=1" "$st1"
printf "   %-52s %8s   %sx (target >= 1.0)\n" "  ratio" "" "$(ratio "$rows" "$st1")"

# Memory of a backend before and after it loads the model and embeds. The weights are mapped
# read-only: their pages are the page cache's, shared by every backend that maps the file;
# Anonymous is this backend's own (activations, tokenizer, vocabulary).
echo "== memory of one backend (kB, from /proc/<pid>/smaps_rollup)"
mem() { awk '/^(Rss|Anonymous):/ {v[$1]=$2} END {printf "Rss %d  Anonymous %d", v["Rss:"], v["Anonymous:"]}' "/proc/$1/smaps_rollup"
        awk '/^[0-9a-f]+-[0-9a-f]+ / {f = ($6 ~ /model.safetensors$/)} f && /^Rss:/ {m += $2} END {printf "  model.safetensors mapped %d", m}' "/proc/$1/smaps"; }
coproc PSQL { psql -X -q -At -d "$DB" 2>&1; }
echo "SELECT pg_backend_pid();" >&"${PSQL[1]}"; read -r pid <&"${PSQL[0]}"
echo "   before embedding:   $(mem "$pid")"
echo "SET pgml.embed_threads = $THREADS; SELECT count(*) FROM pgml.embed('all-MiniLM-L6-v2', (SELECT array_agg(title) FROM titles));" >&"${PSQL[1]}"; read -r _ <&"${PSQL[0]}"
echo "   after 1,000 texts:  $(mem "$pid")"
echo "\\q" >&"${PSQL[1]}"; wait "$PSQL_PID" 2>/dev/null || true
