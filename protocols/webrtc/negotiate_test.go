package webrtc

import (
	"strconv"
	"strings"
	"testing"

	"github.com/pion/sdp/v3"
	pion "github.com/pion/webrtc/v4"

	"vitrine/stream"
)

const fingerprint = "a=fingerprint:sha-256 5E:3A:0B:C9:1D:7F:22:8E:41:90:AB:CD:EF:01:23:45:67:89:AB:CD:EF:01:23:45:67:89:AB:CD:EF:01:23:45\r\n"

// chromeVideo is the video section Chrome writes (M120-M130 era): VP8
// first, every H.264 profile in both packetization modes, AV1, VP9, RTX
// for each, RED and ULPFEC, a dozen header extensions.
const chromeVideo = "m=video 9 UDP/TLS/RTP/SAVPF 96 97 102 103 104 105 106 107 108 109 127 125 39 40 45 46 98 99 100 101 112 113 116 117 118\r\n" +
	"c=IN IP4 0.0.0.0\r\n" +
	"a=rtcp:9 IN IP4 0.0.0.0\r\n" +
	"a=ice-ufrag:Gdlv\r\n" +
	"a=ice-pwd:iVJ9mH1DqBmr8o0x3TcLkA2x\r\n" +
	"a=ice-options:trickle\r\n" + fingerprint +
	"a=setup:actpass\r\n" +
	"a=mid:1\r\n" +
	"a=extmap:14 urn:ietf:params:rtp-hdrext:toffset\r\n" +
	"a=extmap:2 http://www.webrtc.org/experiments/rtp-hdrext/abs-send-time\r\n" +
	"a=extmap:13 urn:3gpp:video-orientation\r\n" +
	"a=extmap:3 http://www.ietf.org/id/draft-holmer-rmcat-transport-wide-cc-extensions-01\r\n" +
	"a=extmap:5 http://www.webrtc.org/experiments/rtp-hdrext/playout-delay\r\n" +
	"a=extmap:6 http://www.webrtc.org/experiments/rtp-hdrext/video-content-type\r\n" +
	"a=extmap:7 http://www.webrtc.org/experiments/rtp-hdrext/video-timing\r\n" +
	"a=extmap:8 http://www.webrtc.org/experiments/rtp-hdrext/color-space\r\n" +
	"a=extmap:4 urn:ietf:params:rtp-hdrext:sdes:mid\r\n" +
	"a=extmap:10 urn:ietf:params:rtp-hdrext:sdes:rtp-stream-id\r\n" +
	"a=extmap:11 urn:ietf:params:rtp-hdrext:sdes:repaired-rtp-stream-id\r\n" +
	"a=%DIR%\r\n" +
	"%MSID%" +
	"a=rtcp-mux\r\n" +
	"a=rtcp-rsize\r\n" +
	"a=rtpmap:96 VP8/90000\r\n" +
	"a=rtcp-fb:96 goog-remb\r\na=rtcp-fb:96 transport-cc\r\na=rtcp-fb:96 ccm fir\r\na=rtcp-fb:96 nack\r\na=rtcp-fb:96 nack pli\r\n" +
	"a=rtpmap:97 rtx/90000\r\na=fmtp:97 apt=96\r\n" +
	"a=rtpmap:102 H264/90000\r\n" +
	"a=rtcp-fb:102 goog-remb\r\na=rtcp-fb:102 transport-cc\r\na=rtcp-fb:102 ccm fir\r\na=rtcp-fb:102 nack\r\na=rtcp-fb:102 nack pli\r\n" +
	"a=fmtp:102 level-asymmetry-allowed=1;packetization-mode=1;profile-level-id=42001f\r\n" +
	"a=rtpmap:103 rtx/90000\r\na=fmtp:103 apt=102\r\n" +
	"a=rtpmap:104 H264/90000\r\n" +
	"a=rtcp-fb:104 nack\r\na=rtcp-fb:104 nack pli\r\n" +
	"a=fmtp:104 level-asymmetry-allowed=1;packetization-mode=0;profile-level-id=42001f\r\n" +
	"a=rtpmap:105 rtx/90000\r\na=fmtp:105 apt=104\r\n" +
	"a=rtpmap:106 H264/90000\r\n" +
	"a=rtcp-fb:106 goog-remb\r\na=rtcp-fb:106 transport-cc\r\na=rtcp-fb:106 ccm fir\r\na=rtcp-fb:106 nack\r\na=rtcp-fb:106 nack pli\r\n" +
	"a=fmtp:106 level-asymmetry-allowed=1;packetization-mode=1;profile-level-id=42e01f\r\n" +
	"a=rtpmap:107 rtx/90000\r\na=fmtp:107 apt=106\r\n" +
	"a=rtpmap:108 H264/90000\r\n" +
	"a=fmtp:108 level-asymmetry-allowed=1;packetization-mode=0;profile-level-id=42e01f\r\n" +
	"a=rtpmap:109 rtx/90000\r\na=fmtp:109 apt=108\r\n" +
	"a=rtpmap:127 H264/90000\r\n" +
	"a=fmtp:127 level-asymmetry-allowed=1;packetization-mode=1;profile-level-id=4d001f\r\n" +
	"a=rtpmap:125 rtx/90000\r\na=fmtp:125 apt=127\r\n" +
	"a=rtpmap:39 H264/90000\r\n" +
	"a=fmtp:39 level-asymmetry-allowed=1;packetization-mode=0;profile-level-id=4d001f\r\n" +
	"a=rtpmap:40 rtx/90000\r\na=fmtp:40 apt=39\r\n" +
	"a=rtpmap:45 AV1/90000\r\na=fmtp:45 level-idx=5;profile=0;tier=0\r\n" +
	"a=rtpmap:46 rtx/90000\r\na=fmtp:46 apt=45\r\n" +
	"a=rtpmap:98 VP9/90000\r\na=fmtp:98 profile-id=0\r\n" +
	"a=rtpmap:99 rtx/90000\r\na=fmtp:99 apt=98\r\n" +
	"a=rtpmap:100 VP9/90000\r\na=fmtp:100 profile-id=2\r\n" +
	"a=rtpmap:101 rtx/90000\r\na=fmtp:101 apt=100\r\n" +
	"a=rtpmap:112 H264/90000\r\n" +
	"a=fmtp:112 level-asymmetry-allowed=1;packetization-mode=1;profile-level-id=64001f\r\n" +
	"a=rtpmap:113 rtx/90000\r\na=fmtp:113 apt=112\r\n" +
	"a=rtpmap:116 red/90000\r\n" +
	"a=rtpmap:117 rtx/90000\r\na=fmtp:117 apt=116\r\n" +
	"a=rtpmap:118 ulpfec/90000\r\n" +
	"%SSRCV%"

