package main

// The kube-controller-manager and kube-scheduler subcommands of netfence-controlplane:
//
//	netfence-controlplane controller-manager --dir DIR --apiserver-pid N
//	netfence-controlplane scheduler --dir DIR --apiserver-pid N
//
// Each runs the public command of its component (app.NewControllerManagerCommand,
// app.NewSchedulerCommand) in a process of its own, as kube-apiserver does: they keep
// global state too. Both connect with DIR/kubeconfig, the admin kubeconfig (system:masters)
// the apiserver process writes, which is fine for a local single-user cluster. Each
// serves /healthz (only the health paths, anonymously) on a free 127.0.0.1 port with
// the apiserver's serving certificate (valid for 127.0.0.1, signed by DIR/ca.crt) and
// writes its URL to DIR/<name>.healthz just before it starts. Leader election is off:
// there is one of each.
//
// The component exits by itself when the kube-apiserver process it was started for is
// gone (--apiserver-pid), so a killed apiserver leaves nothing behind; SIGTERM stops
// it as usual.

import (
	"bytes"
	"errors"
	"flag"
	"fmt"
	"os"
	"path/filepath"
	"strconv"
	"time"

	"github.com/spf13/cobra"
	cmapp "k8s.io/kubernetes/cmd/kube-controller-manager/app"
	schedulerapp "k8s.io/kubernetes/cmd/kube-scheduler/app"
)

const (
	controllerManager = "controller-manager"
	scheduler         = "scheduler"
)

func runComponent(name string, args []string) error {
	flags := flag.NewFlagSet("netfence-controlplane "+name, flag.ContinueOnError)
	dir := flags.String("dir", "", "data directory of a running apiserver (required)")
	apiserverPID := flags.Int("apiserver-pid", 0, "exit once this kube-apiserver process is gone")
	if err := flags.Parse(args); err != nil {
		return err
	}
	if *dir == "" {
		return errors.New("--dir is required")
	}
	d, err := filepath.Abs(*dir)
	if err != nil {
		return err
	}
	pki := filepath.Join(d, "pki")
	kubeconfig := filepath.Join(d, "kubeconfig")
	if !exists(kubeconfig) {
		return fmt.Errorf("%s is missing: start the apiserver first", kubeconfig)
	}
	if *apiserverPID > 0 {
		if err := exitWhenGone(*apiserverPID, name); err != nil {
			return err
		}
	}
	port, err := freePort()
	if err != nil {
		return err
	}
	common := []string{
		"--kubeconfig=" + kubeconfig,
		// No --authentication-kubeconfig/--authorization-kubeconfig: /healthz, /readyz and
		// /livez are always allowed, anonymously, and that is all we ask of these ports.
		// Delegated authentication would also look for the extension-apiserver-authentication
		// ConfigMap, which kube-apiserver writes only with client CAs (it has none here).
		"--bind-address=127.0.0.1",
		"--secure-port=" + strconv.Itoa(port),
		"--tls-cert-file=" + filepath.Join(pki, "apiserver.crt"),
		"--tls-private-key-file=" + filepath.Join(pki, "apiserver.key"),
		"--leader-elect=false",
		"--v=0",
	}
	var cmd *cobra.Command
	switch name {
	case controllerManager:
		cmd = cmapp.NewControllerManagerCommand()
		cmd.SetArgs(append(common,
			// Signs ServiceAccount tokens with the key kube-apiserver verifies, and puts
			// the CA into every namespace's kube-root-ca.crt ConfigMap.
			"--service-account-private-key-file="+filepath.Join(pki, "sa.key"),
			"--root-ca-file="+filepath.Join(d, "ca.crt"),
			"--service-cluster-ip-range=10.96.0.0/16",
			"--profiling=false",
		))
	case scheduler:
		cmd = schedulerapp.NewSchedulerCommand()
		cmd.SetArgs(common)
	default:
		return fmt.Errorf("unknown component %q", name)
	}
	// Written last: whoever waits for this file may poll it.
	url := "https://127.0.0.1:" + strconv.Itoa(port) + "/healthz"
	if err := os.WriteFile(filepath.Join(d, name+".healthz"), []byte(url+"\n"), 0o644); err != nil {
		return err
	}
	cmd.SilenceUsage, cmd.SilenceErrors = true, true // main prints the error, once
	err = cmd.Execute()
	if name == scheduler && err != nil && err.Error() == "finished without leader elect" {
		return nil // how kube-scheduler without leader election reports a stop on SIGTERM
	}
	if err != nil {
		return fmt.Errorf("kube-%s: %w", name, err)
	}
	return nil
}

// exitWhenGone ends this process once the process “pid“ has exited (or is a zombie,
// or its PID now belongs to another process).
func exitWhenGone(pid int, name string) error {
	started, ok := processStart(pid)
	if !ok {
		return fmt.Errorf("kube-apiserver (PID %d) is not running", pid)
	}
	go func() {
		for range time.Tick(time.Second) {
			if now, ok := processStart(pid); !ok || now != started {
				fmt.Fprintf(os.Stderr, "netfence-controlplane %s: kube-apiserver (PID %d) is gone, exiting\n", name, pid)
				os.Exit(0)
			}
		}
	}()
	return nil
}

// processStart returns the start time of a live process from /proc/PID/stat (field 22,
// after the parenthesised command name), false if it is gone or a zombie.
func processStart(pid int) (string, bool) {
	stat, err := os.ReadFile("/proc/" + strconv.Itoa(pid) + "/stat")
	if err != nil {
		return "", false
	}
	end := bytes.LastIndexByte(stat, ')')
	if end < 0 {
		return "", false
	}
	fields := bytes.Fields(stat[end+1:])
	if len(fields) < 20 || string(fields[0]) == "Z" || string(fields[0]) == "X" {
		return "", false
	}
	return string(fields[19]), true
}
