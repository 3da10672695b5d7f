//! PostgREST-style RPC: the functions of the schemas the operator exposes (`--rpc-schemas`),
//! read from `pg_proc`, and reloaded when the database sends `NOTIFY pgrst, 'reload schema'`
//! (or an empty payload), as PostgREST does, and after every reconnection of the listener
//! (a notification may have been missed while it was down).
//!
//! A call is one statement run as the token's role, so EXECUTE privileges, row security and
//! the function's own checks are the database's. Arguments travel as one JSON object and
//! become typed values through `jsonb_to_record`, so every argument type PostgreSQL can read
//! from JSON works (arrays from JSON arrays, jsonb from objects).

use std::collections::HashMap;
use std::sync::{Arc, RwLock};
use std::time::Duration;

use tokio_postgres::types::Type;
use tokio_postgres::Config;

use crate::db::{quote_ident, Db};
use crate::error::{ApiError, ApiResult};

/// One input argument.
#[derive(Debug, Clone)]
pub struct Arg {
    pub name: String,
    /// `format_type` of the argument's type, e.g. `text`, `real[]`.
    pub sql_type: String,
    pub has_default: bool,
}

/// What a call returns, which decides the JSON shape.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Returns {
    /// A bare value.
    Scalar,
    /// One object (a composite).
    Row,
    /// An array of values (SETOF a scalar).
    ScalarSet,
    /// An array of row objects (RETURNS TABLE, SETOF a composite or record).
    Rows,
    /// null.
    Void,
}

/// An exposed function.
#[derive(Debug, Clone)]
pub struct Function {
    pub schema: String,
    pub name: String,
    pub args: Vec<Arg>,
    pub returns: Returns,
    pub return_type: String,
    /// STABLE or IMMUTABLE: callable with GET.
    pub read_only: bool,
}

/// The exposed functions by name (the first schema of `--rpc-schemas` that has the name
/// wins; overloads in that schema are told apart by their argument names).
#[derive(Default)]
pub struct Catalog {
    schemas: Vec<String>,
    functions: RwLock<HashMap<String, Vec<Function>>>,
}

const FUNCTIONS: &str = "
    SELECT n.nspname::text, p.proname::text, p.proretset, p.provolatile::text,
           coalesce(p.proargnames, '{}')::text[],
           coalesce(p.proargmodes::text[], '{}'),
           ARRAY(SELECT format_type(t, NULL)
                 FROM unnest(coalesce(p.proallargtypes, p.proargtypes::oid[])) WITH ORDINALITY u(t, i)
                 ORDER BY i)::text[],
           p.pronargdefaults::int,
           format_type(p.prorettype, NULL), t.typtype::text,
           EXISTS (SELECT FROM unnest(coalesce(p.proallargtypes, p.proargtypes::oid[])) a(t)
                   JOIN pg_type pt ON pt.oid = a.t WHERE pt.typtype = 'p' AND pt.typname <> 'record')
    FROM pg_proc p
    JOIN pg_namespace n ON n.oid = p.pronamespace
    JOIN pg_type t ON t.oid = p.prorettype
    WHERE n.nspname = ANY($1) AND p.prokind = 'f'
    ORDER BY array_position($1, n.nspname::text), p.proname, p.oid";

impl Catalog {
    pub fn new(schemas: Vec<String>) -> Catalog {
        Catalog { schemas, functions: RwLock::default() }
    }

    pub fn schemas(&self) -> &[String] {
        &self.schemas
    }

