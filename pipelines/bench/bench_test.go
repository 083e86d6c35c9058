package bench

import (
	"strings"
	"testing"
)

func TestRunQuick(t *testing.T) {
	if testing.Short() {
		t.Skip("trains a small model several times")
	}
	var out strings.Builder
	rows, err := Run(&out, Config{Steps: 1, Quick: true})
	if err != nil {
		t.Fatal(err)
	}
	t.Log("\n" + out.String())
	if len(rows) != 8 {
		t.Fatalf("%d rows", len(rows))
	}
	for _, r := range rows {
		if !(r.Value > 0) || !(r.Base > 0) {
			t.Errorf("%+v", r)
		}
	}
}
