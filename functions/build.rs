//! Release binaries link as position-dependent executables. A position-independent one spends
//! about a quarter of its start-up in the dynamic loader applying ~38,000 relative relocations
//! (vtables, string tables) and copying the pages they touch; a fixed-address executable has
//! none, and its read-only data stays shared with the page cache. Lambda's amazon linux 2023
//! glibc (2.34) predates packed relative relocations (DT_RELR, 2.36), the other way out. What is
//! given up: the address randomisation of the executable's own image (libraries, heap and stack
//! stay randomised), a hardening layer against memory-corruption exploits that Rust's memory
//! safety already keeps out. Debug builds (tests, the local gateway in development) stay PIE.
fn main() {
    println!("cargo::rerun-if-changed=build.rs");
    if std::env::var("PROFILE").as_deref() == Ok("release") {
        println!("cargo::rustc-link-arg=-no-pie");
    }
}