    /// Reads the exposed schemas' functions again.
    pub async fn reload(&self, db: &Db) -> ApiResult<usize> {
        if self.schemas.is_empty() {
            return Ok(0);
        }
        let rows = db.query("", FUNCTIONS, &[(&self.schemas, Type::TEXT_ARRAY)]).await?;
        let mut by_name: HashMap<String, Vec<Function>> = HashMap::new();
        for r in rows {
            let (schema, name): (String, String) = (r.get(0), r.get(1));
            let polymorphic: bool = r.get(10);
            if polymorphic {
                continue; // anyelement and friends: no type to read the JSON as
            }
            let (names, modes, types): (Vec<String>, Vec<String>, Vec<String>) =
                (r.get(4), r.get(5), r.get(6));
            let defaults = r.get::<_, i32>(7) as usize;
            let inputs: Vec<(String, String)> = types
                .iter()
                .enumerate()
                .filter(|(i, _)| modes.get(*i).is_none_or(|m| matches!(m.as_str(), "i" | "b" | "v")))
                .map(|(i, t)| (names.get(i).cloned().unwrap_or_default(), t.clone()))
                .collect();
            if inputs.iter().any(|(n, _)| n.is_empty()) {
                continue; // unnamed arguments cannot be passed by name
            }
            let (return_type, has_outputs): (String, bool) =
                (r.get(8), modes.iter().any(|m| matches!(m.as_str(), "o" | "b" | "t")));
            if return_type == "record" && !has_outputs {
                continue; // a bare record needs a column list the caller cannot give
            }
            let first_default = inputs.len().saturating_sub(defaults);
            let args = inputs
                .into_iter()
                .enumerate()
                .map(|(i, (name, sql_type))| Arg { name, sql_type, has_default: i >= first_default })
                .collect();
            let (set, typtype): (bool, String) = (r.get(2), r.get(9));
            // OUT or TABLE columns make rows, even a single one (whose type is then the
            // function's return type), as PostgREST answers them.
            let composite = has_outputs || typtype == "c" || return_type == "record";
            let returns = match (set, composite, return_type.as_str()) {
                (_, false, "void") => Returns::Void,
                (true, true, _) => Returns::Rows,
                (true, false, _) => Returns::ScalarSet,
                (false, true, _) => Returns::Row,
                (false, false, _) => Returns::Scalar,
            };
            let volatility: String = r.get(3);
            let function = Function {
                schema,
                name: name.clone(),
                args,
                returns,
                return_type,
                read_only: volatility != "v",
            };
            let entry = by_name.entry(name).or_default();
            // A later schema's function of a name the first schema has is hidden by it.
            if entry.first().is_none_or(|f| f.schema == function.schema) {
                entry.push(function);
            }
        }
        let count = by_name.values().map(Vec::len).sum();
        *self.functions.write().unwrap_or_else(|e| e.into_inner()) = by_name;
        Ok(count)
    }

    /// Every exposed function, by name.
    pub fn all(&self) -> Vec<Function> {
        let functions = self.functions.read().unwrap_or_else(|e| e.into_inner());
        let mut all: Vec<Function> = functions.values().flatten().cloned().collect();
        all.sort_by(|a, b| (&a.name, a.args.len()).cmp(&(&b.name, b.args.len())));
        all
    }

    /// The function `name` that takes exactly these named arguments (every required one, no
    /// unknown one).
    pub fn resolve(&self, name: &str, keys: &[&str]) -> ApiResult<Function> {
        let functions = self.functions.read().unwrap_or_else(|e| e.into_inner());
        let candidates = functions.get(name).filter(|c| !c.is_empty()).ok_or_else(|| {
            ApiError::not_found(format!("no function \"{name}\" is exposed"))
                .hint("the server exposes the functions of --rpc-schemas; after CREATE FUNCTION, NOTIFY pgrst, 'reload schema'")
        })?;
        let fits = |f: &&Function| {
            keys.iter().all(|k| f.args.iter().any(|a| a.name == *k))
                && f.args.iter().all(|a| a.has_default || keys.contains(&a.name.as_str()))
        };
        candidates.iter().find(fits).cloned().ok_or_else(|| {
            let forms: Vec<String> = candidates
                .iter()
                .map(|f| {
                    let args: Vec<String> = f
                        .args
                        .iter()
                        .map(|a| format!("{}{} {}", a.name, if a.has_default { "?" } else { "" }, a.sql_type))
                        .collect();
                    format!("{}({})", f.name, args.join(", "))
                })
                .collect();
            ApiError::bad_request(format!(
                "function \"{name}\" takes no arguments named {{{}}}",
                keys.join(", ")
            ))
            .hint(format!("its arguments: {} (? = optional)", forms.join("; ")))
        })
    }
}

impl Function {
    /// The statement that calls the function with these arguments (`$1`, a JSON object) and
    /// answers one row of one column, the result as JSON text.
    pub fn statement(&self, keys: &[&str]) -> String {
        let target = format!("{}.{}", quote_ident(&self.schema), quote_ident(&self.name));
        let passed: Vec<&Arg> = self.args.iter().filter(|a| keys.contains(&a.name.as_str())).collect();
        let call = format!(
            "{target}({})",
            passed
                .iter()
                .map(|a| format!("{0} => a.{0}", quote_ident(&a.name)))
                .collect::<Vec<_>>()
                .join(", ")
        );
        let result = match self.returns {
            Returns::Scalar => format!("to_jsonb({call})"),
            // Through a subquery: for a single OUT or TABLE column, `FROM f() r` makes `r` the
            // bare value, where the subquery's row keeps the column's name.
            Returns::Row => format!("(SELECT to_jsonb(r) FROM (SELECT * FROM {call}) r)"),
            Returns::Void => format!("(SELECT 'null'::jsonb FROM (SELECT {call}) v)"),
            Returns::ScalarSet => {
                format!("(SELECT coalesce(jsonb_agg(to_jsonb(r.v)), '[]') FROM {call} AS r(v))")
            }
            Returns::Rows => {
                format!("(SELECT coalesce(jsonb_agg(to_jsonb(r)), '[]') FROM (SELECT * FROM {call}) r)")
            }
        };
        if passed.is_empty() {
            return format!("SELECT {result}::text WHERE $1::jsonb IS NOT NULL");
        }
        let columns: Vec<String> =
            passed.iter().map(|a| format!("{} {}", quote_ident(&a.name), a.sql_type)).collect();
        format!("SELECT {result}::text FROM jsonb_to_record($1::jsonb) AS a({})", columns.join(", "))
    }
}

