package app

import (
	"context"
	"fmt"

	"github.com/mxauth/mxauth/internal/clock"
	"github.com/mxauth/mxauth/internal/jobs"
	"github.com/mxauth/mxauth/internal/sessions"
)

// EnableJobs attaches the job queue to the tools: it migrates the queue's
// tables, and from then on ending sessions queues the deletion of their
// devices and account changes queue provisioning, as in the server. A
// running worker (`mxauth server` or `mxauth worker`) carries the jobs out.
func (t *Tools) EnableJobs(ctx context.Context) (*jobs.Queue, error) {
	if err := MigrateJobs(ctx, t.Store, t.Logger); err != nil {
		return nil, err
	}
	q, err := jobs.NewQueue(t.Store, t.Store.Dialect(), t.Logger)
	if err != nil {
		return nil, fmt.Errorf("app: %w", err)
	}
	t.Sessions = sessions.NewManager(t.Store, clock.System{}, q, t.Logger)
	t.Users.Sessions = t.Sessions
	t.Users.Provisioner = q
	return q, nil
}
