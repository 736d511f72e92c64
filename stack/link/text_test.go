package link

import (
	"testing"
	"time"
)

func TestImpairmentText(t *testing.T) {
	var im Impairment
	if err := im.UnmarshalText([]byte("loss=2%, delay=1ms jitter=500us,rate=10Mbit,reorder=0.01,queue=64")); err != nil {
		t.Fatal(err)
	}
	want := Impairment{Loss: 0.02, Delay: time.Millisecond, Jitter: 500 * time.Microsecond, Rate: 10e6, Reorder: 0.01, QueueLen: 64}
	if im != want {
		t.Fatalf("got %+v, want %+v", im, want)
	}
	b, _ := im.MarshalText()
	var back Impairment
	if err := back.UnmarshalText(b); err != nil || back != im {
		t.Fatalf("round trip %q: %+v, %v", b, back, err)
	}
	for _, bad := range []string{"loss", "loss=150%", "lose=1%", "delay=-1ms", "queue=-1", "rate=fast", "mtu=99999999999"} {
		if err := new(Impairment).UnmarshalText([]byte(bad)); err == nil {
			t.Errorf("%q accepted", bad)
		}
	}
}

// FuzzImpairmentText: any text gives a valid impairment or an error, never a panic, and what is
// accepted survives MarshalText and UnmarshalText unchanged.
func FuzzImpairmentText(f *testing.F) {
	for _, s := range []string{"loss=2%", "delay=1ms,jitter=1us", "rate=1Gbit/s mtu=1500", "", "queue=4096,corrupt=0.5"} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, s string) {
		var im Impairment
		if err := im.UnmarshalText([]byte(s)); err != nil {
			return
		}
		if err := im.Validate(); err != nil {
			t.Fatalf("%q accepted but invalid: %v", s, err)
		}
		b, _ := im.MarshalText()
		var back Impairment
		if err := back.UnmarshalText(b); err != nil || back != im {
			t.Fatalf("%q: round trip via %q gave %+v, %v", s, b, back, err)
		}
	})
}
