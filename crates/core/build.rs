//! Lets the binaries of the crates that link the core (its own tests, pgml-embed's tests,
//! pgml-serve and its tests; each names this file as its `build` script) find libxgboost.so at
//! run time by rpath: the library is built once per machine by scripts/build-xgboost.sh and
//! linked dynamically. (Every build keeps all sections, `-Wl,--no-gc-sections` in
//! .cargo/config.toml, so even a binary that never trains XGBoost needs the library.)
fn main() {
    println!("cargo:rerun-if-env-changed=XGBOOST_LIB_DIR");
    if let Ok(dir) = std::env::var("XGBOOST_LIB_DIR") {
        println!("cargo:rustc-link-arg=-Wl,-rpath,{dir}");
    }
}
