//! `pgml-serve`: the HTTP server, and the commands that create and revoke its tokens.

use clap::{Parser, Subcommand};
use pgml_serve::{app, db::Db, AppState};
use std::net::SocketAddr;
use std::process::ExitCode;
use std::time::Duration;

#[derive(Parser)]
#[command(name = "pgml-serve", version, about = "Stable HTTP prediction endpoints over a pgml-rs database")]
struct Cli {
    /// The database, as a PostgreSQL URI; its login must be able to SET ROLE to the tokens' roles.
    #[arg(
        long,
        env = "PGML_SERVE_DATABASE_URL",
        global = true,
        default_value = "postgresql://postgres@127.0.0.1:5499/pgml"
    )]
    database_url: String,
    #[command(subcommand)]
    command: Option<Command>,
    #[command(flatten)]
    serve: ServeArgs,
}

#[derive(clap::Args)]
struct ServeArgs {
    /// Address to listen on.
    #[arg(long, env = "PGML_SERVE_LISTEN", default_value = "127.0.0.1:8080")]
    listen: SocketAddr,
    /// A hot standby of the database for predictions, as a PostgreSQL URI (repeat the flag, or
    /// separate them with commas); lifecycle and registry calls stay on --database-url.
    #[arg(long = "replica-url", env = "PGML_SERVE_REPLICA_URLS", value_delimiter = ',')]
    replica_urls: Vec<String>,
    /// Database connections per role (each pipelines many requests).
    #[arg(long, env = "PGML_SERVE_CONNECTIONS", default_value_t = 2)]
    connections: usize,
    /// Longest a request may take, in milliseconds (also the statements' timeout).
    #[arg(long, env = "PGML_SERVE_TIMEOUT_MS", default_value_t = 5000)]
    timeout_ms: u64,
    /// Schemas whose functions `/rpc/{function}` exposes, PostgREST style (comma-separated;
    /// default none). The list reloads on `NOTIFY pgrst, 'reload schema'`.
    #[arg(long = "rpc-schemas", env = "PGML_SERVE_RPC_SCHEMAS", value_delimiter = ',')]
    rpc_schemas: Vec<String>,
    /// Every prediction through the database, which sees each deploy committed before the
    /// request; by default predictions run in this process and follow deploys on NOTIFY.
    #[arg(long, env = "PGML_SERVE_STRICT")]
    strict: bool,
    /// A stage's model unused for this many seconds is dropped from memory.
    #[arg(long, env = "PGML_SERVE_MODEL_IDLE_SECS", default_value_t = 3600)]
    model_idle_secs: u64,
    /// The models held in memory stay within this many MiB (their stored size); the least
    /// recently used go first.
    #[arg(long, env = "PGML_SERVE_MODEL_MEMORY_MB", default_value_t = 1024)]
    model_memory_mb: usize,
    /// Log format: `json` (structured) or `text`.
    #[arg(long, env = "PGML_SERVE_LOG_FORMAT", default_value = "json")]
    log_format: String,
}

#[derive(Subcommand)]
enum Command {
    /// Serve HTTP (the default).
    Serve,
    /// Manage bearer tokens (stored as SHA-256 in pgml_serve.tokens).
    Token {
        #[command(subcommand)]
        action: TokenAction,
    },
}

#[derive(Subcommand)]
enum TokenAction {
    /// Creates a token for a PostgreSQL role and prints it once.
    Create {
        #[arg(long)]
        name: String,
        #[arg(long)]
        role: String,
    },
    /// Revokes a token by name.
    Revoke {
        #[arg(long)]
        name: String,
    },
    /// Lists tokens (never their values).
    List,
}

#[tokio::main]
async fn main() -> ExitCode {
    let cli = Cli::parse();
    let result = match cli.command {
        None | Some(Command::Serve) => serve(&cli.database_url, cli.serve).await,
        Some(Command::Token { action }) => token(&cli.database_url, action).await,
    };
    match result {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("pgml-serve: {e}");
            ExitCode::FAILURE
        }
    }
}

async fn token(database_url: &str, action: TokenAction) -> Result<(), String> {
    use pgml_serve::auth::admin;
    match action {
        TokenAction::Create { name, role } => {
            println!("{}", admin::create(database_url, &name, &role).await?)
        }
        TokenAction::Revoke { name } => {
            if !admin::revoke(database_url, &name).await? {
                return Err(format!("no live token named \"{name}\""));
            }
            println!("revoked {name}");
        }
        TokenAction::List => {
            for (name, role, created, revoked) in admin::list(database_url).await? {
                println!("{name}\t{role}\t{created}\t{}", if revoked { "revoked" } else { "live" });
            }
        }
    }
    Ok(())
}

async fn serve(database_url: &str, args: ServeArgs) -> Result<(), String> {
    let filter =
        tracing_subscriber::EnvFilter::try_from_env("PGML_SERVE_LOG").unwrap_or_else(|_| "info".into());
    let logs = tracing_subscriber::fmt().with_env_filter(filter);
    if args.log_format == "text" {
        // colour codes only for a terminal: a file or a journal gets plain text
        logs.with_ansi(std::io::IsTerminal::is_terminal(&std::io::stdout())).init();
    } else {
        logs.json().init();
    }
    // requests are the parallelism: one thread per library prediction (see threads.rs)
    pgml_core::threads::set_prediction_threads(1);
    let timeout = Duration::from_millis(args.timeout_ms);
    let db = Db::new(database_url, args.connections, timeout)
        .map_err(|e| format!("bad --database-url: {e}"))?
        .with_replicas(&args.replica_urls)
        .map_err(|e| format!("bad --replica-url: {e}"))?;
    let db_replicas = db.replicas();
    let listener = tokio::net::TcpListener::bind(args.listen)
        .await
        .map_err(|e| format!("cannot listen on {}: {e}", args.listen))?;
    let state = AppState::new(db)
        .with_rpc_schemas(args.rpc_schemas.clone())
        .with_models(Duration::from_secs(args.model_idle_secs), args.model_memory_mb << 20)
        .strict(args.strict);
    let config: tokio_postgres::Config =
        database_url.parse().map_err(|e| format!("bad --database-url: {e}"))?;
    if !args.rpc_schemas.is_empty() {
        tokio::spawn(pgml_serve::rpc::follow(config.clone(), state.db.clone(), state.rpc.clone()));
    }
    if !args.strict {
        tokio::spawn(pgml_serve::models::follow(config, state.models.clone()));
    }
    tokio::spawn(pgml_serve::log::run(state.log.clone(), state.db.clone()));
    tracing::info!(listen = %args.listen, replicas = db_replicas, rpc_schemas = ?args.rpc_schemas, strict = args.strict, "pgml-serve listening");
    axum::serve(listener, app(state)).with_graceful_shutdown(shutdown()).await.map_err(|e| e.to_string())?;
    tracing::info!("pgml-serve stopped");
    Ok(())
}

/// Ctrl-C or SIGTERM: stop accepting, finish the requests in flight, exit.
async fn shutdown() {
    let terminate = async {
        if let Ok(mut s) = tokio::signal::unix::signal(tokio::signal::unix::SignalKind::terminate()) {
            s.recv().await;
        }
    };
    tokio::select! {
        _ = tokio::signal::ctrl_c() => {},
        _ = terminate => {},
    }
    tracing::info!("shutting down: finishing requests in flight");
}
