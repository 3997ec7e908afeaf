//! The binary needs nothing on the server but libc: libgit2 and zlib are linked in, and there
//! is no OpenSSL or libssh2 (the test build links exactly as the release build does).

use std::process::Command;

use crate::util::BIN;

/// Shared libraries every glibc program may use.
const ALLOWED: &[&str] = &[
    "linux-vdso.so",
    "libc.so",
    "libm.so",
    "libpthread.so",
    "libdl.so",
    "librt.so",
    "libgcc_s.so",
    "ld-linux",
];

#[test]
fn the_binary_links_only_libc() {
    let output = Command::new("ldd").arg(BIN).output().expect("running ldd (package libc-bin)");
    let listing = String::from_utf8_lossy(&output.stdout);
    assert!(output.status.success(), "{listing}{}", String::from_utf8_lossy(&output.stderr));
    let libraries: Vec<&str> = listing.lines().filter_map(|line| line.split_whitespace().next()).collect();
    assert!(libraries.iter().any(|lib| lib.starts_with("libc.so")), "{listing}");
    let extra: Vec<&&str> = libraries
        .iter()
        .filter(|lib| !ALLOWED.iter().any(|ok| lib.rsplit('/').next().unwrap_or(lib).starts_with(ok)))
        .collect();
    assert!(extra.is_empty(), "linked beyond libc: {extra:?}\n{listing}");
}
