// Command netfence-controlplane runs a local Kubernetes control plane for demos and
// tests: an embedded etcd and kube-apiserver (the public app.NewAPIServerCommand),
// both on 127.0.0.1, with RBAC and static bearer tokens; and, each in a process of
// its own started from the same binary, kube-controller-manager and kube-scheduler
// (components.go).
//
//	netfence-controlplane --dir DIR [--port N]
//	netfence-controlplane controller-manager|scheduler --dir DIR [--apiserver-pid N]
//
// DIR receives: kubeconfig (admin, CA embedded), tokens.json, ca.crt, server (URL),
// pki/ (keys, certs, token file) and etcd/ (data). Existing keys, certificates and
// tokens are reused, so a restart keeps credentials and data. SIGTERM or SIGINT
// stops kube-apiserver and then etcd. kube-apiserver keeps global state (flags,
// feature gates, metrics, the signal handler), so one process runs one apiserver.
//
// Build (netfence.localcluster.building does this and caches the result):
//
//	go build -trimpath -ldflags='-s -w -X k8s.io/component-base/version.gitVersion=v1.36.3 ...'
//
// The -X flags only make /version report the real Kubernetes version.
package main

import (
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/rsa"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/hex"
	"encoding/json"
	"encoding/pem"
	"errors"
	"flag"
	"fmt"
	"math/big"
	"net"
	"net/url"
	"os"
	"os/signal"
	"path/filepath"
	"strconv"
	"syscall"
	"time"

	"go.etcd.io/etcd/server/v3/embed"
	"k8s.io/client-go/tools/clientcmd"
	clientcmdapi "k8s.io/client-go/tools/clientcmd/api"
	apiserverapp "k8s.io/kubernetes/cmd/kube-apiserver/app"
)

// users maps each static-token user to its groups. Users without groups get only
// the implicit system:authenticated group, hence no rights under RBAC.
var users = map[string]string{
	"admin": "system:masters",
	"alice": "",
	"bob":   "",
	"carol": "",
}

func main() {
	if len(os.Args) > 1 && (os.Args[1] == controllerManager || os.Args[1] == scheduler) {
		if err := runComponent(os.Args[1], os.Args[2:]); err != nil {
			fmt.Fprintf(os.Stderr, "netfence-controlplane %s: %v\n", os.Args[1], err)
			os.Exit(1)
		}
		return
	}
	if err := run(); err != nil {
		fmt.Fprintln(os.Stderr, "netfence-controlplane:", err)
		os.Exit(1)
	}
}

