//! pgml-serve predicts with the core crate, which links libxgboost.so dynamically (built once
//! per machine by scripts/build-xgboost.sh): the binary and its tests find it by rpath.
fn main() {
    println!("cargo:rerun-if-env-changed=XGBOOST_LIB_DIR");
    if let Ok(dir) = std::env::var("XGBOOST_LIB_DIR") {
        println!("cargo:rustc-link-arg=-Wl,-rpath,{dir}");
    }
}
