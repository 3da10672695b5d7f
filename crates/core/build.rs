//! Lets the binaries of the crates that link the core (its own tests, pgml-embed's tests,
//! pgml-serve and its tests; each names this file as its `build` script) find libxgboost.so at
//! run time by rpath: the library is built once per machine by scripts/build-xgboost.sh and
//! linked dynamically. (A release build given cargo-pgrx's `-Wl,--no-gc-sections`, as the
//! scripts give pgml-serve's, keeps every section, so it needs the library even where it never
//! trains XGBoost.)
fn main() {
    println!("cargo:rerun-if-env-changed=XGBOOST_LIB_DIR");
    if let Ok(dir) = std::env::var("XGBOOST_LIB_DIR") {
        println!("cargo:rustc-link-arg=-Wl,-rpath,{dir}");
    }
}
