package wecomtest

import (
	"context"
	"fmt"
	"unicode/utf8"
)

// TagType values of change_external_tag.
const (
	TagTypeTag      = "tag"
	TagTypeTagGroup = "tag_group"
)

func tagEvent(s *Sandbox, change, id, tagType string) Event {
	ev := s.event(EventChangeExternalTag, change)
	ev.ID, ev.TagType = id, tagType
	return ev
}

func checkName(name string) error {
	if name == "" || utf8.RuneCountInString(name) > maxTagNameChars {
		return fmt.Errorf("%w: a tag or group name has 1 to %d characters", ErrInvalid, maxTagNameChars)
	}
	return nil
}

// AdminCreatesTag is an admin creating a corp tag in the console. A new
// group name creates the group too, and the event is then the group's
// (TagType tag_group, Id the group id); otherwise it is the tag's.
func (s *Sandbox) AdminCreatesTag(ctx context.Context, groupName, tagName string) (Delivery, error) {
	ev, err := func() (Event, error) {
		s.mu.Lock()
		defer s.mu.Unlock()
		if err := checkName(groupName); err != nil {
			return Event{}, err
		}
		if err := checkName(tagName); err != nil {
			return Event{}, err
		}
		g := s.st.groupByName(groupName)
		if g != nil && g.liveTag(tagName) != nil {
			return Event{}, fmt.Errorf("%w: tag %q exists in %q", ErrConflict, tagName, groupName)
		}
		if s.st.liveTagCount() >= maxTags {
			return Event{}, fmt.Errorf("%w: the corp has %d tags, the limit", ErrConflict, maxTags)
		}
		now := s.now().Unix()
		if g == nil {
			g = s.newGroup(groupName, 0, now, false)
			s.newTag(g, tagName, 0, now, false)
			return tagEvent(s, ChangeCreate, g.ID, TagTypeTagGroup), nil
		}
		t := s.newTag(g, tagName, 0, now, false)
		return tagEvent(s, ChangeCreate, t.ID, TagTypeTag), nil
	}()
	if err != nil {
		return Delivery{}, err
	}
	return s.send(ctx, ev), nil
}

// AdminRenamesTag is an admin renaming a corp tag or group (by id) in the
// console: change_external_tag update.
func (s *Sandbox) AdminRenamesTag(ctx context.Context, id, name string) (Delivery, error) {
	ev, err := func() (Event, error) {
		s.mu.Lock()
		defer s.mu.Unlock()
		if err := checkName(name); err != nil {
			return Event{}, err
		}
		if t := s.st.liveTag(id); t != nil {
			if other := s.st.groupByID[t.GroupID].liveTag(name); other != nil && other != t {
				return Event{}, fmt.Errorf("%w: tag %q exists in the group", ErrConflict, name)
			}
			t.Name = name
			return tagEvent(s, ChangeUpdate, t.ID, TagTypeTag), nil
		}
		g := s.st.groupByID[id]
		if g == nil || g.Deleted {
			return Event{}, fmt.Errorf("%w: tag or group %q", ErrNotFound, id)
		}
		if other := s.st.groupByName(name); other != nil && other != g {
			return Event{}, fmt.Errorf("%w: group %q exists", ErrConflict, name)
		}
		g.Name = name
		return tagEvent(s, ChangeUpdate, g.ID, TagTypeTagGroup), nil
	}()
	if err != nil {
		return Delivery{}, err
	}
	return s.send(ctx, ev), nil
}

// AdminDeletesTag is an admin deleting a corp tag or a whole group (by id):
// change_external_tag delete. The tags leave every customer.
func (s *Sandbox) AdminDeletesTag(ctx context.Context, id string) (Delivery, error) {
	ev, err := func() (Event, error) {
		s.mu.Lock()
		defer s.mu.Unlock()
		if t := s.st.liveTag(id); t != nil {
			s.st.deleteTag(t)
			return tagEvent(s, ChangeDelete, t.ID, TagTypeTag), nil
		}
		g := s.st.groupByID[id]
		if g == nil || g.Deleted {
			return Event{}, fmt.Errorf("%w: tag or group %q", ErrNotFound, id)
		}
		s.st.deleteGroup(g)
		return tagEvent(s, ChangeDelete, g.ID, TagTypeTagGroup), nil
	}()
	if err != nil {
		return Delivery{}, err
	}
	return s.send(ctx, ev), nil
}

