package deploy

import (
	"bytes"
	"errors"
	"io"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"slices"
	"strconv"
	"strings"
	"testing"
	"time"

	yaml "go.yaml.in/yaml/v3"
)

// doc is one Kubernetes object, as YAML decodes it.
type doc map[string]any

// get walks keys (a string key of a map, an int index of a list) and returns
// what is there, or nil.
func (d doc) get(path ...any) any {
	var cur any = map[string]any(d)
	for _, p := range path {
		switch k := p.(type) {
		case string:
			m, ok := cur.(map[string]any)
			if !ok {
				return nil
			}
			cur = m[k]
		case int:
			l, ok := cur.([]any)
			if !ok || k >= len(l) {
				return nil
			}
			cur = l[k]
		}
	}
	return cur
}

func (d doc) str(path ...any) string { s, _ := d.get(path...).(string); return s }

func parseManifests(t *testing.T) (map[string]doc, []string) {
	t.Helper()
	paths, err := filepath.Glob(filepath.Join("kubernetes", "*.yaml"))
	if err != nil || len(paths) < 5 {
		t.Fatalf("kubernetes/*.yaml: %v %v", paths, err)
	}
	byKind := map[string]doc{}
	for _, path := range paths {
		data, err := os.ReadFile(path)
		if err != nil {
			t.Fatal(err)
		}
		dec := yaml.NewDecoder(bytes.NewReader(data))
		for {
			var m map[string]any // not doc: yaml would decode nested maps as doc too
			err := dec.Decode(&m)
			d := doc(m)
			if errors.Is(err, io.EOF) {
				break
			}
			if err != nil {
				t.Fatalf("%s: %v", path, err)
			}
			kind, _ := d["kind"].(string)
			if kind == "" || d["apiVersion"] == nil {
				t.Fatalf("%s: an object without kind or apiVersion", path)
			}
			if byKind[kind] != nil {
				t.Fatalf("%s: a second %s", path, kind)
			}
			byKind[kind] = d
		}
	}
	return byKind, paths
}

// flagValue is the argument after name in args.
func flagValue(args []string, name string) (string, bool) {
	i := slices.Index(args, name)
	if i < 0 || i+1 >= len(args) {
		return "", false
	}
	return args[i+1], true
}

