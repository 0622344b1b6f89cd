package server

import (
	"context"
	"encoding/json"
	"fmt"
	"net/http"
	"net/url"
	"slices"
	"strings"
	"unicode/utf8"

	"mika/store"
)

// settingsAnswer is what GET and PUT /api/admin/settings answer: every
// setting, the hardware encoders this machine offers, and how the last
// webhook delivery went.
type settingsAnswer struct {
	store.Settings
	HWAccelAvailable    []string         `json:"hwaccel_available"`
	WebhookLastDelivery *webhookDelivery `json:"webhook_last_delivery"`
}

func (s *Server) settingsAnswer(ctx context.Context) (settingsAnswer, error) {
	set, err := s.ensureWebhookSecret(ctx)
	if err != nil {
		return settingsAnswer{}, err
	}
	return settingsAnswer{Settings: set, HWAccelAvailable: s.hwAccels(),
		WebhookLastDelivery: s.webhook.lastDelivery()}, nil
}

// hwAccels lists the usable hwaccel values; software ("none") always is,
// even while ffmpeg is missing.
func (s *Server) hwAccels() []string {
	hw := s.transcoder.HWAccels()
	if !slices.Contains(hw, "none") {
		hw = append([]string{"none"}, hw...)
	}
	return hw
}

// ensureWebhookSecret creates the webhook signing secret the first time it
// is needed and answers the current settings.
func (s *Server) ensureWebhookSecret(ctx context.Context) (store.Settings, error) {
	set := s.store.Settings()
	if set.WebhookSecret != "" {
		return set, nil
	}
	s.settingsMu.Lock()
	defer s.settingsMu.Unlock()
	set = s.store.Settings()
	if set.WebhookSecret != "" {
		return set, nil
	}
	secret, err := randomHex(32)
	if err != nil {
		return set, err
	}
	set.WebhookSecret = secret
	return set, s.store.SaveSettings(ctx, set)
}

func (s *Server) getSettings(w http.ResponseWriter, r *http.Request) error {
	a, err := s.settingsAnswer(r.Context())
	if err != nil {
		return err
	}
	return ok(w, a)
}

func (s *Server) publicSettings(w http.ResponseWriter, r *http.Request) error {
	set := s.store.Settings()
	users, err := s.store.CountUsers(r.Context())
	if err != nil {
		return err
	}
	// needs_setup tells the web app to show the first-admin page;
	// max_upload_bytes (0: no cap) lets a client refuse a file before
	// sending it.
	return ok(w, map[string]any{"site_name": set.SiteName, "register_mode": set.RegisterMode,
		"needs_setup": users == 0, "max_upload_bytes": set.MaxUploadBytes})
}

// x264Presets are the names x264 (and ffmpeg's -preset) accept.
var x264Presets = []string{"ultrafast", "superfast", "veryfast", "faster", "fast", "medium", "slow",
	"slower", "veryslow", "placebo"}

// readOnlySettings appear in the answer but cannot be changed by a PUT.
var readOnlySettings = map[string]bool{"webhook_secret": true, "hwaccel_available": true, "webhook_last_delivery": true}

// readOnlyUnchanged reports whether raw, sent for a read-only key, is what
// the settings answer shows now. "PUT takes any subset" of what GET answers,
// so a client may send a GET answer back whole with one value edited; only
// an attempt to change a read-only value is refused. webhook_last_delivery
// reports an event that may have happened since the client read it, so
// whatever the client sends back for it is ignored.
func readOnlyUnchanged(key string, raw json.RawMessage, secret string, hw []string) bool {
	switch key {
	case "webhook_secret":
		v, why := decodeAs[string](raw, "a string")
		return why == "" && v == secret
	case "hwaccel_available":
		v, why := decodeAs[[]string](raw, "an array of strings")
		if why != "" {
			return false
		}
		v, want := slices.Clone(v), slices.Clone(hw)
		slices.Sort(v)
		slices.Sort(want)
		return slices.Equal(v, want)
	case "webhook_last_delivery":
		return true
	}
	return false
}

// settingRule decodes one key's JSON value into next, answering why it is
// bad ("" when good). hw is the list of usable hardware encoders.
type settingRule func(raw json.RawMessage, next *store.Settings, hw []string) string