func run() error {
	flags := flag.NewFlagSet("netfence-controlplane", flag.ContinueOnError)
	dir := flags.String("dir", "", "data directory (required)")
	port := flags.Int("port", 0, "kube-apiserver secure port on 127.0.0.1 (default: a free port)")
	if err := flags.Parse(os.Args[1:]); err != nil {
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
	if err := os.MkdirAll(pki, 0o700); err != nil {
		return err
	}

	// Created first: it installs kube-apiserver's SIGTERM/SIGINT handler, so a signal
	// that arrives while etcd starts is not lost. We watch the same signals ourselves.
	apiserver := apiserverapp.NewAPIServerCommand()
	signals := make(chan os.Signal, 2)
	signal.Notify(signals, syscall.SIGTERM, syscall.SIGINT)

	if err := ensurePKI(d, pki); err != nil {
		return fmt.Errorf("certificates: %w", err)
	}
	tokens, err := ensureTokens(d, pki)
	if err != nil {
		return fmt.Errorf("tokens: %w", err)
	}
	apiPort := *port
	if apiPort == 0 {
		if apiPort, err = freePort(); err != nil {
			return err
		}
	}
	server := "https://127.0.0.1:" + strconv.Itoa(apiPort)
	if err := writeKubeconfig(d, server, tokens["admin"]); err != nil {
		return fmt.Errorf("kubeconfig: %w", err)
	}

	etcd, etcdURL, err := startEtcd(filepath.Join(d, "etcd"))
	if err != nil {
		return fmt.Errorf("etcd: %w", err)
	}
	defer etcd.Close() // stops etcd after kube-apiserver has returned
	select {
	case <-etcd.Server.ReadyNotify():
	case <-time.After(60 * time.Second):
		return errors.New("etcd: not ready after 60s")
	case <-signals:
		return nil
	}

	// Written last: tools that wait for this file know that the rest is in place.
	if err := os.WriteFile(filepath.Join(d, "server"), []byte(server+"\n"), 0o644); err != nil {
		return err
	}
	apiserver.SetArgs([]string{
		"--bind-address=127.0.0.1",
		"--advertise-address=127.0.0.1", // else a host interface address is advertised
		"--secure-port=" + strconv.Itoa(apiPort),
		"--tls-cert-file=" + filepath.Join(pki, "apiserver.crt"),
		"--tls-private-key-file=" + filepath.Join(pki, "apiserver.key"),
		"--etcd-servers=" + etcdURL,
		"--authorization-mode=RBAC",
		"--anonymous-auth=false",
		"--token-auth-file=" + filepath.Join(pki, "tokens.csv"),
		"--service-account-issuer=https://kubernetes.default.svc",
		"--service-account-key-file=" + filepath.Join(pki, "sa.pub"),
		"--service-account-signing-key-file=" + filepath.Join(pki, "sa.key"),
		"--api-audiences=https://kubernetes.default.svc",
		"--service-cluster-ip-range=10.96.0.0/16",
		// The default ServiceAccount of a namespace appears only once kube-controller-manager
		// has seen the namespace, so with this plugin a pod created right after its
		// namespace would be refused; and no kubelet would mount the token it adds.
		"--disable-admission-plugins=ServiceAccount",
		// No kubelet runs on 127.0.0.1, and Endpoints may not hold loopback addresses.
		"--endpoint-reconciler-type=none",
		// Faster start and less background work; not needed on a local single user server.
		"--enable-priority-and-fairness=false",
		"--allow-privileged=true",
		"--profiling=false",
		"--v=0",
	})
	apiErr := apiserver.Execute() // returns after SIGTERM/SIGINT and graceful shutdown
	if apiErr != nil {
		return fmt.Errorf("kube-apiserver: %w", apiErr)
	}
	return nil
}

func startEtcd(dataDir string) (*embed.Etcd, string, error) {
	clientPort, err := freePort()
	if err != nil {
		return nil, "", err
	}
	peerPort, err := freePort()
	if err != nil {
		return nil, "", err
	}
	clientURL := url.URL{Scheme: "http", Host: "127.0.0.1:" + strconv.Itoa(clientPort)}
	peerURL := url.URL{Scheme: "http", Host: "127.0.0.1:" + strconv.Itoa(peerPort)}

	cfg := embed.NewConfig()
	cfg.Name = "netfence"
	cfg.Dir = dataDir
	cfg.ListenClientUrls = []url.URL{clientURL}
	cfg.AdvertiseClientUrls = []url.URL{clientURL}
	cfg.ListenPeerUrls = []url.URL{peerURL}
	cfg.AdvertisePeerUrls = []url.URL{peerURL}
	cfg.InitialCluster = cfg.InitialClusterFromName(cfg.Name)
	cfg.LogLevel = "error"
	cfg.UnsafeNoFsync = true // throwaway local data; fsync dominates write latency
	e, err := embed.StartEtcd(cfg)
	if err != nil {
		return nil, "", err
	}
	return e, clientURL.String(), nil
}

func freePort() (int, error) {
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return 0, err
	}
	defer l.Close()
	return l.Addr().(*net.TCPAddr).Port, nil
}

