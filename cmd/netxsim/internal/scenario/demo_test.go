package scenario

import (
	"bytes"
	"context"
	"os"
	"testing"
)

func TestDemo(t *testing.T) {
	out := t.TempDir()
	if d := os.Getenv("SCENARIO_KEEP"); d != "" { out = d }
	res, err := Run(context.Background(), Demo(DemoOptions{}), Options{Out: out})
	if err != nil {
		t.Fatal(err)
	}
	var b bytes.Buffer
	res.WriteTable(&b)
	t.Log("\n" + b.String())
	if testing.Verbose() { t.Log(res.Artifacts.Dir) }
	if !res.OK {
		t.Fatalf("demo failed")
	}
}