const chromeAudio = "m=audio 9 UDP/TLS/RTP/SAVPF 111 63 9 0 8 13 110 126\r\n" +
	"c=IN IP4 0.0.0.0\r\n" +
	"a=rtcp:9 IN IP4 0.0.0.0\r\n" +
	"a=ice-ufrag:Gdlv\r\n" +
	"a=ice-pwd:iVJ9mH1DqBmr8o0x3TcLkA2x\r\n" +
	"a=ice-options:trickle\r\n" + fingerprint +
	"a=setup:actpass\r\n" +
	"a=mid:0\r\n" +
	"a=extmap:1 urn:ietf:params:rtp-hdrext:ssrc-audio-level\r\n" +
	"a=extmap:2 http://www.webrtc.org/experiments/rtp-hdrext/abs-send-time\r\n" +
	"a=extmap:3 http://www.ietf.org/id/draft-holmer-rmcat-transport-wide-cc-extensions-01\r\n" +
	"a=extmap:4 urn:ietf:params:rtp-hdrext:sdes:mid\r\n" +
	"a=%DIR%\r\n" +
	"%MSID%" +
	"a=rtcp-mux\r\n" +
	"a=rtcp-rsize\r\n" +
	"a=rtpmap:111 opus/48000/2\r\n" +
	"a=rtcp-fb:111 transport-cc\r\n" +
	"a=fmtp:111 minptime=10;useinbandfec=1\r\n" +
	"a=rtpmap:63 red/48000/2\r\na=fmtp:63 111/111\r\n" +
	"a=rtpmap:9 G722/8000\r\n" +
	"a=rtpmap:0 PCMU/8000\r\n" +
	"a=rtpmap:8 PCMA/8000\r\n" +
	"a=rtpmap:13 CN/8000\r\n" +
	"a=rtpmap:110 telephone-event/48000\r\n" +
	"a=rtpmap:126 telephone-event/8000\r\n" +
	"%SSRCA%"

