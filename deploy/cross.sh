# shellcheck shell=bash
# Cross builds for ARM (docs/operating.md, "ARM"), sourced by .ci/run and
# deploy/release.sh: one place that knows each target's C compiler.
#
#   cross_target armv7     the armv7 target this toolchain has (below)
#   cross_env TARGET       exports the C compiler and linker cargo needs
#                          for TARGET (ring's and aws-lc's C, the link);
#                          fails, saying what is missing, without them
#   cross_setup TARGET     installs what cross_env needs where it can
#                          (rustup's target, Debian's cross compiler)
#
# The C compilers are Debian's (gcc-aarch64-linux-gnu,
# gcc-arm-linux-gnueabihf): glibc cross compilers, which serve as the
# linker for Rust's musl targets too (those carry their own libc and
# start files). armv7 is built on musl where rustup has the target
# (armv7-unknown-linux-musleabihf); where it has not (its download was
# not found on 2026-11-26), on glibc, linked statically
# (armv7-unknown-linux-gnueabihf with crt-static), which runs on the same
# boards but resolves host names in --listen through glibc's static
# resolver: give it addresses.

# The C compiler (and linker) for a Rust target triple.
cross_cc() {
  case $1 in
    aarch64-unknown-linux-*) echo aarch64-linux-gnu-gcc ;;
    armv7-unknown-linux-*) echo arm-linux-gnueabihf-gcc ;;
    *) return 1 ;;
  esac
}

# The Debian package that holds cross_cc's compiler.
cross_cc_package() {
  case $1 in
    aarch64-*) echo gcc-aarch64-linux-gnu ;;
    armv7-*) echo gcc-arm-linux-gnueabihf ;;
    *) return 1 ;;
  esac
}

cross_has_target() {
  rustup target list --installed 2>/dev/null | grep -qx "$1"
}

# armv7: musl if rustup has it or can add it, else static glibc.
cross_target() {
  [ "$1" = armv7 ] || { echo "$1"; return; }
  local musl=armv7-unknown-linux-musleabihf
  if cross_has_target "$musl" || timeout 180 rustup target add "$musl" >/dev/null 2>&1; then
    echo "$musl"
  else
    echo armv7-unknown-linux-gnueabihf
  fi
}

cross_env() {
  local target=$1 cc upper
  cc=$(cross_cc "$target") || { echo "no cross compiler known for $target" >&2; return 1; }
  command -v "$cc" >/dev/null 2>&1 \
    || { echo "no $cc (Debian: apt-get install $(cross_cc_package "$target"))" >&2; return 1; }
  cross_has_target "$target" \
    || { echo "no Rust target $target (rustup target add $target)" >&2; return 1; }
  upper=$(echo "$target" | tr a-z- A-Z_)
  export "CC_${target//-/_}=$cc" "AR_${target//-/_}=${cc%gcc}ar"
  export "CARGO_TARGET_${upper}_LINKER=$cc"
  case $target in
    *-gnueabihf) export "CARGO_TARGET_${upper}_RUSTFLAGS=-C target-feature=+crt-static" ;;
  esac
}

cross_setup() {
  local target=$1 package
  package=$(cross_cc_package "$target") || return 1
  if ! command -v "$(cross_cc "$target")" >/dev/null 2>&1 && command -v apt-get >/dev/null 2>&1; then
    echo "== apt-get install $package"
    DEBIAN_FRONTEND=noninteractive apt-get install -y -qq "$package" >/dev/null 2>&1 \
      || { apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq "$package" >/dev/null; } \
      || echo "could not install $package" >&2
  fi
  cross_has_target "$target" || timeout 180 rustup target add "$target" >/dev/null 2>&1 || true
  cross_env "$target"
}
