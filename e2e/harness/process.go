package main

import (
	"bufio"
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"os"
	"os/exec"
	"strings"
	"syscall"
	"time"
)

// childEnv is the harness's environment without MXAUTH_* variables: mxauth
// reads those as configuration overrides, and a developer's shell may set
// some (a database URI, say) that must not leak into the suite's server.
func childEnv() []string {
	var out []string
	for _, kv := range os.Environ() {
		if !strings.HasPrefix(strings.ToUpper(kv), "MXAUTH_") {
			out = append(out, kv)
		}
	}
	return out
}

// process is a running child.
type process struct {
	name string
	cmd  *exec.Cmd
	log  *os.File
	done chan struct{} // closed when the child has exited
	err  error         // its exit status, valid after done
}

// startProcess starts bin with args, stdout and stderr appended to logPath.
// The child does not die with ctx: stop ends it.
func startProcess(name, bin string, args []string, dir, logPath string) (*process, error) {
	log, err := os.OpenFile(logPath, os.O_CREATE|os.O_WRONLY|os.O_APPEND, 0o600)
	if err != nil {
		return nil, err
	}
	cmd := exec.Command(bin, args...)
	cmd.Dir = dir
	cmd.Env = childEnv()
	cmd.Stdout, cmd.Stderr = log, log
	return launch(name, cmd, log)
}

func launch(name string, cmd *exec.Cmd, log *os.File) (*process, error) {
	// Its own process group, so a terminal's Ctrl-C reaches the harness
	// only, and the harness decides the order of shutdown.
	cmd.SysProcAttr = &syscall.SysProcAttr{Setpgid: true}
	if err := cmd.Start(); err != nil {
		log.Close()
		return nil, fmt.Errorf("start %s: %w", name, err)
	}
	p := &process{name: name, cmd: cmd, log: log, done: make(chan struct{})}
	go func() {
		p.err = cmd.Wait()
		log.Close()
		close(p.done)
	}()
	return p, nil
}

// stop sends SIGTERM and waits up to timeout, then kills the child.
func (p *process) stop(timeout time.Duration) {
	select {
	case <-p.done:
		return
	default:
	}
	_ = p.cmd.Process.Signal(syscall.SIGTERM)
	t := time.NewTimer(timeout)
	defer t.Stop()
	select {
	case <-p.done:
	case <-t.C:
		_ = p.cmd.Process.Kill()
		<-p.done
	}
}

// startDouble starts the Synapse double pointed at mxauth (publicBase) and
// returns its base URL (with a trailing slash), read from the first line of
// its stdout.
func startDouble(ctx context.Context, bin, logPath, serverName, secret, asEndpoint string) (*process, string, error) {
	log, err := os.OpenFile(logPath, os.O_CREATE|os.O_WRONLY|os.O_APPEND, 0o600)
	if err != nil {
		return nil, "", err
	}
	cmd := exec.Command(bin,
		"-listen", "127.0.0.1:0",
		"-server-name", serverName,
		"-secret", secret,
		"-as-endpoint", asEndpoint,
	)
	cmd.Env = childEnv()
	cmd.Stderr = log
	stdout, err := cmd.StdoutPipe()
	if err != nil {
		log.Close()
		return nil, "", err
	}
	p, err := launch("synapse-double", cmd, log)
	if err != nil {
		return nil, "", err
	}
	lines := make(chan string, 1)
	go func() {
		sc := bufio.NewScanner(stdout)
		if sc.Scan() {
			lines <- sc.Text()
		}
		close(lines)
		// Keep draining so the child never blocks on a full pipe.
		_, _ = io.Copy(io.Discard, stdout)
	}()
	select {
	case line, ok := <-lines:
		if !ok {
			p.stop(time.Second)
			return nil, "", fmt.Errorf("synapse-double printed no URL: %v (see %s)", p.err, logPath)
		}
		u, err := url.Parse(strings.TrimSpace(line))
		if err != nil || u.Scheme != "http" || u.Host == "" {
			p.stop(time.Second)
			return nil, "", fmt.Errorf("synapse-double printed %q, not its URL", line)
		}
		return p, strings.TrimSuffix(u.String(), "/") + "/", nil
	case <-ctx.Done():
		p.stop(time.Second)
		return nil, "", fmt.Errorf("synapse-double did not start: %w", ctx.Err())
	}
}

// registerUser creates u with `mxauth manage register-user`, as an admin
// would. Its output goes to logPath; a failure quotes it.
func registerUser(ctx context.Context, bin, cfgPath, logPath string, u User) error {
	cmd := exec.CommandContext(ctx, bin, "manage", "register-user",
		"--config", cfgPath, "--username", u.Username, "--password", u.Password)
	cmd.Env = childEnv()
	var out bytes.Buffer
	cmd.Stdout, cmd.Stderr = &out, &out
	err := cmd.Run()
	if f, ferr := os.OpenFile(logPath, os.O_CREATE|os.O_WRONLY|os.O_APPEND, 0o600); ferr == nil {
		fmt.Fprintf(f, "$ mxauth manage register-user --username %s\n%s", u.Username, out.String())
		f.Close()
	}
	if err != nil {
		return fmt.Errorf("register user %s: %w: %s", u.Username, err, strings.TrimSpace(out.String()))
	}
	return nil
}

// waitHealthy polls healthURL until it answers 200, the child exits or ctx
// ends.
func waitHealthy(ctx context.Context, healthURL string, p *process) error {
	client := &http.Client{Timeout: 2 * time.Second}
	tick := time.NewTicker(100 * time.Millisecond)
	defer tick.Stop()
	var last error
	for {
		req, err := http.NewRequestWithContext(ctx, http.MethodGet, healthURL, nil)
		if err != nil {
			return err
		}
		resp, err := client.Do(req)
		if err == nil {
			_, _ = io.Copy(io.Discard, resp.Body)
			resp.Body.Close()
			if resp.StatusCode == http.StatusOK {
				return nil
			}
			last = fmt.Errorf("%s answered %d", healthURL, resp.StatusCode)
		} else if ctx.Err() == nil || last == nil {
			// A request cut short by the deadline says less than the
			// answer before it.
			last = err
		}
		select {
		case <-p.done:
			return fmt.Errorf("%s exited while starting: %v", p.name, p.err)
		case <-ctx.Done():
			return fmt.Errorf("%s not healthy in time: %w", p.name, errors.Join(ctx.Err(), last))
		case <-tick.C:
		}
	}
}
