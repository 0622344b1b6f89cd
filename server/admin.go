package server

import "context"

// The administration area: statistics (stats.go), settings (settings.go),
// users (users_admin.go), invites (invites.go), backups (backup.go), the
// API description (openapi.go), /metrics (metrics.go) and the task webhook
// (webhook.go).

// initAdmin builds the administration's state; New calls it.
func (s *Server) initAdmin(ctx context.Context) {
	s.metrics = newMetrics()
	s.activity = &activity{}
	s.storage = newStorageMeter(s.data.Media(), s.log)
	s.webhook = newWebhookSender()
	s.loadWebhookStatus(ctx)
}
