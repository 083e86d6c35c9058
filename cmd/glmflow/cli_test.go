package main

import (
	"bytes"
	"os"
	"path/filepath"
	"sort"
	"strings"
	"testing"

	"github.com/spf13/cobra"
	"github.com/spf13/pflag"
)

// TestCLISurface freezes the command and flag set: adding or removing one changes
// testdata/cli_surface.txt, so the change shows up in review (regenerate with
// GLMFLOW_UPDATE_TESTDATA=1 go test ./cmd/glmflow).
func TestCLISurface(t *testing.T) {
	var lines []string
	var walk func(c *cobra.Command)
	walk = func(c *cobra.Command) {
		if c.Hidden || c.Name() == "help" {
			return
		}
		lines = append(lines, c.CommandPath())
		c.LocalFlags().VisitAll(func(f *pflag.Flag) {
			if f.Name != "help" {
				lines = append(lines, "  --"+f.Name+" ("+f.Value.Type()+", default "+f.DefValue+")")
			}
		})
		subs := c.Commands()
		sort.Slice(subs, func(i, j int) bool { return subs[i].Name() < subs[j].Name() })
		for _, s := range subs {
			walk(s)
		}
	}
	walk(newRootCmd())
	got := strings.Join(lines, "\n") + "\n"
	golden := filepath.Join("testdata", "cli_surface.txt")
	if os.Getenv("GLMFLOW_UPDATE_TESTDATA") != "" {
		if err := os.MkdirAll("testdata", 0o755); err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(golden, []byte(got), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	want, err := os.ReadFile(golden)
	if err != nil {
		t.Fatal(err)
	}
	if got != string(want) {
		t.Errorf("CLI surface changed; review and regenerate %s.\ngot:\n%s\nwant:\n%s", golden, got, want)
	}
}

// TestHelpListsWorkingCommands runs --help and every listed command's --help.
func TestHelpListsWorkingCommands(t *testing.T) {
	root := newRootCmd()
	var out bytes.Buffer
	root.SetOut(&out)
	root.SetArgs([]string{"--help"})
	if err := root.Execute(); err != nil {
		t.Fatal(err)
	}
	for _, c := range []string{"bench", "forward", "init-model", "version"} {
		if !strings.Contains(out.String(), c) {
			t.Errorf("--help does not list %q:\n%s", c, out.String())
		}
	}
	if strings.Contains(out.String(), "completion") {
		t.Errorf("--help lists the completion command, which glmflow does not document:\n%s", out.String())
	}
}

func TestVersionAndBadInput(t *testing.T) {
	run := func(args ...string) (string, error) {
		root := newRootCmd()
		var out bytes.Buffer
		root.SetOut(&out)
		root.SetErr(&out)
		root.SetArgs(args)
		err := root.Execute()
		return out.String(), err
	}
	out, err := run("version")
	if err != nil || !strings.Contains(out, "glmflow") || !strings.Contains(out, "avx2=") {
		t.Errorf("version: %q, %v", out, err)
	}
	if _, err := run("bench", "--only", "nonsense"); err == nil || !strings.Contains(err.Error(), `unknown section "nonsense"`) {
		t.Errorf("bench --only nonsense: err = %v", err)
	}
	if _, err := run("frobnicate"); err == nil {
		t.Error("unknown command: no error")
	}
}