const chromeSession = "v=0\r\n" +
	"o=- 4215775240449105457 2 IN IP4 127.0.0.1\r\n" +
	"s=-\r\n" +
	"t=0 0\r\n" +
	"a=group:BUNDLE 0 1\r\n" +
	"a=extmap-allow-mixed\r\n" +
	"a=msid-semantic: WMS\r\n"

// chromeOffer builds Chrome's offer: sendonly with its SSRCs (WHIP, from
// getUserMedia) or recvonly (WHEP, from addTransceiver).
func chromeOffer(send bool) string {
	r := strings.NewReplacer("%DIR%", "recvonly", "%MSID%", "", "%SSRCV%", "", "%SSRCA%", "")
	if send {
		r = strings.NewReplacer("%DIR%", "sendonly",
			"%MSID%", "a=msid:Yf6k 8d1c\r\n",
			"%SSRCV%", "a=ssrc-group:FID 2231627014 632943048\r\n"+
				"a=ssrc:2231627014 cname:4TOk42mSjXCkVIa6\r\na=ssrc:2231627014 msid:Yf6k 8d1c\r\n"+
				"a=ssrc:632943048 cname:4TOk42mSjXCkVIa6\r\na=ssrc:632943048 msid:Yf6k 8d1c\r\n",
			"%SSRCA%", "a=ssrc:3570614608 cname:4TOk42mSjXCkVIa6\r\na=ssrc:3570614608 msid:Yf6k 7a2e\r\n")
	}
	return r.Replace(chromeSession + chromeAudio + chromeVideo)
}

// firefoxWHEP is a Firefox recvonly offer: audio first, VP8 first, H.264
// only in constrained baseline.
const firefoxWHEP = "v=0\r\n" +
	"o=mozilla...THIS_IS_SDPARTA-99.0 6543614516376185394 0 IN IP4 0.0.0.0\r\n" +
	"s=-\r\nt=0 0\r\n" + fingerprint +
	"a=group:BUNDLE 0 1\r\na=ice-options:trickle\r\na=msid-semantic:WMS *\r\n" +
	"m=audio 9 UDP/TLS/RTP/SAVPF 109 9 0 8 101\r\nc=IN IP4 0.0.0.0\r\na=recvonly\r\n" +
	"a=extmap:1 urn:ietf:params:rtp-hdrext:ssrc-audio-level\r\na=extmap:3 urn:ietf:params:rtp-hdrext:sdes:mid\r\n" +
	"a=fmtp:109 maxplaybackrate=48000;stereo=1;useinbandfec=1\r\na=fmtp:101 0-15\r\n" +
	"a=ice-pwd:a2a2c5e9f0f1c7e2d63c0dd6a0f3f3b0\r\na=ice-ufrag:9bd13f5b\r\na=mid:0\r\na=rtcp-mux\r\n" +
	"a=rtpmap:109 opus/48000/2\r\na=rtpmap:9 G722/8000/1\r\na=rtpmap:0 PCMU/8000\r\na=rtpmap:8 PCMA/8000\r\na=rtpmap:101 telephone-event/8000\r\n" +
	"a=setup:actpass\r\na=ssrc:1683738452 cname:{c6c3a1a8}\r\n" +
	"m=video 9 UDP/TLS/RTP/SAVPF 120 124 121 125 126 127 97 98 123 122 119\r\nc=IN IP4 0.0.0.0\r\na=recvonly\r\n" +
	"a=extmap:3 urn:ietf:params:rtp-hdrext:sdes:mid\r\na=extmap:4 http://www.webrtc.org/experiments/rtp-hdrext/abs-send-time\r\n" +
	"a=fmtp:126 profile-level-id=42e01f;level-asymmetry-allowed=1;packetization-mode=1\r\n" +
	"a=fmtp:97 profile-level-id=42e01f;level-asymmetry-allowed=1\r\n" +
	"a=fmtp:120 max-fs=12288;max-fr=60\r\na=fmtp:124 apt=120\r\na=fmtp:121 max-fs=12288;max-fr=60\r\na=fmtp:125 apt=121\r\n" +
	"a=fmtp:127 apt=126\r\na=fmtp:98 apt=97\r\na=fmtp:119 apt=122\r\n" +
	"a=ice-pwd:a2a2c5e9f0f1c7e2d63c0dd6a0f3f3b0\r\na=ice-ufrag:9bd13f5b\r\na=mid:1\r\n" +
	"a=rtcp-fb:126 nack\r\na=rtcp-fb:126 nack pli\r\na=rtcp-fb:126 ccm fir\r\na=rtcp-mux\r\n" +
	"a=rtpmap:120 VP8/90000\r\na=rtpmap:124 rtx/90000\r\na=rtpmap:121 VP9/90000\r\na=rtpmap:125 rtx/90000\r\n" +
	"a=rtpmap:126 H264/90000\r\na=rtpmap:127 rtx/90000\r\na=rtpmap:97 H264/90000\r\na=rtpmap:98 rtx/90000\r\n" +
	"a=rtpmap:123 ulpfec/90000\r\na=rtpmap:122 red/90000\r\na=rtpmap:119 rtx/90000\r\n" +
	"a=setup:actpass\r\na=ssrc:3337013164 cname:{c6c3a1a8}\r\n"

