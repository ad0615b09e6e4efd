package main

import (
	"encoding/json"
	"fmt"
	"net"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"syscall"
	"time"

	"github.com/offheap/offheap/examples/internal/debugstats"
)

// proc is a server process started by the driver.
type proc struct {
	name   string
	cmd    *exec.Cmd
	addr   string // host:port it serves on
	debug  string // host:port of its debugstats endpoint, or "" (nginx)
	logf   *os.File
	exited chan error
}

// freeAddr returns a loopback address with a port that was free a moment ago.
func freeAddr() (string, error) {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return "", err
	}
	defer ln.Close()
	return ln.Addr().String(), nil
}

// pinned returns argv prefixed with taskset when cpu is not empty.
func pinned(cpu string, argv ...string) []string {
	if cpu == "" {
		return argv
	}
	return append([]string{"taskset", "-c", cpu}, argv...)
}

// start runs argv (with env added to the driver's environment) with its output in
// logDir/name.log and waits until addr accepts connections. The process gets SIGKILL if the
// driver dies (Pdeathsig), so nothing outlives a run.
func start(name, logDir, addr, debug string, argv, env []string) (*proc, error) {
	logf, err := os.Create(filepath.Join(logDir, name+".log"))
	if err != nil {
		return nil, err
	}
	cmd := exec.Command(argv[0], argv[1:]...)
	cmd.Stdout, cmd.Stderr = logf, logf
	if env != nil {
		cmd.Env = append(os.Environ(), env...)
	}
	cmd.SysProcAttr = &syscall.SysProcAttr{Pdeathsig: syscall.SIGKILL}
	if err := cmd.Start(); err != nil {
		logf.Close()
		return nil, fmt.Errorf("start %s: %w", name, err)
	}
	p := &proc{name: name, cmd: cmd, addr: addr, debug: debug, logf: logf, exited: make(chan error, 1)}
	go func() { p.exited <- cmd.Wait() }()
	deadline := time.Now().Add(10 * time.Second)
	for {
		c, err := net.DialTimeout("tcp", addr, 200*time.Millisecond)
		if err == nil {
			c.Close()
			return p, nil
		}
		select {
		case err := <-p.exited:
			p.exited <- err
			return nil, fmt.Errorf("%s exited before serving on %s (%v); see %s", name, addr, err, logf.Name())
		case <-time.After(50 * time.Millisecond):
		}
		if time.Now().After(deadline) {
			p.stop()
			return nil, fmt.Errorf("%s does not serve on %s after 10 s; see %s", name, addr, logf.Name())
		}
	}
}

// stop terminates the process (SIGTERM, then SIGKILL after 5 s) and waits for it.
func (p *proc) stop() {
	if p == nil {
		return
	}
	_ = p.cmd.Process.Signal(syscall.SIGTERM)
	select {
	case err := <-p.exited:
		p.exited <- err
	case <-time.After(5 * time.Second):
		_ = p.cmd.Process.Kill()
		p.exited <- <-p.exited
	}
	p.logf.Close()
}

var clockTicks = func() float64 {
	out, err := exec.Command("getconf", "CLK_TCK").Output()
	if err == nil {
		if v, err := strconv.ParseFloat(strings.TrimSpace(string(out)), 64); err == nil && v > 0 {
			return v
		}
	}
	return 100
}()

// cpuTime is CPU time in seconds: user and system together, and system alone.
type cpuTime struct{ total, sys float64 }

// cpuSeconds returns the CPU time of pid and all its descendants (nginx's master and
// worker), from /proc/<pid>/stat fields 14 (user) and 15 (system).
func cpuSeconds(pid int) (cpuTime, error) {
	b, err := os.ReadFile(fmt.Sprintf("/proc/%d/stat", pid))
	if err != nil {
		return cpuTime{}, err
	}
	// The command name (field 2) may contain spaces; fields resume after the last ')'.
	s := string(b)
	i := strings.LastIndexByte(s, ')')
	if i < 0 {
		return cpuTime{}, fmt.Errorf("unexpected /proc/%d/stat: %q", pid, s)
	}
	f := strings.Fields(s[i+1:]) // f[0] is field 3 (state)
	if len(f) < 13 {
		return cpuTime{}, fmt.Errorf("unexpected /proc/%d/stat: %q", pid, s)
	}
	utime, err1 := strconv.ParseFloat(f[11], 64)
	stime, err2 := strconv.ParseFloat(f[12], 64)
	if err1 != nil || err2 != nil {
		return cpuTime{}, fmt.Errorf("unexpected /proc/%d/stat: %q", pid, s)
	}
	t := cpuTime{total: (utime + stime) / clockTicks, sys: stime / clockTicks}
	for _, child := range children(pid) {
		if c, err := cpuSeconds(child); err == nil {
			t.total += c.total
			t.sys += c.sys
		}
	}
	return t, nil
}

