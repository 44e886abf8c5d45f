package testenv

import (
	"bufio"
	"encoding/binary"
	"encoding/hex"
	"errors"
	"fmt"
	"io/fs"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
)

// portAttempts is how many ports StartOnPort tries before it gives up.
const portAttempts = 5

// StartOnPort is Start for a service that cannot report the port it binds:
// it picks a port that was free a moment ago, runs newCmd(port), and waits
// until a socket listening on 127.0.0.1:port belongs to the service's process
// group (OwnedPort). When another process took the port first (it listens
// there, or the service exits with "address already in use"), it tries
// another port, up to 5 in all.
func StartOnPort(t testing.TB, name string, newCmd func(port int) *exec.Cmd) *Process {
	t.Helper()
	p, err := launchOnPort(name, newCmd, candidatePort)
	if err != nil {
		t.Fatal(err)
	}
	p.stopWhenDone(t)
	return p
}

// launchOnPort is StartOnPort with the ports to try given by pick.
func launchOnPort(name string, newCmd func(port int) *exec.Cmd, pick func() (int, error)) (*Process, error) {
	var err error
	for range portAttempts {
		var port int
		if port, err = pick(); err != nil {
			return nil, err
		}
		var p *Process
		if p, err = launch(name, newCmd(port), OwnedPort(port)); !errors.Is(err, errPortTaken) {
			return p, err
		}
	}
	return nil, fmt.Errorf("testenv: %s lost its port %d times; last: %w", name, portAttempts, err)
}

// candidatePort returns a port on 127.0.0.1 that was free a moment ago. Some
// other process may take it before the service does; OwnedPort finds out.
func candidatePort() (int, error) {
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return 0, fmt.Errorf("testenv: free port: %w", err)
	}
	defer l.Close()
	return l.Addr().(*net.TCPAddr).Port, nil
}

// OwnedPort is the Ready of a service told to listen on 127.0.0.1:port. The
// service is ready when a socket listening there is open in a process of its
// process group; it fails with errPortTaken when a socket of another process
// listens there (the service cannot bind the port then).
func OwnedPort(port int) Ready {
	return func(p *Process) (int, error) {
		listening, err := loopbackListeners(port)
		if err != nil || len(listening) == 0 {
			return 0, err
		}
		ours, err := groupSockets(p.cmd.Process.Pid)
		if err != nil {
			return 0, err
		}
		for inode := range listening {
			if ours[inode] {
				return port, nil
			}
		}
		// A socket is created before it binds and listens, so a listener
		// that is not among the group's sockets is another process's.
		return 0, fmt.Errorf("%w: 127.0.0.1:%d", errPortTaken, port)
	}
}

// loopbackListeners returns the inodes of the sockets in /proc/net/tcp and
// /proc/net/tcp6 that listen on port at an address 127.0.0.1:port conflicts
// with: a loopback or an unspecified address.
func loopbackListeners(port int) (map[uint64]bool, error) {
	inodes := map[uint64]bool{}
	for _, table := range []string{"/proc/net/tcp", "/proc/net/tcp6"} {
		f, err := os.Open(table)
		if errors.Is(err, fs.ErrNotExist) && table == "/proc/net/tcp6" {
			continue // no IPv6
		}
		if err != nil {
			return nil, fmt.Errorf("testenv: listeners: %w", err)
		}
		sc := bufio.NewScanner(f)
		sc.Scan() // the header
		for sc.Scan() {
			// sl local_address rem_address st tx:rx tr:when retrnsmt uid timeout inode
			fields := strings.Fields(sc.Text())
			if len(fields) < 10 || fields[3] != "0A" { // 0A: TCP_LISTEN
				continue
			}
			ip, p, ok := parseProcAddr(fields[1])
			if !ok || p != port || !(ip.IsLoopback() || ip.IsUnspecified()) {
				continue
			}
			if inode, err := strconv.ParseUint(fields[9], 10, 64); err == nil && inode != 0 {
				inodes[inode] = true
			}
		}
		err = sc.Err()
		f.Close()
		if err != nil {
			return nil, fmt.Errorf("testenv: read %s: %w", table, err)
		}
	}
	return inodes, nil
}

// parseProcAddr parses a /proc/net/tcp address, "0100007F:1F90": the address
// as 32-bit words in the kernel's byte order, then the port, both in hex.
func parseProcAddr(s string) (net.IP, int, bool) {
	addr, portHex, ok := strings.Cut(s, ":")
	raw, err := hex.DecodeString(addr)
	port, perr := strconv.ParseUint(portHex, 16, 16)
	if !ok || err != nil || perr != nil || (len(raw) != 4 && len(raw) != 16) {
		return nil, 0, false
	}
	ip := make(net.IP, len(raw))
	for i := 0; i < len(raw); i += 4 {
		binary.NativeEndian.PutUint32(ip[i:], binary.BigEndian.Uint32(raw[i:]))
	}
	return ip, int(port), true
}

// groupSockets returns the inodes of the sockets open in the processes of the
// process group pgid.
func groupSockets(pgid int) (map[uint64]bool, error) {
	procs, err := os.ReadDir("/proc")
	if err != nil {
		return nil, fmt.Errorf("testenv: processes: %w", err)
	}
	inodes := map[uint64]bool{}
	for _, e := range procs {
		pid, err := strconv.Atoi(e.Name())
		if err != nil || processGroup(pid) != pgid {
			continue
		}
		fds, _ := os.ReadDir(filepath.Join("/proc", e.Name(), "fd")) // the process may be gone
		for _, fd := range fds {
			link, _ := os.Readlink(filepath.Join("/proc", e.Name(), "fd", fd.Name()))
			if s, ok := strings.CutPrefix(link, "socket:["); ok {
				if inode, err := strconv.ParseUint(strings.TrimSuffix(s, "]"), 10, 64); err == nil {
					inodes[inode] = true
				}
			}
		}
	}
	return inodes, nil
}

// processGroup returns the process group of pid, from /proc/PID/stat, or -1.
func processGroup(pid int) int {
	stat, err := os.ReadFile(filepath.Join("/proc", strconv.Itoa(pid), "stat"))
	if err != nil {
		return -1
	}
	// pid (comm) state ppid pgrp ...; comm may hold spaces and parentheses.
	i := strings.LastIndexByte(string(stat), ')')
	if i < 0 {
		return -1
	}
	fields := strings.Fields(string(stat[i+1:]))
	if len(fields) < 3 {
		return -1
	}
	pgrp, err := strconv.Atoi(fields[2])
	if err != nil {
		return -1
	}
	return pgrp
}
