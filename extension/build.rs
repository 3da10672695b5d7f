//! The extension links libxgboost.so dynamically; `make install` copies the library beside
//! pgml.so in PostgreSQL's pkglibdir, which $ORIGIN finds at load time. The default of
//! `pgml.models_dir` is the embedding models' directory under this PostgreSQL's share
//! directory, where `make install` puts them.
fn main() {
    println!("cargo:rustc-link-arg=-Wl,-rpath,$ORIGIN");
    println!("cargo:rerun-if-env-changed=XGBOOST_LIB_DIR");
    if let Ok(dir) = std::env::var("XGBOOST_LIB_DIR") {
        println!("cargo:rustc-link-arg=-Wl,-rpath,{dir}");
    }
    println!("cargo:rerun-if-env-changed=PGRX_PG_CONFIG_PATH");
    println!("cargo:rerun-if-env-changed=PG_CONFIG");
    let pg_config = std::env::var("PGRX_PG_CONFIG_PATH")
        .or_else(|_| std::env::var("PG_CONFIG"))
        .unwrap_or_else(|_| "pg_config".into());
    let share = std::process::Command::new(&pg_config)
        .arg("--sharedir")
        .output()
        .ok()
        .filter(|o| o.status.success())
        .map(|o| String::from_utf8_lossy(&o.stdout).trim().to_string())
        .unwrap_or_else(|| "/usr/share/postgresql/15".into());
    println!("cargo:rustc-env=PGML_DEFAULT_MODELS_DIR={share}/pgml/models");
}
