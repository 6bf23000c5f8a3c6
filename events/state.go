package events

import "slices"

// Phases of a campaign, State.Phase.
const (
	PhasePrelive = "prelive"
	PhaseLive    = "live"
	PhaseReplay  = "replay"
)

// Clone is a deep copy of the viewers' state, safe to hand out.
func (s *State) Clone() State {
	c := *s
	c.Products = slices.Clone(s.Products)
	if c.Products == nil {
		c.Products = []ProductRef{}
	}
	if s.Voucher != nil {
		v := *s.Voucher
		c.Voucher = &v
	}
	c.Chat = slices.Clone(s.Chat)
	if c.Chat == nil {
		c.Chat = []ChatEntry{}
	}
	if s.Poll != nil {
		p := *s.Poll
		p.Options = slices.Clone(p.Options)
		p.Votes = slices.Clone(p.Votes)
		c.Poll = &p
	}
	c.InstantWins = slices.Clone(s.InstantWins)
	if c.InstantWins == nil {
		c.InstantWins = []InstantWin{}
	}
	if s.LastDraw != nil {
		d := *s.LastDraw
		d.Winners = slices.Clone(d.Winners)
		c.LastDraw = &d
	}
	return c
}

// Pinned reports whether a product is pinned now.
func (s *State) Pinned(productID string) bool {
	return slices.ContainsFunc(s.Products, func(p ProductRef) bool { return p.ID == productID })
}

// ChatOpen reports whether viewers may chat now.
func (s *State) ChatOpen() bool {
	switch s.Phase {
	case PhasePrelive:
		return s.Settings.PreliveChat
	case PhaseReplay:
		return s.Settings.ReplayChat
	}
	return true
}
