package main

import (
	"encoding/json"
	"strconv"
	"testing"
	"time"

	"vitrine/events"
)

// The lean parse finds what the server's envelopes hold.
func TestEnvelopeHeader(t *testing.T) {
	sent := time.Now().Add(-42 * time.Millisecond)
	data, _ := json.Marshal(map[string]any{"id": "msg_1", "name": `"seq":7 "type":"x"`, "text": chatPrefix + strconv.FormatInt(sent.UnixNano(), 10)})
	m, err := events.NewMessage(events.Envelope{V: events.Version, Seq: 1234, At: events.MediaTime(time.Now()), Type: "chat.message", Data: data})
	if err != nil {
		t.Fatal(err)
	}
	seq, typ, ok := envelopeHeader(m.JSON)
	if !ok || seq != 1234 || string(typ) != "chat.message" {
		t.Fatalf("%s: seq %d type %q ok %v", m.JSON, seq, typ, ok)
	}
	if at, ok := chatSentAt(m.JSON); !ok || !at.Equal(time.Unix(0, sent.UnixNano())) {
		t.Fatalf("chat sent at %v %v, want %v", at, ok, sent)
	}
	if _, _, ok := envelopeHeader([]byte(`{"v":1}`)); ok {
		t.Fatal("an envelope without seq parsed")
	}
}
