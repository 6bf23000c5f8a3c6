package webrtc

import (
	"context"
	"errors"
	"sync"
	"sync/atomic"

	pion "github.com/pion/webrtc/v4"
)

// DataChannel is a data channel a WHEP viewer opened on its session, as
// Config.OnDataChannel gets it. Its methods are safe for concurrent use.
type DataChannel interface {
	// Label is the label the viewer gave the channel.
	Label() string
	// Send sends b as one text message (the viewer's onmessage gets a
	// string). While more than DataChannelHighWater bytes wait to be sent
	// (a viewer that does not read) it waits, until ctx ends.
	Send(ctx context.Context, b []byte) error
	// Receive returns the next message the viewer sent, text or binary.
	// When ctx ends first it returns ctx's error and no message is lost;
	// once the channel closed it returns ErrDataChannelClosed.
	Receive(ctx context.Context) ([]byte, error)
	// Close closes the channel (not the session).
	Close() error
}

// ErrDataChannelClosed: the channel or its session closed.
var ErrDataChannelClosed = errors.New("webrtc: data channel closed")

const (
	// DataChannelHighWater is how many bytes may wait in a data channel's
	// send buffer before Send waits.
	DataChannelHighWater = 256 << 10
	// maxDataChannels bounds the channels of one WHEP session given to
	// Config.OnDataChannel; those beyond are closed.
	maxDataChannels = 4
	// dataChannelQueue is how many received messages wait for Receive;
	// past it the channel's reads stop (SCTP flow control holds the viewer).
	dataChannelQueue = 64
)

// dataChannel adapts a pion data channel to DataChannel.
type dataChannel struct {
	dc     *pion.DataChannel
	in     chan []byte
	low    chan struct{} // signalled when the send buffer drains
	closed chan struct{}
	once   sync.Once
}

// newDataChannel wraps dc; it must run before dc's first message is read
// (in the PeerConnection's OnDataChannel callback).
func newDataChannel(dc *pion.DataChannel) *dataChannel {
	d := &dataChannel{dc: dc, in: make(chan []byte, dataChannelQueue), low: make(chan struct{}, 1), closed: make(chan struct{})}
	dc.SetBufferedAmountLowThreshold(DataChannelHighWater / 2)
	dc.OnBufferedAmountLow(func() {
		select {
		case d.low <- struct{}{}:
		default:
		}
	})
	dc.OnMessage(func(m pion.DataChannelMessage) {
		// Blocks this channel's read loop only, until Receive takes it.
		select {
		case d.in <- m.Data:
		case <-d.closed:
		}
	})
	dc.OnClose(d.markClosed)
	return d
}

func (d *dataChannel) markClosed() { d.once.Do(func() { close(d.closed) }) }

func (d *dataChannel) Label() string { return d.dc.Label() }

func (d *dataChannel) Send(ctx context.Context, b []byte) error {
	for d.dc.BufferedAmount() > DataChannelHighWater {
		select {
		case <-d.low:
		case <-d.closed:
			return ErrDataChannelClosed
		case <-ctx.Done():
			return ctx.Err()
		}
	}
	select {
	case <-d.closed:
		return ErrDataChannelClosed
	default:
	}
	if err := d.dc.SendText(string(b)); err != nil {
		return errors.Join(ErrDataChannelClosed, err)
	}
	return nil
}

func (d *dataChannel) Receive(ctx context.Context) ([]byte, error) {
	// Messages received before the close are still delivered.
	select {
	case b := <-d.in:
		return b, nil
	default:
	}
	select {
	case b := <-d.in:
		return b, nil
	case <-d.closed:
		return nil, ErrDataChannelClosed
	case <-ctx.Done():
		return nil, ctx.Err()
	}
}

func (d *dataChannel) Close() error {
	d.markClosed()
	return d.dc.Close()
}

// serveDataChannels hands the data channels a WHEP viewer opens to
// Config.OnDataChannel, each on a goroutine of the session; its context
// ends with the session, and the session's teardown waits for it.
func (ss *session) serveDataChannels(hook func(context.Context, string, DataChannel)) {
	var n atomic.Int32
	ss.pc.OnDataChannel(func(dc *pion.DataChannel) {
		if n.Add(1) > maxDataChannels {
			ss.log.Debug("webrtc data channel refused: too many", "label", dc.Label())
			_ = dc.Close()
			return
		}
		d := newDataChannel(dc)
		dc.OnOpen(func() {
			ok := ss.spawn(func() {
				defer d.Close()
				ctx, cancel := context.WithCancel(ss.ctx)
				defer cancel()
				// The hook's context also ends with the channel.
				stop := context.AfterFunc(ss.ctx, d.markClosed)
				defer stop()
				go func() {
					select {
					case <-d.closed:
						cancel()
					case <-ctx.Done():
					}
				}()
				ss.log.Debug("webrtc data channel open", "label", dc.Label())
				hook(ctx, ss.streamID, d)
			})
			if !ok {
				_ = d.Close()
			}
		})
	})
}
