package app

import "context"

// setupJobs creates the durable job queue (a.Jobs) and registers its worker
// as background work unless NoWorker.
func (a *App) setupJobs(ctx context.Context) error {
	return nil
}
