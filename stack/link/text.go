package link

import (
	"fmt"
	"math"
	"strconv"
	"strings"
	"time"
)

// ParseProbability reads a probability as scenarios and flags write it: 0.05 or "5%".
func ParseProbability(s string) (float64, error) {
	t, div := strings.TrimSpace(s), 1.0
	if strings.HasSuffix(t, "%") {
		t, div = strings.TrimSpace(strings.TrimSuffix(t, "%")), 100
	}
	f, err := strconv.ParseFloat(t, 64)
	f /= div
	if err != nil || !(f >= 0 && f <= 1) {
		return 0, fmt.Errorf("probability %q: want a number between 0 and 1, or a percentage like 5%%", s)
	}
	return f, nil
}

// ParseRate reads a rate in bits per second: 10000000, "10Mbit", "512kbit", "1Gbit/s".
func ParseRate(s string) (uint64, error) {
	t := strings.ToLower(strings.TrimSpace(s))
	t = strings.TrimSuffix(strings.TrimSuffix(t, "/s"), "ps")
	t = strings.TrimSuffix(t, "bit")
	mult := 1.0
	switch {
	case strings.HasSuffix(t, "k"):
		mult, t = 1e3, strings.TrimSuffix(t, "k")
	case strings.HasSuffix(t, "m"):
		mult, t = 1e6, strings.TrimSuffix(t, "m")
	case strings.HasSuffix(t, "g"):
		mult, t = 1e9, strings.TrimSuffix(t, "g")
	}
	f, err := strconv.ParseFloat(strings.TrimSpace(t), 64)
	if err != nil || !(f > 0) || f*mult > 1e12 || math.IsInf(f, 0) {
		return 0, fmt.Errorf("rate %q: want bits per second like 10Mbit, 512kbit or 1Gbit", s)
	}
	return uint64(f * mult), nil
}

// UnmarshalText reads an impairment written as "loss=2%,delay=1ms,jitter=500us" (commas or spaces
// between settings; keys loss, duplicate, reorder, corrupt, reorder_delay, delay, jitter, rate, mtu,
// queue), so a flag or a one-line YAML value gives the link's own type. The result is validated.
func (im *Impairment) UnmarshalText(b []byte) error {
	var out Impairment
	fields := strings.FieldsFunc(string(b), func(r rune) bool { return r == ',' || r == ' ' || r == '\t' })
	for _, f := range fields {
		k, v, ok := strings.Cut(f, "=")
		if !ok {
			return fmt.Errorf("link: impairment %q: want key=value, such as loss=2%%", f)
		}
		var err error
		switch strings.ToLower(k) {
		case "loss":
			out.Loss, err = ParseProbability(v)
		case "duplicate":
			out.Duplicate, err = ParseProbability(v)
		case "reorder":
			out.Reorder, err = ParseProbability(v)
		case "corrupt":
			out.Corrupt, err = ParseProbability(v)
		case "reorder_delay":
			out.ReorderDelay, err = time.ParseDuration(v)
		case "delay":
			out.Delay, err = time.ParseDuration(v)
		case "jitter":
			out.Jitter, err = time.ParseDuration(v)
		case "rate":
			out.Rate, err = ParseRate(v)
		case "mtu":
			var n uint64
			n, err = strconv.ParseUint(v, 10, 32)
			out.MTU = uint32(n)
		case "queue":
			out.QueueLen, err = strconv.Atoi(v)
		default:
			return fmt.Errorf("link: impairment key %q: use loss, duplicate, reorder, corrupt, reorder_delay, delay, jitter, rate, mtu or queue", k)
		}
		if err != nil {
			return fmt.Errorf("link: impairment %s: %w", k, err)
		}
	}
	if err := out.Validate(); err != nil {
		return err
	}
	*im = out
	return nil
}

// MarshalText writes the settings that are not zero, in the form UnmarshalText reads.
func (im Impairment) MarshalText() ([]byte, error) {
	var parts []string
	add := func(k string, set bool, v string) {
		if set {
			parts = append(parts, k+"="+v)
		}
	}
	p := func(f float64) string { return strconv.FormatFloat(f, 'g', -1, 64) }
	add("loss", im.Loss != 0, p(im.Loss))
	add("duplicate", im.Duplicate != 0, p(im.Duplicate))
	add("reorder", im.Reorder != 0, p(im.Reorder))
	add("corrupt", im.Corrupt != 0, p(im.Corrupt))
	add("reorder_delay", im.ReorderDelay != 0, im.ReorderDelay.String())
	add("delay", im.Delay != 0, im.Delay.String())
	add("jitter", im.Jitter != 0, im.Jitter.String())
	add("rate", im.Rate != 0, strconv.FormatUint(im.Rate, 10))
	add("mtu", im.MTU != 0, strconv.FormatUint(uint64(im.MTU), 10))
	add("queue", im.QueueLen != 0, strconv.Itoa(im.QueueLen))
	return []byte(strings.Join(parts, ",")), nil
}