/// Keeps the catalog current: LISTENs on `pgrst` with the server's login, reloading on each
/// `reload schema` (or empty) notification and after each (re)connection; retries every
/// second while the database cannot be reached.
pub async fn follow(config: Config, db: Arc<Db>, catalog: Arc<Catalog>) {
    loop {
        match listen_once(&config, &db, &catalog).await {
            Ok(()) => tracing::warn!("rpc: the pgrst listener's connection closed; reconnecting"),
            Err(e) => tracing::warn!(error = %e, "rpc: cannot listen on pgrst; retrying"),
        }
        tokio::time::sleep(Duration::from_secs(1)).await;
    }
}

async fn listen_once(config: &Config, db: &Db, catalog: &Catalog) -> Result<(), String> {
    let mut listener = crate::db::Listener::start(config, "pgrst").await?;
    reload(db, catalog).await;
    while let Some(payload) = listener.payloads.recv().await {
        if payload.is_empty() || payload == "reload schema" {
            reload(db, catalog).await;
        }
    }
    Ok(())
}

async fn reload(db: &Db, catalog: &Catalog) {
    match catalog.reload(db).await {
        Ok(n) => tracing::info!(functions = n, schemas = ?catalog.schemas(), "rpc: function list loaded"),
        Err(e) => tracing::warn!(error = %e.message, "rpc: could not read the function list"),
    }
}

/// The OpenAPI path items of the exposed functions: `/rpc/<name>` with POST (and GET for
/// STABLE and IMMUTABLE functions), their arguments as a JSON object's properties. The error
/// responses are added by `app::openapi_document`, as for every other operation.
pub fn openapi_paths(functions: &[Function]) -> Vec<(String, utoipa::openapi::PathItem)> {
    use serde_json::json;
    let mut by_name: std::collections::BTreeMap<&str, Vec<&Function>> = Default::default();
    functions.iter().for_each(|f| by_name.entry(&f.name).or_default().push(f));
    by_name
        .into_iter()
        .map(|(name, forms)| {
            let f = forms[0];
            let properties: serde_json::Map<String, serde_json::Value> =
                f.args.iter().map(|a| (a.name.clone(), json_schema(&a.sql_type))).collect();
            let required: Vec<&str> = f.args.iter().filter(|a| !a.has_default).map(|a| a.name.as_str()).collect();
            let set = if matches!(f.returns, Returns::Rows | Returns::ScalarSet) { "SETOF " } else { "" };
            let responses = json!({"200": {"description": format!("The result ({set}{})", f.return_type)}});
            let mut item = json!({"post": {
                "tags": ["rpc"], "operationId": format!("rpc_post_{name}"),
                "summary": format!("{}.{}", f.schema, f.name),
                "requestBody": {"required": true, "content": {"application/json": {"schema":
                    {"type": "object", "properties": properties, "required": required, "additionalProperties": false}}}},
                "responses": responses, "security": [{"bearer": []}]}});
            if f.read_only {
                let params: Vec<serde_json::Value> = f.args.iter().map(|a| json!({"name": a.name, "in": "query",
                    "required": !a.has_default, "schema": query_schema(&a.sql_type)})).collect();
                item["get"] = json!({"tags": ["rpc"], "operationId": format!("rpc_get_{name}"),
                    "summary": format!("{}.{}", f.schema, f.name), "parameters": params,
                    "responses": responses, "security": [{"bearer": []}]});
            }
            let item = serde_json::from_value(item).expect("a path item built here is valid OpenAPI");
            (format!("/rpc/{name}"), item)
        })
        .collect()
}

/// A query parameter's schema: a scalar's own, anything else as its text form.
fn query_schema(sql_type: &str) -> serde_json::Value {
    match json_schema(sql_type) {
        s if s.get("type").is_some_and(|t| t != "array") => s,
        _ => serde_json::json!({"type": "string"}),
    }
}

/// A JSON schema for a PostgreSQL type name.
fn json_schema(sql_type: &str) -> serde_json::Value {
    use serde_json::json;
    if let Some(element) = sql_type.strip_suffix("[]") {
        return json!({"type": "array", "items": json_schema(element)});
    }
    match sql_type {
        "smallint" | "integer" | "bigint" => json!({"type": "integer"}),
        "real" | "double precision" | "numeric" => json!({"type": "number"}),
        "boolean" => json!({"type": "boolean"}),
        "json" | "jsonb" => json!({}),
        _ => json!({"type": "string"}),
    }
}
