//go:build linux

package userns

import (
	"context"
	"errors"
	"fmt"
	"io"
	"os"
	"os/exec"
	"strconv"
	"strings"
	"syscall"
	"time"

	"golang.org/x/sys/unix"
)

// TunDevice is the clone device a TAP is made through.
const TunDevice = "/dev/net/tun"

// Check says why a rootless run cannot work on this machine, before anything is started: /dev/net/tun
// missing or not readable and writable by the caller, or user namespaces disabled.
func Check() error {
	if _, err := os.Stat(TunDevice); err != nil {
		return fmt.Errorf("%s is missing: load the tun module (as root: modprobe tun) or, in a container, pass the device in (docker run --device /dev/net/tun): %w", TunDevice, err)
	}
	if err := unix.Access(TunDevice, unix.R_OK|unix.W_OK); err != nil {
		return fmt.Errorf("%s is not readable and writable by you (uid %d): a rootless TAP needs it mode 0666, the usual default (as root: chmod 0666 %s; udev rule: KERNEL==\"tun\", MODE=\"0666\"): %w",
			TunDevice, os.Getuid(), TunDevice, err)
	}
	if why := disabled(); why != "" && !strings.Contains(why, "AppArmor") {
		// AppArmor's restriction is not decisive here: a profile may grant netxsim user namespaces.
		// Explain tells when it was the cause.
		return errors.New(why)
	}
	return nil
}

// Explain adds, to an error met inside the namespace (a TAP refused), the setting that took the
// namespace's capabilities away, if one did.
func Explain(err error) error {
	if err == nil || !Inside() {
		return err
	}
	if v, ok := readInt("/proc/sys/kernel/apparmor_restrict_unprivileged_userns"); ok && v == 1 {
		return fmt.Errorf("%w: probably because AppArmor restricts unprivileged user namespaces (kernel.apparmor_restrict_unprivileged_userns = 1, Ubuntu 23.10 and later): as root, sysctl -w kernel.apparmor_restrict_unprivileged_userns=0 or give netxsim an AppArmor profile with `userns,` (docs/rootless.md)", err)
	}
	return err
}

// readInt reads a sysctl; ok is false when it does not exist on this kernel.
func readInt(path string) (int, bool) {
	b, err := os.ReadFile(path)
	if err != nil {
		return 0, false
	}
	n, err := strconv.Atoi(strings.TrimSpace(string(b)))
	return n, err == nil
}

// disabled names the setting that forbids unprivileged user namespaces, or "".
func disabled() string {
	if os.Geteuid() == 0 && !Inside() {
		return ""
	}
	if v, ok := readInt("/proc/sys/kernel/unprivileged_userns_clone"); ok && v == 0 {
		return "unprivileged user namespaces are off: kernel.unprivileged_userns_clone = 0 (Debian's kernels before 11 and some hardened ones); as root: sysctl -w kernel.unprivileged_userns_clone=1 (persist in /etc/sysctl.d/)"
	}
	if v, ok := readInt("/proc/sys/user/max_user_namespaces"); ok && v == 0 {
		return "user namespaces are off: user.max_user_namespaces = 0 (RHEL/CentOS 7 default); as root: sysctl -w user.max_user_namespaces=15000 (persist in /etc/sysctl.d/)"
	}
	if v, ok := readInt("/proc/sys/kernel/apparmor_restrict_unprivileged_userns"); ok && v == 1 {
		return "AppArmor restricts unprivileged user namespaces: kernel.apparmor_restrict_unprivileged_userns = 1 (Ubuntu 23.10 and later); as root either sysctl -w kernel.apparmor_restrict_unprivileged_userns=0, or give netxsim an AppArmor profile with `userns,` (see docs/rootless.md)"
	}
	return ""
}

// diagnose explains a failure to start the namespaced process.
func diagnose(err error) error {
	if why := disabled(); why != "" {
		return fmt.Errorf("cannot create a user namespace: %s: %w", why, err)
	}
	if errors.Is(err, syscall.ENOSPC) {
		return fmt.Errorf("cannot create a user namespace: the limit user.max_user_namespaces is reached (raise it with sysctl -w user.max_user_namespaces=15000): %w", err)
	}
	if errors.Is(err, syscall.EPERM) || errors.Is(err, syscall.EACCES) || errors.Is(err, syscall.EINVAL) {
		return fmt.Errorf("cannot create a user namespace: not permitted here: in a container the seccomp profile usually forbids it (docker/podman: --security-opt seccomp=unconfined, or run the container with --privileged); with SELinux or a Yama/LSM policy, allow user namespaces for this user: %w", err)
	}
	return fmt.Errorf("cannot create a user namespace: %w", err)
}

