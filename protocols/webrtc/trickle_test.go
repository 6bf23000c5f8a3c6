package webrtc

import (
	"strings"
	"testing"
)

func TestParseSDPFrag(t *testing.T) {
	body := "a=ice-ufrag:EsAw\r\na=ice-pwd:P2uYro0UCOQ4zxjKXaWCBui1\r\n" +
		"m=audio 9 RTP/AVP 0\r\na=mid:0\r\n" +
		"a=candidate:1387637174 1 udp 2122260223 192.0.2.1 61764 typ host generation 0 ufrag EsAw network-id 1\r\n" +
		"a=candidate:3471623853 1 tcp 1518280447 192.0.2.1 9 typ host tcptype active generation 0\r\n" +
		"a=end-of-candidates\r\n"
	f, err := parseSDPFrag([]byte(body))
	if err != nil {
		t.Fatal(err)
	}
	if f.ufrag != "EsAw" || f.pwd != "P2uYro0UCOQ4zxjKXaWCBui1" || len(f.candidates) != 2 || !f.end {
		t.Fatalf("%+v", f)
	}
	c := f.candidates[0]
	if c.mid != "0" || c.mline != 0 || !strings.HasPrefix(c.value, "candidate:1387637174 ") {
		t.Errorf("%+v", c)
	}
	if init := c.init(); *init.SDPMid != "0" || *init.SDPMLineIndex != 0 {
		t.Errorf("%+v", init)
	}
	for _, bad := range []string{
		"", "hello", "x=1\r\n", "a=candidate:1 1 udp 1 192.0.2.1 1 typ host\r\n", // before m=
		"m=audio 9 RTP/AVP 0\r\na=candidate:garbage\r\n",
		"m=audio 9 RTP/AVP 0\r\n" + strings.Repeat("a=candidate:1 1 udp 1 192.0.2.1 1 typ host\r\n", maxTrickleCandidates+1),
	} {
		if _, err := parseSDPFrag([]byte(bad)); err == nil {
			t.Errorf("accepted %q", bad)
		}
	}
}

func FuzzParseSDPFrag(f *testing.F) {
	f.Add([]byte("a=ice-ufrag:x\r\nm=audio 9 RTP/AVP 0\r\na=mid:0\r\na=candidate:1 1 udp 1 192.0.2.1 1 typ host\r\na=end-of-candidates\r\n"))
	f.Add([]byte("m=video 9 UDP/TLS/RTP/SAVPF 0\nc=IN IP4 0.0.0.0\n"))
	f.Fuzz(func(t *testing.T, b []byte) {
		fr, err := parseSDPFrag(b)
		if err == nil && len(fr.candidates) > maxTrickleCandidates {
			t.Fatal("too many candidates")
		}
	})
}

// Offers from the network: whatever they hold, the negotiation answers an
// error or a usable choice, never a panic.
func FuzzChooseOffer(f *testing.F) {
	f.Add([]byte(chromeOffer(true)))
	f.Add([]byte(chromeOffer(false)))
	f.Add([]byte(firefoxWHEP))
	f.Fuzz(func(t *testing.T, b []byte) {
		if o, err := chooseWHIP(b); err == nil && o.choice[kindVideo] == nil && o.choice[kindAudio] == nil {
			t.Fatal("no error and no choice")
		}
		sel := trackSelection{index: [numKinds]int{0, 1}, sps: []byte{0x67, 0x42, 0xc0, 0x1f}}
		if o, err := chooseWHEP(b, sel); err == nil && o.choice[kindVideo] == nil && o.choice[kindAudio] == nil {
			t.Fatal("no error and no choice")
		}
	})
}

func TestICELinks(t *testing.T) {
	links, err := iceLinks([]ICEServer{
		{URLs: []string{"stun:stun.l.google.com:19302"}},
		{URLs: []string{"turn:t.example:3478?transport=udp", "turns:t.example:5349?transport=tcp"}, Username: "u", Credential: `a\b`},
	})
	if err != nil {
		t.Fatal(err)
	}
	want := []string{
		`<stun:stun.l.google.com:19302>; rel="ice-server"`,
		`<turn:t.example:3478?transport=udp>; rel="ice-server"; username="u"; credential="a\\b"; credential-type="password"`,
		`<turns:t.example:5349?transport=tcp>; rel="ice-server"; username="u"; credential="a\\b"; credential-type="password"`,
	}
	if strings.Join(links, "\n") != strings.Join(want, "\n") {
		t.Errorf("got\n%s\nwant\n%s", strings.Join(links, "\n"), strings.Join(want, "\n"))
	}
	for _, bad := range []ICEServer{
		{}, {URLs: []string{"http://x"}}, {URLs: []string{"stun:a b"}}, {URLs: []string{"turn:x"}, Username: "a\nb"},
	} {
		if _, err := iceLinks([]ICEServer{bad}); err == nil {
			t.Errorf("accepted %+v", bad)
		}
	}
}
