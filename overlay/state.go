package overlay

import (
	"encoding/json"
	"slices"
)

// DefaultMaxPins is how many products can be pinned at once by default.
const DefaultMaxPins = 3

// apply folds one logged event into s. It is deterministic, so every node
// that applies the same log in seq order holds the same state. It never
// fails: an event it cannot read (a newer type, bad data) changes nothing.
// Pinning beyond maxPins drops the oldest pin: the API refuses a pin past
// the maximum, but two nodes can each accept one at the same moment, and
// the log must still fold to one answer everywhere.
func (s *State) apply(typ string, data json.RawMessage, maxPins int) {
	switch typ {
	case TypeProductPinned:
		var d ProductPinned
		if json.Unmarshal(data, &d) != nil || d.Product.ID == "" {
			return
		}
		s.Products = slices.DeleteFunc(s.Products, func(p ProductRef) bool { return p.ID == d.Product.ID })
		s.Products = append(s.Products, d.Product)
		if over := len(s.Products) - maxPins; over > 0 {
			s.Products = slices.Delete(s.Products, 0, over)
		}
	case TypeProductUnpinned:
		var d ProductUnpinned
		if json.Unmarshal(data, &d) != nil {
			return
		}
		s.Products = slices.DeleteFunc(s.Products, func(p ProductRef) bool { return p.ID == d.ProductID })
	case TypeVoucherPinned:
		var d VoucherPinned
		if json.Unmarshal(data, &d) != nil || d.Voucher.ID == "" {
			return
		}
		s.Voucher = &d.Voucher
	case TypeVoucherUnpinned:
		var d VoucherUnpinned
		if json.Unmarshal(data, &d) != nil {
			return
		}
		if s.Voucher != nil && s.Voucher.ID == d.VoucherID {
			s.Voucher = nil
		}
	case TypeLikeCount:
		var d LikeCount
		if json.Unmarshal(data, &d) != nil || d.Added < 0 {
			return
		}
		s.Likes += d.Added // the sum of every node's taps, whatever order they logged in
	case TypeViewerCount:
		var d ViewerCount
		if json.Unmarshal(data, &d) != nil {
			return
		}
		s.Viewers = d.Count
	case TypeStreamLive:
		s.Live = true
	case TypeStreamEnded:
		s.Live = false
	}
}

// clone is a deep copy of s, safe to hand out.
func (s *State) clone() State {
	c := *s
	c.Products = slices.Clone(s.Products)
	if c.Products == nil {
		c.Products = []ProductRef{}
	}
	if s.Voucher != nil {
		v := *s.Voucher
		c.Voucher = &v
	}
	return c
}

func (s *State) pinned(productID string) bool {
	return slices.ContainsFunc(s.Products, func(p ProductRef) bool { return p.ID == productID })
}