// Reexec runs this program again with args, as root of a new user namespace mapped to the caller,
// in a new network namespace, and returns its exit status. (No PID namespace: gVisor's and netlink's
// namespace handles go through /proc/self/task/TID, which a PID namespace without a /proc of its own
// would break; KillRest ends what is left instead.) ctx's end sends it SIGTERM (and
// SIGKILL 15 s later); if this process dies, the kernel kills it (and with it the whole namespace).
func Reexec(ctx context.Context, args []string, stdin io.Reader, stdout, stderr io.Writer) (int, error) {
	if err := Check(); err != nil {
		return 0, err
	}
	self, err := os.Executable()
	if err != nil {
		return 0, fmt.Errorf("find own executable: %w", err)
	}
	cmd := exec.CommandContext(ctx, self, args...)
	cmd.Stdin, cmd.Stdout, cmd.Stderr = stdin, stdout, stderr
	cmd.Env = append(Environ(), envInside+"=1")
	cmd.SysProcAttr = &syscall.SysProcAttr{
		Cloneflags: syscall.CLONE_NEWUSER | syscall.CLONE_NEWNET,
		// Root inside is the caller outside: files written stay the caller's, nothing else is reachable.
		UidMappings:                []syscall.SysProcIDMap{{ContainerID: 0, HostID: os.Getuid(), Size: 1}},
		GidMappings:                []syscall.SysProcIDMap{{ContainerID: 0, HostID: os.Getgid(), Size: 1}},
		GidMappingsEnableSetgroups: false,
		Pdeathsig:                  syscall.SIGKILL,
	}
	cmd.Cancel = func() error { return cmd.Process.Signal(syscall.SIGTERM) }
	cmd.WaitDelay = 15 * time.Second
	if err := cmd.Start(); err != nil {
		return 0, diagnose(err)
	}
	return ExitStatus(cmd.Wait())
}

// ExitStatus turns a Wait error into the exit status a shell would report: the code, or 128 plus
// the signal that killed the process.
func ExitStatus(err error) (int, error) {
	if err == nil {
		return 0, nil
	}
	var ee *exec.ExitError
	if errors.As(err, &ee) {
		if ws, ok := ee.Sys().(syscall.WaitStatus); ok && ws.Signaled() {
			return 128 + int(ws.Signal()), nil
		}
		return ee.ExitCode(), nil
	}
	return 0, err
}

// Prepare readies the new network namespace for the tools a user runs in it: ping's ICMP sockets
// for group 0, the one group mapped (net.ipv4.ping_group_range is per namespace and takes only
// mapped groups; iputils' ping uses them when it has
// no raw socket). Loopback is brought up by the TAP segment (tapdev).
func Prepare() error {
	if err := os.WriteFile("/proc/sys/net/ipv4/ping_group_range", []byte("0 0"), 0); err != nil {
		return fmt.Errorf("set net.ipv4.ping_group_range in the new namespace: %w", err)
	}
	return nil
}

// KillRest sends SIGKILL to every other process in this process's network namespace (a command's
// background children), so that the namespace goes with this process. Processes not readable by the
// caller are not its own and are left alone.
func KillRest() int {
	self, err := os.Readlink("/proc/self/ns/net")
	if err != nil {
		return 0
	}
	ents, err := os.ReadDir("/proc")
	if err != nil {
		return 0
	}
	n := 0
	for _, e := range ents {
		pid, err := strconv.Atoi(e.Name())
		if err != nil || pid == os.Getpid() {
			continue
		}
		if ns, err := os.Readlink("/proc/" + e.Name() + "/ns/net"); err == nil && ns == self {
			if syscall.Kill(pid, syscall.SIGKILL) == nil {
				n++
			}
		}
	}
	return n
}

// EnterCommand is the command line prefix that runs a command in this process's namespaces from
// outside, unprivileged.
func EnterCommand() string {
	return fmt.Sprintf("nsenter --target %d --user --net --preserve-credentials ", os.Getpid())
}
