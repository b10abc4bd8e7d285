// Command kstatus prints what kstatus (sigs.k8s.io/cli-utils/pkg/kstatus/status, the library
// Flux and kpt use to wait for resources) computes for Kubernetes objects.
//
// It reads JSON or YAML from stdin: one object, several YAML documents, or a List (kind: List or
// any *List with items). For each object, in order, it prints one JSON line:
//
//	{"name":"ns/name","kind":"AgentRun","status":"InProgress","message":"..."}
//
// status is one of InProgress, Failed, Current, Terminating, Unknown. An object that kstatus
// cannot compute (a malformed field) prints status "Error" with the error as message; a stdin
// that does not parse exits 2. Used by controller/test/kube/kstatus.int.test.ts; built and cached
// by test-infra/kube/setup.sh (docs/testing.md).
package main

import (
	"bufio"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"os"

	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
	utilyaml "k8s.io/apimachinery/pkg/util/yaml"
	"sigs.k8s.io/cli-utils/pkg/kstatus/status"
)

type line struct {
	Name    string `json:"name"`
	Kind    string `json:"kind"`
	Status  string `json:"status"`
	Message string `json:"message"`
}

func main() {
	objects, err := read(os.Stdin)
	if err != nil {
		fmt.Fprintf(os.Stderr, "kstatus: %v\n", err)
		os.Exit(2)
	}
	out := bufio.NewWriter(os.Stdout)
	enc := json.NewEncoder(out)
	for _, u := range objects {
		l := line{Name: u.GetName(), Kind: u.GetKind()}
		if ns := u.GetNamespace(); ns != "" {
			l.Name = ns + "/" + l.Name
		}
		res, err := status.Compute(u)
		if err != nil {
			l.Status, l.Message = "Error", err.Error()
		} else {
			l.Status, l.Message = res.Status.String(), res.Message
		}
		if err := enc.Encode(l); err != nil {
			fmt.Fprintf(os.Stderr, "kstatus: %v\n", err)
			os.Exit(2)
		}
	}
	if err := out.Flush(); err != nil {
		fmt.Fprintf(os.Stderr, "kstatus: %v\n", err)
		os.Exit(2)
	}
}

// read decodes every document on r; Lists are flattened into their items. Numbers become int64
// where they are integral, as in objects read from the API server (kstatus needs that for
// metadata.generation and status.observedGeneration).
func read(r io.Reader) ([]*unstructured.Unstructured, error) {
	dec := utilyaml.NewYAMLOrJSONDecoder(r, 4096)
	var objects []*unstructured.Unstructured
	for doc := 1; ; doc++ {
		var raw json.RawMessage
		if err := dec.Decode(&raw); err != nil {
			if errors.Is(err, io.EOF) {
				return objects, nil
			}
			return nil, fmt.Errorf("document %d: %w", doc, err)
		}
		if len(raw) == 0 || string(raw) == "null" {
			continue
		}
		u := &unstructured.Unstructured{}
		if err := u.UnmarshalJSON(raw); err != nil {
			return nil, fmt.Errorf("document %d: %w", doc, err)
		}
		if u.IsList() {
			list, err := u.ToList()
			if err != nil {
				return nil, fmt.Errorf("document %d: %w", doc, err)
			}
			for i := range list.Items {
				objects = append(objects, &list.Items[i])
			}
			continue
		}
		objects = append(objects, u)
	}
}
