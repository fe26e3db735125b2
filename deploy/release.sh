#!/usr/bin/env bash
# The release artifacts (docs/operating.md, "Releases"), in OUT
# (default target/dist):
#
#   ferry-VERSION-x86_64-linux-gnu.tar.gz       the default build (glibc)
#   ferry-VERSION-aarch64-linux-musl.tar.gz     the default build (static)
#   ferry-VERSION-armv7-linux-TARGET.tar.gz     the embedded build (static)
#   ferry_VERSION_arm64.deb                     the aarch64 binary, packaged
#   SHA256SUMS                                  of all of the above
#
# Each tarball holds ferry-VERSION-ARCH/ with the binary, the systemd unit
# (deploy/systemd/ferry.service), its settings file (deploy/debian/default,
# for /etc/default/ferry) and README.md. Each binary is smoke-tested before
# it is packed (deploy/smoke.sh: a PUT and a GET over HTTP; the ARM ones
# under qemu-user where it is installed, else not run, and said so).
#
#   deploy/release.sh [OUT]
#       CARGO_TARGET_DIR is honoured (default: target). The ARM toolchains
#       come from deploy/cross.sh (Debian's gcc-aarch64-linux-gnu and
#       gcc-arm-linux-gnueabihf, rustup's targets); the .deb is made with
#       dpkg-deb from Cargo.toml's [package.metadata.deb] (its assets,
#       conffiles and maintainer scripts), as `cargo deb` makes the amd64
#       one (docs/operating.md, "The Debian package").
set -euo pipefail
cd "$(dirname "$0")/.."
# shellcheck source=deploy/cross.sh
source deploy/cross.sh
out=$(mkdir -p "${1:-target/dist}" && cd "${1:-target/dist}" && pwd)
targets=${CARGO_TARGET_DIR:-target}
version=$(sed -n 's/^version = "\(.*\)"/\1/p' Cargo.toml | head -n 1)
stage=$(mktemp -d)
made=()
trap 'rm -rf "$stage"' EXIT

# build NAME TARGET PROFILE CARGO-ARGS...: builds, smoke-tests and packs one.
build() {
  local name=$1 target=$2 profile=$3 runner=
  shift 3
  echo "== $name: cargo build --profile $profile --target $target $*"
  cargo build --locked --profile "$profile" --target "$target" "$@"
  local binary=$targets/$target/$profile/ferry
  case $target in
    x86_64-*) ;;
    aarch64-*) runner=qemu-aarch64-static ;;
    armv7-*) runner=qemu-arm-static ;;
  esac
  if [ -z "$runner" ] || command -v "$runner" >/dev/null 2>&1; then
    deploy/smoke.sh "$binary" ${runner:+"$runner"}
  else
    echo "not smoke-tested: $binary (no $runner here)"
  fi
  local dir=$stage/ferry-$version-$name
  mkdir -p "$dir"
  install -m 0755 "$binary" "$dir/ferry"
  install -m 0644 deploy/systemd/ferry.service "$dir/ferry.service"
  install -m 0644 deploy/debian/default "$dir/ferry.default"
  install -m 0644 README.md "$dir/README.md"
  tar -C "$stage" --owner=0 --group=0 --sort=name -czf "$out/ferry-$version-$name.tar.gz" "ferry-$version-$name"
  made+=("ferry-$version-$name.tar.gz")
  echo "$name: $(stat -c %s "$binary") bytes"
}

build x86_64-linux-gnu x86_64-unknown-linux-gnu release

arm64=aarch64-unknown-linux-musl
cross_setup "$arm64"
build aarch64-linux-musl "$arm64" release

armv7=$(cross_target armv7)
cross_setup "$armv7"
# The embedded build: a server only, TLS on ring (docs/operating.md, "ARM").
build "armv7-${armv7#armv7-unknown-}" "$armv7" embedded --no-default-features --features embedded

# The arm64 package: the files Cargo.toml's [package.metadata.deb] lists,
# with the aarch64 binary for target/release/ferry.
deb=$stage/deb
python3 - "$deb" "$version" "$targets/$arm64/release/ferry" <<'PY'
import glob, os, shutil, sys, tomllib
root, version, binary = sys.argv[1:]
with open("Cargo.toml", "rb") as f:
    cargo = tomllib.load(f)
package, meta = cargo["package"], cargo["package"]["metadata"]["deb"]
for source, dest, mode in meta["assets"]:
    source = binary if source == "target/release/ferry" else source
    for path in sorted(glob.glob(source)):
        target = os.path.join(root, dest, os.path.basename(path)) if dest.endswith("/") else os.path.join(root, dest)
        os.makedirs(os.path.dirname(target), exist_ok=True)
        shutil.copyfile(path, target)
        os.chmod(target, int(mode, 8))
units = meta["systemd-units"]
unit_dir = os.path.join(root, "usr/lib/systemd/system")
os.makedirs(unit_dir, exist_ok=True)
name = units["unit-name"]
shutil.copyfile(os.path.join(units["unit-scripts"], name + ".service"), os.path.join(unit_dir, name + ".service"))
os.chmod(os.path.join(unit_dir, name + ".service"), 0o644)
control = os.path.join(root, "DEBIAN")
os.makedirs(control, exist_ok=True)
depends = ", ".join(d.strip() for d in meta["depends"].split(",") if d.strip() != "$auto")
size = sum(os.path.getsize(os.path.join(d, f)) for d, _, fs in os.walk(root) for f in fs) // 1024
description = package["description"] + "\n" + "".join(
    " " + line + "\n" for line in meta["extended-description"].splitlines())
with open(os.path.join(control, "control"), "w") as f:
    f.write(f"""Package: {package['name']}
Version: {version}
Architecture: arm64
Maintainer: {meta['maintainer']}
Installed-Size: {size}
Depends: {depends}
Section: {meta['section']}
Priority: {meta['priority']}
Description: {description}""")
with open(os.path.join(control, "conffiles"), "w") as f:
    f.write("".join(c + "\n" for c in meta["conf-files"]))
# The systemd steps cargo-deb writes for `enable = true, start = true`.
snippets = {
    "postinst": f"""if [ "$1" = configure ]; then
    if command -v deb-systemd-helper >/dev/null; then deb-systemd-helper enable {name}.service >/dev/null || true; fi
    if [ -d /run/systemd/system ]; then
        systemctl --system daemon-reload >/dev/null || true
        systemctl restart {name}.service || true
    fi
fi""",
    "prerm": f"""if [ -d /run/systemd/system ] && [ "$1" = remove ]; then
    systemctl stop {name}.service || true
fi""",
    "postrm": f"""if [ -d /run/systemd/system ]; then systemctl --system daemon-reload >/dev/null || true; fi
if [ "$1" = purge ] && command -v deb-systemd-helper >/dev/null; then
    deb-systemd-helper purge {name}.service >/dev/null || true
fi""",
}
scripts = meta["maintainer-scripts"]
for script, snippet in snippets.items():
    given = os.path.join(scripts, script)
    text = open(given).read() if os.path.exists(given) else "#!/bin/sh\nset -e\n#DEBHELPER#\nexit 0\n"
    path = os.path.join(control, script)
    with open(path, "w") as f:
        f.write(text.replace("#DEBHELPER#", snippet))
    os.chmod(path, 0o755)
PY
dpkg-deb --root-owner-group --build "$deb" "$out/ferry_${version}_arm64.deb" >/dev/null
made+=("ferry_${version}_arm64.deb")

(cd "$out" && sha256sum -- "${made[@]}" >SHA256SUMS && ls -l -- "${made[@]}" SHA256SUMS)