// ensurePKI creates a CA, a serving certificate for 127.0.0.1/localhost and the
// service-account RSA key pair, unless they exist from an earlier run.
func ensurePKI(dir, pki string) error {
	if exists(filepath.Join(dir, "ca.crt")) && exists(filepath.Join(pki, "apiserver.crt")) &&
		exists(filepath.Join(pki, "sa.key")) {
		return nil
	}
	now := time.Now()
	caKey, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		return err
	}
	caTmpl := &x509.Certificate{
		SerialNumber:          serial(),
		Subject:               pkix.Name{CommonName: "netfence-local-ca"},
		NotBefore:             now.Add(-time.Hour),
		NotAfter:              now.AddDate(10, 0, 0),
		KeyUsage:              x509.KeyUsageCertSign | x509.KeyUsageDigitalSignature,
		BasicConstraintsValid: true,
		IsCA:                  true,
	}
	caDER, err := x509.CreateCertificate(rand.Reader, caTmpl, caTmpl, &caKey.PublicKey, caKey)
	if err != nil {
		return err
	}
	ca, err := x509.ParseCertificate(caDER)
	if err != nil {
		return err
	}
	srvKey, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		return err
	}
	srvTmpl := &x509.Certificate{
		SerialNumber: serial(),
		Subject:      pkix.Name{CommonName: "kube-apiserver"},
		NotBefore:    now.Add(-time.Hour),
		NotAfter:     now.AddDate(10, 0, 0),
		KeyUsage:     x509.KeyUsageDigitalSignature,
		ExtKeyUsage:  []x509.ExtKeyUsage{x509.ExtKeyUsageServerAuth},
		DNSNames: []string{"localhost", "kubernetes", "kubernetes.default",
			"kubernetes.default.svc", "kubernetes.default.svc.cluster.local"},
		IPAddresses: []net.IP{net.IPv4(127, 0, 0, 1), net.IPv6loopback, net.IPv4(10, 96, 0, 1)},
	}
	srvDER, err := x509.CreateCertificate(rand.Reader, srvTmpl, ca, &srvKey.PublicKey, caKey)
	if err != nil {
		return err
	}
	saKey, err := rsa.GenerateKey(rand.Reader, 2048)
	if err != nil {
		return err
	}
	saPub, err := x509.MarshalPKIXPublicKey(&saKey.PublicKey)
	if err != nil {
		return err
	}
	caKeyDER, err := x509.MarshalPKCS8PrivateKey(caKey)
	if err != nil {
		return err
	}
	srvKeyDER, err := x509.MarshalPKCS8PrivateKey(srvKey)
	if err != nil {
		return err
	}
	saKeyDER, err := x509.MarshalPKCS8PrivateKey(saKey)
	if err != nil {
		return err
	}
	files := []struct {
		path, kind string
		der        []byte
		mode       os.FileMode
	}{
		{filepath.Join(pki, "ca.key"), "PRIVATE KEY", caKeyDER, 0o600},
		{filepath.Join(pki, "apiserver.crt"), "CERTIFICATE", srvDER, 0o644},
		{filepath.Join(pki, "apiserver.key"), "PRIVATE KEY", srvKeyDER, 0o600},
		{filepath.Join(pki, "sa.key"), "PRIVATE KEY", saKeyDER, 0o600},
		{filepath.Join(pki, "sa.pub"), "PUBLIC KEY", saPub, 0o644},
		{filepath.Join(dir, "ca.crt"), "CERTIFICATE", caDER, 0o644}, // last: marks completion
	}
	for _, f := range files {
		data := pem.EncodeToMemory(&pem.Block{Type: f.kind, Bytes: f.der})
		if err := os.WriteFile(f.path, data, f.mode); err != nil {
			return err
		}
	}
	return nil
}

// ensureTokens loads DIR/tokens.json or creates it with random tokens, and writes
// the kube-apiserver token file (CSV: token,user,uid,"groups") from it.
func ensureTokens(dir, pki string) (map[string]string, error) {
	path := filepath.Join(dir, "tokens.json")
	tokens := map[string]string{}
	if data, err := os.ReadFile(path); err == nil {
		if err := json.Unmarshal(data, &tokens); err != nil {
			return nil, fmt.Errorf("%s: %w", path, err)
		}
	}
	changed := false
	for user := range users {
		if tokens[user] == "" {
			b := make([]byte, 24)
			if _, err := rand.Read(b); err != nil {
				return nil, err
			}
			tokens[user] = hex.EncodeToString(b)
			changed = true
		}
	}
	if changed {
		data, err := json.MarshalIndent(tokens, "", "  ")
		if err != nil {
			return nil, err
		}
		if err := os.WriteFile(path, append(data, '\n'), 0o600); err != nil {
			return nil, err
		}
	}
	csv := ""
	for user, groups := range users {
		csv += fmt.Sprintf("%s,%s,%s", tokens[user], user, user)
		if groups != "" {
			csv += fmt.Sprintf(",%q", groups)
		}
		csv += "\n"
	}
	return tokens, os.WriteFile(filepath.Join(pki, "tokens.csv"), []byte(csv), 0o600)
}

func writeKubeconfig(dir, server, token string) error {
	ca, err := os.ReadFile(filepath.Join(dir, "ca.crt"))
	if err != nil {
		return err
	}
	cfg := clientcmdapi.NewConfig()
	cfg.Clusters["netfence-local"] = &clientcmdapi.Cluster{Server: server, CertificateAuthorityData: ca}
	cfg.AuthInfos["admin"] = &clientcmdapi.AuthInfo{Token: token}
	cfg.Contexts["netfence-local"] = &clientcmdapi.Context{Cluster: "netfence-local", AuthInfo: "admin"}
	cfg.CurrentContext = "netfence-local"
	return clientcmd.WriteToFile(*cfg, filepath.Join(dir, "kubeconfig"))
}

func serial() *big.Int {
	n, err := rand.Int(rand.Reader, new(big.Int).Lsh(big.NewInt(1), 62))
	if err != nil {
		panic(err)
	}
	return n
}

func exists(path string) bool {
	_, err := os.Stat(path)
	return err == nil
}
