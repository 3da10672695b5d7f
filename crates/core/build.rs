//! Lets this crate's own test binaries find libxgboost.so at run time (the library is built
//! once per machine by scripts/build-xgboost.sh and linked dynamically).
fn main() {
    println!("cargo:rerun-if-env-changed=XGBOOST_LIB_DIR");
    if let Ok(dir) = std::env::var("XGBOOST_LIB_DIR") {
        println!("cargo:rustc-link-arg=-Wl,-rpath,{dir}");
    }
}