// children lists the child processes of pid (all threads' children files).
func children(pid int) []int {
	var out []int
	tasks, _ := filepath.Glob(fmt.Sprintf("/proc/%d/task/*/children", pid))
	for _, t := range tasks {
		b, err := os.ReadFile(t)
		if err != nil {
			continue
		}
		for _, f := range strings.Fields(string(b)) {
			if c, err := strconv.Atoi(f); err == nil {
				out = append(out, c)
			}
		}
	}
	return out
}

// readDebug fetches the debugstats document of a Go server.
func readDebug(addr string) (debugstats.Stats, error) {
	var s debugstats.Stats
	resp, err := http.Get("http://" + addr + debugstats.Path)
	if err != nil {
		return s, err
	}
	defer resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		return s, fmt.Errorf("GET %s%s: %s", addr, debugstats.Path, resp.Status)
	}
	return s, json.NewDecoder(resp.Body).Decode(&s)
}

// nginxConfig writes nginx.conf into dir: workers worker processes, room for conns client
// connections (and as many to the upstream) per worker, upstream keepalive 64, access log off,
// request bodies streamed to the upstream as the Go proxies do (no temp files), pid, error log
// and temp paths under dir, listening on listen and proxying to upstream.
func nginxConfig(dir, listen, upstream string, workers, conns int) (string, error) {
	info, _ := exec.Command(nginxBin(), "-V").CombinedOutput()
	var temps strings.Builder
	for _, m := range []string{"client_body", "proxy", "fastcgi", "uwsgi", "scgi"} {
		if m != "client_body" && m != "proxy" && strings.Contains(string(info), "--without-http_"+m+"_module") {
			continue
		}
		fmt.Fprintf(&temps, "    %s_temp_path %s;\n", m, filepath.Join(dir, m+"_temp"))
	}
	user := ""
	if os.Geteuid() == 0 {
		user = "user root;\n" // the worker can then use the temp paths under target/
	}
	// Each client connection may hold one to the upstream; the rest is listeners and files.
	workerConns := max(4096, 2*conns+1024)
	rlimit := workerConns + 1024
	if n := nofile(); n > 0 {
		rlimit = int(min(uint64(rlimit), n))
	}
	conf := fmt.Sprintf(`# Generated by examples/benchproxy; do not edit.
%sworker_processes %d;
worker_rlimit_nofile %d;
daemon off;
pid %s;
error_log %s warn;
events { worker_connections %d; }
http {
    access_log off;
%s    upstream backend {
        server %s;
        keepalive 64;
    }
    server {
        listen %s;
        location / {
            proxy_pass http://backend;
            proxy_http_version 1.1;
            proxy_set_header Connection "";
            proxy_buffer_size 16k;
            proxy_buffers 8 64k;
            proxy_busy_buffers_size 128k;
            proxy_max_temp_file_size 0;
            proxy_request_buffering off;
            client_body_buffer_size 64k;
            client_max_body_size 2m;
        }
    }
}
`, user, workers, rlimit, filepath.Join(dir, "nginx.pid"), filepath.Join(dir, "error.log"), workerConns,
		temps.String(), upstream, listen)
	path := filepath.Join(dir, "nginx.conf")
	return path, os.WriteFile(path, []byte(conf), 0o644)
}

// nginxBin finds nginx in PATH or /usr/sbin (not in PATH for non-root users on Debian).
func nginxBin() string {
	if p, err := exec.LookPath("nginx"); err == nil {
		return p
	}
	if _, err := os.Stat("/usr/sbin/nginx"); err == nil {
		return "/usr/sbin/nginx"
	}
	return ""
}
