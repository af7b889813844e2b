// Oracle for ferry/image/version.py: answers parse, compare and constraint queries with
// github.com/Masterminds/semver/v3, the library Argo CD Image Updater ranks tags with.
// Input: one JSON object per line:
//
//	{"op": "parse", "v": "v1.2"}
//	{"op": "compare", "a": "1.0.0-rc.1", "b": "1.0.0"}
//	{"op": "constraint", "c": ">=1.2 <2", "vs": ["1.2.0", "2.0.0"]}
//
// Output: one JSON object per line, in input order. Numbers are strings (uint64 does not
// survive a JSON float).
package main

import (
	"bufio"
	"encoding/json"
	"fmt"
	"os"
	"strconv"

	"github.com/Masterminds/semver/v3"
)

type query struct {
	Op string   `json:"op"`
	V  string   `json:"v"`
	A  string   `json:"a"`
	B  string   `json:"b"`
	C  string   `json:"c"`
	Vs []string `json:"vs"`
}

type parsed struct {
	OK    bool   `json:"ok"`
	Major string `json:"major,omitempty"`
	Minor string `json:"minor,omitempty"`
	Patch string `json:"patch,omitempty"`
	Pre   string `json:"pre"`
	Meta  string `json:"meta"`
	Str   string `json:"str,omitempty"`
}

func parse(text string) interface{} {
	v, err := semver.NewVersion(text)
	if err != nil {
		return map[string]bool{"ok": false}
	}
	return parsed{
		OK:    true,
		Major: strconv.FormatUint(v.Major(), 10),
		Minor: strconv.FormatUint(v.Minor(), 10),
		Patch: strconv.FormatUint(v.Patch(), 10),
		Pre:   v.Prerelease(),
		Meta:  v.Metadata(),
		Str:   v.String(),
	}
}

func answer(q query) (interface{}, error) {
	switch q.Op {
	case "parse":
		return parse(q.V), nil
	case "compare":
		a, err := semver.NewVersion(q.A)
		if err != nil {
			return nil, fmt.Errorf("compare: %q: %w", q.A, err)
		}
		b, err := semver.NewVersion(q.B)
		if err != nil {
			return nil, fmt.Errorf("compare: %q: %w", q.B, err)
		}
		return map[string]int{"cmp": a.Compare(b)}, nil
	case "constraint":
		c, err := semver.NewConstraint(q.C)
		if err != nil {
			return map[string]interface{}{"ok": false}, nil
		}
		checks := make([]bool, len(q.Vs))
		for i, text := range q.Vs {
			v, err := semver.NewVersion(text)
			if err != nil {
				return nil, fmt.Errorf("constraint: %q: %w", text, err)
			}
			checks[i] = c.Check(v)
		}
		return map[string]interface{}{"ok": true, "checks": checks}, nil
	}
	return nil, fmt.Errorf("unknown op %q", q.Op)
}

func main() {
	in := bufio.NewScanner(os.Stdin)
	in.Buffer(make([]byte, 1<<20), 1<<24)
	out := bufio.NewWriter(os.Stdout)
	defer out.Flush()
	for in.Scan() {
		var q query
		if err := json.Unmarshal(in.Bytes(), &q); err != nil {
			fmt.Fprintln(os.Stderr, "bad query:", err)
			os.Exit(2)
		}
		a, err := answer(q)
		if err != nil {
			// A query the test should never send: stop loudly instead of guessing.
			fmt.Fprintln(os.Stderr, err)
			os.Exit(2)
		}
		line, _ := json.Marshal(a)
		out.Write(line)
		out.WriteByte('\n')
	}
}
