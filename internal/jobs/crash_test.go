package jobs

import (
	"context"
	"os"
	"os/exec"
	"testing"
	"time"

	"github.com/mxauth/mxauth/internal/homeserver"
	"github.com/mxauth/mxauth/internal/homeserver/synapse"
	"github.com/mxauth/mxauth/internal/provisioning"
	"github.com/mxauth/mxauth/internal/storage/sqlstore"
)

// Environment of the worker process TestWorkerKilledMidJobIsRescued kills.
const (
	envChildURI      = "MXAUTH_TEST_JOBS_CHILD_URI"
	envChildEndpoint = "MXAUTH_TEST_JOBS_CHILD_ENDPOINT"
	envChildSecret   = "MXAUTH_TEST_JOBS_CHILD_SECRET"
)

// TestWorkerProcess is not a test on its own: it is the worker process that
// TestWorkerKilledMidJobIsRescued starts and kills with SIGKILL.
func TestWorkerProcess(t *testing.T) {
	uri := os.Getenv(envChildURI)
	if uri == "" {
		t.Skip("helper process for TestWorkerKilledMidJobIsRescued")
	}
	ctx := context.Background()
	store, err := sqlstore.Open(ctx, uri, sqlstore.Options{})
	if err != nil {
		t.Fatal(err)
	}
	q, err := NewQueue(store, store.Dialect(), nil)
	if err != nil {
		t.Fatal(err)
	}
	conn, err := synapse.NewConnection(homeserver.KindSynapse, synapse.Config{
		ServerName: "example.test", Endpoint: os.Getenv(envChildEndpoint), Secret: os.Getenv(envChildSecret),
		MaxAttempts: 1, Timeout: time.Minute,
	})
	if err != nil {
		t.Fatal(err)
	}
	s := fastSettings()
	// Another instance is the leader; this one only works jobs, slowly.
	s.NoLeader = true
	s.JobTimeout, s.RescueAfter = time.Minute, 2*time.Minute
	w, err := NewWorker(ctx, WorkerConfig{
		Store: store, DB: store.DB(), Dialect: store.Dialect(), Queue: q,
		Provisioner: &provisioning.Provisioner{Conn: conn, Store: store}, Logger: testLogger(), Settings: s,
	})
	if err != nil {
		t.Fatal(err)
	}
	if err := w.Start(ctx); err != nil {
		t.Fatal(err)
	}
	time.Sleep(time.Minute) // until killed
	t.Fatal("helper process was not killed")
}

func TestWorkerKilledMidJobIsRescued(t *testing.T) {
	if os.Getenv(envChildURI) != "" {
		t.Skip("inside the helper process")
	}
	uri := sqliteURI(t)
	e := newEnv(t, uri)
	u := e.addUser("alice", true)
	s := e.addCompatSession(u, "DEVA")
	// The homeserver hangs: the job stays in its delete_device call.
	e.hs.SetLatency(time.Minute)

	child := exec.Command(os.Args[0], "-test.run=^TestWorkerProcess$", "-test.count=1")
	child.Env = append(os.Environ(), envChildURI+"="+uri, envChildEndpoint+"="+e.hs.Endpoint(), envChildSecret+"="+e.hs.Secret())
	child.Stdout, child.Stderr = os.Stderr, os.Stderr
	if err := child.Start(); err != nil {
		t.Fatal(err)
	}
	killed := false
	t.Cleanup(func() {
		if !killed {
			child.Process.Kill()
			child.Wait()
		}
	})

	if _, err := e.mgr.EndCompatSession(context.Background(), s.ID, "test"); err != nil {
		t.Fatal(err)
	}
	eventually(t, patience, "the other process runs the job", func() bool {
		return allIn(e.jobStates(KindDeleteDevice), "running")
	})
	runningSince := time.Now()
	if err := child.Process.Kill(); err != nil {
		t.Fatal(err)
	}
	child.Wait()
	killed = true
	e.hs.SetLatency(0)
	if st := e.jobStates(KindDeleteDevice); !allIn(st, "running") {
		t.Fatalf("after the kill the job is %v; want it left running, as after a crash", st)
	}

	// A new worker (the leader) rescues jobs running for longer than
	// RescueAfter; its rescuer runs as it starts.
	st := fastSettings()
	st.JobTimeout, st.RescueAfter = time.Second, 2*time.Second
	time.Sleep(time.Until(runningSince.Add(st.RescueAfter + 500*time.Millisecond)))
	e.startWorker(st)
	eventually(t, patience, "the rescued job deleted the device", func() bool { return !e.hasDevice("alice", "DEVA") })
	eventually(t, patience, "job completed", func() bool { return allIn(e.jobStates(KindDeleteDevice), "completed") })
	if j := e.jobsOf(KindDeleteDevice)[0]; j.Attempt != 2 {
		t.Fatalf("job completed at attempt %d, want 2 (killed, then rescued)", j.Attempt)
	}
	ok := 0
	for _, c := range e.hs.CallsTo(pathDeleteDevice) {
		if c.Status == 204 {
			ok++
		}
	}
	if ok != 1 {
		t.Fatalf("%d successful delete_device calls, want 1", ok)
	}
}