// Browser offers are accepted: the negotiation picks H.264 with
// packetization-mode 1 (and its RTX) and Opus, and pion answers with those
// payload types only.
func TestNegotiateBrowserOffers(t *testing.T) {
	baselineSPS := []byte{0x67, 0x42, 0xc0, 0x1e}
	highSPS := []byte{0x67, 0x64, 0x00, 0x1f}
	opusAAC := []*stream.Track{{Index: 0, Codec: &stream.H264{SPS: highSPS}}, {Index: 1, Codec: &stream.Opus{ChannelCount: 2}}}
	cases := []struct {
		name      string
		whip      bool
		offer     string
		tracks    []*stream.Track
		videoPT   uint8
		rtxPT     uint8
		audioPT   uint8 // 0: no audio
		wantAudio bool
	}{
		{name: "Chrome WHIP", whip: true, offer: chromeOffer(true), videoPT: 106, rtxPT: 107, audioPT: 111, wantAudio: true},
		{name: "Chrome WHEP, baseline stream", offer: chromeOffer(false),
			tracks:  []*stream.Track{{Index: 0, Codec: &stream.H264{SPS: baselineSPS}}, {Index: 1, Codec: &stream.Opus{ChannelCount: 2}}},
			videoPT: 106, audioPT: 111, wantAudio: true},
		{name: "Chrome WHEP, high profile stream", offer: chromeOffer(false), tracks: opusAAC, videoPT: 112, audioPT: 111, wantAudio: true},
		{name: "Chrome WHEP, AAC stream", offer: chromeOffer(false),
			tracks:  []*stream.Track{{Index: 0, Codec: &stream.H264{SPS: highSPS}}, {Index: 1, Codec: &stream.MPEG4Audio{}}},
			videoPT: 112},
		{name: "Firefox WHEP, high profile stream", offer: firefoxWHEP, tracks: opusAAC, videoPT: 126, audioPT: 109, wantAudio: true},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			var o *offer
			var err error
			if c.whip {
				o, err = chooseWHIP([]byte(c.offer))
			} else {
				o, err = chooseWHEP([]byte(c.offer), selectTracks(c.tracks))
			}
			if err != nil {
				t.Fatal(err)
			}
			if v := o.choice[kindVideo]; v == nil || v.pt != c.videoPT || (c.whip && v.rtxPT != c.rtxPT) {
				t.Fatalf("video choice %+v, want PT %d (RTX %d)", v, c.videoPT, c.rtxPT)
			}
			if a := o.choice[kindAudio]; (a != nil) != c.wantAudio || (a != nil && a.pt != c.audioPT) {
				t.Fatalf("audio choice %+v, want PT %d", a, c.audioPT)
			}
			answer := pionAnswer(t, o, c.whip)
			checkAnswer(t, answer, c.videoPT, c.rtxPT, c.audioPT, c.whip)
		})
	}
}

