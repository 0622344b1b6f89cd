package server

import (
	"crypto/rand"
	"errors"
	"net/http"

	"mika/store"
)

// inviteAlphabet has no 0/O or 1/I, so a code read aloud or off paper
// survives. 32 symbols: a random byte masked to 5 bits picks one unbiased.
const inviteAlphabet = "ABCDEFGHJKLMNPQRSTUVWXYZ23456789"

// inviteLength gives 60 random bits.
const inviteLength = 12

func newInviteCode() (string, error) {
	b := make([]byte, inviteLength)
	if _, err := rand.Read(b); err != nil {
		return "", err
	}
	for i := range b {
		b[i] = inviteAlphabet[b[i]&31]
	}
	return string(b), nil
}

type inviteItem struct {
	ID                int64  `json:"id"`
	Code              string `json:"code"`
	CreatedBy         int64  `json:"created_by"`
	CreatedByUsername string `json:"created_by_username"`
	UsedBy            int64  `json:"used_by"`
	UsedByUsername    string `json:"used_by_username"`
	UsedAt            string `json:"used_at"`
	CreatedAt         string `json:"created_at"`
}

func inviteItemOf(i *store.Invite) inviteItem {
	return inviteItem{ID: i.ID, Code: i.Code, CreatedBy: i.CreatedBy, CreatedByUsername: i.CreatedByName,
		UsedBy: i.UsedBy, UsedByUsername: i.UsedByName, UsedAt: store.FormatTime(i.UsedAt),
		CreatedAt: store.FormatTime(i.CreatedAt)}
}

func (s *Server) listInvites(w http.ResponseWriter, r *http.Request) error {
	errs := map[string]string{}
	p := parsePage(r, errs)
	if len(errs) > 0 {
		return errInvalid(errs)
	}
	invites, total, err := s.store.ListInvites(r.Context(), p.Size, p.Offset())
	if err != nil {
		return err
	}
	list := make([]inviteItem, len(invites))
	for i, inv := range invites {
		list[i] = inviteItemOf(inv)
	}
	return ok(w, pageOf(p, list, total))
}

func (s *Server) createInvite(w http.ResponseWriter, r *http.Request) error {
	// A collision in 60 bits is next to impossible; retry anyway.
	for range 3 {
		code, err := newInviteCode()
		if err != nil {
			return err
		}
		inv, err := s.store.CreateInvite(r.Context(), code, currentUser(r).ID)
		if errors.Is(err, store.ErrConflict) {
			continue
		}
		if err != nil {
			return err
		}
		s.log.Info("invite created", "invite_id", inv.ID, "by", currentUser(r).Username)
		return ok(w, inviteItemOf(inv))
	}
	return errors.New("could not generate a unique invite code")
}
