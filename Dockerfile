# Build: docker build -t vitrine .
# Run:   docker run --rm -p 8080:8080 -p 1935:1935 -p 8554:8554 -p 8000-8001:8000-8001/udp -p 8189:8189/udp -p 8189:8189 -v vitrine-data:/data vitrine
# Behind NAT (most hosts), tell WebRTC clients the public address: -e VITRINE_WEBRTC_PUBLIC_IPS=203.0.113.10
# HTTPS with automatic certificates (the console's camera needs a secure page): -p 443:443 -p 80:80
#   -e VITRINE_HTTP_LISTEN=:443 -e VITRINE_HTTP_ACME_HOSTS=live.example.com (the certificates stay in /data/acme)
FROM node:20-bookworm-slim AS web
WORKDIR /web
COPY web/package.json web/package-lock.json ./
RUN npm ci --no-audit --no-fund
COPY web/ ./
RUN npm run build

FROM golang:1.26-bookworm AS build
WORKDIR /src
COPY go.mod go.sum ./
RUN go mod download
COPY . .
# The player page and widget, embedded by go build.
COPY --from=web /web/dist ./web/dist
# Pure Go (modernc SQLite): a static binary without cgo.
RUN CGO_ENABLED=0 go build -trimpath -ldflags="-s -w" -o /out/vitrine .

FROM debian:bookworm-slim
# ffmpeg (with libopus) turns AAC sources' audio into Opus for WebRTC
# viewers (webrtc.aac_to_opus); without it they get the picture only.
RUN apt-get update && apt-get install -y --no-install-recommends ca-certificates ffmpeg \
 && rm -rf /var/lib/apt/lists/* \
 && useradd --system --home /data vitrine && mkdir -p /data && chown vitrine /data
COPY --from=build /out/vitrine /usr/local/bin/vitrine
USER vitrine
WORKDIR /data
ENV VITRINE_DATA_DIR=/data
EXPOSE 8080 1935 8554 8000/udp 8001/udp 8189/udp 8189/tcp 443 80
VOLUME /data
ENTRYPOINT ["/usr/local/bin/vitrine"]