var settingRules = map[string]settingRule{
	"site_name": func(raw json.RawMessage, n *store.Settings, _ []string) string {
		v, why := decodeAs[string](raw, "a string")
		v = strings.TrimSpace(v)
		if why == "" && (v == "" || utf8.RuneCountInString(v) > 100) {
			why = "must be 1–100 characters"
		}
		n.SiteName = v
		return why
	},
	"site_url": func(raw json.RawMessage, n *store.Settings, _ []string) string {
		v, why := decodeAs[string](raw, "a string")
		if why == "" {
			v, why = strings.TrimSpace(v), checkHTTPURL(strings.TrimSpace(v))
		}
		n.SiteURL = v
		return why
	},
	"register_mode": func(raw json.RawMessage, n *store.Settings, _ []string) string {
		v, why := decodeAs[string](raw, "a string")
		if why == "" && v != "open" && v != "invite" && v != "closed" {
			why = "must be open, invite or closed"
		}
		n.RegisterMode = v
		return why
	},
	"auto_publish": func(raw json.RawMessage, n *store.Settings, _ []string) string {
		v, why := decodeAs[bool](raw, "a boolean")
		n.AutoPublish = v
		return why
	},
	"transcode_concurrency": func(raw json.RawMessage, n *store.Settings, _ []string) string {
		v, why := intIn(raw, 1, 16)
		n.TranscodeConcurrency = int(v)
		return why
	},
	"ladder": func(raw json.RawMessage, n *store.Settings, _ []string) string {
		v, why := decodeAs[[]int](raw, "an array of integers")
		if why != "" {
			return why
		}
		if len(v) == 0 || len(v) > 8 {
			return "must list 1–8 heights"
		}
		for _, h := range v {
			if h < 144 || h > 2160 || h%2 != 0 {
				return "heights must be even numbers from 144 to 2160"
			}
		}
		slices.SortFunc(v, func(a, b int) int { return b - a })
		if len(slices.Compact(slices.Clone(v))) != len(v) {
			return "heights must be distinct"
		}
		n.Ladder = v
		return ""
	},
	"hls_segment_seconds": func(raw json.RawMessage, n *store.Settings, _ []string) string {
		v, why := intIn(raw, 2, 10)
		n.HLSSegmentSeconds = int(v)
		return why
	},
	"video_preset": func(raw json.RawMessage, n *store.Settings, _ []string) string {
		v, why := decodeAs[string](raw, "a string")
		if why == "" && !slices.Contains(x264Presets, v) {
			why = "must be one of " + strings.Join(x264Presets, ", ")
		}
		n.VideoPreset = v
		return why
	},
	"hwaccel": func(raw json.RawMessage, n *store.Settings, hw []string) string {
		v, why := decodeAs[string](raw, "a string")
		if why == "" && !slices.Contains(hw, v) {
			why = "must be one of " + strings.Join(hw, ", ") + " (what this machine supports)"
		}
		n.HWAccel = v
		return why
	},
	"max_upload_bytes": func(raw json.RawMessage, n *store.Settings, _ []string) string {
		v, why := intIn(raw, 0, 1<<62)
		n.MaxUploadBytes = v
		return why
	},
	"rate_limit_rps": func(raw json.RawMessage, n *store.Settings, _ []string) string {
		v, why := intIn(raw, 0, 10000)
		n.RateLimitRPS = int(v)
		return why
	},
	"rate_limit_burst": func(raw json.RawMessage, n *store.Settings, _ []string) string {
		v, why := intIn(raw, 0, 100000)
		n.RateLimitBurst = int(v)
		return why
	},
	"webhook_url": func(raw json.RawMessage, n *store.Settings, _ []string) string {
		v, why := decodeAs[string](raw, "a string")
		if why == "" {
			v, why = strings.TrimSpace(v), checkHTTPURL(strings.TrimSpace(v))
		}
		n.WebhookURL = v
		return why
	},
}

// decodeAs decodes raw strictly as a T; null and other types are refused.
func decodeAs[T any](raw json.RawMessage, typeName string) (T, string) {
	var v T
	if string(raw) == "null" || json.Unmarshal(raw, &v) != nil {
		return v, "must be " + typeName
	}
	return v, ""
}

// intIn decodes an integer within [lo, hi].
func intIn(raw json.RawMessage, lo, hi int64) (int64, string) {
	v, why := decodeAs[int64](raw, "an integer")
	if why == "" && (v < lo || v > hi) {
		why = fmt.Sprintf("must be between %d and %d", lo, hi)
	}
	return v, why
}

// checkHTTPURL accepts "" or an absolute http(s) URL.
func checkHTTPURL(v string) string {
	if v == "" {
		return ""
	}
	u, err := url.Parse(v)
	if err != nil || (u.Scheme != "http" && u.Scheme != "https") || u.Host == "" || len(v) > 2000 {
		return "must be empty or an http(s) URL"
	}
	return ""
}

// updateSettings applies any subset of the settings. Every key is checked
// first; with any error nothing is applied.
func (s *Server) updateSettings(w http.ResponseWriter, r *http.Request) error {
	var body map[string]json.RawMessage
	if err := decodeJSON(w, r, &body); err != nil {
		return err
	}
	if body == nil {
		return errBadRequest("malformed JSON body", map[string]string{"body": "must be a JSON object"})
	}
	if _, err := s.ensureWebhookSecret(r.Context()); err != nil {
		return err
	}
	s.settingsMu.Lock()
	defer s.settingsMu.Unlock()
	next := s.store.Settings()
	secret := next.WebhookSecret
	hw := s.hwAccels()
	errs := map[string]string{}
	for key, raw := range body {
		rule, known := settingRules[key]
		switch {
		case readOnlySettings[key]:
			if !readOnlyUnchanged(key, raw, secret, hw) {
				errs[key] = "read-only"
			}
		case !known:
			errs[key] = "unknown setting"
		default:
			if why := rule(raw, &next, hw); why != "" {
				errs[key] = why
			}
		}
	}
	if len(errs) > 0 {
		return errInvalid(errs)
	}
	if err := s.store.SaveSettings(r.Context(), next); err != nil {
		return err
	}
	keys := make([]string, 0, len(body))
	for k := range body {
		if !readOnlySettings[k] {
			keys = append(keys, k)
		}
	}
	slices.Sort(keys)
	s.log.Info("settings changed", "keys", keys, "by", currentUser(r).Username)
	// Workers re-read the concurrency setting when woken; the webhook
	// sender sends what waited while webhook_url was empty.
	s.transcoder.Wake()
	s.webhook.poke()
	return ok(w, settingsAnswer{Settings: next, HWAccelAvailable: hw, WebhookLastDelivery: s.webhook.lastDelivery()})
}
