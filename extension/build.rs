//! The extension links libxgboost.so dynamically; `make install` copies the library beside
//! pgml.so in PostgreSQL's pkglibdir, which $ORIGIN finds at load time.
fn main() {
    println!("cargo:rustc-link-arg=-Wl,-rpath,$ORIGIN");
    println!("cargo:rerun-if-env-changed=XGBOOST_LIB_DIR");
    if let Ok(dir) = std::env::var("XGBOOST_LIB_DIR") {
        println!("cargo:rustc-link-arg=-Wl,-rpath,{dir}");
    }
}
