// Package overlay is Vitrine's shopping data channel: one Room per
// campaign (an ordered, durable log and the state folded from it), the
// viewers' and the host's actions with their rules (moderation, slow mode,
// polls, instant wins), and the bus that carries events between nodes (in
// process, or Redis). Its vocabulary (the envelope, the types, their data)
// is package events; its transports (the WebSocket and a WHEP session's
// data channel) are overlay/transport, which reach a room through
// Subscribe and report the viewers they hold themselves: the room knows no
// socket.
//
// It imports events, store and internal helpers; never a transport, a
// media protocol or the API.
package overlay
