// Oracle for ferry/writeback/goyaml.py (go.yaml.in/yaml/v3 through sigs.k8s.io/yaml/goyaml.v3, as
// Image Updater imports it): encodes test inputs with the same Go types and the
// same encoder settings as Argo CD Image Updater's marshalWithIndent.
// Input: one JSON object per line {"kind": "helm"|"kustomize"|"k"|"seq", "data": ...}.
// Output: one JSON string per line (the YAML), or {"error": "..."}.
package main

import (
	"bufio"
	"bytes"
	"encoding/json"
	"fmt"
	"os"

	yaml "sigs.k8s.io/yaml/goyaml.v3"
)

// Same shapes as argo-cd's v1alpha1.HelmParameter / KustomizeImages and Image Updater's
// override helpers: json tags only, so yaml.v3 uses the lowercased field names.
type HelmParameter struct {
	Name        string `json:"name,omitempty"`
	Value       string `json:"value,omitempty"`
	ForceString bool   `json:"forceString,omitempty"`
}
type helmParameters struct {
	Parameters []HelmParameter `json:"parameters"`
}
type helmOverride struct {
	Helm helmParameters `json:"helm"`
}
type KustomizeImage string
type KustomizeImages []KustomizeImage
type kustomizeImages struct {
	Images *KustomizeImages `json:"images"`
}
type kustomizeOverride struct {
	Kustomize kustomizeImages `json:"kustomize"`
}
type single struct {
	K string
}

type input struct {
	Kind string          `json:"kind"`
	Data json.RawMessage `json:"data"`
}

func encode(v interface{}) (out string, err error) {
	defer func() {
		if r := recover(); r != nil {
			err = fmt.Errorf("%v", r)
		}
	}()
	var b bytes.Buffer
	enc := yaml.NewEncoder(&b)
	enc.SetIndent(2)
	enc.CompactSeqIndent()
	if err := enc.Encode(v); err != nil {
		return "", err
	}
	if err := enc.Close(); err != nil {
		return "", err
	}
	return b.String(), nil
}

func main() {
	in := bufio.NewScanner(os.Stdin)
	in.Buffer(make([]byte, 1<<20), 1<<24)
	out := bufio.NewWriter(os.Stdout)
	defer out.Flush()
	for in.Scan() {
		var inp input
		if err := json.Unmarshal(in.Bytes(), &inp); err != nil {
			panic(err)
		}
		var v interface{}
		switch inp.Kind {
		case "helm":
			var ps []HelmParameter
			var raw []struct {
				Name        string `json:"name"`
				Value       string `json:"value"`
				ForceString bool   `json:"forcestring"`
			}
			json.Unmarshal(inp.Data, &raw)
			for _, r := range raw {
				ps = append(ps, HelmParameter{r.Name, r.Value, r.ForceString})
			}
			v = helmOverride{Helm: helmParameters{Parameters: ps}}
		case "kustomize":
			var imgs KustomizeImages
			json.Unmarshal(inp.Data, &imgs)
			v = kustomizeOverride{Kustomize: kustomizeImages{Images: &imgs}}
		case "k":
			var s string
			json.Unmarshal(inp.Data, &s)
			v = single{K: s}
		case "seq":
			var s interface{}
			json.Unmarshal(inp.Data, &s)
			v = s
		}
		text, err := encode(v)
		var line []byte
		if err != nil {
			line, _ = json.Marshal(map[string]string{"error": err.Error()})
		} else {
			line, _ = json.Marshal(text)
		}
		fmt.Fprintln(out, string(line))
	}
}
