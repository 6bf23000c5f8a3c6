package analytics

import (
	"encoding/json"
	"time"

	"vitrine/events"
	"vitrine/store"
)

// ChatRecord is one chat line of a campaign with its moderation state, as
// the chat tab and the exports show it.
type ChatRecord struct {
	Seq  int64     `json:"seq"`
	At   time.Time `json:"at"`
	Type string    `json:"type"` // chat.message, chat.question or chat.answer
	events.ChatMessage
	Deleted   bool `json:"deleted"`   // hidden from viewers by a moderator
	Displayed bool `json:"displayed"` // shown to the host
	Banned    bool `json:"banned"`    // its viewer is banned now
}

// Question reports whether the line is a viewer's question.
func (c *ChatRecord) Question() bool { return c.Type == events.TypeChatQuestion }

// ChatLog folds a campaign's log (in seq order, any page of it that starts
// at its first event) into its chat lines with their moderation state.
func ChatLog(log []store.Event) []ChatRecord {
	var lines []ChatRecord
	index := map[string]int{}
	banned := map[string]bool{}
	for _, e := range log {
		switch e.Type {
		case events.TypeChatMessage, events.TypeChatQuestion, events.TypeChatAnswer:
			var m events.ChatMessage
			if json.Unmarshal(e.Data, &m) != nil || m.ID == "" {
				continue
			}
			index[m.ID] = len(lines)
			lines = append(lines, ChatRecord{Seq: e.Seq, At: e.At, Type: e.Type, ChatMessage: m})
		case events.TypeChatDeleted, events.TypeChatDisplayed:
			var r events.MessageRef
			if json.Unmarshal(e.Data, &r) != nil {
				continue
			}
			if i, ok := index[r.MessageID]; ok {
				if e.Type == events.TypeChatDeleted {
					lines[i].Deleted = true
				} else {
					lines[i].Displayed = true
				}
			}
		case events.TypeViewerBanned, events.TypeViewerUnban:
			var v events.ViewerRef
			if json.Unmarshal(e.Data, &v) == nil {
				banned[v.ViewerID] = e.Type == events.TypeViewerBanned
			}
		}
	}
	for i := range lines {
		lines[i].Banned = lines[i].ViewerID != "" && banned[lines[i].ViewerID]
	}
	return lines
}