func TestDeployKubernetes(t *testing.T) {
	objs, paths := parseManifests(t)
	for _, kind := range []string{"Deployment", "PodDisruptionBudget", "ConfigMap", "ServiceAccount", "PersistentVolumeClaim", "Kustomization"} {
		if objs[kind] == nil {
			t.Fatalf("no %s in deploy/kubernetes", kind)
		}
	}
	dep := objs["Deployment"]
	if r, ok := dep.get("spec", "replicas").(int); !ok || r != 1 {
		t.Errorf("replicas %v: want 1 while checkpoints are local files", dep.get("spec", "replicas"))
	}
	if dep.str("spec", "strategy", "type") != "Recreate" {
		t.Error("the Deployment's strategy is not Recreate: two pods would share the checkpoint volume")
	}
	pod := doc(dep.get("spec", "template").(map[string]any))
	c := doc(pod.get("spec", "containers", 0).(map[string]any))
	var args []string
	for _, a := range c.get("args").([]any) {
		args = append(args, a.(string))
	}

	// Graceful termination outlasts a checkpoint interval.
	interval, ok := flagValue(args, "--checkpoint-interval")
	if !ok {
		t.Fatal("the container does not pass --checkpoint-interval")
	}
	d, err := time.ParseDuration(interval)
	if err != nil {
		t.Fatal(err)
	}
	grace, ok := pod.get("spec", "terminationGracePeriodSeconds").(int)
	if !ok || time.Duration(grace)*time.Second <= d {
		t.Errorf("terminationGracePeriodSeconds %v is not longer than --checkpoint-interval %v", pod.get("spec", "terminationGracePeriodSeconds"), d)
	}

	// Metrics: the scrape annotations point at the --metrics-addr port.
	addr, _ := flagValue(args, "--metrics-addr")
	_, port, err := net.SplitHostPort(addr)
	if err != nil {
		t.Fatalf("--metrics-addr %q: %v", addr, err)
	}
	if pod.str("metadata", "annotations", "prometheus.io/scrape") != "true" || pod.str("metadata", "annotations", "prometheus.io/port") != port ||
		pod.str("metadata", "annotations", "prometheus.io/path") != "/metrics" {
		t.Errorf("scrape annotations %v do not match --metrics-addr %s", pod.get("metadata", "annotations"), addr)
	}
	if p, _ := c.get("ports", 0, "containerPort").(int); strconv.Itoa(p) != port {
		t.Errorf("containerPort %d, metrics port %s", p, port)
	}

	// Resources, and a locked-down container that runs as the image's user.
	for _, r := range []string{"requests", "limits"} {
		for _, k := range []string{"cpu", "memory"} {
			if c.get("resources", r, k) == nil {
				t.Errorf("no resources.%s.%s", r, k)
			}
		}
	}
	if c.get("securityContext", "readOnlyRootFilesystem") != true || c.get("securityContext", "allowPrivilegeEscalation") != false {
		t.Error("the container's root filesystem is writable or it may escalate")
	}
	user := regexp.MustCompile(`(?m)^USER (\d+)`).FindStringSubmatch(readDockerfile(t))
	if pod.get("spec", "securityContext", "runAsNonRoot") != true || user == nil || strconv.Itoa(pod.get("spec", "securityContext", "runAsUser").(int)) != user[1] {
		t.Errorf("runAsUser %v is not the image's USER %v", pod.get("spec", "securityContext", "runAsUser"), user)
	}

	// Every path the job writes is on a volume (the root filesystem is read-only).
	mounts := map[string]string{}
	for _, m := range c.get("volumeMounts").([]any) {
		mm := doc(m.(map[string]any))
		mounts[mm.str("mountPath")] = mm.str("name")
	}
	for _, f := range []string{"--checkpoints", "--out"} {
		v, _ := flagValue(args, f)
		if !strings.HasPrefix(v, "/data/") || mounts["/data"] == "" {
			t.Errorf("%s %q is not on the /data volume", f, v)
		}
	}
	claim := ""
	for _, v := range pod.get("spec", "volumes").([]any) {
		vv := doc(v.(map[string]any))
		if vv.str("name") == mounts["/data"] {
			claim = vv.str("persistentVolumeClaim", "claimName")
		}
	}
	if claim == "" || claim != objs["PersistentVolumeClaim"].str("metadata", "name") {
		t.Errorf("the /data volume's claim %q is not the PersistentVolumeClaim", claim)
	}

	// AWS settings come from the environment: the ConfigMap, whose keys the args use.
	cm := objs["ConfigMap"]
	if c.str("envFrom", 0, "configMapRef", "name") != cm.str("metadata", "name") {
		t.Error("the container does not take its environment from the ConfigMap")
	}
	if cm.str("data", "AWS_REGION") == "" {
		t.Error("the ConfigMap has no AWS_REGION")
	}
	for _, m := range regexp.MustCompile(`\$\((\w+)\)`).FindAllStringSubmatch(strings.Join(args, " "), -1) {
		if cm.str("data", m[1]) == "" {
			t.Errorf("the args use $(%s) and the ConfigMap does not set it", m[1])
		}
	}
	if pod.str("spec", "serviceAccountName") != objs["ServiceAccount"].str("metadata", "name") {
		t.Error("the pod does not run as the ServiceAccount")
	}

	// The PodDisruptionBudget covers the pods.
	pdb := objs["PodDisruptionBudget"]
	sel, _ := pdb.get("spec", "selector", "matchLabels").(map[string]any)
	labels, _ := pod.get("metadata", "labels").(map[string]any)
	if len(sel) == 0 {
		t.Error("the PodDisruptionBudget selects nothing")
	}
	for k, v := range sel {
		if labels[k] != v {
			t.Errorf("the PodDisruptionBudget selects %s=%v, the pods have %v", k, v, labels[k])
		}
	}

	// kustomization.yaml lists every other manifest.
	var listed []string
	for _, r := range objs["Kustomization"].get("resources").([]any) {
		listed = append(listed, r.(string))
	}
	for _, p := range paths {
		if base := filepath.Base(p); base != "kustomization.yaml" && !slices.Contains(listed, base) {
			t.Errorf("kustomization.yaml does not list %s", base)
		}
	}
}

// TestDeployKubernetesArgsAreFlags checks the Deployment's command line
// against the binary the Dockerfile builds: every flag it passes exists.
func TestDeployKubernetesArgsAreFlags(t *testing.T) {
	bin := buildLikeDockerfile(t)
	objs, _ := parseManifests(t)
	c := doc(objs["Deployment"].get("spec", "template", "spec", "containers", 0).(map[string]any))
	var args []string
	for _, a := range c.get("args").([]any) {
		args = append(args, a.(string))
	}
	help, err := exec.Command(bin, args[0], args[1], "--help").CombinedOutput()
	if err != nil {
		t.Fatalf("shardflow %s %s --help: %v\n%s", args[0], args[1], err, help)
	}
	for _, a := range args {
		if strings.HasPrefix(a, "--") && !strings.Contains(string(help), "  "+a+" ") {
			t.Errorf("shardflow %s has no flag %s", args[0], a)
		}
	}
}
