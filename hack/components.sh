#!/usr/bin/env bash
# Builds or installs, once, the real components the Kubernetes and endpoint
# picker tests run against, into a cache keyed by component and version:
#
#   $CACHE_DIR/etcd/3.4.23/etcd                 Debian etcd-server, extracted
#   $CACHE_DIR/kube-apiserver/v1.37.2/kube-apiserver
#   $CACHE_DIR/gaie-epp/v1.5.0/epp              GAIE's full endpoint picker
#   $CACHE_DIR/gaie-lwepp/v1.6.0/lwepp          GAIE's conformance picker
#   $CACHE_DIR/redis/7.0.15/{redis-server,redis-cli,lib/}  Debian redis-server, extracted
#   $CACHE_DIR/envtest-assets/{etcd,kube-apiserver}   for KUBEBUILDER_ASSETS
#
# With the argument "redis" only Redis is installed (what the rate limit
# tests need when SKIP_K8S_TESTS=1 leaves the Kubernetes components out).
#
# A component whose binary exists is skipped; builds write to a temporary
# name and rename when done, so an interrupted build never looks cached.
# Cold: ~16 min for kube-apiserver, ~4 + ~3 min for the pickers on 2 cores.
# Prints the envtest assets directory on its last line.
set -euo pipefail

CACHE_DIR=${AIGW_CACHE_DIR:-$HOME/.cache/aigw-test}
ETCD_VERSION=3.4.23
KUBE_VERSION=1.37.2
KUBE_STAGING_VERSION=0.37.2
GAIE_EPP_VERSION=v1.5.0
GAIE_LWEPP_VERSION=v1.6.0
REDIS_VERSION=7.0.15
export GOFLAGS=-buildvcs=false

log() { printf '[components] %s\n' "$*" >&2; }

build_etcd() {
	local out=$CACHE_DIR/etcd/$ETCD_VERSION/etcd
	[ -x "$out" ] && return
	log "etcd $ETCD_VERSION (Debian etcd-server)"
	local work; work=$(mktemp -d)
	(
		cd "$work"
		apt-get download etcd-server >/dev/null 2>&1 || { apt-get update >/dev/null && apt-get download etcd-server >/dev/null; }
		dpkg-deb -x etcd-server_*.deb root
		got=$(root/usr/bin/etcd --version | awk '/etcd Version/ {print $3}')
		[ "$got" = "$ETCD_VERSION" ] || { echo "Debian serves etcd $got, expected $ETCD_VERSION" >&2; exit 1; }
		install -D root/usr/bin/etcd "$out.tmp" && mv "$out.tmp" "$out"
	)
	rm -rf "$work"
}

# build_redis extracts Debian's redis-server (no service started) with the
# two libraries it links that a minimal machine lacks.
build_redis() {
	local dir=$CACHE_DIR/redis/$REDIS_VERSION
	[ -x "$dir/redis-server" ] && return
	log "redis $REDIS_VERSION (Debian redis-server)"
	local work; work=$(mktemp -d)
	(
		cd "$work"
		apt-get download redis-server redis-tools libjemalloc2 liblzf1 >/dev/null 2>&1 ||
			{ apt-get update >/dev/null && apt-get download redis-server redis-tools libjemalloc2 liblzf1 >/dev/null; }
		for f in *.deb; do dpkg-deb -x "$f" root; done
		mkdir -p "$dir.tmp/lib"
		cp root/usr/bin/redis-check-rdb "$dir.tmp/redis-server" # redis-server is a symlink to it
		cp root/usr/bin/redis-cli "$dir.tmp/"
		cp -a root/usr/lib/x86_64-linux-gnu/libjemalloc.so.2 root/usr/lib/x86_64-linux-gnu/liblzf.so.1* "$dir.tmp/lib/"
		got=$(LD_LIBRARY_PATH=$dir.tmp/lib "$dir.tmp/redis-server" --version | sed -n 's/.* v=\([0-9.]*\).*/\1/p')
		[ "$got" = "$REDIS_VERSION" ] || { echo "Debian serves redis $got, expected $REDIS_VERSION" >&2; exit 1; }
		rm -rf "$dir" && mv "$dir.tmp" "$dir"
	)
	rm -rf "$work"
}

build_kube_apiserver() {
	local dir=$CACHE_DIR/kube-apiserver/v$KUBE_VERSION out
	out=$dir/kube-apiserver
	[ -x "$out" ] && return
	log "kube-apiserver v$KUBE_VERSION (cold build ~16 min)"
	local work=$CACHE_DIR/build/kube-apiserver-v$KUBE_VERSION
	mkdir -p "$work" "$dir"
	(
		cd "$work"
		local kmod
		kmod=$(GOFLAGS=-mod=mod go list -m -f '{{.GoMod}}' "k8s.io/kubernetes@v$KUBE_VERSION")
		{
			printf 'module kasbuild\n\ngo 1.26\n\nrequire k8s.io/kubernetes v%s\n\nreplace (\n' "$KUBE_VERSION"
			grep -E '^\s+k8s.io/[a-z0-9-]+ v0\.0\.0$' "$kmod" | awk -v sv="$KUBE_STAGING_VERSION" '{printf "\t%s => %s v%s\n", $1, $1, sv}'
			printf ')\n'
		} >go.mod
		printf '//go:build tools\n\npackage tools\n\nimport _ "k8s.io/kubernetes/cmd/kube-apiserver"\n' >tools.go
		go mod tidy
		local minor=${KUBE_VERSION#*.}; minor=${minor%%.*}
		go build -trimpath -o "$out.tmp" \
			-ldflags="-s -w -X k8s.io/component-base/version.gitVersion=v$KUBE_VERSION -X k8s.io/component-base/version.gitMajor=1 -X k8s.io/component-base/version.gitMinor=$minor -X k8s.io/component-base/version.gitTreeState=clean" \
			k8s.io/kubernetes/cmd/kube-apiserver
		mv "$out.tmp" "$out"
	)
}

# build_gaie NAME VERSION PACKAGE BINARY
build_gaie() {
	local name=$1 version=$2 pkg=$3 bin=$4
	local dir=$CACHE_DIR/$name/$version out
	out=$dir/$bin
	[ -x "$out" ] && return
	log "$name $version"
	local work=$CACHE_DIR/build/$name-$version
	mkdir -p "$work" "$dir"
	(
		cd "$work"
		printf 'module %sbuild\n\ngo 1.26\n\nrequire sigs.k8s.io/gateway-api-inference-extension %s\n' "$bin" "$version" >go.mod
		printf '//go:build tools\n\npackage tools\n\nimport _ "sigs.k8s.io/gateway-api-inference-extension/%s"\n' "$pkg" >tools.go
		go mod tidy
		go build -trimpath -ldflags="-s -w" -o "$out.tmp" "sigs.k8s.io/gateway-api-inference-extension/$pkg"
		mv "$out.tmp" "$out"
	)
}

build_redis
if [ "${1:-}" = redis ]; then
	exit 0
fi
build_etcd
build_gaie gaie-lwepp "$GAIE_LWEPP_VERSION" cmd/lwepp lwepp
build_gaie gaie-epp "$GAIE_EPP_VERSION" cmd/epp epp
build_kube_apiserver

assets=$CACHE_DIR/envtest-assets
mkdir -p "$assets"
ln -sf "$CACHE_DIR/etcd/$ETCD_VERSION/etcd" "$assets/etcd"
ln -sf "$CACHE_DIR/kube-apiserver/v$KUBE_VERSION/kube-apiserver" "$assets/kube-apiserver"
log "ready: $assets"
echo "$assets"
