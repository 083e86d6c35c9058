package main

import (
	"bytes"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"
)

// preparedArgs is the documented command that made testdata/prepared/cord-v2 (run from the
// repository root; here paths are relative to cmd/glmflow). --max-pixels 100352 = 2 (temporal)
// × 256 patches × 14²: at most 256 patches, 64 <|image|> tokens per receipt; with seq length
// 512 every mini CORD train row fits; 3 rows per shard gives 3 shards (3, 3, 2).
func preparedArgs(out string) []string {
	return []string{"--maker", "cord_v2", "--input", "../../testdata/datasets/cord-v2", "--split", "train",
		"--out", out, "--tokenizer", "../../testdata/tiny/tokenizer.json",
		"--seq-length", "512", "--max-pixels", "100352", "--rows-per-shard", "3"}
}

const preparedDir = "../../testdata/prepared/cord-v2"

func runPrepare(t *testing.T, args ...string) (stdout, stderr string, err error) {
	t.Helper()
	cmd := newDataPrepareCmd()
	var o, e bytes.Buffer
	cmd.SetOut(&o)
	cmd.SetErr(&e)
	cmd.SetArgs(args)
	err = cmd.Execute()
	return o.String(), e.String(), err
}

// TestPreparedCordUpToDate regenerates testdata/prepared/cord-v2 with the documented command
// and compares every file byte for byte (GLMFLOW_UPDATE_TESTDATA=1 rewrites it).
func TestPreparedCordUpToDate(t *testing.T) {
	out := t.TempDir()
	if os.Getenv("GLMFLOW_UPDATE_TESTDATA") != "" {
		out = preparedDir
	}
	args := append(preparedArgs(out), "--overwrite")
	stdout, stderr, err := runPrepare(t, args...)
	if err != nil {
		t.Fatalf("%v\n%s", err, stderr)
	}
	if !strings.Contains(stdout, "8 samples, 0 dead letters, 3 shards") {
		t.Errorf("stdout %q", stdout)
	}
	if !strings.Contains(stderr, "prepare: 8 rows → 8 samples in 3 shards, 0 dead letters") {
		t.Errorf("final counts missing from stderr:\n%s", stderr)
	}
	want := listDir(t, preparedDir)
	got := listDir(t, out)
	if !slices.Equal(got, want) {
		t.Fatalf("files %v, committed %v", got, want)
	}
	for _, n := range want {
		a, _ := os.ReadFile(filepath.Join(out, n))
		b, _ := os.ReadFile(filepath.Join(preparedDir, n))
		if !bytes.Equal(a, b) {
			t.Errorf("%s differs from the committed file (regenerate with GLMFLOW_UPDATE_TESTDATA=1 go test ./cmd/glmflow -run TestPreparedCordUpToDate)", n)
		}
	}
}

func listDir(t *testing.T, dir string) []string {
	t.Helper()
	es, err := os.ReadDir(dir)
	if err != nil {
		t.Fatal(err)
	}
	var names []string
	for _, e := range es {
		names = append(names, e.Name())
	}
	return names
}

// TestDataPrepareErrors: bad flags and inputs fail with a clear error before any pipeline runs
// (no output folder is created).
func TestDataPrepareErrors(t *testing.T) {
	tmp := t.TempDir()
	out := filepath.Join(tmp, "out")
	base := func(extra ...string) []string {
		a := []string{"--maker", "cord_v2", "--input", "../../testdata/datasets/cord-v2", "--out", out,
			"--tokenizer", "../../testdata/tiny/tokenizer.json"}
		return append(a, extra...)
	}
	cases := []struct {
		args []string
		want string
	}{
		{[]string{"--input", "x", "--out", out, "--tokenizer", "../../testdata/tiny/tokenizer.json"}, "maker: required"},
		{base("--maker", "nope"), `unknown maker "nope"`},
		{base("--split", "dev"), `split "dev" not supported`},
		{base("--maker", "raven", "--split", "validation"), `split "validation" not supported`},
		{base("--maker", "medpix"), "column image_id: missing"},
		{[]string{"--maker", "cord_v2", "--input", tmp, "--out", out, "--tokenizer", "../../testdata/tiny/tokenizer.json"}, `no parquet files for split "train"`},
		{base("--input", filepath.Join(tmp, "missing")), "no such file"},
		{base("--seq-length", "0"), "seq-length 0"},
		{base("--rows-per-shard", "-1"), "rows-per-shard -1"},
		{base("--rows-per-shard", "0"), "rows-per-shard 0"},
		{base("--unit-rows", "0"), "unit-rows 0"},
		{base("--runner", "nope"), `runner "nope"`},
		{base("--convention", "hf"), `unknown convention "hf"`},
		{base("--min-pixels", "100", "--max-pixels", "10"), "MaxPixels 10 is below MinPixels 100"},
		{base("--log-level", "loud"), `log level "loud"`},
		{base("--runner-option", "no_such_option=1"), `Beam has no option "no_such_option"`},
		{base("--runner-option", "worker=true"), `Beam has no option "worker"`},
		{base("--tokenizer", filepath.Join(tmp, "tok.json")), "no such file"},
		{base("--tokenizer", "../../testdata/datasets/README.md"), "README.md"},
		{base("extra-arg"), "unknown command"},
	}
	for _, c := range cases {
		_, stderr, err := runPrepare(t, c.args...)
		if err == nil || !strings.Contains(err.Error(), c.want) {
			t.Errorf("%v: error %v, want it to mention %q\n%s", c.args, err, c.want, stderr)
		}
		if _, serr := os.Stat(out); serr == nil {
			t.Fatalf("%v: created %s although the job did not start", c.args, out)
		}
	}
}

// TestDataPrepareOutFolder: a folder with foreign files is refused; an earlier job's output
// needs --overwrite.
func TestDataPrepareOutFolder(t *testing.T) {
	out := t.TempDir()
	if err := os.WriteFile(filepath.Join(out, "notes.txt"), nil, 0o644); err != nil {
		t.Fatal(err)
	}
	if _, _, err := runPrepare(t, preparedArgs(out)...); err == nil || !strings.Contains(err.Error(), "notes.txt") {
		t.Errorf("foreign file: %v", err)
	}
	os.Remove(filepath.Join(out, "notes.txt"))
	if _, _, err := runPrepare(t, preparedArgs(out)...); err != nil {
		t.Fatal(err)
	}
	if _, _, err := runPrepare(t, preparedArgs(out)...); err == nil || !strings.Contains(err.Error(), "--overwrite") {
		t.Errorf("earlier output without --overwrite: %v", err)
	}
}

// TestRemoteRunnersReachBeam: the remote runners cannot run here (no job server, no cloud),
// but the job reaches them with its flags: Beam's own validation answers.
func TestRemoteRunnersReachBeam(t *testing.T) {
	_, _, err := runPrepare(t, append(preparedArgs(t.TempDir()), "--runner", "dataflow", "--region", "europe-west4")...)
	if err == nil || !strings.Contains(err.Error(), "dataflow runner: no Google Cloud project specified") {
		t.Errorf("dataflow without --project: %v", err)
	}
	for _, r := range []string{"flink", "spark", "universal"} {
		_, _, err = runPrepare(t, append(preparedArgs(t.TempDir()), "--runner", r)...)
		if err == nil || !strings.Contains(err.Error(), r+" runner") || !strings.Contains(err.Error(), "endpoint") {
			t.Errorf("%s without --endpoint: %v", r, err)
		}
	}
}