// pionAnswer runs pion's answer for the offer with the session's engine.
func pionAnswer(t *testing.T, o *offer, whip bool) *sdp.SessionDescription {
	t.Helper()
	engine := playbackEngine
	if whip {
		engine = ingestEngine
	}
	m, ir, err := engine(o)
	if err != nil {
		t.Fatal(err)
	}
	pc, err := pion.NewAPI(pion.WithMediaEngine(m), pion.WithInterceptorRegistry(ir)).NewPeerConnection(pion.Configuration{})
	if err != nil {
		t.Fatal(err)
	}
	defer pc.Close()
	if err := pc.SetRemoteDescription(pion.SessionDescription{Type: pion.SDPTypeOffer, SDP: o.sdp}); err != nil {
		t.Fatal(err)
	}
	if !whip {
		for k := range numKinds {
			if o.choice[k] != nil {
				if _, err := pc.AddTrack(newViewerTrack(k, "s")); err != nil {
					t.Fatal(err)
				}
			}
		}
	}
	ans, err := pc.CreateAnswer(nil)
	if err != nil {
		t.Fatal(err)
	}
	var sd sdp.SessionDescription
	if err := sd.UnmarshalString(ans.SDP); err != nil {
		t.Fatal(err)
	}
	return &sd
}

func checkAnswer(t *testing.T, sd *sdp.SessionDescription, videoPT, rtxPT, audioPT uint8, whip bool) {
	t.Helper()
	for _, md := range sd.MediaDescriptions {
		formats := strings.Join(md.MediaName.Formats, " ")
		_, inactive := md.Attribute("inactive")
		switch md.MediaName.Media {
		case "video":
			want := itoa(videoPT)
			if whip && rtxPT != 0 {
				want += " " + itoa(rtxPT)
			}
			if formats != want {
				t.Errorf("answer video formats %q, want %q", formats, want)
			}
			dir := "sendonly"
			if whip {
				dir = "recvonly"
			}
			if _, ok := md.Attribute(dir); !ok {
				t.Errorf("answer video is not %s", dir)
			}
		case "audio":
			if audioPT == 0 {
				if md.MediaName.Port.Value != 0 && !inactive {
					t.Errorf("answer audio is active for a stream without Opus: %q", formats)
				}
				continue
			}
			if formats != itoa(audioPT) {
				t.Errorf("answer audio formats %q, want %d", formats, audioPT)
			}
		}
	}
}

func itoa(v uint8) string { return strconv.Itoa(int(v)) }

// Offers that cannot be taken say why.
func TestNegotiateRefusals(t *testing.T) {
	sel := selectTracks([]*stream.Track{{Index: 0, Codec: &stream.H264{}}, {Index: 1, Codec: &stream.MPEG4Audio{}}})
	audioOnly := strings.Replace(chromeOffer(false), "a=group:BUNDLE 0 1", "a=group:BUNDLE 0", 1)
	audioOnly = audioOnly[:strings.Index(audioOnly, "m=video")]
	if _, err := chooseWHEP([]byte(audioOnly), sel); err == nil || !strings.Contains(err.Error(), "AAC source") {
		t.Errorf("audio-only viewer of an AAC stream: %v", err)
	}
	noH264 := strings.ReplaceAll(chromeOffer(true), "H264", "H265")
	if _, err := chooseWHIP([]byte(noH264)); err == nil || !strings.Contains(err.Error(), "publish H.264") {
		t.Errorf("WHIP without H.264: %v", err)
	}
	noOpus := strings.Replace(chromeOffer(true), "opus/48000/2", "speex/48000", 1)
	if _, err := chooseWHIP([]byte(noOpus)); err == nil || !strings.Contains(err.Error(), "publish Opus") {
		t.Errorf("WHIP without Opus: %v", err)
	}
	for _, bad := range []string{"", "garbage", "v=0\r\n", strings.Replace(chromeOffer(true), "a=ice-ufrag:Gdlv\r\n", "", -1),
		strings.Replace(chromeOffer(true), fingerprint, "", -1), strings.Replace(chromeOffer(true), "a=mid:1\r\n", "", 1)} {
		if _, err := chooseWHIP([]byte(bad)); err == nil {
			t.Errorf("accepted %q", bad)
		}
	}
}
