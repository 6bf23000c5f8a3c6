#!/usr/bin/env bash
# WHEP viewers against Vitrine binaries in turn, with busy loops beside them to play a loaded
# machine: CPU per viewer-second, packets the viewers received, and the server's WHEP packet
# counters (sent, resent, refused NACKs, dropped) and the kernel's UDP receive-buffer drops.
# Usage (after ../shared/bench/sidebyside.sh has run once: it builds the tools and the source):
#   scripts/whep-ab.sh VIEWERS SECONDS BUSY_LOOPS BINARY...
#   e.g. scripts/whep-ab.sh 100 12 4 ./bin/old ./bin/new ./bin/old ./bin/new
set -u
N=${1:?viewers}; D=${2:?seconds}; HOGS=${3:?busy loops}; shift 3
BIN=${BENCH_BIN:-/tmp/sidebyside-bin}; SRC=/tmp/sidebyside-src.mkv
[ -x $BIN/whepcheck ] && [ -f $SRC ] || { echo "run ../shared/bench/sidebyside.sh once first" >&2; exit 1; }
udpdrops() { nstat -az UdpRcvbufErrors | awk '/UdpRcvbufErrors/{print $2}'; }
for VBIN in "$@"; do
  W=$(mktemp -d)
  VITRINE_HTTP_LISTEN=127.0.0.1:48080 VITRINE_RTMP_ENABLED=false VITRINE_RTSP_LISTEN=127.0.0.1:48554 VITRINE_RTSP_UDP_RTP= VITRINE_RTSP_UDP_RTCP= \
    VITRINE_WEBRTC_ICE_LISTEN=127.0.0.1:48189 VITRINE_DATA_DIR=$W/vdata VITRINE_ADMIN_TOKEN=whep-ab-token-0123456789 \
    VITRINE_STREAMS=shop:shop-key-0123456789 VITRINE_RECORDINGS_ENABLED=false VITRINE_LOG_LEVEL=warn $VBIN > $W/vit.log 2>&1 & P=$!
  sleep 1.5
  ffmpeg -hide_banner -loglevel error -re -stream_loop -1 -i $SRC -c copy -f rtsp -rtsp_transport tcp \
    rtsp://127.0.0.1:48554/live/shop-key-0123456789 > $W/push.log 2>&1 & PUSH=$!
  sleep 4
  HP=(); for _ in $(seq 1 $HOGS); do timeout $((D + 8)) sh -c 'while :; do :; done' & HP+=($!); done
  d0=$(udpdrops); c0=$(awk '{print $14+$15}' /proc/$P/stat)
  out=$($BIN/whepcheck -url http://127.0.0.1:48080/live/shop/whep -n $N -d ${D}s 2>&1 | tail -n 2 | tr '\n' ' ')
  c1=$(awk '{print $14+$15}' /proc/$P/stat); d1=$(udpdrops)
  [ ${#HP[@]} -gt 0 ] && kill ${HP[@]} 2>/dev/null
  echo "$VBIN busy=$HOGS ms_per_viewer_s=$(awk -v c=$((c1 - c0)) -v n=$N -v d=$D 'BEGIN{printf "%.2f", c*10/(n*d)}')" \
    "$(echo $out | grep -o 'video_pkts=[0-9]* audio_pkts=[0-9]*') udp_rcvbuf_drops=$((d1 - d0))"
  echo "  $(curl -s http://127.0.0.1:48080/metrics | grep '^vitrine_whep_packets' | tr '\n' ' ')"
  kill $PUSH $P; wait $P 2>/dev/null; sleep 1; rm -rf $W
done
