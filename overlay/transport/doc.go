// Package transport carries the shopping data channel to its clients: the
// events WebSocket (GET /live/{id}/events and the host's console) and a
// WHEP session's WebRTC data channel, with the same envelopes, inbound
// messages, limits and refusals on both. Viewers' sockets that have caught
// up are parked (no goroutine; one fanout per room writes each event once
// to all of them with send(2), an epoll poller wakes a goroutine when one
// speaks); host consoles, TLS and platforms without epoll keep a goroutine
// each. Both paths speak WebSocket through internal/wsproto.
//
// It reaches a room through overlay's Subscribe and SubscribeRelay and
// reports the viewers it holds (Room.AddViewers): the room knows no
// socket. It imports overlay, events, store and internal helpers.
package transport
