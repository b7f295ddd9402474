#!/bin/bash
# make check-runtime: the closest this machine gets to running the images
# (no Docker engine here). Builds the runtime stage's file system the way
# the Dockerfiles do, without Docker: a minimal Debian 12 (debootstrap
# minbase, like debian:12-slim) + `make runtime-deps` + `make install`'s
# tree, then runs convd in it as uid 10001 and checks it with convctl
# (health, a classification) and convload, then SIGTERM and a clean exit.
# Needs root and Debian's mirror (apt sources); takes a few minutes.
set -euo pipefail
rootfs=${ROOTFS:-$(mktemp -d)}
mirror=$(sed -n 's/^URIs: //p' /etc/apt/sources.list.d/debian.sources 2>/dev/null | head -1)
mirror=${mirror:-$(awk '/^deb /{print $2; exit}' /etc/apt/sources.list)}
cleanup() {
  pkill -TERM -f "grpc_port=28001" 2>/dev/null || true
  umount "$rootfs/proc" 2>/dev/null || true
}
trap cleanup EXIT

[ -x "$rootfs/bin/bash" ] || debootstrap --variant=minbase bookworm "$rootfs" "$mirror" >/dev/null
cp /etc/resolv.conf "$rootfs/etc/"
mkdir -p "$rootfs/tmp/convd"
cp Makefile "$rootfs/tmp/convd/"
chroot "$rootfs" bash -c "apt-get update -qq && apt-get install -y -qq --no-install-recommends make \
  >/dev/null 2>&1 && make -s -C /tmp/convd runtime-deps >/dev/null 2>&1"
rm -rf "$rootfs/opt/convd"
make -s install PREFIX="$rootfs/opt/convd"
mount -t proc proc "$rootfs/proc"
chroot "$rootfs" bash -c '
set -e
id convd >/dev/null 2>&1 || useradd --system --uid 10001 --no-create-home --shell /usr/sbin/nologin convd
missing=$(ldd /opt/convd/bin/* | grep -c "not found" || true)
[ "$missing" = 0 ] || { ldd /opt/convd/bin/* | grep "not found"; exit 1; }
setpriv --reuid=10001 --regid=65534 --clear-groups /opt/convd/bin/convd \
  --model-repository=/opt/convd/models --grpc-port=28001 --http-port=28000 --metrics-port=28002 \
  2>/tmp/convd.log &
for _ in $(seq 300); do grep -q "HTTP listening" /tmp/convd.log && break; sleep 0.1; done
/opt/convd/bin/convctl --url 127.0.0.1:28001 --timeout-seconds=4 health
/opt/convd/bin/convctl --url http://127.0.0.1:28000 classify lenet5 \
  /opt/convd/models/lenet5/samples/ankle-boot.png -k 1
/opt/convd/bin/convload lenet5 --url 127.0.0.1:28001 --concurrency 2 --duration 1s \
  --warmup 200ms --quiet 2>/dev/null
kill -TERM %1
wait %1
echo "check-runtime: convd ran as uid 10001 on minimal Debian 12 + runtime-deps and exited 0"
'
