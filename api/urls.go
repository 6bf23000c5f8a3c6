package api

import (
	"net"
	"net/http"
	"net/url"
	"regexp"
	"strconv"
	"strings"

	"vitrine/notify/payload"
)

// links builds the absolute URLs handed to sellers, encoders and viewers.
type links struct {
	base     string // scheme://host[:port][/prefix], no trailing slash
	wsBase   string // the same with ws or wss
	hostname string // host without port, for RTMP and RTSP
	rtmpPort int
	rtspPort int
}

// hostPattern keeps header-supplied hosts from injecting anything into the
// URLs we hand out (and the calendar file).
var hostPattern = regexp.MustCompile(`^(\[[0-9A-Fa-f:.]+\]|[A-Za-z0-9.-]+)(:[0-9]{1,5})?$`)

// links uses the configured public URL, or the request's scheme and host
// (X-Forwarded-Proto and X-Forwarded-Host only when the proxy is trusted).
func (a *API) links(r *http.Request) links {
	var u url.URL
	if a.publicURL != nil {
		u = *a.publicURL
	} else {
		u.Scheme = "http"
		if r.TLS != nil {
			u.Scheme = "https"
		}
		u.Host = r.Host
		if a.trustProxy {
			if p := firstValue(r.Header.Get("X-Forwarded-Proto")); p == "http" || p == "https" {
				u.Scheme = p
			}
			if h := firstValue(r.Header.Get("X-Forwarded-Host")); hostPattern.MatchString(h) {
				u.Host = h
			}
		}
		if !hostPattern.MatchString(u.Host) {
			u.Host = "localhost"
		}
	}
	base := strings.TrimRight(u.String(), "/")
	ws := "ws" + strings.TrimPrefix(base, "http")
	return links{base: base, wsBase: ws, hostname: u.Hostname(), rtmpPort: int(a.rtmpPort.Load()), rtspPort: int(a.rtspPort.Load())}
}

func firstValue(h string) string {
	v, _, _ := strings.Cut(h, ",")
	return strings.ToLower(strings.TrimSpace(v))
}

func (l links) http(parts ...string) string { return payload.URL(l.base, parts...) }

// ingestView holds ready-to-paste publishing URLs.
type ingestView struct {
	RTMP       string `json:"rtmp,omitempty" doc:"full RTMP URL with the key (ffmpeg); absent when RTMP is disabled" format:"uri"`
	RTMPServer string `json:"rtmp_server,omitempty" doc:"the OBS 'Server' field; the 'Stream Key' is stream_key" format:"uri"`
	RTSP       string `json:"rtsp,omitempty" doc:"RTSP publish URL with the key; absent when RTSP is disabled" format:"uri"`
	WHIP       string `json:"whip" doc:"WHIP endpoint; send the stream key as Authorization: Bearer KEY" format:"uri"`
}

func (l links) ingest(id, key string) ingestView {
	v := ingestView{WHIP: l.http("whip", id)}
	if l.rtmpPort > 0 {
		server := "rtmp://" + net.JoinHostPort(l.hostname, strconv.Itoa(l.rtmpPort)) + "/live"
		v.RTMPServer = server
		v.RTMP = server + "/" + url.PathEscape(key)
	}
	if l.rtspPort > 0 {
		v.RTSP = "rtsp://" + net.JoinHostPort(l.hostname, strconv.Itoa(l.rtspPort)) + "/live/" + url.PathEscape(key)
	}
	return v
}

// playbackView holds the viewers' URLs of a campaign.
type playbackView struct {
	HLS      string `json:"hls" doc:"LL-HLS playlist" format:"uri"`
	WHEP     string `json:"whep" doc:"WebRTC playback (WHEP)" format:"uri"`
	Events   string `json:"events" doc:"WebSocket of the shopping data channel (?since=SEQ to resume)" format:"uri"`
	Watch    string `json:"watch" doc:"the player page, the link to share" format:"uri"`
	Replay   string `json:"replay" doc:"replay playlist (HLS VOD) once recorded" format:"uri"`
	Calendar string `json:"calendar" doc:"iCalendar file for viewers (published campaigns)" format:"uri"`
}

func (l links) playback(id string) playbackView {
	return playbackView{
		HLS:      l.http("live", id, "index.m3u8"),
		WHEP:     l.http("live", id, "whep"),
		Events:   l.wsBase + "/live/" + url.PathEscape(id) + "/events",
		Watch:    l.watch(id),
		Replay:   l.http("replay", id, "index.m3u8"),
		Calendar: payload.CalendarURL(l.base, id),
	}
}

// The viewer URLs that notifications carry too are built by package
// payload, so that the API's and the scheduler's agree.

func (l links) watch(id string) string { return payload.WatchURL(l.base, id) }

func (l links) image(id string) string { return payload.ImageURL(l.base, id) }

func (l links) images(ids []string) []string { return payload.ImageURLs(l.base, ids) }