// AdminShufflesTags is an admin reordering, in the console, the tags of one
// group (groupID) or, with groupID "", the groups themselves:
// change_external_tag shuffle, whose Id is the group or empty and which has
// no TagType (path/92130).
func (s *Sandbox) AdminShufflesTags(ctx context.Context, groupID string) (Delivery, error) {
	ev, err := func() (Event, error) {
		s.mu.Lock()
		defer s.mu.Unlock()
		if groupID == "" {
			var live []*TagGroup
			for _, g := range s.st.groups {
				if !g.Deleted {
					live = append(live, g)
				}
			}
			for i, p := range s.rng.Perm(len(live)) {
				live[i].Order = uint32(p + 1)
			}
			return tagEvent(s, ChangeShuffle, "", ""), nil
		}
		g := s.st.groupByID[groupID]
		if g == nil || g.Deleted {
			return Event{}, fmt.Errorf("%w: group %q", ErrNotFound, groupID)
		}
		live := g.liveTags()
		for i, p := range s.rng.Perm(len(live)) {
			live[i].Order = uint32(p + 1)
		}
		return tagEvent(s, ChangeShuffle, g.ID, ""), nil
	}()
	if err != nil {
		return Delivery{}, err
	}
	return s.send(ctx, ev), nil
}

// ChatChange is a change of a customer group chat.
type ChatChange struct {
	ChatID        string   // empty with ChangeType create: a new chat
	ChangeType    string   // create, update or dismiss
	UpdateDetail  string   // update: add_member, del_member, change_owner, change_name or change_notice
	JoinScene     int      // add_member: 0 invited by a member, 1 by link, 3 by QR code
	QuitScene     int      // del_member: 0 left, 1 removed by the owner
	MemChangeList []string // add_member, del_member: who joined or left
}

var updateDetails = map[string]bool{
	"add_member": true, "del_member": true, "change_owner": true, "change_name": true, "change_notice": true,
}

// ExternalChatChanges is a customer group chat being created, changed or
// dismissed in the client: change_external_chat. Only the chat's existence
// is kept; the groupchat APIs are not emulated. The event carries the ChatId.
func (s *Sandbox) ExternalChatChanges(ctx context.Context, c ChatChange) (Delivery, error) {
	ev, err := func() (Event, error) {
		s.mu.Lock()
		defer s.mu.Unlock()
		switch c.ChangeType {
		case ChangeCreate:
			if c.ChatID == "" {
				c.ChatID = s.newID("wr")
			}
			if s.st.chats[c.ChatID] {
				return Event{}, fmt.Errorf("%w: chat %q exists", ErrConflict, c.ChatID)
			}
			s.st.chats[c.ChatID] = true
		case ChangeUpdate:
			if !s.st.chats[c.ChatID] {
				return Event{}, fmt.Errorf("%w: chat %q", ErrNotFound, c.ChatID)
			}
			if !updateDetails[c.UpdateDetail] {
				return Event{}, fmt.Errorf("%w: UpdateDetail %q", ErrInvalid, c.UpdateDetail)
			}
		case ChangeDismiss:
			if !s.st.chats[c.ChatID] {
				return Event{}, fmt.Errorf("%w: chat %q", ErrNotFound, c.ChatID)
			}
			delete(s.st.chats, c.ChatID)
		default:
			return Event{}, fmt.Errorf("%w: ChangeType must be create, update or dismiss", ErrInvalid)
		}
		ev := s.event(EventChangeExternalChat, c.ChangeType)
		ev.ChatID = c.ChatID
		if c.ChangeType == ChangeUpdate {
			ev.UpdateDetail, ev.JoinScene, ev.QuitScene = c.UpdateDetail, c.JoinScene, c.QuitScene
			ev.MemChangeList = c.MemChangeList
			ev.MemChangeCnt = len(c.MemChangeList)
		}
		return ev, nil
	}()
	if err != nil {
		return Delivery{}, err
	}
	return s.send(ctx, ev), nil
}
