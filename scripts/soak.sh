#!/usr/bin/env bash
# Memory over time: Vitrine and MediaMTX v1.20.1 side by side, each under the same steady load
# (WHEP viewers and LL-HLS clients from ../shared/bench/tools) for SECONDS, their RSS sampled
# every STEP seconds. A leak shows as RSS still climbing after the first minute.
# Usage (from the project's root): scripts/soak.sh [WHEP_N] [HLS_N] [SECONDS] [STEP]
# Needs ffmpeg; the tools and MediaMTX come from ../shared/bench (built or unpacked into
# /tmp/sidebyside-bin as sidebyside.sh does). Both servers run at once, each with its own load:
# the CPU figures of this run mean nothing, the RSS figures are what it is for.
set -u
WN=${1:-50}; HN=${2:-100}; D=${3:-600}; STEP=${4:-30}
ROOT=$(pwd); BENCH=$(cd "$ROOT/../shared/bench" && pwd)
BIN=${BENCH_BIN:-/tmp/sidebyside-bin}; mkdir -p "$BIN"
W=$(mktemp -d /tmp/soak.XXXXXX); PIDS=()
cleanup() { for p in "${PIDS[@]:-}"; do kill "$p" 2>/dev/null; done; sleep 1; rm -rf "$W"; }
trap cleanup EXIT
[ -x "$BIN/mediamtx" ] || { xz -dc "$BENCH/mediamtx-v1.20.1-linux-amd64.xz" > "$BIN/mediamtx" && chmod +x "$BIN/mediamtx"; }
for t in whepcheck hlsload; do [ -x "$BIN/$t" ] || (cd "$BENCH/tools/$t" && go build -o "$BIN/$t" .) || exit 1; done
go build -o bin/vitrine-bench . || exit 1
SRC=/tmp/sidebyside-src.mkv
[ -f $SRC ] || ffmpeg -hide_banner -loglevel error -f lavfi -i testsrc2=size=1280x720:rate=30 -f lavfi -i sine=frequency=440:sample_rate=48000 -t 60 \
  -c:v libx264 -preset veryfast -tune zerolatency -bf 0 -g 60 -b:v 2000k -maxrate 2000k -bufsize 2000k -pix_fmt yuv420p -c:a libopus -b:a 64k $SRC
push() { ffmpeg -hide_banner -loglevel error -re -stream_loop -1 -i $SRC -c copy -f rtsp -rtsp_transport tcp "$1" > "$W/push-$2.log" 2>&1 & PIDS+=($!); }
rss() { awk '/VmRSS/{print $2}' "/proc/$1/status" 2>/dev/null || echo 0; }
hwm() { awk '/VmHWM/{print $2}' "/proc/$1/status" 2>/dev/null || echo 0; }

(cd "$W" && exec env MTX_RTSPADDRESS=127.0.0.1:47554 MTX_RTSPTRANSPORTS=tcp MTX_RTMP=no MTX_SRT=no MTX_HLSADDRESS=127.0.0.1:47888 \
  MTX_WEBRTCADDRESS=127.0.0.1:47889 MTX_WEBRTCLOCALUDPADDRESS=127.0.0.1:47189 MTX_WEBRTCIPSFROMINTERFACES=no \
  MTX_WEBRTCADDITIONALHOSTS=127.0.0.1 MTX_LOGLEVEL=warn "$BIN/mediamtx" "$BENCH/mediamtx.yml" > "$W/mtx.log" 2>&1) & MPID=$!; PIDS+=($MPID)
VITRINE_HTTP_LISTEN=127.0.0.1:48080 VITRINE_RTMP_ENABLED=false VITRINE_RTSP_LISTEN=127.0.0.1:48554 VITRINE_RTSP_UDP_RTP= VITRINE_RTSP_UDP_RTCP= \
  VITRINE_WEBRTC_ICE_LISTEN=127.0.0.1:48189 VITRINE_DATA_DIR="$W/vdata" VITRINE_ADMIN_TOKEN=sidebyside-token-0123456789 \
  VITRINE_STREAMS=shop:shop-key-0123456789 VITRINE_RECORDINGS_ENABLED=false VITRINE_LOG_LEVEL=warn bin/vitrine-bench > "$W/vit.log" 2>&1 & VPID=$!; PIDS+=($VPID)
sleep 1.5
push rtsp://127.0.0.1:47554/shop mtx; push rtsp://127.0.0.1:48554/live/shop-key-0123456789 vit
sleep 4
echo "idle (source only): mediamtx RSS $(rss $MPID) KiB, vitrine RSS $(rss $VPID) KiB"
for srv in mtx vit; do
  if [ $srv = mtx ]; then wu=http://127.0.0.1:47889/shop/whep; hu=http://127.0.0.1:47888/shop/index.m3u8
  else wu=http://127.0.0.1:48080/live/shop/whep; hu=http://127.0.0.1:48080/live/shop/index.m3u8; fi
  "$BIN/whepcheck" -url $wu -n "$WN" -d "${D}s" > "$W/whep-$srv.log" 2>&1 & PIDS+=($!)
  "$BIN/hlsload" -url $hu -n "$HN" -d "${D}s" > "$W/hls-$srv.log" 2>&1 & PIDS+=($!)
done
echo "seconds  mediamtx_rss_kib  vitrine_rss_kib"
for t in $(seq "$STEP" "$STEP" "$D"); do
  sleep "$STEP"
  echo "$t  $(rss $MPID)  $(rss $VPID)"
done
sleep 3
n=$((WN + HN))
echo "peak RSS: mediamtx $(hwm $MPID) KiB, vitrine $(hwm $VPID) KiB, for $n clients each"
python3 -c "m=$(hwm $MPID); v=$(hwm $VPID); print(f'peak RSS per client: mediamtx {m/$n:.0f} KiB, vitrine {v/$n:.0f} KiB')"
for srv in mtx vit; do echo "$srv whep: $(tail -n 1 "$W/whep-$srv.log")"; echo "$srv hls:  $(tail -n 1 "$W/hls-$srv.log")"; done
